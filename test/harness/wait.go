package harness

import (
	"testing"
	"time"
)

// pollInterval is how often Poll and WaitFor try their condition: short, so
// tests finish soon after the condition holds, and long enough not to busy
// a loaded machine.
const pollInterval = 10 * time.Millisecond

// Poll calls cond every few milliseconds until it holds or timeout has
// passed, and reports how long that took and whether cond held. The timeout
// is a deadline for something expected much sooner, not a claim about
// speed: tests pass a generous one, may log the duration, and never compare
// it with a bound (on a busy machine any bound flakes).
func Poll(timeout time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if cond() {
			return time.Since(start), true
		}
		if time.Since(start) > timeout {
			return time.Since(start), false
		}
		time.Sleep(pollInterval)
	}
}

// WaitFor polls cond like Poll and fails the test, naming what it waited
// for, when cond still does not hold after timeout. It returns how long the
// wait took, for the log.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	d, ok := Poll(timeout, cond)
	if !ok {
		t.Fatalf("%s: not within %v", what, timeout)
	}
	return d
}
