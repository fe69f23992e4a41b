// Command load measures gatehouse against SPEC §12: for each user count
// N it starts a fresh gatehouse in-process (instance.Start, embedded
// etcd in a temporary directory), seeds N users in account "load"
// directly through the store, and has a client in a process of its own
// drive each scenario over loopback with a closed loop of C concurrent
// keep-alive connections. For each scenario it prints requests per
// second, p50/p99/p99.9/max latency, errors, what the server's garbage
// collector did meanwhile (cycles per second, share of the CPU, mark
// assists, estimated mark-phase time, longest stop-the-world pause,
// goroutine scheduling latency) and the live heap per stored user.
//
//	go run ./test/load [-users 1000,100000] [-duration 10s] [-connections 16] [-out table] [-repeat 3]
//
// One run's ratio to the bare handler moves with the bare handler's own
// 99th percentile, which varies by a quarter from run to run on a shared
// 2-core machine; -repeat N runs the scenario list N rounds on the same
// server and adds medians (and ranges) of the per-round ratios. -hold D
// keeps the seeded server up for an outside client (wrk) before the
// scenarios. -etcd-process runs the embedded etcd in a process of its
// own, used as an external cluster (as in production), so that the
// server process's heap and threads are gatehouse's alone. -trace adds
// an execution trace of each window to -cpuprofile's profiles.
//
// Scenarios:
//
//	bare           a bare net/http handler returning a fixed small XML
//	               document on its own listener, in the server's process:
//	               the machine's floor
//	bare-process   the same handler in a process of its own, without the
//	               server's heap and its mark phases (the server columns of
//	               its row are left empty)
//	page50         GET /auth/v2/accounts/load/users?page-size=50&current-page=<middle>
//	page50-prefix  the same with filter=user-0001* (middle page of the matches)
//	page50-substr  the same with a substring filter (filter=99)
//	user           GET /auth/v2/accounts/load/users/user-<random>
//	check          GET …/users/user-<random>/permissions/print:jobs:read
//	               (200 for the 1 in 10 users in group readers, 404 for
//	               the others: both count as success)
//	user-apikey, check-apikey
//	               user and check signed with an API key (Bearer)
//	check-post-1, check-post-100
//	               POST /auth/v2/check with 1 or 100 questions about
//	               random users
//	oauth-cc       POST /oauth2/token grant_type=client_credentials
//	               (form-encoded, client_secret_basic): a new JWT access
//	               token, one etcd write, a request; success is a 200
//	               whose body has an access_token. SPEC §12: ≥ 2,000/s
//	oauth-introspect
//	               POST /oauth2/introspect token=<an access token of the
//	               client> (form-encoded, client_secret_basic); success is
//	               a 200 whose body has "active":true (the client reads
//	               and checks the body). SPEC §12: ≥ 10,000/s
//	argon2id       not a request: argon2id verifications of one password
//	               (authn.VerifyPassword, the server's parameters) by as
//	               many goroutines as there are connections, in the
//	               server process: the bare hash rate sign-ins are bound by
//	signin         POST /oauth2/token grant_type=password (admin-cli) as
//	               load\signin-<k>, a different user each request (the
//	               names are walked without repeats, so no credential
//	               cache hit: every request pays argon2id, the throttle,
//	               a session and a last-login write); success is a 200
//	               with an access_token. Its note gives its rate as a
//	               share of argon2id's. SPEC §12: ≥ 80 %
//	oauth-refresh  POST /oauth2/token grant_type=refresh_token (public
//	               client admin-cli): each connection sends the refresh
//	               token the previous answer rotated to it; success is
//	               a 200 with a new refresh_token. SPEC §12: ≥ 1,000/s
//
// Every request authenticates with HTTP Basic as load\checker, whose
// verified credential the server caches, so requests do not pay argon2id
// — except the OAuth scenarios, which authenticate as an OAuth client.
// For them the tool creates, after seeding, one confidential client of
// load\checker through /auth/v2 (grant type client_credentials, scope
// auth:*), and issues the token introspected right before its scenario
// (an access token lives 10 minutes). They run last, so that the tokens
// oauth-cc writes do not weigh on the other scenarios. oauth-refresh
// gets one refresh token per connection from the password grant of the
// built-in public client admin-cli (as load\checker, scope
// offline_access), right before its run.
//
// Two processes. This process hosts gatehouse, its embedded etcd and the
// bare handler (the server process); the load generator is this program
// re-executed with the argument "drive" (the client process), which
// receives each scenario as a JSON line on its stdin and answers with
// JSON lines on its stdout: when its measured window opens and closes,
// then the latencies. A client sharing the server's process would stop
// with every GC pause and mark-phase stall of the server and not start
// the clock of the requests it would have sent meanwhile (coordinated
// omission), hiding the server's tail latency; out of process it sees the
// tails as wrk would. The server's figures are sampled from
// runtime/metrics and getrusage when the client's window opens and
// closes, so the CPU time per request counts gatehouse and etcd but no
// longer the load generator (shown apart, as client CPU per request);
// both processes share the machine's cores. The resident memory and live
// heap are the server process's. The tool bounds itself: every phase has
// a deadline, -timeout ends the process, the client process is killed
// when the server process dies (and exits by itself when its stdin
// closes or its own deadline passes), and a client that cannot start is
// reported at once, before any seeding.
//
// Seeding: users have no password (hashing a million argon2id passwords
// would take hours) and an e-mail address; every 10th is in group
// readers. Up to 100,000 users are written with storage.Store.PutItem,
// one guarded transaction per user, as the API writes them; above, with
// etcd transactions of -batch users holding the same keys and values
// (PutItem manages a few thousand users a second here). After seeding the
// tool reports memory per stored user (resident memory, and the live Go
// heap read from /gc/heap/live after a forced GC), then warms the Go heap
// up (-prewarm) before the first scenario. With -churn R it also writes R
// last-sign-in times per second to the account during every scenario, the
// write a password sign-in makes, to show what invalidating the
// per-account memos costs.
//
// Restart (-restart, on by default): after the scenarios of each N the
// tool closes its gatehouse, collects garbage and reads the live heap the
// server process keeps with no instance (the closed instance's leftovers:
// etcd's package-level metrics keep its old store reachable), then starts
// a new gatehouse on the same configuration and data directory in a
// process of its own, as a real restart: this program re-executed with
// the argument "restart", which receives the data directory, the revision
// to wait for and its deadline as a JSON line on its stdin and answers
// with its figures as a JSON line on its stdout. It is killed when the
// server process dies and exits by itself when its stdin closes or its
// deadline passes. There the embedded etcd reopens the seeded data and
// the storage cache lists all of it at start-up (the start-up relist).
// The restart process reads its live heap and RSS after a forced GC right
// before instance.Start (the baseline), then a sampler reads
// runtime/metrics and VmRSS every 2 ms from the start until 2 s after the
// new instance serves reads at the revision the old one had reached (so
// a late relist would show). The tool reports the time to ready, the
// peak of /memory/classes/heap/objects (live objects and garbage not yet
// swept: the heap the process really reached), the peak of
// /gc/heap/live, the live heap and RSS after a forced GC at the end
// (steady), peak heap objects / steady live heap, the peak RSS, and how
// many warnings the new instance logged about a relist or about etcd
// being silent ("no word from etcd"). These figures are the whole
// restart process's: etcd rebuilding its own index counts too.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gatehouse/authn"
	"gatehouse/authz"
	"gatehouse/conf"
	"gatehouse/heapgoal"
	"gatehouse/instance"
	"gatehouse/storage"
)

