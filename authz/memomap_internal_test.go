package authz

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestMemoMapIsAMap drives the memo's open-addressing shards with random
// stores and removes and holds them to a Go map. Keys are few per shard
// and the shards small, so probe runs are long, wrap around the end of
// the table and grow; removes shift slots back.
func TestMemoMapIsAMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var mm memoMap
	want := map[holdingKey]*memoEntry{}
	key := func() holdingKey {
		return holdingKey{fmt.Sprint("acc", rng.IntN(3)), fmt.Sprint("user", rng.IntN(2000))}
	}
	for step := range 100000 {
		k := key()
		switch rng.IntN(3) {
		case 0:
			e, ok := mm.remove(k)
			w, wok := want[k]
			if ok != wok || e != w {
				t.Fatalf("step %d: remove(%v) = %p %v, want %p %v", step, k, e, ok, w, wok)
			}
			delete(want, k)
		default:
			e := &memoEntry{key: k}
			mm.store(k, e)
			want[k] = e
		}
		for range 3 {
			q := key()
			e, ok := mm.load(q)
			w, wok := want[q]
			if ok != wok || e != w {
				t.Fatalf("step %d: load(%v) = %p %v, want %p %v", step, q, e, ok, w, wok)
			}
		}
	}
	n := 0
	for i := range mm.shards {
		n += mm.shards[i].n
	}
	if n != len(want) {
		t.Fatalf("the shards hold %d entries, want %d", n, len(want))
	}
}

// TestMemoShardSharedHashes gives many keys the same few hashes: a slot
// must match by its entry's key, and removes must keep every other key
// with that hash findable.
func TestMemoShardSharedHashes(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var sh memoShard
	want := map[holdingKey]*memoEntry{}
	hashOf := func(k holdingKey) uint64 { return uint64(len(k.user)%4)<<1 | 1 }
	for step := range 20000 {
		k := holdingKey{"a", fmt.Sprint("u", rng.IntN(300))}
		h := hashOf(k)
		if rng.IntN(3) == 0 {
			if e, i := sh.find(h, k); e != nil {
				sh.removeAt(i)
			}
			delete(want, k)
		} else if e, i := sh.find(h, k); e != nil {
			sh.slots[i].e = &memoEntry{key: k}
			want[k] = sh.slots[i].e
		} else {
			e := &memoEntry{key: k}
			sh.insert(memoSlot{h, e})
			want[k] = e
		}
		q := holdingKey{"a", fmt.Sprint("u", rng.IntN(300))}
		e, _ := sh.find(hashOf(q), q)
		if w := want[q]; e != w {
			t.Fatalf("step %d: find(%v) = %p, want %p", step, q, e, w)
		}
	}
	if sh.n != len(want) {
		t.Fatalf("the shard holds %d entries, want %d", sh.n, len(want))
	}
}
