package resources_test

import (
	"io"
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
	b.Run("check-post-1", func(b *testing.B) {
		env.servedPost(b, "/auth/v2/check", func(i int) string {
			return "<check><question><principal>" + benchAccount + `\` + benchUser(i*7919%benchUsers) +
				"</principal><permission>print:jobs:read</permission></question></check>"
		})
	})
}

// rewindBody is a request body that can be read again after Rewind, so
// that prepared POST requests are served many times without allocating.
type rewindBody struct {
	b   []byte
	off int
}

func (r *rewindBody) Read(p []byte) (int, error) {
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

func (r *rewindBody) Close() error { return nil }

func (r *rewindBody) Rewind() { r.off = 0 }

// servedPost is served for POST requests with bodies body(0) …
// body(999), requiring 200.
func (env *benchEnv) servedPost(b *testing.B, target string, body func(i int) string) {
	reqs := make([]*http.Request, 1000)
	bodies := make([]*rewindBody, len(reqs))
	for i := range reqs {
		bodies[i] = &rewindBody{b: []byte(body(i))}
		reqs[i] = httptest.NewRequest(http.MethodPost, target, nil)
		reqs[i].Body = bodies[i]
		reqs[i].ContentLength = int64(len(bodies[i].b))
		reqs[i].Header.Set("Authorization", env.auth)
		reqs[i].Header.Set("Content-Type", "application/xml")
	}
	w := &countingResponse{h: http.Header{}}
	serveOne := func(i int) {
		clear(w.h)
		w.status = 0
		bodies[i].Rewind()
		env.srv.ServeHTTP(w, reqs[i])
		if w.status != http.StatusOK {
			b.Fatalf("POST %s: %d", target, w.status)
		}
	}
	for i := range reqs {
		serveOne(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	w.n = 0
	for i := 0; b.Loop(); i++ {
		serveOne(i % len(reqs))
	}
	b.ReportMetric(float64(w.n)/float64(b.N), "resp-bytes/op")
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
