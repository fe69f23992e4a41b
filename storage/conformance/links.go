package conformance

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// linkCase names one membership kind and the items on each side.
type linkCase struct {
	name string
	l    storage.Link
}

var allLinks = []linkCase{
	{"UserRoles", storage.UserRoles},
	{"UserGroups", storage.UserGroups},
	{"GroupRoles", storage.GroupRoles},
	{"GroupUsers", storage.GroupUsers},
}

// linkAccount creates account a with items f1 f2 of kind l.From and t1 t2
// t3 of kind l.To.
func linkAccount(t testing.TB, s *storage.Store, a string, l storage.Link) {
	storagetest.MustAccount(t, s, a, "")
	for _, n := range []string{"f1", "f2"} {
		storagetest.MustItem(t, s, a, l.From, n)
	}
	for _, n := range []string{"t1", "t2", "t3"} {
		storagetest.MustItem(t, s, a, l.To, n)
	}
}

func pairs(ps ...string) map[[2]string]bool {
	out := map[[2]string]bool{}
	for _, p := range ps {
		f, to, _ := strings.Cut(p, ">")
		out[[2]string{f, to}] = true
	}
	return out
}

func checkMemberships(t testing.TB, s *storage.Store, a string, l storage.Link, want map[[2]string]bool) {
	t.Helper()
	fwd, rev := storagetest.Memberships(t, s, a, l)
	if !maps.Equal(fwd, want) {
		t.Errorf("forward side %s = %v, want %v", l.Fwd, fwd, want)
	}
	if !maps.Equal(rev, want) {
		t.Errorf("reverse side %s = %v, want %v", l.Rev, rev, want)
	}
}

func testLinkAdd(t *testing.T, s *storage.Store) {
	for _, lc := range allLinks {
		t.Run(lc.name, func(t *testing.T) {
			ctx := storagetest.Ctx(t)
			a := "la-" + strings.ToLower(lc.name)
			linkAccount(t, s, a, lc.l)
			steps := []struct {
				name        string
				from, to    string
				mode        storage.Mode
				wantCreated bool
				wantErr     error
				want        map[[2]string]bool
			}{
				{"new", "f1", "t1", storage.CreateOnly, true, nil, pairs("f1>t1")},
				{"duplicate create-only", "f1", "t1", storage.CreateOnly, false, storage.ErrMember, pairs("f1>t1")},
				{"duplicate upsert", "f1", "t1", storage.Upsert, false, nil, pairs("f1>t1")},
				{"upsert new", "f2", "t1", storage.Upsert, true, nil, pairs("f1>t1", "f2>t1")},
				{"missing from", "fx", "t2", storage.Upsert, false, storage.ErrNotFound, pairs("f1>t1", "f2>t1")},
				{"missing to", "f1", "tx", storage.CreateOnly, false, storage.ErrNotFound, pairs("f1>t1", "f2>t1")},
				{"to of the wrong kind", "f1", "f2", storage.CreateOnly, false, storage.ErrNotFound, pairs("f1>t1", "f2>t1")},
			}
			for _, st := range steps {
				created, _, err := s.LinkAdd(ctx, a, lc.l, st.from, st.to, st.mode)
				if (st.wantErr == nil && err != nil) || !errors.Is(err, st.wantErr) {
					t.Fatalf("%s: err = %v, want %v", st.name, err, st.wantErr)
				}
				if created != st.wantCreated {
					t.Errorf("%s: created = %v, want %v", st.name, created, st.wantCreated)
				}
				checkMemberships(t, s, a, lc.l, st.want)
				if st.wantErr == nil {
					if _, ok := storagetest.CacheGet(t, s, storage.SubKey(a, lc.l.Rev, st.to, st.from)); !ok {
						t.Errorf("%s: cache lacks the reverse key", st.name)
					}
				}
			}
		})
	}
}

