package storage

import (
	"context"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Expiring writes. A put with a TTL carries an etcd lease, so etcd
// deletes the key by itself. Leases are shared: every put whose expiry
// falls in the same bucket uses one lease that ends with the bucket, so a
// burst of tokens does not grant one lease each. A bucket is a sixteenth
// of the TTL (at least a second, at most an hour) and a key lives between
// its TTL and its TTL plus one bucket (etcd also raises TTLs below its
// minimum, about two seconds, and extends leases when a leader changes:
// readers that must be exact store the expiry with the value, as Tokens
// does).

// ttlPut is a put waiting for its lease (resolved when the write commits).
type ttlPut struct {
	key, value string
	ttl        time.Duration
}

// PutWithTTL writes value at key with an etcd lease that expires after
// ttl (at least a second): etcd deletes the key then. The lease is shared
// with other puts expiring in the same bucket, and granted afresh if
// etcd no longer knows it (after a restore).
func (t *Txn) PutWithTTL(key, value string, ttl time.Duration) {
	t.ttl = append(t.ttl, ttlPut{key: key, value: value, ttl: max(ttl, time.Second)})
}

// ttlBucket is the bucket width for ttl.
func ttlBucket(ttl time.Duration) time.Duration {
	return min(max(ttl/16, time.Second), time.Hour)
}

// ttlLeases hands out one lease per expiry bucket. The zero value is
// ready to use.
type ttlLeases struct {
	mu    sync.Mutex
	byEnd map[int64]clientv3.LeaseID // bucket end (Unix nanoseconds) → lease
}

// get returns the lease for a key written at now that must live ttl.
func (l *ttlLeases) get(ctx context.Context, client *clientv3.Client, now time.Time, ttl, timeout time.Duration) (clientv3.LeaseID, error) {
	width := int64(ttlBucket(ttl))
	due := now.Add(ttl).UnixNano()
	end := (due + width - 1) / width * width // the first bucket end at or after due
	l.mu.Lock()
	id, ok := l.byEnd[end]
	l.mu.Unlock()
	if ok {
		return id, nil
	}
	// The lease ends with its bucket, whoever uses it later.
	secs := (end - now.UnixNano() + int64(time.Second) - 1) / int64(time.Second)
	gctx, cancel := context.WithTimeout(ctx, timeout)
	resp, err := client.Grant(gctx, max(secs, 1))
	cancel()
	if err != nil {
		return 0, classify(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if prev, ok := l.byEnd[end]; ok {
		// Another writer granted one first; use it (the spare lease
		// holds no keys and simply expires).
		return prev, nil
	}
	if l.byEnd == nil {
		l.byEnd = map[int64]clientv3.LeaseID{}
	}
	for e := range l.byEnd {
		if e < now.UnixNano() {
			delete(l.byEnd, e) // expired: no put will ask for it again
		}
	}
	l.byEnd[end] = resp.ID
	return resp.ID, nil
}

// reset drops every cached lease (etcd lost one: a restore).
func (l *ttlLeases) reset() {
	l.mu.Lock()
	l.byEnd = nil
	l.mu.Unlock()
}

// resolveTTL turns the transaction's expiring puts into operations with
// their leases.
func (s *Store) resolveTTL(ctx context.Context, t *Txn) error {
	now := time.Now()
	for _, p := range t.ttl {
		lease, err := s.ttl.get(ctx, s.client, now, p.ttl, s.timeout)
		if err != nil {
			return err
		}
		t.ops = append(t.ops, clientv3.OpPut(t.prefix+p.key, p.value, clientv3.WithLease(lease)))
	}
	return nil
}
