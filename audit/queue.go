package audit

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/storage"
)

// Writer writes a batch of audit entries; *storage.Store is one. It must
// not keep the slice after returning.
type Writer interface {
	AuditBatch(ctx context.Context, entries []storage.AuditEntry) error
}

// Defaults for the zero fields of Options.
const (
	DefaultCapacity      = 4096
	DefaultBatchSize     = 128
	DefaultFlushInterval = time.Second
	DefaultRate          = 200
	DefaultGroups        = 64
	DefaultCloseTimeout  = 10 * time.Second
)

// otherGroups bounds the catch-all summary groups (one per action and
// outcome) that take entries once Options.Groups groups exist.
const otherGroups = 8

// Options configure a Queue; zero fields take the defaults.
type Options struct {
	// Capacity bounds the entries waiting to be written.
	Capacity int
	// BatchSize is the most entries one Writer.AuditBatch call gets; a
	// buffer holding that many wakes the worker before the interval ends.
	BatchSize int
	// FlushInterval is how often the worker writes what is pending and
	// the summaries (summaries and drop warnings go by Now's time).
	FlushInterval time.Duration
	// Rate is the most entries admitted for writing per second of Now's
	// time; the rest are summarised.
	Rate int
	// Groups bounds the summary groups kept per interval.
	Groups int
	// CloseTimeout bounds Close's final flush.
	CloseTimeout time.Duration
	// Logger gets write failures and drop warnings; slog.Default() if nil.
	Logger *slog.Logger
	// Now is the clock (time.Now if nil): entry times, the rate's
	// seconds and the summary intervals follow it.
	Now func() time.Time
	// Registerer, if set, gets the gatehouse_audit_* counters.
	Registerer prometheus.Registerer
}

// Stats are the Queue's counters. Every Record call counts once in
// Queued, Suppressed or Dropped; a queued entry whose write fails counts
// in Dropped too. Written counts entries written, summaries included.
type Stats struct {
	Queued, Written, Suppressed, Dropped uint64
}

// Queue is a bounded, batched, rate-limited audit writer; see the package
// documentation. Its methods are safe for concurrent use.
type Queue struct {
	w        Writer
	o        Options
	log      *slog.Logger
	wake     chan struct{}
	done     chan struct{}
	finished chan struct{}
	ctx      context.Context
	cancel   context.CancelFunc
	once     sync.Once
	closeErr error

	queued, written, suppressed, dropped atomic.Uint64

	mu          sync.Mutex
	closed      bool
	buf         []storage.AuditEntry
	windowStart time.Time // start of the current rate second
	budget      int       // entries still admitted in it
	groups      map[groupKey]*group
	others      int // catch-all groups in groups

	// The worker's own state.
	spare       []storage.AuditEntry
	lastSummary time.Time
	lastDropped uint64
	lastWarn    time.Time
}

// groupKey identifies a summary group; other marks the catch-all group
// of an action and outcome (account and address empty).
type groupKey struct {
	action, outcome, account, address string
	other                             bool
}

// group counts suppressed entries; first holds the first one's fields,
// and mixed[i] says whether later ones differed in field i (actor,
// target, account, address): the summary keeps only uniform fields.
type group struct {
	n     int
	since int64
	first [4]string
	mixed [4]bool
}

func fieldsOf(e storage.AuditEntry) [4]string {
	return [4]string{e.Actor, e.Target, e.Account, e.Address}
}

