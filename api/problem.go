package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"gatehouse/storage"
	"gatehouse/xmltext"
)

// Problem is an error with the HTTP status and the words the client sees.
// Handlers return it (or a storage sentinel, which ProblemFor maps); one
// place writes it as application/problem+xml (RFC 9457).
type Problem struct {
	Status int
	Detail string
	// Header holds extra headers (Allow, WWW-Authenticate, Retry-After).
	Header http.Header
	// Extensions are further elements of the document after <detail>
	// (RFC 9457 extension members), in order: name and text. Add them
	// with With.
	Extensions [][2]string
}

// With adds the extension element <name>text</name> to p and returns p.
func (p *Problem) With(name, text string) *Problem {
	p.Extensions = append(p.Extensions, [2]string{name, text})
	return p
}

func (p *Problem) Error() string { return fmt.Sprintf("%d %s", p.Status, p.Detail) }

// Problemf builds a Problem with a formatted detail.
func Problemf(status int, format string, args ...any) *Problem {
	return &Problem{Status: status, Detail: fmt.Sprintf(format, args...)}
}

// ProblemFor maps any error to a Problem: storage sentinels by kind,
// everything else to 500 (logged, never shown).
func ProblemFor(err error, log *slog.Logger, r *http.Request) *Problem {
	var p *Problem
	switch {
	case errors.As(err, &p):
		return p
	case errors.Is(err, storage.ErrNotFound):
		return Problemf(http.StatusNotFound, "%s", err.Error())
	case errors.Is(err, storage.ErrNameTaken), errors.Is(err, storage.ErrMember):
		return Problemf(http.StatusConflict, "%s", err.Error())
	case errors.Is(err, storage.ErrInvalid):
		return Problemf(http.StatusBadRequest, "%s", err.Error())
	case errors.Is(err, storage.ErrUnavailable):
		log.Warn("storage unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		return Problemf(http.StatusServiceUnavailable, "the server could not reach its storage in time; retry later")
	case errors.Is(err, storage.ErrConflict):
		return Problemf(http.StatusServiceUnavailable, "too many concurrent changes to the same resource; retry")
	}
	log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	return Problemf(http.StatusInternalServerError, "internal error; the server log has the details")
}

// WriteProblem writes p as a problem document: byte for byte what an
// etree document indented by two spaces would be (the test keeps etree as
// the reference), written into a pooled buffer, since every 404 of a
// permission question is one. The document ends with <request-id>, the
// X-Request-Id the Server set on w (none when w has none).
func WriteProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	for k, vs := range p.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	bp := problemBufs.Get().(*[]byte)
	b := problemDocument((*bp)[:0], p, ResponseRequestID(w))
	w.Header().Set("Content-Type", "application/problem+xml; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Del("ETag")
	w.WriteHeader(p.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
	if cap(b) <= 64<<10 {
		*bp = b
		problemBufs.Put(bp)
	}
}

var problemBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// problemDocument appends p's document to b; a non-empty id is its last
// extension element, <request-id>.
func problemDocument(b []byte, p *Problem, id string) []byte {
	b = append(b, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`+"\n"+`<problem xmlns="urn:ietf:rfc:7807">`+"\n  <status>"...)
	b = strconv.AppendInt(b, int64(p.Status), 10)
	b = append(b, "</status>\n  "...)
	b = element(b, "title", http.StatusText(p.Status))
	b = append(b, "\n  "...)
	b = element(b, "detail", p.Detail)
	for _, x := range p.Extensions {
		b = append(b, "\n  "...)
		b = element(b, x[0], x[1])
	}
	if id != "" {
		b = append(b, "\n  "...)
		b = element(b, "request-id", id)
	}
	return append(b, "\n</problem>\n"...)
}

// element appends <name>text</name>, or <name/> for empty text, as etree
// writes it.
func element(b []byte, name, text string) []byte {
	if text == "" {
		return append(append(append(b, '<'), name...), '/', '>')
	}
	b = append(append(append(b, '<'), name...), '>')
	b = xmltext.Append(b, text)
	return append(append(append(b, '<', '/'), name...), '>')
}
