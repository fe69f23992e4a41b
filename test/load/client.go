package main

// The load generator runs in a process of its own — this program
// re-executed with the first argument "drive" — so that the server's
// garbage collector cannot pause it: a client sharing the server's
// process stops with it and does not start the clock of the requests it
// would have sent (coordinated omission), which hides exactly the
// server's tail latency. The parent hosts gatehouse and the bare handler
// and sends the child one job per scenario, a JSON line on its stdin; the
// child answers with JSON lines on its stdout: "ready" once at start,
// then for each job "recording" when the measured window opens,
// "stopped" when it closes (the parent samples its own CPU and GC
// figures at these two moments), and "done" with the latencies.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// activeClient is the running client process, killed if the parent's
// hard time limit strikes.
var activeClient atomic.Pointer[clientProc]

// driveArg is the first argument that makes this program the client.
const driveArg = "drive"

// job is one scenario for the client process to drive.
type job struct {
	Scenario scenario      `json:"scenario"`
	Warmup   time.Duration `json:"warmup"`
	Duration time.Duration `json:"duration"`
}

// clientConfig is sent once, as the child's first stdin line.
type clientConfig struct {
	Conns   int           `json:"conns"`
	Client  string        `json:"client"`
	Timeout time.Duration `json:"timeout"` // per request
	// Deadline is the child's own hard limit: it exits when it passes,
	// whatever the parent does.
	Deadline time.Time `json:"deadline"`
	// PerWorker is the latency buffer preallocated per connection.
	PerWorker int `json:"perWorker"`
}

// event is one line the client process writes on its stdout.
type event struct {
	Event  string       `json:"event"` // ready, recording, stopped, done, error
	Result *driveResult `json:"result,omitempty"`
	Error  string       `json:"error,omitempty"`
}

// driveMain is the client process: it reads its configuration, then jobs,
// from stdin until stdin closes (the parent is gone or done) and exits.
func driveMain() int {
	in := json.NewDecoder(bufio.NewReader(os.Stdin))
	out := json.NewEncoder(os.Stdout)
	var mu sync.Mutex
	send := func(e event) {
		mu.Lock()
		defer mu.Unlock()
		if err := out.Encode(e); err != nil {
			os.Exit(1) // the parent is gone
		}
	}
	var cfg clientConfig
	if err := in.Decode(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, "load client: reading configuration:", err)
		return 2
	}
	if !cfg.Deadline.IsZero() {
		time.AfterFunc(time.Until(cfg.Deadline), func() {
			fmt.Fprintln(os.Stderr, "load client: hard time limit reached; exiting")
			os.Exit(3)
		})
	}
	if cfg.Conns < 1 || (cfg.Client != "raw" && cfg.Client != "nethttp") {
		send(event{Event: "error", Error: fmt.Sprintf("bad configuration %+v", cfg)})
		return 2
	}
	d := newDriver(cfg.Conns, max(cfg.PerWorker, 4096), cfg.Client, cfg.Timeout)
	// Jobs are read by a goroutine of their own so that a closed stdin —
	// the parent has died — ends the process even in the middle of a job.
	jobs := make(chan job)
	go func() {
		for {
			var j job
			if err := in.Decode(&j); err != nil {
				if !errors.Is(err, io.EOF) {
					fmt.Fprintln(os.Stderr, "load client: reading a job:", err)
				}
				os.Exit(0)
			}
			jobs <- j
		}
	}()
	send(event{Event: "ready"})
	for j := range jobs {
		r := d.run(j.Scenario, j.Warmup, j.Duration,
			func() { send(event{Event: "recording"}) },
			func() { send(event{Event: "stopped"}) })
		send(event{Event: "done", Result: &r})
	}
	return 0
}

// clientProc is the parent's handle on the client process.
type clientProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	enc   *json.Encoder
	dec   *json.Decoder
	exit  chan error // receives the child's exit once it has ended
}