func main() {
	if isDriveMode() {
		os.Exit(driveMain())
	}
	if isBareMode() {
		os.Exit(bareMain())
	}
	if isEtcdMode() {
		os.Exit(etcdMain())
	}
	if isRestartMode() {
		os.Exit(restartMain())
	}
	os.Exit(run())
}

type options struct {
	users       []int
	duration    time.Duration
	warmup      time.Duration
	conns       int
	out         string
	seed        string
	seedWorkers int
	batch       int
	client      string
	scenarios   map[string]bool
	timeout     time.Duration
	verbose     bool
	profileDir  string
	hold        time.Duration
	repeat      int
	etcdProcess bool
	churn       float64
	memo        bool
	prewarm     time.Duration
	restart     bool
}

// headroomMiB is -gc-headroom-mib.
var headroomMiB int

func parseFlags() (options, error) {
	var o options
	users := flag.String("users", "1000,100000", "comma-separated user counts N; a fresh gatehouse is started for each")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per scenario")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured warm-up per scenario")
	flag.DurationVar(&o.prewarm, "prewarm", 5*time.Second, "unmeasured load after seeding, before the first scenario, so that the Go heap reaches its working size")
	flag.IntVar(&o.conns, "connections", 16, "concurrent keep-alive connections (closed loop)")
	flag.StringVar(&o.out, "out", "table", "output format: table, md or tsv")
	flag.StringVar(&o.seed, "seed", "auto", "how users are seeded: putitem (one Store.PutItem transaction per user), batch (etcd transactions of -batch users with the same keys and values), auto (putitem up to 100,000 users, batch above)")
	flag.IntVar(&o.seedWorkers, "seed-workers", 0, "seeding goroutines (0: 64 for putitem, 4 for batch)")
	flag.IntVar(&o.batch, "batch", 2000, "users per etcd transaction with -seed batch")
	flag.StringVar(&o.client, "client", "raw", "load client: raw (hand-written HTTP/1.1 keep-alive loop, closest to wrk) or nethttp (net/http.Client)")
	only := flag.String("scenarios", "", "comma-separated scenarios to run (default all): "+strings.Join(scenarioNames, ","))
	flag.DurationVar(&o.timeout, "timeout", 0, "hard limit for the whole run (0: computed from the other flags)")
	flag.BoolVar(&o.verbose, "v", false, "log the server at info level to stderr")
	flag.Float64Var(&o.churn, "churn", 0, "during every scenario, also write this many last-sign-in times per second to account load (what a password sign-in writes), to show the cost of memo invalidation")
	flag.IntVar(&headroomMiB, "gc-headroom-mib", conf.Defaults().Runtime.GCHeadroomMiB, "the server process keeps its GC heap goal this many MiB above the live heap, as the gatehouse binary does (runtime.gc-headroom-mib; 0: GOGC alone)")
	flag.BoolVar(&o.memo, "memo", true, "after seeding, measure the holdings memo's memory per user (fills an authz.Holdings for every user)")
	flag.BoolVar(&o.restart, "restart", true, "after the scenarios of each N, restart gatehouse on its data in a process of its own and report the memory the start-up relist of the cache peaks at")
	flag.BoolVar(&traceWindows, "trace", false, "with -cpuprofile, also write an execution trace of each measured window (N-scenario.trace)")
	flag.StringVar(&o.profileDir, "cpuprofile", "", "write a CPU profile of each measured scenario to this directory (N-scenario.pprof)")
	flag.BoolVar(&o.etcdProcess, "etcd-process", false, "run the embedded etcd in a process of its own, which gatehouse uses as an external cluster (as in production): the server process holds gatehouse alone (needs -restart=false)")
	flag.IntVar(&o.repeat, "repeat", 1, "run the scenario list this many rounds in turn on the same server (bare-process, a, b, …, then again), and add a summary of each scenario's medians over the rounds, with its rate and p99 against bare-process's in the same round")
	flag.DurationVar(&o.hold, "hold", 0, "after seeding and prewarm, print the server's and the bare handlers' URLs and the credentials, and keep serving this long before the scenarios, for an outside client such as wrk")
	flag.Parse()
	if flag.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", flag.Arg(0))
	}
	if o.etcdProcess && o.restart {
		return o, errors.New("-etcd-process restarts nothing: add -restart=false")
	}
	for _, f := range strings.Split(*users, ",") {
		f = strings.ReplaceAll(strings.TrimSpace(f), "_", "")
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 10_000_000 {
			return o, fmt.Errorf("-users: %q is not a count between 1 and 10,000,000", f)
		}
		o.users = append(o.users, n)
	}
	if len(o.users) == 0 {
		return o, errors.New("-users: no counts")
	}
	if o.conns < 1 || o.duration <= 0 || o.warmup < 0 {
		return o, errors.New("-connections and -duration must be positive")
	}
	switch o.out {
	case "table", "md", "tsv":
	default:
		return o, fmt.Errorf("-out %q: want table, md or tsv", o.out)
	}
	switch o.seed {
	case "auto", "putitem", "batch":
	default:
		return o, fmt.Errorf("-seed %q: want auto, putitem or batch", o.seed)
	}
	switch o.client {
	case "raw", "nethttp":
	default:
		return o, fmt.Errorf("-client %q: want raw or nethttp", o.client)
	}
	if *only != "" {
		o.scenarios = map[string]bool{}
		for _, s := range strings.Split(*only, ",") {
			o.scenarios[strings.TrimSpace(s)] = true
		}
	}
	if o.timeout == 0 {
		// Per N: start, seeding (generous: 1M users by PutItem would be
		// far slower than this allows, hence batch above 100k), and the
		// scenarios with their probes.
		k := len(scenarioNames)
		if o.scenarios != nil {
			k = len(o.scenarios)
		}
		perN := 2*time.Minute + o.prewarm + o.hold + time.Duration(max(1, o.repeat)*k)*(o.duration+o.warmup+15*time.Second)
		for _, n := range o.users {
			o.timeout += perN + time.Duration(n/1000)*time.Second
			if o.restart {
				o.timeout += restartBudget(n)
			}
		}
	}
	return o, nil
}

