package main

// The restart phase (-restart): what a cache rebuild costs in memory.
// After the scenarios of an N the tool closes its gatehouse and starts a
// new one on the same configuration and data directory in a process of
// its own (this program re-executed with the argument "restart"), as a
// real restart would: the embedded etcd reopens the seeded data and the
// storage cache lists all of it at start-up, while a sampler in the new
// process keeps the highest heap and resident memory it reached. In the
// server process the closed instance leaves memory behind (etcd's
// package-level metrics keep its old store reachable), which would count
// in every figure of a restart there.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gatehouse/heapgoal"
	"gatehouse/instance"
	"gatehouse/storage"
)

const (
	restartSampleEvery = 2 * time.Millisecond
	restartLinger      = 2 * time.Second // sampling after the new instance is ready
	restartArg         = "restart"
)

// restartBudget bounds the restart phase of N users; parseFlags adds it
// to the computed -timeout.
func restartBudget(n int) time.Duration {
	return 2*time.Minute + time.Duration(n/10000)*time.Second
}

// restartReport is what the restart phase of one N measured. Heap
// figures are bytes, RSS figures KiB. liveClosed and rssClosed are the
// server process's; the others are the restart process's.
type restartReport struct {
	n          int
	rev        int64  // the cache's revision before the restart, waited for after it
	liveClosed uint64 // /gc/heap/live of the server process with no instance, after a forced GC
	rssClosed  int64  // its VmRSS then, after debug.FreeOSMemory
	restartResult
}

// restartConfig is the restart process's job, its one stdin line.
type restartConfig struct {
	DataDir     string        `json:"dataDir"`
	Rev         int64         `json:"rev"` // wait until the store serves reads at this revision
	SampleEvery time.Duration `json:"sampleEvery"`
	Linger      time.Duration `json:"linger"`      // sampling after ready
	Deadline    time.Time     `json:"deadline"`    // the process's own limit
	Verbose     bool          `json:"verbose"`     // log the server at info level to stderr
	HeadroomMiB int           `json:"headroomMiB"` // the server process's heapgoal headroom (-gc-headroom-mib)
}

// restartResult is the restart process's answer, its one stdout line.
type restartResult struct {
	Start       time.Duration `json:"start"`       // instance.Start until it returned
	Ready       time.Duration `json:"ready"`       // instance.Start until Store.Read served at Rev (0: never)
	BaseLive    uint64        `json:"baseLive"`    // /gc/heap/live before instance.Start, after a forced GC
	BaseRSS     int64         `json:"baseRSS"`     // VmRSS then, after debug.FreeOSMemory
	PeakObjects uint64        `json:"peakObjects"` // highest /memory/classes/heap/objects (live + unswept garbage)
	PeakLive    uint64        `json:"peakLive"`    // highest /gc/heap/live (the live heap marked by a completed cycle)
	PeakRSS     int64         `json:"peakRSS"`     // highest VmRSS
	SteadyLive  uint64        `json:"steadyLive"`  // /gc/heap/live after the linger, after a forced GC
	SteadyRSS   int64         `json:"steadyRSS"`   // VmRSS then, after debug.FreeOSMemory
	Samples     int           `json:"samples"`
	Warnings    int64         `json:"warnings"`            // warnings mentioning a relist or etcd's silence
	FirstWarn   string        `json:"firstWarn,omitempty"` // the first of them
	Error       string        `json:"error,omitempty"`
}

// ratio is peak heap objects over the steady live heap.
func (r *restartResult) ratio() float64 {
	if r.SteadyLive == 0 {
		return 0
	}
	return float64(r.PeakObjects) / float64(r.SteadyLive)
}

func isRestartMode() bool { return len(os.Args) > 1 && os.Args[1] == restartArg }

