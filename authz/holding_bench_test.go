package authz_test

import (
	"context"
	"fmt"
	"testing"

	"gatehouse/authn"
	"gatehouse/authz"
	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// holdingFixture seeds, on a real store, account "acme" (ceiling of five
// patterns, under root account "corp" with ceiling "*") and user "alice"
// who holds role "printing" directly and roles "scanning" and "auditing"
// through groups "office" and "audit": 21 permissions in all.
func holdingFixture(b testing.TB) *storage.Store {
	b.Helper()
	st := storagetest.Store(b)
	ctx := context.Background()
	must := func(err error) {
		b.Helper()
		if err != nil {
			b.Fatal(err)
		}
	}
	_, err := st.CreateAccount(ctx, "corp", storage.Account{}, []string{"*"})
	must(err)
	_, err = st.CreateAccount(ctx, "acme", storage.Account{Parent: "corp"},
		[]string{"print:*", "scan:*", "audit:*", "auth:users:read", "auth:groups:read"})
	must(err)
	roles := map[string][]string{
		"printing": {"print:jobs:read", "print:jobs:create", "print:jobs:cancel", "print:queues:read",
			"print:queues:pause", "print:printers:read", "print:printers:status:read"},
		"scanning": {"scan:jobs:read", "scan:jobs:create", "scan:jobs:delete", "scan:devices:read",
			"scan:devices:calibrate", "scan:profiles:read,update"},
		"auditing": {"audit:log:read", "audit:log:export", "audit:reports:read", "audit:reports:create",
			"audit:alerts:read", "audit:alerts:ack", "auth:users:read", "auth:groups:read"},
	}
	for r, perms := range roles {
		_, _, err := st.PutItem(ctx, "acme", storage.KindRole, r, storage.CreateOnly,
			func(string, bool) (string, error) { return storage.Role{}.Encode(), nil },
			func(v storage.View, t *storage.Txn, created bool) error {
				for _, p := range perms {
					t.Put(storage.SubKey("acme", storage.KindRolePerm, r, p), "")
				}
				return nil
			})
		must(err)
	}
	for _, g := range []string{"office", "audit"} {
		_, _, err := st.PutItem(ctx, "acme", storage.KindGroup, g, storage.CreateOnly,
			func(string, bool) (string, error) { return storage.Group{}.Encode(), nil }, nil)
		must(err)
	}
	_, _, err = st.PutItem(ctx, "acme", storage.KindUser, "alice", storage.CreateOnly,
		func(string, bool) (string, error) { return storage.User{Enabled: true}.Encode(), nil }, nil)
	must(err)
	_, _, err = st.LinkAdd(ctx, "acme", storage.UserRoles, "alice", "printing", storage.CreateOnly)
	must(err)
	_, _, err = st.LinkAdd(ctx, "acme", storage.GroupRoles, "office", "scanning", storage.CreateOnly)
	must(err)
	_, _, err = st.LinkAdd(ctx, "acme", storage.GroupRoles, "audit", "auditing", storage.CreateOnly)
	must(err)
	_, _, err = st.LinkAdd(ctx, "acme", storage.UserGroups, "alice", "office", storage.CreateOnly)
	must(err)
	_, _, err = st.LinkAdd(ctx, "acme", storage.UserGroups, "alice", "audit", storage.CreateOnly)
	must(err)
	// Many other users, so the memo is not a one-entry map.
	for i := 0; i < 200; i++ {
		u := fmt.Sprintf("user-%03d", i)
		_, _, err = st.PutItem(ctx, "acme", storage.KindUser, u, storage.CreateOnly,
			func(string, bool) (string, error) { return storage.User{Enabled: true}.Encode(), nil }, nil)
		must(err)
	}
	return st
}

// BenchmarkHoldingDecide is the in-process decision: the memoised holding
// of a user (3 roles, direct and through groups, 21 permissions, a
// two-level ceiling) and one Decide. SPEC §12: ≤ 2 µs and no allocation
// when the memo hits.
func BenchmarkHoldingDecide(b *testing.B) {
	st := holdingFixture(b)
	ctx := context.Background()
	var hs authz.Holdings
	cases := []struct {
		name, wanted string
		granted      bool
	}{
		{"granted-first-role", "print:jobs:read", true},
		{"granted-last-role", "audit:alerts:ack", true},
		{"granted-subpart", "scan:profiles:update", true},
		{"denied-not-held", "print:printers:delete", false},
		{"denied-by-ceiling", "auth:roles:read", false},
	}
	// Fill the memo for every user.
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(st.Read(ctx, 0, func(v storage.View) error {
		for i := 0; i < 200; i++ {
			hs.Of(v, "acme", fmt.Sprintf("user-%03d", i))
		}
		return nil
	}))
	for _, c := range cases {
		// The decision alone, inside one consistent view.
		b.Run(c.name, func(b *testing.B) {
			must(st.Read(ctx, 0, func(v storage.View) error {
				if _, ok := hs.Of(v, "acme", "alice").Decide(c.wanted); ok != c.granted {
					b.Fatalf("Decide(%q) = %v, want %v", c.wanted, ok, c.granted)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					hs.Of(v, "acme", "alice").Decide(c.wanted)
				}
				return nil
			}))
		})
	}
	// With Store.Read around each decision, as a request handler does it.
	b.Run("with-store-read", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = st.Read(ctx, 0, func(v storage.View) error {
				hs.Of(v, "acme", "alice").Decide("audit:alerts:ack")
				return nil
			})
		}
	})
	// A memo miss: what the first decision for a user costs, and every
	// decision after any change in the user's account.
	b.Run("miss-recompute", func(b *testing.B) {
		must(st.Read(ctx, 0, func(v storage.View) error {
			b.ReportAllocs()
			for b.Loop() {
				hs.Forget("acme", "alice")
				hs.Of(v, "acme", "alice").Decide("audit:alerts:ack")
			}
			return nil
		}))
	})
}