func run() int {
	// Time the server's mark phases with the runtime's own GC trace (see
	// gctrace.go): re-execute with GODEBUG=gctrace=1, then read it.
	traceReexec()
	startTrace()
	flag.CommandLine.SetOutput(realStderr)
	o, err := parseFlags()
	if err != nil {
		fmt.Fprintln(realStderr, "load:", err)
		return 2
	}
	// The tool stops by itself, whatever happens.
	deadline := time.AfterFunc(o.timeout, func() {
		fmt.Fprintf(realStderr, "load: hard time limit %s reached; exiting\n", o.timeout)
		if d := activeClient.Load(); d != nil {
			d.kill()
		}
		os.Exit(3)
	})
	defer deadline.Stop()

	// The server process paces its collector as the binary does.
	defer heapgoal.Start(uint64(headroomMiB) << 20).Stop()
	bare, err := startBare()
	if err != nil {
		fmt.Fprintln(realStderr, "load:", err)
		return 1
	}
	defer bare.Close()
	bareProcAddr := ""
	if o.scenarios == nil || o.scenarios["bare-process"] {
		bp, err := startBareProc()
		if err != nil {
			fmt.Fprintln(realStderr, "load:", err)
			return 1
		}
		defer bp.close()
		bareProcAddr = bp.addr
	}

	// The load generator runs in a process of its own, so that this
	// process's garbage collector (gatehouse's and etcd's) cannot pause it.
	// Its latency buffers are preallocated once: room for 60k requests/s
	// per connection-set over the measured duration.
	d, err := startClient(clientConfig{Conns: o.conns, Client: o.client, Timeout: 10 * time.Second,
		Deadline: time.Now().Add(o.timeout + 10*time.Second), PerWorker: max(4096, int(o.duration.Seconds()*60000)/o.conns)})
	if err != nil {
		fmt.Fprintln(realStderr, "load:", err)
		return 1
	}
	defer d.close()
	activeClient.Store(d)

	fmt.Fprintf(realStderr, "load: load average %.2f before start\n", loadAvg())
	fmt.Fprintf(realStderr, "load: GOMAXPROCS=%d NumCPU=%d connections=%d client=%s duration=%s warmup=%s\n",
		runtime.GOMAXPROCS(0), runtime.NumCPU(), o.conns, o.client, o.duration, o.warmup)

	var results []result
	var seeds []seedReport
	code := 0
	for _, n := range o.users {
		rs, sr, err := runN(o, d, bare.Addr().String(), bareProcAddr, n)
		results = append(results, rs...)
		if sr != nil {
			seeds = append(seeds, *sr)
		}
		if err != nil {
			fmt.Fprintf(realStderr, "load: N=%d: %v\n", n, err)
			code = 1
		}
	}
	printResults(os.Stdout, o, results, seeds)
	return code
}

// seedReport describes how one N was seeded and what it cost in memory.
type seedReport struct {
	n                   int
	method              string
	workers, batch      int
	took                time.Duration
	before, after       memStat
	perUserRSS          float64 // bytes
	perUserAnon         float64
	perUserHeap         float64
	fixedTook, cacheLag time.Duration
	peak                int64  // highest VmRSS (KiB) seen at the end of a scenario
	liveBefore          uint64 // live Go heap before seeding (after a forced GC), bytes
	liveAfter           uint64 // the same after seeding
	liveUnder           uint64 // highest live heap after a scenario
	memoPerUser         float64
	memoCompute         time.Duration
	restart             *restartReport // the restart phase's figures (nil without -restart)
}