// restartPhase closes the instance *inp (and clears *inp: a reference
// left there, seen by the caller's deferred Close, would keep the old
// cache alive), reads the live heap this process keeps with no instance,
// then has a restart process start a gatehouse on the data directory dir
// and report what it cost.
func restartPhase(inp **instance.Instance, dir string, verbose bool, n int) (*restartReport, error) {
	budget := restartBudget(n)
	rr := &restartReport{n: n, rev: (*inp).Store.Rev()}
	fmt.Fprintf(realStderr, "load: N=%d restarting gatehouse on its data (cache at revision %d) in a process of its own …\n", n, rr.rev)

	(*inp).Close()
	*inp = nil
	rr.rssClosed = readMem(true).rss // runtime.GC + debug.FreeOSMemory
	rr.liveClosed = readUint64Metric("/gc/heap/live:bytes")

	res, err := runRestartProc(restartConfig{DataDir: dir, Rev: rr.rev, HeadroomMiB: headroomMiB, SampleEvery: restartSampleEvery,
		Linger: restartLinger, Deadline: time.Now().Add(budget), Verbose: verbose})
	if res != nil {
		rr.restartResult = *res
	}
	if err != nil {
		return rr, err
	}
	fmt.Fprintf(realStderr, "load: N=%d restart: ready in %s; heap objects peak %s, live heap base %s, peak %s, steady %s (%.2f×); RSS base %s MiB, peak %s MiB, steady %s MiB; %d relist/silence warnings%s; the server process keeps %s MiB live with no instance\n",
		n, fmtDur(rr.Ready), mibBytes(rr.PeakObjects), mibBytes(rr.BaseLive), mibBytes(rr.PeakLive), mibBytes(rr.SteadyLive), rr.ratio(),
		mib(rr.BaseRSS), mib(rr.PeakRSS), mib(rr.SteadyRSS), rr.Warnings, quoteFirst(rr.FirstWarn), mibBytes(rr.liveClosed))
	return rr, nil
}

// runRestartProc runs the restart process on cfg and returns its result
// (with whatever it measured when it reports an error), killing it if it
// has not answered a little after cfg.Deadline. The child is killed if
// this process dies (Pdeathsig where the OS offers it) and exits by
// itself when its stdin closes or its deadline passes.
func runRestartProc(cfg restartConfig) (*restartResult, error) {
	cmd, stdin, stdout, err := reexec(restartArg)
	if err != nil {
		return nil, fmt.Errorf("restart process: %w", err)
	}
	exited := make(chan error, 1)
	wait := func(d time.Duration) error {
		select {
		case err := <-exited:
			return err
		case <-time.After(d):
			_ = cmd.Process.Kill()
			return fmt.Errorf("killed after %s", d)
		}
	}
	defer func() { _ = stdin.Close() }()
	if err := json.NewEncoder(stdin).Encode(cfg); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("restart process: sending its job: %w", err)
	}
	type answer struct {
		res restartResult
		err error
	}
	got := make(chan answer, 1)
	go func() {
		var a answer
		a.err = json.NewDecoder(bufio.NewReader(stdout)).Decode(&a.res)
		got <- a
		exited <- cmd.Wait() // after reading: Wait closes stdout
	}()
	var a answer
	select {
	case a = <-got:
	case <-time.After(time.Until(cfg.Deadline) + 15*time.Second):
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("restart process: no result %s after its deadline; killed", 15*time.Second)
	}
	if a.err != nil {
		werr := wait(5 * time.Second)
		if werr == nil {
			werr = errors.New("exited")
		}
		return nil, fmt.Errorf("restart process ended (%v) without a result: %w", werr, a.err)
	}
	_ = stdin.Close()
	if werr := wait(10 * time.Second); werr != nil && a.res.Error == "" {
		a.res.Error = fmt.Sprintf("restart process exit: %v", werr)
	}
	if a.res.Error != "" {
		return &a.res, errors.New(a.res.Error)
	}
	return &a.res, nil
}

// restartMain is the restart process: it reads its job, starts a
// gatehouse on the job's data directory while sampling its own memory,
// waits until the store serves reads at the job's revision and for the
// linger, reads its steady memory, closes the instance and writes its
// result.
func restartMain() int {
	out := json.NewEncoder(os.Stdout)
	// Whatever else writes to the standard output goes to stderr: stdout
	// carries the result only.
	os.Stdout = os.Stderr
	in := json.NewDecoder(bufio.NewReader(os.Stdin))
	var cfg restartConfig
	if err := in.Decode(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, "load restart: reading the job:", err)
		return 2
	}
	if cfg.Deadline.IsZero() || cfg.DataDir == "" || cfg.SampleEvery <= 0 {
		fmt.Fprintf(os.Stderr, "load restart: bad job %+v\n", cfg)
		return 2
	}
	// Its own hard limit, past the one for its work (ctx), and the end
	// of its stdin: the parent is gone (or done waiting).
	time.AfterFunc(time.Until(cfg.Deadline)+10*time.Second, func() {
		fmt.Fprintln(os.Stderr, "load restart: hard time limit reached; exiting")
		os.Exit(3)
	})
	var answered atomic.Bool
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		if answered.Load() {
			return // the parent has its result and lets go: exit as usual
		}
		fmt.Fprintln(os.Stderr, "load restart: stdin closed; exiting")
		os.Exit(4)
	}()
	res := restartRun(cfg)
	answered.Store(true)
	if err := out.Encode(res); err != nil {
		return 1
	}
	if res.Error != "" {
		return 1
	}
	return 0
}

