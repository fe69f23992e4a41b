package storage_test

import (
	"errors"
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
					if err := f.Fail(ctx, name, time.Hour); err != nil {
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
		if err := f.Fail(ctx, name, 30*time.Minute); err != nil {
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
	if err := f.Fail(ctx, name, 30*time.Minute); err != nil {
		t.Fatal(err)
	}
	if n, until := f.Count(name); n != 1 || !until.Equal(now().Add(30*time.Minute)) {
		t.Errorf("a failure after the window: %d until %v; want 1 until %v", n, until, now().Add(30*time.Minute))
	}

	// Real time: a short window's key is deleted by etcd.
	g := failureCounts(t, s, nil)
	if err := g.Fail(ctx, `acme\dan`, time.Second); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for storagetest.EtcdHas(t, s, g.FailureKey(`acme\dan`)) {
		if time.Now().After(deadline) {
			t.Fatal("a 1 s failure window's key is still in etcd after 30 s: no lease")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := f.Fail(ctx, name, 0); !errors.Is(err, storage.ErrInvalid) {
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
		if err := fa.Fail(ctx, name, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if err := fa.Fail(ctx, `acme\other`, time.Hour); err != nil {
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
	if err := fa.Fail(ctx, name, time.Hour); err != nil {
		t.Fatal(err)
	}
	waitCount(t, "b after a new failure", fb, name, 1)
}