// measureMemo fills an authz.Holdings — the structure the server keeps
// per requested user — for every seeded user the way the server does
// (Of, then Effective as a user GET does) and returns the live heap it
// holds per user and the time per computed holding: the most the memo
// can cost, reached when every user asks or is asked about (Of stores;
// the memo may bound itself, e.g. with a byte budget).
func measureMemo(st *storage.Store, n int) (float64, time.Duration) {
	before := readMem(true)
	var hs authz.Holdings
	t0 := time.Now()
	var b []byte
	_ = st.Read(context.Background(), 0, func(v storage.View) error {
		for i := 0; i < n; i++ {
			b = appendUserName(b[:0], i)
			hs.Of(v, loadAccount, string(b)).Effective()
		}
		return nil
	})
	took := time.Since(t0)
	after := readMem(true)
	runtime.KeepAlive(&hs)
	return float64(int64(after.heap)-int64(before.heap)) / float64(n), took / time.Duration(n)
}

// loadConfig is gatehouse's configuration for a run on the data
// directory dir: the restart process builds its instance from it too.
func loadConfig(dir string) conf.Config {
	cfg := conf.Defaults()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.HTTP.ShutdownTimeout = 5 * time.Second
	cfg.Storage.DataDir = dir
	cfg.Admin.Password = "load-admin-password-1"
	return cfg
}

