package storage

import (
	"strconv"
	"strings"
	"sync"
	"unsafe"
)

// View is a consistent read of one snapshot of the cache. It never
// changes, whatever the cache applies meanwhile, and reading it takes no
// lock: a slow reader delays no one. Use it inside the callback of
// Store.Read. Every method is O(log n) or O(log n + items visited).
//
// A tracking view (Tracking) also folds everything read through it into
// a digest, and a transaction's guarded view (Txn.View) turns every read
// into a compare guard of the transaction as well. A tracking view is
// not safe for concurrent use; a plain one is.
//
// A View is one pointer (to its viewState), so passing it as an interface
// (authz.Directory) does not allocate; the plain view of a snapshot is
// made once, when the snapshot is published.
type View struct{ *viewState }

type viewState struct {
	s *snapshot
	r *recorder // nil unless tracking
}

// recorder is the state a tracking view shares among its copies.
type recorder struct {
	h uint64 // FNV-1a 64 of the reads so far
	t *Txn   // set on a transaction's guarded view
}

// FNV-1a 64.
const (
	fnvOffset uint64 = 14695981039346656037
	fnvPrime  uint64 = 1099511628211
)

// Tags that keep the different kinds of reads apart in the digest.
const (
	tagKey   = 'k' // a single-key read: key, mod revision (0 when absent)
	tagEntry = 'e' // a key visited in a range: key, mod revision
	tagEnd   = 'E' // the end of a range walk: prefix
	tagCount = 'c' // a count: prefix, count
	tagPage  = 'p' // a page: prefix, each name, count
	tagMix   = 'm' // a caller's string (Mix)
)

func (r *recorder) tag(b byte) { r.h = (r.h ^ uint64(b)) * fnvPrime }

func (r *recorder) num(n int64) {
	h := r.h
	for i := 0; i < 64; i += 8 {
		h = (h ^ uint64(byte(n>>i))) * fnvPrime
	}
	r.h = h
}

// str folds s with its length first, so adjacent strings cannot run
// into each other.
func (r *recorder) str(s string) {
	r.num(int64(len(s)))
	h := r.h
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	r.h = h
}

// key folds (and guards) a single-key read.
func (r *recorder) key(key string, mod int64) {
	r.tag(tagKey)
	r.str(key)
	r.num(mod)
	if r.t != nil {
		r.t.expectMod(key, mod)
	}
}

// entry folds (and guards) a key visited in a range.
func (r *recorder) entry(it item) {
	r.tag(tagEntry)
	r.str(it.key)
	r.num(it.mod)
	if r.t != nil {
		r.t.expectMod(it.key, it.mod)
	}
}

// rangeStart guards a range read: nothing may be added to or changed in
// it after the view's revision.
func (r *recorder) rangeStart(prefix string) {
	if r.t != nil {
		r.t.ExpectNoNew(prefix)
	}
}

// Tracking returns a view of the same snapshot that folds every read into
// a digest. The digest starts afresh; a guarded view's reads stay guards.
func (v View) Tracking() View {
	r := &recorder{h: fnvOffset}
	if v.r != nil {
		r.t = v.r.t
	}
	return View{&viewState{s: v.s, r: r}}
}

// Digest is a digest of everything read through a tracking view so far
// (0 when untracked); the same reads of the same etcd state give the same
// digest on every instance.
func (v View) Digest() uint64 {
	if v.r == nil {
		return 0
	}
	return v.r.h
}

// Mix folds s into the digest of a tracking view; a no-op otherwise
// (callers fold things derived from reads, e.g. a memoised permission
// holding).
func (v View) Mix(s string) {
	if v.r != nil {
		v.r.tag(tagMix)
		v.r.str(s)
	}
}

// plain is v without tracking: for reads whose outcome a caller folds
// itself.
func (v View) plain() View { return v.s.view }

// Rev is the revision the view shows. It is this instance's cache
// revision (it also counts writes outside the view's ranges), so it is
// never folded into the digest.
func (v View) Rev() int64 { return v.s.rev }

// KindRev is the last revision that changed a kind range of account a
// (kind "" is the account's own record); memoised views that depend on a
// few ranges check these instead of the whole account. Instance-local (a
// relist sets them all to its revision): not folded into the digest.
func (v View) KindRev(a, kind string) int64 { return v.s.kindRev(kindKey{a, kind}) }

