package conformance

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// testBootstrap runs on a store that has not been bootstrapped.
func testBootstrap(t *testing.T, s *storage.Store) {
	ctx := storagetest.Ctx(t)
	now := time.Unix(1_700_000_123, 0)

	created, err := s.Bootstrap(ctx, "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA", now)
	if err != nil || !created {
		t.Fatalf("first Bootstrap = %v, %v; want true, nil", created, err)
	}
	sys, role, user := storage.SystemAccount, storage.AdminRole, storage.AdminUser
	want := storagetest.KeySet(
		storage.AccountKey(sys),
		storage.ItemKey(sys, storage.KindCeiling, "*"),
		storage.ItemKey(sys, storage.KindRole, role),
		storage.SubKey(sys, storage.KindRolePerm, role, "*"),
		storage.ItemKey(sys, storage.KindUser, user),
		storage.SubKey(sys, storage.KindUserRole, user, role),
		storage.SubKey(sys, storage.KindRoleUser, role, user),
	)
	first := storagetest.EtcdSnapshot(t, s, "")
	if d := storagetest.DiffKeySets(first, want); d != "" {
		t.Fatalf("keys after Bootstrap differ:\n%s", d)
	}
	acc, err := storage.DecodeAccount(first[storage.AccountKey(sys)].Value)
	if err != nil || acc.Parent != "" {
		t.Errorf("system account = %+v, %v; want a root account", acc, err)
	}
	u, err := storage.DecodeUser(first[storage.ItemKey(sys, storage.KindUser, user)].Value)
	if err != nil {
		t.Fatalf("decode admin: %v", err)
	}
	if u.PasswordHash != "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA" || !u.Enabled || u.PasswordExpired || u.Created != now.Unix() {
		t.Errorf("admin user = %+v", u)
	}
	// Read-your-writes for Bootstrap.
	if _, ok := storagetest.CacheGet(t, s, storage.SubKey(sys, storage.KindRoleUser, role, user)); !ok {
		t.Errorf("cache does not show the admin membership right after Bootstrap")
	}

	revBefore := storagetest.EtcdRev(t, s)
	created, err = s.Bootstrap(ctx, "other-hash", now.Add(time.Hour))
	if err != nil || created {
		t.Fatalf("second Bootstrap = %v, %v; want false, nil", created, err)
	}
	if rev := storagetest.EtcdRev(t, s); rev != revBefore {
		t.Errorf("second Bootstrap wrote to etcd: revision %d → %d", revBefore, rev)
	}
	if second := storagetest.EtcdSnapshot(t, s, ""); !maps.Equal(first, second) {
		t.Errorf("second Bootstrap changed keys:\nbefore %v\nafter  %v", first, second)
	}
}

