package oauth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// verifiedTokens remembers the claims of access tokens whose signature
// verified, so that a token presented again (a service introspecting or
// calling with the same token thousands of times) costs a SHA-256 and a
// map lookup instead of an ECDSA verification. Entries are keyed by the
// SHA-256 of the exact token bytes, hold claims nobody mutates, and are
// dropped once expired; what depends on the moment or the caller
// (expiry, issuer, audience) is checked again on every hit. The cache
// is bounded: when full, expired entries go first, then arbitrary ones.
type verifiedTokens struct {
	mu  sync.RWMutex
	m   map[[sha256.Size]byte]*AccessClaims
	max int
}

// maxVerifiedTokens bounds the cache: about 400 bytes an entry.
const maxVerifiedTokens = 1 << 15

func (c *verifiedTokens) get(token string) (*AccessClaims, [sha256.Size]byte, bool) {
	h := sha256.Sum256([]byte(token))
	c.mu.RLock()
	claims, ok := c.m[h]
	c.mu.RUnlock()
	return claims, h, ok
}

func (c *verifiedTokens) put(h [sha256.Size]byte, claims *AccessClaims, now time.Time) {
	limit := c.max
	if limit <= 0 {
		limit = maxVerifiedTokens
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[[sha256.Size]byte]*AccessClaims)
	}
	if len(c.m) >= limit {
		for k, v := range c.m {
			if v.Expiry == nil || !now.Before(v.Expiry.Time()) {
				delete(c.m, k)
			}
		}
		for k := range c.m { // map order: arbitrary victims
			if len(c.m) < limit-limit/8 {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[h] = claims
}

func (c *verifiedTokens) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
