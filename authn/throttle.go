package authn

import (
	"container/list"
	"context"
	"crypto/sha256"
	"hash/maphash"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ThrottleLimits configure a Throttle. For each counter, a zero failure
// count or window means the default (user: 10 failures per 15 minutes;
// address: 50 failures per minute); a negative failure count disables that
// counter.
type ThrottleLimits struct {
	UserFailures    int
	UserWindow      time.Duration
	AddressFailures int
	AddressWindow   time.Duration
	// UserDisableFailures is the permanent lockout: consecutive failed
	// sign-ins of an existing, enabled user that disable it (0: off).
	// Only shared counts keep them (ShareUserCounts); it is passed on to
	// SharedCounts.Fail.
	UserDisableFailures int
}

// Throttle defaults.
const (
	DefaultUserFailures    = 10
	DefaultUserWindow      = 15 * time.Minute
	DefaultAddressFailures = 50
	DefaultAddressWindow   = time.Minute

	// defaultMaxTrackedKeys bounds each of the user and address tables.
	defaultMaxTrackedKeys = 1_000_000
	// maxKeyBytes: longer keys are replaced by their SHA-256 digest, so a
	// hostile client cannot make the throttle store megabyte user names.
	maxKeyBytes = 128
	// sweepBatch bounds the expired keys dropped per call, to keep every
	// call's latency small; expired state is also ignored lazily.
	sweepBatch = 64
)

// Throttle counts failed sign-in attempts per user name and per client
// address and refuses attempts once either count reaches its limit (the
// Keycloak brute-force-detection pattern; with shared counts, an
// administrator can also clear a user's count, and consecutive failures
// can disable the user: see ShareUserCounts).
//
// It uses a sliding window (a log of failure times): a failure counts for
// exactly one window after it happened, so there is no burst at a fixed
// window's boundary, and retryAfter is exact — the time until the oldest
// counted failure leaves its window. Only the most recent limit failures of
// a key are kept, so memory per key is bounded by the limit.
//
// User names are keys exactly as the caller passes them: the throttle never
// knows whether a user exists, so an unknown name is throttled exactly like
// a known one. Callers should pass the same normalised form (case folding,
// trimming) they use to look users up, and may group addresses (for
// example an IPv6 /64) before passing them.
//
// State is bounded: calls drop keys whose every failure has left the
// window, and each table tracks at most 1,000,000 keys (concurrent
// failures of new keys may pass it by one each, briefly); when full, the
// key whose last failure is oldest is evicted (expired keys, if any, are
// exactly those). A Throttle is safe for concurrent use.
//
// The common path takes no lock: each table is split into shards by a
// hash of the key, each with its own mutex, and keeps atomic counts: of
// its tracked keys, of the keys per hash slot (1,024 slots per shard, a
// counting filter), and when each shard's least recently failed key
// expires. So Allowed for a name and an address with no recorded
// failures, and Succeed for a name with none, read a few atomics and lock
// nothing unless another tracked key shares their slot (then they lock
// their shard only); Fail locks the shards of its name and address.
type Throttle struct {
	now func() int64 // UnixNano

	users failTable
	addrs failTable

	shared     SharedCounts      // nil: user counts are this instance's only
	onShared   func(error)       // told when a shared count cannot be written
	disableAt  int               // UserDisableFailures
	onDisabled func(user string) // told when a failure disabled the user
	onRefused  func(locked bool) // told of each refusal (metrics)
}

// SharedCounts are per-name failure counts shared by every instance (in
// etcd: storage.FailureCounts), so that N instances allow a user the
// same number of failures as one. Count and Holds are on the path of
// every sign-in and must not wait for the network (they read a
// watch-fed cache); Fail and Clear write.
type SharedCounts interface {
	// Count returns name's failures in its current window and when that
	// window ends (0: none).
	Count(name string) (n int, until time.Time)
	// Holds reports whether there is anything for Clear to drop (a
	// count, or consecutive failures).
	Holds(name string) bool
	// Fail adds a failure (from client address) to name's count,
	// starting a window of the given length when none is running;
	// concurrent calls on any instance are all counted. lock is the
	// limit the count is judged by (kept with it, so that a lockout can
	// be shown). With disable > 0 it also counts the consecutive
	// failures of the user name stands for, and the one that reaches
	// disable disables the user (audited) and reports disabled.
	Fail(ctx context.Context, name, address string, window time.Duration, lock, disable int) (disabled bool, err error)
	// Clear drops name's count and consecutive failures.
	Clear(ctx context.Context, name string) error
}

// sharedTimeout bounds a shared count's write.
const sharedTimeout = 10 * time.Second

// ShareUserCounts makes the user counts of sign-in names ("account\user",
// names holding a backslash) shared through sc: a failure goes to the
// shared count, and only a failure the shared count could not take
// (etcd unreachable: reported to onErr, nil ignores it) goes to this
// instance's own sliding window instead. Allowed refuses when either
// reaches the user limit, Succeed clears both. So a lockout cleared in
// etcd (a success or an administrator's clear, on any instance) stops
// every instance refusing as soon as its watch delivers it: no
// instance's own window keeps counting the failures etcd holds. Other
// names (an API key's or a token's, which stand for an address) and the
// address counts stay per instance. Call it before the Throttle is used.
func (t *Throttle) ShareUserCounts(sc SharedCounts, onErr func(error)) {
	t.shared, t.onShared = sc, onErr
}

// OnUserDisabled sets fn to be told the sign-in name of a user a failure
// disabled (the permanent lockout), after the write: the caller drops
// the user's cached credentials. Call it before the Throttle is used.
func (t *Throttle) OnUserDisabled(fn func(user string)) { t.onDisabled = fn }

// OnRefused sets fn to be told of every attempt Allowed refuses; locked
// says the user name's count blocked it (a lockout), not only the
// address's. fn must be cheap (a counter). Call it before the Throttle
// is used.
func (t *Throttle) OnRefused(fn func(locked bool)) { t.onRefused = fn }

// Forget drops this instance's own count of user (an administrator
// cleared the user's lockout; the shared count is the caller's write).
func (t *Throttle) Forget(user string) { t.forgetLocal(user) }

// sharedName reports whether user's count is shared.
func (t *Throttle) sharedName(user string) bool {
	return t.shared != nil && t.users.limit >= 0 && strings.Contains(user, `\`)
}

// sharedBlockedFor returns how long user stays blocked by the shared
// count, in nanoseconds (<= 0: not blocked).
func (t *Throttle) sharedBlockedFor(user string, now int64) int64 {
	if !t.sharedName(user) {
		return 0
	}
	n, until := t.shared.Count(user)
	if n < t.users.limit {
		return 0
	}
	return until.UnixNano() - now
}

func (t *Throttle) sharedErr(err error) {
	if err != nil && t.onShared != nil {
		t.onShared(err)
	}
}

// throttleShards is the number of shards of each table and shardSlots
// the counting filter's slots per shard (powers of two).
const (
	throttleShards = 16
	shardSlots     = 1024
)

// failTable is one counter family (users or addresses).
type failTable struct {
	limit   int   // < 0: disabled
	window  int64 // nanoseconds
	maxKeys int
	seed    maphash.Seed
	total   atomic.Int64 // tracked keys in all shards
	evictMu sync.Mutex   // serialises evictions when the table is full
	shards  [throttleShards]failShard
}

// failShard is the part of a table whose keys hash to it.
type failShard struct {
	mu     sync.Mutex
	recs   map[string]*failRecord
	lru    list.List    // of *failRecord, least recently failed first
	expiry atomic.Int64 // when the least recently failed key expires (MaxInt64: none)
	// slots[i] counts the tracked keys of slot i: 0 means a key of that
	// slot is not tracked, without the lock.
	slots [shardSlots]atomic.Int32
	_     [64]byte // keeps shards' locks off each other's cache lines
}

type failRecord struct {
	key   string
	slot  int
	times []int64 // UnixNano of the most recent failures, oldest first, len <= limit
	elem  *list.Element
}

// NewThrottle returns a Throttle with limits l (zero fields take the
// defaults) and clock now (nil means the system clock, read through the
// monotonic clock from the Throttle's creation on: half the cost of
// time.Now, and windows immune to steps of the wall clock).
func NewThrottle(l ThrottleLimits, now func() time.Time) *Throttle {
	t := &Throttle{now: func() int64 { return now().UnixNano() }}
	if now == nil {
		base := time.Now()
		wall := base.UnixNano()
		t.now = func() int64 { return wall + int64(time.Since(base)) }
	}
	t.disableAt = max(l.UserDisableFailures, 0)
	t.users.init(l.UserFailures, l.UserWindow, DefaultUserFailures, DefaultUserWindow)
	t.addrs.init(l.AddressFailures, l.AddressWindow, DefaultAddressFailures, DefaultAddressWindow)
	return t
}

func (ft *failTable) init(limit int, window time.Duration, defLimit int, defWindow time.Duration) {
	if limit == 0 {
		limit = defLimit
	}
	if window <= 0 {
		window = defWindow
	}
	ft.limit, ft.window, ft.maxKeys = limit, int64(window), defaultMaxTrackedKeys
	ft.seed = maphash.MakeSeed()
	for i := range ft.shards {
		sh := &ft.shards[i]
		sh.recs = make(map[string]*failRecord)
		sh.expiry.Store(math.MaxInt64)
	}
}

// Allowed reports whether a sign-in attempt for user from addr may proceed.
// If not, retryAfter is the time until the oldest counted failure of the
// blocking counter leaves its window (the longer one if both block),
// rounded up to whole seconds and at least one second.
func (t *Throttle) Allowed(user, addr string) (ok bool, retryAfter time.Duration) {
	shared := t.sharedName(user)
	if !shared && t.users.total.Load() == 0 && t.addrs.total.Load() == 0 {
		return true, 0 // nothing recorded: nothing blocks, nothing to sweep
	}
	now := t.now()
	t.users.sweep(now)
	t.addrs.sweep(now)
	userWait := t.users.blockedFor(user, now)
	if shared {
		userWait = max(userWait, t.sharedBlockedFor(user, now))
	}
	wait := max(userWait, t.addrs.blockedFor(addr, now))
	if wait <= 0 {
		return true, 0
	}
	if t.onRefused != nil {
		// Names without a backslash (api-key@…, client@…) stand for an
		// address: only a sign-in name's count is a lockout.
		t.onRefused(userWait > 0 && strings.Contains(user, `\`))
	}
	d := (time.Duration(wait) + time.Second - 1) / time.Second * time.Second
	return false, max(d, time.Second)
}

// Fail records a failed attempt for both user and addr. A shared user
// count is written before Fail returns (one etcd transaction); the
// instance's own user count takes the failure only when that write
// fails.
func (t *Throttle) Fail(user, addr string) {
	now := t.now()
	t.users.sweep(now)
	t.addrs.sweep(now)
	t.addrs.record(addr, now)
	if t.sharedName(user) {
		ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
		disabled, err := t.shared.Fail(ctx, user, addr, time.Duration(t.users.window), t.users.limit, t.disableAt)
		cancel()
		if err == nil {
			if disabled && t.onDisabled != nil {
				t.onDisabled(user)
			}
			return
		}
		t.sharedErr(err)
	}
	t.users.record(user, now)
}

// Succeed clears user's failure count. The address count is kept, so a
// client cannot reset its own address limit by signing in to an account it
// controls.
func (t *Throttle) Succeed(user string) {
	if t.sharedName(user) && t.shared.Holds(user) {
		ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
		t.sharedErr(t.shared.Clear(ctx, user))
		cancel()
	}
	t.forgetLocal(user)
}

// forgetLocal drops this instance's own count of user.
func (t *Throttle) forgetLocal(user string) {
	ft := &t.users
	if ft.total.Load() == 0 {
		return
	}
	key := normKey(user)
	sh, slot := ft.shard(key)
	if sh.slots[slot].Load() == 0 {
		return
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if r := sh.recs[key]; r != nil {
		ft.remove(sh, r)
	}
}

// normKey bounds key size: keys longer than maxKeyBytes are replaced by a
// NUL-prefixed SHA-256 digest.
func normKey(k string) string {
	if len(k) <= maxKeyBytes {
		return k
	}
	sum := sha256.Sum256([]byte(k))
	return "\x00sha256:" + string(sum[:])
}

// shard returns the shard of (normalised) key and its slot there.
func (ft *failTable) shard(key string) (*failShard, int) {
	h := maphash.String(ft.seed, key)
	return &ft.shards[h%throttleShards], int(h / throttleShards % shardSlots)
}

// prune drops failures that have left the window; it reports whether any
// remain.
func (ft *failTable) prune(r *failRecord, now int64) bool {
	i := 0
	for i < len(r.times) && r.times[i]+ft.window <= now {
		i++
	}
	if i > 0 {
		r.times = append(r.times[:0], r.times[i:]...)
	}
	return len(r.times) > 0
}

// blockedFor returns how long key k stays blocked, in nanoseconds (<= 0:
// not blocked).
func (ft *failTable) blockedFor(k string, now int64) int64 {
	if ft.limit < 0 || ft.total.Load() == 0 {
		return 0
	}
	key := normKey(k)
	sh, slot := ft.shard(key)
	if sh.slots[slot].Load() == 0 {
		return 0
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r := sh.recs[key]
	if r == nil {
		return 0
	}
	if !ft.prune(r, now) {
		ft.remove(sh, r)
		return 0
	}
	if len(r.times) < ft.limit {
		return 0
	}
	// len(times) == limit: blocked until the oldest kept failure expires.
	return r.times[0] + ft.window - now
}

func (ft *failTable) record(k string, now int64) {
	if ft.limit < 0 {
		return
	}
	key := normKey(k)
	sh, slot := ft.shard(key)
	sh.mu.Lock()
	r := sh.recs[key]
	if r == nil && ft.total.Load() >= int64(ft.maxKeys) {
		sh.mu.Unlock()
		ft.makeRoom()
		sh.mu.Lock()
		r = sh.recs[key]
	}
	defer sh.mu.Unlock()
	if r == nil {
		r = &failRecord{key: key, slot: slot, times: make([]int64, 0, min(ft.limit, 4))}
		r.elem = sh.lru.PushBack(r)
		sh.recs[key] = r
		sh.slots[slot].Add(1)
		ft.total.Add(1)
	} else {
		ft.prune(r, now)
		sh.lru.MoveToBack(r.elem)
	}
	if len(r.times) == ft.limit {
		r.times = append(r.times[:0], r.times[1:]...)
	}
	r.times = append(r.times, now)
	ft.setExpiry(sh)
}

// makeRoom evicts the least recently failed keys of the whole table
// until it tracks fewer than maxKeys. No shard lock may be held.
func (ft *failTable) makeRoom() {
	ft.evictMu.Lock()
	defer ft.evictMu.Unlock()
	for ft.total.Load() >= int64(ft.maxKeys) {
		var oldest *failShard
		var at int64
		for i := range ft.shards {
			sh := &ft.shards[i]
			sh.mu.Lock()
			if f := sh.lru.Front(); f != nil {
				r := f.Value.(*failRecord)
				if last := r.times[len(r.times)-1]; oldest == nil || last < at {
					oldest, at = sh, last
				}
			}
			sh.mu.Unlock()
		}
		if oldest == nil {
			return
		}
		oldest.mu.Lock()
		if f := oldest.lru.Front(); f != nil {
			ft.remove(oldest, f.Value.(*failRecord))
		}
		oldest.mu.Unlock()
	}
}

// sweep drops, in each shard whose least recently failed key has
// expired, up to sweepBatch such keys. A shard with nothing expired costs
// one atomic load.
func (ft *failTable) sweep(now int64) {
	if ft.total.Load() == 0 {
		return
	}
	for i := range ft.shards {
		sh := &ft.shards[i]
		if now < sh.expiry.Load() {
			continue
		}
		sh.mu.Lock()
		for range sweepBatch {
			f := sh.lru.Front()
			if f == nil {
				break
			}
			r := f.Value.(*failRecord)
			if r.times[len(r.times)-1]+ft.window > now {
				break
			}
			ft.remove(sh, r)
		}
		sh.mu.Unlock()
	}
}

// remove drops r from sh (under sh.mu).
func (ft *failTable) remove(sh *failShard, r *failRecord) {
	delete(sh.recs, r.key)
	sh.lru.Remove(r.elem)
	sh.slots[r.slot].Add(-1)
	ft.total.Add(-1)
	ft.setExpiry(sh)
}

// setExpiry publishes when sh's least recently failed key expires (under
// sh.mu).
func (ft *failTable) setExpiry(sh *failShard) {
	e := int64(math.MaxInt64)
	if f := sh.lru.Front(); f != nil {
		r := f.Value.(*failRecord)
		e = r.times[len(r.times)-1] + ft.window
	}
	sh.expiry.Store(e)
}

// tracked returns the number of tracked keys (for tests).
func (ft *failTable) tracked() int { return int(ft.total.Load()) }

// rec returns key's record (for tests; not safe for concurrent use).
func (ft *failTable) rec(key string) *failRecord {
	k := normKey(key)
	sh, _ := ft.shard(k)
	return sh.recs[k]
}

// keys returns the tracked keys (for tests; not safe for concurrent use).
func (ft *failTable) keys() []string {
	var out []string
	for i := range ft.shards {
		for k := range ft.shards[i].recs {
			out = append(out, k)
		}
	}
	return out
}