// BenchmarkAuthorityDecide is the one decision point as the pipeline
// calls it for every request: the principal's user state, its memoised
// holding, the decision and, for a scoped principal (an API key), the
// scope check. SPEC §12: ≤ 2 µs and no allocation when the memo hits.
func BenchmarkAuthorityDecide(b *testing.B) {
	st := holdingFixture(b)
	ctx := context.Background()
	var au authz.Authority
	alice := authn.Principal{Account: "acme", User: "alice", Method: authn.MethodPassword}
	key := authn.Principal{Account: "acme", User: "alice", Method: authn.MethodAPIKey, KeyID: "gh_bench000",
		Scopes: []string{"scan:*", "audit:log:*"}}
	for _, c := range []struct {
		name   string
		p      authn.Principal
		wanted string
		ok     bool
	}{
		{"password-granted", alice, "audit:alerts:ack", true},
		{"password-denied", alice, "auth:roles:read", false},
		{"api-key-granted", key, "audit:log:read", true},
		{"api-key-out-of-scope", key, "print:jobs:read", false},
	} {
		b.Run(c.name, func(b *testing.B) {
			if err := st.Read(ctx, 0, func(v storage.View) error {
				if got := au.Decide(v, c.p, c.wanted, "").Granted(); got != c.ok {
					b.Fatalf("Decide(%q) = %v, want %v", c.wanted, got, c.ok)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					au.Decide(v, c.p, c.wanted, "")
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkAuthorityDecideParallel is BenchmarkAuthorityDecide's
// password-granted case from every processor at once: a memo hit takes
// no lock.
func BenchmarkAuthorityDecideParallel(b *testing.B) {
	st := holdingFixture(b)
	var au authz.Authority
	alice := authn.Principal{Account: "acme", User: "alice", Method: authn.MethodPassword}
	if err := st.Read(context.Background(), 0, func(v storage.View) error {
		if !au.Decide(v, alice, "audit:alerts:ack", "").Granted() {
			b.Fatal("not granted")
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				au.Decide(v, alice, "audit:alerts:ack", "")
			}
		})
		return nil
	}); err != nil {
		b.Fatal(err)
	}
}