// New starts a Queue writing to w; Close stops it.
func New(w Writer, o Options) *Queue {
	if o.Capacity <= 0 {
		o.Capacity = DefaultCapacity
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	o.BatchSize = min(o.BatchSize, o.Capacity)
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.Rate <= 0 {
		o.Rate = DefaultRate
	}
	if o.Groups <= 0 {
		o.Groups = DefaultGroups
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = DefaultCloseTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	q := &Queue{w: w, o: o, log: o.Logger, wake: make(chan struct{}, 1),
		done: make(chan struct{}), finished: make(chan struct{})}
	q.ctx, q.cancel = context.WithCancel(context.Background())
	q.lastSummary = o.Now()
	q.lastWarn = q.lastSummary
	if o.Registerer != nil {
		q.register(o.Registerer)
	}
	go q.run()
	return q
}

func (q *Queue) register(r prometheus.Registerer) {
	for _, c := range []struct {
		name, help string
		v          *atomic.Uint64
	}{
		{"gatehouse_audit_queued_total", "Audit entries admitted for writing one by one.", &q.queued},
		{"gatehouse_audit_written_total", "Audit entries written to etcd, summaries included.", &q.written},
		{"gatehouse_audit_suppressed_total", "Audit entries beyond the rate, counted in summary entries.", &q.suppressed},
		{"gatehouse_audit_dropped_total", "Audit entries lost: buffer full, too many summary groups, write failed or queue closed.", &q.dropped},
	} {
		v := c.v
		err := r.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: c.name, Help: c.help},
			func() float64 { return float64(v.Load()) }))
		if err != nil {
			q.log.Warn("registering an audit metric failed", "metric", c.name, "err", err)
		}
	}
	err := r.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gatehouse_audit_queue_depth",
		Help: "Audit entries buffered and waiting for the next batch write (a batch being written is not counted)."},
		func() float64 {
			q.mu.Lock()
			defer q.mu.Unlock()
			return float64(len(q.buf))
		}))
	if err != nil {
		q.log.Warn("registering an audit metric failed", "metric", "gatehouse_audit_queue_depth", "err", err)
	}
}

// Stats returns the counters.
func (q *Queue) Stats() Stats {
	return Stats{Queued: q.queued.Load(), Written: q.written.Load(),
		Suppressed: q.suppressed.Load(), Dropped: q.dropped.Load()}
}