func testCreateAccount(t *testing.T, s *storage.Store) {
	storagetest.MustAccount(t, s, "ca-root", "", "p:read", "q:*")
	tests := []struct {
		name     string
		parent   string
		ceiling  []string
		wantErr  error
		wantCeil []string // when no error
	}{
		{name: "ca-inherit", parent: "ca-root", ceiling: nil, wantCeil: []string{"p:read", "q:*"}},
		{name: "ca-explicit", parent: "ca-root", ceiling: []string{"p:read"}, wantCeil: []string{"p:read"}},
		{name: "ca-none", parent: "ca-root", ceiling: []string{}, wantCeil: nil},
		{name: "ca-grandchild", parent: "ca-inherit", ceiling: nil, wantCeil: []string{"p:read", "q:*"}},
		{name: "ca-newroot", parent: "", ceiling: nil, wantCeil: nil},
		{name: "ca-root", parent: "", wantErr: storage.ErrNameTaken},
		{name: "ca-inherit", parent: "ca-root", wantErr: storage.ErrNameTaken},
		{name: "ca-orphan", parent: "ca-missing", wantErr: storage.ErrNotFound},
		{name: "ca-dup-ceiling", parent: "ca-root", ceiling: []string{"p:read", "p:read"}, wantCeil: []string{"p:read"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := storagetest.Ctx(t)
			before := storagetest.EtcdSnapshot(t, s, storage.AccountKey(tc.name))
			_, err := s.CreateAccount(ctx, tc.name, storage.Account{Description: "new " + tc.name, Parent: tc.parent}, tc.ceiling)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("CreateAccount = %v, want %v", err, tc.wantErr)
				}
				if after := storagetest.EtcdSnapshot(t, s, storage.AccountKey(tc.name)); !maps.Equal(before, after) {
					t.Errorf("failed CreateAccount changed the record: %v → %v", before, after)
				}
				if tc.parent != "" && tc.wantErr == storage.ErrNotFound {
					if keys := storagetest.EtcdKeys(t, s, storage.TenantRange(tc.name)); len(keys) != 0 {
						t.Errorf("failed CreateAccount wrote %v", keys)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("CreateAccount: %v", err)
			}
			rec, ok := storagetest.EtcdKeys(t, s, "")[storage.AccountKey(tc.name)]
			if !ok {
				t.Fatalf("acct/%s missing in etcd", tc.name)
			}
			acc, err := storage.DecodeAccount(rec)
			if err != nil || acc.Parent != tc.parent || acc.Description != "new "+tc.name {
				t.Errorf("record = %+v, %v", acc, err)
			}
			if tc.parent != "" && !storagetest.EtcdHas(t, s, storage.ItemKey(tc.parent, storage.KindChild, tc.name)) {
				t.Errorf("child index t/%s/child/%s missing", tc.parent, tc.name)
			}
			if got := storagetest.CeilingOf(t, s, tc.name); !slices.Equal(got, tc.wantCeil) {
				t.Errorf("ceiling = %q, want %q", got, tc.wantCeil)
			}
			if _, ok := storagetest.CacheGet(t, s, storage.AccountKey(tc.name)); !ok {
				t.Errorf("cache does not show the new account")
			}
		})
	}
	// A nil ceiling copies the parent's as it is at creation time only.
	if _, _, err := s.SetAdd(storagetest.Ctx(t), storage.Coll{Account: "ca-root", Kind: storage.KindCeiling}, "late", "", storage.CreateOnly); err != nil {
		t.Fatal(err)
	}
	if got := storagetest.CeilingOf(t, s, "ca-inherit"); slices.Contains(got, "late") {
		t.Errorf("child ceiling follows later parent changes: %q", got)
	}
}

