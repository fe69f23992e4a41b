package conformance

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

func testPutItem(t *testing.T, s *storage.Store) {
	ctx := storagetest.Ctx(t)
	a := "pi"
	storagetest.MustAccount(t, s, a, "")
	key := storage.ItemKey(a, storage.KindRole, "r")

	type call struct {
		mode        storage.Mode
		value       string
		refuse      error
		wantCreated bool
		wantErr     error
		wantOld     string
		wantOldOK   bool
		wantStored  string
	}
	steps := []struct {
		name string
		call
	}{
		{"create-only new", call{mode: storage.CreateOnly, value: "v1", wantCreated: true, wantStored: "v1"}},
		{"create-only taken", call{mode: storage.CreateOnly, value: "v2", wantErr: storage.ErrNameTaken, wantStored: "v1"}},
		{"upsert existing", call{mode: storage.Upsert, value: "v3", wantOld: "v1", wantOldOK: true, wantStored: "v3"}},
		{"upsert same value", call{mode: storage.Upsert, value: "v3", wantOld: "v3", wantOldOK: true, wantStored: "v3"}},
		{"upsert refused", call{mode: storage.Upsert, value: "v4", refuse: errors.New("no"), wantOld: "v3", wantOldOK: true, wantStored: "v3"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			var gotOld string
			var gotOK, called bool
			created, _, err := s.PutItem(ctx, a, storage.KindRole, "r", st.mode, func(old string, ok bool) (string, error) {
				gotOld, gotOK, called = old, ok, true
				return st.value, st.refuse
			}, nil)
			switch {
			case st.wantErr != nil:
				if !errors.Is(err, st.wantErr) {
					t.Fatalf("err = %v, want %v", err, st.wantErr)
				}
				if called {
					t.Errorf("update called although the item is taken")
				}
			case st.refuse != nil:
				if !errors.Is(err, st.refuse) {
					t.Fatalf("err = %v, want the refusal", err)
				}
			default:
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if created != st.wantCreated {
					t.Errorf("created = %v, want %v", created, st.wantCreated)
				}
			}
			if called && (gotOld != st.wantOld || gotOK != st.wantOldOK) {
				t.Errorf("update got (%q, %v), want (%q, %v)", gotOld, gotOK, st.wantOld, st.wantOldOK)
			}
			if got := storagetest.EtcdKeys(t, s, key)[key]; got != st.wantStored {
				t.Errorf("stored %q, want %q", got, st.wantStored)
			}
		})
	}

	t.Run("upsert new", func(t *testing.T) {
		created, _, err := s.PutItem(ctx, a, storage.KindRole, "r-new", storage.Upsert, storagetest.SetTo("n"), nil)
		if err != nil || !created {
			t.Fatalf("= %v, %v; want created", created, err)
		}
		if !storagetest.EtcdHas(t, s, storage.ItemKey(a, storage.KindRole, "r-new")) {
			t.Errorf("not written")
		}
	})

	t.Run("update-only", func(t *testing.T) {
		created, _, err := s.PutItem(ctx, a, storage.KindRole, "r", storage.UpdateOnly, storagetest.SetTo("v5"), nil)
		if err != nil || created {
			t.Fatalf("UpdateOnly on an existing item = %v, %v; want updated", created, err)
		}
		if got := storagetest.EtcdKeys(t, s, key)[key]; got != "v5" {
			t.Errorf("stored %q, want v5", got)
		}
		called := false
		_, _, err = s.PutItem(ctx, a, storage.KindRole, "r-absent", storage.UpdateOnly,
			func(string, bool) (string, error) { called = true; return "x", nil }, nil)
		if !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("UpdateOnly on a missing item = %v, want ErrNotFound", err)
		}
		if called || storagetest.EtcdHas(t, s, storage.ItemKey(a, storage.KindRole, "r-absent")) {
			t.Errorf("UpdateOnly on a missing item called update or wrote it")
		}
	})

	t.Run("missing account", func(t *testing.T) {
		_, _, err := s.PutItem(ctx, "pi-missing", storage.KindUser, "u", storage.Upsert, storagetest.SetTo("x"), nil)
		if !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
		if keys := storagetest.EtcdKeys(t, s, storage.TenantRange("pi-missing")); len(keys) != 0 {
			t.Errorf("wrote %v", keys)
		}
	})

	t.Run("extra is atomic", func(t *testing.T) {
		var sawCreated []bool
		created, _, err := s.PutItem(ctx, a, storage.KindRole, "r-extra", storage.CreateOnly, storagetest.SetTo("e"),
			func(v storage.View, tx *storage.Txn, created bool) error {
				sawCreated = append(sawCreated, created)
				tx.Put(storage.SubKey(a, storage.KindRolePerm, "r-extra", "p:read"), "")
				return nil
			})
		if err != nil || !created {
			t.Fatalf("= %v, %v", created, err)
		}
		if len(sawCreated) == 0 || !sawCreated[len(sawCreated)-1] {
			t.Errorf("extra saw created = %v", sawCreated)
		}
		if !storagetest.EtcdHas(t, s, storage.SubKey(a, storage.KindRolePerm, "r-extra", "p:read")) {
			t.Errorf("extra's write missing")
		}
		// A refusing extra writes nothing, not even the item.
		_, _, err = s.PutItem(ctx, a, storage.KindRole, "r-refused", storage.CreateOnly, storagetest.SetTo("e"),
			func(v storage.View, tx *storage.Txn, created bool) error {
				tx.Put(storage.SubKey(a, storage.KindRolePerm, "r-refused", "p:read"), "")
				return storage.ErrInvalid
			})
		if !errors.Is(err, storage.ErrInvalid) {
			t.Fatalf("err = %v, want ErrInvalid", err)
		}
		if storagetest.EtcdHas(t, s, storage.ItemKey(a, storage.KindRole, "r-refused")) ||
			storagetest.EtcdHas(t, s, storage.SubKey(a, storage.KindRolePerm, "r-refused", "p:read")) {
			t.Errorf("a refused PutItem wrote keys")
		}
	})
}

