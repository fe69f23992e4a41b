package storage_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// ---------------------------------------------------------------------
// Helpers shared by the external tests of this package.
// ---------------------------------------------------------------------

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// etcdKV is one key read straight from etcd.
type etcdKV struct {
	value string
	mod   int64
}

// etcdSnapshot reads every key under rel (relative to the store prefix)
// straight from etcd, bypassing the cache, with its mod revision.
func etcdSnapshot(t testing.TB, s *storage.Store, rel string) map[string]etcdKV {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := s.Client().Get(ctx, s.Prefix()+rel, clientv3.WithPrefix())
	if err != nil {
		t.Fatalf("etcd get %q: %v", rel, err)
	}
	out := make(map[string]etcdKV, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		k := strings.TrimPrefix(string(kv.Key), s.Prefix())
		if isVersionKey(k) {
			continue // written by every change; checked in TestVersionKeys
		}
		out[k] = etcdKV{string(kv.Value), kv.ModRevision}
	}
	return out
}

// isVersionKey reports whether k is an account's version key.
func isVersionKey(k string) bool {
	parts := strings.Split(k, "/")
	return len(parts) == 3 && k == storage.VersionKey(parts[1])
}

// TestVersionKeys: every write that changes an account's keys also
// writes its version key, so ETags agree across instances; a write that
// deletes the account leaves none.
func TestVersionKeys(t *testing.T) {
	s := storagetest.Store(t)
	ctx := testCtx(t)
	if _, err := s.Bootstrap(ctx, "h", time.Now()); err != nil {
		t.Fatal(err)
	}
	version := func(a string) int64 {
		var rev int64
		_ = s.Read(ctx, 0, func(v storage.View) error { rev = v.VersionRev(a); return nil })
		return rev
	}
	if version("system") == 0 {
		t.Fatal("bootstrap wrote no version key for system")
	}
	if _, err := s.CreateAccount(ctx, "va", storage.Account{Parent: "system"}, []string{"*"}); err != nil {
		t.Fatal(err)
	}
	v0, sys0 := version("va"), version("system")
	if v0 == 0 || sys0 == 0 {
		t.Fatalf("versions after create: va %d system %d", v0, sys0)
	}
	if _, _, err := s.PutItem(ctx, "va", storage.KindUser, "u", storage.CreateOnly,
		func(string, bool) (string, error) { return storage.User{}.Encode(), nil }, nil); err != nil {
		t.Fatal(err)
	}
	if v1 := version("va"); v1 <= v0 {
		t.Errorf("version of va did not move on a user create: %d → %d", v0, v1)
	}
	if version("system") != sys0 {
		t.Errorf("a write inside va changed system's version")
	}
	if _, err := s.DeleteAccount(ctx, "va"); err != nil {
		t.Fatal(err)
	}
	if etcdHas(t, s, storage.VersionKey("va")) {
		t.Errorf("deleting va left its version key")
	}
	if version("system") == sys0 {
		t.Errorf("deleting va (a child of system) did not change system's version")
	}
}

// etcdKeys reads every key under rel straight from etcd: key → value.
func etcdKeys(t testing.TB, s *storage.Store, rel string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, kv := range etcdSnapshot(t, s, rel) {
		out[k] = kv.value
	}
	return out
}

// etcdHas reports whether key exists in etcd (not the cache).
func etcdHas(t testing.TB, s *storage.Store, key string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := s.Client().Get(ctx, s.Prefix()+key)
	if err != nil {
		t.Fatalf("etcd get %q: %v", key, err)
	}
	return len(resp.Kvs) == 1
}

// etcdRev is etcd's current revision.
func etcdRev(t testing.TB, s *storage.Store) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := s.Client().Get(ctx, s.Prefix()+"rev-probe", clientv3.WithCountOnly())
	if err != nil {
		t.Fatalf("etcd get: %v", err)
	}
	return resp.Header.Revision
}

