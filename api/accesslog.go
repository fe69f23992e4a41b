package api

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// The access log: one slog line per request, message "request", at info
// (debug for /healthz, /readyz and /metrics, which probes and scrapers
// call every few seconds). It names the route pattern as registered
// ("/auth/v2/accounts/{a}/users/{u}", "unmatched" when no route matched),
// never the raw path or query, which may hold codes, tokens or other
// secrets; the principal is the authenticated account\user, "" before
// or without authentication.

// Unmatched is the route pattern the access log gives a request that
// matched no route.
const Unmatched = "unmatched"

// accessWriter counts what a handler writes: the status and body bytes.
type accessWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *accessWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *accessWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *accessWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes a flush on (streamed responses).
func (w *accessWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// logAccess writes the access line of one request. The level check comes
// first, so a logger above the line's level costs nothing more.
func (s *Server) logAccess(ctx context.Context, level slog.Level, r *http.Request, route string, w *accessWriter, start time.Time, account, user, id string) {
	if !s.Logger.Enabled(ctx, level) {
		return
	}
	principal := ""
	if user != "" {
		principal = account + `\` + user
	}
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	// The eight attributes go as one group with an empty key, which
	// handlers inline: a record keeps five attributes inline and would
	// allocate for the rest, so the group's array comes from a pool. It
	// returns to the pool once the handler has written the line (slog's
	// handlers do not keep a record's values past Handle). The record is
	// handed to the handler directly, without the caller's program
	// counter (Logger.LogAttrs takes it with runtime.Callers, a tenth of
	// the line's cost, for a source location this line does not need).
	as := accessAttrs.Get().(*[8]slog.Attr)
	*as = [8]slog.Attr{
		slog.String("method", r.Method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Int64("bytes", w.bytes),
		slog.Float64("ms", float64(time.Since(start).Microseconds())/1000),
		slog.String("principal", principal),
		slog.String("request_id", id),
		slog.String("client", s.ClientAddr(r)),
	}
	rec := slog.NewRecord(time.Now(), level, "request", 0)
	rec.AddAttrs(slog.Attr{Value: slog.GroupValue(as[:]...)})
	_ = s.Logger.Handler().Handle(ctx, rec)
	*as = [8]slog.Attr{}
	accessAttrs.Put(as)
}

var accessAttrs = sync.Pool{New: func() any { return new([8]slog.Attr) }}

// logged serves h with an access line under the route pattern route.
func (s *Server) logged(w http.ResponseWriter, r *http.Request, route string, level slog.Level, h http.Handler) {
	start := time.Now()
	aw := &accessWriter{ResponseWriter: w}
	h.ServeHTTP(aw, r)
	s.logAccess(r.Context(), level, r, route, aw, start, "", "", ResponseRequestID(w))
}

// opsRoute is the pattern of an operational endpoint served through
// gorilla (logged at debug), "" for any other path.
func opsRoute(path string) string {
	switch path {
	case "/healthz", "/readyz", "/metrics":
		return path
	}
	return ""
}
