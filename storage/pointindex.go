package storage

import (
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"unsafe"

	"gatehouse/hashtable"
)

// pointIndex answers point reads (View.get) without searching the tree.
//
// A search of the tree for a random key is a binary search of about
// log2(N) items, and each comparison reads a key stored elsewhere in
// memory: some forty cache misses, 2–3 µs per read at 100,000 users,
// and a request makes several (its caller's and the named user's
// records, the last sign-in, the account). The index is a hash map from
// a key's hash to its latest state, kept by the watch goroutine beside
// the tree, that a snapshot consults before its own tree.
//
// It holds the latest state, not each snapshot's: an entry records the
// revision of the last change at its hash (a put, or a delete as a
// tombstone), and answers for a snapshot only when that revision is not
// newer than the snapshot's; otherwise the snapshot searches its tree as
// before. So every answer is the tree's answer:
//   - an entry for the key with revision ≤ the snapshot's revision is the
//     key's state at that revision (nothing changed it since);
//   - a tombstone with revision ≤ the snapshot's: the last write at the
//     hash deleted a key and no key present now has that hash, so the key
//     asked about has been absent since (a put of it would have written
//     the hash later);
//   - no entry: no key with that hash was ever written, or its tombstone
//     was purged. Purging records the revision it purged up to; a
//     snapshot at least that recent answers "absent", an older one
//     searches its tree.
//
// Two keys with one hash (64-bit, seeded per process: not to be forced
// from outside) leave a marker that sends every read of the hash to the
// tree. Readers and the writer meet in 64 shards, each under a
// read-write lock. A shard is an open-addressing table of entries held
// inline (package hashtable: at most three quarters full; 40 bytes an
// entry, about 75 bytes a key on average): a read is one or two cache
// misses, where a Go map's directory, table and group make four or five
// (1.2 µs per read in the server at 100,000 users), and a key costs no
// allocation of its own, so the collector marks no more objects than the
// tree's.
type pointIndex struct {
	seed   maphash.Seed
	mask   uint64 // applied to every hash: all ones, fewer bits in tests to force collisions
	shards [pointShards]pointShard
	// purged is the revision up to which tombstones were dropped.
	purged atomic.Int64
	// tombs are the tombstones written since the last purge (the watch
	// goroutine's own).
	tombs []tomb
	live  int // entries that are not tombstones (approximate)
}

const pointShards = 64

type pointShard struct {
	mu sync.RWMutex
	t  hashtable.Table[pointEntry] // one entry per hash
	_  [64 - unsafe.Sizeof(sync.RWMutex{}) - unsafe.Sizeof(hashtable.Table[pointEntry]{})]byte
}

// get is the entry of hash h. The shard's lock must be held.
func (sh *pointShard) get(h uint64) (pointEntry, bool) {
	if e, _ := sh.t.Find(h, nil); e != nil {
		return *e, true
	}
	return pointEntry{}, false
}

// set stores e under hash h. The shard's write lock must be held.
func (sh *pointShard) set(h uint64, e pointEntry) {
	if old, _ := sh.t.Find(h, nil); old != nil {
		*old = e
		return
	}
	sh.t.Insert(h, e)
}

// pointEntry is the latest state at one hash.
type pointEntry struct {
	// kv, n: the key then the value, n bytes, newItem's one allocation
	// (a pointer and two 32-bit lengths rather than a string and an int:
	// 32 bytes an entry, 40 with its hash in the table, not 48).
	kv      unsafe.Pointer
	n, klen uint32
	mod     int64 // for a tombstone, the revision of the delete
	// create is the key's create revision; tombstone (0) for a deleted
	// key, shared (-1) when two keys have the hash.
	create int64
}

const (
	tombstone = 0
	shared    = -1
)

type tomb struct {
	h   uint64
	mod int64
}

func newPointIndex(sizeHint int) *pointIndex {
	x := &pointIndex{seed: maphash.MakeSeed(), mask: ^uint64(0)}
	for i := range x.shards {
		x.shards[i].t.Reserve(sizeHint / pointShards)
	}
	return x
}

