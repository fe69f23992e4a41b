package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/btree"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/singleflight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// item is one cached key. Keys and values are strings so that readers can
// keep them without copying.
type item struct {
	key    string // relative to the store prefix
	value  string
	mod    int64 // etcd mod revision
	create int64 // etcd create revision
}

func itemLess(a, b item) bool { return a.key < b.key }

// newItem copies key and value into one allocation that both strings
// share: half the objects for the collector to mark, and a key's value
// next to it in memory.
func newItem(key, value []byte, mod, create int64) item {
	var b strings.Builder
	b.Grow(len(key) + len(value))
	b.Write(key)
	b.Write(value)
	kv := b.String()
	return item{key: kv[:len(key)], value: kv[len(key):], mod: mod, create: create}
}

// kindEntry is the last revision that changed one kind range of one
// account, and how many keys the range holds: a read of a range whose
// kind holds none in the account answers without searching the tree
// (most users have no passkeys, sessions or federation links, and a
// search of a large tree is a cache miss per level).
type kindEntry struct {
	kindKey
	rev int64
	n   int // keys in the range (0 for the synthetic decision kind)
}

func kindLess(a, b kindEntry) bool {
	if a.account != b.account {
		return a.account < b.account
	}
	return a.kind < b.kind
}

// snapshot is one immutable state of the cache. The watch goroutine
// publishes a new one after every watch response and every relist;
// readers load the latest with one atomic load and never lock. Its trees
// are copy-on-write copies (btree's Copy) of the watch goroutine's own:
// every node they share is frozen, since a mutation of either tree clones
// the nodes on its path first, so a snapshot may be read for as long as a
// reader likes while the cache moves on.
type snapshot struct {
	c           *Cache
	tree        *btree.BTreeG[item]
	kinds       *btree.BTreeG[kindEntry]
	index       *pointIndex   // the latest state by key hash, shared (pointindex.go)
	rev         int64         // every event up to rev is applied
	accountsRev int64         // last revision that changed any account record
	listed      bool          // a full list has been loaded
	heard       time.Time     // last time the watch said anything
	next        chan struct{} // closed once a newer snapshot is published
	view        View          // the plain view of this snapshot

	// Whether any key lies in the ranges every sign-in asks about, so
	// that a sign-in with none there seeks nothing: failure counts,
	// consecutive failures, journaled imports under way.
	anyFailure, anyStreak, anyImporting bool
}

// kindRev is the last revision that changed kind range k (0 if none).
func (s *snapshot) kindRev(k kindKey) int64 {
	e, _ := s.kinds.Get(kindEntry{kindKey: k})
	return e.rev
}

// kindEmpty reports whether kind range k holds no key.
func (s *snapshot) kindEmpty(k kindKey) bool {
	e, _ := s.kinds.Get(kindEntry{kindKey: k})
	return e.n == 0
}

// Cache is the watch-fed, read-only image of everything under the store
// prefix. It is safe for concurrent use: readers use published snapshots
// and never wait for the watch goroutine.
type Cache struct {
	client  *clientv3.Client
	prefix  string
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time // set before run starts; never changed after
	latest  *etcdMetrics     // told the revisions the watch names (nil: none)

	snap atomic.Pointer[snapshot] // the latest published state

	// The watch goroutine's working state, from which it publishes
	// snapshots. mu is held while it is changed (uncontended: only the
	// watch goroutine writes; tests hold it to freeze the cache). Readers
	// never take it.
	mu          sync.Mutex
	tree        *btree.BTreeG[item]
	kinds       *btree.BTreeG[kindEntry]
	index       *pointIndex // tree's latest state by key hash, for point reads
	rev         int64
	accountsRev int64
	listed      bool
	heard       time.Time
	dirty       bool // tree or kinds changed since the last publish

	filterMu    sync.Mutex
	filterMemo  map[string]*filterResult
	filterScans singleflight.Group
}

type filterResult struct {
	rev   int64
	names []string
}

func newCache(client *clientv3.Client, prefix string, timeout time.Duration, log *slog.Logger) *Cache {
	c := &Cache{
		client:     client,
		prefix:     prefix,
		timeout:    timeout,
		log:        log,
		now:        time.Now,
		tree:       newTree(),
		kinds:      newKinds(),
		index:      newPointIndex(0),
		filterMemo: map[string]*filterResult{},
	}
	c.mu.Lock()
	c.publishLocked()
	c.mu.Unlock()
	return c
}

