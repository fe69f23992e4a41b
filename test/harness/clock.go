package harness

import (
	"sync"
	"testing"
	"time"

	"gatehouse/conf"
	"gatehouse/instance"
)

// Clock is a manual clock for tests of expiry: it stands still until the
// test moves it, so a test reaches "an hour later" without sleeping.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock that reads start until it is moved.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now is the clock's time; pass c.Now where a func() time.Time is wanted.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t (backwards too).
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// StartClocked is StartWith on a server that reads the time from now (a
// Clock's Now, say): API key expiry and last use, sign-in throttling and
// the Basic credential cache, audit entry times, /check decisions
// (instance.WithClock).
func StartClocked(t testing.TB, cfg conf.Config, now func() time.Time) *Server {
	t.Helper()
	s, err := TryStart(t, cfg, instance.WithClock(now))
	if err != nil {
		t.Fatalf("start gatehouse: %v", err)
	}
	return s
}
