package storage

import (
	"context"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// BenchmarkRelist measures what a cache rebuild costs in memory: a store
// of GATEHOUSE_RELIST_USERS users (default 100,000; each a user record,
// every 10th with a group membership's two keys, as the load tool seeds
// them) is listed, then the watch is made to look silent (the cache's
// clock jumps past the storage timeout), so the cache tears it down and
// relists everything, as after a lost watch. A sampler reads the runtime
// every millisecond meanwhile. Reported: the steady live heap before and
// after (after a forced GC; the embedded etcd shares the process, as in
// production), the highest live heap a completed GC cycle saw during the
// relist, the highest heap in use (live objects plus garbage not yet
// swept), their ratios to the steady heap, and the relist's duration.
//
//	GATEHOUSE_RELIST_USERS=1000000 go test ./storage -run '^$' -bench Relist -benchtime 1x
func BenchmarkRelist(b *testing.B) {
	users := 100_000
	if s := os.Getenv("GATEHOUSE_RELIST_USERS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("GATEHOUSE_RELIST_USERS=%q: want a positive count", s)
		}
		users = n
	}
	endpoint := startEtcd(b)
	client := newClient(b, endpoint)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	const prefix = "relist/"
	rec := User{Email: "someone@load.example", Enabled: true, Created: time.Now().Unix()}.Encode()
	var ops []clientv3.Op
	flush := func() {
		if len(ops) == 0 {
			return
		}
		if _, err := client.Txn(ctx).Then(ops...).Commit(); err != nil {
			b.Fatalf("seed: %v", err)
		}
		ops = ops[:0]
	}
	for i := 0; i < users; i++ {
		u := "user-" + strconv.Itoa(10_000_000 + i)[1:]
		ops = append(ops, clientv3.OpPut(prefix+ItemKey("load", KindUser, u), rec))
		if i%10 == 0 {
			ops = append(ops, clientv3.OpPut(prefix+SubKey("load", KindUserGrp, u, "readers"), ""),
				clientv3.OpPut(prefix+SubKey("load", KindGrpUser, "readers", u), ""))
		}
		if len(ops) >= 2000 {
			flush()
		}
	}
	flush()

	const timeout = 5 * time.Second
	var skew atomic.Int64 // added to the cache's clock
	c := newCache(client, prefix, timeout, quietLog())
	c.now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.run(runCtx) }()
	defer func() { stop(); <-done }()
	listed := func(what string) {
		// waitFor gives up after the storage timeout; a big list takes longer.
		for {
			_, err := c.waitFor(ctx, 0)
			if err == nil {
				return
			}
			if ctx.Err() != nil {
				b.Fatalf("%s: %v", what, err)
			}
		}
	}
	listed("first list")

	var peakLive, peakObjects, steadyBefore, steadyAfter uint64
	var took time.Duration
	b.ResetTimer()
	for b.Loop() {
		steadyBefore = steadyHeap()
		var wg sync.WaitGroup
		sampling := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
			t := time.NewTicker(time.Millisecond)
			defer t.Stop()
			for {
				metrics.Read(s)
				peakLive = max(peakLive, s[0].Value.Uint64())
				peakObjects = max(peakObjects, s[1].Value.Uint64())
				select {
				case <-sampling:
					return
				case <-t.C:
				}
			}
		}()
		gets := c.snap.Load()
		t0 := time.Now()
		skew.Add(int64(2 * timeout))
		// The relist publishes an unlisted snapshot first, then a listed one.
		for s := gets; ; {
			if !s.listed && s != gets {
				break
			}
			select {
			case <-s.next:
			case <-ctx.Done():
				b.Fatal("the watch was not torn down")
			}
			s = c.snap.Load()
		}
		listed("relist")
		took = time.Since(t0)
		close(sampling)
		wg.Wait()
		steadyAfter = steadyHeap()
	}
	b.StopTimer()
	if n := c.snap.Load().view.CountRange(ItemRange("load", KindUser)); n != users {
		b.Fatalf("after the relist the cache holds %d users, want %d", n, users)
	}
	mib := func(x uint64) float64 { return float64(x) / (1 << 20) }
	b.ReportMetric(float64(users), "users")
	b.ReportMetric(mib(steadyBefore), "steady-before-MiB")
	b.ReportMetric(mib(steadyAfter), "steady-after-MiB")
	b.ReportMetric(mib(peakLive), "peak-live-MiB")
	b.ReportMetric(mib(peakObjects), "peak-inuse-MiB")
	b.ReportMetric(float64(peakLive)/float64(steadyAfter), "peak-live/steady")
	b.ReportMetric(float64(peakObjects)/float64(steadyAfter), "peak-inuse/steady")
	b.ReportMetric(float64(took.Milliseconds()), "relist-ms")
}

// steadyHeap is the live heap after a forced collection.
func steadyHeap() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
