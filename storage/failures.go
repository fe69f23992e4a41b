package storage

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Failure counts: the per-user part of the sign-in throttle, shared by
// every instance (authn.SharedCounts), and the lockouts built on it. A
// name's count is one marker, mark/fail/{h}, where h is the hex
// HMAC-SHA-256 of the sign-in name under the server key "failure-names"
// (names may hold characters a key may not, and a name typed by mistake
// — often a password — is not stored readable). Its value is the count,
// when its window ends and the limit the writer judged it by (so the
// user document can tell a locked name from one with a few failures
// without knowing the configuration); the window starts with the first
// failure and the key carries a lease that ends with it, so etcd drops
// it by itself, while readers go by the stored end (leases outlive it by
// up to a bucket).
//
// A failure is one compare-guarded transaction (Update: the count read
// from the guarded view, the key put back incremented, retried when
// another instance's failure beat it), so concurrent failures on any
// number of instances are counted exactly. The "allowed?" check reads
// the watch-fed cache only: another instance's failure is seen as soon
// as the watch delivers it. A success deletes the key (when the cache
// holds one; otherwise it writes nothing).
//
// Every failing name, known or not, has a key while its window lasts, in
// every instance's cache: the per-address limit bounds how fast one
// client adds them.
//
// Permanent lockout: with a disable threshold, the same transaction also
// counts the consecutive failures of an existing, enabled user in a
// second marker, mark/streak/{h} (same h), which has no lease: it
// survives the temporary window and is dropped only by a success (Clear),
// by an administrator's clear (ClearLockout) or by the write that
// disables the user. It holds the count and the mod revision of the user
// record it counts against: a failure that finds the record at another
// revision starts afresh at 1, so any change of the user record —
// enabling the user again above all, a new password — resets it without
// the user writes knowing of it. Names of unknown or disabled users get
// no streak (an attacker typing names cannot grow it; a streak already
// there is deleted). The failure that reaches the threshold disables the
// user in that very transaction, guarded on the record it read: the user
// record is put back with enabled false, the user's sessions go (as with
// any disable), the streak is deleted and the audit entry is put — so of
// racing failures on several instances exactly one disables and audits.
// A deleted user's streak stays until the next failure of that name.
//
// Reads on hot paths (Count on every sign-in, LockedUntil on every
// rendered user) hash the name with pooled HMAC state into a pooled
// buffer and look the key up untracked, so they allocate nothing.

// failureKind and streakKind are the marker kinds of failure counts and
// of consecutive failures.
const (
	failureKind = "fail"
	streakKind  = "streak"
)

// failureKeyName is the server key names are hashed under, and
// failureServerKey its key.
const (
	failureKeyName   = "failure-names"
	failureServerKey = ServerKeyRange + failureKeyName
)

// FailureCounts is the shared per-name failure counter over a Store.
type FailureCounts struct {
	s    *Store
	key  []byte           // HMAC key for names
	macs *nameMACs        // pooled HMAC state under key
	now  func() time.Time // the clock windows are judged by

	// DisabledEntry, when set, makes the audit entry of a permanent
	// lockout (the caller knows how its API names a user); nil: an entry
	// without a target. Set it before use.
	DisabledEntry func(account, user, address string, failures int) AuditEntry
}

// FailureCounts returns the store's failure counter, reading (creating
// on first use) the server key "failure-names" so every instance hashes
// names alike. now is the clock (nil: time.Now).
func (s *Store) FailureCounts(ctx context.Context, now func() time.Time) (*FailureCounts, error) {
	k, err := s.ServerKey(ctx, failureKeyName)
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &FailureCounts{s: s, key: k, macs: macsFor(hex.EncodeToString(k)), now: now}, nil
}

// nameMACs pools HMAC states under one server key.
type nameMACs struct {
	hexKey string
	pool   sync.Pool // of *nameMAC
}

// nameMAC is reusable HMAC state with scratch space.
type nameMAC struct {
	mac  hash.Hash
	name []byte // the name hashed
	key  []byte // the marker key built
	sum  [sha256.Size]byte
}

// lastMACs is the pool of the server key seen last (every store of one
// installation has the same key; tests with several etcds switch).
var lastMACs atomic.Pointer[nameMACs]