// cacheKeys lists every key under rel as the cache shows it now.
func cacheKeys(t testing.TB, s *storage.Store, rel string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := s.Read(context.Background(), 0, func(v storage.View) error {
		v.Each(rel, func(name, value string) bool {
			if !isVersionKey(rel + name) {
				out[rel+name] = value
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return out
}

// cacheGet reads one key from the cache without waiting for anything.
func cacheGet(t testing.TB, s *storage.Store, key string) (string, bool) {
	t.Helper()
	var val string
	var ok bool
	if err := s.Read(context.Background(), 0, func(v storage.View) error {
		val, ok = v.Get(key)
		return nil
	}); err != nil {
		t.Fatalf("read: %v", err)
	}
	return val, ok
}

func setTo(v string) func(string, bool) (string, error) {
	return func(string, bool) (string, error) { return v, nil }
}

func mustAccount(t testing.TB, s *storage.Store, name, parent string, ceiling ...string) {
	t.Helper()
	// No ceiling arguments pass a nil ceiling: copy the parent's.
	if _, err := s.CreateAccount(testCtx(t), name, storage.Account{Description: "account " + name, Parent: parent}, ceiling); err != nil {
		t.Fatalf("CreateAccount(%q under %q): %v", name, parent, err)
	}
}

func recordFor(kind, name string) string {
	switch kind {
	case storage.KindUser:
		return storage.User{Email: name + "@example.com", Enabled: true, Created: 1700000000}.Encode()
	case storage.KindRole:
		return storage.Role{Description: "role " + name}.Encode()
	case storage.KindGroup:
		return storage.Group{Description: "group " + name}.Encode()
	}
	return name
}

func mustItem(t testing.TB, s *storage.Store, a, kind, name string) {
	t.Helper()
	created, _, err := s.PutItem(testCtx(t), a, kind, name, storage.CreateOnly, setTo(recordFor(kind, name)), nil)
	if err != nil || !created {
		t.Fatalf("PutItem(%s, %s, %s) = %v, %v; want created", a, kind, name, created, err)
	}
}

func mustLink(t testing.TB, s *storage.Store, a string, l storage.Link, from, to string) {
	t.Helper()
	created, _, err := s.LinkAdd(testCtx(t), a, l, from, to, storage.CreateOnly)
	if err != nil || !created {
		t.Fatalf("LinkAdd(%s, %s→%s %s→%s) = %v, %v; want created", a, l.From, l.To, from, to, created, err)
	}
}

func mustSetAdd(t testing.TB, s *storage.Store, owner, prefix, name, value string) {
	t.Helper()
	if _, _, err := s.SetAdd(testCtx(t), owner, prefix, name, value, storage.CreateOnly); err != nil {
		t.Fatalf("SetAdd(%s, %s%s): %v", owner, prefix, name, err)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// diffKeySets returns a readable difference between two key sets, "" if equal.
func diffKeySets[V1, V2 any](got map[string]V1, want map[string]V2) string {
	var b strings.Builder
	for _, k := range sortedKeys(got) {
		if _, ok := want[k]; !ok {
			fmt.Fprintf(&b, "  unexpected %s\n", k)
		}
	}
	for _, k := range sortedKeys(want) {
		if _, ok := got[k]; !ok {
			fmt.Fprintf(&b, "  missing    %s\n", k)
		}
	}
	return b.String()
}

func keySet(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// ---------------------------------------------------------------------
// Bootstrap
// ---------------------------------------------------------------------

func TestBootstrap(t *testing.T) {
	s := storagetest.Store(t)
	ctx := testCtx(t)
	now := time.Unix(1_700_000_123, 0)

	created, err := s.Bootstrap(ctx, "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA", now)
	if err != nil || !created {
		t.Fatalf("first Bootstrap = %v, %v; want true, nil", created, err)
	}
	sys, role, user := storage.SystemAccount, storage.AdminRole, storage.AdminUser
	want := keySet(
		storage.AccountKey(sys),
		storage.ItemKey(sys, storage.KindCeiling, "*"),
		storage.ItemKey(sys, storage.KindRole, role),
		storage.SubKey(sys, storage.KindRolePerm, role, "*"),
		storage.ItemKey(sys, storage.KindUser, user),
		storage.SubKey(sys, storage.KindUserRole, user, role),
		storage.SubKey(sys, storage.KindRoleUser, role, user),
	)
	first := etcdSnapshot(t, s, "")
	if d := diffKeySets(first, want); d != "" {
		t.Fatalf("keys after Bootstrap differ:\n%s", d)
	}
	acc, err := storage.DecodeAccount(first[storage.AccountKey(sys)].value)
	if err != nil || acc.Parent != "" {
		t.Errorf("system account = %+v, %v; want a root account", acc, err)
	}
	u, err := storage.DecodeUser(first[storage.ItemKey(sys, storage.KindUser, user)].value)
	if err != nil {
		t.Fatalf("decode admin: %v", err)
	}
	if u.PasswordHash != "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA" || !u.Enabled || u.PasswordExpired || u.Created != now.Unix() {
		t.Errorf("admin user = %+v", u)
	}
	// Read-your-writes for Bootstrap.
	if _, ok := cacheGet(t, s, storage.SubKey(sys, storage.KindRoleUser, role, user)); !ok {
		t.Errorf("cache does not show the admin membership right after Bootstrap")
	}

	revBefore := etcdRev(t, s)
	created, err = s.Bootstrap(ctx, "other-hash", now.Add(time.Hour))
	if err != nil || created {
		t.Fatalf("second Bootstrap = %v, %v; want false, nil", created, err)
	}
	if rev := etcdRev(t, s); rev != revBefore {
		t.Errorf("second Bootstrap wrote to etcd: revision %d → %d", revBefore, rev)
	}
	if second := etcdSnapshot(t, s, ""); !maps.Equal(first, second) {
		t.Errorf("second Bootstrap changed keys:\nbefore %v\nafter  %v", first, second)
	}
}

// ---------------------------------------------------------------------
// Everything else shares one store (starting etcd costs about a second);
// each subtest works in accounts of its own.
// ---------------------------------------------------------------------

func TestStore(t *testing.T) {
	s := storagetest.Store(t)
	if _, err := s.Bootstrap(testCtx(t), "", time.Now()); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	t.Run("CreateAccount", func(t *testing.T) { testCreateAccount(t, s) })
	t.Run("UpdateAccount", func(t *testing.T) { testUpdateAccount(t, s) })
	t.Run("DeleteAccount", func(t *testing.T) { testDeleteAccount(t, s) })
	t.Run("PutItem", func(t *testing.T) { testPutItem(t, s) })
	t.Run("DeleteItem", func(t *testing.T) { testDeleteItem(t, s) })
	t.Run("Sets", func(t *testing.T) { testSets(t, s) })
	t.Run("LinkAdd", func(t *testing.T) { testLinkAdd(t, s) })
	t.Run("LinkRemove", func(t *testing.T) { testLinkRemove(t, s) })
	t.Run("LinkReplace", func(t *testing.T) { testLinkReplace(t, s) })
	t.Run("GroupUsersMirrorsUserGroups", func(t *testing.T) { testGroupUsersMirror(t, s) })
	t.Run("Page", func(t *testing.T) { testPage(t, s) })
	t.Run("FilterPage", func(t *testing.T) { testFilterPage(t, s) })
	t.Run("PageArgumentEdges", func(t *testing.T) { testPageArgumentEdges(t, s) })
	t.Run("UpdateOnlyOnSetsAndLinks", func(t *testing.T) { testUpdateOnlyOnSetsAndLinks(t, s) })
	t.Run("Subtree", func(t *testing.T) { testSubtree(t, s) })
	t.Run("ReadYourWrites", func(t *testing.T) { testReadYourWrites(t, s) })
}

func ceilingOf(t testing.TB, s *storage.Store, a string) []string {
	t.Helper()
	var out []string
	for k := range etcdKeys(t, s, storage.ItemRange(a, storage.KindCeiling)) {
		out = append(out, strings.TrimPrefix(k, storage.ItemRange(a, storage.KindCeiling)))
	}
	sort.Strings(out)
	return out
}

func testCreateAccount(t *testing.T, s *storage.Store) {
	mustAccount(t, s, "ca-root", "", "p:read", "q:*")
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
			ctx := testCtx(t)
			before := etcdSnapshot(t, s, storage.AccountKey(tc.name))
			_, err := s.CreateAccount(ctx, tc.name, storage.Account{Description: "new " + tc.name, Parent: tc.parent}, tc.ceiling)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("CreateAccount = %v, want %v", err, tc.wantErr)
				}
				if after := etcdSnapshot(t, s, storage.AccountKey(tc.name)); !maps.Equal(before, after) {
					t.Errorf("failed CreateAccount changed the record: %v → %v", before, after)
				}
				if tc.parent != "" && tc.wantErr == storage.ErrNotFound {
					if keys := etcdKeys(t, s, storage.TenantRange(tc.name)); len(keys) != 0 {
						t.Errorf("failed CreateAccount wrote %v", keys)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("CreateAccount: %v", err)
			}
			rec, ok := etcdKeys(t, s, "")[storage.AccountKey(tc.name)]
			if !ok {
				t.Fatalf("acct/%s missing in etcd", tc.name)
			}
			acc, err := storage.DecodeAccount(rec)
			if err != nil || acc.Parent != tc.parent || acc.Description != "new "+tc.name {
				t.Errorf("record = %+v, %v", acc, err)
			}
			if tc.parent != "" && !etcdHas(t, s, storage.ItemKey(tc.parent, storage.KindChild, tc.name)) {
				t.Errorf("child index t/%s/child/%s missing", tc.parent, tc.name)
			}
			if got := ceilingOf(t, s, tc.name); !slices.Equal(got, tc.wantCeil) {
				t.Errorf("ceiling = %q, want %q", got, tc.wantCeil)
			}
			if _, ok := cacheGet(t, s, storage.AccountKey(tc.name)); !ok {
				t.Errorf("cache does not show the new account")
			}
		})
	}
	// A nil ceiling copies the parent's as it is at creation time only.
	if _, _, err := s.SetAdd(testCtx(t), storage.AccountKey("ca-root"), storage.ItemRange("ca-root", storage.KindCeiling), "late", "", storage.CreateOnly); err != nil {
		t.Fatal(err)
	}
	if got := ceilingOf(t, s, "ca-inherit"); slices.Contains(got, "late") {
		t.Errorf("child ceiling follows later parent changes: %q", got)
	}
}

func testUpdateAccount(t *testing.T, s *storage.Store) {
	ctx := testCtx(t)
	mustAccount(t, s, "pa-root", "", "x:*")
	mustAccount(t, s, "pa-p1", "pa-root")
	mustAccount(t, s, "pa-p2", "pa-root")
	mustAccount(t, s, "pa-x", "pa-p1")
	mustAccount(t, s, "pa-other-root", "")

	t.Run("missing account", func(t *testing.T) {
		called := false
		_, err := s.UpdateAccount(ctx, "pa-missing", func(a *storage.Account) { called = true })
		if !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("UpdateAccount(missing) = %v, want ErrNotFound", err)
		}
		if called || etcdHas(t, s, storage.AccountKey("pa-missing")) {
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
		acc, _ := storage.DecodeAccount(etcdKeys(t, s, storage.AccountKey("pa-x"))[storage.AccountKey("pa-x")])
		if acc.Description != "updated" || acc.Parent != "pa-p1" {
			t.Errorf("stored = %+v", acc)
		}
		if !etcdHas(t, s, storage.ItemKey("pa-p1", storage.KindChild, "pa-x")) {
			t.Errorf("an update without a move lost the child index")
		}
	})

	t.Run("noop", func(t *testing.T) {
		rev := etcdRev(t, s)
		if _, err := s.UpdateAccount(ctx, "pa-x", func(a *storage.Account) {}); err != nil {
			t.Fatal(err)
		}
		if r := etcdRev(t, s); r != rev {
			t.Errorf("an unchanged account was rewritten: revision %d → %d", rev, r)
		}
	})

	t.Run("move", func(t *testing.T) {
		_, err := s.UpdateAccount(ctx, "pa-x", func(a *storage.Account) { a.Parent = "pa-p2" })
		if err != nil {
			t.Fatalf("move: %v", err)
		}
		if etcdHas(t, s, storage.ItemKey("pa-p1", storage.KindChild, "pa-x")) {
			t.Errorf("t/pa-p1/child/pa-x still present after the move")
		}
		if !etcdHas(t, s, storage.ItemKey("pa-p2", storage.KindChild, "pa-x")) {
			t.Errorf("t/pa-p2/child/pa-x missing after the move")
		}
		acc, _ := storage.DecodeAccount(etcdKeys(t, s, storage.AccountKey("pa-x"))[storage.AccountKey("pa-x")])
		if acc.Parent != "pa-p2" || acc.Description != "updated" {
			t.Errorf("stored = %+v", acc)
		}
		// The cache agrees at once.
		if _, ok := cacheGet(t, s, storage.ItemKey("pa-p1", storage.KindChild, "pa-x")); ok {
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
	mustAccount(t, s, "pa-y", "pa-x")
	mustAccount(t, s, "pa-z", "pa-y")
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
			before := etcdSnapshot(t, s, "")
			_, err := s.UpdateAccount(ctx, tc.account, func(a *storage.Account) {
				a.Parent = tc.parent
				a.Description = "should not be written"
			})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("UpdateAccount(%s, parent %q) = %v, want %v", tc.account, tc.parent, err, tc.wantErr)
			}
			if after := etcdSnapshot(t, s, ""); !maps.Equal(before, after) {
				t.Errorf("a refused move changed etcd:\n%s", diffKeySets(after, before))
			}
		})
	}
}

// populate gives account a users, roles, groups, memberships, attributes,
// role permissions, a ceiling and a login time.
func populate(t testing.TB, s *storage.Store, a string) {
	t.Helper()
	ctx := testCtx(t)
	for _, u := range []string{"u1", "u2"} {
		mustItem(t, s, a, storage.KindUser, u)
		mustSetAdd(t, s, storage.ItemKey(a, storage.KindUser, u), storage.SubRange(a, storage.KindAttr, u), "email", u+"@x")
		if err := putKey(ctx, s, storage.ItemKey(a, storage.KindLogin, u), "1700000000"); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []string{"r1", "r2"} {
		mustItem(t, s, a, storage.KindRole, r)
		mustSetAdd(t, s, storage.ItemKey(a, storage.KindRole, r), storage.SubRange(a, storage.KindRolePerm, r), "p:read", "")
	}
	mustItem(t, s, a, storage.KindGroup, "g1")
	mustLink(t, s, a, storage.UserRoles, "u1", "r1")
	mustLink(t, s, a, storage.UserGroups, "u2", "g1")
	mustLink(t, s, a, storage.GroupRoles, "g1", "r2")
	// Upsert: a child account may have copied "p:*" from its parent.
	if _, _, err := s.SetAdd(ctx, storage.AccountKey(a), storage.ItemRange(a, storage.KindCeiling), "p:*", "", storage.Upsert); err != nil {
		t.Fatal(err)
	}
}

func testDeleteAccount(t *testing.T, s *storage.Store) {
	ctx := testCtx(t)
	// system → a → b → c, plus siblings whose names share a's prefix.
	mustAccount(t, s, "a", storage.SystemAccount)
	mustAccount(t, s, "b", "a")
	mustAccount(t, s, "c", "b")
	mustAccount(t, s, "ab", storage.SystemAccount)
	mustAccount(t, s, "a.b", storage.SystemAccount)
	for _, x := range []string{"a", "b", "c", "ab", "a.b"} {
		populate(t, s, x)
	}
	// A second child of b, so the subtree branches.
	mustAccount(t, s, "b2", "a")
	populate(t, s, "b2")

	survivorsBefore := map[string]map[string]etcdKV{}
	for _, x := range []string{"ab", "a.b", storage.SystemAccount} {
		survivorsBefore[x] = etcdSnapshot(t, s, storage.TenantRange(x))
	}

	if _, err := s.DeleteAccount(ctx, "a"); err != nil {
		t.Fatalf("DeleteAccount: %v", err)
	}
	all := etcdKeys(t, s, "")
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
		after := etcdSnapshot(t, s, storage.TenantRange(x))
		if x == storage.SystemAccount {
			delete(before, storage.ItemKey(x, storage.KindChild, "a"))
		}
		if !maps.Equal(before, after) {
			t.Errorf("account %s changed by deleting a:\n%s", x, diffKeySets(after, before))
		}
	}
	// The cache agrees.
	err := s.Read(ctx, 0, func(v storage.View) error {
		for _, x := range []string{"a", "b", "c", "b2"} {
			if v.Has(storage.AccountKey(x)) || v.Count(storage.TenantRange(x)) != 0 {
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

func testPutItem(t *testing.T, s *storage.Store) {
	ctx := testCtx(t)
	a := "pi"
	mustAccount(t, s, a, "")
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
			if got := etcdKeys(t, s, key)[key]; got != st.wantStored {
				t.Errorf("stored %q, want %q", got, st.wantStored)
			}
		})
	}

	t.Run("upsert new", func(t *testing.T) {
		created, _, err := s.PutItem(ctx, a, storage.KindRole, "r-new", storage.Upsert, setTo("n"), nil)
		if err != nil || !created {
			t.Fatalf("= %v, %v; want created", created, err)
		}
		if !etcdHas(t, s, storage.ItemKey(a, storage.KindRole, "r-new")) {
			t.Errorf("not written")
		}
	})

	t.Run("update-only", func(t *testing.T) {
		created, _, err := s.PutItem(ctx, a, storage.KindRole, "r", storage.UpdateOnly, setTo("v5"), nil)
		if err != nil || created {
			t.Fatalf("UpdateOnly on an existing item = %v, %v; want updated", created, err)
		}
		if got := etcdKeys(t, s, key)[key]; got != "v5" {
			t.Errorf("stored %q, want v5", got)
		}
		called := false
		_, _, err = s.PutItem(ctx, a, storage.KindRole, "r-absent", storage.UpdateOnly,
			func(string, bool) (string, error) { called = true; return "x", nil }, nil)
		if !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("UpdateOnly on a missing item = %v, want ErrNotFound", err)
		}
		if called || etcdHas(t, s, storage.ItemKey(a, storage.KindRole, "r-absent")) {
			t.Errorf("UpdateOnly on a missing item called update or wrote it")
		}
	})

	t.Run("missing account", func(t *testing.T) {
		_, _, err := s.PutItem(ctx, "pi-missing", storage.KindUser, "u", storage.Upsert, setTo("x"), nil)
		if !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
		if keys := etcdKeys(t, s, storage.TenantRange("pi-missing")); len(keys) != 0 {
			t.Errorf("wrote %v", keys)
		}
	})

	t.Run("extra is atomic", func(t *testing.T) {
		var sawCreated []bool
		created, _, err := s.PutItem(ctx, a, storage.KindRole, "r-extra", storage.CreateOnly, setTo("e"),
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
		if !etcdHas(t, s, storage.SubKey(a, storage.KindRolePerm, "r-extra", "p:read")) {
			t.Errorf("extra's write missing")
		}
		// A refusing extra writes nothing, not even the item.
		_, _, err = s.PutItem(ctx, a, storage.KindRole, "r-refused", storage.CreateOnly, setTo("e"),
			func(v storage.View, tx *storage.Txn, created bool) error {
				tx.Put(storage.SubKey(a, storage.KindRolePerm, "r-refused", "p:read"), "")
				return storage.ErrInvalid
			})
		if !errors.Is(err, storage.ErrInvalid) {
			t.Fatalf("err = %v, want ErrInvalid", err)
		}
		if etcdHas(t, s, storage.ItemKey(a, storage.KindRole, "r-refused")) ||
			etcdHas(t, s, storage.SubKey(a, storage.KindRolePerm, "r-refused", "p:read")) {
			t.Errorf("a refused PutItem wrote keys")
		}
	})
}

// itemFixture builds, in account a, users u1 u2 u1x, roles r1 r2, groups
// g1 g2 with attributes, permissions, logins and memberships of every
// kind. u1x checks that deleting u1 does not touch names u1 is a prefix of.
func itemFixture(t testing.TB, s *storage.Store, a string) {
	t.Helper()
	ctx := testCtx(t)
	mustAccount(t, s, a, "")
	for _, u := range []string{"u1", "u2", "u1x"} {
		mustItem(t, s, a, storage.KindUser, u)
		mustSetAdd(t, s, storage.ItemKey(a, storage.KindUser, u), storage.SubRange(a, storage.KindAttr, u), "email", u+"@x")
		if err := putKey(ctx, s, storage.ItemKey(a, storage.KindLogin, u), "1700000000"); err != nil {
			t.Fatal(err)
		}
	}
	mustSetAdd(t, s, storage.ItemKey(a, storage.KindUser, "u1"), storage.SubRange(a, storage.KindAttr, "u1"), "phone", "1")
	for _, r := range []string{"r1", "r2"} {
		mustItem(t, s, a, storage.KindRole, r)
	}
	mustSetAdd(t, s, storage.ItemKey(a, storage.KindRole, "r1"), storage.SubRange(a, storage.KindRolePerm, "r1"), "p:read", "")
	mustSetAdd(t, s, storage.ItemKey(a, storage.KindRole, "r1"), storage.SubRange(a, storage.KindRolePerm, "r1"), "p:write", "")
	mustSetAdd(t, s, storage.ItemKey(a, storage.KindRole, "r2"), storage.SubRange(a, storage.KindRolePerm, "r2"), "p:read", "")
	for _, g := range []string{"g1", "g2"} {
		mustItem(t, s, a, storage.KindGroup, g)
	}
	for _, m := range [][2]string{{"u1", "r1"}, {"u1", "r2"}, {"u2", "r1"}, {"u1x", "r1"}} {
		mustLink(t, s, a, storage.UserRoles, m[0], m[1])
	}
	for _, m := range [][2]string{{"u1", "g1"}, {"u2", "g1"}, {"u1", "g2"}} {
		mustLink(t, s, a, storage.UserGroups, m[0], m[1])
	}
	for _, m := range [][2]string{{"g1", "r1"}, {"g2", "r1"}, {"g1", "r2"}} {
		mustLink(t, s, a, storage.GroupRoles, m[0], m[1])
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
			before := etcdSnapshot(t, s, storage.TenantRange(a))
			want := maps.Clone(before)
			for _, r := range tc.removed {
				k := storage.TenantRange(a) + r
				if _, ok := want[k]; !ok {
					t.Fatalf("fixture lacks %s", k)
				}
				delete(want, k)
			}
			if _, err := s.DeleteItem(testCtx(t), a, tc.kind, tc.name); err != nil {
				t.Fatalf("DeleteItem: %v", err)
			}
			after := etcdSnapshot(t, s, storage.TenantRange(a))
			if d := diffKeySets(after, want); d != "" {
				t.Errorf("etcd after deleting %s %s:\n%s", tc.kind, tc.name, d)
			}
			for k, kv := range want {
				if after[k] != kv {
					t.Errorf("%s changed: %v → %v", k, kv, after[k])
				}
			}
			if c := cacheKeys(t, s, storage.TenantRange(a)); len(c) != len(after) {
				t.Errorf("cache holds %d keys of %s, etcd %d", len(c), a, len(after))
			}
			if _, err := s.DeleteItem(testCtx(t), a, tc.kind, tc.name); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("second DeleteItem = %v, want ErrNotFound", err)
			}
		})
	}
}

func testSets(t *testing.T, s *storage.Store) {
	ctx := testCtx(t)
	a := "sets"
	mustAccount(t, s, a, "")
	mustItem(t, s, a, storage.KindUser, "u")
	owner := storage.ItemKey(a, storage.KindUser, "u")
	prefix := storage.SubRange(a, storage.KindAttr, "u")
	missingOwner := storage.ItemKey(a, storage.KindUser, "ghost")
	ghostPrefix := storage.SubRange(a, storage.KindAttr, "ghost")

	set := func() map[string]string {
		out := map[string]string{}
		for k, v := range etcdKeys(t, s, prefix) {
			out[strings.TrimPrefix(k, prefix)] = v
		}
		return out
	}

	adds := []struct {
		name        string
		owner       string
		member, val string
		mode        storage.Mode
		wantCreated bool
		wantErr     error
		want        map[string]string
	}{
		{"add new", owner, "mail", "a@x", storage.CreateOnly, true, nil, map[string]string{"mail": "a@x"}},
		{"add taken", owner, "mail", "b@x", storage.CreateOnly, false, storage.ErrNameTaken, map[string]string{"mail": "a@x"}},
		{"upsert changes", owner, "mail", "c@x", storage.Upsert, false, nil, map[string]string{"mail": "c@x"}},
		{"upsert new", owner, "tel", "1", storage.Upsert, true, nil, map[string]string{"mail": "c@x", "tel": "1"}},
		{"missing owner", missingOwner, "mail", "x", storage.Upsert, false, storage.ErrNotFound, map[string]string{"mail": "c@x", "tel": "1"}},
	}
	for _, tc := range adds {
		t.Run("SetAdd/"+tc.name, func(t *testing.T) {
			p := prefix
			if tc.owner == missingOwner {
				p = ghostPrefix
			}
			created, _, err := s.SetAdd(ctx, tc.owner, p, tc.member, tc.val, tc.mode)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && created != tc.wantCreated {
				t.Errorf("created = %v, want %v", created, tc.wantCreated)
			}
			if got := set(); !maps.Equal(got, tc.want) {
				t.Errorf("set = %v, want %v", got, tc.want)
			}
			if g := etcdKeys(t, s, ghostPrefix); len(g) != 0 {
				t.Errorf("wrote under a missing owner: %v", g)
			}
		})
	}

	t.Run("SetRemove", func(t *testing.T) {
		if _, err := s.SetRemove(ctx, owner, prefix, "tel"); err != nil {
			t.Fatal(err)
		}
		if got := set(); !maps.Equal(got, map[string]string{"mail": "c@x"}) {
			t.Errorf("set = %v", got)
		}
		if _, err := s.SetRemove(ctx, owner, prefix, "tel"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("removing a missing member = %v, want ErrNotFound", err)
		}
		if _, err := s.SetRemove(ctx, missingOwner, ghostPrefix, "mail"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("removing under a missing owner = %v, want ErrNotFound", err)
		}
	})

	t.Run("SetReplace", func(t *testing.T) {
		for _, m := range []string{"a", "b", "c"} {
			if _, _, err := s.SetAdd(ctx, owner, prefix, m, m+"-old", storage.Upsert); err != nil {
				t.Fatal(err)
			}
		}
		cBefore := etcdSnapshot(t, s, prefix+"c")[prefix+"c"]
		want := map[string]string{"b": "b-new", "c": "c-old", "d": "d"}
		if _, err := s.SetReplace(ctx, owner, prefix, want); err != nil {
			t.Fatal(err)
		}
		if got := set(); !maps.Equal(got, want) {
			t.Errorf("set = %v, want %v", got, want)
		}
		if after := etcdSnapshot(t, s, prefix+"c")[prefix+"c"]; after != cBefore {
			t.Errorf("an unchanged member was rewritten: %v → %v", cBefore, after)
		}
		if got := cacheKeys(t, s, prefix); len(got) != 3 || got[prefix+"b"] != "b-new" {
			t.Errorf("cache = %v", got)
		}
		if _, err := s.SetReplace(ctx, missingOwner, ghostPrefix, want); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("replace under a missing owner = %v, want ErrNotFound", err)
		}
		if g := etcdKeys(t, s, ghostPrefix); len(g) != 0 {
			t.Errorf("wrote under a missing owner: %v", g)
		}
		if _, err := s.SetReplace(ctx, owner, prefix, nil); err != nil {
			t.Fatal(err)
		}
		if got := set(); len(got) != 0 {
			t.Errorf("replace with nothing left %v", got)
		}
	})

	t.Run("ceiling set owned by the account", func(t *testing.T) {
		cp := storage.ItemRange(a, storage.KindCeiling)
		if _, err := s.SetReplace(ctx, storage.AccountKey(a), cp, map[string]string{"x:*": "", "y:read": ""}); err != nil {
			t.Fatal(err)
		}
		if got := ceilingOf(t, s, a); !slices.Equal(got, []string{"x:*", "y:read"}) {
			t.Errorf("ceiling = %q", got)
		}
		if _, _, err := s.SetAdd(ctx, storage.AccountKey("sets-nope"), storage.ItemRange("sets-nope", storage.KindCeiling), "x", "", storage.Upsert); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("SetAdd on a missing account = %v, want ErrNotFound", err)
		}
	})
}

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
	mustAccount(t, s, a, "")
	for _, n := range []string{"f1", "f2"} {
		mustItem(t, s, a, l.From, n)
	}
	for _, n := range []string{"t1", "t2", "t3"} {
		mustItem(t, s, a, l.To, n)
	}
}

