package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	}
}

func mib(kib int64) string { return fmt.Sprintf("%.0f", float64(kib)/1024) }

// table writes rows as an aligned text table, a Markdown table or TSV.
func table(w io.Writer, format string, header []string, rows [][]string) {
	switch format {
	case "tsv":
		fmt.Fprintln(w, strings.Join(header, "\t"))
		for _, r := range rows {
			fmt.Fprintln(w, strings.Join(r, "\t"))
		}
	case "md":
		fmt.Fprintln(w, "| "+strings.Join(header, " | ")+" |")
		fmt.Fprintln(w, strings.Repeat("| --- ", len(header))+"|")
		for _, r := range rows {
			fmt.Fprintln(w, "| "+strings.Join(r, " | ")+" |")
		}
	default:
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(header, "\t"))
		for _, r := range rows {
			fmt.Fprintln(tw, strings.Join(r, "\t"))
		}
		tw.Flush()
	}
}

// fmtBytes shows a byte count per user.
func fmtBytes(b float64) string {
	if b >= 10*1024 {
		return fmt.Sprintf("%.1f KiB", b/1024)
	}
	return fmt.Sprintf("%.0f B", b)
}

func printResults(w io.Writer, o options, results []result, seeds []seedReport) {
	fmt.Fprintf(w, "\ngatehouse load: %d connections (closed loop, keep-alive, %s client in a process of its own), %s measured after %s warm-up per scenario, GOMAXPROCS=%d, %d cores (shared)\n",
		o.conns, o.client, o.duration, o.warmup, runtime.GOMAXPROCS(0), runtime.NumCPU())
	for _, l := range []string{
		"The client runs in its own process: the server's GC cannot pause it, so the latencies include the server's GC stalls (wrk-like).",
		"latency (p50, p99, p99.9, max) = client-side time from writing a request to reading the whole response, over the measured window;",
		"bare = a bare net/http handler in the server process (its heap, its mark phases); bare-process = the same handler in a process of its own;",
		"server process = gatehouse + its embedded etcd + the bare handler; its GC while the client measured (runtime/metrics, sampled when the window opens and closes):",
		"  GC/s = GC cycles per second; GC CPU = /cpu/classes/gc/total over the CPU the server's Go code used (/cpu/classes, total − idle);",
		"  assist = the part of that CPU spent in mark assists (request goroutines made to mark before they may allocate);",
		"  mark, mark max = mean and longest wall time of a mark phase, from the runtime's own trace (the server runs with GODEBUG=gctrace=1);",
		"  in mark = the share of the time the server spent in a mark phase; pause max = longest stop-the-world GC pause",
		"  (/sched/pauses/total/gc, histogram bucket bound); sched p99 = 99th percentile of the time a server goroutine waited runnable (/sched/latencies);",
		"live/user = /gc/heap/live after a forced GC at the end of the scenario / N (all of the server's live heap: gatehouse, etcd, fixed costs);",
		"RSS = the server process's VmRSS at the end of the scenario (before that GC); cores = the server's CPU time / wall time (a low figure with a",
		"high load average means other processes took the CPU); CPU/req = the server's CPU time per request (getrusage: gatehouse + etcd), the figure",
		"least disturbed by other processes; client/req = the client process's CPU per request; load = the machine's 1-minute load average at the end.",
	} {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w)

	bare := map[int]result{}
	for _, r := range results {
		if r.scenario == "bare" {
			bare[r.n] = r
		}
	}
	header := []string{"scenario", "N", "req/s", "p50", "p99", "p99.9", "max", "errors",
		"GC/s", "GC CPU", "assist", "mark", "mark max", "in mark", "pause max", "sched p99", "live/user",
		"RSS MiB", "cores", "CPU/req", "client/req", "load", "vs bare rate", "vs bare p99", "vs bare CPU", "notes"}
	var rows [][]string
	for _, r := range results {
		if o.repeat > 1 {
			r.note = fmt.Sprintf("round %d; %s", r.round, r.note)
		}
		vsRate, vsP99, vsCPU := "", "", ""
		if b, ok := bare[r.n]; ok && r.scenario != "bare" && b.requests > 0 && b.p99 > 0 {
			vsRate = fmt.Sprintf("%.2f×", r.rate()/b.rate())
			vsP99 = fmt.Sprintf("%.2f×", float64(r.p99)/float64(b.p99))
			if b.cpuPerReq > 0 {
				vsCPU = fmt.Sprintf("%.2f×", float64(r.cpuPerReq)/float64(b.cpuPerReq))
			}
		}
		g := r.gc
		mark, markMax, inMark := "", "", ""
		if g.marked {
			mark, markMax, inMark = fmtDur(g.markMean), fmtDur(g.markMax), fmt.Sprintf("%.0f%%", 100*g.inMark)
		}
		gcps := ""
		if g.wall > 0 {
			gcps = fmt.Sprintf("%.1f", float64(g.cycles)/g.wall.Seconds())
		}
		if r.external {
			rows = append(rows, []string{r.scenario, fmt.Sprint(r.n), fmt.Sprintf("%.0f", r.rate()),
				fmtDur(r.p50), fmtDur(r.p99), fmtDur(r.p999), fmtDur(r.max), fmt.Sprint(r.errors),
				"", "", "", "", "", "", "", "", "", "", "", "", fmtDur(r.clientCPU),
				fmt.Sprintf("%.1f", r.load1), vsRate, vsP99, "", r.note})
			continue
		}
		rows = append(rows, []string{r.scenario, fmt.Sprint(r.n), fmt.Sprintf("%.0f", r.rate()),
			fmtDur(r.p50), fmtDur(r.p99), fmtDur(r.p999), fmtDur(r.max), fmt.Sprint(r.errors),
			gcps, fmt.Sprintf("%.0f%%", 100*g.gcShare), fmt.Sprintf("%.0f%%", 100*g.assist), mark, markMax, inMark, fmtDur(g.pauseMax), fmtDur(g.schedP99), fmtBytes(float64(r.live) / float64(r.n)),
			mib(r.rssKiB), fmt.Sprintf("%.2f", r.cores), fmtDur(r.cpuPerReq), fmtDur(r.clientCPU),
			fmt.Sprintf("%.1f", r.load1), vsRate, vsP99, vsCPU, r.note})
	}
	table(w, o.out, header, rows)
	if o.repeat > 1 {
		printRounds(w, o, results)
	}

	if len(seeds) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "seeding; memory per stored user = (after seeding − before seeding) / N, both read after runtime.GC + debug.FreeOSMemory (live memory);")
	fmt.Fprintln(w, "RSS includes the embedded etcd (its bbolt file is mmapped: RssFile) and the Go heap (the gatehouse cache, etcd's in-memory index and raft log);")
	fmt.Fprintln(w, "memo/user = live Go heap an authz.Holdings keeps per user once every user was asked about (Of + Effective; within the memo's own bound, if any), and the time to compute one;")
	fmt.Fprintln(w, "under-load/user = (highest RSS at the end of a scenario − RSS before seeding) / N: the footprint with GC headroom and the holdings memo filled by the user/check scenarios;")
	fmt.Fprintln(w, "live/user = (/gc/heap/live after seeding − before seeding) / N, each after a forced GC; live under load/user = (highest live heap after a scenario − before seeding) / N")
	fmt.Fprintln(w)
	header = []string{"N", "method", "seed time", "users/s", "cache lag", "RSS before MiB", "RSS after MiB", "RSS/user", "anon/user", "Go heap/user", "under-load/user", "live/user", "live under load/user", "memo/user"}
	rows = rows[:0]
	for _, s := range seeds {
		method := s.method
		switch s.method {
		case "putitem":
			method = fmt.Sprintf("Store.PutItem, 1 user/txn, %d goroutines", s.workers)
		case "batch":
			method = fmt.Sprintf("etcd client Txn, %d users/txn, %d goroutines", s.batch, s.workers)
		}
		underLoad := ""
		if s.peak > 0 {
			underLoad = fmt.Sprintf("%.0f B", float64(s.peak-s.before.rss)*1024/float64(s.n))
		}
		liveUnder := ""
		if s.liveUnder > 0 {
			liveUnder = fmtBytes(float64(int64(s.liveUnder)-int64(s.liveBefore)) / float64(s.n))
		}
		memo := ""
		if s.memoPerUser != 0 {
			memo = fmt.Sprintf("%.0f B (%s each)", s.memoPerUser, fmtDur(s.memoCompute))
		}
		rate := ""
		if s.took > 0 {
			rate = fmt.Sprintf("%.0f", float64(s.n)/s.took.Seconds())
		}
		rows = append(rows, []string{fmt.Sprint(s.n), method, s.took.Round(time.Millisecond).String(), rate,
			s.cacheLag.Round(time.Millisecond).String(), mib(s.before.rss), mib(s.after.rss),
			fmt.Sprintf("%.0f B", s.perUserRSS), fmt.Sprintf("%.0f B", s.perUserAnon), fmt.Sprintf("%.0f B", s.perUserHeap), underLoad,
			fmtBytes(float64(int64(s.liveAfter)-int64(s.liveBefore)) / float64(s.n)), liveUnder, memo})
	}
	table(w, o.out, header, rows)
	printRestarts(w, o, seeds)
}

