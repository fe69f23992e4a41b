package resources_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkServed measures what the server allocates per response, apart
// from what the benchmarks' harness does: BenchmarkUserGet and
// BenchmarkPage50 build each request with httptest.NewRequest (about
// 5 KB, most of it a 4 KB bufio.Reader) and record the response in a
// growing httptest.ResponseRecorder (another 1–5 KB). Here the requests
// are built before the timer starts and the response writer keeps only
// a byte count.
func BenchmarkServed(b *testing.B) {
	env := newBenchEnv(b)
	b.Run("user-get", func(b *testing.B) {
		env.served(b, func(i int) string {
			return "/auth/v2/accounts/" + benchAccount + "/users/" + benchUser(i*7919%benchUsers)
		})
	})
	b.Run("page50", func(b *testing.B) {
		env.served(b, func(int) string {
			return "/auth/v2/accounts/" + benchAccount + "/users?page-size=50&current-page=100"
		})
	})
	b.Run("permission-check", func(b *testing.B) {
		env.served(b, func(i int) string {
			return "/auth/v2/accounts/" + benchAccount + "/users/" + benchUser(i*10%benchUsers) + "/permissions/print:jobs:read"
		})
	})
}

// countingResponse is a ResponseWriter that keeps only the status and
// the number of body bytes.
type countingResponse struct {
	h      http.Header
	status int
	n      int
}

func (w *countingResponse) Header() http.Header { return w.h }

func (w *countingResponse) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}

func (w *countingResponse) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += len(b)
	return len(b), nil
}

// served serves 1,000 prepared requests for path(0) … path(999) in turn,
// requiring 200.
func (env *benchEnv) served(b *testing.B, path func(i int) string) {
	reqs := make([]*http.Request, 1000)
	for i := range reqs {
		reqs[i] = httptest.NewRequest(http.MethodGet, path(i), nil)
		reqs[i].Header.Set("Authorization", env.auth)
	}
	w := &countingResponse{h: http.Header{}}
	for _, r := range reqs { // check each once, and warm the memos
		clear(w.h)
		w.status = 0
		env.srv.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			b.Fatalf("GET %s: %d", r.URL, w.status)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	w.n = 0
	for i := 0; b.Loop(); i++ {
		clear(w.h)
		w.status = 0
		env.srv.ServeHTTP(w, reqs[i%len(reqs)])
		if w.status != http.StatusOK {
			b.Fatalf("GET %s: %d", reqs[i%len(reqs)].URL, w.status)
		}
	}
	b.ReportMetric(float64(w.n)/float64(b.N), "resp-bytes/op")
}
