package authz

import (
	"crypto/sha256"
	"encoding/hex"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"gatehouse/hashtable"
)

// Holding is what one user holds, ready for decisions: the permissions of
// the user's roles and of the roles of the user's groups, each with the
// role that grants it, and the user's account's effective ceiling.
type Holding struct {
	Account string
	Perms   []string
	Roles   []string // Roles[i] is the role (in Account) that grants Perms[i]
	Ceiling Ceiling

	deps []dep // the accounts the holding was computed from, with their revisions

	effOnce sync.Once
	eff     []string
	sumOnce sync.Once
	sum     string
}

// Decide reports whether the holding grants wanted and, if so, the role
// that grants it.
func (h *Holding) Decide(wanted string) (role string, ok bool) {
	i := Decide(h.Perms, h.Ceiling, wanted)
	if i < 0 {
		return "", false
	}
	return h.Roles[i], true
}

// Effective is the sorted effective permission list (see Effective).
func (h *Holding) Effective() []string {
	h.effOnce.Do(func() { h.eff = Effective(h.Perms, h.Ceiling) })
	return h.eff
}

// Sum is a digest of the holding's content (permissions, granting roles,
// ceiling): the same on every instance for the same stored state, so a
// document showing effective permissions can fold it into its ETag.
func (h *Holding) Sum() string {
	h.sumOnce.Do(func() {
		d := sha256.New()
		for i, p := range h.Perms {
			d.Write([]byte(p))
			d.Write([]byte{0})
			d.Write([]byte(h.Roles[i]))
			d.Write([]byte{1})
		}
		for _, level := range h.Ceiling {
			for _, p := range level {
				d.Write([]byte(p))
				d.Write([]byte{2})
			}
			d.Write([]byte{3})
		}
		h.sum = hex.EncodeToString(d.Sum(nil)[:12])
	})
	return h.sum
}

// dep is one account a holding depends on, with its decision revision
// then.
type dep struct {
	account string
	rev     int64
}

// Holdings computes users' holdings from a Directory and memoises those
// of the principals that make requests or are asked about (Of) until
// something they were computed from changes (Directory.DecisionRev of the
// user's account and of every account on its ceiling chain). Other writes
// (attributes, sign-in times, users) leave them valid, so a decision
// costs a memo lookup, a few revision compares and Decide, with no
// allocation. Documents that show some user's holding use Compute, which
// stores nothing.
//
// The memo is bounded by Budget bytes (an estimate of each holding's
// strings, slices and entry; see doc.go): when a new holding would not
// fit, holdings are evicted by CLOCK (second chance: one used since the
// hand last passed it is spared once). Keys own their strings, so an
// entry never pins the request that caused it. Lookups take no lock;
// inserting, evicting and Forget take one mutex. A Holdings is safe for
// concurrent use; the zero value is ready to use.
type Holdings struct {
	// Budget is the memo's byte budget (estimated); 0 means
	// DefaultHoldingsBudget, negative disables memoising. Set it before
	// the first use.
	Budget int64

	memo memoMap // holdingKey → *memoEntry; mutated only under mu

	mu    sync.Mutex
	ring  []*memoEntry // the CLOCK, in no particular order
	hand  int
	bytes atomic.Int64 // sum of the ring's costs

	// shapes memoises holdings by shape: an account and the roles and
	// groups a user holds directly. Users of one shape hold the same
	// (most users of an account share a few shapes), so a holding is
	// computed, and its Effective list and Sum made, once per shape
	// rather than once per user, and the per-user memo's entries share
	// it. At most ShapesBudget estimated bytes: when a new shape would
	// not fit, the memo starts afresh.
	shapeMu    sync.RWMutex
	shapes     map[string]*Holding
	shapeBytes int64
}

// ShapesBudget bounds the shapes memo (estimated bytes, as Budget): 8
// MiB, some 3,000 shapes of the benchmarks' 21-permission holding.
const ShapesBudget = 8 << 20

// memoMap is the memo's map from principal to entry, in shards that
// each take a read lock for a lookup. A shard is an open-addressing table
// (package hashtable) of hashes and entry pointers: a lookup reads one
// slot and the entry it points to, where a
// Go map keyed by the two strings read its directory, table, group and
// both keys (1.1 µs a lookup in the server at 100,000 principals), and
// sync.Map's trie more. Two keys may share a hash: a slot matches only
// when its entry's key is the one asked for. The zero value is ready to
// use.
type memoMap struct {
	shards [memoShards]memoShard
}