// macsFor returns the pool for the hex-encoded key hexKey.
func macsFor(hexKey string) *nameMACs {
	if m := lastMACs.Load(); m != nil && m.hexKey == hexKey {
		return m
	}
	key, err := hex.DecodeString(hexKey)
	if err != nil || len(key) != ServerKeySize {
		return nil
	}
	m := &nameMACs{hexKey: strings.Clone(hexKey)}
	m.pool.New = func() any { return &nameMAC{mac: hmac.New(sha256.New, key)} }
	lastMACs.Store(m)
	return m
}

// viewMACs returns the pool of the server key in v (untracked), nil when
// there is none yet (then no name has a count either).
func viewMACs(v View) *nameMACs {
	it, ok := v.get(failureServerKey)
	if !ok {
		return nil
	}
	return macsFor(it.value)
}

// get takes a state from the pool.
func (m *nameMACs) get() *nameMAC { return m.pool.Get().(*nameMAC) }

// put returns a state to the pool.
func (m *nameMACs) put(nm *nameMAC) { m.pool.Put(nm) }

// hashName hashes name (or, with user set, account\user).
func (nm *nameMAC) hashName(name, user string) {
	nm.name = append(nm.name[:0], name...)
	if user != "" {
		nm.name = append(append(nm.name, '\\'), user...)
	}
	nm.mac.Reset()
	nm.mac.Write(nm.name)
	nm.mac.Sum(nm.sum[:0])
}

// markerKey returns the marker key of kind for the last hash, as a string
// over the state's buffer: valid only until the state is used again or
// returned, and never to be kept (an untracked lookup only).
func (nm *nameMAC) markerKey(kind string) string {
	nm.key = append(append(append(nm.key[:0], MarkerRange...), kind...), '/')
	nm.key = hex.AppendEncode(nm.key, nm.sum[:])
	return unsafe.String(unsafe.SliceData(nm.key), len(nm.key))
}

// keys returns name's failure and streak keys (strings of their own).
func (f *FailureCounts) keys(name string) (fail, streak string) {
	nm := f.macs.get()
	defer f.macs.put(nm)
	nm.hashName(name, "")
	return strings.Clone(nm.markerKey(failureKind)), strings.Clone(nm.markerKey(streakKind))
}

// FailureKey is the key of name's failure count (for tests that look at
// etcd directly).
func (f *FailureCounts) FailureKey(name string) string {
	k, _ := f.keys(name)
	return k
}

// StreakKey is the key of name's consecutive failures (for tests that
// look at etcd directly).
func (f *FailureCounts) StreakKey(name string) string {
	_, k := f.keys(name)
	return k
}

// encodeFailures stores count n whose window ends at until, judged by
// limit lock (0: unknown).
func encodeFailures(n int, until time.Time, lock int) string {
	return encodeFields(fields{strconv.FormatInt(until.UnixNano(), 10), strconv.Itoa(n), strconv.Itoa(lock)})
}

// decodeFailures returns a stored count, its window's end and its limit,
// if the window has not ended at now.
func decodeFailures(stored string, now time.Time) (n int, until time.Time, lock int, ok bool) {
	var f [3]string
	if err := decodeFields(stored, f[:]); err != nil {
		return 0, time.Time{}, 0, false
	}
	end, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || now.UnixNano() >= end {
		return 0, time.Time{}, 0, false
	}
	n, err = strconv.Atoi(f[1])
	if err != nil || n <= 0 {
		return 0, time.Time{}, 0, false
	}
	lock, _ = strconv.Atoi(f[2]) // absent in records of older writers: unknown
	return n, time.Unix(0, end), lock, true
}

// encodeStreak stores n consecutive failures against the user record at
// mod revision rev.
func encodeStreak(n int, rev int64) string {
	return encodeFields(fields{strconv.Itoa(n), strconv.FormatInt(rev, 10)})
}

// decodeStreak returns the consecutive failures stored, if they count
// against the user record at mod revision rev (0 otherwise).
func decodeStreak(stored string, rev int64) int {
	var f [2]string
	if decodeFields(stored, f[:]) != nil {
		return 0
	}
	n, err := strconv.Atoi(f[0])
	r, rerr := strconv.ParseInt(f[1], 10, 64)
	if err != nil || rerr != nil || r != rev || n < 0 {
		return 0
	}
	return n
}

