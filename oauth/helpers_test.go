package oauth

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"
)

// clients is a ClientSource over a map; Delete makes a client unknown.
type clients struct {
	mu sync.Mutex
	m  map[string]fosite.Client
}

func newClients(ids ...string) *clients {
	c := &clients{m: map[string]fosite.Client{}}
	for _, id := range ids {
		c.m[id] = &fosite.DefaultClient{ID: id, GrantTypes: []string{"authorization_code", "refresh_token"},
			ResponseTypes: []string{"code"}, Scopes: []string{"openid", "offline_access", "print:*"},
			RedirectURIs: []string{"https://app.example/cb"}}
	}
	return c
}

func (c *clients) Client(_ context.Context, id string) (fosite.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl, ok := c.m[id]
	if !ok {
		return nil, fosite.ErrNotFound
	}
	return cl, nil
}

func (c *clients) Delete(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

// clock is an adjustable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// memKeys is an in-memory KeyStore (the fuzz test's: no etcd per input).
type memKeys struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (m *memKeys) Get(_ context.Context, name string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.m[name]
	return v, ok, nil
}

func (m *memKeys) CreateOnly(_ context.Context, name string, value []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string][]byte{}
	}
	if _, ok := m.m[name]; ok {
		return false, nil
	}
	m.m[name] = value
	return true, nil
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v; want %v", what, err, want)
	}
}

func mustOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline (another instance's cache follows etcd's watch).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
