package storage

// These tests are internal: they inspect the cache's items (mod and create
// revisions), drive relist/watch through a wrapped etcd client, and build
// stores whose cache lags etcd. They cannot use storagetest (it imports
// this package), so they start the same embedded etcd themselves.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func cacheTestCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// patience bounds every wait for a condition in these tests: generous,
// so a loaded machine is not mistaken for a bug.
const patience = 30 * time.Second

// waitUntil polls cond until it holds, failing the test if it does not
// within patience.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not so within %s", what, patience)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// startEtcd starts an embedded etcd like storagetest.Etcd.
func startEtcd(t testing.TB) string {
	t.Helper()
	e, err := StartEmbedded(t.TempDir(), 0, 0)
	if err != nil {
		t.Fatalf("start embedded etcd: %v", err)
	}
	t.Cleanup(e.Close)
	return e.Endpoint
}

// openStore opens a Store like storagetest.Open.
func openStore(t testing.TB, endpoint string) *Store {
	t.Helper()
	return openStoreTimeout(t, endpoint, 5*time.Second)
}

func openStoreTimeout(t testing.TB, endpoint string, timeout time.Duration) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Open(ctx, Options{Endpoints: []string{endpoint}, Timeout: timeout, Logger: quietLog()})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func newClient(t testing.TB, endpoint string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// kvState is a key as etcd or the cache holds it.
type kvState struct {
	value       string
	mod, create int64
}

func etcdState(t testing.TB, c *clientv3.Client, prefix string) (map[string]kvState, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatalf("etcd get: %v", err)
	}
	out := make(map[string]kvState, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out[strings.TrimPrefix(string(kv.Key), prefix)] = kvState{string(kv.Value), kv.ModRevision, kv.CreateRevision}
	}
	return out, resp.Header.Revision
}

func cacheState(c *Cache) map[string]kvState {
	tree := c.snap.Load().tree
	out := make(map[string]kvState, tree.Len())
	tree.Scan(func(it item) bool {
		out[it.key] = kvState{it.value, it.mod, it.create}
		return true
	})
	return out
}

// compareCache waits until the cache has reached etcd's revision, then
// compares every key, value, mod and create revision.
func compareCache(t testing.TB, c *Cache, client *clientv3.Client, prefix string) {
	t.Helper()
	want, rev := etcdState(t, client, prefix)
	if _, err := c.waitFor(cacheTestCtx(t), rev); err != nil {
		t.Fatalf("cache did not reach revision %d (at %d): %v", rev, c.Rev(), err)
	}
	got := cacheState(c)
	var diffs []string
	for k, w := range want {
		if g, ok := got[k]; !ok {
			diffs = append(diffs, "missing "+k)
		} else if g != w {
			diffs = append(diffs, fmt.Sprintf("%s: cache %+v, etcd %+v", k, g, w))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, "stale "+k)
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		if len(diffs) > 30 {
			diffs = append(diffs[:30], fmt.Sprintf("... %d differences in all", len(diffs)))
		}
		t.Errorf("cache differs from etcd at revision %d:\n  %s", rev, strings.Join(diffs, "\n  "))
	}
}