// decisionKinds are the kind ranges of an account a permission decision
// reads: its record, ceiling, and the memberships and role permissions
// that make up a user's holding (the reverse sides change with them).
var decisionKinds = [...]string{"", KindCeiling, KindUserRole, KindUserGrp, KindGrpRole, KindRolePerm}

// decisionKind is the synthetic kind under which the cache keeps, per
// account, the last revision that changed any of decisionKinds (no real
// kind contains a NUL byte).
const decisionKind = "\x00decision"

func isDecisionKind(kind string) bool {
	for _, k := range decisionKinds {
		if k == kind {
			return true
		}
	}
	return false
}

// DecisionRev is the highest KindRev of account a over the kinds a
// permission decision reads from it: its record, ceiling, user-role,
// user-group, group-role and role-permission memberships. The cache keeps
// it as one entry per account, so it is one lookup, no allocation;
// instance-local like KindRev.
func (v View) DecisionRev(a string) int64 {
	return v.s.kindRev(kindKey{a, decisionKind})
}

// AccountsRev is the last revision that changed any account record.
// Instance-local like KindRev.
func (v View) AccountsRev() int64 { return v.s.accountsRev }

// get reads key without folding or guarding it.
func (v View) get(key string) (item, bool) {
	if it, ok, known := v.s.index.lookup(key, v.s.rev); known {
		return it, ok
	}
	return v.s.tree.Get(item{key: key})
}

// read is get, folded and guarded on a tracking view.
func (v View) read(key string) (item, bool) {
	it, ok := v.get(key)
	if v.r != nil {
		var mod int64
		if ok {
			mod = it.mod
		}
		v.r.key(key, mod)
	}
	return it, ok
}

// keyBufs are scratch buffers for the keys of point reads (getItem)
// and counts (View.Count).
var keyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 300); return &b }}

// sparseKind reports whether kind is one most accounts hold few or no
// keys of, so that asking the kinds tree whether the account holds any
// (a search of a small tree) before searching the large tree pays: in a
// store of 100,000 users a search of the large tree is a cache miss per
// level, but for a kind every user has (records, memberships) the
// question only adds a search.
func sparseKind(kind string) bool {
	switch kind {
	case KindAPIKey, KindClient, KindSession, KindTOTP, KindPasskey, KindFederated, KindAttr, KindDefaultRole:
		return true
	}
	return false
}

// keepsKeys reports whether the view keeps the keys it reads: a
// transaction's guarded view turns them into guards. Any other view,
// tracking or not, only looks keys up and folds them into its digest.
func (v View) keepsKeys() bool { return v.r != nil && v.r.t != nil }

// getItem is Get(ItemKey(a, kind, name)) without making the key a
// string of its own, unless the view keeps keys: the key is built in a
// pooled buffer, looked up (and folded) and the buffer handed back (the
// tree keeps no reference to a pivot). Item reads are on the path of
// every request (the signed-in user, its second factors, the documents'
// records).
func (v View) getItem(a, kind, name string) (string, bool) {
	if v.keepsKeys() {
		return v.Get(ItemKey(a, kind, name))
	}
	// A kind that holds no key in the account answers without a search;
	// a tracking view still folds the key as absent.
	empty := sparseKind(kind) && v.s.kindEmpty(kindKey{a, kind})
	if empty && v.r == nil {
		return "", false
	}
	bp := keyBufs.Get().(*[]byte)
	b := append((*bp)[:0], "t/"...)
	b = append(b, a...)
	b = append(b, '/')
	b = append(b, kind...)
	b = append(b, '/')
	b = append(b, name...)
	var it item
	var ok bool
	if key := unsafe.String(unsafe.SliceData(b), len(b)); empty {
		v.r.key(key, 0)
	} else {
		it, ok = v.read(key)
	}
	*bp = b
	keyBufs.Put(bp)
	return it.value, ok
}

// Get returns the value stored at key.
func (v View) Get(key string) (string, bool) {
	it, ok := v.read(key)
	if !ok {
		return "", false
	}
	return it.value, true
}

// Has reports whether key exists.
func (v View) Has(key string) bool {
	_, ok := v.read(key)
	return ok
}