func runN(o options, d *clientProc, bareAddr, bareProcAddr string, n int) ([]result, *seedReport, error) {
	dir, err := os.MkdirTemp("", "gatehouse-load-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)

	cfg := loadConfig(dir)
	if o.etcdProcess {
		ep, err := startEtcdProc(dir)
		if err != nil {
			return nil, nil, err
		}
		defer ep.close()
		cfg.Storage.Etcd.Endpoints = []string{ep.endpoint}
	}
	var logw io.Writer = io.Discard
	if o.verbose {
		logw = realStderr
	}
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelInfo}))

	sctx, scancel := context.WithTimeout(context.Background(), 90*time.Second)
	in, err := instance.Start(sctx, cfg, log, io.Discard)
	scancel()
	if err != nil {
		return nil, nil, fmt.Errorf("start gatehouse: %w", err)
	}
	// The restart phase closes in (and clears it): close it at the end
	// unless it did.
	defer func() {
		if in != nil {
			in.Close()
		}
	}()
	addr := in.Addr()

	// Seed.
	sr := &seedReport{n: n, method: o.seed}
	if sr.method == "auto" {
		sr.method = "putitem"
		if n > 100_000 {
			sr.method = "batch"
		}
	}
	sr.workers = o.seedWorkers
	if sr.workers == 0 {
		sr.workers = 64
		if sr.method == "batch" {
			sr.workers = 4
		}
	}
	sr.batch = o.batch
	seedBudget := 2*time.Minute + time.Duration(n)*time.Millisecond // ≥ 1,000 users/s or give up
	ctx, cancel := context.WithTimeout(context.Background(), seedBudget)
	defer cancel()

	t0 := time.Now()
	if err := seedFixed(ctx, in.Store); err != nil {
		return nil, nil, fmt.Errorf("seed fixed data: %w", err)
	}
	sr.fixedTook = time.Since(t0)
	sr.before = readMem(true)
	sr.liveBefore = liveHeap()
	fmt.Fprintf(realStderr, "load: N=%d seeding with %s (%d workers) …\n", n, sr.method, sr.workers)
	progress := func(done int) {
		el := time.Since(t0).Seconds()
		fmt.Fprintf(realStderr, "load:   %d users in %.1fs (%.0f/s)\n", done, el, float64(done)/el)
	}
	t0 = time.Now()
	var rev int64
	if sr.method == "batch" {
		rev, err = seedUsersBatch(ctx, in.Store, n, sr.batch, sr.workers, progress)
	} else {
		rev, err = seedUsersPutItem(ctx, in.Store, n, sr.workers, progress)
	}
	if err != nil {
		return nil, sr, fmt.Errorf("seeding %d users: %w", n, err)
	}
	written := time.Since(t0)
	if err := waitCache(ctx, in.Store, rev); err != nil {
		return nil, sr, err
	}
	sr.took = time.Since(t0)
	sr.cacheLag = sr.took - written
	sr.after = readMem(true)
	sr.liveAfter = liveHeap()
	sr.perUserRSS = float64(sr.after.rss-sr.before.rss) * 1024 / float64(n)
	sr.perUserAnon = float64(sr.after.anon-sr.before.anon) * 1024 / float64(n)
	sr.perUserHeap = float64(int64(sr.after.heap)-int64(sr.before.heap)) / float64(n)
	fmt.Fprintf(realStderr, "load: N=%d seeded in %s (%.0f users/s); RSS %d → %d MiB\n",
		n, sr.took.Round(time.Millisecond), float64(n)/sr.took.Seconds(), sr.before.rss>>10, sr.after.rss>>10)

	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(loadAccount+`\`+checkerUser+":"+checkerPass))
	// Sign in once: pays argon2id, fills the credential cache, and records
	// the last sign-in (a write to the account, which would otherwise
	// invalidate the memoised filters during the first scenario).
	if st, body, err := get(addr, auth, "/auth/v2/accounts/load", 30*time.Second); err != nil || st != 200 {
		return nil, sr, fmt.Errorf("first sign-in: status %d err %v: %s", st, err, body)
	}
	loginKey := storage.ItemKey(loadAccount, storage.KindLogin, checkerUser)
	for i := 0; i < 250; i++ { // ≤ 5 s for the background write to land
		var ok bool
		_ = in.Store.Read(context.Background(), 0, func(v storage.View) error { ok = v.Has(loginKey); return nil })
		if ok {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	scs, err := scenarios(o, n, in.Store, addr, bareAddr, bareProcAddr, auth)
	if err != nil {
		return nil, sr, err
	}
	// Let the Go heap grow to its working size before measuring: after
	// seeding (and the FreeOSMemory of the memory reading) the first
	// allocation-heavy seconds would otherwise pay page faults for a heap
	// that grows to twice the live size (about 600 MB more at 1M users).
	if o.prewarm > 0 {
		pw := scenario{Name: "prewarm", Addr: addr, Auth: auth, Path: "/auth/v2/accounts/load/users?page-size=50"}
		if _, err := d.run(pw, 0, o.prewarm, nil, nil); err != nil {
			return nil, sr, fmt.Errorf("prewarm: %w", err)
		}
	}
	if o.hold > 0 {
		fmt.Fprintf(realStderr, "load: holding %s for outside clients:\n  gatehouse   http://%s/auth/v2/accounts/load/users/user-0000001/permissions/%s\n  bare        http://%s/bare\n  bare-process http://%s/bare\n  Authorization: %s\n",
			o.hold, addr, readerPerm, bareAddr, bareProcAddr, auth)
		time.Sleep(o.hold)
	}
	var out []result
	for round := 1; round <= max(1, o.repeat); round++ {
		for _, sc := range scs {
			if sc.prepare != nil {
				if err := sc.prepare(&sc); err != nil {
					return out, sr, fmt.Errorf("%s: %w", sc.Name, err)
				}
			}
			if sc.Name == "argon2id (seeding only)" {
				continue
			}
			runtime.GC() // each scenario starts a fresh GC cycle
			var prof func()
			var profErr error
			stopChurn := startChurn(in.Store, n, o.churn)
			var g0, g1 gcSample
			run := d.run
			if sc.local != nil {
				run = func(sc scenario, warmup, duration time.Duration, recording, stopped func()) (driveResult, error) {
					return sc.local(warmup, duration), nil
				}
			}
			dr, err := run(sc, o.warmup, o.duration,
				func() {
					g0 = readGC()
					if o.profileDir != "" {
						name := fmt.Sprintf("%d-%s", n, sc.Name)
						if o.repeat > 1 {
							name += fmt.Sprintf("-%d", round)
						}
						prof, profErr = startProfile(o.profileDir, name)
					}
				},
				func() {
					g1 = readGC()
					if prof != nil {
						prof()
					}
				})
			stopChurn()
			if err != nil {
				return out, sr, fmt.Errorf("%s: %w", sc.Name, err)
			}
			if profErr != nil {
				return out, sr, profErr
			}
			r := result{round: round, external: sc.external, scenario: sc.Name, n: n, conns: o.conns, requests: dr.Requests, errors: dr.Errors,
				elapsed: dr.Elapsed, p50: dr.P50, p99: dr.P99, p999: dr.P999, max: dr.Max, note: sc.note,
				firstErr: dr.FirstErr, clientGCs: dr.GCs}
			r.gc = diffGC(g0, g1)
			r.cores = r.gc.cpu.Seconds() / r.gc.wall.Seconds()
			if k := r.requests + r.errors; k > 0 {
				r.cpuPerReq = r.gc.cpu / time.Duration(k)
				r.clientCPU = dr.CPU / time.Duration(k)
			}
			r.load1 = loadAvg()
			if o.churn > 0 {
				r.note += fmt.Sprintf("; churn %.0f writes/s", o.churn)
			}
			if r.clientGCs > 0 {
				r.note += fmt.Sprintf("; %d GC cycles in the client", r.clientGCs)
			}
			if sc.Seq > 0 && r.requests+r.errors > sc.Seq {
				r.note += "; names repeated: some requests hit the credential cache"
			}
			if sc.Name == "signin" {
				for _, a := range out {
					if a.scenario == "argon2id" && a.n == n && a.requests > 0 {
						r.note += fmt.Sprintf("; %.0f%% of argon2id's %.1f/s", 100*r.rate()/a.rate(), a.rate())
					}
				}
			}
			m := readMem(false)
			r.rssKiB = m.rss
			sr.peak = max(sr.peak, m.rss)
			r.live = liveHeap()
			sr.liveUnder = max(sr.liveUnder, r.live)
			if r.firstErr != "" {
				fmt.Fprintf(realStderr, "load: N=%d %s: %d errors, first: %s\n", n, sc.Name, r.errors, r.firstErr)
			}
			if r.external {
				fmt.Fprintf(realStderr, "load: N=%d %-14s %9.0f req/s  p50 %-8s p99 %-8s p99.9 %-8s max %-8s errors %d  (own process)  load %.1f\n",
					n, sc.Name, r.rate(), fmtDur(r.p50), fmtDur(r.p99), fmtDur(r.p999), fmtDur(r.max), r.errors, r.load1)
				out = append(out, r)
				continue
			}
			fmt.Fprintf(realStderr, "load: N=%d %-14s %9.0f req/s  p50 %-8s p99 %-8s p99.9 %-8s max %-8s errors %d  GC %.1f/s %.0f%% mark %s (max %s, %.0f%% of the time)  live %s/user  CPU/req %s  client GCs %d  load %.1f\n",
				n, sc.Name, r.rate(), fmtDur(r.p50), fmtDur(r.p99), fmtDur(r.p999), fmtDur(r.max), r.errors,
				float64(r.gc.cycles)/r.gc.wall.Seconds(), 100*r.gc.gcShare, fmtDur(r.gc.markMean), fmtDur(r.gc.markMax), 100*r.gc.inMark, fmtBytes(float64(r.live)/float64(n)),
				fmtDur(r.cpuPerReq), r.clientGCs, r.load1)
			out = append(out, r)
		}
	}
	// Last, so that its garbage does not weigh on the scenarios.
	if o.memo {
		sr.memoPerUser, sr.memoCompute = measureMemo(in.Store, n)
		fmt.Fprintf(realStderr, "load: N=%d holdings memo: %.0f B/user, %s per computed holding\n", n, sr.memoPerUser, sr.memoCompute)
	}
	// After everything else: it closes the instance.
	if o.restart {
		sr.restart, err = restartPhase(&in, dir, o.verbose, n)
		if err != nil {
			return out, sr, fmt.Errorf("restart: %w", err)
		}
	}
	return out, sr, nil
}

// scenarios builds the scenario list for N users, probing the server for
// the filtered counts so that each paged scenario asks for its middle page.
func scenarios(o options, n int, st *storage.Store, addr, bareAddr, bareProcAddr, auth string) ([]scenario, error) {
	want := func(name string) bool { return o.scenarios == nil || o.scenarios[name] }
	const users = "/auth/v2/accounts/load/users"
	var out []scenario
	if want("bare") {
		out = append(out, scenario{Name: "bare", Addr: bareAddr, Path: "/bare", Auth: auth,
			note: "net/http handler, fixed " + strconv.Itoa(len(bareDoc)) + "-byte XML, in the server process"})
	}
	if want("bare-process") && bareProcAddr != "" {
		out = append(out, scenario{Name: "bare-process", Addr: bareProcAddr, Path: "/bare", Auth: auth, external: true,
			note: "the same handler in a process of its own (server columns: not measured)"})
	}
	paged := func(name, filter string) error {
		q := "?page-size=50"
		if filter != "" {
			q += "&filter=" + url.QueryEscape(filter)
		}
		count, err := probeCount(addr, auth, users+q)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		pages := max(1, (count+49)/50)
		mid := (pages + 1) / 2
		note := fmt.Sprintf("count=%d, page %d of %d", count, mid, pages)
		if filter != "" {
			note = "filter=" + filter + " " + note
		}
		out = append(out, scenario{Name: name, Addr: addr, Auth: auth, note: note,
			Path: users + q + "&current-page=" + strconv.Itoa(mid)})
		return nil
	}
	if want("page50") {
		if err := paged("page50", ""); err != nil {
			return nil, err
		}
	}
	if want("page50-prefix") {
		if err := paged("page50-prefix", "user-0001*"); err != nil {
			return nil, err
		}
	}
	if want("page50-substr") {
		if err := paged("page50-substr", "99"); err != nil {
			return nil, err
		}
	}
	// randomUser is GET users/user-<random><suffix>.
	randomUser := func(name, auth, suffix string, ok []int, note string) scenario {
		return scenario{Name: name, Addr: addr, Auth: auth, Path: users + "/", RandomUser: true, Suffix: suffix, N: n,
			OK: ok, note: note}
	}
	checkOK := []int{200, 404}
	if want("user") {
		out = append(out, randomUser("user", auth, "", nil, "random user, depth 1"))
	}
	if want("check") {
		out = append(out, randomUser("check", auth, "/permissions/"+readerPerm, checkOK, "random user; 200 (1 in 10) or 404"))
	}
	if want("user-apikey") || want("check-apikey") {
		secret, err := createAPIKey(addr, auth)
		if err != nil {
			return nil, err
		}
		keyAuth := "Bearer " + secret
		if want("user-apikey") {
			out = append(out, randomUser("user-apikey", keyAuth, "", nil, "random user, depth 1, signed with an API key (Bearer)"))
		}
		if want("check-apikey") {
			out = append(out, randomUser("check-apikey", keyAuth, "/permissions/"+readerPerm, checkOK,
				"as check, signed with an API key (Bearer)"))
		}
	}
	// POST /auth/v2/check with q questions about random users.
	for _, q := range []int{1, 100} {
		name := "check-post-" + strconv.Itoa(q)
		if want(name) {
			out = append(out, scenario{Name: name, Addr: addr, Auth: auth, Path: "/auth/v2/check", Questions: q, N: n,
				note: fmt.Sprintf("POST /auth/v2/check, %d random question(s) a request", q)})
		}
	}
	// OAuth, last: oauth-cc and oauth-refresh write to etcd.
	if want("oauth-cc") || want("oauth-introspect") {
		id, secret, err := createOAuthClient(addr, auth)
		if err != nil {
			return nil, err
		}
		// client_secret_basic: id and secret form-encoded (RFC 6749
		// §2.3.1), then Basic.
		clientAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
		if want("oauth-cc") {
			sc := scenario{Name: "oauth-cc", Addr: addr, Auth: clientAuth, Path: "/oauth2/token",
				Body: "grant_type=client_credentials", ContentType: formType, Expect: `"access_token":`,
				note: "POST /oauth2/token client_credentials, client_secret_basic; SPEC §12: ≥ 2,000/s"}
			// Fail before the run, with the server's answer, if the grant
			// does not work.
			if _, err := clientToken(addr, clientAuth); err != nil {
				return nil, err
			}
			out = append(out, sc)
		}
		if want("oauth-introspect") {
			out = append(out, scenario{Name: "oauth-introspect", Addr: addr, Auth: clientAuth, Path: "/oauth2/introspect",
				ContentType: formType, Expect: `"active":true`,
				note: "POST /oauth2/introspect of an access token, as the client (basic); SPEC §12: ≥ 10,000/s",
				prepare: func(sc *scenario) error {
					tok, err := clientToken(addr, clientAuth)
					if err != nil {
						return err
					}
					sc.Body = "token=" + url.QueryEscape(tok)
					st, b, err := post(addr, clientAuth, sc.Path, formType, sc.Body, 30*time.Second)
					if err != nil || st != 200 || !strings.Contains(string(b), sc.Expect) {
						return fmt.Errorf("introspection probe: status %d err %v: %s", st, err, b)
					}
					return nil
				}})
		}
	}
	if want("oauth-refresh") {
		out = append(out, scenario{Name: "oauth-refresh", Addr: addr, Path: "/oauth2/token", ContentType: formType,
			Body:   "grant_type=refresh_token&client_id=" + adminCLI + "&refresh_token=" + chainMark,
			Expect: `"refresh_token":`, Chain: "refresh_token",
			note: "POST /oauth2/token refresh_token (rotation: each connection uses the token the last answer gave it); SPEC §12: ≥ 1,000/s",
			prepare: func(sc *scenario) error {
				seeds, err := refreshTokens(addr, o.conns)
				sc.Seeds = seeds
				return err
			}})
	}
	// Password sign-ins against the bare argon2id rate (SPEC §12).
	var hash string
	if want("argon2id") || want("signin") {
		// Enough distinct users that no name repeats at 300 sign-ins/s
		// (a repeat would hit the credential cache).
		k := max(2000, int((o.warmup+o.duration).Seconds()*300))
		out = append(out, scenario{Name: "argon2id", external: true,
			note: fmt.Sprintf("authn.VerifyPassword (m=%d KiB, t=%d, p=%d) by %d goroutines in the server process, no HTTP",
				authn.DefaultParams.Memory, authn.DefaultParams.Time, authn.DefaultParams.Threads, o.conns),
			prepare: func(sc *scenario) error {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				h, err := seedSignIn(ctx, st, k)
				hash = h
				return err
			},
			local: func(warmup, duration time.Duration) driveResult {
				return hashLoop(o.conns, hash, warmup, duration)
			}})
		if !want("argon2id") {
			out[len(out)-1].Name = "argon2id (seeding only)"
		}
		if want("signin") {
			out = append(out, scenario{Name: "signin", Addr: addr, Path: "/oauth2/token", ContentType: formType,
				Body: "grant_type=password&client_id=" + adminCLI + "&username=" + url.QueryEscape(loadAccount+`\`) +
					"signin-" + seqMark + "&password=" + url.QueryEscape(checkerPass),
				Seq: k, Expect: `"access_token":`,
				note: fmt.Sprintf("POST /oauth2/token password grant (admin-cli), %d users walked without repeats; SPEC §12: ≥ 80 %% of argon2id", k)})
		}
	}
	return out, nil
}

// hashLoop verifies checkerPass against hash in conns goroutines for
// warmup + duration and reports the verifications of the measured
// window: the bare argon2id rate of this machine under the same
// concurrency as the sign-in scenario.
func hashLoop(conns int, hash string, warmup, duration time.Duration) driveResult {
	var rec, stop atomic.Bool
	lats := make([][]time.Duration, conns)
	var errs atomic.Int64
	var wg sync.WaitGroup
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				t0 := time.Now()
				ok, err := authn.VerifyPassword(checkerPass, hash)
				el := time.Since(t0)
				if !rec.Load() {
					continue
				}
				if !ok || err != nil {
					errs.Add(1)
					continue
				}
				lats[w] = append(lats[w], el)
			}
		}()
	}
	time.Sleep(warmup)
	cpu0 := processCPU()
	rec.Store(true)
	start := time.Now()
	time.Sleep(duration)
	rec.Store(false)
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	stop.Store(true)
	wg.Wait()
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	slices.Sort(all)
	res := driveResult{Requests: len(all), Errors: int(errs.Load()), Elapsed: elapsed, CPU: cpu}
	res.P50, res.P99, res.P999 = quantile(all, 0.5), quantile(all, 0.99), quantile(all, 0.999)
	if len(all) > 0 {
		res.Max = all[len(all)-1]
	}
	return res
}

// adminCLI is the built-in public client offering the password grant.
const adminCLI = "admin-cli"

// refreshTokens signs load\checker in n times with the password grant
// of admin-cli (scope offline_access: a refresh token each): one
// refresh-token family per connection.
func refreshTokens(addr string, n int) ([]string, error) {
	form := url.Values{"grant_type": {"password"}, "client_id": {adminCLI}, "username": {loadAccount + `\` + checkerUser},
		"password": {checkerPass}, "scope": {"offline_access auth:users:read"}}.Encode()
	out := make([]string, 0, n)
	for range n {
		st, b, err := post(addr, "", "/oauth2/token", formType, form, 30*time.Second)
		if err != nil {
			return nil, fmt.Errorf("password grant: %w", err)
		}
		rt, ok := jsonString(b, "refresh_token")
		if st != 200 || !ok {
			return nil, fmt.Errorf("password grant: status %d: %s", st, b)
		}
		out = append(out, rt)
	}
	return out, nil
}

// scenarioNames are the scenarios in the order they run.
var scenarioNames = []string{"bare", "bare-process", "page50", "page50-prefix", "page50-substr", "user", "check",
	"user-apikey", "check-apikey", "check-post-1", "check-post-100", "oauth-cc", "oauth-introspect", "oauth-refresh",
	"argon2id", "signin"}

const formType = "application/x-www-form-urlencoded"

// createOAuthClient creates a confidential client of the checker for
// the client credentials grant with scope auth:* through /auth/v2, and
// returns its id and secret (shown once, in the 201 document).
func createOAuthClient(addr, auth string) (id, secret string, err error) {
	body := "<client><grant-types><grant-type>client_credentials</grant-type></grant-types>" +
		"<scopes><scope>auth:*</scope></scopes></client>"
	st, b, err := post(addr, auth, "/auth/v2/accounts/"+loadAccount+"/users/"+checkerUser+"/clients", "application/xml", body, 30*time.Second)
	if err != nil {
		return "", "", fmt.Errorf("create OAuth client: %w", err)
	}
	if st != http.StatusCreated {
		return "", "", fmt.Errorf("create OAuth client: status %d: %s", st, b)
	}
	var doc struct {
		ID     string `xml:"identifier,attr"`
		Secret string `xml:"client-secret"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil || doc.ID == "" || doc.Secret == "" {
		return "", "", fmt.Errorf("create OAuth client: no identifier or secret in %s", b)
	}
	return doc.ID, doc.Secret, nil
}

