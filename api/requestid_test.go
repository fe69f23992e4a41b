package api

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
)

var generatedID = regexp.MustCompile(`^[A-Za-z0-9_-]{16}$`)

func TestRequestIDAcceptedOrGenerated(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range []struct {
		sent []string
		keep bool
	}{
		{nil, false},
		{[]string{"abc-123"}, true},
		{[]string{"a/b:c.d_e~f+g=h@i"}, true},
		{[]string{strings.Repeat("x", maxRequestID)}, true},
		{[]string{strings.Repeat("x", maxRequestID+1)}, false},
		{[]string{""}, false},
		{[]string{"with space"}, false},
		{[]string{"ctl\x01"}, false},
		{[]string{"line\nbreak"}, false},
		{[]string{"ünïcode"}, false},
		{[]string{"one", "two"}, false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if c.sent != nil {
			r.Header["X-Request-Id"] = c.sent
		}
		w := httptest.NewRecorder()
		id := setRequestID(w, r)
		if got := w.Header().Get("X-Request-Id"); got != id || ResponseRequestID(w) != id {
			t.Fatalf("sent %q: header %q, answered %q", c.sent, got, id)
		}
		if c.keep {
			if id != c.sent[0] {
				t.Errorf("sent %q: id %q, want it echoed", c.sent, id)
			}
			continue
		}
		if !generatedID.MatchString(id) || seen[id] {
			t.Errorf("sent %q: id %q, want a fresh generated one", c.sent, id)
		}
		seen[id] = true
	}
}

func TestRequestIDContext(t *testing.T) {
	if RequestID(context.Background()) != "" {
		t.Error("an id from nowhere")
	}
	if got := RequestID(WithRequestID(context.Background(), "x1")); got != "x1" {
		t.Errorf("RequestID = %q", got)
	}
}

func TestProblemCarriesRequestID(t *testing.T) {
	p := &Problem{Status: 400, Detail: "bad <thing>"}
	p.With("rule", "common")
	w := httptest.NewRecorder()
	w.Header().Set("X-Request-Id", "id-<&>-1")
	WriteProblem(w, httptest.NewRequest("GET", "/", nil), p)
	doc := etree.NewDocument()
	if err := doc.ReadFromString(w.Body.String()); err != nil {
		t.Fatal(err)
	}
	kids := doc.Root().ChildElements()
	last := kids[len(kids)-1]
	if last.Tag != "request-id" || last.Text() != "id-<&>-1" || kids[len(kids)-2].Tag != "rule" {
		t.Errorf("document:\n%s", w.Body.String())
	}
}

func TestAccessWriterCounts(t *testing.T) {
	rec := httptest.NewRecorder()
	w := &accessWriter{ResponseWriter: rec}
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte("hello"))
	_, _ = w.Write([]byte(" world"))
	w.Flush()
	if w.status != 201 || w.bytes != 11 || rec.Body.String() != "hello world" || !rec.Flushed {
		t.Errorf("status %d bytes %d body %q flushed %v", w.status, w.bytes, rec.Body.String(), rec.Flushed)
	}
	w2 := &accessWriter{ResponseWriter: httptest.NewRecorder()}
	_, _ = w2.Write([]byte("x"))
	if w2.status != 200 {
		t.Errorf("implicit status %d", w2.status)
	}
}

func TestAccessLine(t *testing.T) {
	var buf bytes.Buffer
	s := &Server{Options: Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))}}
	r := httptest.NewRequest("GET", "/auth/v2/accounts/acme/users/alice?token=SECRET", nil)
	w := &accessWriter{ResponseWriter: httptest.NewRecorder(), status: 404, bytes: 77}
	s.logAccess(r.Context(), slog.LevelInfo, r, "/auth/v2/accounts/{a}/users/{u}", w, time.Now(), "acme", "alice", "rid-1")
	line := buf.String()
	for _, want := range []string{` level=INFO msg=request method=GET route=/auth/v2/accounts/{a}/users/{u} status=404 bytes=77 ms=`,
		` principal=acme\alice request_id=rid-1 client=192.0.2.1`} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q lacks %q", line, want)
		}
	}
	if strings.Contains(line, "SECRET") || strings.Contains(line, "alice?") {
		t.Errorf("the raw path is in %q", line)
	}
	buf.Reset()
	s.logAccess(r.Context(), slog.LevelDebug, r, "/healthz", w, time.Now(), "", "", "rid-2")
	if buf.Len() != 0 {
		t.Errorf("a debug line at info level: %q", buf.String())
	}
	// The level check comes first: a line the logger drops costs nothing.
	if n := testing.AllocsPerRun(100, func() {
		s.logAccess(r.Context(), slog.LevelDebug, r, "/healthz", w, time.Now(), "acme", "alice", "rid-2")
	}); n != 0 {
		t.Errorf("a dropped line allocates %v times", n)
	}
}

// BenchmarkAccessLine is the cost of one written access line and a
// generated id (a text handler into io.Discard).
func BenchmarkAccessLine(b *testing.B) {
	s := &Server{Options: Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	r := httptest.NewRequest("GET", "/auth/v2/accounts/acme/users/alice", nil)
	w := &accessWriter{ResponseWriter: httptest.NewRecorder(), status: 200, bytes: 1100}
	b.ReportAllocs()
	for b.Loop() {
		s.logAccess(r.Context(), slog.LevelInfo, r, "/auth/v2/accounts/{a}/users/{u}", w, time.Now(), "acme", "alice", newRequestID())
	}
}