// restartRun is the restart process's work.
func restartRun(cfg restartConfig) *restartResult {
	ctx, cancel := context.WithDeadline(context.Background(), cfg.Deadline)
	defer cancel()
	res := &restartResult{}
	var logw io.Writer = io.Discard
	if cfg.Verbose {
		logw = os.Stderr
	}
	counter := &warnCounter{}
	log := slog.New(&countingHandler{inner: slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelInfo}), c: counter})

	res.BaseRSS = readMem(true).rss // runtime.GC + debug.FreeOSMemory
	res.BaseLive = readUint64Metric("/gc/heap/live:bytes")
	s := startSampler(cfg.SampleEvery)
	stop := func() {
		s.finish()
		res.PeakObjects, res.PeakLive, res.PeakRSS, res.Samples = s.objects, s.live, s.rss, s.n
		res.Warnings, res.FirstWarn = counter.get()
	}
	defer heapgoal.Start(uint64(cfg.HeadroomMiB) << 20).Stop() // as the binary does
	t0 := time.Now()
	in, err := instance.Start(ctx, loadConfig(cfg.DataDir), log, io.Discard)
	res.Start = time.Since(t0)
	if err != nil {
		stop()
		res.Error = fmt.Sprintf("start gatehouse again: %v", err)
		return res
	}
	defer in.Close()
	for {
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		err = in.Store.Read(rctx, cfg.Rev, func(storage.View) error { return nil })
		rcancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			stop()
			res.Error = fmt.Sprintf("no reads at revision %d before the deadline of the restart: %v", cfg.Rev, err)
			return res
		}
		time.Sleep(10 * time.Millisecond)
	}
	res.Ready = time.Since(t0)
	select {
	case <-time.After(cfg.Linger):
	case <-ctx.Done():
	}
	stop()
	res.SteadyRSS = readMem(true).rss
	res.SteadyLive = readUint64Metric("/gc/heap/live:bytes")
	if ctx.Err() != nil {
		res.Error = "restart phase: over its budget"
	}
	return res
}

func quoteFirst(s string) string {
	if s == "" {
		return ""
	}
	return " (first: " + s + ")"
}

// mibBytes shows bytes in MiB.
func mibBytes(b uint64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }

// sampler keeps the highest heap objects, live heap and VmRSS it reads,
// every few milliseconds until finish.
type sampler struct {
	stop, done chan struct{}
	objects    uint64
	live       uint64
	rss        int64
	n          int
	ms         []metrics.Sample
}

func startSampler(every time.Duration) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{}), ms: []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/heap/live:bytes"},
	}}
	s.sample()
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				s.sample()
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *sampler) sample() {
	metrics.Read(s.ms)
	if v := s.ms[0].Value; v.Kind() == metrics.KindUint64 {
		s.objects = max(s.objects, v.Uint64())
	}
	if v := s.ms[1].Value; v.Kind() == metrics.KindUint64 {
		s.live = max(s.live, v.Uint64())
	}
	s.rss = max(s.rss, readProcMem().rss)
	s.n++
}

// finish takes a last sample and stops the sampler; its fields are then
// safe to read.
func (s *sampler) finish() {
	close(s.stop)
	<-s.done
}

// warnCounter counts the server's warnings about a relist or about etcd
// falling silent.
type warnCounter struct {
	n     atomic.Int64
	mu    sync.Mutex
	first string
}

func (c *warnCounter) add(msg string) {
	if c.n.Add(1) == 1 {
		c.mu.Lock()
		c.first = msg
		c.mu.Unlock()
	}
}

func (c *warnCounter) get() (int64, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n.Load(), c.first
}

// countingHandler passes every record to inner and counts, in c, those
// at level Warn or above whose message (or an attribute's value, such as
// err) mentions "relist" or "no word from etcd".
type countingHandler struct {
	inner slog.Handler
	c     *warnCounter
}

func (h *countingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.inner.Enabled(ctx, l)
}

func (h *countingHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		hit := mentionsRelist(r.Message)
		text := r.Message
		r.Attrs(func(a slog.Attr) bool {
			v := a.Value.String()
			if mentionsRelist(v) {
				hit = true
			}
			text += " " + a.Key + "=" + v
			return true
		})
		if hit {
			h.c.add(text)
		}
	}
	if !h.inner.Enabled(ctx, r.Level) {
		return nil
	}
	return h.inner.Handle(ctx, r)
}

func (h *countingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &countingHandler{inner: h.inner.WithAttrs(as), c: h.c}
}

func (h *countingHandler) WithGroup(name string) slog.Handler {
	return &countingHandler{inner: h.inner.WithGroup(name), c: h.c}
}

func mentionsRelist(s string) bool {
	return strings.Contains(s, "relist") || strings.Contains(s, "no word from etcd")
}
