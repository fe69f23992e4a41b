package main

// Mark phases are timed by the runtime itself: the server process runs
// with GODEBUG=gctrace=1 (the tool re-executes itself with it at start),
// its standard error (file descriptor 2, where the runtime writes the
// trace) is a pipe this process reads, and every "gc N @…: a+b+c ms
// clock, …" line is kept by cycle number N (the /gc/cycles/total count
// after that cycle); the other lines go on to the real standard error.
// runtime/metrics counts cycles, GC CPU and pauses, but has no wall time
// of a mark phase: the time during which request goroutines are slowed
// by assists and by the workers taking a share of the cores.

import (
	"bufio"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// traceEnv marks the re-executed server process; its value is the
	// GODEBUG the tool was started with, restored for the client.
	traceEnv = "GATEHOUSE_LOAD_GODEBUG"
)

// gcCycle is one line of the runtime's GC trace.
type gcCycle struct {
	stw1, mark, stw2 time.Duration // wall clock: sweep termination, concurrent mark, mark termination
	forced           bool
}

// gcTrace collects the trace lines by cycle number.
type gcTrace struct {
	mu     sync.Mutex
	cycles map[uint64]gcCycle
	last   uint64
}

// traced is the running trace, nil when the runtime's trace is not
// available (the re-execution failed, or the OS has no dup3).
var traced *gcTrace

// realStderr is where the process's own messages and its client's go.
var realStderr io.Writer = os.Stderr

// traceReexec re-executes this program with GODEBUG=gctrace=1 unless it
// already runs so. It returns only if it did not re-execute.
func traceReexec() {
	if _, ok := os.LookupEnv(traceEnv); ok {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	orig := os.Getenv("GODEBUG")
	gd := "gctrace=1"
	if orig != "" {
		gd = orig + "," + gd
	}
	env := append(os.Environ(), traceEnv+"="+orig, "GODEBUG="+gd)
	if err := execSelf(exe, os.Args, env); err != nil {
		os.Stderr.WriteString("load: cannot re-execute with GODEBUG=gctrace=1 (" + err.Error() + "): no mark-phase times\n")
	}
}

// clientEnv is the environment for the client process: the GODEBUG the
// tool was started with, without the marker.
func clientEnv() []string {
	orig, ok := os.LookupEnv(traceEnv)
	if !ok {
		return nil // inherit
	}
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, traceEnv+"=") || strings.HasPrefix(kv, "GODEBUG=") {
			continue
		}
		env = append(env, kv)
	}
	if orig != "" {
		env = append(env, "GODEBUG="+orig)
	}
	return env
}

// startTrace, in the re-executed process, turns its standard error into a
// pipe and starts reading the trace from it.
func startTrace() {
	if _, ok := os.LookupEnv(traceEnv); !ok {
		return
	}
	r, orig, err := redirectStderr()
	if err != nil {
		os.Stderr.WriteString("load: cannot read the GC trace (" + err.Error() + "): no mark-phase times\n")
		return
	}
	realStderr = orig
	// A crash's report goes to the real standard error too (the pipe's
	// reader would not live to pass it on).
	_ = debug.SetCrashOutput(orig, debug.CrashOptions{})
	t := &gcTrace{cycles: map[uint64]gcCycle{}}
	traced = t
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if n, c, ok := parseGCLine(line); ok {
				t.mu.Lock()
				t.cycles[n] = c
				t.last = max(t.last, n)
				t.mu.Unlock()
				continue
			}
			_, _ = io.WriteString(orig, line+"\n")
		}
	}()
}

// parseGCLine parses "gc 133 @19.666s 11%: 2.9+8.6+0.004 ms clock, …".
func parseGCLine(line string) (uint64, gcCycle, bool) {
	var c gcCycle
	if !strings.HasPrefix(line, "gc ") || !strings.Contains(line, " ms clock") {
		return 0, c, false
	}
	f := strings.Fields(line)
	if len(f) < 6 {
		return 0, c, false
	}
	n, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0, c, false
	}
	var clock string
	for i := 2; i+2 < len(f); i++ {
		if f[i+1] == "ms" && strings.HasPrefix(f[i+2], "clock") {
			clock = f[i]
			break
		}
	}
	parts := strings.Split(clock, "+")
	if len(parts) != 3 {
		return 0, c, false
	}
	var ms [3]time.Duration
	for i, p := range parts {
		x, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return 0, c, false
		}
		ms[i] = time.Duration(x * float64(time.Millisecond))
	}
	c.stw1, c.mark, c.stw2 = ms[0], ms[1], ms[2]
	c.forced = strings.Contains(line, "(forced)")
	return n, c, true
}

// marks returns the mark phases of cycles a+1..b (waiting briefly for
// their lines), or ok=false without a trace.
func (t *gcTrace) marks(a, b uint64) (total, longest time.Duration, n int, ok bool) {
	if t == nil {
		return 0, 0, 0, false
	}
	for i := 0; i < 50; i++ {
		t.mu.Lock()
		last := t.last
		t.mu.Unlock()
		if last >= b {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := a + 1; k <= b; k++ {
		c, found := t.cycles[k]
		if !found {
			continue
		}
		n++
		total += c.mark
		longest = max(longest, c.mark)
	}
	return total, longest, n, n > 0 || a == b
}