// newTree and newKinds make trees without locks: each tree object is
// either the watch goroutine's own (one writer) or a published copy that
// is never written, so no tree is ever used by a writer and a reader at
// once; the nodes they share are never written after a Copy.
func newTree() *btree.BTreeG[item] {
	return btree.NewBTreeGOptions(itemLess, btree.Options{NoLocks: true, Degree: 64})
}

func newKinds() *btree.BTreeG[kindEntry] {
	return btree.NewBTreeGOptions(kindLess, btree.Options{NoLocks: true, Degree: 32})
}

// publishLocked makes the working state the latest snapshot and wakes
// everyone waiting on the previous one. c.mu must be held.
func (c *Cache) publishLocked() {
	old := c.snap.Load()
	s := &snapshot{c: c, rev: c.rev, accountsRev: c.accountsRev, listed: c.listed, heard: c.heard,
		index: c.index, next: make(chan struct{})}
	if old == nil || c.dirty {
		// O(1): both trees become copy-on-write from here on.
		s.tree, s.kinds = c.tree.Copy(), c.kinds.Copy()
		c.dirty = false
		s.anyFailure = treeHolds(s.tree, failurePrefix)
		s.anyStreak = treeHolds(s.tree, streakPrefix)
		s.anyImporting = treeHolds(s.tree, ImportingRange)
	} else {
		s.tree, s.kinds = old.tree, old.kinds
		s.anyFailure, s.anyStreak, s.anyImporting = old.anyFailure, old.anyStreak, old.anyImporting
	}
	s.view = View{&viewState{s: s}}
	c.snap.Store(s)
	if old != nil {
		close(old.next)
	}
}

// treeHolds reports whether tree holds any key in the range prefix.
func treeHolds(tree *btree.BTreeG[item], prefix string) bool {
	found := false
	tree.Ascend(item{key: prefix}, func(it item) bool {
		found = strings.HasPrefix(it.key, prefix)
		return false
	})
	return found
}

// run keeps the cache in step with etcd until ctx ends: list, watch,
// and list again after compaction or a lost watch.
func (c *Cache) run(ctx context.Context) {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		rev, err := c.relist(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("storage cache: list failed, retrying", "err", err, "in", backoff)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 2*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		err = c.watch(ctx, rev)
		if ctx.Err() == nil {
			c.log.Warn("storage cache: watch ended, relisting", "err", err)
		}
	}
}

// relistPage is how many keys a relist reads per request when etcd
// cannot stream a range (before etcd 3.7).
const relistPage = 5000

// relist reads the whole prefix at one revision and swaps it in.
//
// It streams the range (etcd's RangeStream: chunks of a few MiB at one
// pinned revision) rather than paging it with limited Gets: etcd counts
// the whole rest of the range for every limited Get, so paging a
// million keys costs a quadratic walk of etcd's index (27 s for a
// million users here). Servers without RangeStream are paged.
//
// Memory: a relist never holds two full copies. Until it ends no read is
// served (the snapshot it publishes first is not listed: reads wait, as
// they must on a cache that may be stale), so it drops the old tree at
// once and publishes an empty one; the old tree lives on only as long as
// reads already in flight hold their snapshots. Each chunk's decoded
// response is garbage once its keys and values are copied into the tree,
// so the peak is one tree plus a chunk or two.
func (c *Cache) relist(ctx context.Context) (int64, error) {
	c.mu.Lock()
	c.listed = false
	c.tree = newTree()
	c.index = newPointIndex(0)
	c.dirty = true
	c.publishLocked()
	c.mu.Unlock()
	c.clearFilterMemo()

	// The revision everything is read at: a one-key read's header.
	gctx, cancel := context.WithTimeout(ctx, c.timeout)
	head, err := c.client.Get(gctx, c.prefix)
	cancel()
	if err != nil {
		return 0, err
	}
	rev := head.Header.Revision
	tree := newTree()
	load := func(kvs []*mvccpb.KeyValue) {
		for _, kv := range kvs {
			tree.Load(newItem(kv.Key[len(c.prefix):], kv.Value, kv.ModRevision, kv.CreateRevision))
		}
	}
	for _, seg := range cachedSegments(c.prefix) {
		if err := c.listSegment(ctx, seg[0], seg[1], rev, load); err != nil {
			return 0, err
		}
	}

	// Every memo keyed by a kind revision changes after a relist:
	// conservative, never stale.
	kinds := newKinds()
	c.mu.Lock()
	c.kinds.Scan(func(e kindEntry) bool {
		kinds.Load(kindEntry{kindKey: e.kindKey, rev: rev})
		return true
	})
	c.mu.Unlock()
	countKinds(tree, kinds, rev)
	index := newPointIndex(tree.Len())
	tree.Scan(func(it item) bool {
		index.put(it)
		return true
	})

	c.mu.Lock()
	c.tree, c.kinds, c.index = tree, kinds, index
	c.rev = rev
	c.accountsRev = rev
	c.listed = true
	c.heard = c.now()
	c.dirty = true
	c.publishLocked()
	c.mu.Unlock()
	c.clearFilterMemo()
	return rev, nil
}