// fakeClock is a clock tests move by hand.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestCacheReadyAndRev(t *testing.T) {
	// The cache judges its readiness by an injected clock, so idling far
	// longer than the timeout costs no real time and no real delay can
	// make the test fail.
	const timeout = 2 * time.Second
	clock := newFakeClock()
	ctx := cacheTestCtx(t)
	octx, cancel := context.WithTimeout(ctx, patience)
	defer cancel()
	s, err := open(octx, Options{Endpoints: []string{startEtcd(t)}, Timeout: timeout, Logger: quietLog()}, clock.Now)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(s.Close)
	if !s.Ready() {
		t.Fatalf("Ready() = false right after Open")
	}
	r0 := s.Rev()
	if r0 <= 0 {
		t.Errorf("Rev() = %d after Open, want the listed revision", r0)
	}
	rev1, err := s.CreateAccount(ctx, "acme", Account{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rev1 <= r0 || s.Rev() < rev1 {
		t.Errorf("after a write at %d: Rev() = %d (was %d); want it to reach the write", rev1, s.Rev(), r0)
	}
	_, rev2, err := s.PutItem(ctx, "acme", KindUser, "alice", CreateOnly, func(string, bool) (string, error) { return "x", nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rev2 <= rev1 || s.Rev() < rev2 {
		t.Errorf("Rev() = %d after writes at %d and %d", s.Rev(), rev1, rev2)
	}
	// A write through the bare client advances the cache too, via the watch.
	if _, err := s.Client().Put(ctx, s.Prefix()+"t/acme/role/r", "r"); err != nil {
		t.Fatal(err)
	}
	_, rev := etcdState(t, s.Client(), s.Prefix())
	waitUntil(t, fmt.Sprintf("the watch advances the cache to etcd's revision %d", rev), func() bool { return s.Rev() >= rev })

	// Progress notifications keep it ready while nothing is written, for
	// three times the timeout, and advance nothing they should not: at
	// each step of half the timeout, the watch reports again.
	idleFrom := s.Rev()
	for range 6 {
		clock.Advance(timeout / 2)
		now := clock.Now()
		waitUntil(t, "a progress notification", func() bool { return !s.cache.snap.Load().heard.Before(now) })
		if !s.Ready() {
			t.Fatalf("Ready() = false on an idle, healthy store")
		}
	}
	if s.Rev() != idleFrom {
		t.Errorf("Rev() moved from %d to %d with nothing written", idleFrom, s.Rev())
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping failed on a healthy store: %v", err)
	}
	if err := s.Read(ctx, 0, func(View) error { return nil }); err != nil {
		t.Errorf("Read on an idle store: %v", err)
	}

	// With the watch held still (it cannot apply anything) and the clock
	// past the timeout, the cache is known to be stale: not ready, and
	// reads fail at once. Let go, and it recovers by itself.
	s.cache.mu.Lock()
	clock.Advance(2 * timeout)
	ready := s.Ready()
	readErr := s.Read(ctx, 0, func(View) error { return nil })
	s.cache.mu.Unlock()
	if ready {
		t.Errorf("Ready() = true with no word from etcd for twice the timeout")
	}
	if !errors.Is(readErr, ErrUnavailable) {
		t.Errorf("Read on a stale cache = %v, want ErrUnavailable", readErr)
	}
	waitUntil(t, "ready again once the watch is heard from", s.Ready)
	if err := s.Read(ctx, 0, func(View) error { return nil }); err != nil {
		t.Errorf("Read after recovery: %v", err)
	}
	compareCache(t, s.cache, s.Client(), s.Prefix())
}

// churn keeps changing keys under prefix through client until stop: puts,
// overwrites and deletes of a small key space.
func churn(t *testing.T, client *clientv3.Client, prefix string, stop *atomic.Bool, wg *sync.WaitGroup, seed int) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			key := fmt.Sprintf("%st/churn%d/user/u%03d", prefix, seed, i%37)
			var err error
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if i%5 == 4 {
				_, err = client.Delete(ctx, key)
			} else {
				_, err = client.Put(ctx, key, fmt.Sprint(i))
			}
			cancel()
			if err != nil {
				t.Errorf("churn: %v", err)
				return
			}
		}
	}()
}

