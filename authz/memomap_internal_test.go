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
		n += mm.shards[i].t.Len()
	}
	if n != len(want) {
		t.Fatalf("the shards hold %d entries, want %d", n, len(want))
	}
}
