package storage_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// failureCounts opens the failure counter of s with clock now.
func failureCounts(t *testing.T, s *storage.Store, now func() time.Time) *storage.FailureCounts {
	t.Helper()
	f, err := s.FailureCounts(patientCtx(t), now)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// failOnce adds one failure to name's count (no lock limit, no
// permanent lockout), as the counts-only tests want.
func failOnce(ctx context.Context, f *storage.FailureCounts, name string, window time.Duration) error {
	_, err := f.Fail(ctx, name, "192.0.2.1", window, 0, 0)
	return err
}

// waitCount polls f until name's count is want, failing after patience.
func waitCount(t *testing.T, what string, f *storage.FailureCounts, name string, want int) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		n, _ := f.Count(name)
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: count of %q is %d after %s, want %d", what, name, n, patience, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFailureCountsConcurrent: failures written at once through two
// stores on one etcd (two instances) are all counted, every one of them
// exactly once, and both caches show the total; the key is the same on
// both and holds no name, and other names are not counted.
func TestFailureCountsConcurrent(t *testing.T) {
	ep := storagetest.Etcd(t)
	sa, sb := storagetest.Open(t, ep), storagetest.Open(t, ep)
	fa, fb := failureCounts(t, sa, nil), failureCounts(t, sb, nil)
	const name = `acme\alice/../x y` // a name no key may hold as it is
	if ka, kb := fa.FailureKey(name), fb.FailureKey(name); ka != kb || strings.Contains(ka, "alice") ||
		!strings.HasPrefix(ka, storage.MarkerRange) {
		t.Fatalf("failure keys on the two stores: %q, %q; want one marker key without the name", ka, kb)
	}
	const workers, each = 6, 5
	ctx := patientCtx(t)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for _, f := range []*storage.FailureCounts{fa, fb} {
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					if err := failOnce(ctx, f, name, time.Hour); err != nil {
						t.Error(err)
						failed.Add(1)
					}
				}
			}()
		}
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.FailNow()
	}
	const want = 2 * workers * each
	// The writer's cache has its own writes when Fail returns; the other
	// store's last write arrives through the watch.
	waitCount(t, "store a", fa, name, want)
	waitCount(t, "store b", fb, name, want)
	if n, until := fa.Count(name); n != want || until.Before(time.Now().Add(59*time.Minute)) || until.After(time.Now().Add(time.Hour)) {
		t.Errorf("count = %d until %v; want %d until about an hour from now", n, until, want)
	}
	if n, _ := fb.Count(`acme\bob`); n != 0 {
		t.Errorf("another name's count = %d, want 0", n)
	}
}

