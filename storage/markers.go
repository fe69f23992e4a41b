package storage

import (
	"context"
	"fmt"
	"time"
)

// Markers are short-lived facts every instance must see without asking
// etcd: revocations that the hot path of token checks consults on each
// request. A marker is a leased key under MarkerRange, written through
// the directory's transactions (so the writer's own cache has it when
// PutMarker returns) and loaded by the watch-fed cache like any key (so
// another instance sees it as soon as its watch delivers the event,
// typically within milliseconds). Like a token it stores its expiry with
// its value, and readers go by that expiry. Markers must stay few — the
// cache holds them all — so they record rare events (a revocation), never
// one per issued token.

// PutMarker writes (or replaces) marker id of kind with value for ttl
// and returns the revision of the write once the cache has applied it.
func (s *Store) PutMarker(ctx context.Context, kind, id string, value []byte, ttl time.Duration) (int64, error) {
	if err := validTokenName("kind", kind); err != nil {
		return 0, err
	}
	if err := validTokenName("id", id); err != nil {
		return 0, err
	}
	if ttl <= 0 {
		return 0, fmt.Errorf("%w: marker TTL %s is not positive", ErrInvalid, ttl)
	}
	key := MarkerKey(kind, id)
	return s.Update(ctx, func(_ View, t *Txn) error {
		t.PutWithTTL(key, encodeToken(time.Now().Add(ttl), value), ttl)
		return nil
	})
}

// Marker returns the value of marker id of kind if it exists and has not
// expired at now.
func (v View) Marker(kind, id string, now time.Time) ([]byte, bool) {
	stored, ok := v.Get(MarkerKey(kind, id))
	if !ok {
		return nil, false
	}
	return decodeToken([]byte(stored), now)
}
