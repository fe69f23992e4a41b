package conformance

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

func testPage(t *testing.T, s *storage.Store) {
	a := "pg"
	storagetest.MustAccount(t, s, a, "")
	storagetest.MustAccount(t, s, "pg2", "") // neighbour sorting right after pg
	for i := range 25 {
		storagetest.MustItem(t, s, a, storage.KindUser, fmt.Sprintf("u%02d", i))
	}
	storagetest.MustItem(t, s, "pg2", storage.KindUser, "zz")
	storagetest.MustItem(t, s, a, storage.KindRole, "r")
	names := func(from, to int) []string {
		var out []string
		for i := from; i < to; i++ {
			out = append(out, fmt.Sprintf("u%02d", i))
		}
		return out
	}
	users := storage.ItemRange(a, storage.KindUser)
	tests := []struct {
		prefix        string
		offset, limit int
		want          []string
		wantCount     int
	}{
		{users, 0, 10, names(0, 10), 25},
		{users, 10, 10, names(10, 20), 25},
		{users, 20, 10, names(20, 25), 25},
		{users, 24, 1, names(24, 25), 25},
		{users, 0, 100, names(0, 25), 25},
		{users, 25, 10, nil, 25},
		{users, 1000, 10, nil, 25},
		{users, 3, 0, nil, 25},
		{storage.ItemRange(a, storage.KindGroup), 0, 10, nil, 0},
		{storage.ItemRange(a, storage.KindRole), 0, 10, []string{"r"}, 1},
		{storage.ItemRange("pg2", storage.KindUser), 0, 10, []string{"zz"}, 1},
		{storage.ItemRange("pg-none", storage.KindUser), 0, 10, nil, 0},
	}
	err := s.Read(storagetest.Ctx(t), 0, func(v storage.View) error {
		for _, tc := range tests {
			got, count := v.PageRange(tc.prefix, tc.offset, tc.limit)
			if !slices.Equal(got, tc.want) || count != tc.wantCount {
				t.Errorf("Page(%q, %d, %d) = %q, %d; want %q, %d", tc.prefix, tc.offset, tc.limit, got, count, tc.want, tc.wantCount)
			}
		}
		for _, c := range []struct {
			prefix string
			want   int
		}{
			{users, 25},
			{storage.TenantRange(a), 26},
			{storage.TenantRange("pg2"), 1},
			{storage.TenantRange("pg-none"), 0},
			{storage.ItemKey(a, storage.KindUser, "u1"), 10}, // u10..u19
		} {
			if n := v.CountRange(c.prefix); n != c.want {
				t.Errorf("Count(%q) = %d, want %d", c.prefix, n, c.want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testFilterPage(t *testing.T, s *storage.Store) {
	ctx := storagetest.Ctx(t)
	a := "fp"
	storagetest.MustAccount(t, s, a, "")
	for i := range 25 {
		storagetest.MustItem(t, s, a, storage.KindUser, fmt.Sprintf("u%02d", i))
	}
	users := storage.ItemRange(a, storage.KindUser)
	match := func(n string) bool { return strings.Contains(n, "1") }
	// u01 u10..u19 u21: 12 matches.
	all := []string{"u01", "u10", "u11", "u12", "u13", "u14", "u15", "u16", "u17", "u18", "u19", "u21"}
	tests := []struct {
		offset, limit int
		want          []string
	}{
		{0, 5, all[:5]},
		{5, 5, all[5:10]},
		{10, 5, all[10:]},
		{12, 5, nil},
		{50, 5, nil},
		{0, 100, all},
	}
	read := func(fn func(v storage.View)) {
		t.Helper()
		if err := s.Read(ctx, 0, func(v storage.View) error { fn(v); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	read(func(v storage.View) {
		for _, tc := range tests {
			got, count := v.FilterPageRange(users, "*1*", match, tc.offset, tc.limit)
			if !slices.Equal(got, tc.want) || count != len(all) {
				t.Errorf("FilterPage(%d, %d) = %q, %d; want %q, %d", tc.offset, tc.limit, got, count, tc.want, len(all))
			}
		}
		got, count := v.FilterPageRange(users, "none", func(string) bool { return false }, 0, 10)
		if len(got) != 0 || count != 0 {
			t.Errorf("FilterPage matching nothing = %q, %d", got, count)
		}
	})
	// The memo must notice changes in the account: add a match, then
	// delete one.
	storagetest.MustItem(t, s, a, storage.KindUser, "u31")
	read(func(v storage.View) {
		got, count := v.FilterPageRange(users, "*1*", match, 10, 5)
		if count != 13 || !slices.Equal(got, []string{"u19", "u21", "u31"}) {
			t.Errorf("after adding u31: %q, %d; want [u19 u21 u31], 13", got, count)
		}
	})
	if _, err := s.DeleteItem(ctx, a, storage.KindUser, "u10"); err != nil {
		t.Fatal(err)
	}
	read(func(v storage.View) {
		got, count := v.FilterPageRange(users, "*1*", match, 0, 2)
		if count != 12 || !slices.Equal(got, []string{"u01", "u11"}) {
			t.Errorf("after deleting u10: %q, %d; want [u01 u11], 12", got, count)
		}
	})
}

// testPageArgumentEdges: out-of-range arguments must give an empty page,
// as Page documents for limit <= 0, and never panic (FilterPage is
// documented as "Page over the names that match").
func testPageArgumentEdges(t *testing.T, s *storage.Store) {
	a := "aa-edge" // sorts first among the accounts, near the start of the tree
	storagetest.MustAccount(t, s, a, "")
	storagetest.MustItem(t, s, a, storage.KindUser, "u")
	users := storage.ItemRange(a, storage.KindUser)
	call := func(name string, fn func() ([]string, int)) {
		t.Helper()
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("%s panicked: %v", name, r)
			}
		}()
		got, count := fn()
		if len(got) != 0 || count != 1 {
			t.Errorf("%s = %q, %d; want no names and count 1", name, got, count)
		}
	}
	noPanic := func(name string, fn func()) {
		t.Helper()
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("%s panicked: %v", name, r)
			}
		}()
		fn()
	}
	err := s.Read(storagetest.Ctx(t), 0, func(v storage.View) error {
		always := func(string) bool { return true }
		call("Page(limit 0)", func() ([]string, int) { return v.PageRange(users, 0, 0) })
		call("Page(limit -1)", func() ([]string, int) { return v.PageRange(users, 0, -1) })
		call("FilterPage(limit 0)", func() ([]string, int) { return v.FilterPageRange(users, "*", always, 0, 0) })
		call("FilterPage(limit -1)", func() ([]string, int) { return v.FilterPageRange(users, "*", always, 0, -1) })
		// A negative offset is a caller error, but must not crash the
		// process; "acct/" is the first range of the tree.
		noPanic("Page(acct/, offset -1)", func() { v.PageRange(storage.AccountsRange, -1, 10) })
		noPanic("FilterPage(offset -1)", func() { v.FilterPageRange(users, "*", always, -1, 10) })
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testSubtree(t *testing.T, s *storage.Store) {
	// st1 → st2 → st4, st1 → st3
	storagetest.MustAccount(t, s, "st1", "")
	storagetest.MustAccount(t, s, "st2", "st1")
	storagetest.MustAccount(t, s, "st3", "st1")
	storagetest.MustAccount(t, s, "st4", "st2")
	tests := []struct {
		root string
		want []string
	}{
		{"st1", []string{"st1", "st2", "st3", "st4"}},
		{"st2", []string{"st2", "st4"}},
		{"st4", []string{"st4"}},
	}
	err := s.Read(storagetest.Ctx(t), 0, func(v storage.View) error {
		for _, tc := range tests {
			if got := v.Subtree(tc.root); !slices.Equal(got, tc.want) {
				t.Errorf("Subtree(%s) = %q, want %q", tc.root, got, tc.want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testReadYourWrites: when a write returns, a read that waits for nothing
// already shows it.
func testReadYourWrites(t *testing.T, s *storage.Store) {
	ctx := storagetest.Ctx(t)
	for round := range 10 {
		a := fmt.Sprintf("ryw%d", round)
		attrs := storage.Coll{Account: a, Kind: storage.KindAttr, Owner: "u"}
		attr := storage.SubRange(a, storage.KindAttr, "u")
		steps := []struct {
			name  string
			write func() error
			check func(v storage.View) bool
		}{
			{"CreateAccount", func() error {
				_, err := s.CreateAccount(ctx, a, storage.Account{Parent: storage.SystemAccount}, nil)
				return err
			}, func(v storage.View) bool {
				return v.Has(storage.AccountKey(a)) && v.Has(storage.ItemKey(storage.SystemAccount, storage.KindChild, a))
			}},
			{"UpdateAccount", func() error {
				_, err := s.UpdateAccount(ctx, a, func(acc *storage.Account) { acc.Description = "d" })
				return err
			}, func(v storage.View) bool { acc, _ := v.Account(a); return acc.Description == "d" }},
			{"PutItem user", func() error {
				_, _, err := s.PutItem(ctx, a, storage.KindUser, "u", storage.CreateOnly, storagetest.SetTo(storagetest.RecordFor(storage.KindUser, "u")), nil)
				return err
			}, func(v storage.View) bool { usr, ok := v.User(a, "u"); return ok && usr.Enabled }},
			{"PutItem role", func() error {
				_, _, err := s.PutItem(ctx, a, storage.KindRole, "r", storage.CreateOnly, storagetest.SetTo("r"), nil)
				return err
			}, func(v storage.View) bool { return v.Has(storage.ItemKey(a, storage.KindRole, "r")) }},
			{"SetAdd", func() error {
				_, _, err := s.SetAdd(ctx, attrs, "n", "1", storage.CreateOnly)
				return err
			}, func(v storage.View) bool { val, _ := v.Get(attr + "n"); return val == "1" }},
			{"SetReplace", func() error {
				_, err := s.SetReplace(ctx, attrs, map[string]string{"m": "2"})
				return err
			}, func(v storage.View) bool { return !v.Has(attr+"n") && v.Has(attr+"m") }},
			{"SetRemove", func() error {
				_, err := s.SetRemove(ctx, attrs, "m")
				return err
			}, func(v storage.View) bool { return v.CountRange(attr) == 0 }},
			{"LinkAdd", func() error {
				_, _, err := s.LinkAdd(ctx, a, storage.UserRoles, "u", "r", storage.CreateOnly)
				return err
			}, func(v storage.View) bool { return v.Has(storage.SubKey(a, storage.KindRoleUser, "r", "u")) }},
			{"LinkRemove", func() error {
				_, err := s.LinkRemove(ctx, a, storage.UserRoles, "u", "r")
				return err
			}, func(v storage.View) bool { return !v.Has(storage.SubKey(a, storage.KindRoleUser, "r", "u")) }},
			{"LinkReplace", func() error {
				_, err := s.LinkReplace(ctx, a, storage.UserRoles, "u", []string{"r"})
				return err
			}, func(v storage.View) bool { return v.Has(storage.SubKey(a, storage.KindUserRole, "u", "r")) }},
			{"DeleteItem", func() error {
				_, err := s.DeleteItem(ctx, a, storage.KindRole, "r")
				return err
			}, func(v storage.View) bool {
				return !v.Has(storage.ItemKey(a, storage.KindRole, "r")) && !v.Has(storage.SubKey(a, storage.KindUserRole, "u", "r"))
			}},
			{"DeleteAccount", func() error {
				_, err := s.DeleteAccount(ctx, a)
				return err
			}, func(v storage.View) bool {
				return !v.Has(storage.AccountKey(a)) && v.CountRange(storage.TenantRange(a)) == 0
			}},
		}
		for _, st := range steps {
			if err := st.write(); err != nil {
				t.Fatalf("round %d %s: %v", round, st.name, err)
			}
			var ok bool
			if err := s.Read(ctx, 0, func(v storage.View) error { ok = st.check(v); return nil }); err != nil {
				t.Fatal(err)
			}
			if !ok {
				t.Errorf("round %d: the cache does not show %s right after it returned", round, st.name)
			}
		}
	}
}
