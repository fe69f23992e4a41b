package authn

import (
	"fmt"
	"testing"
)

// BenchmarkThrottleCleanParallel is what every authenticated request
// pays the throttle: Allowed then Succeed for a name with no recorded
// failures, from all processors at once; with no failure recorded
// anywhere, and with 1,000 other names (from 250 addresses) failing.
func BenchmarkThrottleCleanParallel(b *testing.B) {
	for _, bc := range []struct {
		name    string
		failing int
	}{{"no-failures", 0}, {"others-failing", 1000}} {
		b.Run(bc.name, func(b *testing.B) {
			th := NewThrottle(ThrottleLimits{}, nil)
			for i := range bc.failing {
				th.Fail(fmt.Sprintf("acme\\attacker-%d", i), fmt.Sprintf("198.51.100.%d", i%250))
			}
			names := make([]string, 64)
			addrs := make([]string, 64)
			for i := range names {
				names[i] = fmt.Sprintf("acme\\user-%d", i)
				addrs[i] = fmt.Sprintf("192.0.2.%d", i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if ok, _ := th.Allowed(names[i%64], addrs[i%64]); !ok {
						b.Error("a clean name was throttled")
						return
					}
					th.Succeed(names[i%64])
					i++
				}
			})
		})
	}
}
