package authn

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestThrottleDefaults(t *testing.T) {
	clk := newFakeClock()
	th := NewThrottle(ThrottleLimits{}, clk.Now)
	for i := 0; i < DefaultUserFailures-1; i++ {
		th.Fail("alice", fmt.Sprint("10.0.0.", i)) // spread over addresses
	}
	if ok, ra := th.Allowed("alice", "10.9.9.9"); !ok || ra != 0 {
		t.Fatalf("after %d failures: Allowed = %v, %v; want true, 0", DefaultUserFailures-1, ok, ra)
	}
	th.Fail("alice", "10.0.0.99")
	if ok, ra := th.Allowed("alice", "10.9.9.9"); ok || ra != DefaultUserWindow {
		t.Fatalf("after %d failures: Allowed = %v, %v; want false, %v", DefaultUserFailures, ok, ra, DefaultUserWindow)
	}
	if DefaultUserFailures != 10 || DefaultUserWindow != 15*time.Minute ||
		DefaultAddressFailures != 50 || DefaultAddressWindow != time.Minute {
		t.Fatal("defaults differ from 10 per 15 min (user) and 50 per 1 min (address)")
	}
}

func TestThrottleUserLimit(t *testing.T) {
	lim := ThrottleLimits{UserFailures: 3, UserWindow: time.Minute, AddressFailures: 1000, AddressWindow: time.Minute}
	tests := []struct {
		failures int
		want     bool
	}{{0, true}, {1, true}, {2, true}, {3, false}, {4, false}, {10, false}}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.failures, "_failures"), func(t *testing.T) {
			th := NewThrottle(lim, newFakeClock().Now)
			for range tc.failures {
				th.Fail("alice", "1.2.3.4")
			}
			if ok, _ := th.Allowed("alice", "5.6.7.8"); ok != tc.want {
				t.Fatalf("Allowed = %v, want %v", ok, tc.want)
			}
			if ok, _ := th.Allowed("bob", "1.2.3.4"); !ok {
				t.Fatal("other user from the same address blocked by alice's user limit")
			}
		})
	}
}

func TestThrottleRetryAfter(t *testing.T) {
	// Failures at 0s, 10s, 20s with limit 3 per 60s: blocked until the
	// failure at 0s leaves the window at 60s.
	tests := []struct {
		at   time.Duration // since the first failure
		ok   bool
		want time.Duration
	}{
		{20 * time.Second, false, 40 * time.Second},
		{20*time.Second + 500*time.Millisecond, false, 40 * time.Second}, // 39.5s rounds up
		{21 * time.Second, false, 39 * time.Second},
		{59 * time.Second, false, time.Second},
		{59*time.Second + 999*time.Millisecond, false, time.Second}, // 1ms rounds up to 1s
		{60 * time.Second, true, 0},
		{2 * time.Hour, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.at.String(), func(t *testing.T) {
			clk := newFakeClock()
			th := NewThrottle(ThrottleLimits{UserFailures: 3, UserWindow: time.Minute}, clk.Now)
			for i := range 3 {
				if i > 0 {
					clk.Advance(10 * time.Second)
				}
				th.Fail("alice", "1.2.3.4")
			}
			clk.Advance(tc.at - 20*time.Second)
			ok, ra := th.Allowed("alice", "1.2.3.4")
			if ok != tc.ok || ra != tc.want {
				t.Fatalf("Allowed at +%v = %v, %v; want %v, %v", tc.at, ok, ra, tc.ok, tc.want)
			}
		})
	}
}

func TestThrottleSlidingWindow(t *testing.T) {
	clk := newFakeClock()
	th := NewThrottle(ThrottleLimits{UserFailures: 2, UserWindow: time.Minute}, clk.Now)
	th.Fail("alice", "a")
	clk.Advance(50 * time.Second)
	th.Fail("alice", "a")
	if ok, ra := th.Allowed("alice", "a"); ok || ra != 10*time.Second {
		t.Fatalf("Allowed = %v, %v; want false, 10s", ok, ra)
	}
	clk.Advance(10 * time.Second) // first failure leaves; one left
	if ok, _ := th.Allowed("alice", "a"); !ok {
		t.Fatal("still blocked after the oldest failure left the window")
	}
	th.Fail("alice", "a") // second and third within the window: blocked again
	if ok, ra := th.Allowed("alice", "a"); ok || ra != 50*time.Second {
		t.Fatalf("Allowed = %v, %v; want false, 50s (until the failure at 50s leaves)", ok, ra)
	}
}

