package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/btree"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/singleflight"
)

// item is one cached key. Keys and values are strings so that readers can
// keep them without copying.
type item struct {
	key    string // relative to the store prefix
	value  string
	mod    int64 // etcd mod revision
	create int64 // etcd create revision
}

func itemLess(a, b *item) bool { return a.key < b.key }

// Cache is the watch-fed, read-only image of everything under the store
// prefix. It is safe for concurrent use.
type Cache struct {
	client  *clientv3.Client
	prefix  string
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time

	mu          sync.RWMutex
	tree        *btree.BTreeG[*item]
	rev         int64             // every event up to rev is applied
	kindRev     map[kindKey]int64 // last revision that changed one kind range of an account
	accountsRev int64             // last revision that changed any account record
	listed      bool              // a full list has been loaded
	heard       time.Time         // last time the watch said anything
	notify      chan struct{}     // closed and replaced whenever rev advances

	filterMu    sync.Mutex
	filterMemo  map[string]*filterResult
	filterScans singleflight.Group
}

type filterResult struct {
	rev   int64
	names []string
}

func newCache(client *clientv3.Client, prefix string, timeout time.Duration, log *slog.Logger) *Cache {
	return &Cache{
		client:     client,
		prefix:     prefix,
		timeout:    timeout,
		log:        log,
		now:        time.Now,
		tree:       newTree(),
		kindRev:    map[kindKey]int64{},
		notify:     make(chan struct{}),
		filterMemo: map[string]*filterResult{},
	}
}

func newTree() *btree.BTreeG[*item] {
	return btree.NewBTreeGOptions(itemLess, btree.Options{NoLocks: true, Degree: 64})
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

// relist reads the whole prefix at one revision, in pages, and swaps it in.
func (c *Cache) relist(ctx context.Context) (int64, error) {
	c.mu.Lock()
	c.listed = false
	c.mu.Unlock()

	tree := newTree()
	var rev int64
	from := c.prefix
	end := rangeEnd(c.prefix)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(10000)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		gctx, cancel := context.WithTimeout(ctx, 4*c.timeout)
		resp, err := c.client.Get(gctx, from, opts...)
		cancel()
		if err != nil {
			return 0, err
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		skip := false
		for _, kv := range resp.Kvs {
			if strings.HasPrefix(string(kv.Key[len(c.prefix):]), AuditRange) {
				// The audit log stays in etcd only: jump past it.
				from, skip = rangeEnd(c.prefix+AuditRange), true
				break
			}
			tree.Load(&item{key: string(kv.Key[len(c.prefix):]), value: string(kv.Value),
				mod: kv.ModRevision, create: kv.CreateRevision})
		}
		if skip {
			continue
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}

	c.mu.Lock()
	c.tree = tree
	c.rev = rev
	// Every ETag and memo keyed by an account's revision changes after a
	// relist: conservative, never stale.
	for k := range c.kindRev {
		c.kindRev[k] = rev
	}
	tree.Scan(func(it *item) bool {
		if k, ok := kindOf(it.key); ok {
			c.kindRev[k] = rev
		}
		return true
	})
	c.accountsRev = rev
	c.listed = true
	c.heard = c.now()
	c.broadcastLocked()
	c.mu.Unlock()
	c.clearFilterMemo()
	return rev, nil
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
				c.mu.RLock()
				silent := c.now().Sub(c.heard)
				c.mu.RUnlock()
				if silent > c.timeout {
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

func (c *Cache) apply(resp clientv3.WatchResponse) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.heard = c.now()
	if resp.IsProgressNotify() {
		if resp.Header.Revision > c.rev {
			c.rev = resp.Header.Revision
			c.broadcastLocked()
		}
		return
	}
	for _, ev := range resp.Events {
		key := string(ev.Kv.Key[len(c.prefix):])
		if strings.HasPrefix(key, AuditRange) {
			// Audit entries are not cached (etcd only); their revision
			// still counts, so a writer waiting for it is released.
			c.rev = max(c.rev, ev.Kv.ModRevision)
			continue
		}
		if ev.Type == clientv3.EventTypeDelete {
			c.tree.Delete(&item{key: key})
		} else {
			c.tree.Set(&item{key: key, value: string(ev.Kv.Value), mod: ev.Kv.ModRevision, create: ev.Kv.CreateRevision})
		}
		r := ev.Kv.ModRevision
		if k, ok := kindOf(key); ok {
			c.kindRev[k] = r
		}
		if strings.HasPrefix(key, AccountsRange) {
			c.accountsRev = r
		}
		if r > c.rev {
			c.rev = r
		}
	}
	c.broadcastLocked()
}

func (c *Cache) broadcastLocked() {
	close(c.notify)
	c.notify = make(chan struct{})
}

// Rev is the revision the cache has reached.
func (c *Cache) Rev() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rev
}

// ready reports whether the cache is listed and heard from etcd recently.
func (c *Cache) readyLocked() bool {
	return c.listed && c.now().Sub(c.heard) < c.timeout
}

// Ready reports whether reads may be served: the cache is loaded and the
// watch has spoken within the storage timeout.
func (c *Cache) Ready() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.readyLocked()
}

// waitFor returns once the cache has applied rev and is in step with
// etcd. A cache that has the revision but has not heard from etcd within
// the timeout fails at once with ErrUnavailable (reads never answer from
// a cache known to be stale); a cache that is behind is waited for, up to
// the timeout.
func (c *Cache) waitFor(ctx context.Context, rev int64) error {
	c.mu.RLock()
	have, ready, listed := c.rev >= rev, c.readyLocked(), c.listed
	c.mu.RUnlock()
	if have && ready {
		return nil
	}
	if have && listed {
		return fmt.Errorf("%w: no word from etcd for over %s", ErrUnavailable, c.timeout)
	}
	deadline := time.NewTimer(c.timeout)
	defer deadline.Stop()
	tick := time.NewTicker(max(c.timeout/16, 5*time.Millisecond))
	defer tick.Stop()
	for {
		c.mu.RLock()
		ok := c.rev >= rev && c.readyLocked()
		ch := c.notify
		c.mu.RUnlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-tick.C: // readiness may change without an event
		case <-ctx.Done():
			return fmt.Errorf("%w: %v", ErrUnavailable, ctx.Err())
		case <-deadline.C:
			return fmt.Errorf("%w: the cache did not reach revision %d within %s", ErrUnavailable, rev, c.timeout)
		}
	}
}

func (c *Cache) clearFilterMemo() {
	c.filterMu.Lock()
	clear(c.filterMemo)
	c.filterMu.Unlock()
}
