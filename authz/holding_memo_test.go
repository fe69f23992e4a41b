package authz_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"gatehouse/authz"
	"gatehouse/storage"
)

// read runs fn on a fresh view of st.
func read(t *testing.T, st *storage.Store, fn func(v storage.View)) {
	t.Helper()
	if err := st.Read(context.Background(), 0, func(v storage.View) error { fn(v); return nil }); err != nil {
		t.Fatal(err)
	}
}

func userName(i int) string { return fmt.Sprintf("user-%03d", i) }

// The memo stays within its byte budget when more principals ask than
// fit, spares a principal that keeps asking (second chance), and an
// evicted holding comes back recomputed, equal to a fresh one.
func TestHoldingsEvictionUnderBudget(t *testing.T) {
	st := holdingFixture(t)
	read(t, st, func(v storage.View) {
		var probe authz.Holdings
		probe.Of(v, "acme", userName(0))
		one := probe.Bytes()
		if one <= 0 || probe.Len() != 1 {
			t.Fatalf("one holding: %d bytes, %d entries", one, probe.Len())
		}
		var alice authz.Holdings
		alice.Of(v, "acme", "alice")
		aliceBytes := alice.Bytes()

		hs := authz.Holdings{Budget: aliceBytes + 20*one}
		a := hs.Of(v, "acme", "alice")
		for i := range 200 {
			hs.Of(v, "acme", userName(i))
			if b := hs.Bytes(); b > hs.Budget {
				t.Fatalf("after %d users: %d bytes memoised, budget %d", i+1, b, hs.Budget)
			}
			// alice asks between every other principal: CLOCK spares her.
			if got := hs.Of(v, "acme", "alice"); got != a {
				t.Fatalf("after %d users: alice's holding was evicted though she kept asking", i+1)
			}
		}
		if n := hs.Len(); n < 2 || n > 21 {
			t.Fatalf("%d holdings memoised, want between 2 and 21", n)
		}
		// user-000 was evicted long ago: asked again, it is recomputed,
		// the same as a fresh computation.
		h := hs.Of(v, "acme", userName(0))
		if want := authz.ComputeHolding(v, "acme", userName(0)); h.Sum() != want.Sum() {
			t.Fatalf("recomputed holding differs: %s, want %s", h.Sum(), want.Sum())
		}
		if hs.Of(v, "acme", userName(0)) != h {
			t.Fatal("the recomputed holding was not memoised")
		}
		if _, ok := hs.Of(v, "acme", "alice").Decide("audit:alerts:ack"); !ok {
			t.Fatal("alice's memoised holding lost a permission")
		}
		if b := hs.Bytes(); b > hs.Budget {
			t.Fatalf("%d bytes memoised, budget %d", b, hs.Budget)
		}
	})

	// A change to what holdings read invalidates them: a user given a
	// role holds its permissions on the next decision.
	ctx := context.Background()
	if _, _, err := st.LinkAdd(ctx, "acme", storage.UserRoles, userName(0), "printing", storage.CreateOnly); err != nil {
		t.Fatal(err)
	}
	var hs authz.Holdings
	read(t, st, func(v storage.View) {
		if _, ok := hs.Of(v, "acme", userName(0)).Decide("print:jobs:read"); !ok {
			t.Fatal("a user given a role does not hold its permissions")
		}
	})

	t.Run("a holding larger than the budget is not stored", func(t *testing.T) {
		read(t, st, func(v storage.View) {
			hs := authz.Holdings{Budget: 64}
			if _, ok := hs.Of(v, "acme", "alice").Decide("print:jobs:read"); !ok {
				t.Fatal("wrong decision")
			}
			if hs.Len() != 0 || hs.Bytes() != 0 {
				t.Fatalf("stored %d holdings (%d bytes) over a 64-byte budget", hs.Len(), hs.Bytes())
			}
		})
	})
}

// Compute gives the same holding as Of and stores nothing; it reuses a
// memoised holding that is still valid.
func TestHoldingsComputeStoresNothing(t *testing.T) {
	st := holdingFixture(t)
	read(t, st, func(v storage.View) {
		var hs authz.Holdings
		for i := range 200 {
			h := hs.Compute(v, "acme", userName(i))
			if len(h.Effective()) != 0 {
				t.Fatalf("%s: unexpected permissions %v", userName(i), h.Effective())
			}
		}
		c := hs.Compute(v, "acme", "alice")
		if hs.Len() != 0 || hs.Bytes() != 0 {
			t.Fatalf("Compute memoised %d holdings (%d bytes)", hs.Len(), hs.Bytes())
		}
		m := hs.Of(v, "acme", "alice")
		if c.Sum() != m.Sum() || strings.Join(c.Effective(), " ") != strings.Join(m.Effective(), " ") {
			t.Fatalf("Compute and Of differ: %s %v, %s %v", c.Sum(), c.Effective(), m.Sum(), m.Effective())
		}
		if hs.Compute(v, "acme", "alice") != m {
			t.Fatal("Compute did not reuse the memoised holding")
		}
		if hs.Len() != 1 {
			t.Fatalf("%d holdings memoised, want 1", hs.Len())
		}
	})
}