func TestThrottleBothCountersBlockTakesLonger(t *testing.T) {
	clk := newFakeClock()
	th := NewThrottle(ThrottleLimits{UserFailures: 1, UserWindow: 10 * time.Minute, AddressFailures: 1, AddressWindow: time.Minute}, clk.Now)
	th.Fail("alice", "1.2.3.4")
	if ok, ra := th.Allowed("alice", "1.2.3.4"); ok || ra != 10*time.Minute {
		t.Fatalf("Allowed = %v, %v; want false, 10m", ok, ra)
	}
	if ok, ra := th.Allowed("bob", "1.2.3.4"); ok || ra != time.Minute {
		t.Fatalf("Allowed(bob, same addr) = %v, %v; want false, 1m", ok, ra)
	}
}

func TestThrottleSucceedClearsUserOnly(t *testing.T) {
	clk := newFakeClock()
	th := NewThrottle(ThrottleLimits{UserFailures: 3, UserWindow: time.Hour, AddressFailures: 5, AddressWindow: time.Hour}, clk.Now)
	for range 3 {
		th.Fail("alice", "1.1.1.1")
	}
	if ok, _ := th.Allowed("alice", "2.2.2.2"); ok {
		t.Fatal("alice not blocked after 3 failures")
	}
	th.Succeed("alice")
	if ok, _ := th.Allowed("alice", "2.2.2.2"); !ok {
		t.Fatal("Succeed did not clear alice's counter")
	}
	// The address counter kept alice's 3 failures: 2 more block it.
	th.Fail("bob", "1.1.1.1")
	if ok, _ := th.Allowed("carol", "1.1.1.1"); !ok {
		t.Fatal("address blocked at 4 of 5 failures")
	}
	th.Fail("dave", "1.1.1.1")
	if ok, _ := th.Allowed("carol", "1.1.1.1"); ok {
		t.Fatal("Succeed cleared the address counter too")
	}
	th.Succeed("never-failed") // no-op
}

func TestThrottleAddressLimitIndependentOfNames(t *testing.T) {
	clk := newFakeClock()
	th := NewThrottle(ThrottleLimits{}, clk.Now) // 50 per minute per address
	for i := range DefaultAddressFailures {
		name := fmt.Sprintf("no-such-user-%d", i)
		if ok, _ := th.Allowed(name, "203.0.113.7"); !ok {
			t.Fatalf("blocked before failure %d", i+1)
		}
		th.Fail(name, "203.0.113.7")
	}
	ok, ra := th.Allowed("yet-another-unknown", "203.0.113.7")
	if ok || ra != time.Minute {
		t.Fatalf("Allowed after 50 names from one address = %v, %v; want false, 1m", ok, ra)
	}
	if ok, _ := th.Allowed("no-such-user-0", "198.51.100.1"); !ok {
		t.Fatal("a single failure of a user blocked it from another address")
	}
	clk.Advance(time.Minute)
	if ok, _ := th.Allowed("yet-another-unknown", "203.0.113.7"); !ok {
		t.Fatal("address still blocked after its window")
	}
}

func TestThrottleUnknownUserLikeKnown(t *testing.T) {
	// The throttle has no user store: any name is a key, counted the same.
	lim := ThrottleLimits{UserFailures: 2, UserWindow: time.Minute}
	for _, name := range []string{"alice", "ghost-who-does-not-exist", ""} {
		th := NewThrottle(lim, newFakeClock().Now)
		th.Fail(name, "a1")
		th.Fail(name, "a2")
		if ok, ra := th.Allowed(name, "a3"); ok || ra != time.Minute {
			t.Errorf("%q: Allowed = %v, %v; want false, 1m", name, ok, ra)
		}
	}
}