// itemFixture builds, in account a, users u1 u2 u1x, roles r1 r2, groups
// g1 g2 with attributes, permissions, logins and memberships of every
// kind. u1x checks that deleting u1 does not touch names u1 is a prefix of.
func itemFixture(t testing.TB, s *storage.Store, a string) {
	t.Helper()
	ctx := storagetest.Ctx(t)
	storagetest.MustAccount(t, s, a, "")
	for _, u := range []string{"u1", "u2", "u1x"} {
		storagetest.MustItem(t, s, a, storage.KindUser, u)
		storagetest.MustSetAdd(t, s, storage.Coll{Account: a, Kind: storage.KindAttr, Owner: u}, "email", u+"@x")
		if err := storagetest.PutKey(ctx, s, storage.ItemKey(a, storage.KindLogin, u), "1700000000"); err != nil {
			t.Fatal(err)
		}
	}
	storagetest.MustSetAdd(t, s, storage.Coll{Account: a, Kind: storage.KindAttr, Owner: "u1"}, "phone", "1")
	for _, r := range []string{"r1", "r2"} {
		storagetest.MustItem(t, s, a, storage.KindRole, r)
	}
	storagetest.MustSetAdd(t, s, storage.Coll{Account: a, Kind: storage.KindRolePerm, Owner: "r1"}, "p:read", "")
	storagetest.MustSetAdd(t, s, storage.Coll{Account: a, Kind: storage.KindRolePerm, Owner: "r1"}, "p:write", "")
	storagetest.MustSetAdd(t, s, storage.Coll{Account: a, Kind: storage.KindRolePerm, Owner: "r2"}, "p:read", "")
	for _, g := range []string{"g1", "g2"} {
		storagetest.MustItem(t, s, a, storage.KindGroup, g)
	}
	for _, m := range [][2]string{{"u1", "r1"}, {"u1", "r2"}, {"u2", "r1"}, {"u1x", "r1"}} {
		storagetest.MustLink(t, s, a, storage.UserRoles, m[0], m[1])
	}
	for _, m := range [][2]string{{"u1", "g1"}, {"u2", "g1"}, {"u1", "g2"}} {
		storagetest.MustLink(t, s, a, storage.UserGroups, m[0], m[1])
	}
	for _, m := range [][2]string{{"g1", "r1"}, {"g2", "r1"}, {"g1", "r2"}} {
		storagetest.MustLink(t, s, a, storage.GroupRoles, m[0], m[1])
	}
}