// clientToken asks /oauth2/token for a client credentials access token
// with the client's Basic credentials.
func clientToken(addr, clientAuth string) (string, error) {
	st, b, err := post(addr, clientAuth, "/oauth2/token", formType, "grant_type=client_credentials", 30*time.Second)
	if err != nil {
		return "", fmt.Errorf("client credentials token: %w", err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if st != 200 || json.Unmarshal(b, &tok) != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("client credentials token: status %d: %s", st, b)
	}
	return tok.AccessToken, nil
}

// startProfile starts a CPU profile of this process (the server); the
// returned function stops it.
func startProfile(dir, name string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(dir, name+".pprof"))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	if !traceWindows {
		return func() {
			pprof.StopCPUProfile()
			f.Close()
		}, nil
	}
	tf, err := os.Create(filepath.Join(dir, name+".trace"))
	if err != nil {
		pprof.StopCPUProfile()
		f.Close()
		return nil, err
	}
	if err := trace.Start(tf); err != nil {
		pprof.StopCPUProfile()
		f.Close()
		tf.Close()
		return nil, err
	}
	return func() {
		trace.Stop()
		tf.Close()
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// traceWindows (-trace) adds an execution trace of each measured window
// to its CPU profile (N-scenario.trace): go tool trace -pprof=sched shows
// where goroutines waited to run.
var traceWindows bool

// createAPIKey gives the checker an API key for user reads and returns
// its secret (shown once, in the 201 document).
func createAPIKey(addr, auth string) (string, error) {
	body := "<api-key><name>load</name><permissions><permission>auth:users:*</permission></permissions></api-key>"
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/auth/v2/accounts/"+loadAccount+"/users/"+checkerUser+"/api-keys",
		strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/xml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("create API key: status %d: %s", resp.StatusCode, b)
	}
	var doc struct {
		Secret string `xml:"secret"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil || doc.Secret == "" {
		return "", fmt.Errorf("create API key: no secret in %s", b)
	}
	return doc.Secret, nil
}

// probeCount reads the count attribute of the document's root element.
func probeCount(addr, auth, path string) (int, error) {
	st, body, err := get(addr, auth, path, 60*time.Second)
	if err != nil {
		return 0, err
	}
	if st != 200 {
		return 0, fmt.Errorf("probe %s: status %d: %s", path, st, body)
	}
	dec := xml.NewDecoder(strings.NewReader(string(body)))
	for {
		tok, err := dec.Token()
		if err != nil {
			return 0, fmt.Errorf("probe %s: %w", path, errNoCount)
		}
		if se, ok := tok.(xml.StartElement); ok {
			for _, a := range se.Attr {
				if a.Name.Local == "count" {
					return strconv.Atoi(a.Value)
				}
			}
			return 0, fmt.Errorf("probe %s: %w", path, errNoCount)
		}
	}
}

// bareDoc is the bare handler's fixed document: about the size of a
// permission-check answer.
const bareDoc = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<permission href="/auth/v2/accounts/load/users/user-0000010/permissions/print:jobs:read" granted-by="/auth/v2/accounts/load/roles/reader">print:jobs:read</permission>
`

// bareServer is the floor: a bare net/http handler.
type bareServer struct {
	srv *http.Server
	l   net.Listener
}

func (b *bareServer) Addr() net.Addr { return b.l.Addr() }
func (b *bareServer) Close()         { _ = b.srv.Close() }

// startBare serves bareDoc on its own loopback listener.
func startBare() (*bareServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	body := []byte(bareDoc)
	srv := &http.Server{
		Addr:              l.Addr().String(),
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Type", "application/xml; charset=utf-8")
			h.Set("Content-Length", strconv.Itoa(len(body)))
			_, _ = w.Write(body)
		}),
	}
	go func() { _ = srv.Serve(l) }()
	return &bareServer{srv, l}, nil
}

// startChurn writes last-sign-in times of random users at rate per
// second, the way the server records a password sign-in (a guarded
// transaction on the user), until the returned function is called.
func startChurn(st *storage.Store, n int, rate float64) func() {
	if rate <= 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			u := userName(rand.IntN(n))
			userKey := storage.ItemKey(loadAccount, storage.KindUser, u)
			now := time.Now().UTC().Format(time.RFC3339)
			wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
			_, _ = st.Update(wctx, func(v storage.View, t *storage.Txn) error {
				if v.Has(userKey) {
					t.Expect(userKey)
					t.Put(storage.ItemKey(loadAccount, storage.KindLogin, u), now)
				}
				return nil
			})
			wcancel()
		}
	}()
	return func() { cancel(); <-done }
}