// printRestarts writes the restart phase's table.
func printRestarts(w io.Writer, o options, seeds []seedReport) {
	var rows [][]string
	for _, s := range seeds {
		r := s.restart
		if r == nil {
			continue
		}
		ready, ratio := "failed", ""
		if r.Ready > 0 {
			ready = fmtDur(r.Ready)
		}
		if r.SteadyLive > 0 {
			ratio = fmt.Sprintf("%.2f×", r.ratio())
		}
		rows = append(rows, []string{fmt.Sprint(r.n), mibBytes(r.liveClosed), fmtDur(r.Start), ready,
			mibBytes(r.BaseLive), mib(r.BaseRSS), mibBytes(r.PeakObjects), mibBytes(r.PeakLive), mibBytes(r.SteadyLive), ratio,
			mib(r.PeakRSS), mib(r.SteadyRSS), fmt.Sprint(r.Warnings)})
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "restart: the instance is closed and a new one started on the same data directory in a process of its own, as a real restart")
	fmt.Fprintln(w, "(embedded etcd reopens it, the cache lists it all at start-up); parent leftover live = /gc/heap/live of the server process after closing")
	fmt.Fprintln(w, "its instance and a forced GC (what the closed instance leaves behind there; not part of the restart's figures);")
	fmt.Fprintf(w, "all other columns are the restart process's (gatehouse and etcd), sampled every %s from before instance.Start until %s after the new instance serves reads at the old revision;\n", restartSampleEvery, restartLinger)
	fmt.Fprintln(w, "start = instance.Start's own time; ready = until Store.Read served at the revision the old instance had reached;")
	fmt.Fprintln(w, "base live, base RSS = the restart process's /gc/heap/live and VmRSS right before instance.Start, after a forced GC and debug.FreeOSMemory;")
	fmt.Fprintln(w, "peak objects = highest /memory/classes/heap/objects (live objects + garbage not yet swept); peak live = highest /gc/heap/live (marked by a completed cycle);")
	fmt.Fprintln(w, "steady live, steady RSS = after a forced GC and debug.FreeOSMemory at the end; peak/steady = peak objects / steady live;")
	fmt.Fprintln(w, "warnings = server warnings (level ≥ Warn) mentioning a relist or \"no word from etcd\" from the start until the end of the sampling")
	fmt.Fprintln(w)
	header := []string{"N", "parent leftover live MiB", "start", "ready", "base live MiB", "base RSS MiB", "peak objects MiB", "peak live MiB", "steady live MiB", "peak/steady",
		"peak RSS MiB", "steady RSS MiB", "relist/silence warnings"}
	table(w, o.out, header, rows)
}

