package conformance

import (
	"errors"
	"maps"
	"slices"
	"testing"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

var errPrecondition = errors.New("precondition failed")

// testCheckErrorLeavesEtcdUnchanged: a check (WithCheck) that refuses
// stops every write under its context before anything reaches etcd, and
// the write returns the check's error.
func testCheckErrorLeavesEtcdUnchanged(t *testing.T, s *storage.Store) {
	ctx := storagetest.Ctx(t)
	a := "ce"
	storagetest.MustAccount(t, s, a, storage.SystemAccount)
	storagetest.MustAccount(t, s, "ce-child", a)
	storagetest.MustItem(t, s, a, storage.KindUser, "u")
	storagetest.MustItem(t, s, a, storage.KindRole, "r")
	storagetest.MustItem(t, s, a, storage.KindGroup, "g")
	storagetest.MustLink(t, s, a, storage.UserRoles, "u", "r")
	attrs := storage.Coll{Account: a, Kind: storage.KindAttr, Owner: "u"}
	storagetest.MustSetAdd(t, s, attrs, "mail", "u@x")

	checks := 0
	cctx := storage.WithCheck(ctx, func(v storage.View) error {
		checks++
		if !v.Has(storage.AccountKey(a)) {
			return errors.New("the check's view lacks the account")
		}
		return errPrecondition
	})
	built := false
	writes := []struct {
		name  string
		write func() error
	}{
		{"Update", func() error {
			_, err := s.Update(cctx, func(v storage.View, tx *storage.Txn) error {
				built = true
				tx.Put(storage.ItemKey(a, storage.KindRole, "r2"), "r2")
				return nil
			})
			return err
		}},
		{"CreateAccount", func() error {
			_, err := s.CreateAccount(cctx, "ce-new", storage.Account{Parent: a}, nil)
			return err
		}},
		{"UpdateAccount", func() error {
			_, err := s.UpdateAccount(cctx, a, func(acc *storage.Account) { acc.Description = "changed" })
			return err
		}},
		{"DeleteAccount", func() error { _, err := s.DeleteAccount(cctx, "ce-child"); return err }},
		{"PutItem", func() error {
			_, _, err := s.PutItem(cctx, a, storage.KindUser, "u2", storage.CreateOnly, storagetest.SetTo(storagetest.RecordFor(storage.KindUser, "u2")), nil)
			return err
		}},
		{"DeleteItem", func() error { _, err := s.DeleteItem(cctx, a, storage.KindGroup, "g"); return err }},
		{"SetAdd", func() error { _, _, err := s.SetAdd(cctx, attrs, "tel", "1", storage.CreateOnly); return err }},
		{"SetRemove", func() error { _, err := s.SetRemove(cctx, attrs, "mail"); return err }},
		{"SetReplace", func() error {
			_, err := s.SetReplace(cctx, attrs, map[string]string{"tel": "1"})
			return err
		}},
		{"LinkAdd", func() error {
			_, _, err := s.LinkAdd(cctx, a, storage.UserGroups, "u", "g", storage.CreateOnly)
			return err
		}},
		{"LinkRemove", func() error { _, err := s.LinkRemove(cctx, a, storage.UserRoles, "u", "r"); return err }},
		{"LinkReplace", func() error { _, err := s.LinkReplace(cctx, a, storage.UserRoles, "u", nil); return err }},
	}
	before, rev := storagetest.EtcdSnapshot(t, s, ""), storagetest.EtcdRev(t, s)
	for _, w := range writes {
		n := checks
		if err := w.write(); !errors.Is(err, errPrecondition) {
			t.Errorf("%s under a refusing check = %v, want the check's error", w.name, err)
		}
		if checks == n {
			t.Errorf("%s did not run the check", w.name)
		}
	}
	if built {
		t.Errorf("Update ran build after its check refused")
	}
	if r := storagetest.EtcdRev(t, s); r != rev {
		t.Errorf("refused writes moved etcd from revision %d to %d", rev, r)
	}
	if after := storagetest.EtcdSnapshot(t, s, ""); !maps.Equal(before, after) {
		t.Errorf("refused writes changed etcd:\n%s", storagetest.DiffKeySets(after, before))
	}
	// The refusal belongs to the context: the same write without it goes
	// through.
	if _, err := s.DeleteItem(ctx, a, storage.KindGroup, "g"); err != nil {
		t.Errorf("DeleteItem without the check: %v", err)
	}
}

// testCheckRunsAgain: a check reads what a concurrent request changes
// between the check and the commit. The write's guards then fail, and the
// write is built again after the check has run again on the new state:
// a check that still holds lets it commit, one that no longer holds
// stops it.
func testCheckRunsAgain(t *testing.T, s *storage.Store) {
	ctx := storagetest.Ctx(t)
	a := "cr"
	storagetest.MustAccount(t, s, a, "")
	for _, stillHolds := range []bool{true, false} {
		name := "no longer holds"
		if stillHolds {
			name = "still holds"
		}
		t.Run(name, func(t *testing.T) {
			u := "u-refused"
			if stillHolds {
				u = "u-allowed"
			}
			storagetest.MustItem(t, s, a, storage.KindUser, u)
			out := storage.ItemKey(a, storage.KindRole, "r-"+u)
			// The concurrent request changes the user's e-mail; where the
			// check no longer holds, it disables the user too.
			changed := storage.User{Email: "new@example.com", Enabled: stillHolds, Created: 1700000000}
			var steps []string
			cctx := storage.WithCheck(ctx, func(v storage.View) error {
				usr, ok := v.User(a, u)
				if !ok {
					return errors.New("the check's view lacks the user")
				}
				steps = append(steps, "check "+usr.Email)
				if len(steps) == 1 {
					if _, _, err := s.PutItem(ctx, a, storage.KindUser, u, storage.UpdateOnly, storagetest.SetTo(changed.Encode()), nil); err != nil {
						return err
					}
				}
				if !usr.Enabled {
					return errPrecondition
				}
				return nil
			})
			_, err := s.Update(cctx, func(v storage.View, tx *storage.Txn) error {
				steps = append(steps, "build")
				tx.Put(out, "written")
				return nil
			})
			want := []string{"check " + u + "@example.com", "build", "check new@example.com", "build"}
			if stillHolds {
				if err != nil {
					t.Fatalf("Update: %v", err)
				}
				if got := storagetest.EtcdKeys(t, s, out)[out]; got != "written" {
					t.Errorf("etcd holds %q at %s, want the write", got, out)
				}
			} else {
				want = want[:3]
				if !errors.Is(err, errPrecondition) {
					t.Errorf("Update = %v, want the check's error", err)
				}
				if storagetest.EtcdHas(t, s, out) {
					t.Errorf("a write whose check no longer holds reached etcd")
				}
			}
			if !slices.Equal(steps, want) {
				t.Errorf("steps %q, want %q", steps, want)
			}
		})
	}
}