func testLinkRemove(t *testing.T, s *storage.Store) {
	for _, lc := range allLinks {
		t.Run(lc.name, func(t *testing.T) {
			ctx := storagetest.Ctx(t)
			a := "lr-" + strings.ToLower(lc.name)
			linkAccount(t, s, a, lc.l)
			storagetest.MustLink(t, s, a, lc.l, "f1", "t1")
			storagetest.MustLink(t, s, a, lc.l, "f1", "t2")
			storagetest.MustLink(t, s, a, lc.l, "f2", "t1")
			if _, err := s.LinkRemove(ctx, a, lc.l, "f1", "t1"); err != nil {
				t.Fatal(err)
			}
			checkMemberships(t, s, a, lc.l, pairs("f1>t2", "f2>t1"))
			if _, ok := storagetest.CacheGet(t, s, storage.SubKey(a, lc.l.Rev, "t1", "f1")); ok {
				t.Errorf("cache still shows the reverse key")
			}
			for _, bad := range []struct{ from, to string }{{"f1", "t1"}, {"fx", "t1"}, {"f2", "tx"}} {
				if _, err := s.LinkRemove(ctx, a, lc.l, bad.from, bad.to); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("LinkRemove(%s, %s) = %v, want ErrNotFound", bad.from, bad.to, err)
				}
			}
			checkMemberships(t, s, a, lc.l, pairs("f1>t2", "f2>t1"))
		})
	}
}

func testLinkReplace(t *testing.T, s *storage.Store) {
	for _, lc := range allLinks {
		t.Run(lc.name, func(t *testing.T) {
			ctx := storagetest.Ctx(t)
			a := "lp-" + strings.ToLower(lc.name)
			linkAccount(t, s, a, lc.l)
			storagetest.MustLink(t, s, a, lc.l, "f1", "t1")
			storagetest.MustLink(t, s, a, lc.l, "f1", "t2")
			storagetest.MustLink(t, s, a, lc.l, "f2", "t1")

			if _, err := s.LinkReplace(ctx, a, lc.l, "f1", []string{"t2", "t3", "t3"}); err != nil {
				t.Fatal(err)
			}
			checkMemberships(t, s, a, lc.l, pairs("f1>t2", "f1>t3", "f2>t1"))

			before := storagetest.EtcdSnapshot(t, s, storage.TenantRange(a))
			if _, err := s.LinkReplace(ctx, a, lc.l, "f1", []string{"t1", "tx"}); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("replace with a missing target = %v, want ErrNotFound", err)
			}
			if _, err := s.LinkReplace(ctx, a, lc.l, "fx", []string{"t1"}); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("replace for a missing item = %v, want ErrNotFound", err)
			}
			if after := storagetest.EtcdSnapshot(t, s, storage.TenantRange(a)); !maps.Equal(before, after) {
				t.Errorf("a failed replace changed etcd:\n%s", storagetest.DiffKeySets(after, before))
			}

			if _, err := s.LinkReplace(ctx, a, lc.l, "f1", nil); err != nil {
				t.Fatal(err)
			}
			checkMemberships(t, s, a, lc.l, pairs("f2>t1"))
			if got := storagetest.CacheKeys(t, s, storage.SubRange(a, lc.l.Fwd, "f1")); len(got) != 0 {
				t.Errorf("cache still shows %v", got)
			}
		})
	}
}