func TestThrottleDisabledCounter(t *testing.T) {
	th := NewThrottle(ThrottleLimits{UserFailures: -1, AddressFailures: 2}, newFakeClock().Now)
	for i := range 100 {
		th.Fail("alice", fmt.Sprint("addr", i))
	}
	if ok, _ := th.Allowed("alice", "fresh"); !ok {
		t.Fatal("disabled user counter blocked")
	}
	if n := th.users.tracked(); n != 0 {
		t.Fatalf("disabled user counter tracks %d keys", n)
	}
	th.Fail("bob", "x")
	th.Fail("bob", "x")
	if ok, _ := th.Allowed("carol", "x"); ok {
		t.Fatal("address counter not enforced")
	}
}

func TestThrottleMemoryBounded(t *testing.T) {
	t.Run("cap evicts least recently failed", func(t *testing.T) {
		clk := newFakeClock()
		th := NewThrottle(ThrottleLimits{UserFailures: 1, UserWindow: time.Hour, AddressFailures: 1000}, clk.Now)
		th.users.maxKeys = 3
		for _, u := range []string{"u0", "u1", "u2", "u3", "u4"} {
			th.Fail(u, "a")
			clk.Advance(time.Second)
		}
		if n := th.users.tracked(); n != 3 {
			t.Fatalf("tracked users = %d, want cap 3", n)
		}
		for u, blocked := range map[string]bool{"u0": false, "u1": false, "u2": true, "u3": true, "u4": true} {
			if ok, _ := th.Allowed(u, "b"); ok == blocked {
				t.Errorf("%s allowed = %v, want %v", u, ok, !blocked)
			}
		}
	})
	t.Run("cap evicts expired first", func(t *testing.T) {
		clk := newFakeClock()
		th := NewThrottle(ThrottleLimits{UserFailures: 1, UserWindow: time.Minute, AddressFailures: 1000}, clk.Now)
		th.users.maxKeys = 2
		th.Fail("old", "a")
		clk.Advance(30 * time.Second)
		th.Fail("young", "a")
		clk.Advance(31 * time.Second) // old expired
		th.Fail("new", "a")
		if ok, _ := th.Allowed("young", "b"); ok {
			t.Fatal("unexpired key evicted while an expired one was available")
		}
	})
	t.Run("expired state swept on use", func(t *testing.T) {
		clk := newFakeClock()
		th := NewThrottle(ThrottleLimits{UserWindow: time.Minute, AddressWindow: time.Minute}, clk.Now)
		for i := range 100 {
			th.Fail(fmt.Sprint("user", i), fmt.Sprint("addr", i))
		}
		if n := th.users.tracked() + th.addrs.tracked(); n != 200 {
			t.Fatalf("tracked = %d, want 200", n)
		}
		clk.Advance(time.Minute)
		for range 2 { // sweepBatch keys per table per call
			th.Allowed("x", "y")
		}
		if n := th.users.tracked() + th.addrs.tracked(); n != 0 {
			t.Fatalf("tracked after window = %d, want 0", n)
		}
	})
	t.Run("per-key log bounded by limit", func(t *testing.T) {
		th := NewThrottle(ThrottleLimits{UserFailures: 5}, newFakeClock().Now)
		for range 1000 {
			th.Fail("alice", "a")
		}
		if n := len(th.users.rec("alice").times); n != 5 {
			t.Fatalf("alice keeps %d failure times, want 5", n)
		}
	})
	t.Run("long keys hashed", func(t *testing.T) {
		th := NewThrottle(ThrottleLimits{UserFailures: 1}, newFakeClock().Now)
		long := strings.Repeat("x", 1<<20)
		th.Fail(long+"1", "a")
		th.Fail(long+"2", "b")
		for _, k := range th.users.keys() {
			if len(k) > maxKeyBytes {
				t.Fatalf("stored a %d-byte key", len(k))
			}
		}
		if ok, _ := th.Allowed(long+"1", "c"); ok {
			t.Fatal("long name not throttled")
		}
		if ok, _ := th.Allowed(long+"3", "c"); !ok {
			t.Fatal("distinct long names share a counter")
		}
	})
}

