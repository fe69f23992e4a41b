package storage

import (
	"strconv"
	"strings"
)

// View is a consistent read of one snapshot of the cache. It never
// changes, whatever the cache applies meanwhile, and reading it takes no
// lock: a slow reader delays no one. Use it inside the callback of
// Store.Read. Every method is O(log n) or O(log n + items visited).
type View struct{ s *snapshot }

// Rev is the revision the view shows.
func (v View) Rev() int64 { return v.s.rev }

// VersionRev is the mod revision of account a's version key: the
// revision of its last change, the same on every instance.
func (v View) VersionRev(a string) int64 {
	if it, ok := v.get(VersionKey(a)); ok {
		return it.mod
	}
	return 0
}

// KindRev is the last revision that changed a kind range of account a
// (kind "" is the account's own record); memoised views that depend on a
// few ranges check these instead of the whole account.
func (v View) KindRev(a, kind string) int64 { return v.s.kindRev(kindKey{a, kind}) }

// AccountsRev is the last revision that changed any account record.
func (v View) AccountsRev() int64 { return v.s.accountsRev }

func (v View) get(key string) (*item, bool) {
	return v.s.tree.Get(&item{key: key})
}

// Get returns the value stored at key.
func (v View) Get(key string) (string, bool) {
	it, ok := v.get(key)
	if !ok {
		return "", false
	}
	return it.value, true
}

// Has reports whether key exists.
func (v View) Has(key string) bool {
	_, ok := v.get(key)
	return ok
}

// CreateRevision returns the etcd create revision of key (0 if absent);
// it serves as a stable numeric id.
func (v View) CreateRevision(key string) int64 {
	if it, ok := v.get(key); ok {
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

// Count is the number of keys in the range prefix.
func (v View) Count(prefix string) int {
	n, done := 0, true
	v.s.tree.Ascend(&item{key: prefix}, func(it *item) bool {
		if !strings.HasPrefix(it.key, prefix) {
			return false
		}
		n++
		if n > smallRange {
			done = false
			return false
		}
		return true
	})
	if done {
		return n
	}
	return v.rank(rangeEnd(prefix)) - v.rank(prefix)
}

// Each calls fn with the name (the key after prefix) and value of every
// key in the range, in order, until fn returns false.
func (v View) Each(prefix string, fn func(name, value string) bool) {
	v.s.tree.Ascend(&item{key: prefix}, func(it *item) bool {
		if !strings.HasPrefix(it.key, prefix) {
			return false
		}
		return fn(it.key[len(prefix):], it.value)
	})
}

// Names lists the names in the range, in order.
func (v View) Names(prefix string) []string {
	var out []string
	v.Each(prefix, func(name, _ string) bool {
		out = append(out, name)
		return true
	})
	return out
}

// Page returns up to limit names of the range starting at offset, and the
// range's total count. It costs O(log² n + limit), whatever the range size.
func (v View) Page(prefix string, offset, limit int) (names []string, count int) {
	offset = max(offset, 0)
	if offset == 0 {
		// The first page needs no rank: walk from the range's start.
		if limit > 0 {
			names = make([]string, 0, min(limit, 64))
			v.Each(prefix, func(name, _ string) bool {
				names = append(names, name)
				return len(names) < limit
			})
		}
		return names, v.Count(prefix)
	}
	start := v.rank(prefix)
	count = v.rank(rangeEnd(prefix)) - start
	if offset >= count || limit <= 0 {
		return nil, count
	}
	first, _ := v.s.tree.GetAt(start + offset)
	names = make([]string, 0, min(limit, count-offset))
	v.s.tree.Ascend(first, func(it *item) bool {
		if len(names) == limit || !strings.HasPrefix(it.key, prefix) {
			return false
		}
		names = append(names, it.key[len(prefix):])
		return true
	})
	return names, count
}

// FilterPage is Page over the names of the range that match. The full
// list of matches is memoised per (range, pattern) until anything in the
// owning account changes, so paging through a filtered collection scans
// it once.
func (v View) FilterPage(prefix, pattern string, match func(name string) bool, offset, limit int) (names []string, count int) {
	memoKey := prefix + "\x00" + pattern
	rev := v.rangeRev(prefix)
	c := v.s.c
	c.filterMu.Lock()
	res, ok := c.filterMemo[memoKey]
	c.filterMu.Unlock()
	if !ok || res.rev != rev {
		// Concurrent requests for the same stale result share one scan.
		x, _, _ := c.filterScans.Do(memoKey+"\x00"+strconv.FormatInt(rev, 10), func() (any, error) {
			var all []string
			v.Each(prefix, func(name, _ string) bool {
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
	if offset >= count || limit <= 0 {
		return nil, count
	}
	return res.names[offset:min(offset+limit, count)], count
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
	val, ok := v.Get(ItemKey(a, KindUser, u))
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