// processCPU is the CPU time (user + system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAvg is the machine's one-minute load average.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	x, _ := strconv.ParseFloat(f[0], 64)
	return x
}

// memStat is the process's resident memory (KiB) and Go heap (bytes).
type memStat struct {
	rss, anon, file int64
	heap            uint64
}

// readMem reads the process's memory. With live, it first collects
// garbage and returns freed memory to the OS, so that differences measure
// what is live; without, it shows the footprint as it is under load (the
// Go heap grows to about twice the live heap between collections with
// the default GOGC=100). Only the seeding report uses live: returning
// memory to the OS makes the next allocations fault pages in again.
func readMem(live bool) memStat {
	if live {
		runtime.GC()
		debug.FreeOSMemory()
	}
	m := readProcMem()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.heap = ms.HeapInuse
	return m
}

// readProcMem reads VmRSS, RssAnon and RssFile (KiB) from
// /proc/self/status, without the stop-the-world of ReadMemStats (heap is
// left 0): cheap enough for the restart phase's sampler.
func readProcMem() memStat {
	var m memStat
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			f := strings.Fields(v)
			if len(f) == 0 {
				continue
			}
			x, _ := strconv.ParseInt(f[0], 10, 64)
			switch k {
			case "VmRSS":
				m.rss = x
			case "RssAnon":
				m.anon = x
			case "RssFile":
				m.file = x
			}
		}
	}
	return m
}