// countKinds sets, in kinds, every kind range of tree that holds keys,
// with their count, at revision rev (and the decision kinds of their
// accounts).
func countKinds(tree *btree.BTreeG[item], kinds *btree.BTreeG[kindEntry], rev int64) {
	var last kindKey
	n := 0
	flush := func() {
		if n > 0 {
			kinds.Set(kindEntry{kindKey: last, rev: rev, n: n})
			if isDecisionKind(last.kind) {
				kinds.Set(kindEntry{kindKey: kindKey{last.account, decisionKind}, rev: rev})
			}
		}
	}
	tree.Scan(func(it item) bool {
		if k, ok := kindOf(it.key); ok {
			if k != last {
				flush()
				last, n = k, 0
			}
			n++
		}
		return true
	})
	flush()
}

// cachedSegments splits the range of prefix into the ranges the cache
// holds, in key order: everything but the uncached ranges.
func cachedSegments(prefix string) [][2]string {
	skips := slices.Clone(uncachedRanges[:])
	slices.Sort(skips)
	var out [][2]string
	from := prefix
	for _, r := range skips {
		out = append(out, [2]string{from, prefix + r})
		from = rangeEnd(prefix + r)
	}
	return append(out, [2]string{from, rangeEnd(prefix)})
}

// listSegment reads [from, end) at rev and passes its keys, in order, to
// load: streamed, or paged where etcd cannot stream. The stream may take
// as long as it needs, but not 4 storage timeouts without a chunk.
func (c *Cache) listSegment(ctx context.Context, from, end string, rev int64, load func([]*mvccpb.KeyValue)) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	idle := time.AfterFunc(4*c.timeout, cancel)
	defer idle.Stop()
	stream, err := c.client.GetStream(sctx, from, clientv3.WithRange(end), clientv3.WithRev(rev))
	if err == nil {
		for chunk := range stream {
			if err = chunk.Err(); err != nil {
				break
			}
			idle.Reset(4 * c.timeout)
			load(chunk.Kvs)
		}
	}
	if status.Code(err) == codes.Unimplemented {
		return c.listPaged(ctx, from, end, rev, load)
	}
	if err != nil && sctx.Err() != nil && ctx.Err() == nil {
		return fmt.Errorf("listing stalled: no answer from etcd for %s: %w", 4*c.timeout, err)
	}
	return err
}