func testDeleteItem(t *testing.T, s *storage.Store) {
	tests := []struct {
		kind, name string
		removed    []string // relative to t/{a}/
	}{
		{storage.KindUser, "u1", []string{
			"user/u1", "attr/u1/email", "attr/u1/phone", "login/u1",
			"ur/u1/r1", "ur/u1/r2", "ru/r1/u1", "ru/r2/u1",
			"ug/u1/g1", "ug/u1/g2", "gu/g1/u1", "gu/g2/u1",
		}},
		{storage.KindRole, "r1", []string{
			"role/r1", "rperm/r1/p:read", "rperm/r1/p:write",
			"ru/r1/u1", "ru/r1/u2", "ru/r1/u1x", "ur/u1/r1", "ur/u2/r1", "ur/u1x/r1",
			"rg/r1/g1", "rg/r1/g2", "gr/g1/r1", "gr/g2/r1",
		}},
		{storage.KindGroup, "g1", []string{
			"group/g1",
			"gu/g1/u1", "gu/g1/u2", "ug/u1/g1", "ug/u2/g1",
			"gr/g1/r1", "gr/g1/r2", "rg/r1/g1", "rg/r2/g1",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			a := "di-" + tc.kind
			itemFixture(t, s, a)
			before := storagetest.EtcdSnapshot(t, s, storage.TenantRange(a))
			want := maps.Clone(before)
			for _, r := range tc.removed {
				k := storage.TenantRange(a) + r
				if _, ok := want[k]; !ok {
					t.Fatalf("fixture lacks %s", k)
				}
				delete(want, k)
			}
			if _, err := s.DeleteItem(storagetest.Ctx(t), a, tc.kind, tc.name); err != nil {
				t.Fatalf("DeleteItem: %v", err)
			}
			after := storagetest.EtcdSnapshot(t, s, storage.TenantRange(a))
			if d := storagetest.DiffKeySets(after, want); d != "" {
				t.Errorf("etcd after deleting %s %s:\n%s", tc.kind, tc.name, d)
			}
			for k, kv := range want {
				if after[k] != kv {
					t.Errorf("%s changed: %v → %v", k, kv, after[k])
				}
			}
			if c := storagetest.CacheKeys(t, s, storage.TenantRange(a)); len(c) != len(after) {
				t.Errorf("cache holds %d keys of %s, etcd %d", len(c), a, len(after))
			}
			if _, err := s.DeleteItem(storagetest.Ctx(t), a, tc.kind, tc.name); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("second DeleteItem = %v, want ErrNotFound", err)
			}
		})
	}
}

