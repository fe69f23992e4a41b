package hashtable

import (
	"math/rand/v2"
	"testing"
)

type entry struct {
	key  int
	mark int
}

// TestTableIsAMap drives a table with random inserts, replacements and
// removes of keys whose hashes crowd into a few home slots and often
// coincide (long probe runs that wrap around the end, growth, back
// shifts past entries of the same hash), and holds it to a Go map.
func TestTableIsAMap(t *testing.T) {
	for _, homes := range []int{1, 4, 1 << 20} {
		rng := rand.New(rand.NewPCG(1, uint64(homes)))
		var tab Table[entry]
		want := map[int]int{}
		hash := func(k int) uint64 { return uint64(k%homes)<<1 | 1 }
		for step := range 60000 {
			k := rng.IntN(500)
			match := func(e *entry) bool { return e.key == k }
			e, at := tab.Find(hash(k), match)
			switch {
			case rng.IntN(3) == 0:
				if e != nil {
					tab.Remove(at)
				}
				delete(want, k)
			case e != nil:
				e.mark = step
				want[k] = step
			default:
				tab.Insert(hash(k), entry{k, step})
				want[k] = step
			}
			if tab.Len() != len(want) {
				t.Fatalf("homes %d, step %d: %d entries, want %d", homes, step, tab.Len(), len(want))
			}
			q := rng.IntN(500)
			got, _ := tab.Find(hash(q), func(e *entry) bool { return e.key == q })
			w, ok := want[q]
			if (got != nil) != ok || got != nil && got.mark != w {
				t.Fatalf("homes %d, step %d: Find(%d) = %+v, want %v %d", homes, step, q, got, ok, w)
			}
		}
	}
}

// TestReserve sizes a table once: the entries it was sized for go in
// without growing it.
func TestReserve(t *testing.T) {
	var tab Table[int]
	tab.Reserve(1000)
	size := len(tab.slots)
	for i := range 1000 {
		tab.Insert(uint64(i)<<1|1, i)
	}
	if len(tab.slots) != size || 4*tab.Len() > 3*size {
		t.Fatalf("reserved %d slots for 1,000 entries, now %d", size, len(tab.slots))
	}
}