// Failures returns the failure count stored at key (a FailureKey) and
// when its window ends, if it has not ended at now.
func (v View) Failures(key string, now time.Time) (n int, until time.Time) {
	stored, ok := v.Get(key)
	if !ok {
		return 0, time.Time{}
	}
	n, until, _, _ = decodeFailures(stored, now)
	return n, until
}

// LockedUntil reports whether user u of account a (the sign-in name
// "a\u") is locked out at now — its failure count has reached the limit
// its writer judged it by — and until when. It reads untracked and
// allocates nothing when the user is not locked: a caller that shows it
// folds what it shows itself (Mix).
func (v View) LockedUntil(a, u string, now time.Time) (time.Time, bool) {
	if !v.anyFailures() {
		return time.Time{}, false
	}
	m := viewMACs(v)
	if m == nil {
		return time.Time{}, false
	}
	nm := m.get()
	nm.hashName(a, u)
	it, ok := v.get(nm.markerKey(failureKind))
	m.put(nm)
	if !ok {
		return time.Time{}, false
	}
	n, until, lock, ok := decodeFailures(it.value, now)
	if !ok || lock <= 0 || n < lock {
		return time.Time{}, false
	}
	return until, true
}

// failurePrefix and streakPrefix are the ranges of failure counts and
// of consecutive failures.
const (
	failurePrefix = MarkerRange + failureKind + "/"
	streakPrefix  = MarkerRange + streakKind + "/"
)

// anyFailures reports whether the snapshot holds any failure count
// (known when it was published: no seek).
func (v View) anyFailures() bool { return v.s.anyFailure }

// ready returns the latest cache snapshot's view, if the cache is ready.
func (f *FailureCounts) ready() (View, bool) {
	c := f.s.cache
	snap := c.snap.Load()
	if snap == nil || !c.ready(snap) {
		return View{}, false
	}
	return snap.view, true
}

// Count returns name's failure count in its current window and when that
// window ends (0 and the zero time: none). It reads the latest cache
// snapshot without waiting and without allocating; while the cache is
// not ready it answers 0, so the caller's own counts decide.
func (f *FailureCounts) Count(name string) (n int, until time.Time) {
	v, ok := f.ready()
	if !ok || !v.anyFailures() {
		return 0, time.Time{}
	}
	nm := f.macs.get()
	nm.hashName(name, "")
	it, ok := v.get(nm.markerKey(failureKind))
	f.macs.put(nm)
	if !ok {
		return 0, time.Time{}
	}
	n, until, _, _ = decodeFailures(it.value, f.now())
	return n, until
}

// Holds reports whether the cache holds a failure count or consecutive
// failures of name (what Clear would delete), without allocating.
func (f *FailureCounts) Holds(name string) bool {
	v, ok := f.ready()
	if !ok || !v.s.anyFailure && !v.s.anyStreak {
		return false // nothing counted anywhere: no name to hash
	}
	nm := f.macs.get()
	defer f.macs.put(nm)
	nm.hashName(name, "")
	if _, ok := v.get(nm.markerKey(failureKind)); ok {
		return true
	}
	_, ok = v.get(nm.markerKey(streakKind))
	return ok
}