func TestThrottleConcurrent(t *testing.T) {
	clk := newFakeClock()
	th := NewThrottle(ThrottleLimits{UserFailures: 5, UserWindow: time.Minute, AddressFailures: 200, AddressWindow: time.Minute}, clk.Now)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				user := fmt.Sprint("user", g, "-", i%10)
				th.Allowed(user, "10.0.0.1")
				th.Fail(user, "10.0.0.1")
				if i%17 == 0 {
					th.Succeed(user)
				}
			}
		}()
	}
	wg.Wait()
	// 400 failures from one address with limit 200: blocked for a minute.
	if ok, ra := th.Allowed("someone", "10.0.0.1"); ok || ra != time.Minute {
		t.Fatalf("Allowed after concurrent failures = %v, %v; want false, 1m", ok, ra)
	}
	clk.Advance(time.Minute)
	if ok, _ := th.Allowed("someone", "10.0.0.1"); !ok {
		t.Fatal("still blocked after the window")
	}
}

// The lock-free reads answer like the locked ones when many keys share
// shards and filter slots: every failing name is blocked, every clean
// one allowed, Succeed clears exactly its name, and the atomic counts
// agree with the tables.
func TestThrottleShardsAndSlots(t *testing.T) {
	th := NewThrottle(ThrottleLimits{UserFailures: 1, UserWindow: time.Hour, AddressFailures: -1}, newFakeClock().Now)
	const n = 20_000 // more than the filter's slots: they collide
	for i := range n {
		th.Fail(fmt.Sprint("bad-", i), "a")
	}
	for i := range n {
		if ok, _ := th.Allowed(fmt.Sprint("bad-", i), "b"); ok {
			t.Fatalf("bad-%d allowed", i)
		}
		if ok, _ := th.Allowed(fmt.Sprint("good-", i), "b"); !ok {
			t.Fatalf("good-%d blocked", i)
		}
	}
	for i := 0; i < n; i += 2 {
		th.Succeed(fmt.Sprint("bad-", i))
		th.Succeed(fmt.Sprint("good-", i)) // no-op
	}
	for i := range n {
		if ok, _ := th.Allowed(fmt.Sprint("bad-", i), "b"); ok != (i%2 == 0) {
			t.Fatalf("bad-%d allowed = %v after Succeed of the even ones", i, ok)
		}
	}
	checkCounts(t, &th.users, n/2)
	checkCounts(t, &th.addrs, 0)
}

// checkCounts verifies a table's atomic counts against its maps.
func checkCounts(t *testing.T, ft *failTable, want int) {
	t.Helper()
	var slots int64
	for i := range ft.shards {
		sh := &ft.shards[i]
		for j := range sh.slots {
			slots += int64(sh.slots[j].Load())
		}
		exp := int64(math.MaxInt64)
		if f := sh.lru.Front(); f != nil {
			r := f.Value.(*failRecord)
			exp = r.times[len(r.times)-1] + ft.window
		}
		if got := sh.expiry.Load(); got != exp {
			t.Errorf("shard %d: expiry %d, want %d", i, got, exp)
		}
	}
	if keys := len(ft.keys()); ft.tracked() != keys || slots != int64(keys) || keys != want {
		t.Errorf("tracked %d, slot counts %d, keys %d; want %d", ft.tracked(), slots, keys, want)
	}
}

// Failures of new keys from many goroutines on a full table evict the
// least recently failed keys: the table stays at its cap (give or take
// one key per concurrent caller) and its counts stay consistent.
func TestThrottleConcurrentEviction(t *testing.T) {
	clk := newFakeClock()
	th := NewThrottle(ThrottleLimits{UserFailures: 2, UserWindow: time.Hour, AddressFailures: 1000, AddressWindow: time.Hour}, clk.Now)
	th.users.maxKeys = 100
	const goroutines = 8
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range 500 {
				user := fmt.Sprint("g", g, "-", i)
				th.Fail(user, fmt.Sprint("10.0.", g, ".", i%8))
				th.Allowed(user, "10.9.9.9")
				if i%7 == 0 {
					th.Succeed(user)
				}
			}
		})
	}
	wg.Wait()
	if n := th.users.tracked(); n > 100+goroutines || n < 100-goroutines*2 {
		t.Fatalf("tracked %d users, cap 100", n)
	}
	checkCounts(t, &th.users, th.users.tracked())
	checkCounts(t, &th.addrs, goroutines*8)
}