// hash is key's hash, never 0 (a free slot).
func (x *pointIndex) hash(key string) uint64 { return maphash.String(x.seed, key)&x.mask | 1 }

func (x *pointIndex) shard(h uint64) *pointShard { return &x.shards[h>>58] }

// lookup is key's state at revision rev: the item and whether it is
// present, and known false when the tree must be asked.
func (x *pointIndex) lookup(key string, rev int64) (it item, ok, known bool) {
	h := x.hash(key)
	sh := x.shard(h)
	sh.mu.RLock()
	e, found := sh.get(h)
	sh.mu.RUnlock()
	if !found {
		return item{}, false, rev >= x.purged.Load()
	}
	if e.mod > rev {
		return item{}, false, false
	}
	switch e.create {
	case tombstone:
		return item{}, false, true
	case shared:
		return item{}, false, false
	}
	kv := e.keyValue()
	if kv[:e.klen] != key {
		return item{}, false, false
	}
	return item{key: kv[:e.klen], value: kv[e.klen:], mod: e.mod, create: e.create}, true, true
}

// entryOf is it as an entry, or a shared marker when its key and value
// are not the one allocation newItem makes (never, today).
func entryOf(it item) pointEntry {
	if uint64(len(it.key))+uint64(len(it.value)) > math.MaxUint32 {
		return pointEntry{mod: it.mod, create: shared}
	}
	kv := it.key
	if len(it.value) > 0 {
		if unsafe.StringData(it.value) != (*byte)(unsafe.Add(unsafe.Pointer(unsafe.StringData(it.key)), len(it.key))) {
			return pointEntry{mod: it.mod, create: shared}
		}
		kv = unsafe.String(unsafe.StringData(it.key), len(it.key)+len(it.value))
	}
	return pointEntry{kv: unsafe.Pointer(unsafe.StringData(kv)), n: uint32(len(kv)), klen: uint32(len(it.key)),
		mod: it.mod, create: it.create}
}

// keyValue is the entry's key then value.
func (e *pointEntry) keyValue() string { return unsafe.String((*byte)(e.kv), e.n) }

// key is the entry's key.
func (e *pointEntry) key() string {
	return unsafe.String((*byte)(e.kv), e.klen)
}

// put records it, written at revision it.mod.
func (x *pointIndex) put(it item) {
	h := x.hash(it.key)
	e := entryOf(it)
	sh := x.shard(h)
	sh.mu.Lock()
	old, found := sh.get(h)
	switch {
	case !found || old.create == tombstone:
		x.live++
	case old.create == shared || old.key() != it.key:
		e = pointEntry{mod: it.mod, create: shared}
	}
	sh.set(h, e)
	sh.mu.Unlock()
}

// del records that key was deleted at revision mod.
func (x *pointIndex) del(key string, mod int64) {
	h := x.hash(key)
	sh := x.shard(h)
	sh.mu.Lock()
	old, found := sh.get(h)
	if found && old.create != tombstone && old.create != shared && old.key() == key {
		sh.set(h, pointEntry{mod: mod, create: tombstone})
		x.live--
		x.tombs = append(x.tombs, tomb{h, mod})
	}
	sh.mu.Unlock()
}

// maybePurge drops the tombstones once they outnumber an eighth of the
// live entries (and a few thousand), so that deleted keys — sessions,
// tokens — do not accumulate. rev is the latest revision applied: every
// tombstone is at most that old.
func (x *pointIndex) maybePurge(rev int64) {
	if len(x.tombs) < 4096 || len(x.tombs) < x.live/8 {
		return
	}
	// Readers that miss an entry must see the new bound: store it before
	// the first delete.
	x.purged.Store(rev)
	for _, t := range x.tombs {
		sh := x.shard(t.h)
		sh.mu.Lock()
		if e, at := sh.t.Find(t.h, nil); e != nil && e.create == tombstone && e.mod == t.mod {
			sh.t.Remove(at)
		}
		sh.mu.Unlock()
	}
	x.tombs = x.tombs[:0]
}
