package storage_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

var errPrecondition = errors.New("precondition failed")

// TestCheckRunsAgainOnNewState: a check reads a key that a concurrent
// write changes between the check and the commit. The write's guards
// fail, the write is rebuilt and the check runs again, before build, on
// the new state; a check that then refuses stops the write.
func TestCheckRunsAgainOnNewState(t *testing.T) {
	s := storagetest.Store(t)
	ctx := patientCtx(t)
	const a = "chk"
	if _, err := s.CreateAccount(ctx, a, storage.Account{}, nil); err != nil {
		t.Fatal(err)
	}
	for _, refuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("refuse changed=%v", refuse), func(t *testing.T) {
			watched := storage.ItemKey(a, storage.KindRole, fmt.Sprint("watched-", refuse))
			out := storage.ItemKey(a, storage.KindRole, fmt.Sprint("out-", refuse))
			putRecord(t, s, a, storage.KindRole, fmt.Sprint("watched-", refuse), "v1")
			var steps []string
			cctx := storage.WithCheck(ctx, func(v storage.View) error {
				val, _ := v.Get(watched)
				steps = append(steps, "check "+val)
				if len(steps) == 1 {
					// Commits after the check's view, before the write.
					if _, err := s.Client().Put(ctx, s.Prefix()+watched, "v2"); err != nil {
						return err
					}
				}
				if refuse && val != "v1" {
					return errPrecondition
				}
				return nil
			})
			_, err := s.Update(cctx, func(v storage.View, tx *storage.Txn) error {
				steps = append(steps, "build")
				tx.Put(out, "written")
				return nil
			})
			want := []string{"check v1", "build", "check v2", "build"}
			if refuse {
				want = want[:3]
				if err != errPrecondition {
					t.Errorf("Update = %v, want the check's error unchanged", err)
				}
				if _, _, ok := rawGet(t, s, out); ok {
					t.Errorf("a refused write reached etcd")
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if val, _, _ := rawGet(t, s, out); val != "written" {
					t.Errorf("etcd holds %q after the write", val)
				}
			}
			if !slices.Equal(steps, want) {
				t.Errorf("steps %q, want %q", steps, want)
			}
		})
	}
}

// TestCheckErrorLeavesEtcdUnchanged: a check that refuses at once stops
// the write before build, returns its error as it is, and writes nothing
// (not even an audit entry).
func TestCheckErrorLeavesEtcdUnchanged(t *testing.T) {
	s := storagetest.Store(t)
	ctx := patientCtx(t)
	if _, err := s.CreateAccount(ctx, "ce", storage.Account{}, nil); err != nil {
		t.Fatal(err)
	}
	before := rawRev(t, s)
	built := false
	cctx := storage.WithAudit(ctx, &storage.AuditEntry{Action: "test"})
	cctx = storage.WithCheck(cctx, func(v storage.View) error {
		if !v.Has(storage.AccountKey("ce")) {
			return errors.New("the check's view lacks the account")
		}
		return errPrecondition
	})
	_, err := s.Update(cctx, func(v storage.View, tx *storage.Txn) error {
		built = true
		tx.Put(storage.ItemKey("ce", storage.KindRole, "r"), "r")
		return nil
	})
	if err != errPrecondition {
		t.Errorf("Update = %v, want the check's error unchanged", err)
	}
	if built {
		t.Errorf("build ran after a check refused")
	}
	if after := rawRev(t, s); after != before {
		t.Errorf("etcd moved from revision %d to %d", before, after)
	}
	// The same goes for the store's own operations.
	if _, _, err := s.PutItem(cctx, "ce", storage.KindUser, "u", storage.CreateOnly,
		func(string, bool) (string, error) { return "u", nil }, nil); err != errPrecondition {
		t.Errorf("PutItem under a refusing check = %v", err)
	}
	if after := rawRev(t, s); after != before {
		t.Errorf("etcd moved from revision %d to %d", before, after)
	}
}

// TestChecksStack: checks run in the order added, each context keeps its
// own list, and the first refusal stops the rest.
func TestChecksStack(t *testing.T) {
	s := storagetest.Store(t)
	ctx := patientCtx(t)
	if _, err := s.CreateAccount(ctx, "cs", storage.Account{}, nil); err != nil {
		t.Fatal(err)
	}
	var ran []string
	check := func(name string, err error) func(storage.View) error {
		return func(storage.View) error { ran = append(ran, name); return err }
	}
	base := storage.WithCheck(ctx, check("A", nil))
	withB := storage.WithCheck(base, check("B", nil))
	withC := storage.WithCheck(base, check("C", errPrecondition))
	withD := storage.WithCheck(withC, check("D", nil))
	write := func(ctx context.Context, name string) error {
		_, err := s.Update(ctx, func(v storage.View, tx *storage.Txn) error {
			tx.Put(storage.ItemKey("cs", storage.KindRole, name), "r")
			return nil
		})
		return err
	}
	for _, tc := range []struct {
		ctx  context.Context
		want []string
		err  error
	}{
		{withB, []string{"A", "B"}, nil},
		{withC, []string{"A", "C"}, errPrecondition},
		{withD, []string{"A", "C"}, errPrecondition},
		{base, []string{"A"}, nil},
	} {
		ran = nil
		if err := write(tc.ctx, fmt.Sprint(len(tc.want), tc.err != nil)); err != tc.err {
			t.Errorf("checks %q: Update = %v, want %v", tc.want, err, tc.err)
		}
		if !slices.Equal(ran, tc.want) {
			t.Errorf("ran %q, want %q", ran, tc.want)
		}
	}
}