// fakeShared is a SharedCounts in memory: what etcd is to several
// instances, with the fixed window storage.FailureCounts keeps.
type fakeShared struct {
	mu       sync.Mutex
	clk      *fakeClock
	counts   map[string]int
	until    map[string]time.Time
	streaks  map[string]int  // consecutive failures
	disabled map[string]bool // users a failure disabled
	fails    int             // Fail calls
	clears   int             // Clear calls
	lock     int             // the lock limit of the last Fail
	err      error           // returned by Fail and Clear when set
}

func newFakeShared(clk *fakeClock) *fakeShared {
	return &fakeShared{clk: clk, counts: map[string]int{}, until: map[string]time.Time{},
		streaks: map[string]int{}, disabled: map[string]bool{}}
}

func (f *fakeShared) Holds(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, c := f.counts[name]
	_, s := f.streaks[name]
	return c || s
}

func (f *fakeShared) Count(name string) (int, time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.clk.Now().Before(f.until[name]) {
		return 0, time.Time{}
	}
	return f.counts[name], f.until[name]
}

func (f *fakeShared) Fail(_ context.Context, name, _ string, window time.Duration, lock, disable int) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fails++
	f.lock = lock
	if f.err != nil {
		return false, f.err
	}
	now := f.clk.Now()
	if !now.Before(f.until[name]) {
		f.counts[name], f.until[name] = 0, now.Add(window)
	}
	f.counts[name]++
	if disable <= 0 || f.disabled[name] {
		return false, nil
	}
	f.streaks[name]++
	if f.streaks[name] < disable {
		return false, nil
	}
	delete(f.streaks, name)
	f.disabled[name] = true
	return true, nil
}

func (f *fakeShared) Clear(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clears++
	if f.err != nil {
		return f.err
	}
	delete(f.counts, name)
	delete(f.until, name)
	delete(f.streaks, name)
	return nil
}

// TestThrottleSharedAcrossInstances: two throttles (two instances) on
// one shared count: failures spread over both block the user on both,
// with Retry-After until the shared window ends, from any address; a
// success on one clears it for both; other users are unaffected.
func TestThrottleSharedAcrossInstances(t *testing.T) {
	clk := newFakeClock()
	shared := newFakeShared(clk)
	lim := ThrottleLimits{UserFailures: 4, UserWindow: 10 * time.Minute, AddressFailures: 1000, AddressWindow: time.Minute}
	a, b := NewThrottle(lim, clk.Now), NewThrottle(lim, clk.Now)
	a.ShareUserCounts(shared, nil)
	b.ShareUserCounts(shared, nil)
	const user = `acme\alice`
	a.Fail(user, "10.0.0.1")
	clk.Advance(time.Minute)
	b.Fail(user, "10.0.0.2")
	a.Fail(user, "10.0.0.3")
	for _, th := range []*Throttle{a, b} {
		if ok, _ := th.Allowed(user, "10.0.0.9"); !ok {
			t.Fatal("blocked after 3 of 4 shared failures")
		}
	}
	clk.Advance(30 * time.Second)
	b.Fail(user, "10.0.0.4")
	// Neither instance saw 4 failures itself; together they did. The
	// window started with the first failure, 90 s ago.
	for i, th := range []*Throttle{a, b} {
		if ok, ra := th.Allowed(user, "10.0.0.9"); ok || ra != 10*time.Minute-90*time.Second {
			t.Errorf("instance %d after 4 shared failures: Allowed = %v, %v; want false, %v", i, ok, ra, 10*time.Minute-90*time.Second)
		}
		if ok, _ := th.Allowed(`acme\bob`, "10.0.0.9"); !ok {
			t.Errorf("instance %d: another user is blocked", i)
		}
	}
	// A success (on a, after the lock: an admin reset would look alike)
	// clears the shared count for b too.
	a.Succeed(user)
	if ok, ra := b.Allowed(user, "10.0.0.9"); !ok {
		t.Errorf("b after a success on a: Allowed = false, %v; want true", ra)
	}
	// The window ends by itself.
	for range 4 {
		a.Fail(`acme\carol`, "10.0.0.5")
	}
	if ok, _ := b.Allowed(`acme\carol`, "10.0.0.9"); ok {
		t.Error("carol allowed on b after 4 failures on a")
	}
	clk.Advance(10 * time.Minute)
	if ok, ra := b.Allowed(`acme\carol`, "10.0.0.9"); !ok {
		t.Errorf("carol still blocked on b after the window: %v", ra)
	}
}

