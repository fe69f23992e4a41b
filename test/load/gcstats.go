package main

import (
	"math"
	"runtime"
	"runtime/metrics"
	"time"
)

// gcSample is the server process's garbage-collector counters at one
// moment (runtime/metrics), with its CPU time (getrusage).
type gcSample struct {
	at                   time.Time
	cpu                  time.Duration // process CPU time, user + system
	cycles               uint64
	gcTotal, assist, all float64 // /cpu/classes …:cpu-seconds
	cpuIdle              float64
	pauses, sched        *metrics.Float64Histogram
}

var gcMetricNames = []string{
	"/gc/cycles/total:gc-cycles",
	"/cpu/classes/gc/total:cpu-seconds",
	"/cpu/classes/gc/mark/assist:cpu-seconds",
	"/cpu/classes/total:cpu-seconds",
	"/cpu/classes/idle:cpu-seconds",
	"/sched/pauses/total/gc:seconds",
	"/sched/latencies:seconds",
}

func readGC() gcSample {
	s := make([]metrics.Sample, len(gcMetricNames))
	for i, n := range gcMetricNames {
		s[i].Name = n
	}
	metrics.Read(s)
	f := func(i int) float64 {
		if s[i].Value.Kind() == metrics.KindFloat64 {
			return s[i].Value.Float64()
		}
		return 0
	}
	h := func(i int) *metrics.Float64Histogram {
		if s[i].Value.Kind() == metrics.KindFloat64Histogram {
			return s[i].Value.Float64Histogram()
		}
		return nil
	}
	g := gcSample{at: time.Now(), cpu: processCPU(), gcTotal: f(1), assist: f(2),
		all: f(3), cpuIdle: f(4), pauses: h(5), sched: h(6)}
	if s[0].Value.Kind() == metrics.KindUint64 {
		g.cycles = s[0].Value.Uint64()
	}
	return g
}

// gcDelta is what the server's garbage collector did between two samples.
type gcDelta struct {
	wall       time.Duration
	cpu        time.Duration // process CPU time
	cycles     uint64
	gcShare    float64       // GC CPU / CPU the Go code of the process used (both /cpu/classes estimates)
	assist     float64       // mark assist CPU (request goroutines made to mark) / CPU used
	marked     bool          // the mark figures below come from the runtime's GC trace
	markMean   time.Duration // mean wall time of a mark phase (GODEBUG=gctrace=1)
	markMax    time.Duration // longest mark phase
	inMark     float64       // share of wall time spent in a mark phase
	pauseMax   time.Duration // longest stop-the-world GC pause (histogram bucket upper bound)
	pauseTotal time.Duration // sum of GC pauses (bucket midpoints)
	schedP99   time.Duration // 99th percentile of the time a goroutine waited runnable
}

// diffGC computes the GC figures between a and b.
func diffGC(a, b gcSample) gcDelta {
	d := gcDelta{wall: b.at.Sub(a.at), cpu: b.cpu - a.cpu, cycles: b.cycles - a.cycles}
	used := (b.all - a.all) - (b.cpuIdle - a.cpuIdle)
	if used > 0 {
		d.gcShare = (b.gcTotal - a.gcTotal) / used
		d.assist = (b.assist - a.assist) / used
	}
	if total, longest, n, ok := traced.marks(a.cycles, b.cycles); ok {
		d.marked = true
		d.markMax = longest
		if n > 0 {
			d.markMean = total / time.Duration(n)
		}
		if d.wall > 0 {
			d.inMark = float64(total) / float64(d.wall)
		}
	}
	if a.pauses != nil && b.pauses != nil {
		counts := histDiff(a.pauses, b.pauses)
		for i, c := range counts {
			if c == 0 {
				continue
			}
			lo, hi := b.pauses.Buckets[i], b.pauses.Buckets[i+1]
			if math.IsInf(hi, 1) {
				hi = lo
			}
			if math.IsInf(lo, -1) {
				lo = 0
			}
			d.pauseMax = secs(hi)
			d.pauseTotal += time.Duration(float64(c) * (lo + hi) / 2 * 1e9)
		}
	}
	if a.sched != nil && b.sched != nil {
		d.schedP99 = histQuantile(b.sched.Buckets, histDiff(a.sched, b.sched), 0.99)
	}
	return d
}

func histDiff(a, b *metrics.Float64Histogram) []uint64 {
	out := make([]uint64, len(b.Counts))
	for i := range b.Counts {
		if i < len(a.Counts) && b.Counts[i] >= a.Counts[i] {
			out[i] = b.Counts[i] - a.Counts[i]
		} else {
			out[i] = b.Counts[i]
		}
	}
	return out
}

// histQuantile is the upper bound of the bucket holding the q-quantile.
func histQuantile(buckets []float64, counts []uint64, q float64) time.Duration {
	var total uint64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen >= rank {
			hi := buckets[i+1]
			if math.IsInf(hi, 1) {
				hi = buckets[i]
			}
			return secs(hi)
		}
	}
	return 0
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// liveHeap forces a collection and returns the live heap it found
// (/gc/heap/live:bytes: the heap marked live by the last cycle).
func liveHeap() uint64 {
	runtime.GC()
	return readUint64Metric("/gc/heap/live:bytes")
}

// readUint64Metric reads one uint64 runtime metric as it is, without a
// collection (0 if the runtime does not have it).
func readUint64Metric(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