// TestFailureCountsExpiry: a count's window starts with its first failure
// and ends by the stored expiry (a failure after it starts a new window
// at 1), and the key carries a lease that ends with the window, so etcd
// drops it by itself.
func TestFailureCountsExpiry(t *testing.T) {
	s := storagetest.Store(t)
	ctx := patientCtx(t)
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	f := failureCounts(t, s, now)
	const name = `acme\carol`
	start := now()
	for range 3 {
		if err := failOnce(ctx, f, name, 30*time.Minute); err != nil {
			t.Fatal(err)
		}
		clock.Add(int64(time.Minute))
	}
	if n, until := f.Count(name); n != 3 || !until.Equal(start.Add(30*time.Minute)) {
		t.Errorf("after 3 failures: %d until %v; want 3 until %v (the first failure's window)", n, until, start.Add(30*time.Minute))
	}
	key := f.FailureKey(name)
	resp, err := s.Client().Get(ctx, s.Prefix()+key)
	if err != nil || len(resp.Kvs) != 1 || resp.Kvs[0].Lease == 0 {
		t.Fatalf("the count's key in etcd: %v, %v; want one leased key", resp, err)
	}
	ttl, err := s.Client().TimeToLive(ctx, clientv3.LeaseID(resp.Kvs[0].Lease))
	if err != nil {
		t.Fatal(err)
	}
	// The window ends 27 min from the clock's "now" (which is 3 min on
	// from the real one); the lease ends with it, up to a bucket later.
	if got := time.Duration(ttl.TTL) * time.Second; got < 26*time.Minute || got > 30*time.Minute {
		t.Errorf("lease TTL %s; want about the 27 min left of the window", got)
	}
	clock.Store(start.Add(30 * time.Minute).UnixNano())
	if n, _ := f.Count(name); n != 0 {
		t.Errorf("count at the window's end = %d, want 0", n)
	}
	if err := failOnce(ctx, f, name, 30*time.Minute); err != nil {
		t.Fatal(err)
	}
	if n, until := f.Count(name); n != 1 || !until.Equal(now().Add(30*time.Minute)) {
		t.Errorf("a failure after the window: %d until %v; want 1 until %v", n, until, now().Add(30*time.Minute))
	}

	// Real time: a short window's key is deleted by etcd.
	g := failureCounts(t, s, nil)
	if err := failOnce(ctx, g, `acme\dan`, time.Second); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for storagetest.EtcdHas(t, s, g.FailureKey(`acme\dan`)) {
		if time.Now().After(deadline) {
			t.Fatal("a 1 s failure window's key is still in etcd after 30 s: no lease")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := failOnce(ctx, f, name, 0); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("Fail with no window = %v, want ErrInvalid", err)
	}
}

// TestFailureCountsClear: Clear drops a count on every store; clearing a
// name without one writes nothing.
func TestFailureCountsClear(t *testing.T) {
	ep := storagetest.Etcd(t)
	sa, sb := storagetest.Open(t, ep), storagetest.Open(t, ep)
	fa, fb := failureCounts(t, sa, nil), failureCounts(t, sb, nil)
	ctx := patientCtx(t)
	const name = `acme\erin`
	for range 2 {
		if err := failOnce(ctx, fa, name, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if err := failOnce(ctx, fa, `acme\other`, time.Hour); err != nil {
		t.Fatal(err)
	}
	waitCount(t, "b before the clear", fb, name, 2)
	if err := fb.Clear(ctx, name); err != nil {
		t.Fatal(err)
	}
	if n, _ := fb.Count(name); n != 0 {
		t.Errorf("count on the clearing store = %d, want 0", n)
	}
	waitCount(t, "a after b cleared", fa, name, 0)
	if storagetest.EtcdHas(t, sa, fa.FailureKey(name)) {
		t.Error("a cleared count is still in etcd")
	}
	if n, _ := fb.Count(`acme\other`); n != 1 {
		t.Errorf("another name's count after the clear = %d, want 1", n)
	}
	rev := storagetest.EtcdRev(t, sa)
	if err := fa.Clear(ctx, `acme\nobody`); err != nil {
		t.Fatal(err)
	}
	if got := storagetest.EtcdRev(t, sa); got != rev {
		t.Errorf("clearing a name without a count wrote to etcd (revision %d → %d)", rev, got)
	}
	// After the clear a failure starts a new count at 1.
	if err := failOnce(ctx, fa, name, time.Hour); err != nil {
		t.Fatal(err)
	}
	waitCount(t, "b after a new failure", fb, name, 1)
}

// lockoutFixture is two stores on one etcd (two instances) with account
// sa and enabled users u and w, and a failure counter on each.
func lockoutFixture(t *testing.T) (sa, sb *storage.Store, fa, fb *storage.FailureCounts, ctx context.Context) {
	t.Helper()
	ep := storagetest.Etcd(t)
	sa, sb = storagetest.Open(t, ep), storagetest.Open(t, ep)
	ctx = patientCtx(t)
	if _, err := sa.Bootstrap(ctx, "h", time.Now()); err != nil {
		t.Fatal(err)
	}
	storagetest.MustAccount(t, sa, "sa", "system", "*")
	storagetest.MustItem(t, sa, "sa", storage.KindUser, "u")
	storagetest.MustItem(t, sa, "sa", storage.KindUser, "w")
	return sa, sb, failureCounts(t, sa, nil), failureCounts(t, sb, nil), ctx
}

// lockedOn reads View.LockedUntil of sa\u on s.
func lockedOn(t *testing.T, s *storage.Store, u string, now time.Time) (until time.Time, locked bool) {
	t.Helper()
	if err := s.Read(patientCtx(t), 0, func(v storage.View) error {
		until, locked = v.LockedUntil("sa", u, now)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return until, locked
}

// waitLocked polls s until sa\u's lockout is want.
func waitLocked(t *testing.T, what string, s *storage.Store, u string, want bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		until, locked := lockedOn(t, s, u, time.Now())
		if locked == want {
			return until
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: locked %v after %s, want %v", what, locked, patience, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFailureCountsLockedAndCleared: a count that reaches the limit it
// was written with shows as locked until its window ends, on both
// stores (the other through its watch), and not before; an
// administrator's clear (ClearLockout) on one store drops it on both,
// is ErrNotFound for an unknown user and writes nothing when there is
// nothing to clear.
func TestFailureCountsLockedAndCleared(t *testing.T) {
	sa, sb, fa, fb, ctx := lockoutFixture(t)
	const name = `sa\u`
	start := time.Now()
	for i := range 3 {
		if _, locked := lockedOn(t, sa, "u", time.Now()); locked {
			t.Fatalf("locked after %d of 3 failures", i)
		}
		if _, err := fa.Fail(ctx, name, "192.0.2.1", time.Hour, 3, 0); err != nil {
			t.Fatal(err)
		}
	}
	until, locked := lockedOn(t, sa, "u", time.Now())
	if !locked || until.Before(start.Add(time.Hour)) || until.After(time.Now().Add(time.Hour)) {
		t.Fatalf("after 3 of 3 failures: locked %v until %v; want locked until an hour after the first", locked, until)
	}
	if got := waitLocked(t, "store b", sb, "u", true); !got.Equal(until) {
		t.Errorf("store b shows locked until %v, store a %v", got, until)
	}
	if _, locked := lockedOn(t, sa, "u", until); locked {
		t.Error("still locked at the window's end")
	}
	if _, locked := lockedOn(t, sa, "w", time.Now()); locked {
		t.Error("another user shows as locked")
	}
	// A count written without a limit (the throttle's other names)
	// never shows as locked.
	for range 5 {
		if err := failOnce(ctx, fa, `sa\w`, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if _, locked := lockedOn(t, sa, "w", time.Now()); locked {
		t.Error("a count without a limit shows as locked")
	}

	if _, err := sb.ClearLockout(ctx, "sa", "nobody"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("ClearLockout of an unknown user = %v, want ErrNotFound", err)
	}
	if _, err := sb.ClearLockout(ctx, "sa", "u"); err != nil {
		t.Fatal(err)
	}
	if _, locked := lockedOn(t, sb, "u", time.Now()); locked {
		t.Error("still locked on the clearing store")
	}
	waitLocked(t, "store a after b cleared", sa, "u", false)
	waitCount(t, "store a after b cleared", fa, name, 0)
	if storagetest.EtcdHas(t, sa, fa.FailureKey(name)) {
		t.Error("a cleared count is still in etcd")
	}
	if n, _ := fb.Count(`sa\w`); n != 5 {
		t.Errorf("another user's count after the clear = %d, want 5", n)
	}
	rev := storagetest.EtcdRev(t, sa)
	if _, err := sa.ClearLockout(ctx, "sa", "u"); err != nil {
		t.Fatal(err)
	}
	if got := storagetest.EtcdRev(t, sa); got != rev {
		t.Errorf("clearing a user without a lockout wrote to etcd (revision %d → %d)", rev, got)
	}
}

// userRecord reads sa\u's record from store s.
func userRecord(t *testing.T, s *storage.Store, u string) storage.User {
	t.Helper()
	var rec storage.User
	if err := s.Read(patientCtx(t), latestRev(t, s), func(v storage.View) error {
		rec, _ = v.User("sa", u)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return rec
}

// latestRev is etcd's current revision, for a read on s that must see
// what another store wrote (s's cache may not have applied it yet).
func latestRev(t *testing.T, s *storage.Store) int64 {
	t.Helper()
	resp, err := s.Client().Get(patientCtx(t), s.Prefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header.Revision
}

// putUser rewrites sa\u's record through change (an administrator's
// PUT).
func putUser(t *testing.T, s *storage.Store, u string, change func(*storage.User)) {
	t.Helper()
	_, _, err := s.PutItem(patientCtx(t), "sa", storage.KindUser, u, storage.UpdateOnly, func(old string, _ bool) (string, error) {
		rec, err := storage.DecodeUser(old)
		if err != nil {
			return "", err
		}
		change(&rec)
		return rec.Encode(), nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
}

// failUser adds n failures of sa\u with the permanent lockout at disable
// and returns how many of them reported the user disabled.
func failUser(t *testing.T, f *storage.FailureCounts, u string, n, disable int) int {
	t.Helper()
	got := 0
	for range n {
		d, err := f.Fail(patientCtx(t), `sa\`+u, "192.0.2.9", time.Hour, 100, disable)
		if err != nil {
			t.Fatal(err)
		}
		if d {
			got++
		}
	}
	return got
}

// lockoutEntries lists the audit entries of permanent lockouts of sa\u.
func lockoutEntries(t *testing.T, s *storage.Store, u string) []storage.AuditEntry {
	t.Helper()
	var out []storage.AuditEntry
	if _, err := s.AuditScan(patientCtx(t), storage.AuditFilter{}, func(_ string, e storage.AuditEntry) bool {
		if e.Actor == `sa\`+u && strings.Contains(e.Detail, "permanent lockout") {
			out = append(out, e)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFailureCountsPermanentLockout: consecutive failures of an existing,
// enabled user are kept past the window (no lease); a success (Clear)
// and any change of the user record start them afresh; the failure that
// reaches the threshold disables the user in its own transaction — the
// record disabled, the sessions gone, the streak deleted, one audit
// entry — and reports it once; a disabled or unknown user gets no
// streak; enabling the user again starts from zero.
func TestFailureCountsPermanentLockout(t *testing.T) {
	sa, _, fa, fb, ctx := lockoutFixture(t)
	fa.DisabledEntry = func(a, u, address string, n int) storage.AuditEntry {
		return storage.AuditEntry{Actor: a + `\` + u, Account: a, Action: "update", Target: "/users/" + u,
			Address: address, Outcome: "success", Detail: fmt.Sprintf("permanent lockout after %d", n)}
	}
	fb.DisabledEntry = fa.DisabledEntry
	const disable = 4
	if got := failUser(t, fa, "u", 3, disable); got != 0 {
		t.Fatalf("3 of 4 failures disabled the user (%d)", got)
	}
	key := fa.StreakKey(`sa\u`)
	resp, err := sa.Client().Get(ctx, sa.Prefix()+key)
	if err != nil || len(resp.Kvs) != 1 || resp.Kvs[0].Lease != 0 {
		t.Fatalf("the streak's key in etcd: %v, %v; want one key without a lease", resp, err)
	}
	if strings.Contains(key, "sa") || !strings.HasPrefix(key, storage.MarkerRange) {
		t.Errorf("streak key %q: want a marker key without the name", key)
	}
	// A success clears it: 3 more are not enough.
	if err := fb.Clear(ctx, `sa\u`); err != nil {
		t.Fatal(err)
	}
	if storagetest.EtcdHas(t, sa, key) {
		t.Fatal("a success left the streak in etcd")
	}
	if got := failUser(t, fa, "u", 3, disable); got != 0 {
		t.Fatal("the streak survived a success")
	}
	// A change of the user record (an administrator's PUT) starts it
	// afresh too.
	putUser(t, sa, "u", func(r *storage.User) { r.Email = "new@example.com" })
	if got := failUser(t, fa, "u", 3, disable); got != 0 {
		t.Fatal("the streak survived a change of the user record")
	}
	if rec := userRecord(t, sa, "u"); !rec.Enabled {
		t.Fatal("disabled before the threshold")
	}
	mustSession(t, sa, ctx, "u", "s1")

	// The fourth in a row, on the other store: disabled, once.
	if got := failUser(t, fb, "u", 1, disable); got != 1 {
		t.Fatalf("the 4th consecutive failure reported disabled %d times, want 1", got)
	}
	if rec := userRecord(t, sa, "u"); rec.Enabled {
		t.Fatal("the user is still enabled after the threshold")
	}
	if live := liveSessions(t, sa, "u", time.Now()); len(live) != 0 {
		t.Errorf("a disabled user's sessions survive: %v", live)
	}
	if storagetest.EtcdHas(t, sa, key) {
		t.Error("the streak is still in etcd after the disable")
	}
	es := lockoutEntries(t, sa, "u")
	if len(es) != 1 || es[0].Account != "sa" || es[0].Address != "192.0.2.9" || es[0].Target != "/users/u" ||
		es[0].Detail != "permanent lockout after 4" {
		t.Fatalf("audit entries of the lockout: %+v; want one naming the account, address, target and count", es)
	}
	// Failures of a disabled user are no streak and disable nothing.
	if got := failUser(t, fa, "u", 6, disable); got != 0 || storagetest.EtcdHas(t, sa, key) {
		t.Errorf("failures of a disabled user: disabled %d, streak kept %v", got, storagetest.EtcdHas(t, sa, key))
	}
	// Unknown users get none either.
	if got := failUser(t, fa, "nobody", 6, disable); got != 0 || storagetest.EtcdHas(t, sa, fa.StreakKey(`sa\nobody`)) {
		t.Error("an unknown user got a streak")
	}
	// Enabled again: the count starts from zero.
	putUser(t, sa, "u", func(r *storage.User) { r.Enabled = true })
	if got := failUser(t, fa, "u", 3, disable); got != 0 {
		t.Fatal("re-enabled user disabled again before 4 new failures")
	}
	if got := failUser(t, fa, "u", 1, disable); got != 1 {
		t.Fatal("re-enabled user not disabled after 4 new failures")
	}
	if n := len(lockoutEntries(t, sa, "u")); n != 2 {
		t.Errorf("%d lockout entries after two lockouts, want 2", n)
	}
}

// TestFailureCountsPermanentLockoutRace: failures racing on two stores
// past the threshold disable the user exactly once: one of them reports
// it and one audit entry is written.
func TestFailureCountsPermanentLockoutRace(t *testing.T) {
	sa, _, fa, fb, ctx := lockoutFixture(t)
	const disable, each = 5, 4
	var wg sync.WaitGroup
	var disabled atomic.Int64
	for _, f := range []*storage.FailureCounts{fa, fb} {
		for range each {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d, err := f.Fail(ctx, `sa\w`, "192.0.2.3", time.Hour, 100, disable)
				if err != nil {
					t.Error(err)
				}
				if d {
					disabled.Add(1)
				}
			}()
		}
	}
	wg.Wait()
	if got := disabled.Load(); got != 1 {
		t.Errorf("%d of %d racing failures reported the disable, want 1", got, 2*each)
	}
	if rec := userRecord(t, sa, "w"); rec.Enabled {
		t.Error("still enabled")
	}
	if es := lockoutEntries(t, sa, "w"); len(es) != 1 {
		t.Errorf("%d lockout audit entries, want 1: %+v", len(es), es)
	}
}

// TestFailureCountsReadsAllocateNothing: Count, Holds and LockedUntil —
// on every sign-in and every rendered user — allocate nothing for a name
// without a lockout, also while other names have counts.
func TestFailureCountsReadsAllocateNothing(t *testing.T) {
	sa, _, fa, _, ctx := lockoutFixture(t)
	for range 3 {
		if _, err := fa.Fail(ctx, `sa\w`, "192.0.2.1", time.Hour, 3, 0); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := fa.Count(`sa\w`); n != 3 {
		t.Fatalf("count %d, want 3", n)
	}
	now := time.Now()
	if err := sa.Read(ctx, 0, func(v storage.View) error {
		if _, ok := v.LockedUntil("sa", "w", now); !ok {
			t.Error("w is not shown locked")
		}
		if a := testing.AllocsPerRun(200, func() { v.LockedUntil("sa", "u", now) }); a != 0 && !raceDetector {
			t.Errorf("LockedUntil of a user without a lockout: %v allocations, want 0", a)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if raceDetector {
		t.Log("-race: sync.Pool drops buffers on purpose, allocation counts are not checked")
		return
	}
	if a := testing.AllocsPerRun(200, func() { fa.Count(`sa\u`) }); a != 0 {
		t.Errorf("Count: %v allocations, want 0", a)
	}
	if a := testing.AllocsPerRun(200, func() { fa.Holds(`sa\u`) }); a != 0 {
		t.Errorf("Holds: %v allocations, want 0", a)
	}
}