// TestThrottleSharedOnlySignInNames: names that stand for an address
// (an API key's, a token's: no backslash) stay per instance, as does
// everything when the user counter is disabled; a success with no shared
// count writes nothing.
func TestThrottleSharedOnlySignInNames(t *testing.T) {
	clk := newFakeClock()
	shared := newFakeShared(clk)
	lim := ThrottleLimits{UserFailures: 2, AddressFailures: 1000}
	a, b := NewThrottle(lim, clk.Now), NewThrottle(lim, clk.Now)
	a.ShareUserCounts(shared, nil)
	b.ShareUserCounts(shared, nil)
	for range 2 {
		a.Fail("api-key@10.0.0.1", "10.0.0.1")
	}
	if shared.fails != 0 {
		t.Errorf("an API key's throttle name went to the shared counts (%d writes)", shared.fails)
	}
	if ok, _ := a.Allowed("api-key@10.0.0.1", "10.0.0.1"); ok {
		t.Error("the local count of an API key name does not block")
	}
	if ok, _ := b.Allowed("api-key@10.0.0.1", "10.0.0.1"); !ok {
		t.Error("an API key name's count reached another instance")
	}
	b.Succeed(`acme\dave`)
	if shared.clears != 0 {
		t.Errorf("a success without failures cleared the shared count (%d writes)", shared.clears)
	}
	off := NewThrottle(ThrottleLimits{UserFailures: -1, AddressFailures: 1000}, clk.Now)
	off.ShareUserCounts(shared, nil)
	off.Fail(`acme\erin`, "10.0.0.1")
	if shared.fails != 0 {
		t.Error("a disabled user counter wrote a shared count")
	}
}

// TestThrottleSharedWriteFails: a failed shared write is reported and the
// instance's own count still blocks.
func TestThrottleSharedWriteFails(t *testing.T) {
	clk := newFakeClock()
	shared := newFakeShared(clk)
	shared.err = errors.New("etcd unreachable")
	var reported []error
	th := NewThrottle(ThrottleLimits{UserFailures: 2, AddressFailures: 1000}, clk.Now)
	th.ShareUserCounts(shared, func(err error) { reported = append(reported, err) })
	th.Fail(`acme\frank`, "10.0.0.1")
	th.Fail(`acme\frank`, "10.0.0.1")
	if len(reported) != 2 || !errors.Is(reported[0], shared.err) {
		t.Errorf("reported errors = %v; want the write error twice", reported)
	}
	if ok, _ := th.Allowed(`acme\frank`, "10.0.0.9"); ok {
		t.Error("the local count does not block when the shared write failed")
	}
}