func testGroupUsersMirror(t *testing.T, s *storage.Store) {
	ctx := storagetest.Ctx(t)
	setup := func(a string) {
		storagetest.MustAccount(t, s, a, "")
		for _, u := range []string{"u1", "u2", "u3"} {
			storagetest.MustItem(t, s, a, storage.KindUser, u)
		}
		storagetest.MustItem(t, s, a, storage.KindGroup, "g")
	}
	relative := func(a string) map[string]string {
		out := map[string]string{}
		for k, v := range storagetest.EtcdKeys(t, s, storage.TenantRange(a)) {
			out[strings.TrimPrefix(k, storage.TenantRange(a))] = v
		}
		return out
	}
	setup("mirror-ug")
	setup("mirror-gu")
	steps := []struct {
		name string
		ug   func() error // through UserGroups
		gu   func() error // through GroupUsers
	}{
		{"add", func() error {
			_, _, err := s.LinkAdd(ctx, "mirror-ug", storage.UserGroups, "u1", "g", storage.CreateOnly)
			return err
		}, func() error {
			_, _, err := s.LinkAdd(ctx, "mirror-gu", storage.GroupUsers, "g", "u1", storage.CreateOnly)
			return err
		}},
		{"replace", func() error {
			for _, u := range []string{"u2", "u3"} {
				if _, _, err := s.LinkAdd(ctx, "mirror-ug", storage.UserGroups, u, "g", storage.CreateOnly); err != nil {
					return err
				}
			}
			_, err := s.LinkRemove(ctx, "mirror-ug", storage.UserGroups, "u1", "g")
			return err
		}, func() error {
			_, err := s.LinkReplace(ctx, "mirror-gu", storage.GroupUsers, "g", []string{"u2", "u3"})
			return err
		}},
		{"remove", func() error {
			_, err := s.LinkRemove(ctx, "mirror-ug", storage.UserGroups, "u3", "g")
			return err
		}, func() error {
			_, err := s.LinkRemove(ctx, "mirror-gu", storage.GroupUsers, "g", "u3")
			return err
		}},
	}
	for _, st := range steps {
		if err := st.ug(); err != nil {
			t.Fatalf("%s via UserGroups: %v", st.name, err)
		}
		if err := st.gu(); err != nil {
			t.Fatalf("%s via GroupUsers: %v", st.name, err)
		}
		if a, b := relative("mirror-ug"), relative("mirror-gu"); !maps.Equal(a, b) {
			t.Errorf("after %s the two sides differ:\nUserGroups %v\nGroupUsers %v", st.name, storagetest.SortedKeys(a), storagetest.SortedKeys(b))
		}
	}
	if got := relative("mirror-gu"); len(got) != 6 || !storagetest.EtcdHas(t, s, "t/mirror-gu/ug/u2/g") || !storagetest.EtcdHas(t, s, "t/mirror-gu/gu/g/u2") {
		t.Errorf("final keys = %v", storagetest.SortedKeys(got))
	}
}

// testUpdateOnlyOnSetsAndLinks: Mode is shared by PutItem, SetAdd and
// LinkAdd, and UpdateOnly is documented as "fails with ErrNotFound when
// absent". An add that ignores it creates what the caller said must
// already exist.
func testUpdateOnlyOnSetsAndLinks(t *testing.T, s *storage.Store) {
	ctx := storagetest.Ctx(t)
	a := "uo"
	storagetest.MustAccount(t, s, a, "")
	storagetest.MustItem(t, s, a, storage.KindUser, "u")
	storagetest.MustItem(t, s, a, storage.KindRole, "r")
	attrs, prefix := storage.Coll{Account: a, Kind: storage.KindAttr, Owner: "u"}, storage.SubRange(a, storage.KindAttr, "u")
	created, _, err := s.SetAdd(ctx, attrs, "absent", "v", storage.UpdateOnly)
	if !errors.Is(err, storage.ErrNotFound) || storagetest.EtcdHas(t, s, prefix+"absent") {
		t.Errorf("SetAdd(UpdateOnly) of an absent member = created %v, %v; want ErrNotFound and nothing written", created, err)
	}
	created, _, err = s.LinkAdd(ctx, a, storage.UserRoles, "u", "r", storage.UpdateOnly)
	if !errors.Is(err, storage.ErrNotFound) || storagetest.EtcdHas(t, s, storage.SubKey(a, storage.KindUserRole, "u", "r")) {
		t.Errorf("LinkAdd(UpdateOnly) of an absent membership = created %v, %v; want ErrNotFound and nothing written", created, err)
	}
}
