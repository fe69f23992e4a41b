package authn

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

// fakeClock is an injectable clock, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newCache(t testing.TB, ttl time.Duration, max int, clk *fakeClock) *CredentialCache {
	t.Helper()
	c, err := NewCredentialCache(ttl, max, clk.Now, &seqReader{})
	if err != nil {
		t.Fatalf("NewCredentialCache: %v", err)
	}
	return c
}

func TestCredentialCacheLookup(t *testing.T) {
	clk := newFakeClock()
	c := newCache(t, 5*time.Minute, 0, clk)
	c.Remember("alice", "s3cret-pw", "stamp-1")
	tests := []struct {
		name                       string
		principal, password, stamp string
		want                       bool
	}{
		{"hit", "alice", "s3cret-pw", "stamp-1", true},
		{"wrong password", "alice", "s3cret-pX", "stamp-1", false},
		{"empty password", "alice", "", "stamp-1", false},
		{"other principal", "bob", "s3cret-pw", "stamp-1", false},
		{"principal case", "Alice", "s3cret-pw", "stamp-1", false},
		{"stamp changed", "alice", "s3cret-pw", "stamp-2", false},
		{"empty stamp", "alice", "s3cret-pw", "", false},
		{"NUL moved across separator", "alice\x00s3cret", "pw", "stamp-1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.Lookup(tc.principal, tc.password, tc.stamp); got != tc.want {
				t.Fatalf("Lookup(%q, %q, %q) = %v, want %v", tc.principal, tc.password, tc.stamp, got, tc.want)
			}
		})
	}
}

func TestCredentialCacheNULAmbiguity(t *testing.T) {
	// "a\x00b"+0x00+"c" and "a"+0x00+"b\x00c" give the same HMAC input; the
	// stored principal tells them apart.
	c := newCache(t, time.Minute, 0, newFakeClock())
	c.Remember("a\x00b", "c", "s")
	if c.Lookup("a", "b\x00c", "s") {
		t.Fatal("HMAC-input collision across the NUL separator was accepted")
	}
	if !c.Lookup("a\x00b", "c", "s") {
		t.Fatal("control lookup missed")
	}
}

func TestCredentialCacheKeyedHashNoPassword(t *testing.T) {
	c := newCache(t, time.Minute, 0, newFakeClock())
	c.Remember("alice", "s3cret-pw", "stamp")
	key := make([]byte, 32)
	_, _ = (&seqReader{}).Read(key) // the key the cache drew from the injected reader
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("alice\x00s3cret-pw"))
	var want [32]byte
	copy(want[:], mac.Sum(nil))
	c.mu.RLock()
	defer c.mu.RUnlock()
	if len(c.entries) != 1 {
		t.Fatalf("entries = %d, want 1", len(c.entries))
	}
	e, ok := c.entries[want]
	if !ok {
		t.Fatal("entry not stored under HMAC-SHA256(key, principal||0x00||password)")
	}
	for _, field := range []string{e.principal, e.stamp, string(e.id[:])} {
		if strings.Contains(field, "s3cret-pw") {
			t.Fatalf("entry field %q contains the password", field)
		}
	}
}

func TestCredentialCacheDifferentKeysPerInstance(t *testing.T) {
	r := &seqReader{}
	c1, err1 := NewCredentialCache(time.Minute, 0, nil, r)
	c2, err2 := NewCredentialCache(time.Minute, 0, nil, r)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if c1.id("alice", "pw") == c2.id("alice", "pw") {
		t.Fatal("two caches with different keys produced the same entry id")
	}
}

func TestCredentialCacheExpiry(t *testing.T) {
	clk := newFakeClock()
	c := newCache(t, 5*time.Minute, 0, clk)
	c.Remember("alice", "pw", "s")
	clk.Advance(5*time.Minute - time.Nanosecond)
	if !c.Lookup("alice", "pw", "s") {
		t.Fatal("entry missed just before its TTL")
	}
	clk.Advance(time.Nanosecond)
	if c.Lookup("alice", "pw", "s") {
		t.Fatal("entry hit at its TTL")
	}
	// Remembering again (after a fresh argon2 verification) renews it.
	c.Remember("alice", "pw", "s")
	clk.Advance(4 * time.Minute)
	if !c.Lookup("alice", "pw", "s") {
		t.Fatal("renewed entry missed")
	}
	if n := c.size(); n != 1 {
		t.Fatalf("size = %d after re-Remember of one credential, want 1", n)
	}
}

func TestCredentialCacheStampChange(t *testing.T) {
	c := newCache(t, time.Minute, 0, newFakeClock())
	c.Remember("alice", "old-pw", "hash-v1")
	// Password changed: the user record now has stamp hash-v2.
	if c.Lookup("alice", "old-pw", "hash-v2") {
		t.Fatal("old password accepted after stamp change")
	}
	c.Remember("alice", "new-pw", "hash-v2")
	if !c.Lookup("alice", "new-pw", "hash-v2") {
		t.Fatal("new password missed")
	}
}

func TestCredentialCacheForget(t *testing.T) {
	c := newCache(t, time.Minute, 0, newFakeClock())
	c.Remember("alice", "pw1", "s")
	c.Remember("alice", "pw2", "s")
	c.Remember("bob", "pw1", "s")
	c.Forget("alice")
	for _, pw := range []string{"pw1", "pw2"} {
		if c.Lookup("alice", pw, "s") {
			t.Errorf("alice/%s still cached after Forget", pw)
		}
	}
	if !c.Lookup("bob", "pw1", "s") {
		t.Error("Forget(alice) dropped bob")
	}
	if n := c.size(); n != 1 {
		t.Errorf("size = %d, want 1", n)
	}
	c.mu.RLock()
	_, indexed := c.byPrincipal["alice"]
	c.mu.RUnlock()
	if indexed {
		t.Error("alice still in the per-principal index")
	}
	c.Forget("nobody") // no-op, must not panic
	c.Forget("alice")
}