// TestThrottleSharedClearedElsewhere: failures the shared count took are
// not also counted in the instance's own window, so a lockout cleared
// in the shared count (an administrator's clear, or a success, on any
// instance) stops this instance refusing at once, although every
// failure was made here.
func TestThrottleSharedClearedElsewhere(t *testing.T) {
	clk := newFakeClock()
	shared := newFakeShared(clk)
	lim := ThrottleLimits{UserFailures: 3, UserWindow: 10 * time.Minute, AddressFailures: 1000}
	a, b := NewThrottle(lim, clk.Now), NewThrottle(lim, clk.Now)
	a.ShareUserCounts(shared, nil)
	b.ShareUserCounts(shared, nil)
	const user = `acme\gina`
	for range 3 {
		a.Fail(user, "10.0.0.1")
	}
	if shared.lock != 3 {
		t.Errorf("the shared count was told lock limit %d, want 3", shared.lock)
	}
	for i, th := range []*Throttle{a, b} {
		if ok, _ := th.Allowed(user, "10.0.0.9"); ok {
			t.Fatalf("instance %d: allowed after 3 of 3 failures", i)
		}
	}
	if n := a.users.tracked(); n != 0 {
		t.Errorf("instance a tracks %d user names of its own although the shared count took every failure", n)
	}
	// Cleared elsewhere: b's administrator (a write a does not see but
	// through the shared count).
	if err := shared.Clear(context.Background(), user); err != nil {
		t.Fatal(err)
	}
	for i, th := range []*Throttle{a, b} {
		if ok, ra := th.Allowed(user, "10.0.0.9"); !ok {
			t.Errorf("instance %d: still refused (Retry-After %v) after the shared count was cleared", i, ra)
		}
	}
	// Forget drops what the instance's own window holds (failures the
	// shared count could not take).
	shared.err = errors.New("etcd unreachable")
	for range 3 {
		a.Fail(user, "10.0.0.1")
	}
	if ok, _ := a.Allowed(user, "10.0.0.9"); ok {
		t.Fatal("the instance's own count does not block while the shared writes fail")
	}
	a.Forget(user)
	if ok, _ := a.Allowed(user, "10.0.0.9"); !ok {
		t.Error("still refused after Forget")
	}
}

// TestThrottlePermanentLockout: UserDisableFailures is passed on with
// every shared failure; the failure that disables the user is reported
// to OnUserDisabled once, with the name; a success clears consecutive
// failures even when no count is running (Holds); without shared counts
// or with it off nothing is disabled.
func TestThrottlePermanentLockout(t *testing.T) {
	clk := newFakeClock()
	shared := newFakeShared(clk)
	lim := ThrottleLimits{UserFailures: 3, UserWindow: 10 * time.Minute, AddressFailures: 1000, UserDisableFailures: 5}
	th := NewThrottle(lim, clk.Now)
	th.ShareUserCounts(shared, nil)
	var disabled []string
	th.OnUserDisabled(func(user string) { disabled = append(disabled, user) })
	const user = `acme\hank`
	for range 3 {
		th.Fail(user, "10.0.0.1")
	}
	if ok, _ := th.Allowed(user, "10.0.0.9"); ok {
		t.Fatal("not locked after 3 failures")
	}
	clk.Advance(10 * time.Minute) // the temporary lockout ends; the streak does not
	th.Fail(user, "10.0.0.1")
	if len(disabled) != 0 {
		t.Fatalf("disabled after 4 consecutive failures: %v", disabled)
	}
	th.Fail(user, "10.0.0.1")
	if len(disabled) != 1 || disabled[0] != user {
		t.Fatalf("after 5 consecutive failures OnUserDisabled got %v, want [%s]", disabled, user)
	}

	// A success resets the streak, even with no count running.
	const other = `acme\ivy`
	for range 2 {
		th.Fail(other, "10.0.0.2")
	}
	clk.Advance(10 * time.Minute)
	th.Succeed(other)
	if shared.streaks[other] != 0 || shared.clears == 0 {
		t.Errorf("after a success: streak %d (clears %d), want 0", shared.streaks[other], shared.clears)
	}
	for range 4 {
		th.Fail(other, "10.0.0.2")
		clk.Advance(10 * time.Minute)
	}
	if len(disabled) != 1 {
		t.Errorf("4 failures after a success disabled: %v", disabled)
	}

	// Off: nothing is passed on.
	off := NewThrottle(ThrottleLimits{UserFailures: 3, AddressFailures: 1000}, clk.Now)
	offShared := newFakeShared(clk)
	off.ShareUserCounts(offShared, nil)
	off.OnUserDisabled(func(user string) { disabled = append(disabled, user) })
	for range 10 {
		off.Fail(`acme\jo`, "10.0.0.3")
		clk.Advance(10 * time.Minute)
	}
	if len(disabled) != 1 || len(offShared.disabled) != 0 {
		t.Errorf("with the permanent lockout off: disabled %v", offShared.disabled)
	}
}