// memberships returns the pairs (from, to) stored on the forward side and,
// separately, those stored on the reverse side, straight from etcd.
func memberships(t testing.TB, s *storage.Store, a string, l storage.Link) (fwd, rev map[[2]string]bool) {
	fwd, rev = map[[2]string]bool{}, map[[2]string]bool{}
	for k := range etcdKeys(t, s, storage.ItemRange(a, l.Fwd)) {
		parts := strings.Split(strings.TrimPrefix(k, storage.ItemRange(a, l.Fwd)), "/")
		fwd[[2]string{parts[0], parts[1]}] = true
	}
	for k := range etcdKeys(t, s, storage.ItemRange(a, l.Rev)) {
		parts := strings.Split(strings.TrimPrefix(k, storage.ItemRange(a, l.Rev)), "/")
		rev[[2]string{parts[1], parts[0]}] = true
	}
	return fwd, rev
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
	fwd, rev := memberships(t, s, a, l)
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
			ctx := testCtx(t)
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
					if _, ok := cacheGet(t, s, storage.SubKey(a, lc.l.Rev, st.to, st.from)); !ok {
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
			ctx := testCtx(t)
			a := "lr-" + strings.ToLower(lc.name)
			linkAccount(t, s, a, lc.l)
			mustLink(t, s, a, lc.l, "f1", "t1")
			mustLink(t, s, a, lc.l, "f1", "t2")
			mustLink(t, s, a, lc.l, "f2", "t1")
			if _, err := s.LinkRemove(ctx, a, lc.l, "f1", "t1"); err != nil {
				t.Fatal(err)
			}
			checkMemberships(t, s, a, lc.l, pairs("f1>t2", "f2>t1"))
			if _, ok := cacheGet(t, s, storage.SubKey(a, lc.l.Rev, "t1", "f1")); ok {
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
			ctx := testCtx(t)
			a := "lp-" + strings.ToLower(lc.name)
			linkAccount(t, s, a, lc.l)
			mustLink(t, s, a, lc.l, "f1", "t1")
			mustLink(t, s, a, lc.l, "f1", "t2")
			mustLink(t, s, a, lc.l, "f2", "t1")

			if _, err := s.LinkReplace(ctx, a, lc.l, "f1", []string{"t2", "t3", "t3"}); err != nil {
				t.Fatal(err)
			}
			checkMemberships(t, s, a, lc.l, pairs("f1>t2", "f1>t3", "f2>t1"))

			before := etcdSnapshot(t, s, storage.TenantRange(a))
			if _, err := s.LinkReplace(ctx, a, lc.l, "f1", []string{"t1", "tx"}); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("replace with a missing target = %v, want ErrNotFound", err)
			}
			if _, err := s.LinkReplace(ctx, a, lc.l, "fx", []string{"t1"}); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("replace for a missing item = %v, want ErrNotFound", err)
			}
			if after := etcdSnapshot(t, s, storage.TenantRange(a)); !maps.Equal(before, after) {
				t.Errorf("a failed replace changed etcd:\n%s", diffKeySets(after, before))
			}

			if _, err := s.LinkReplace(ctx, a, lc.l, "f1", nil); err != nil {
				t.Fatal(err)
			}
			checkMemberships(t, s, a, lc.l, pairs("f2>t1"))
			if got := cacheKeys(t, s, storage.SubRange(a, lc.l.Fwd, "f1")); len(got) != 0 {
				t.Errorf("cache still shows %v", got)
			}
		})
	}
}

