package test

// A brute-force run must not turn cheap refusals into unbounded etcd
// writes or goroutines: refused and throttled sign-ins are audited through
// one bounded, rate-limited queue (package audit), not a goroutine and an
// etcd write each.

import (
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/audit"
	"gatehouse/test/harness"
)

func TestBruteForceBounded(t *testing.T) {
	s := harness.Start(t)
	s.Admin("POST", "/auth/v2/accounts/system/users", `<user><name>victim</name><password>target-password-1</password></user>`).Must(t, http.StatusCreated)
	auditCount := func() int {
		t.Helper()
		r := s.Admin("GET", "/auth/v2/audit?action=sign-in&depth=0", "").Must(t, http.StatusOK)
		n, err := strconv.Atoi(r.Root().SelectAttrValue("count", ""))
		if err != nil {
			t.Fatalf("audit count: %v", err)
		}
		return n
	}
	s.Client.CloseIdleConnections()
	goroutinesBefore := runtime.NumGoroutine()
	entriesBefore := auditCount()

	const attempts, workers = 10_000, 16
	var next, refused atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= attempts {
				req, _ := http.NewRequest("GET", s.URL()+"/auth/v2/accounts", nil)
				req.SetBasicAuth(`system\victim`, "wrong-password")
				resp, err := s.Client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusTooManyRequests {
					refused.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	seconds := time.Since(start).Seconds()
	if refused.Load() != attempts {
		t.Fatalf("%d of %d wrong passwords refused", refused.Load(), attempts)
	}

	// The queue flushes once a second: wait for the entries to settle.
	var written int
	deadline := time.Now().Add(60 * time.Second)
	for {
		n := auditCount() - entriesBefore
		if n > 0 && n == written {
			break
		}
		written = n
		if time.Now().After(deadline) {
			t.Fatalf("audit entries still growing after 60s: %d", n)
		}
		time.Sleep(1500 * time.Millisecond)
	}
	// Bound: the queue's rate for every started second of the run and of
	// the settling flushes, plus one summary per group and interval.
	bound := int(float64(audit.DefaultRate)*(seconds+3)) + audit.DefaultGroups*int(seconds+3)
	t.Logf("%d wrong passwords in %.1fs wrote %d sign-in audit entries (bound %d)", attempts, seconds, written, bound)
	if written == 0 || written > bound {
		t.Errorf("%d audit entries for %d refused sign-ins in %.1fs; want 1..%d", written, attempts, seconds, bound)
	}
	if written >= attempts {
		t.Errorf("every refusal was written on its own (%d entries)", written)
	}

	// The server's goroutines come back to where they were.
	s.Client.CloseIdleConnections()
	deadline = time.Now().Add(30 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= goroutinesBefore+10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines: %d before the run, %d after it settled", goroutinesBefore, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