const memoShards = 64

type memoShard struct {
	mu sync.RWMutex
	t  hashtable.Table[*memoEntry]
	_  [64 - unsafe.Sizeof(sync.RWMutex{}) - unsafe.Sizeof(hashtable.Table[*memoEntry]{})]byte
}

var memoSeed = maphash.MakeSeed()

// memoHash is k's hash, never 0.
func memoHash(k holdingKey) uint64 { return maphash.Comparable(memoSeed, k) | 1 }

func (mm *memoMap) shard(h uint64) *memoShard { return &mm.shards[h>>58] }

// find is k's entry and its position, nil when k has none. The shard's
// lock must be held.
func (sh *memoShard) find(h uint64, k holdingKey) (*memoEntry, int) {
	e, at := sh.t.Find(h, func(e **memoEntry) bool { return (*e).key == k })
	if e == nil {
		return nil, 0
	}
	return *e, at
}

func (mm *memoMap) load(k holdingKey) (*memoEntry, bool) {
	h := memoHash(k)
	sh := mm.shard(h)
	sh.mu.RLock()
	e, _ := sh.find(h, k)
	sh.mu.RUnlock()
	return e, e != nil
}

func (mm *memoMap) store(k holdingKey, e *memoEntry) {
	h := memoHash(k)
	sh := mm.shard(h)
	sh.mu.Lock()
	if old, at := sh.find(h, k); old != nil {
		sh.t.Remove(at)
	}
	sh.t.Insert(h, e)
	sh.mu.Unlock()
}

func (mm *memoMap) remove(k holdingKey) (*memoEntry, bool) {
	h := memoHash(k)
	sh := mm.shard(h)
	sh.mu.Lock()
	e, at := sh.find(h, k)
	if e != nil {
		sh.t.Remove(at)
	}
	sh.mu.Unlock()
	return e, e != nil
}

// DefaultHoldingsBudget is the memo's default byte budget, 64 MiB: some
// 26,000 principals with the 21-permission holding of the benchmarks
// (about 2.5 KiB estimated), some 86,000 with no role (about 0.8 KiB).
const DefaultHoldingsBudget = 64 << 20

type holdingKey struct{ account, user string }

// memoEntry is one memoised holding.
type memoEntry struct {
	key  holdingKey
	h    *Holding
	cost int64
	ref  atomic.Bool // used since the hand last passed
	slot int         // index in ring, under mu
}

// Of returns the holding of user u in account a, memoising it: for the
// principal of a request and the principals asked about in a check. The
// user must exist.
func (hs *Holdings) Of(d Directory, a, u string) *Holding {
	var k holdingKey
	if e, ok := hs.memo.load(holdingKey{a, u}); ok {
		if e.h.valid(d) {
			if !e.ref.Load() {
				e.ref.Store(true)
			}
			return e.h
		}
		k = e.key // stale: recompute under the key the memo owns
	} else {
		k = holdingKey{strings.Clone(a), strings.Clone(u)}
	}
	h := hs.shared(d, k.account, k.user)
	hs.store(k, h)
	return h
}

// Compute returns the holding of user u in account a without memoising
// it: the memoised one if it is still valid, else a fresh computation
// that is dropped with the response. It is what documents showing some
// user's effective permissions use, so rendering users pins no memory.
// It gives the same holding (and Sum) as Of for the same state.
func (hs *Holdings) Compute(d Directory, a, u string) *Holding {
	if e, ok := hs.memo.load(holdingKey{a, u}); ok {
		if h := e.h; h.valid(d) {
			return h
		}
	}
	return hs.shared(d, a, u)
}

