package hashtable

// Table holds entries of type E under 64-bit hashes. The zero value is
// an empty table.
type Table[E any] struct {
	slots []slot[E] // a power of two long, or nil
	n     int
}

type slot[E any] struct {
	h uint64 // 0: free
	e E
}

// Len is the number of entries.
func (t *Table[E]) Len() int { return t.n }

// Reserve sizes an empty table for n entries.
func (t *Table[E]) Reserve(n int) {
	if t.n == 0 {
		t.slots = make([]slot[E], sizeFor(n))
	}
}

func sizeFor(n int) int {
	size := 8
	for 3*size < 4*n {
		size *= 2
	}
	return size
}

// Find returns the entry with hash h that match accepts (nil: the first
// with hash h) and its position for Remove, or nil.
func (t *Table[E]) Find(h uint64, match func(*E) bool) (*E, int) {
	if len(t.slots) == 0 {
		return nil, 0
	}
	m := uint64(len(t.slots) - 1)
	for i := h & m; ; i = (i + 1) & m {
		s := &t.slots[i]
		if s.h == 0 {
			return nil, 0
		}
		if s.h == h && (match == nil || match(&s.e)) {
			return &s.e, int(i)
		}
	}
}

// Insert adds e under hash h (never 0), growing the table to stay at
// most three quarters full. It does not look for an entry to replace:
// callers Find first.
func (t *Table[E]) Insert(h uint64, e E) {
	if 4*(t.n+1) > 3*len(t.slots) {
		old := t.slots
		t.slots, t.n = make([]slot[E], max(8, 2*len(old))), 0
		for _, s := range old {
			if s.h != 0 {
				t.Insert(s.h, s.e)
			}
		}
	}
	m := uint64(len(t.slots) - 1)
	i := h & m
	for t.slots[i].h != 0 {
		i = (i + 1) & m
	}
	t.slots[i] = slot[E]{h, e}
	t.n++
}

// Remove deletes the entry at position at (from Find) and shifts back
// the entries after it that probed past it, so that no probe sequence
// breaks.
func (t *Table[E]) Remove(at int) {
	m := uint64(len(t.slots) - 1)
	i := uint64(at)
	for j := i; ; {
		t.slots[i] = slot[E]{}
		for {
			j = (j + 1) & m
			if t.slots[j].h == 0 {
				t.n--
				return
			}
			// The entry at j may move to i when its home k does not lie
			// cyclically in (i, j].
			k := t.slots[j].h & m
			if (j > i && (k <= i || k > j)) || (j < i && k <= i && k > j) {
				break
			}
		}
		t.slots[i] = t.slots[j]
		i = j
	}
}
