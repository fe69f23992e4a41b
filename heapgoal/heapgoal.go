package heapgoal

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// maxPercent bounds the GOGC Start sets, so that a tiny live heap (a
// process that has just started) does not get an absurd percentage.
const maxPercent = 10_000

// Tuner adjusts GOGC after every collection; Stop ends that.
type Tuner struct {
	headroom uint64
	mu       sync.Mutex
	stopped  bool
	percent  int // the GOGC last set
	before   int // the GOGC found at Start
}

// Start keeps the heap goal at least headroom bytes above the live heap
// until Stop. It returns nil (and does nothing) when headroom is 0 or the
// GOGC environment variable is set. Only one Tuner should run in a
// process.
func Start(headroom uint64) *Tuner {
	if headroom == 0 {
		return nil
	}
	if _, set := os.LookupEnv("GOGC"); set {
		return nil
	}
	t := &Tuner{headroom: headroom, percent: -1}
	t.before = debug.SetGCPercent(100)
	debug.SetGCPercent(t.before)
	t.tune()
	t.arm()
	return t
}

// Percent is the GOGC the tuner set last.
func (t *Tuner) Percent() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.percent
}

// Stop ends the tuning and puts back the GOGC found at Start.
func (t *Tuner) Stop() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.stopped {
		t.stopped = true
		debug.SetGCPercent(t.before)
	}
}

// sentinel is garbage as soon as it is made; its cleanup runs after the
// collection that found it so, and arms the next one.
type sentinel struct{ _ [16]byte }

func (t *Tuner) arm() {
	runtime.AddCleanup(new(sentinel), func(t *Tuner) {
		t.mu.Lock()
		stopped := t.stopped
		t.mu.Unlock()
		if stopped {
			return
		}
		t.tune()
		t.arm()
	}, t)
}

// tune sets GOGC from the live heap the last collection marked.
func (t *Tuner) tune() {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	p := PercentFor(s[0].Value.Uint64(), t.headroom)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped || p == t.percent {
		return
	}
	t.percent = p
	debug.SetGCPercent(p)
}

// PercentFor is the GOGC that puts the heap goal headroom bytes above a
// live heap of live bytes: at least 100, at most maxPercent.
func PercentFor(live, headroom uint64) int {
	if live == 0 {
		return maxPercent
	}
	p := (headroom*100 + live - 1) / live
	return int(min(max(p, 100), maxPercent))
}