// Record hands e to the queue (stamping its Time from the clock when 0).
// It never blocks on etcd and starts no goroutine: e is buffered for the
// worker, counted in a summary when the rate is exceeded, or dropped when
// the buffer is full or the queue closed. Detail must hold only fixed
// phrases, as for every audit entry.
func (q *Queue) Record(e storage.AuditEntry) {
	e.TargetOf = nil
	now := q.o.Now()
	if e.Time == 0 {
		e.Time = now.UnixNano()
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		q.dropped.Add(1)
		return
	}
	if d := now.Sub(q.windowStart); d >= time.Second || d < 0 {
		q.windowStart, q.budget = now, q.o.Rate
	}
	if q.budget == 0 {
		ok := q.suppress(e)
		q.mu.Unlock()
		if ok {
			q.suppressed.Add(1)
		} else {
			q.dropped.Add(1)
		}
		return
	}
	if len(q.buf) >= q.o.Capacity {
		q.mu.Unlock()
		q.dropped.Add(1)
		return
	}
	q.budget--
	q.buf = append(q.buf, e)
	full := len(q.buf) >= q.o.BatchSize
	q.mu.Unlock()
	q.queued.Add(1)
	if full {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

// suppress counts e in its summary group; false when no group may take
// it. q.mu is held.
func (q *Queue) suppress(e storage.AuditEntry) bool {
	k := groupKey{action: e.Action, outcome: e.Outcome, account: e.Account, address: e.Address}
	g := q.groups[k]
	if g == nil && len(q.groups)-q.others >= q.o.Groups {
		k = groupKey{action: e.Action, outcome: e.Outcome, other: true}
		g = q.groups[k]
		if g == nil && q.others >= otherGroups {
			return false
		}
		if g == nil {
			q.others++
		}
	}
	if g == nil {
		if q.groups == nil {
			q.groups = map[groupKey]*group{}
		}
		g = &group{since: e.Time, first: fieldsOf(e)}
		q.groups[k] = g
	}
	g.n++
	g.since = min(g.since, e.Time)
	for i, f := range fieldsOf(e) {
		g.mixed[i] = g.mixed[i] || f != g.first[i]
	}
	return true
}

// Close stops the worker after writing what is pending, summaries
// included, within Options.CloseTimeout; Records after Close are dropped.
// It reports entries the final flush could not write. Calling it again
// returns the same answer.
func (q *Queue) Close() error {
	q.once.Do(func() {
		q.mu.Lock()
		q.closed = true
		q.mu.Unlock()
		close(q.done)
		t := time.AfterFunc(q.o.CloseTimeout, q.cancel)
		<-q.finished
		t.Stop()
		q.cancel()
	})
	<-q.finished
	return q.closeErr
}

func (q *Queue) run() {
	defer close(q.finished)
	tick := time.NewTicker(q.o.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-q.wake:
			q.flush(false)
		case <-tick.C:
			q.flush(false)
		case <-q.done:
			q.closeErr = q.flush(true)
			if q.closeErr != nil {
				q.log.Warn("audit entries pending at close not written", "err", q.closeErr)
			}
			return
		}
	}
}

// flush writes the buffer and, when the interval is over (or final), the
// summaries; it returns the last write error.
func (q *Queue) flush(final bool) error {
	q.mu.Lock()
	batch := q.buf
	q.buf = q.spare[:0]
	now := q.o.Now()
	interval := final || now.Sub(q.lastSummary) >= q.o.FlushInterval || now.Before(q.lastSummary)
	var groups map[groupKey]*group
	if interval {
		groups, q.groups, q.others = q.groups, nil, 0
		q.lastSummary = now
	}
	q.mu.Unlock()

	err := q.write(batch)
	clear(batch)
	q.spare = batch[:0]
	if len(groups) > 0 {
		if serr := q.write(summaries(groups, now)); serr != nil {
			err = serr
		}
	}
	if interval {
		if d := q.dropped.Load(); d != q.lastDropped {
			q.log.Warn("audit entries dropped", "count", d-q.lastDropped)
			q.lastDropped = d
		}
	}
	return err
}

// write hands entries to the Writer in batches; failed batches count as
// dropped and are logged at most once per interval.
func (q *Queue) write(entries []storage.AuditEntry) error {
	var last error
	for len(entries) > 0 {
		n := min(len(entries), q.o.BatchSize)
		if err := q.w.AuditBatch(q.ctx, entries[:n]); err != nil {
			last = err
			q.dropped.Add(uint64(n))
			now := q.o.Now()
			if now.Sub(q.lastWarn) >= q.o.FlushInterval || now.Before(q.lastWarn) {
				q.log.Warn("writing audit entries failed", "count", n, "err", err)
				q.lastWarn = now
			}
		} else {
			q.written.Add(uint64(n))
		}
		entries = entries[n:]
	}
	if last != nil {
		return fmt.Errorf("audit: writing entries: %w", last)
	}
	return nil
}

// summaries turns the groups into entries at time now, oldest group first.
func summaries(groups map[groupKey]*group, now time.Time) []storage.AuditEntry {
	keys := make([]groupKey, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b groupKey) int { return cmp.Compare(groups[a].since, groups[b].since) })
	out := make([]storage.AuditEntry, 0, len(keys))
	for _, k := range keys {
		g := groups[k]
		var f [4]string
		for i := range f {
			if !g.mixed[i] {
				f[i] = g.first[i]
			}
		}
		e := storage.AuditEntry{Time: now.UnixNano(), Actor: f[0], Target: f[1], Account: f[2],
			Address: f[3], Action: k.action, Outcome: k.outcome}
		from := ""
		if k.other {
			from = " from other accounts and addresses"
		}
		e.Detail = "suppressed " + thousands(g.n) + " similar entries" + from + " since " +
			time.Unix(0, g.since).UTC().Format(time.RFC3339)
		out = append(out, e)
	}
	return out
}

// thousands formats n with comma separators: 9950 is "9,950".
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
