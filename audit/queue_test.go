package audit_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/audit"
	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// deadline bounds every wait for the worker; nothing is timed.
const deadline = 30 * time.Second

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// scan reads every audit entry in etcd.
func scan(t testing.TB, s *storage.Store) []storage.AuditEntry {
	t.Helper()
	var out []storage.AuditEntry
	if _, err := s.AuditScan(context.Background(), storage.AuditFilter{}, func(_ string, e storage.AuditEntry) bool {
		out = append(out, e)
		return true
	}); err != nil {
		t.Fatalf("AuditScan: %v", err)
	}
	return out
}

var summaryRE = regexp.MustCompile(`^suppressed ([0-9,]+) similar entries( from other accounts and addresses)? since (\S+)$`)

// split separates summaries from ordinary entries and sums the counts
// the summaries carry.
func split(t testing.TB, es []storage.AuditEntry) (plain, sums []storage.AuditEntry, suppressed int) {
	t.Helper()
	for _, e := range es {
		m := summaryRE.FindStringSubmatch(e.Detail)
		if m == nil {
			plain = append(plain, e)
			continue
		}
		n, err := strconv.Atoi(strings.ReplaceAll(m[1], ",", ""))
		if err != nil {
			t.Fatalf("summary count in %q: %v", e.Detail, err)
		}
		if _, err := time.Parse(time.RFC3339, m[3]); err != nil {
			t.Fatalf("summary time in %q: %v", e.Detail, err)
		}
		sums = append(sums, e)
		suppressed += n
	}
	return plain, sums, suppressed
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func failedSignIn(c *clock) storage.AuditEntry {
	return storage.AuditEntry{Time: c.Now().UnixNano(), Actor: `acme\alice`, Account: "acme",
		Action: "sign-in", Target: "/me", Address: "203.0.113.7", Outcome: "failure",
		Detail: "bad credentials"}
}

// A brute-force run of 10,000 failed sign-ins from one address writes at
// most Rate entries per second of the clock, plus summaries that account
// for every other attempt.
func TestBruteForceIsSummarised(t *testing.T) {
	s := storagetest.Store(t)
	c := newClock()
	reg := prometheus.NewRegistry()
	const rate = 100
	q := audit.New(s, audit.Options{Rate: rate, FlushInterval: time.Second, Now: c.Now,
		Logger: quiet(), Registerer: reg})
	defer q.Close()
	start := c.Now()
	const n = 10_000
	for i := range n {
		if i > 0 && i%1000 == 0 {
			c.Advance(250 * time.Millisecond)
		}
		q.Record(failedSignIn(c))
	}
	span := c.Now().Sub(start) // the clock time the attempts took
	// End the interval so the worker writes the summary.
	c.Advance(time.Second)
	elapsed := c.Now().Sub(start)
	var es []storage.AuditEntry
	waitFor(t, "every attempt to be written or summarised", func() bool {
		es = scan(t, s)
		plain, _, suppressed := split(t, es)
		return len(plain)+suppressed == n
	})
	plain, sums, suppressed := split(t, es)
	// Rate seconds start at the first entry after the last one ended.
	seconds := int(span/time.Second) + 1
	if len(plain) > rate*seconds {
		t.Errorf("%d entries written one by one over %v; want at most %d", len(plain), span, rate*seconds)
	}
	// Here the rate seconds start at 0, 1 and 2 s, each admitting Rate.
	if len(plain) != 3*rate {
		t.Errorf("%d entries written one by one; want %d", len(plain), 3*rate)
	}
	intervals := int(elapsed/time.Second) + 1
	if len(sums) == 0 || len(sums) > intervals {
		t.Errorf("%d summary entries over %v; want 1..%d", len(sums), elapsed, intervals)
	}
	if suppressed < n-rate*seconds {
		t.Errorf("summaries count %d suppressed entries; want at least %d", suppressed, n-rate*seconds)
	}
	for _, e := range sums {
		if e.Action != "sign-in" || e.Outcome != "failure" || e.Address != "203.0.113.7" ||
			e.Account != "acme" || e.Actor != `acme\alice` || e.Target != "/me" {
			t.Errorf("summary %+v does not name the group", e)
		}
	}
	for _, e := range plain {
		if e.Detail != "bad credentials" || e.Address != "203.0.113.7" {
			t.Errorf("entry %+v changed", e)
		}
	}
	st := q.Stats()
	if st.Dropped != 0 || int(st.Queued) != len(plain) || int(st.Suppressed) != suppressed ||
		int(st.Written) != len(plain)+len(sums) {
		t.Errorf("stats %+v; want %d queued, %d suppressed, %d written, none dropped",
			st, len(plain), suppressed, len(plain)+len(sums))
	}
	if got := metric(t, reg, "gatehouse_audit_suppressed_total"); int(got) != suppressed {
		t.Errorf("gatehouse_audit_suppressed_total = %v; want %d", got, suppressed)
	}
	t.Logf("%d attempts over %v of clock: %d entries written one by one, %d summaries", n, elapsed, len(plain), len(sums))
}

// metric reads a registered counter.
func metric(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

// Recording 10,000 entries starts no goroutines.
func TestRecordStartsNoGoroutines(t *testing.T) {
	s := storagetest.Store(t)
	c := newClock()
	q := audit.New(s, audit.Options{Rate: 50, FlushInterval: 50 * time.Millisecond, Now: c.Now, Logger: quiet()})
	defer q.Close()
	// One write first, so the etcd client has what it keeps for writes.
	q.Record(failedSignIn(c))
	waitFor(t, "the first entry", func() bool { return len(scan(t, s)) == 1 })
	before := runtime.NumGoroutine()
	for i := range 10_000 {
		if i%100 == 0 {
			c.Advance(100 * time.Millisecond)
		}
		q.Record(failedSignIn(c))
	}
	const slack = 5 // etcd's own goroutines come and go
	got := runtime.NumGoroutine()
	waitFor(t, "the goroutine count to settle", func() bool {
		got = runtime.NumGoroutine()
		return got <= before+slack
	})
	t.Logf("goroutines: %d before, %d after 10,000 Record calls", before, got)
}

// Close writes what is pending: buffered entries and summaries.
func TestCloseFlushes(t *testing.T) {
	s := storagetest.Store(t)
	c := newClock()
	// The worker wakes only on a full batch, the hourly tick or Close.
	q := audit.New(s, audit.Options{Rate: 5, FlushInterval: time.Hour, Now: c.Now, Logger: quiet()})
	for range 20 {
		q.Record(failedSignIn(c))
	}
	if es := scan(t, s); len(es) != 0 {
		t.Fatalf("%d entries written before Close; want none", len(es))
	}
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	plain, sums, suppressed := split(t, scan(t, s))
	if len(plain) != 5 || len(sums) != 1 || suppressed != 15 {
		t.Fatalf("after Close: %d entries, %d summaries counting %d; want 5, 1, 15", len(plain), len(sums), suppressed)
	}
	want := "suppressed 15 similar entries since 2030-01-02T03:04:05Z"
	if sums[0].Detail != want {
		t.Errorf("summary detail %q; want %q", sums[0].Detail, want)
	}
	// A closed queue drops quietly, and Close may be called again.
	q.Record(failedSignIn(c))
	if err := q.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if st := q.Stats(); st.Dropped != 1 {
		t.Errorf("stats %+v; want the Record after Close dropped", st)
	}
	if es := scan(t, s); len(es) != 6 {
		t.Errorf("%d entries after a Record on a closed queue; want 6", len(es))
	}
}

// Ordinary low-rate entries are written one by one, unchanged.
func TestLowRateEntriesUnchanged(t *testing.T) {
	s := storagetest.Store(t)
	c := newClock()
	q := audit.New(s, audit.Options{FlushInterval: 20 * time.Millisecond, Now: c.Now, Logger: quiet()})
	defer q.Close()
	want := []storage.AuditEntry{
		{Time: c.Now().UnixNano() - 2, Actor: `acme\alice`, Account: "acme", Action: "sign-in",
			Target: "/me", Address: "198.51.100.1", Outcome: "success"},
		{Time: c.Now().UnixNano() - 1, Actor: `acme\bob`, Account: "acme", Action: "update",
			Target: "/accounts/acme/users/carol", Address: "198.51.100.2", Outcome: "denied", Detail: "permission denied"},
		{Action: "sign-in", Target: "/me", Address: "198.51.100.3", Outcome: "denied", Detail: "throttled"},
	}
	for _, e := range want {
		e.TargetOf = func([]string) string { return "not stored" }
		q.Record(e)
	}
	want[2].Time = c.Now().UnixNano() // stamped by Record from the clock
	var got []storage.AuditEntry
	waitFor(t, "three entries", func() bool { got = scan(t, s); return len(got) >= len(want) })
	if len(got) != len(want) {
		t.Fatalf("%d entries; want %d", len(got), len(want))
	}
	for i := range want {
		if fmt.Sprintf("%+v", got[i]) != fmt.Sprintf("%+v", want[i]) {
			t.Errorf("entry %d = %+v; want %+v", i, got[i], want[i])
		}
	}
}

// gate delays the first batch until released, so the buffer fills; the
// writes still go to the real store.
type gate struct {
	*storage.Store
	entered, release chan struct{}
	once             sync.Once
}

func (g *gate) AuditBatch(ctx context.Context, es []storage.AuditEntry) error {
	g.once.Do(func() {
		close(g.entered)
		<-g.release
	})
	return g.Store.AuditBatch(ctx, es)
}

// syncBuffer is a log sink safe for the worker and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// A full buffer drops entries, counts them and says so in the log.
func TestFullBufferDrops(t *testing.T) {
	s := storagetest.Store(t)
	g := &gate{Store: s, entered: make(chan struct{}), release: make(chan struct{})}
	var log syncBuffer
	reg := prometheus.NewRegistry()
	q := audit.New(g, audit.Options{Capacity: 4, BatchSize: 1, FlushInterval: 10 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&log, nil)), Registerer: reg})
	c := newClock()
	q.Record(failedSignIn(c))
	select {
	case <-g.entered:
	case <-time.After(deadline):
		t.Fatal("the worker did not start writing")
	}
	for range 7 {
		q.Record(failedSignIn(c))
	}
	if st := q.Stats(); st.Queued != 5 || st.Dropped != 3 {
		t.Fatalf("stats %+v; want 5 queued, 3 dropped", st)
	}
	close(g.release)
	waitFor(t, "the drop warning", func() bool { return strings.Contains(log.String(), "audit entries dropped") })
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if es := scan(t, s); len(es) != 5 {
		t.Errorf("%d entries written; want 5", len(es))
	}
	if n := strings.Count(log.String(), "audit entries dropped"); n != 1 {
		t.Errorf("drop warning logged %d times; want once:\n%s", n, log.String())
	}
	for name, want := range map[string]float64{"gatehouse_audit_queued_total": 5, "gatehouse_audit_written_total": 5,
		"gatehouse_audit_dropped_total": 3, "gatehouse_audit_suppressed_total": 0} {
		if got := metric(t, reg, name); got != want {
			t.Errorf("%s = %v; want %v", name, got, want)
		}
	}
}