// TestCacheRebuildsAfterCompaction: etcd is compacted past the cache's
// revision, repeatedly, while keys keep changing; the cache must end up
// equal to etcd.
func TestCacheRebuildsAfterCompaction(t *testing.T) {
	s := openStore(t, startEtcd(t))
	ctx := cacheTestCtx(t)
	for i := range 50 {
		if _, err := s.Client().Put(ctx, fmt.Sprintf("%sacct/a%02d", s.Prefix(), i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	churn(t, s.Client(), s.Prefix(), &stop, &wg, 1)
	churn(t, s.Client(), s.Prefix(), &stop, &wg, 2)
	etcdRev := func() int64 {
		resp, err := s.Client().Get(ctx, "compact-probe")
		if err != nil {
			t.Fatalf("etcd get: %v", err)
		}
		return resp.Header.Revision
	}
	compactions := 0
	var compacted int64
	for range 10 {
		// Let the cache recover from the last compaction (it relists)
		// and the churn move on.
		waitUntil(t, "the cache catches up after a compaction", func() bool { return s.Rev() >= compacted })
		from := etcdRev()
		waitUntil(t, "the churn writes", func() bool { return etcdRev() > from+10 })
		// Hold the cache still (its watch cannot apply events) while
		// the churn moves etcd ahead, then compact at etcd's revision:
		// past everything the cache has applied.
		s.cache.mu.Lock()
		cacheRev := s.cache.rev
		waitUntil(t, "the churn moves etcd past the held cache", func() bool { return etcdRev() > cacheRev+10 })
		compacted = etcdRev()
		_, err := s.Client().Compact(ctx, compacted)
		compactions++
		s.cache.mu.Unlock()
		if err != nil {
			t.Fatalf("compact: %v", err)
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d compactions", compactions)
	if compactions == 0 {
		t.Fatalf("never compacted past the cache's revision")
	}
	compareCache(t, s.cache, s.Client(), s.Prefix())
	if !s.Ready() {
		t.Errorf("not ready after compactions")
	}
	// Reads and guarded writes still work.
	if _, err := s.CreateAccount(ctx, "after", Account{}, nil); err != nil {
		t.Errorf("write after compactions: %v", err)
	}
}

// hookedKV runs hook once, after the cache's first list has read etcd
// (the last of the streams a list reads, one per cached segment) and
// before the cache sees the end of it. gets counts the lists.
type hookedKV struct {
	clientv3.KV
	streams atomic.Int64
	gets    atomic.Int64
	once    sync.Once
	hook    func(listRev int64)
}

func (k *hookedKV) GetStream(ctx context.Context, key string, opts ...clientv3.OpOption) (clientv3.GetStreamChan, error) {
	in, err := k.KV.GetStream(ctx, key, opts...)
	if err != nil {
		return nil, err
	}
	out := make(chan clientv3.RangeStreamResponse, 1)
	go func() {
		defer close(out)
		var held []clientv3.RangeStreamResponse
		var rev int64
		failed := false
		for r := range in {
			if r.Err() != nil {
				failed = true
			} else if r.Header != nil {
				rev = r.Header.Revision
			}
			held = append(held, r)
		}
		if !failed && k.streams.Add(1)%int64(len(cachedSegments(""))) == 0 {
			k.gets.Add(1)
			k.once.Do(func() { k.hook(rev) })
		}
		for _, r := range held {
			out <- r
		}
	}()
	return out, nil
}

// countedWatcher counts watches and the compacted responses they get.
type countedWatcher struct {
	clientv3.Watcher
	watches, compacted atomic.Int64
}

func (w *countedWatcher) Watch(ctx context.Context, key string, opts ...clientv3.OpOption) clientv3.WatchChan {
	w.watches.Add(1)
	in := w.Watcher.Watch(ctx, key, opts...)
	out := make(chan clientv3.WatchResponse)
	go func() {
		defer close(out)
		for resp := range in {
			if resp.CompactRevision != 0 {
				w.compacted.Add(1)
			}
			select {
			case out <- resp:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// TestCacheRelistsWhenWatchStartsCompacted makes the cache's watch start
// at a compacted revision: between the list and the watch, keys change
// and etcd is compacted past the list's revision. The cache must notice,
// list again and end up equal to etcd, including the keys changed in the
// gap.
func TestCacheRelistsWhenWatchStartsCompacted(t *testing.T) {
	endpoint := startEtcd(t)
	other := newClient(t, endpoint)
	const prefix = "/gatehouse/"
	ctx := cacheTestCtx(t)
	for i := range 20 {
		if _, err := other.Put(ctx, fmt.Sprintf("%st/acme/user/u%02d", prefix, i), "old"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := other.Put(ctx, prefix+"acct/acme", Account{}.Encode()); err != nil {
		t.Fatal(err)
	}

	client := newClient(t, endpoint)
	kv := &hookedKV{KV: client.KV}
	w := &countedWatcher{Watcher: client.Watcher}
	client.KV, client.Watcher = kv, w
	var gapRev atomic.Int64
	kv.hook = func(listRev int64) {
		hctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for i := range 20 {
			key := fmt.Sprintf("%st/acme/user/u%02d", prefix, i)
			var err error
			if i%2 == 0 {
				_, err = other.Delete(hctx, key)
			} else {
				_, err = other.Put(hctx, key, "new")
			}
			if err != nil {
				t.Errorf("gap write: %v", err)
			}
		}
		resp, err := other.Put(hctx, prefix+"t/acme/role/added-in-gap", "r")
		if err != nil {
			t.Errorf("gap write: %v", err)
			return
		}
		gapRev.Store(resp.Header.Revision)
		if _, err := other.Compact(hctx, resp.Header.Revision); err != nil {
			t.Errorf("compact: %v", err)
		}
	}

	c := newCache(client, prefix, 5*time.Second, quietLog())
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.run(runCtx) }()
	defer func() { cancel(); <-done }()

	if _, err := c.waitFor(ctx, 0); err != nil {
		t.Fatalf("first list: %v", err)
	}
	if gapRev.Load() == 0 {
		t.Fatalf("hook did not run")
	}
	compareCache(t, c, other, prefix)
	if got := w.compacted.Load(); got == 0 {
		t.Errorf("the watch never reported compaction (%d watches) — test setup did not work", w.watches.Load())
	}
	// The relist is done (compareCache saw its keys); the new watch starts
	// right after it.
	waitUntil(t, "a new watch after the relist", func() bool { return w.watches.Load() >= 2 })
	if kv.gets.Load() < 2 || w.watches.Load() < 2 {
		t.Errorf("%d lists and %d watches: want a relist and a new watch after compaction", kv.gets.Load(), w.watches.Load())
	}
	func() {
		v := c.snap.Load().view
		if v.Has("t/acme/user/u00") || !v.Has("t/acme/role/added-in-gap") {
			t.Errorf("cache misses the changes made between list and watch")
		}
		if v.KindRev("acme", "") < gapRev.Load() {
			t.Errorf("KindRev(acme, record) = %d after a relist that saw changes at %d: memos would not be dropped", v.KindRev("acme", ""), gapRev.Load())
		}
	}()

	// The new watch works: later writes arrive.
	if _, err := other.Put(ctx, prefix+"t/acme/group/later", "g"); err != nil {
		t.Fatal(err)
	}
	compareCache(t, c, other, prefix)
}

// TestCacheListsInPages: more keys than one list page (10000).
func TestCacheListsInPages(t *testing.T) {
	endpoint := startEtcd(t)
	client := newClient(t, endpoint)
	ctx := cacheTestCtx(t)
	const n = 10050
	ops := make([]clientv3.Op, 0, n)
	for i := range n {
		ops = append(ops, clientv3.OpPut(fmt.Sprintf("/gatehouse/t/big/user/u%05d", i), fmt.Sprint(i)))
	}
	if _, err := client.Txn(ctx).Then(ops...).Commit(); err != nil {
		t.Fatal(err)
	}
	// Keys outside the prefix must stay out of the cache.
	for _, k := range []string{"/gatehouse", "/gatehouse0/x", "/gatehousf", "/other/t/x"} {
		if _, err := client.Put(ctx, k, "outside"); err != nil {
			t.Fatal(err)
		}
	}
	s := openStore(t, endpoint)
	compareCache(t, s.cache, client, s.Prefix())
	err := s.Read(ctx, 0, func(v View) error {
		if got := v.CountRange(ItemRange("big", KindUser)); got != n {
			t.Errorf("Count = %d, want %d", got, n)
		}
		names, count := v.PageRange(ItemRange("big", KindUser), 9995, 10)
		want := []string{"u09995", "u09996", "u09997", "u09998", "u09999", "u10000", "u10001", "u10002", "u10003", "u10004"}
		if count != n || !slices.Equal(names, want) {
			t.Errorf("Page across the list boundary = %q, %d", names, count)
		}
		if v.s.tree.Len() != n {
			t.Errorf("cache holds %d keys, want %d (nothing outside the prefix)", v.s.tree.Len(), n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// ---------------------------------------------------------------------
// Writes built from a lagging cache.
//
// A store's cache always lags etcd a little: between another writer's
// commit and the watch event, a write is built from a view that does not
// show it, and only the compare guards stand between that view and a
// wrong commit. laggingStore makes that moment last: its cache is listed
// once and then stops following etcd (it stays "ready"). Each test
// commits a competing write through a live store after the lagging
// store's list, then runs the operation through the lagging store and
// checks etcd. Whether the guards fail (correct) or not, the lagging
// store's Update then times out waiting for its frozen cache and returns
// ErrUnavailable; only etcd's content tells the outcomes apart.
// ---------------------------------------------------------------------

func laggingStore(t testing.TB, live *Store) *Store {
	t.Helper()
	c := newCache(live.client, live.prefix, 300*time.Millisecond, quietLog())
	if _, err := c.relist(cacheTestCtx(t)); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	heard := c.heard
	c.now = func() time.Time { return heard }
	c.mu.Unlock()
	return &Store{client: live.client, prefix: live.prefix, timeout: 5 * time.Second, cache: c}
}

func etcdKeysOf(t testing.TB, s *Store, rel string) []string {
	t.Helper()
	st, _ := etcdState(t, s.client, s.prefix+rel)
	var out []string
	for k := range st {
		out = append(out, rel+k)
	}
	sort.Strings(out)
	return out
}

func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func setValue(v string) func(string, bool) (string, error) {
	return func(string, bool) (string, error) { return v, nil }
}

func TestLaggingView(t *testing.T) {
	live := openStore(t, startEtcd(t))
	ctx := cacheTestCtx(t)
	logErr := func(t *testing.T, what string, err error) {
		if err != nil && !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s through the lagging store: unexpected %v", what, err)
		}
	}

	// Control: the harness itself. A name created after the lagging
	// store's list is protected by its guard.
	t.Run("CreateOnly sees a concurrent create", func(t *testing.T) {
		_, err := live.CreateAccount(ctx, "ctl", Account{}, nil)
		mustOK(t, err)
		lag := laggingStore(t, live)
		_, _, err = live.PutItem(ctx, "ctl", KindUser, "alice", CreateOnly, setValue("live"), nil)
		mustOK(t, err)
		_, _, err = lag.PutItem(ctx, "ctl", KindUser, "alice", CreateOnly, setValue("lagging"), nil)
		logErr(t, "PutItem", err)
		st, _ := etcdState(t, live.client, live.prefix+ItemKey("ctl", KindUser, "alice"))
		if st[""].value != "live" {
			t.Errorf("the lagging store overwrote a user created after its view: %q", st[""].value)
		}
	})

	// DeleteAccount(P) built from a view where X is P's child, committed
	// after X moved under Q: it must not delete X (now outside the
	// subtree), nor leave t/Q/child/X behind.
	t.Run("DeleteAccount after a descendant moved out", func(t *testing.T) {
		for _, acc := range []struct{ name, parent string }{{"dm-root", ""}, {"dm-p", "dm-root"}, {"dm-x", "dm-p"}, {"dm-q", "dm-root"}} {
			_, err := live.CreateAccount(ctx, acc.name, Account{Parent: acc.parent}, nil)
			mustOK(t, err)
		}
		_, _, err := live.PutItem(ctx, "dm-x", KindUser, "u", CreateOnly, setValue("u"), nil)
		mustOK(t, err)
		lag := laggingStore(t, live)
		_, err = live.UpdateAccount(ctx, "dm-x", func(a *Account) { a.Parent = "dm-q" })
		mustOK(t, err)

		_, err = lag.DeleteAccount(ctx, "dm-p")
		logErr(t, "DeleteAccount", err)

		if keys := etcdKeysOf(t, live, AccountKey("dm-x")); len(keys) == 0 {
			t.Errorf("acct/dm-x was deleted although it had moved under dm-q before the delete committed")
		}
		if keys := etcdKeysOf(t, live, TenantRange("dm-x")); !slices.Contains(keys, ItemKey("dm-x", KindUser, "u")) {
			t.Errorf("dm-x's user was deleted with dm-p; dm-x keys left: %q", keys)
		}
		child := etcdKeysOf(t, live, ItemKey("dm-q", KindChild, "dm-x"))
		acct := etcdKeysOf(t, live, AccountKey("dm-x"))
		if len(child) == 1 && len(acct) == 0 {
			t.Errorf("dangling index t/dm-q/child/dm-x names a deleted account")
		}
	})

	// CreateAccount with a nil ceiling copies the parent's ceiling as its
	// view shows it. If the parent lost "b:*" before the create commits,
	// the child must not get it.
	t.Run("CreateAccount copies a ceiling entry removed meanwhile", func(t *testing.T) {
		_, err := live.CreateAccount(ctx, "cm-p", Account{}, []string{"a:*", "b:*"})
		mustOK(t, err)
		lag := laggingStore(t, live)
		_, err = live.SetRemove(ctx, Coll{Account: "cm-p", Kind: KindCeiling}, "b:*")
		mustOK(t, err)

		_, err = lag.CreateAccount(ctx, "cm-c", Account{Parent: "cm-p"}, nil)
		logErr(t, "CreateAccount", err)

		if got := etcdKeysOf(t, live, ItemRange("cm-c", KindCeiling)); slices.Contains(got, ItemKey("cm-c", KindCeiling, "b:*")) {
			t.Errorf("child ceiling %q holds b:*, which its parent lost before the child was created (parent: %q)",
				got, etcdKeysOf(t, live, ItemRange("cm-p", KindCeiling)))
		}
	})

	// LinkReplace(u, {t1, t2}) built from a view where u holds t1, after
	// t1 was removed: committing only "add t2" leaves u without t1,
	// which no serial order of the two requests produces.
	t.Run("LinkReplace keeps a member removed meanwhile", func(t *testing.T) {
		_, err := live.CreateAccount(ctx, "lm", Account{}, nil)
		mustOK(t, err)
		for _, it := range [][2]string{{KindUser, "u"}, {KindRole, "t1"}, {KindRole, "t2"}} {
			_, _, err := live.PutItem(ctx, "lm", it[0], it[1], CreateOnly, setValue("x"), nil)
			mustOK(t, err)
		}
		_, _, err = live.LinkAdd(ctx, "lm", UserRoles, "u", "t1", CreateOnly)
		mustOK(t, err)
		lag := laggingStore(t, live)
		_, err = live.LinkRemove(ctx, "lm", UserRoles, "u", "t1")
		mustOK(t, err)

		_, err = lag.LinkReplace(ctx, "lm", UserRoles, "u", []string{"t1", "t2"})
		logErr(t, "LinkReplace", err)

		got := etcdKeysOf(t, live, SubRange("lm", KindUserRole, "u"))
		if len(got) == 1 && got[0] == SubKey("lm", KindUserRole, "u", "t2") {
			t.Errorf("LinkReplace(u, [t1 t2]) committed after t1 was removed left u with only %q", got)
		}
	})

	t.Run("SetReplace keeps a member removed meanwhile", func(t *testing.T) {
		_, err := live.CreateAccount(ctx, "sm", Account{}, nil)
		mustOK(t, err)
		_, _, err = live.PutItem(ctx, "sm", KindUser, "u", CreateOnly, setValue("x"), nil)
		mustOK(t, err)
		attrs, prefix := Coll{Account: "sm", Kind: KindAttr, Owner: "u"}, SubRange("sm", KindAttr, "u")
		_, _, err = live.SetAdd(ctx, attrs, "t1", "v", CreateOnly)
		mustOK(t, err)
		lag := laggingStore(t, live)
		_, err = live.SetRemove(ctx, attrs, "t1")
		mustOK(t, err)

		_, err = lag.SetReplace(ctx, attrs, map[string]string{"t1": "v", "t2": "v"})
		logErr(t, "SetReplace", err)

		got := etcdKeysOf(t, live, prefix)
		if len(got) == 1 && got[0] == prefix+"t2" {
			t.Errorf("SetReplace({t1, t2}) committed after t1 was removed left only %q", got)
		}
	})

	// DeleteItem built before a membership was added must not leave the
	// new membership's other side behind (guarded by ExpectNoNew).
	t.Run("DeleteItem sees a membership added meanwhile", func(t *testing.T) {
		_, err := live.CreateAccount(ctx, "dim", Account{}, nil)
		mustOK(t, err)
		_, _, err = live.PutItem(ctx, "dim", KindUser, "u", CreateOnly, setValue("x"), nil)
		mustOK(t, err)
		_, _, err = live.PutItem(ctx, "dim", KindGroup, "g", CreateOnly, setValue("x"), nil)
		mustOK(t, err)
		lag := laggingStore(t, live)
		_, _, err = live.LinkAdd(ctx, "dim", GroupUsers, "g", "u", CreateOnly)
		mustOK(t, err)

		_, err = lag.DeleteItem(ctx, "dim", KindUser, "u")
		logErr(t, "DeleteItem", err)

		user := etcdKeysOf(t, live, ItemKey("dim", KindUser, "u"))
		gu := etcdKeysOf(t, live, SubKey("dim", KindGrpUser, "g", "u"))
		if len(user) == 0 && len(gu) != 0 {
			t.Errorf("user deleted but %q still lists it", gu)
		}
	})

	// Moving an account under an account that a concurrent write moved
	// beneath it must not make a cycle.
	t.Run("UpdateAccount sees a concurrent move", func(t *testing.T) {
		for _, acc := range []struct{ name, parent string }{{"cy-root", ""}, {"cy-a", "cy-root"}, {"cy-b", "cy-root"}} {
			_, err := live.CreateAccount(ctx, acc.name, Account{Parent: acc.parent}, nil)
			mustOK(t, err)
		}
		lag := laggingStore(t, live)
		_, err := live.UpdateAccount(ctx, "cy-b", func(a *Account) { a.Parent = "cy-a" })
		mustOK(t, err)

		_, err = lag.UpdateAccount(ctx, "cy-a", func(a *Account) { a.Parent = "cy-b" })
		logErr(t, "UpdateAccount", err)

		st, _ := etcdState(t, live.client, live.prefix+AccountsRange)
		a, _ := DecodeAccount(st["cy-a"].value)
		b, _ := DecodeAccount(st["cy-b"].value)
		if a.Parent == "cy-b" && b.Parent == "cy-a" {
			t.Errorf("cy-a and cy-b are each other's parent")
		}
	})
}