func testGroupUsersMirror(t *testing.T, s *storage.Store) {
	ctx := testCtx(t)
	setup := func(a string) {
		mustAccount(t, s, a, "")
		for _, u := range []string{"u1", "u2", "u3"} {
			mustItem(t, s, a, storage.KindUser, u)
		}
		mustItem(t, s, a, storage.KindGroup, "g")
	}
	relative := func(a string) map[string]string {
		out := map[string]string{}
		for k, v := range etcdKeys(t, s, storage.TenantRange(a)) {
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
			t.Errorf("after %s the two sides differ:\nUserGroups %v\nGroupUsers %v", st.name, sortedKeys(a), sortedKeys(b))
		}
	}
	if got := relative("mirror-gu"); len(got) != 6 || !etcdHas(t, s, "t/mirror-gu/ug/u2/g") || !etcdHas(t, s, "t/mirror-gu/gu/g/u2") {
		t.Errorf("final keys = %v", sortedKeys(got))
	}
}

func testPage(t *testing.T, s *storage.Store) {
	a := "pg"
	mustAccount(t, s, a, "")
	mustAccount(t, s, "pg2", "") // neighbour sorting right after pg
	for i := range 25 {
		mustItem(t, s, a, storage.KindUser, fmt.Sprintf("u%02d", i))
	}
	mustItem(t, s, "pg2", storage.KindUser, "zz")
	mustItem(t, s, a, storage.KindRole, "r")
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
	err := s.Read(testCtx(t), 0, func(v storage.View) error {
		for _, tc := range tests {
			got, count := v.Page(tc.prefix, tc.offset, tc.limit)
			if !slices.Equal(got, tc.want) || count != tc.wantCount {
				t.Errorf("Page(%q, %d, %d) = %q, %d; want %q, %d", tc.prefix, tc.offset, tc.limit, got, count, tc.want, tc.wantCount)
			}
		}
		for _, c := range []struct {
			prefix string
			want   int
		}{
			{users, 25},
			{storage.TenantRange(a), 27}, // with the version key
			{storage.TenantRange("pg2"), 2},
			{storage.TenantRange("pg-none"), 0},
			{storage.ItemKey(a, storage.KindUser, "u1"), 10}, // u10..u19
		} {
			if n := v.Count(c.prefix); n != c.want {
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
	ctx := testCtx(t)
	a := "fp"
	mustAccount(t, s, a, "")
	for i := range 25 {
		mustItem(t, s, a, storage.KindUser, fmt.Sprintf("u%02d", i))
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
			got, count := v.FilterPage(users, "*1*", match, tc.offset, tc.limit)
			if !slices.Equal(got, tc.want) || count != len(all) {
				t.Errorf("FilterPage(%d, %d) = %q, %d; want %q, %d", tc.offset, tc.limit, got, count, tc.want, len(all))
			}
		}
		got, count := v.FilterPage(users, "none", func(string) bool { return false }, 0, 10)
		if len(got) != 0 || count != 0 {
			t.Errorf("FilterPage matching nothing = %q, %d", got, count)
		}
	})
	// The memo must notice changes in the account: add a match, then
	// delete one.
	mustItem(t, s, a, storage.KindUser, "u31")
	read(func(v storage.View) {
		got, count := v.FilterPage(users, "*1*", match, 10, 5)
		if count != 13 || !slices.Equal(got, []string{"u19", "u21", "u31"}) {
			t.Errorf("after adding u31: %q, %d; want [u19 u21 u31], 13", got, count)
		}
	})
	if _, err := s.DeleteItem(ctx, a, storage.KindUser, "u10"); err != nil {
		t.Fatal(err)
	}
	read(func(v storage.View) {
		got, count := v.FilterPage(users, "*1*", match, 0, 2)
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
	mustAccount(t, s, a, "")
	mustItem(t, s, a, storage.KindUser, "u")
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
	err := s.Read(testCtx(t), 0, func(v storage.View) error {
		always := func(string) bool { return true }
		call("Page(limit 0)", func() ([]string, int) { return v.Page(users, 0, 0) })
		call("Page(limit -1)", func() ([]string, int) { return v.Page(users, 0, -1) })
		call("FilterPage(limit 0)", func() ([]string, int) { return v.FilterPage(users, "*", always, 0, 0) })
		call("FilterPage(limit -1)", func() ([]string, int) { return v.FilterPage(users, "*", always, 0, -1) })
		// A negative offset is a caller error, but must not crash the
		// process; "acct/" is the first range of the tree.
		noPanic("Page(acct/, offset -1)", func() { v.Page(storage.AccountsRange, -1, 10) })
		noPanic("FilterPage(offset -1)", func() { v.FilterPage(users, "*", always, -1, 10) })
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testSubtree(t *testing.T, s *storage.Store) {
	// st1 → st2 → st4, st1 → st3
	mustAccount(t, s, "st1", "")
	mustAccount(t, s, "st2", "st1")
	mustAccount(t, s, "st3", "st1")
	mustAccount(t, s, "st4", "st2")
	tests := []struct {
		root string
		want []string
	}{
		{"st1", []string{"st1", "st2", "st3", "st4"}},
		{"st2", []string{"st2", "st4"}},
		{"st4", []string{"st4"}},
	}
	err := s.Read(testCtx(t), 0, func(v storage.View) error {
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
	ctx := testCtx(t)
	for round := range 10 {
		a := fmt.Sprintf("ryw%d", round)
		u := storage.ItemKey(a, storage.KindUser, "u")
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
				_, _, err := s.PutItem(ctx, a, storage.KindUser, "u", storage.CreateOnly, setTo(recordFor(storage.KindUser, "u")), nil)
				return err
			}, func(v storage.View) bool { usr, ok := v.User(a, "u"); return ok && usr.Enabled }},
			{"PutItem role", func() error {
				_, _, err := s.PutItem(ctx, a, storage.KindRole, "r", storage.CreateOnly, setTo("r"), nil)
				return err
			}, func(v storage.View) bool { return v.Has(storage.ItemKey(a, storage.KindRole, "r")) }},
			{"SetAdd", func() error {
				_, _, err := s.SetAdd(ctx, u, attr, "n", "1", storage.CreateOnly)
				return err
			}, func(v storage.View) bool { val, _ := v.Get(attr + "n"); return val == "1" }},
			{"SetReplace", func() error {
				_, err := s.SetReplace(ctx, u, attr, map[string]string{"m": "2"})
				return err
			}, func(v storage.View) bool { return !v.Has(attr+"n") && v.Has(attr+"m") }},
			{"SetRemove", func() error {
				_, err := s.SetRemove(ctx, u, attr, "m")
				return err
			}, func(v storage.View) bool { return v.Count(attr) == 0 }},
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
				return !v.Has(storage.AccountKey(a)) && v.Count(storage.TenantRange(a)) == 0
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

// testUpdateOnlyOnSetsAndLinks: Mode is shared by PutItem, SetAdd and
// LinkAdd, and UpdateOnly is documented as "fails with ErrNotFound when
// absent". An add that ignores it creates what the caller said must
// already exist.
func testUpdateOnlyOnSetsAndLinks(t *testing.T, s *storage.Store) {
	ctx := testCtx(t)
	a := "uo"
	mustAccount(t, s, a, "")
	mustItem(t, s, a, storage.KindUser, "u")
	mustItem(t, s, a, storage.KindRole, "r")
	owner, prefix := storage.ItemKey(a, storage.KindUser, "u"), storage.SubRange(a, storage.KindAttr, "u")
	created, _, err := s.SetAdd(ctx, owner, prefix, "absent", "v", storage.UpdateOnly)
	if !errors.Is(err, storage.ErrNotFound) || etcdHas(t, s, prefix+"absent") {
		t.Errorf("SetAdd(UpdateOnly) of an absent member = created %v, %v; want ErrNotFound and nothing written", created, err)
	}
	created, _, err = s.LinkAdd(ctx, a, storage.UserRoles, "u", "r", storage.UpdateOnly)
	if !errors.Is(err, storage.ErrNotFound) || etcdHas(t, s, storage.SubKey(a, storage.KindUserRole, "u", "r")) {
		t.Errorf("LinkAdd(UpdateOnly) of an absent membership = created %v, %v; want ErrNotFound and nothing written", created, err)
	}
}

// putKey writes one key through a guarded update, as the server does for
// a user's last sign-in.
func putKey(ctx context.Context, s *storage.Store, key, val string) error {
	_, err := s.Update(ctx, func(v storage.View, t *storage.Txn) error {
		t.Put(key, val)
		return nil
	})
	return err
}