// shapeBufs are scratch buffers for shape keys.
var shapeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// shared returns the holding of user u in account a from the shapes
// memo: it reads the user's roles and groups (two range reads) and takes
// the holding of that shape if one is memoised and still valid, else
// computes it (as ComputeHolding does, in the same order, so Sum is the
// same) and memoises it. The key is the account, then "r:" and each role,
// then "g:" and each group, each ended by '/', which no name contains.
func (hs *Holdings) shared(d Directory, a, u string) *Holding {
	bp := shapeBufs.Get().(*[]byte)
	defer shapeBufs.Put(bp)
	b := append((*bp)[:0], a...)
	b = append(b, '/')
	d.EachUserRole(a, u, func(r string) bool {
		b = append(b, "r:"...)
		b = append(b, r...)
		b = append(b, '/')
		return true
	})
	d.EachUserGroup(a, u, func(g string) bool {
		b = append(b, "g:"...)
		b = append(b, g...)
		b = append(b, '/')
		return true
	})
	*bp = b
	hs.shapeMu.RLock()
	h, ok := hs.shapes[string(b)]
	hs.shapeMu.RUnlock()
	if ok && h.valid(d) {
		return h
	}
	key := string(b)
	segs := strings.Split(key[len(a)+1:], "/")
	each := func(tag string) func(func(string) bool) {
		return func(fn func(string) bool) {
			for _, seg := range segs {
				if name, ok := strings.CutPrefix(seg, tag); ok && !fn(name) {
					return
				}
			}
		}
	}
	h = buildHolding(d, key[:len(a)], each("r:"), each("g:"))
	cost := h.cost() + int64(len(key))
	if cost > ShapesBudget {
		return h
	}
	hs.shapeMu.Lock()
	defer hs.shapeMu.Unlock()
	if old, ok := hs.shapes[key]; ok {
		hs.shapeBytes -= old.cost() + int64(len(key))
	}
	if hs.shapes == nil || hs.shapeBytes+cost > ShapesBudget {
		hs.shapes, hs.shapeBytes = map[string]*Holding{}, 0
	}
	hs.shapes[key] = h
	hs.shapeBytes += cost
	return h
}

// Forget drops a memoised holding (a deleted user).
func (hs *Holdings) Forget(a, u string) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if e, ok := hs.memo.remove(holdingKey{a, u}); ok {
		hs.unring(e)
	}
}

// Bytes is the estimated size of the memoised holdings (at most the
// budget).
func (hs *Holdings) Bytes() int64 { return hs.bytes.Load() }

// Len is the number of memoised holdings.
func (hs *Holdings) Len() int {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return len(hs.ring)
}

func (hs *Holdings) budget() int64 {
	if hs.Budget == 0 {
		return DefaultHoldingsBudget
	}
	return hs.Budget
}

// store memoises h under k (whose strings the caller owns), replacing
// what k held and evicting by CLOCK until it fits; a holding larger than
// the whole budget is not stored.
func (hs *Holdings) store(k holdingKey, h *Holding) {
	// The holding is the shapes memo's (shared by the users of its
	// shape, counted there): an entry costs itself, the map's node and
	// its key.
	e := &memoEntry{key: k, h: h, cost: memoEntryBytes + memoNodeBytes + int64(len(k.account)+len(k.user))}
	budget := hs.budget()
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if old, ok := hs.memo.remove(k); ok {
		hs.unring(old)
	}
	if e.cost > budget {
		return
	}
	// A full turn clears every reference bit, so the hand evicts within
	// two turns; past them (hits racing with the hand) it evicts what it
	// finds.
	for spare := 2 * len(hs.ring); hs.bytes.Load()+e.cost > budget && len(hs.ring) > 0; spare-- {
		if hs.hand >= len(hs.ring) {
			hs.hand = 0
		}
		v := hs.ring[hs.hand]
		if spare > 0 && v.ref.Load() {
			v.ref.Store(false)
			hs.hand++
			continue
		}
		hs.memo.remove(v.key)
		hs.unring(v) // moves the last entry to the hand: it is looked at next
	}
	e.slot = len(hs.ring)
	hs.ring = append(hs.ring, e)
	hs.bytes.Add(e.cost)
	hs.memo.store(k, e)
}

// unring removes e from the ring (under mu).
func (hs *Holdings) unring(e *memoEntry) {
	last := len(hs.ring) - 1
	if e.slot > last || hs.ring[e.slot] != e {
		return
	}
	hs.ring[e.slot] = hs.ring[last]
	hs.ring[e.slot].slot = e.slot
	hs.ring[last] = nil
	hs.ring = hs.ring[:last]
	hs.bytes.Add(-e.cost)
	if len(hs.ring) <= cap(hs.ring)/4 && cap(hs.ring) > 64 {
		hs.ring = slices.Clip(slices.Clone(hs.ring))
	}
}