func testSets(t *testing.T, s *storage.Store) {
	ctx := storagetest.Ctx(t)
	a := "sets"
	storagetest.MustAccount(t, s, a, "")
	storagetest.MustItem(t, s, a, storage.KindUser, "u")
	attrs := storage.Coll{Account: a, Kind: storage.KindAttr, Owner: "u"}
	prefix := storage.SubRange(a, storage.KindAttr, "u")
	ghostAttrs := storage.Coll{Account: a, Kind: storage.KindAttr, Owner: "ghost"}
	ghostPrefix := storage.SubRange(a, storage.KindAttr, "ghost")

	set := func() map[string]string {
		out := map[string]string{}
		for k, v := range storagetest.EtcdKeys(t, s, prefix) {
			out[strings.TrimPrefix(k, prefix)] = v
		}
		return out
	}

	adds := []struct {
		name        string
		set         storage.Coll
		member, val string
		mode        storage.Mode
		wantCreated bool
		wantErr     error
		want        map[string]string
	}{
		{"add new", attrs, "mail", "a@x", storage.CreateOnly, true, nil, map[string]string{"mail": "a@x"}},
		{"add taken", attrs, "mail", "b@x", storage.CreateOnly, false, storage.ErrNameTaken, map[string]string{"mail": "a@x"}},
		{"upsert changes", attrs, "mail", "c@x", storage.Upsert, false, nil, map[string]string{"mail": "c@x"}},
		{"upsert new", attrs, "tel", "1", storage.Upsert, true, nil, map[string]string{"mail": "c@x", "tel": "1"}},
		{"missing owner", ghostAttrs, "mail", "x", storage.Upsert, false, storage.ErrNotFound, map[string]string{"mail": "c@x", "tel": "1"}},
	}
	for _, tc := range adds {
		t.Run("SetAdd/"+tc.name, func(t *testing.T) {
			created, _, err := s.SetAdd(ctx, tc.set, tc.member, tc.val, tc.mode)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && created != tc.wantCreated {
				t.Errorf("created = %v, want %v", created, tc.wantCreated)
			}
			if got := set(); !maps.Equal(got, tc.want) {
				t.Errorf("set = %v, want %v", got, tc.want)
			}
			if g := storagetest.EtcdKeys(t, s, ghostPrefix); len(g) != 0 {
				t.Errorf("wrote under a missing owner: %v", g)
			}
		})
	}

	t.Run("SetRemove", func(t *testing.T) {
		if _, err := s.SetRemove(ctx, attrs, "tel"); err != nil {
			t.Fatal(err)
		}
		if got := set(); !maps.Equal(got, map[string]string{"mail": "c@x"}) {
			t.Errorf("set = %v", got)
		}
		if _, err := s.SetRemove(ctx, attrs, "tel"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("removing a missing member = %v, want ErrNotFound", err)
		}
		if _, err := s.SetRemove(ctx, ghostAttrs, "mail"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("removing under a missing owner = %v, want ErrNotFound", err)
		}
	})

	t.Run("SetReplace", func(t *testing.T) {
		for _, m := range []string{"a", "b", "c"} {
			if _, _, err := s.SetAdd(ctx, attrs, m, m+"-old", storage.Upsert); err != nil {
				t.Fatal(err)
			}
		}
		cBefore := storagetest.EtcdSnapshot(t, s, prefix+"c")[prefix+"c"]
		want := map[string]string{"b": "b-new", "c": "c-old", "d": "d"}
		if _, err := s.SetReplace(ctx, attrs, want); err != nil {
			t.Fatal(err)
		}
		if got := set(); !maps.Equal(got, want) {
			t.Errorf("set = %v, want %v", got, want)
		}
		if after := storagetest.EtcdSnapshot(t, s, prefix+"c")[prefix+"c"]; after != cBefore {
			t.Errorf("an unchanged member was rewritten: %v → %v", cBefore, after)
		}
		if got := storagetest.CacheKeys(t, s, prefix); len(got) != 3 || got[prefix+"b"] != "b-new" {
			t.Errorf("cache = %v", got)
		}
		if _, err := s.SetReplace(ctx, ghostAttrs, want); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("replace under a missing owner = %v, want ErrNotFound", err)
		}
		if g := storagetest.EtcdKeys(t, s, ghostPrefix); len(g) != 0 {
			t.Errorf("wrote under a missing owner: %v", g)
		}
		if _, err := s.SetReplace(ctx, attrs, nil); err != nil {
			t.Fatal(err)
		}
		if got := set(); len(got) != 0 {
			t.Errorf("replace with nothing left %v", got)
		}
	})

	t.Run("ceiling set owned by the account", func(t *testing.T) {
		if _, err := s.SetReplace(ctx, storage.Coll{Account: a, Kind: storage.KindCeiling}, map[string]string{"x:*": "", "y:read": ""}); err != nil {
			t.Fatal(err)
		}
		if got := storagetest.CeilingOf(t, s, a); !slices.Equal(got, []string{"x:*", "y:read"}) {
			t.Errorf("ceiling = %q", got)
		}
		if _, _, err := s.SetAdd(ctx, storage.Coll{Account: "sets-nope", Kind: storage.KindCeiling}, "x", "", storage.Upsert); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("SetAdd on a missing account = %v, want ErrNotFound", err)
		}
	})
}