// listPaged is listSegment with limited Gets.
func (c *Cache) listPaged(ctx context.Context, from, end string, rev int64, load func([]*mvccpb.KeyValue)) error {
	for {
		gctx, cancel := context.WithTimeout(ctx, 4*c.timeout)
		resp, err := c.client.Get(gctx, from, clientv3.WithRange(end), clientv3.WithLimit(relistPage), clientv3.WithRev(rev))
		cancel()
		if err != nil {
			return err
		}
		load(resp.Kvs)
		if !resp.More || len(resp.Kvs) == 0 {
			return nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// watch applies events after rev until the watch fails or is compacted.
func (c *Cache) watch(ctx context.Context, rev int64) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	ch := c.client.Watch(wctx, c.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1),
		clientv3.WithProgressNotify())

	// Ask for progress often enough that silence longer than the timeout
	// means etcd is unreachable. A watch that stays silent for longer is
	// torn down so run lists afresh and opens a new one: after a server
	// restart the client's watch may never speak again, and the service
	// must resume by itself when etcd returns.
	go func() {
		t := time.NewTicker(max(c.timeout/4, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-t.C:
				if c.now().Sub(c.snap.Load().heard) > c.timeout {
					cancel()
					return
				}
				pctx, pcancel := context.WithTimeout(wctx, c.timeout)
				_ = c.client.RequestProgress(pctx)
				pcancel()
			}
		}
	}()

	for resp := range ch {
		if resp.CompactRevision != 0 {
			return rpctypes.ErrCompacted
		}
		if err := resp.Err(); err != nil {
			return err
		}
		c.apply(resp)
	}
	if wctx.Err() != nil && ctx.Err() == nil {
		return fmt.Errorf("no word from etcd for over %s", c.timeout)
	}
	return errors.New("watch channel closed")
}

// apply applies one watch response to the working state and publishes
// the result.
func (c *Cache) apply(resp clientv3.WatchResponse) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.heard = c.now()
	c.latest.note(resp.Header.Revision)
	if resp.IsProgressNotify() {
		c.rev = max(c.rev, resp.Header.Revision)
		c.publishLocked()
		return
	}
	for _, ev := range resp.Events {
		key := string(ev.Kv.Key[len(c.prefix):])
		r := ev.Kv.ModRevision
		c.rev = max(c.rev, r)
		if isUncached(key) {
			// Not cached (etcd only); the revision still counts, so a
			// writer waiting for it is released.
			continue
		}
		var added int
		if ev.Type == clientv3.EventTypeDelete {
			if c.deleteLocked(key, r) {
				added = -1
			}
		} else if !c.setLocked(newItem(ev.Kv.Key[len(c.prefix):], ev.Kv.Value, r, ev.Kv.CreateRevision)) {
			added = 1
		}
		if k, ok := kindOf(key); ok {
			e, _ := c.kinds.Get(kindEntry{kindKey: k})
			c.kinds.Set(kindEntry{kindKey: k, rev: r, n: e.n + added})
			if isDecisionKind(k.kind) {
				c.kinds.Set(kindEntry{kindKey: kindKey{k.account, decisionKind}, rev: r})
			}
		}
		if strings.HasPrefix(key, AccountsRange) {
			c.accountsRev = r
		}
		c.dirty = true
	}
	c.index.maybePurge(c.rev)
	c.publishLocked()
}

// setLocked puts it in the working tree and its index and reports
// whether it replaced a key. c.mu must be held.
func (c *Cache) setLocked(it item) (replaced bool) {
	_, replaced = c.tree.Set(it)
	c.index.put(it)
	return replaced
}

// deleteLocked deletes key from the working tree and its index at
// revision rev and reports whether it was there. c.mu must be held.
func (c *Cache) deleteLocked(key string, rev int64) (deleted bool) {
	if _, deleted = c.tree.Delete(item{key: key}); deleted {
		c.index.del(key, rev)
	}
	return deleted
}

// Rev is the revision the cache has reached.
func (c *Cache) Rev() int64 { return c.snap.Load().rev }

// ready reports whether s may serve reads: listed, and the watch has
// spoken within the storage timeout.
func (c *Cache) ready(s *snapshot) bool {
	return s.listed && c.now().Sub(s.heard) < c.timeout
}

// Ready reports whether reads may be served: the cache is loaded and the
// watch has spoken within the storage timeout.
func (c *Cache) Ready() bool { return c.ready(c.snap.Load()) }

// waitFor returns the latest snapshot once it has applied rev and is in
// step with etcd. A cache that has the revision but has not heard from
// etcd within the timeout fails at once with ErrUnavailable (reads never
// answer from a cache known to be stale); a cache that is behind is
// waited for, up to the timeout.
func (c *Cache) waitFor(ctx context.Context, rev int64) (*snapshot, error) {
	s := c.snap.Load()
	if s.rev >= rev {
		if c.ready(s) {
			return s, nil
		}
		if s.listed {
			return nil, fmt.Errorf("%w: no word from etcd for over %s", ErrUnavailable, c.timeout)
		}
	}
	deadline := time.NewTimer(c.timeout)
	defer deadline.Stop()
	tick := time.NewTicker(max(c.timeout/16, 5*time.Millisecond))
	defer tick.Stop()
	for {
		s = c.snap.Load()
		if s.rev >= rev && c.ready(s) {
			return s, nil
		}
		select {
		case <-s.next:
		case <-tick.C: // readiness may change without an event
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, ctx.Err())
		case <-deadline.C:
			return nil, fmt.Errorf("%w: the cache did not reach revision %d within %s", ErrUnavailable, rev, c.timeout)
		}
	}
}

func (c *Cache) clearFilterMemo() {
	c.filterMu.Lock()
	clear(c.filterMemo)
	c.filterMu.Unlock()
}