func TestCredentialCacheDisabled(t *testing.T) {
	c := newCache(t, 0, 0, newFakeClock())
	c.Remember("alice", "pw", "s")
	if c.Lookup("alice", "pw", "s") {
		t.Fatal("disabled cache hit")
	}
	if n := c.size(); n != 0 {
		t.Fatalf("disabled cache stored %d entries", n)
	}
}

func TestCredentialCacheFailuresNotCached(t *testing.T) {
	c := newCache(t, time.Minute, 0, newFakeClock())
	// A failed sign-in performs lookups but never calls Remember.
	for i := 0; i < 3; i++ {
		if c.Lookup("alice", "guess", "s") {
			t.Fatal("hit without Remember")
		}
	}
	if n := c.size(); n != 0 {
		t.Fatalf("Lookup stored %d entries; only Remember may add", n)
	}
}

func TestCredentialCacheBounded(t *testing.T) {
	t.Run("evicts oldest when full", func(t *testing.T) {
		clk := newFakeClock()
		c := newCache(t, time.Hour, 3, clk)
		for i := range 4 {
			c.Remember(fmt.Sprint("u", i), "pw", "s")
			clk.Advance(time.Second)
		}
		if n := c.size(); n != 3 {
			t.Fatalf("size = %d, want 3", n)
		}
		want := []bool{false, true, true, true}
		for i, w := range want {
			if got := c.Lookup(fmt.Sprint("u", i), "pw", "s"); got != w {
				t.Errorf("u%d cached = %v, want %v", i, got, w)
			}
		}
	})
	t.Run("evicts expired first", func(t *testing.T) {
		clk := newFakeClock()
		c := newCache(t, time.Minute, 10, clk)
		c.Remember("old1", "pw", "s")
		c.Remember("old2", "pw", "s")
		clk.Advance(30 * time.Second)
		c.Remember("young", "pw", "s")
		clk.Advance(31 * time.Second) // old1, old2 expired; young not
		c.Remember("new", "pw", "s")
		if n := c.size(); n != 2 {
			t.Fatalf("size = %d, want 2 (expired entries dropped)", n)
		}
		if !c.Lookup("young", "pw", "s") || !c.Lookup("new", "pw", "s") {
			t.Fatal("unexpired entries were evicted")
		}
	})
	t.Run("refresh moves to back", func(t *testing.T) {
		clk := newFakeClock()
		c := newCache(t, time.Hour, 2, clk)
		c.Remember("a", "pw", "s")
		c.Remember("b", "pw", "s")
		c.Remember("a", "pw", "s") // a is now the newest
		c.Remember("c", "pw", "s") // evicts b
		if !c.Lookup("a", "pw", "s") || c.Lookup("b", "pw", "s") || !c.Lookup("c", "pw", "s") {
			t.Fatal("want a and c cached, b evicted")
		}
	})
	t.Run("default size", func(t *testing.T) {
		c := newCache(t, time.Minute, 0, newFakeClock())
		if c.maxEntries != DefaultCacheMaxEntries {
			t.Fatalf("maxEntries = %d, want %d", c.maxEntries, DefaultCacheMaxEntries)
		}
	})
}

func TestNewCredentialCacheErrors(t *testing.T) {
	tests := []struct {
		name   string
		ttl    time.Duration
		max    int
		random io.Reader
		want   error
	}{
		{"negative ttl", -time.Second, 0, &seqReader{}, ErrInvalidConfig},
		{"negative size", time.Minute, -1, &seqReader{}, ErrInvalidConfig},
		{"random fails", time.Minute, 0, iotest.ErrReader(io.ErrNoProgress), io.ErrNoProgress},
		{"random short", time.Minute, 0, strings.NewReader("short"), io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewCredentialCache(tc.ttl, tc.max, nil, tc.random)
			if c != nil || !errors.Is(err, tc.want) {
				t.Fatalf("NewCredentialCache = %v, %v; want nil, %v", c, err, tc.want)
			}
		})
	}
}

func TestCredentialCacheConcurrent(t *testing.T) {
	clk := newFakeClock()
	c := newCache(t, time.Minute, 50, clk)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				p := fmt.Sprint("user", (g*7+i)%20)
				switch i % 5 {
				case 0:
					c.Forget(p)
				case 1:
					clk.Advance(time.Millisecond)
					fallthrough
				default:
					c.Remember(p, "pw", "s")
					c.Lookup(p, "pw", "s")
				}
			}
		}()
	}
	wg.Wait()
	if n := c.size(); n > 50 {
		t.Fatalf("size = %d, exceeds bound 50", n)
	}
	c.Remember("final", "pw", "s")
	if !c.Lookup("final", "pw", "s") {
		t.Fatal("cache unusable after concurrent use")
	}
}

func BenchmarkCredentialCacheLookup(b *testing.B) {
	c, err := NewCredentialCache(time.Hour, 0, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	stamp := "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
	c.Remember("alice@example.com", "correct horse battery staple", stamp)
	b.ReportAllocs()
	for b.Loop() {
		if !c.Lookup("alice@example.com", "correct horse battery staple", stamp) {
			b.Fatal("miss")
		}
	}
}
