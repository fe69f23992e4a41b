package authn

import (
	"container/list"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"time"
)

// ErrInvalidConfig: a constructor was given an unusable argument.
var ErrInvalidConfig = errors.New("authn: invalid configuration")

// Credential cache defaults.
const (
	DefaultCacheTTL        = 5 * time.Minute
	DefaultCacheMaxEntries = 100_000
)

// CredentialCache remembers recent successful password verifications so
// that a client presenting the same credentials again does not pay for
// another argon2id computation (the Elasticsearch realm-cache pattern).
//
// Entries are keyed by HMAC-SHA256(k, principal || 0x00 || password), where
// k is 32 random bytes drawn at construction; the password itself is never
// stored. Each entry carries the principal (compared on lookup, which also
// removes the 0x00 ambiguity when a principal contains a NUL byte), an
// opaque stamp supplied by the caller (for example the user record's
// password hash or revision: a lookup with a different stamp misses, so a
// password change invalidates old entries), and an expiry time.
//
// Only Remember adds entries; callers must call it only after a successful
// verification, so failures are never cached. The cache holds at most
// maxEntries entries: when full, expired entries are dropped first, then
// the oldest. Because every entry lives for the same TTL, insertion order
// is expiry order, so both are taken from the front of one list.
//
// A CredentialCache is safe for concurrent use. The hit path is one HMAC
// (with pooled, reused state: no allocation) and a map lookup under a read
// lock.
type CredentialCache struct {
	ttl        time.Duration
	maxEntries int
	now        func() time.Time
	key        [32]byte
	macs       sync.Pool // of *macState

	mu          sync.RWMutex
	entries     map[[32]byte]*cacheEntry
	byPrincipal map[string]map[[32]byte]struct{}
	order       list.List // of *cacheEntry, oldest (= soonest to expire) first
}

type cacheEntry struct {
	id        [32]byte
	principal string
	stamp     string
	expires   time.Time
	elem      *list.Element
}

// macState is reusable HMAC state plus scratch space.
type macState struct {
	mac hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

// NewCredentialCache returns a cache whose entries live for ttl (0 disables
// the cache: Lookup always reports false and Remember does nothing) and
// which holds at most maxEntries entries (0 means DefaultCacheMaxEntries).
// now is the clock (nil means time.Now) and random the source of the HMAC
// key (nil means crypto/rand.Reader). A negative ttl or maxEntries, or a
// failure to read 32 bytes from random, is an error.
func NewCredentialCache(ttl time.Duration, maxEntries int, now func() time.Time, random io.Reader) (*CredentialCache, error) {
	if ttl < 0 {
		return nil, fmt.Errorf("%w: negative cache TTL %v", ErrInvalidConfig, ttl)
	}
	if maxEntries < 0 {
		return nil, fmt.Errorf("%w: negative cache size %d", ErrInvalidConfig, maxEntries)
	}
	if maxEntries == 0 {
		maxEntries = DefaultCacheMaxEntries
	}
	if now == nil {
		now = time.Now
	}
	if random == nil {
		random = rand.Reader
	}
	c := &CredentialCache{
		ttl:         ttl,
		maxEntries:  maxEntries,
		now:         now,
		entries:     make(map[[32]byte]*cacheEntry),
		byPrincipal: make(map[string]map[[32]byte]struct{}),
	}
	if _, err := io.ReadFull(random, c.key[:]); err != nil {
		return nil, fmt.Errorf("authn: reading credential cache key: %w", err)
	}
	c.macs.New = func() any {
		return &macState{mac: hmac.New(sha256.New, c.key[:])}
	}
	return c, nil
}

// id computes HMAC-SHA256(key, principal || 0x00 || password).
func (c *CredentialCache) id(principal, password string) (id [32]byte) {
	s := c.macs.Get().(*macState)
	s.buf = append(s.buf[:0], principal...)
	s.buf = append(s.buf, 0)
	s.buf = append(s.buf, password...)
	s.mac.Reset()
	s.mac.Write(s.buf)
	// Summing into id directly would make it escape to the heap.
	copy(id[:], s.mac.Sum(s.sum[:0]))
	// Clear our copy of the password (best effort; hash state may retain a block).
	clear(s.buf)
	if cap(s.buf) > 4096 {
		s.buf = nil // do not pin a huge buffer
	}
	c.macs.Put(s)
	return id
}

// Lookup reports whether (principal, password) was remembered with this
// stamp and has not expired.
func (c *CredentialCache) Lookup(principal, password, stamp string) bool {
	if c.ttl == 0 {
		return false
	}
	id := c.id(principal, password)
	now := c.now()
	c.mu.RLock()
	e, ok := c.entries[id]
	// The stamp is not secret and is only reached after a matching HMAC,
	// so a plain comparison is fine.
	hit := ok && e.principal == principal && e.stamp == stamp && now.Before(e.expires)
	c.mu.RUnlock()
	return hit
}

// Remember records that (principal, password) was verified against the
// credential identified by stamp. Call it only after a successful
// verification.
func (c *CredentialCache) Remember(principal, password, stamp string) {
	if c.ttl == 0 {
		return
	}
	id := c.id(principal, password)
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[id]; ok {
		c.removeLocked(e)
	}
	// Drop expired entries from the front, then the oldest while full.
	for f := c.order.Front(); f != nil; f = c.order.Front() {
		e := f.Value.(*cacheEntry)
		if now.Before(e.expires) && len(c.entries) < c.maxEntries {
			break
		}
		c.removeLocked(e)
	}
	e := &cacheEntry{id: id, principal: principal, stamp: stamp, expires: now.Add(c.ttl)}
	e.elem = c.order.PushBack(e)
	c.entries[id] = e
	set := c.byPrincipal[principal]
	if set == nil {
		set = make(map[[32]byte]struct{}, 1)
		c.byPrincipal[principal] = set
	}
	set[id] = struct{}{}
}

// Forget drops every entry of principal (use on disable, delete, password
// change).
func (c *CredentialCache) Forget(principal string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range c.byPrincipal[principal] {
		c.removeLocked(c.entries[id])
	}
}

func (c *CredentialCache) removeLocked(e *cacheEntry) {
	delete(c.entries, e.id)
	c.order.Remove(e.elem)
	if set := c.byPrincipal[e.principal]; set != nil {
		delete(set, e.id)
		if len(set) == 0 {
			delete(c.byPrincipal, e.principal)
		}
	}
}

// size returns the number of stored entries, expired or not (for tests).
func (c *CredentialCache) size() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
