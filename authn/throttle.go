package authn

import (
	"container/list"
	"crypto/sha256"
	"sync"
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
// Keycloak brute-force-detection pattern, without lockout by an
// administrator).
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
// State is bounded: each call drops some keys whose every failure has left
// the window, and each table tracks at most 1,000,000 keys; when full, the
// key whose last failure is oldest is evicted (expired keys, if any, are
// exactly those). A Throttle is safe for concurrent use.
type Throttle struct {
	now func() time.Time

	mu    sync.Mutex
	users failTable
	addrs failTable
}

// failTable is one counter family (users or addresses).
type failTable struct {
	limit   int   // < 0: disabled
	window  int64 // nanoseconds
	maxKeys int
	recs    map[string]*failRecord
	lru     list.List // of *failRecord, least recently failed first
}

type failRecord struct {
	key   string
	times []int64 // UnixNano of the most recent failures, oldest first, len <= limit
	elem  *list.Element
}

// NewThrottle returns a Throttle with limits l (zero fields take the
// defaults) and clock now (nil means time.Now).
func NewThrottle(l ThrottleLimits, now func() time.Time) *Throttle {
	if now == nil {
		now = time.Now
	}
	t := &Throttle{now: now}
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
	ft.recs = make(map[string]*failRecord)
}

// Allowed reports whether a sign-in attempt for user from addr may proceed.
// If not, retryAfter is the time until the oldest counted failure of the
// blocking counter leaves its window (the longer one if both block),
// rounded up to whole seconds and at least one second.
func (t *Throttle) Allowed(user, addr string) (ok bool, retryAfter time.Duration) {
	now := t.now().UnixNano()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.users.sweep(now)
	t.addrs.sweep(now)
	wait := max(t.users.blockedFor(normKey(user), now), t.addrs.blockedFor(normKey(addr), now))
	if wait <= 0 {
		return true, 0
	}
	d := (time.Duration(wait) + time.Second - 1) / time.Second * time.Second
	return false, max(d, time.Second)
}

// Fail records a failed attempt for both user and addr.
func (t *Throttle) Fail(user, addr string) {
	now := t.now().UnixNano()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.users.sweep(now)
	t.addrs.sweep(now)
	t.users.record(normKey(user), now)
	t.addrs.record(normKey(addr), now)
}

// Succeed clears user's failure count. The address count is kept, so a
// client cannot reset its own address limit by signing in to an account it
// controls.
func (t *Throttle) Succeed(user string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r := t.users.recs[normKey(user)]; r != nil {
		t.users.remove(r)
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

// blockedFor returns how long key stays blocked, in nanoseconds (<= 0: not
// blocked).
func (ft *failTable) blockedFor(key string, now int64) int64 {
	if ft.limit < 0 {
		return 0
	}
	r := ft.recs[key]
	if r == nil {
		return 0
	}
	if !ft.prune(r, now) {
		ft.remove(r)
		return 0
	}
	if len(r.times) < ft.limit {
		return 0
	}
	// len(times) == limit: blocked until the oldest kept failure expires.
	return r.times[0] + ft.window - now
}

func (ft *failTable) record(key string, now int64) {
	if ft.limit < 0 {
		return
	}
	r := ft.recs[key]
	if r == nil {
		for len(ft.recs) >= ft.maxKeys {
			ft.remove(ft.lru.Front().Value.(*failRecord))
		}
		r = &failRecord{key: key, times: make([]int64, 0, min(ft.limit, 4))}
		r.elem = ft.lru.PushBack(r)
		ft.recs[key] = r
	} else {
		ft.prune(r, now)
		ft.lru.MoveToBack(r.elem)
	}
	if len(r.times) == ft.limit {
		r.times = append(r.times[:0], r.times[1:]...)
	}
	r.times = append(r.times, now)
}

// sweep drops up to sweepBatch least recently failed keys whose newest
// failure has left the window.
func (ft *failTable) sweep(now int64) {
	for i := 0; i < sweepBatch; i++ {
		f := ft.lru.Front()
		if f == nil {
			return
		}
		r := f.Value.(*failRecord)
		if r.times[len(r.times)-1]+ft.window > now {
			return
		}
		ft.remove(r)
	}
}

func (ft *failTable) remove(r *failRecord) {
	delete(ft.recs, r.key)
	ft.lru.Remove(r.elem)
}

// tracked returns the number of tracked keys (for tests).
func (ft *failTable) tracked() int { return len(ft.recs) }