func testUpdateAccount(t *testing.T, s *storage.Store) {
	ctx := storagetest.Ctx(t)
	storagetest.MustAccount(t, s, "pa-root", "", "x:*")
	storagetest.MustAccount(t, s, "pa-p1", "pa-root")
	storagetest.MustAccount(t, s, "pa-p2", "pa-root")
	storagetest.MustAccount(t, s, "pa-x", "pa-p1")
	storagetest.MustAccount(t, s, "pa-other-root", "")

	t.Run("missing account", func(t *testing.T) {
		called := false
		_, err := s.UpdateAccount(ctx, "pa-missing", func(a *storage.Account) { called = true })
		if !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("UpdateAccount(missing) = %v, want ErrNotFound", err)
		}
		if called || storagetest.EtcdHas(t, s, storage.AccountKey("pa-missing")) {
			t.Errorf("updating a missing account called update or created it")
		}
	})

	t.Run("update", func(t *testing.T) {
		var seen storage.Account
		rev, err := s.UpdateAccount(ctx, "pa-x", func(a *storage.Account) { seen = *a; a.Description = "updated" })
		if err != nil || rev == 0 {
			t.Fatalf("UpdateAccount = %d, %v", rev, err)
		}
		if seen.Description != "account pa-x" || seen.Parent != "pa-p1" {
			t.Errorf("update saw %+v, want the stored record", seen)
		}
		acc, _ := storage.DecodeAccount(storagetest.EtcdKeys(t, s, storage.AccountKey("pa-x"))[storage.AccountKey("pa-x")])
		if acc.Description != "updated" || acc.Parent != "pa-p1" {
			t.Errorf("stored = %+v", acc)
		}
		if !storagetest.EtcdHas(t, s, storage.ItemKey("pa-p1", storage.KindChild, "pa-x")) {
			t.Errorf("an update without a move lost the child index")
		}
	})

	t.Run("noop", func(t *testing.T) {
		rev := storagetest.EtcdRev(t, s)
		if _, err := s.UpdateAccount(ctx, "pa-x", func(a *storage.Account) {}); err != nil {
			t.Fatal(err)
		}
		if r := storagetest.EtcdRev(t, s); r != rev {
			t.Errorf("an unchanged account was rewritten: revision %d → %d", rev, r)
		}
	})

	t.Run("move", func(t *testing.T) {
		_, err := s.UpdateAccount(ctx, "pa-x", func(a *storage.Account) { a.Parent = "pa-p2" })
		if err != nil {
			t.Fatalf("move: %v", err)
		}
		if storagetest.EtcdHas(t, s, storage.ItemKey("pa-p1", storage.KindChild, "pa-x")) {
			t.Errorf("t/pa-p1/child/pa-x still present after the move")
		}
		if !storagetest.EtcdHas(t, s, storage.ItemKey("pa-p2", storage.KindChild, "pa-x")) {
			t.Errorf("t/pa-p2/child/pa-x missing after the move")
		}
		acc, _ := storage.DecodeAccount(storagetest.EtcdKeys(t, s, storage.AccountKey("pa-x"))[storage.AccountKey("pa-x")])
		if acc.Parent != "pa-p2" || acc.Description != "updated" {
			t.Errorf("stored = %+v", acc)
		}
		// The cache agrees at once.
		if _, ok := storagetest.CacheGet(t, s, storage.ItemKey("pa-p1", storage.KindChild, "pa-x")); ok {
			t.Errorf("cache still shows the old child index")
		}
		err = s.Read(ctx, 0, func(v storage.View) error {
			if got := v.Subtree("pa-p2"); !slices.Equal(got, []string{"pa-p2", "pa-x"}) {
				t.Errorf("Subtree(pa-p2) = %q", got)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	// pa-x → pa-y → pa-z
	storagetest.MustAccount(t, s, "pa-y", "pa-x")
	storagetest.MustAccount(t, s, "pa-z", "pa-y")
	bad := []struct {
		name    string
		account string
		parent  string
		wantErr error
	}{
		{"under own grandchild", "pa-x", "pa-z", storage.ErrInvalid},
		{"under own child", "pa-x", "pa-y", storage.ErrInvalid},
		{"under itself", "pa-x", "pa-x", storage.ErrInvalid},
		{"make root", "pa-x", "", storage.ErrInvalid},
		{"root under another", "pa-other-root", "pa-p1", storage.ErrInvalid},
		{"missing parent", "pa-x", "pa-nope", storage.ErrNotFound},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			before := storagetest.EtcdSnapshot(t, s, "")
			_, err := s.UpdateAccount(ctx, tc.account, func(a *storage.Account) {
				a.Parent = tc.parent
				a.Description = "should not be written"
			})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("UpdateAccount(%s, parent %q) = %v, want %v", tc.account, tc.parent, err, tc.wantErr)
			}
			if after := storagetest.EtcdSnapshot(t, s, ""); !maps.Equal(before, after) {
				t.Errorf("a refused move changed etcd:\n%s", storagetest.DiffKeySets(after, before))
			}
		})
	}
}

// populate gives account a users, roles, groups, memberships, attributes,
// role permissions, a ceiling and a login time.
func populate(t testing.TB, s *storage.Store, a string) {
	t.Helper()
	ctx := storagetest.Ctx(t)
	for _, u := range []string{"u1", "u2"} {
		storagetest.MustItem(t, s, a, storage.KindUser, u)
		storagetest.MustSetAdd(t, s, storage.Coll{Account: a, Kind: storage.KindAttr, Owner: u}, "email", u+"@x")
		if err := storagetest.PutKey(ctx, s, storage.ItemKey(a, storage.KindLogin, u), "1700000000"); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []string{"r1", "r2"} {
		storagetest.MustItem(t, s, a, storage.KindRole, r)
		storagetest.MustSetAdd(t, s, storage.Coll{Account: a, Kind: storage.KindRolePerm, Owner: r}, "p:read", "")
	}
	storagetest.MustItem(t, s, a, storage.KindGroup, "g1")
	storagetest.MustLink(t, s, a, storage.UserRoles, "u1", "r1")
	storagetest.MustLink(t, s, a, storage.UserGroups, "u2", "g1")
	storagetest.MustLink(t, s, a, storage.GroupRoles, "g1", "r2")
	// Upsert: a child account may have copied "p:*" from its parent.
	if _, _, err := s.SetAdd(ctx, storage.Coll{Account: a, Kind: storage.KindCeiling}, "p:*", "", storage.Upsert); err != nil {
		t.Fatal(err)
	}
}

func testDeleteAccount(t *testing.T, s *storage.Store) {
	ctx := storagetest.Ctx(t)
	// system → a → b → c, plus siblings whose names share a's prefix.
	storagetest.MustAccount(t, s, "a", storage.SystemAccount)
	storagetest.MustAccount(t, s, "b", "a")
	storagetest.MustAccount(t, s, "c", "b")
	storagetest.MustAccount(t, s, "ab", storage.SystemAccount)
	storagetest.MustAccount(t, s, "a.b", storage.SystemAccount)
	for _, x := range []string{"a", "b", "c", "ab", "a.b"} {
		populate(t, s, x)
	}
	// A second child of b, so the subtree branches.
	storagetest.MustAccount(t, s, "b2", "a")
	populate(t, s, "b2")

	survivorsBefore := map[string]map[string]storagetest.KV{}
	for _, x := range []string{"ab", "a.b", storage.SystemAccount} {
		survivorsBefore[x] = storagetest.EtcdSnapshot(t, s, storage.TenantRange(x))
	}

	if _, err := s.DeleteAccount(ctx, "a"); err != nil {
		t.Fatalf("DeleteAccount: %v", err)
	}
	all := storagetest.EtcdKeys(t, s, "")
	for _, x := range []string{"a", "b", "c", "b2"} {
		if _, ok := all[storage.AccountKey(x)]; ok {
			t.Errorf("acct/%s survived", x)
		}
		for k := range all {
			if strings.HasPrefix(k, storage.TenantRange(x)) {
				t.Errorf("key %s of deleted account %s survived", k, x)
			}
		}
	}
	if _, ok := all[storage.ItemKey(storage.SystemAccount, storage.KindChild, "a")]; ok {
		t.Errorf("t/system/child/a survived")
	}
	for _, x := range []string{"ab", "a.b"} {
		if _, ok := all[storage.AccountKey(x)]; !ok {
			t.Errorf("sibling acct/%s was deleted", x)
		}
		if _, ok := all[storage.ItemKey(storage.SystemAccount, storage.KindChild, x)]; !ok {
			t.Errorf("sibling index t/system/child/%s was deleted", x)
		}
	}
	for x, before := range survivorsBefore {
		after := storagetest.EtcdSnapshot(t, s, storage.TenantRange(x))
		if x == storage.SystemAccount {
			delete(before, storage.ItemKey(x, storage.KindChild, "a"))
		}
		if !maps.Equal(before, after) {
			t.Errorf("account %s changed by deleting a:\n%s", x, storagetest.DiffKeySets(after, before))
		}
	}
	// The cache agrees.
	err := s.Read(ctx, 0, func(v storage.View) error {
		for _, x := range []string{"a", "b", "c", "b2"} {
			if v.Has(storage.AccountKey(x)) || v.CountRange(storage.TenantRange(x)) != 0 {
				t.Errorf("cache still shows account %s", x)
			}
		}
		if v.Has(storage.ItemKey(storage.SystemAccount, storage.KindChild, "a")) {
			t.Errorf("cache still shows t/system/child/a")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	if _, err := s.DeleteAccount(ctx, "a"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("second DeleteAccount = %v, want ErrNotFound", err)
	}
}