// Many addresses open at most Groups summary groups; the rest are counted
// in one catch-all group per action and outcome.
func TestSummaryGroupsBounded(t *testing.T) {
	s := storagetest.Store(t)
	c := newClock()
	q := audit.New(s, audit.Options{Rate: 1, Groups: 3, FlushInterval: time.Hour, Now: c.Now, Logger: quiet()})
	for i := range 100 {
		e := failedSignIn(c)
		e.Address = fmt.Sprintf("192.0.2.%d", i)
		q.Record(e)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	plain, sums, suppressed := split(t, scan(t, s))
	if len(plain) != 1 || len(sums) != 4 || suppressed != 99 {
		t.Fatalf("%d entries, %d summaries counting %d; want 1, 4, 99", len(plain), len(sums), suppressed)
	}
	other := 0
	for _, e := range sums {
		if strings.Contains(e.Detail, "from other accounts and addresses") {
			other++
			if e.Address != "" || e.Account != "acme" || !strings.HasPrefix(e.Detail, "suppressed 96 ") {
				t.Errorf("catch-all summary %+v", e)
			}
		}
	}
	if other != 1 {
		t.Errorf("%d catch-all summaries; want 1", other)
	}
}

// AuditBatch splits batches longer than storage.AuditBatchMax.
func TestAuditBatchSplits(t *testing.T) {
	s := storagetest.Store(t)
	es := make([]storage.AuditEntry, 2*storage.AuditBatchMax+5)
	for i := range es {
		es[i] = storage.AuditEntry{Action: "sign-in", Outcome: "success", Address: strconv.Itoa(i)}
	}
	if err := s.AuditBatch(context.Background(), es); err != nil {
		t.Fatal(err)
	}
	if es[0].Time != 0 {
		t.Error("AuditBatch changed its argument")
	}
	if got := len(scan(t, s)); got != len(es) {
		t.Errorf("%d entries written; want %d", got, len(es))
	}
}

func BenchmarkRecord(b *testing.B) {
	s := storagetest.Store(b)
	q := audit.New(s, audit.Options{Logger: quiet()})
	defer q.Close()
	e := storage.AuditEntry{Actor: `acme\alice`, Account: "acme", Action: "sign-in", Target: "/me",
		Address: "203.0.113.7", Outcome: "failure", Detail: "bad credentials"}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			q.Record(e)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				q.Record(e)
			}
		})
	})
}
