package heapgoal

import (
	"os"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, headroom uint64
		want           int
	}{
		{50 * mib, 256 * mib, 512},   // a busy 100k-user heap: goal ≈ live + 256 MiB
		{550 * mib, 256 * mib, 100},  // a million users: GOGC's own 100 % is more
		{256 * mib, 256 * mib, 100},  // exactly the headroom
		{1 * mib, 256 * mib, 10_000}, // capped
		{0, 256 * mib, 10_000},       // nothing marked yet
		{3, 10, 334},                 // rounds up
	} {
		if got := PercentFor(c.live, c.headroom); got != c.want {
			t.Errorf("PercentFor(%d, %d) = %d, want %d", c.live, c.headroom, got, c.want)
		}
	}
}

// TestTunerFollowsCollections holds a live heap, collects, and waits for
// the tuner to set the percentage that live heap asks for; Stop puts the
// previous GOGC back.
func TestTunerFollowsCollections(t *testing.T) {
	t.Setenv("GOGC", "") // set: Start must leave the collector alone
	if tu := Start(64 << 20); tu != nil {
		t.Fatal("Start ran although GOGC is set in the environment")
	}
	unsetenv(t, "GOGC")
	if Start(0) != nil {
		t.Fatal("Start ran with no headroom")
	}
	before := debug.SetGCPercent(100)
	debug.SetGCPercent(before)

	keep := make([][]byte, 0, 32)
	for range 32 {
		keep = append(keep, make([]byte, 1<<20)) // 32 MiB live
	}
	tu := Start(64 << 20)
	if tu == nil {
		t.Fatal("Start returned nil")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		runtime.GC()
		// The cleanup runs on its own goroutine after the cycle.
		if p := tu.Percent(); p >= 150 && p <= 250 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after collections with about 32 MiB live, GOGC is %d; want about 200 (64 MiB headroom)", tu.Percent())
		}
		time.Sleep(10 * time.Millisecond)
	}
	runtime.KeepAlive(keep)
	tu.Stop()
	if got := debug.SetGCPercent(before); got != before {
		t.Errorf("after Stop GOGC is %d, want the %d found at Start", got, before)
	}
}

// unsetenv removes key for the rest of the test and restores it after.
func unsetenv(t *testing.T, key string) {
	t.Helper()
	old, had := os.LookupEnv(key)
	if err := os.Unsetenv(key); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if had {
			_ = os.Setenv(key, old)
		}
	})
}
