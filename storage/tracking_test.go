package storage_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// trackingFixture fills account a with users, roles, a ceiling and
// memberships, and returns the revision of the last write.
func trackingFixture(t *testing.T, s *storage.Store, a string) int64 {
	t.Helper()
	ctx := patientCtx(t)
	if _, err := s.CreateAccount(ctx, a, storage.Account{Description: "d"}, []string{"x:read", "y:*"}); err != nil {
		t.Fatal(err)
	}
	for i := range 80 { // more than one walk of Count
		putRecord(t, s, a, storage.KindUser, fmt.Sprintf("u%02d", i), storage.User{Email: "e"}.Encode())
	}
	putRecord(t, s, a, storage.KindRole, "r", storage.Role{}.Encode())
	_, rev, err := s.LinkAdd(ctx, a, storage.UserRoles, "u01", "r", storage.CreateOnly)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// readEverything reads a's data through every kind of read of a
// tracking view of v and returns the digest.
func readEverything(v storage.View, a string) uint64 {
	tv := v.Tracking()
	users := storage.ItemRange(a, storage.KindUser)
	tv.Get(storage.ItemKey(a, storage.KindUser, "u03"))
	tv.Has(storage.ItemKey(a, storage.KindUser, "nobody"))
	tv.CreateRevision(storage.ItemKey(a, storage.KindRole, "r"))
	tv.Account(a)
	tv.User(a, "u01")
	tv.Parent(a)
	tv.CountRange(users)
	tv.CountRange(storage.ItemRange(a, storage.KindCeiling))
	tv.NamesRange(storage.SubRange(a, storage.KindUserRole, "u01"))
	tv.PageRange(users, 0, 5)
	tv.PageRange(users, 30, 5)
	tv.FilterPageRange(users, "u1", func(n string) bool { return strings.HasPrefix(n, "u1") }, 2, 3)
	tv.EachRange(storage.ItemRange(a, storage.KindCeiling), func(string, string) bool { return true })
	tv.Mix("derived")
	return tv.Digest()
}

func digestAt(t *testing.T, s *storage.Store, rev int64, read func(storage.View) uint64) uint64 {
	t.Helper()
	var d uint64
	if err := s.Read(patientCtx(t), rev, func(v storage.View) error { d = read(v); return nil }); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDigestSameOnEveryInstance: two stores on one etcd, one that saw
// the writes through its watch and one that listed them afterwards (so
// their kind revisions differ), give the same digest for the same reads.
func TestDigestSameOnEveryInstance(t *testing.T) {
	endpoint := storagetest.Etcd(t)
	first := storagetest.Open(t, endpoint)
	fixRev := trackingFixture(t, first, "dg")
	// A later write elsewhere, so the second store lists at a revision
	// past every write of dg.
	if _, err := first.CreateAccount(patientCtx(t), "elsewhere", storage.Account{}, nil); err != nil {
		t.Fatal(err)
	}
	second := storagetest.Open(t, endpoint)
	rev := rawRev(t, first)

	var k1, k2 int64
	_ = first.Read(patientCtx(t), rev, func(v storage.View) error { k1 = v.KindRev("dg", storage.KindUser); return nil })
	_ = second.Read(patientCtx(t), rev, func(v storage.View) error { k2 = v.KindRev("dg", storage.KindUser); return nil })
	if k1 == k2 || k1 > fixRev {
		t.Fatalf("setup: kind revisions %d and %d should differ (the second store listed after %d)", k1, k2, fixRev)
	}

	read := func(v storage.View) uint64 { return readEverything(v, "dg") }
	d1, d2 := digestAt(t, first, rev, read), digestAt(t, second, rev, read)
	if d1 == 0 || d1 != d2 {
		t.Errorf("digests of the same reads at the same etcd state: %x and %x", d1, d2)
	}
	if again := digestAt(t, first, rev, read); again != d1 {
		t.Errorf("the same reads twice gave %x and %x", d1, again)
	}
}

// TestDigestFollowsReads: the digest moves when something read changes
// and stays when something unread changes; untracked views have none.
func TestDigestFollowsReads(t *testing.T) {
	s := storagetest.Store(t)
	ctx := patientCtx(t)
	const a = "df"
	trackingFixture(t, s, a)
	if _, err := s.CreateAccount(ctx, "other", storage.Account{}, nil); err != nil {
		t.Fatal(err)
	}
	users := storage.ItemRange(a, storage.KindUser)
	reads := map[string]func(v storage.View){
		"Get":        func(v storage.View) { v.Get(storage.ItemKey(a, storage.KindUser, "u03")) },
		"Has absent": func(v storage.View) { v.Has(storage.ItemKey(a, storage.KindUser, "zz")) },
		"Count":      func(v storage.View) { v.CountRange(users) },
		"small Count": func(v storage.View) {
			v.CountRange(storage.ItemRange(a, storage.KindCeiling))
		},
		"Names":      func(v storage.View) { v.NamesRange(storage.ItemRange(a, storage.KindCeiling)) },
		"Page":       func(v storage.View) { v.PageRange(users, 0, 5) },
		"Page at 30": func(v storage.View) { v.PageRange(users, 30, 5) },
		"FilterPage": func(v storage.View) {
			v.FilterPageRange(users, "u0", func(n string) bool { return strings.HasPrefix(n, "u0") }, 0, 3)
		},
	}
	digest := func(read func(storage.View)) uint64 {
		return digestAt(t, s, s.Rev(), func(v storage.View) uint64 {
			tv := v.Tracking()
			read(tv)
			return tv.Digest()
		})
	}
	before := map[string]uint64{}
	for name, read := range reads {
		before[name] = digest(read)
	}

	// A write nobody read: every digest stays.
	putRecord(t, s, "other", storage.KindUser, "u03", "x")
	for name, read := range reads {
		if d := digest(read); d != before[name] {
			t.Errorf("%s: digest moved (%x → %x) on a write it did not read", name, before[name], d)
		}
	}

	// Writes each read sees.
	changes := map[string]func(){
		"Get":         func() { putRecord(t, s, a, storage.KindUser, "u03", "changed") },
		"Has absent":  func() { putRecord(t, s, a, storage.KindUser, "zz", "new") },
		"Count":       func() { putRecord(t, s, a, storage.KindUser, "u80", "new") },
		"small Count": func() { putRecord(t, s, a, storage.KindCeiling, "z:*", "") },
		"Names":       func() { putRecord(t, s, a, storage.KindCeiling, "x:read", "changed") },
		"Page":        func() { putRecord(t, s, a, storage.KindUser, "u02", "changed") },
		"Page at 30": func() {
			if _, err := s.DeleteItem(ctx, a, storage.KindUser, "u31"); err != nil {
				t.Fatal(err)
			}
		},
		"FilterPage": func() {
			if _, err := s.DeleteItem(ctx, a, storage.KindUser, "u01"); err != nil {
				t.Fatal(err)
			}
		},
	}
	for _, name := range slices.Sorted(maps.Keys(changes)) {
		d0 := digest(reads[name])
		changes[name]()
		if d := digest(reads[name]); d == d0 {
			t.Errorf("%s: digest stayed %x after a write to what it read", name, d)
		}
	}

	if err := s.Read(ctx, 0, func(v storage.View) error {
		v.Get(users + "u04")
		v.Mix("x")
		if d := v.Digest(); d != 0 {
			t.Errorf("an untracked view has digest %x", d)
		}
		x, y := v.Tracking(), v.Tracking()
		x.Mix("a")
		x.Mix("b")
		y.Mix("a")
		if x.Digest() == y.Digest() {
			t.Errorf("Mix(b) left the digest unchanged")
		}
		y.Mix("b")
		if x.Digest() != y.Digest() {
			t.Errorf("the same Mix calls gave %x and %x", x.Digest(), y.Digest())
		}
		// A copy of a tracking view shares its digest.
		z := x
		z.Get(users + "u04")
		if z.Digest() != x.Digest() {
			t.Errorf("a copy of a tracking view keeps a digest of its own")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestGuardedView: reads through Txn.View become guards. A write built
// on a read that a concurrent write invalidates is rebuilt; one whose
// reads stand commits at once.
func TestGuardedView(t *testing.T) {
	s := storagetest.Store(t)
	ctx := patientCtx(t)
	const a = "gv"
	if _, err := s.CreateAccount(ctx, a, storage.Account{}, nil); err != nil {
		t.Fatal(err)
	}
	key := func(n string) string { return storage.ItemKey(a, storage.KindUser, n) }
	for _, n := range []string{"read", "other", "m1", "m2"} {
		putRecord(t, s, a, storage.KindUser, n, "v0")
	}
	rolePerms := storage.SubRange(a, storage.KindRolePerm, "r")
	putRecord(t, s, a, storage.KindRole, "r", "r")
	for _, p := range []string{"p1", "p2"} {
		if _, _, err := s.SetAdd(ctx, storage.Coll{Account: a, Kind: storage.KindRolePerm, Owner: "r"}, p, "", storage.CreateOnly); err != nil {
			t.Fatal(err)
		}
	}
	raw := func(k, v string) func() {
		return func() {
			var err error
			if v == "" {
				_, err = s.Client().Delete(ctx, s.Prefix()+k)
			} else {
				_, err = s.Client().Put(ctx, s.Prefix()+k, v)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name      string
		read      func(v storage.View) string
		interfere func()
		attempts  int
	}{
		{"Get, key changed", func(v storage.View) string { x, _ := v.Get(key("read")); return x }, raw(key("read"), "v1"), 2},
		{"Get, other key changed", func(v storage.View) string { x, _ := v.Get(key("read")); return x }, raw(key("other"), "v1"), 1},
		{"Has, absent key created", func(v storage.View) string { return fmt.Sprint(v.Has(key("absent"))) }, raw(key("absent"), "new"), 2},
		{"Names, member added", func(v storage.View) string { return fmt.Sprint(v.NamesRange(rolePerms)) }, raw(rolePerms+"p3", "x"), 2},
		{"Names, member removed", func(v storage.View) string { return fmt.Sprint(v.NamesRange(rolePerms)) }, raw(rolePerms+"p1", ""), 2},
		{"Count, member added", func(v storage.View) string { return fmt.Sprint(v.CountRange(rolePerms)) }, raw(rolePerms+"p4", "x"), 2},
		{"Names, other range changed", func(v storage.View) string { return fmt.Sprint(v.NamesRange(rolePerms)) }, raw(key("m1"), "v9"), 1},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := key(fmt.Sprint("out", i))
			var seen []string
			var digest uint64
			_, err := s.Update(ctx, func(v storage.View, tx *storage.Txn) error {
				gv := tx.View()
				seen = append(seen, tc.read(gv))
				digest = gv.Digest()
				if len(seen) == 1 {
					tc.interfere() // commits after the view, before this write
				}
				tx.Put(out, fmt.Sprint(len(seen)))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(seen) != tc.attempts {
				t.Errorf("built %d times (reads %q), want %d", len(seen), seen, tc.attempts)
			}
			if tc.attempts == 2 && seen[0] == seen[1] {
				t.Errorf("the rebuild read the same as the first build: %q", seen)
			}
			if digest == 0 {
				t.Errorf("the guarded view has no digest")
			}
			if got, _, _ := rawGet(t, s, out); got != fmt.Sprint(tc.attempts) {
				t.Errorf("etcd holds %q from build %q, want the last build's", out, got)
			}
		})
	}
}

// TestDigestSameInGuardedView: a transaction's guarded view folds the
// same reads into the same digest as a plain tracking view of the same
// revision (an If-Match is checked by the first against an ETag made by
// the second), for small ranges and for ranges past one walk of Count.
func TestDigestSameInGuardedView(t *testing.T) {
	s := storagetest.Open(t, storagetest.Etcd(t))
	trackingFixture(t, s, "gv")
	var guarded uint64
	var rev int64
	errDone := fmt.Errorf("read only")
	_, err := s.Update(patientCtx(t), func(_ storage.View, txn *storage.Txn) error {
		v := txn.View()
		rev = v.Rev()
		guarded = readEverything(v, "gv")
		return errDone
	})
	if err != errDone {
		t.Fatalf("Update: %v", err)
	}
	plain := digestAt(t, s, rev, func(v storage.View) uint64 { return readEverything(v, "gv") })
	if guarded == 0 || guarded != plain {
		t.Errorf("guarded view digest %x, tracking view digest %x at revision %d", guarded, plain, rev)
	}
}