// printRounds writes, for each N and scenario run in several rounds, the
// median of its figures over the rounds and its rate and p99 against
// bare-process's (bare's without it) in the same round: one run's ratio
// moves with the bare handler's own p99, which varies by a quarter from
// run to run on a shared machine.
func printRounds(w io.Writer, o options, results []result) {
	type key struct {
		n        int
		scenario string
	}
	var order []key
	byKey := map[key][]result{}
	bare := map[[2]int]result{} // (n, round) → the bare handler's result
	for _, r := range results {
		k := key{r.n, r.scenario}
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], r)
		if b, ok := bare[[2]int{r.n, r.round}]; r.scenario == "bare-process" || r.scenario == "bare" && (!ok || b.scenario != "bare-process") {
			bare[[2]int{r.n, r.round}] = r
		}
	}
	median := func(xs []float64) float64 {
		slices.Sort(xs)
		if len(xs)%2 == 1 {
			return xs[len(xs)/2]
		}
		return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	spread := func(xs []float64, f string) string {
		if len(xs) == 0 {
			return ""
		}
		m := median(slices.Clone(xs))
		return fmt.Sprintf(f+" ("+f+"–"+f+")", m, slices.Min(xs), slices.Max(xs))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "medians over %d rounds (lowest–highest); vs bare = the scenario's figure over the bare handler's (bare-process) in the same round\n", o.repeat)
	header := []string{"scenario", "N", "rounds", "req/s", "p50 ms", "p99 ms", "CPU/req µs", "vs bare rate", "vs bare p99"}
	var rows [][]string
	for _, k := range order {
		rs := byKey[k]
		var rate, p50, p99, cpu, vsRate, vsP99 []float64
		for _, r := range rs {
			rate = append(rate, r.rate())
			p50 = append(p50, float64(r.p50)/float64(time.Millisecond))
			p99 = append(p99, float64(r.p99)/float64(time.Millisecond))
			if !r.external && r.cpuPerReq > 0 {
				cpu = append(cpu, float64(r.cpuPerReq)/float64(time.Microsecond))
			}
			if b, ok := bare[[2]int{r.n, r.round}]; ok && b.scenario != r.scenario && b.p99 > 0 && b.requests > 0 {
				vsRate = append(vsRate, r.rate()/b.rate())
				vsP99 = append(vsP99, float64(r.p99)/float64(b.p99))
			}
		}
		rows = append(rows, []string{k.scenario, fmt.Sprint(k.n), fmt.Sprint(len(rs)), spread(rate, "%.0f"), spread(p50, "%.2f"),
			spread(p99, "%.2f"), spread(cpu, "%.0f"), spread(vsRate, "%.2f"), spread(vsP99, "%.2f")})
	}
	table(w, o.out, header, rows)
}