// CreateRevision returns the etcd create revision of key (0 if absent);
// it serves as a stable numeric id.
func (v View) CreateRevision(key string) int64 {
	if it, ok := v.read(key); ok {
		return it.create
	}
	return 0
}

// rank is the number of keys less than key: a binary search over the
// order-statistic tree, O(log² n).
func (v View) rank(key string) int {
	lo, hi := 0, v.s.tree.Len()
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		it, _ := v.s.tree.GetAt(mid)
		if it.key < key {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// smallRange is how many keys Count walks before it switches to the
// rank search: most per-user collections are small, and walking them is
// cheaper than two searches of a tree of a million keys.
const smallRange = 64

// walk calls fn with each item of the range, in order, until fn returns
// false; nothing is folded.
func (v View) walk(prefix string, fn func(it item) bool) {
	if k, ok := kindOf(prefix); ok && sparseKind(k.kind) && v.s.kindEmpty(k) {
		return // the kind holds no key in the account: nothing to search
	}
	v.s.tree.Ascend(item{key: prefix}, func(it item) bool {
		if !strings.HasPrefix(it.key, prefix) {
			return false
		}
		return fn(it)
	})
}

// count is CountRange without folding; walked reports whether it walked the
// whole range (at most smallRange keys).
func (v View) count(prefix string) (n int, walked bool) {
	walked = true
	v.walk(prefix, func(item) bool {
		n++
		if n > smallRange {
			walked = false
			return false
		}
		return true
	})
	if walked {
		return n, true
	}
	return v.rank(rangeEnd(prefix)) - v.rank(prefix), false
}

// CountRange is the number of keys in the range prefix. A tracking view folds
// the count and, for a range small enough to be walked, each key with
// its mod revision.
func (v View) CountRange(prefix string) int {
	r := v.r
	if r == nil {
		n, _ := v.count(prefix)
		return n
	}
	var n int
	if r.t == nil {
		// A tracking view that keeps no keys walks the range once,
		// folding as it counts; past smallRange keys it takes the
		// digest back to the start of the range, so it folds exactly
		// what the guarded view below folds (an If-Match compares the
		// two).
		h0, walked := r.h, true
		v.walk(prefix, func(it item) bool {
			n++
			if n > smallRange {
				walked = false
				return false
			}
			r.entry(it)
			return true
		})
		if !walked {
			r.h = h0
			n = v.rank(rangeEnd(prefix)) - v.rank(prefix)
		}
	} else {
		var walked bool
		n, walked = v.count(prefix)
		r.rangeStart(prefix)
		if walked {
			v.walk(prefix, func(it item) bool { r.entry(it); return true })
		}
	}
	r.tag(tagCount)
	r.str(prefix)
	r.num(int64(n))
	return n
}

// EachRange calls fn with the name (the key after prefix) and value of every
// key in the range, in order, until fn returns false. A tracking view
// folds each key visited with its mod revision, then an end marker.
func (v View) EachRange(prefix string, fn func(name, value string) bool) {
	r := v.r
	if r == nil {
		v.walk(prefix, func(it item) bool { return fn(it.key[len(prefix):], it.value) })
		return
	}
	r.rangeStart(prefix)
	v.walk(prefix, func(it item) bool {
		r.entry(it)
		return fn(it.key[len(prefix):], it.value)
	})
	r.tag(tagEnd)
	r.str(prefix)
}

// NamesRange lists the names in the range, in order.
func (v View) NamesRange(prefix string) []string {
	var out []string
	v.EachRange(prefix, func(name, _ string) bool {
		out = append(out, name)
		return true
	})
	return out
}

// PageRange returns up to limit names of the range starting at offset, and the
// range's total count. It costs O(log² n + limit), whatever the range size.
// A tracking view folds the names returned (each key with its mod
// revision) and the count.
func (v View) PageRange(prefix string, offset, limit int) (names []string, count int) {
	r := v.r
	if r == nil {
		return v.page(prefix, offset, limit, nil)
	}
	r.rangeStart(prefix)
	r.tag(tagPage)
	r.str(prefix)
	names, count = v.page(prefix, offset, limit, r.entry) // folds each item returned
	r.num(int64(count))
	return names, count
}

// page is PageRange without folding; seen, if not nil, is called with each
// item returned.
func (v View) page(prefix string, offset, limit int, seen func(item)) (names []string, count int) {
	offset = max(offset, 0)
	if offset == 0 {
		// The first page needs no rank: walk from the range's start.
		if limit > 0 {
			names = make([]string, 0, min(limit, 64))
			v.walk(prefix, func(it item) bool {
				names = append(names, it.key[len(prefix):])
				if seen != nil {
					seen(it)
				}
				return len(names) < limit
			})
		}
		count, _ = v.count(prefix)
		return names, count
	}
	start := v.rank(prefix)
	count = v.rank(rangeEnd(prefix)) - start
	if offset >= count || limit <= 0 {
		return nil, count
	}
	first, _ := v.s.tree.GetAt(start + offset)
	names = make([]string, 0, min(limit, count-offset))
	v.s.tree.Ascend(first, func(it item) bool {
		if len(names) == limit || !strings.HasPrefix(it.key, prefix) {
			return false
		}
		names = append(names, it.key[len(prefix):])
		if seen != nil {
			seen(it)
		}
		return true
	})
	return names, count
}

// FilterPageRange is PageRange over the names of the range that match. The full
// list of matches is memoised per (range, pattern) until anything in the
// owning account changes, so paging through a filtered collection scans
// it once. A tracking view folds the names returned (each key with its
// mod revision) and the count of matches.
func (v View) FilterPageRange(prefix, pattern string, match func(name string) bool, offset, limit int) (names []string, count int) {
	memoKey := prefix + "\x00" + pattern
	rev := v.rangeRev(prefix)
	c := v.s.c
	c.filterMu.Lock()
	res, ok := c.filterMemo[memoKey]
	c.filterMu.Unlock()
	if !ok || res.rev != rev {
		// Concurrent requests for the same stale result share one scan.
		scan := v.plain()
		x, _, _ := c.filterScans.Do(memoKey+"\x00"+strconv.FormatInt(rev, 10), func() (any, error) {
			var all []string
			scan.EachRange(prefix, func(name, _ string) bool {
				if match(name) {
					all = append(all, name)
				}
				return true
			})
			r := &filterResult{rev: rev, names: all}
			c.filterMu.Lock()
			if len(c.filterMemo) >= 1024 {
				for k := range c.filterMemo { // drop an arbitrary entry
					delete(c.filterMemo, k)
					break
				}
			}
			c.filterMemo[memoKey] = r
			c.filterMu.Unlock()
			return r, nil
		})
		res = x.(*filterResult)
	}
	count = len(res.names)
	offset = max(offset, 0)
	if offset < count && limit > 0 {
		names = res.names[offset:min(offset+limit, count)]
	}
	if r := v.r; r != nil {
		// A filtered page shows the names it returns and the count; what
		// an expanded item shows is folded when it is read. Only a
		// guarded view needs each returned key's revision (as a guard).
		r.rangeStart(prefix)
		r.tag(tagPage)
		r.str(prefix)
		for _, name := range names {
			r.tag(tagEntry)
			r.str(name)
			if r.t != nil {
				var mod int64
				if it, ok := v.get(prefix + name); ok {
					mod = it.mod
				}
				r.t.expectMod(prefix+name, mod)
			}
		}
		r.num(int64(count))
	}
	return names, count
}

// rangeRev is the revision after which the range's contents are known
// unchanged: the owning account's, or the account list's.
func (v View) rangeRev(prefix string) int64 {
	if strings.HasPrefix(prefix, AccountsRange) {
		return v.s.accountsRev
	}
	if k, ok := kindOf(prefix); ok {
		return v.s.kindRev(k)
	}
	return v.s.rev
}

// Account returns account a's record.
func (v View) Account(a string) (Account, bool) {
	val, ok := v.Get(AccountKey(a))
	if !ok {
		return Account{}, false
	}
	acc, err := DecodeAccount(val)
	return acc, err == nil
}

// User returns user u of account a.
func (v View) User(a, u string) (User, bool) {
	val, ok := v.getItem(a, KindUser, u)
	if !ok {
		return User{}, false
	}
	usr, err := DecodeUser(val)
	return usr, err == nil
}

// Parent returns the parent of account a, if it has one.
func (v View) Parent(a string) (string, bool) {
	acc, ok := v.Account(a)
	if !ok || acc.Parent == "" {
		return "", false
	}
	return acc.Parent, true
}