// A memo key owns its strings: a holding memoised for names cut from a
// large request line does not keep the line alive.
func TestHoldingsKeysOwnTheirStrings(t *testing.T) {
	st := holdingFixture(t)
	line := "GET /accounts/acme/users/alice/permissions/print:jobs:read HTTP/1.1" + strings.Repeat(" ", 1<<16)
	a, u := line[len("GET /accounts/"):len("GET /accounts/acme")], line[len("GET /accounts/acme/users/"):len("GET /accounts/acme/users/alice")]
	if a != "acme" || u != "alice" {
		t.Fatalf("cut %q %q", a, u)
	}
	read(t, st, func(v storage.View) {
		var hs authz.Holdings
		hs.Of(v, "acme", "alice")
		h := hs.Of(v, a, u) // a hit: same holding
		if unsafe.StringData(h.Account) == unsafe.StringData(a) {
			t.Fatal("the memoised holding shares the request's account string")
		}
		hs.Forget("acme", "alice")
		h = hs.Of(v, a, u) // a miss keyed by the cut names
		if unsafe.StringData(h.Account) == unsafe.StringData(a) {
			t.Fatal("the memoised holding shares the request's account string")
		}
	})
}

// Of, Compute and Forget from many goroutines, with a budget small
// enough to evict all the time: the race detector stays quiet, the
// budget holds and forgetting everyone empties the memo.
func TestHoldingsConcurrent(t *testing.T) {
	st := holdingFixture(t)
	read(t, st, func(v storage.View) {
		var probe authz.Holdings
		probe.Of(v, "acme", userName(0))
		hs := authz.Holdings{Budget: 15 * probe.Bytes()}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 400 {
					u := userName((g*37 + i*7) % 200)
					switch i % 5 {
					case 3:
						hs.Forget("acme", u)
					case 4:
						hs.Compute(v, "acme", u)
					default:
						hs.Of(v, "acme", u)
						if _, ok := hs.Of(v, "acme", "alice").Decide("scan:jobs:read"); !ok {
							t.Error("alice lost scan:jobs:read")
							return
						}
					}
					if b := hs.Bytes(); b > hs.Budget {
						t.Errorf("%d bytes memoised, budget %d", b, hs.Budget)
						return
					}
				}
			})
		}
		wg.Wait()
		for i := range 200 {
			hs.Forget("acme", userName(i))
		}
		hs.Forget("acme", "alice")
		if hs.Len() != 0 || hs.Bytes() != 0 {
			t.Fatalf("after forgetting everyone: %d holdings, %d bytes", hs.Len(), hs.Bytes())
		}
	})
}

// Users of one shape (the same account, roles and groups held directly)
// share one holding, equal to a fresh computation for each of them (the
// same permissions, granting roles, ceiling and Sum); a change to a
// role's permissions makes the shape's holding stale, and the next one
// holds the new permission.
func TestHoldingsShareByShape(t *testing.T) {
	st := holdingFixture(t)
	ctx := context.Background()
	// bob holds what alice holds, through the same role and groups.
	if _, _, err := st.PutItem(ctx, "acme", storage.KindUser, "bob", storage.CreateOnly,
		func(string, bool) (string, error) { return storage.User{Enabled: true}.Encode(), nil }, nil); err != nil {
		t.Fatal(err)
	}
	for _, l := range []struct {
		link storage.Link
		to   string
	}{{storage.UserRoles, "printing"}, {storage.UserGroups, "office"}, {storage.UserGroups, "audit"}} {
		if _, _, err := st.LinkAdd(ctx, "acme", l.link, "bob", l.to, storage.CreateOnly); err != nil {
			t.Fatal(err)
		}
	}
	same := func(t *testing.T, got, want *authz.Holding) {
		t.Helper()
		if got.Sum() != want.Sum() || strings.Join(got.Perms, " ") != strings.Join(want.Perms, " ") ||
			strings.Join(got.Roles, " ") != strings.Join(want.Roles, " ") ||
			fmt.Sprint(got.Ceiling) != fmt.Sprint(want.Ceiling) || got.Account != want.Account {
			t.Fatalf("shared holding %s %v %v %v differs from a fresh one %s %v %v %v",
				got.Sum(), got.Perms, got.Roles, got.Ceiling, want.Sum(), want.Perms, want.Roles, want.Ceiling)
		}
	}
	var hs authz.Holdings
	read(t, st, func(v storage.View) {
		a, b := hs.Compute(v, "acme", "alice"), hs.Of(v, "acme", "bob")
		if a != b {
			t.Fatal("alice and bob hold the same roles and groups but got two holdings")
		}
		same(t, a, authz.ComputeHolding(v, "acme", "alice"))
		same(t, b, authz.ComputeHolding(v, "acme", "bob"))
		u0, u1 := hs.Of(v, "acme", userName(0)), hs.Compute(v, "acme", userName(1))
		if u0 != u1 || u0 == a {
			t.Fatal("users without roles do not share one holding apart from alice's")
		}
		same(t, u0, authz.ComputeHolding(v, "acme", userName(0)))
	})
	if _, _, err := st.PutItem(ctx, "acme", storage.KindRolePerm, "printing/print:jobs:delete", storage.CreateOnly,
		func(string, bool) (string, error) { return "", nil }, nil); err != nil {
		t.Fatal(err)
	}
	read(t, st, func(v storage.View) {
		h := hs.Compute(v, "acme", "alice")
		if _, ok := h.Decide("print:jobs:delete"); !ok {
			t.Fatal("a permission added to alice's role is not held through the shapes memo")
		}
		same(t, h, authz.ComputeHolding(v, "acme", "alice"))
		if hs.Of(v, "acme", "bob") != h {
			t.Fatal("bob's memoised holding was not replaced by the new shape holding")
		}
	})
}
