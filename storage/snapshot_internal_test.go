package storage

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

// treeDigest is a digest of every item of a tree, in order, and its
// order-statistic view (GetAt) of the same items.
func treeDigest(s *snapshot) (uint64, error) {
	h := fnv.New64a()
	i := 0
	var err error
	s.tree.Scan(func(it item) bool {
		if at, ok := s.tree.GetAt(i); !ok || at != it {
			err = fmt.Errorf("GetAt(%d) disagrees with the scan", i)
			return false
		}
		fmt.Fprintf(h, "%s=%s@%d;", it.key, it.value, it.mod)
		i++
		return true
	})
	if err == nil && i != s.tree.Len() {
		err = fmt.Errorf("scan saw %d items, Len() = %d", i, s.tree.Len())
	}
	s.kinds.Scan(func(e kindEntry) bool {
		fmt.Fprintf(h, "%s/%s@%d;", e.account, e.kind, e.rev)
		return true
	})
	return h.Sum64(), err
}

// TestSnapshotsStayFrozen drives the cache's trees, with the options the
// cache uses, the way the watch goroutine does: mutate the working trees,
// publish a copy-on-write snapshot, mutate on. Readers scan snapshots
// meanwhile; each must hold exactly what the working trees held when it
// was published (and, under -race, no node a snapshot shares is written).
func TestSnapshotsStayFrozen(t *testing.T) {
	c := &Cache{tree: newTree(), kinds: newKinds(), index: newPointIndex(0)}
	var want sync.Map // snapshot rev → digest at publication
	publish := func(rev int64) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.rev, c.dirty = rev, true
		d, err := treeDigest(&snapshot{tree: c.tree, kinds: c.kinds})
		if err != nil {
			t.Error(err)
		}
		want.Store(rev, d)
		c.publishLocked()
	}
	publish(0)

	const batches = 150
	var done atomic.Bool
	var checked atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				s := c.snap.Load()
				before, err := treeDigest(s)
				if err != nil {
					t.Error(err)
					return
				}
				w, _ := want.Load(s.rev)
				if before != w.(uint64) {
					t.Errorf("snapshot %d changed after it was published", s.rev)
					return
				}
				<-s.next // hold it while the writer moves on, then look again
				if after, _ := treeDigest(s); after != before {
					t.Errorf("snapshot %d changed while the writer went on", s.rev)
					return
				}
				// Point reads, which the shared index answers while the
				// writer changes it, give what the snapshot's tree holds.
				for k := 0; k < 3000; k += 7 {
					key := fmt.Sprintf("t/a%d/user/u%04d", k%7, k)
					got, gotOK := s.view.get(key)
					want, wantOK := s.tree.Get(item{key: key})
					if got != want || gotOK != wantOK {
						t.Errorf("snapshot %d: get(%s) = %+v %v; its tree holds %+v %v", s.rev, key, got, gotOK, want, wantOK)
						return
					}
				}
				checked.Add(1)
			}
		}()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for b := int64(1); b <= batches; b++ {
		c.mu.Lock()
		for range 60 {
			k := rng.IntN(3000)
			key := fmt.Sprintf("t/a%d/user/u%04d", k%7, k)
			if rng.IntN(3) == 0 {
				c.deleteLocked(key, b)
			} else {
				c.setLocked(newItem([]byte(key), []byte(fmt.Sprint(b)), b, b))
			}
			kk, _ := kindOf(key)
			c.kinds.Set(kindEntry{kindKey: kk, rev: b})
		}
		c.mu.Unlock()
		publish(b)
	}
	done.Store(true)
	publish(batches + 1) // wake readers holding the last snapshot
	wg.Wait()
	if checked.Load() == 0 {
		t.Errorf("no snapshot was checked")
	}
	t.Logf("%d snapshots checked", checked.Load())
}