// splitUser splits a sign-in name into a valid account and user.
func splitUser(name string) (a, u string, ok bool) {
	a, u, ok = strings.Cut(name, `\`)
	return a, u, ok && ValidName(a) == nil && ValidName(u) == nil
}

// Fail adds one failure to name's count in one compare-guarded etcd
// transaction. When no window is running (no count, or an ended one) it
// starts one of length window, the key leased until it ends; lock is the
// limit the count is judged by (stored with it, for LockedUntil).
//
// With disable > 0 and name an existing, enabled user ("a\u"), the same
// transaction counts the failure in the user's consecutive failures, and
// the one that reaches disable disables the user (sessions dropped, the
// streak deleted, an audit entry put, address being the client's); it
// then reports disabled. It returns once the writer's cache holds the
// write.
func (f *FailureCounts) Fail(ctx context.Context, name, address string, window time.Duration, lock, disable int) (disabled bool, err error) {
	if window <= 0 {
		return false, fmt.Errorf("%w: failure window %s is not positive", ErrInvalid, window)
	}
	key, streak := f.keys(name)
	a, u, isUser := splitUser(name)
	_, err = f.s.Update(ctx, func(_ View, t *Txn) error {
		disabled = false
		now := f.now()
		g := t.View()
		n, until := g.Failures(key, now) // guarded: absent stays absent, present keeps its revision
		if n == 0 {
			until = now.Add(window)
		}
		t.PutWithTTL(key, encodeFailures(n+1, until, lock), until.Sub(now))
		if disable <= 0 || !isUser {
			return nil
		}
		return f.countStreak(ctx, t, g, a, u, address, streak, disable, now, &disabled)
	})
	return disabled, err
}

// countStreak adds the failure to user u's consecutive failures in t
// (g its guarded view) and disables the user when they reach disable.
func (f *FailureCounts) countStreak(ctx context.Context, t *Txn, g View, a, u, address, streak string, disable int, now time.Time, disabled *bool) error {
	ukey := ItemKey(a, KindUser, u)
	rec, ok := g.read(ukey) // guarded: the streak counts against this record
	old, has := g.Get(streak)
	if !ok {
		if has {
			t.Delete(streak)
		}
		return nil
	}
	user, err := DecodeUser(rec.value)
	if err != nil || !user.Enabled {
		if has {
			t.Delete(streak)
		}
		return nil
	}
	n := 1
	if has {
		n = decodeStreak(old, rec.mod) + 1
	}
	if n < disable {
		t.Put(streak, encodeStreak(n, rec.mod))
		return nil
	}
	// The permanent lockout: the user disabled, like an administrator's
	// disable (no sessions survive it), and audited in this transaction.
	user.Enabled = false
	val := user.Encode()
	t.Put(ukey, val)
	dropSessionsIfDisabled(g, t, a, u, val)
	if has {
		t.Delete(streak)
	}
	e := AuditEntry{Actor: a + `\` + u, Account: a, Action: "update", Address: address, Outcome: "success",
		Detail: fmt.Sprintf("permanent lockout: disabled after %d consecutive failed sign-ins", n)}
	if f.DisabledEntry != nil {
		e = f.DisabledEntry(a, u, address, n)
	}
	e.Time = now.UnixNano()
	op, err := f.s.auditOp(ctx, &e)
	if err != nil {
		return err
	}
	t.ops = append(t.ops, op)
	*disabled = true
	return nil
}

// Clear drops name's count and consecutive failures. When the cache
// holds neither it writes nothing.
func (f *FailureCounts) Clear(ctx context.Context, name string) error {
	if _, ok := f.ready(); ok && !f.Holds(name) {
		return nil
	}
	key, streak := f.keys(name)
	_, err := f.s.Update(ctx, func(_ View, t *Txn) error {
		g := t.View()
		for _, k := range [...]string{key, streak} {
			if g.Has(k) {
				t.Delete(k)
			}
		}
		return nil
	})
	return err
}

// ClearLockout drops the failure count and consecutive failures of user
// u of account a (an administrator lifting a lockout) in one guarded
// transaction: ErrNotFound when the user does not exist; nothing is
// written when it holds neither. Every instance stops refusing the user
// as soon as its watch delivers the deletion. The name's hash comes from
// the server key in the guarded view (none there: no count either).
func (s *Store) ClearLockout(ctx context.Context, a, u string) (int64, error) {
	return s.Update(ctx, func(_ View, t *Txn) error {
		g := t.View()
		if !g.HasItem(a, KindUser, u) {
			return notFound(fmt.Sprintf("user %q in account %q", u, a))
		}
		hexKey, ok := g.Get(failureServerKey)
		if !ok {
			return nil
		}
		m := macsFor(hexKey)
		if m == nil {
			return fmt.Errorf("server key %q: stored value is not %d hex-encoded bytes", failureKeyName, ServerKeySize)
		}
		nm := m.get()
		nm.hashName(a, u)
		key, streak := strings.Clone(nm.markerKey(failureKind)), strings.Clone(nm.markerKey(streakKind))
		m.put(nm)
		for _, k := range [...]string{key, streak} {
			if g.Has(k) {
				t.Delete(k)
			}
		}
		return nil
	})
}