// reexec starts this executable again with arg (a child process of the
// tool: the client, the bare handler), its stderr on ours, killed if this
// process dies (Pdeathsig where the OS offers it), and returns its pipes.
func reexec(arg string, extra ...string) (*exec.Cmd, io.WriteCloser, io.ReadCloser, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("cannot find this executable to re-run it: %w", err)
	}
	cmd := exec.Command(exe, append([]string{arg}, extra...)...)
	cmd.Stderr = realStderr
	cmd.Env = clientEnv()
	setParentDeathSignal(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, fmt.Errorf("cannot start %s %s: %w", exe, arg, err)
	}
	return cmd, stdin, stdout, nil
}

// startClient starts the client process (this executable, re-executed
// with driveArg) and waits for it to say it is ready. The child is killed
// if this process dies (Pdeathsig where the OS offers it) and exits by
// itself when its stdin closes or cfg.Deadline passes.
func startClient(cfg clientConfig) (*clientProc, error) {
	cmd, stdin, stdout, err := reexec(driveArg)
	if err != nil {
		return nil, fmt.Errorf("load client: %w", err)
	}
	c := &clientProc{cmd: cmd, stdin: stdin, enc: json.NewEncoder(stdin), dec: json.NewDecoder(bufio.NewReader(stdout)),
		exit: make(chan error, 1)}
	if err := c.enc.Encode(cfg); err != nil {
		c.kill()
		return nil, fmt.Errorf("load client: sending the configuration: %w", err)
	}
	ready := make(chan error, 1)
	go func() { _, err := c.next("ready"); ready <- err }()
	select {
	case err := <-ready:
		if err != nil {
			c.kill()
			return nil, fmt.Errorf("load client: the client process did not start: %w", err)
		}
	case <-time.After(30 * time.Second):
		c.kill()
		return nil, errors.New("load client: the client process did not say it was ready within 30s")
	}
	return c, nil
}

// next reads the next event and checks that it is want.
func (c *clientProc) next(want string) (event, error) {
	var e event
	if err := c.dec.Decode(&e); err != nil {
		// The child has probably died: report how.
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			werr := c.cmd.Wait()
			if werr == nil {
				werr = errors.New("exited")
			}
			return e, fmt.Errorf("client process ended (%v) while waiting for %q", werr, want)
		}
		return e, fmt.Errorf("reading the client process's %q: %w", want, err)
	}
	if e.Event == "error" {
		return e, fmt.Errorf("client process: %s", e.Error)
	}
	if e.Event != want {
		return e, fmt.Errorf("client process said %q, want %q", e.Event, want)
	}
	return e, nil
}

// run has the client drive sc; recording and stopped are called (in this
// process) when the client opens and closes the measured window.
func (c *clientProc) run(sc scenario, warmup, duration time.Duration, recording, stopped func()) (driveResult, error) {
	if err := c.enc.Encode(job{Scenario: sc, Warmup: warmup, Duration: duration}); err != nil {
		return driveResult{}, fmt.Errorf("sending %s to the client process: %w", sc.Name, err)
	}
	if _, err := c.next("recording"); err != nil {
		return driveResult{}, err
	}
	if recording != nil {
		recording()
	}
	if _, err := c.next("stopped"); err != nil {
		return driveResult{}, err
	}
	if stopped != nil {
		stopped()
	}
	e, err := c.next("done")
	if err != nil {
		return driveResult{}, err
	}
	if e.Result == nil {
		return driveResult{}, errors.New("client process: done without a result")
	}
	return *e.Result, nil
}

// close ends the client process: closing its stdin makes it exit.
func (c *clientProc) close() {
	_ = c.stdin.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		c.kill()
	}
}

func (c *clientProc) kill() {
	if c.cmd.Process != nil {
		_ = c.cmd.Process.Kill()
	}
}

// gcCycles is the number of completed GC cycles of this process.
func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// isDriveMode says whether this process was started as the client.
func isDriveMode() bool { return len(os.Args) > 1 && strings.TrimLeft(os.Args[1], "-") == driveArg }
