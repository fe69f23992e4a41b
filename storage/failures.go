package storage

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// Failure counts: the per-user part of the sign-in throttle, shared by
// every instance (authn.SharedCounts). A name's count is one marker,
// mark/fail/{h}, where h is the hex HMAC-SHA-256 of the sign-in name
// under the server key "failure-names" (names may hold characters a key
// may not, and a name typed by mistake — often a password — is not
// stored readable). Its value is the count and when its window ends; the
// window starts with the first failure and the key carries a lease that
// ends with it, so etcd drops it by itself, while readers go by the
// stored end (leases outlive it by up to a bucket).
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

// failureKind is the marker kind of failure counts.
const failureKind = "fail"

// FailureCounts is the shared per-name failure counter over a Store.
type FailureCounts struct {
	s   *Store
	key []byte           // HMAC key for names
	now func() time.Time // the clock windows are judged by
}

// FailureCounts returns the store's failure counter, reading (creating
// on first use) the server key "failure-names" so every instance hashes
// names alike. now is the clock (nil: time.Now).
func (s *Store) FailureCounts(ctx context.Context, now func() time.Time) (*FailureCounts, error) {
	k, err := s.ServerKey(ctx, "failure-names")
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &FailureCounts{s: s, key: k, now: now}, nil
}

// FailureKey is the key of name's failure count (for tests that look at
// etcd directly).
func (f *FailureCounts) FailureKey(name string) string {
	m := hmac.New(sha256.New, f.key)
	m.Write([]byte(name))
	return MarkerKey(failureKind, hex.EncodeToString(m.Sum(nil)))
}

// encodeFailures stores count n whose window ends at until.
func encodeFailures(n int, until time.Time) string {
	return encodeToken(until, []byte(strconv.Itoa(n)))
}

// decodeFailures returns a stored count and its window's end, if the
// window has not ended at now.
func decodeFailures(stored string, now time.Time) (int, time.Time, bool) {
	var f [2]string
	if err := decodeFields(stored, f[:]); err != nil {
		return 0, time.Time{}, false
	}
	end, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || now.UnixNano() >= end {
		return 0, time.Time{}, false
	}
	n, err := strconv.Atoi(f[1])
	if err != nil || n <= 0 {
		return 0, time.Time{}, false
	}
	return n, time.Unix(0, end), true
}

// Failures returns the failure count stored at key (a FailureKey) and
// when its window ends, if it has not ended at now.
func (v View) Failures(key string, now time.Time) (n int, until time.Time) {
	stored, ok := v.Get(key)
	if !ok {
		return 0, time.Time{}
	}
	n, until, _ = decodeFailures(stored, now)
	return n, until
}

// Count returns name's failure count in its current window and when that
// window ends (0 and the zero time: none). It reads the latest cache
// snapshot without waiting; while the cache is not ready it answers 0,
// so the caller's own counts decide.
func (f *FailureCounts) Count(name string) (n int, until time.Time) {
	c := f.s.cache
	snap := c.snap.Load()
	if snap == nil || !c.ready(snap) {
		return 0, time.Time{}
	}
	return snap.view.Failures(f.FailureKey(name), f.now())
}

// Fail adds one failure to name's count in one compare-guarded etcd
// transaction. When no window is running (no count, or an ended one) it
// starts one of length window, the key leased until it ends. It returns
// once the writer's cache holds the new count.
func (f *FailureCounts) Fail(ctx context.Context, name string, window time.Duration) error {
	if window <= 0 {
		return fmt.Errorf("%w: failure window %s is not positive", ErrInvalid, window)
	}
	key := f.FailureKey(name)
	_, err := f.s.Update(ctx, func(_ View, t *Txn) error {
		now := f.now()
		n, until := t.View().Failures(key, now) // guarded: absent stays absent, present keeps its revision
		if n == 0 {
			until = now.Add(window)
		}
		t.PutWithTTL(key, encodeFailures(n+1, until), until.Sub(now))
		return nil
	})
	return err
}

// Clear drops name's count. When the cache holds none it writes nothing.
func (f *FailureCounts) Clear(ctx context.Context, name string) error {
	key := f.FailureKey(name)
	c := f.s.cache
	if snap := c.snap.Load(); snap != nil && c.ready(snap) {
		if _, ok := snap.view.Get(key); !ok {
			return nil
		}
	}
	_, err := f.s.Update(ctx, func(_ View, t *Txn) error {
		if t.View().Has(key) {
			t.Delete(key)
		}
		return nil
	})
	return err
}