// Estimated sizes, in bytes, of what a memoised holding keeps: the
// Holding struct with its sync.Once fields, a memo entry, and the
// memo map's slot for it.
const (
	holdingStructBytes = int64(unsafe.Sizeof(Holding{}))
	memoEntryBytes     = int64(unsafe.Sizeof(memoEntry{}))
	memoNodeBytes      = 32 // a 16-byte slot in a table ½ to ¾ full
	stringHeaderBytes  = int64(unsafe.Sizeof(""))
	sliceHeaderBytes   = int64(unsafe.Sizeof([]string(nil)))
	sumBytes           = 24 // Sum's hex digest
)

// cost estimates the bytes a memoised h keeps alive: the key's and the
// holding's strings (a role's name counted once per run of permissions it
// grants), the backing arrays of its slices, room for Effective's list
// (at most the held permissions plus the ceiling's) and Sum, the struct
// and the memo's entry and node.
func (h *Holding) cost() int64 {
	n := holdingStructBytes + memoEntryBytes + memoNodeBytes + sumBytes
	n += int64(len(h.Account)) // the key's account; the holding shares it
	flat := int64(len(h.Perms))
	n += int64(cap(h.Perms)+cap(h.Roles)) * stringHeaderBytes
	for i, p := range h.Perms {
		n += int64(len(p))
		if i == 0 || h.Roles[i] != h.Roles[i-1] {
			n += int64(len(h.Roles[i]))
		}
	}
	n += int64(cap(h.Ceiling)) * sliceHeaderBytes
	for _, level := range h.Ceiling {
		flat += int64(len(level))
		n += int64(cap(level)) * stringHeaderBytes
		for _, p := range level {
			n += int64(len(p))
		}
	}
	n += flat * stringHeaderBytes // Effective's list
	n += int64(cap(h.deps)) * int64(unsafe.Sizeof(dep{}))
	for _, x := range h.deps {
		n += int64(len(x.account))
	}
	return n
}

func (h *Holding) valid(d Directory) bool {
	for _, x := range h.deps {
		if d.DecisionRev(x.account) != x.rev {
			return false
		}
	}
	return true
}

// CeilingOf is account a's effective ceiling: its own set, then each
// ancestor's; and the chain of accounts walked (a first).
func CeilingOf(d Directory, a string) (Ceiling, []string) {
	var c Ceiling
	var chain []string
	for x, ok := a, true; ok && len(chain) < maxDepth; x, ok = d.Parent(x) {
		chain = append(chain, x)
		var level []string
		d.EachCeiling(x, func(p string) bool {
			level = append(level, p)
			return true
		})
		c = append(c, level)
	}
	return c, chain
}

// ComputeHolding reads user u's holding afresh (no memo): what a check
// inside a guarded write uses, so every read becomes a guard.
func ComputeHolding(d Directory, a, u string) *Holding {
	return buildHolding(d, a,
		func(fn func(string) bool) { d.EachUserRole(a, u, fn) },
		func(fn func(string) bool) { d.EachUserGroup(a, u, fn) })
}

// buildHolding computes the holding in account a of the roles eachRole
// gives and the groups eachGroup gives: their roles' permissions, the
// direct roles first, each in the order given, then a's ceiling chain.
func buildHolding(d Directory, a string, eachRole, eachGroup func(func(string) bool)) *Holding {
	h := &Holding{Account: a}
	addRole := func(r string) bool {
		d.EachRolePermission(a, r, func(p string) bool {
			h.Perms = append(h.Perms, p)
			h.Roles = append(h.Roles, r)
			return true
		})
		return true
	}
	eachRole(addRole)
	eachGroup(func(g string) bool {
		d.EachGroupRole(a, g, addRole)
		return true
	})
	var chain []string
	h.Ceiling, chain = CeilingOf(d, a)
	for _, x := range chain {
		h.deps = append(h.deps, dep{x, d.DecisionRev(x)})
	}
	return h
}
