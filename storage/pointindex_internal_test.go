package storage

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// TestPointIndexAnswersAsTheTree replays random puts and deletes into a
// tree and a pointIndex the way the cache does, keeps copy-on-write
// snapshots of the tree at every revision, and asks, for random keys and
// random past revisions, what the index answers: whenever it answers, it
// must be what that revision's tree holds. Hashes are cut to a few bits
// in one run, so that keys share hashes and entries become shared
// markers and tombstones of other keys; enough deletes happen for
// tombstones to be purged (with full hashes; shared hashes leave
// markers, not tombstones).
func TestPointIndexAnswersAsTheTree(t *testing.T) {
	for _, tc := range []struct {
		name string
		mask uint64
	}{{"full hashes", ^uint64(0)}, {"3-bit hashes", 7}, {"10-bit hashes", 1<<10 - 1}} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tc.mask)))
			keys := make([]string, 3000)
			for i := range keys {
				keys[i] = fmt.Sprintf("t/acc/user/u%05d", i)
			}
			tree := newTree()
			x := newPointIndex(0)
			x.mask = tc.mask
			type snap struct {
				rev  int64
				tree interface{ Get(item) (item, bool) }
			}
			var snaps []snap
			var rev int64
			asked, answered, purges := 0, 0, 0
			check := func() {
				for range 20 {
					s := snaps[rng.IntN(len(snaps))]
					if rng.IntN(2) == 0 {
						s = snaps[len(snaps)-1] // the latest, as requests read
					}
					key := keys[rng.IntN(len(keys))]
					want, wantOK := s.tree.Get(item{key: key})
					got, ok, known := x.lookup(key, s.rev)
					asked++
					if !known {
						continue
					}
					answered++
					if ok != wantOK || got != want {
						t.Fatalf("key %s at revision %d (latest %d): index says %v %+v, tree %v %+v", key, s.rev, rev, ok, got, wantOK, want)
					}
				}
			}
			for range 40000 {
				rev++
				key := keys[rng.IntN(len(keys))]
				if rng.IntN(5) < 2 {
					if _, deleted := tree.Delete(item{key: key}); deleted {
						x.del(key, rev)
					}
				} else {
					it := newItem([]byte(key), []byte(fmt.Sprint("value ", rev)), rev, rev)
					if old, replaced := tree.Set(it); replaced {
						it.create = old.create
						tree.Set(it)
					}
					x.put(it)
				}
				before := x.purged.Load()
				x.maybePurge(rev)
				if x.purged.Load() != before {
					purges++
				}
				snaps = append(snaps, snap{rev, tree.Copy()})
				if len(snaps) > 200 {
					snaps = snaps[len(snaps)-200:]
				}
				check()
			}
			if tc.mask == ^uint64(0) && purges == 0 {
				t.Errorf("no purge of tombstones happened: the test does not cover it")
			}
			if tc.mask == ^uint64(0) && answered < asked/3 {
				t.Errorf("the index answered %d of %d reads: it should answer most reads of recent revisions", answered, asked)
			}
			t.Logf("%d reads, %d answered by the index, %d purges", asked, answered, purges)
		})
	}
}

// TestPointIndexSpansEmptyValues checks that a key with an empty value
// is indexed and read back as present (its value shares no allocation).
func TestPointIndexSpansEmptyValues(t *testing.T) {
	x := newPointIndex(0)
	it := newItem([]byte("t/a/group/g/user/u"), nil, 5, 5)
	x.put(it)
	got, ok, known := x.lookup("t/a/group/g/user/u", 5)
	if !known || !ok || got != it {
		t.Fatalf("lookup = %+v %v %v, want %+v present", got, ok, known, it)
	}
	if _, _, known := x.lookup("t/a/group/g/user/u", 4); known {
		t.Fatalf("a revision before the put must be left to the tree")
	}
}

// BenchmarkPointRead compares a point read of a random key among 300,000
// (about what 100,000 users make) answered by the index with the same
// read searching the snapshot's tree.
func BenchmarkPointRead(b *testing.B) {
	keys := make([]string, 300_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("t/load/%s/user-%07d", [...]string{"user", "login", "ugroup"}[i%3], i/3)
	}
	v := memView(keys...)
	order := rand.Perm(len(keys))
	b.Run("index", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, ok := v.get(keys[order[i%len(order)]]); !ok {
				b.Fatal("missing key")
			}
			i++
		}
	})
	b.Run("tree", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, ok := v.s.tree.Get(item{key: keys[order[i%len(order)]]}); !ok {
				b.Fatal("missing key")
			}
			i++
		}
	})
}

// TestPointEntrySize keeps an entry at the 32 bytes (40 with its hash in
// the table) the memory budget (storage/doc.go) counts on.
func TestPointEntrySize(t *testing.T) {
	if n := unsafe.Sizeof(pointEntry{}); n != 32 {
		t.Errorf("a point index entry is %d bytes, want 32", n)
	}
}
