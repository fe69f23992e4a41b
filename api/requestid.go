package api

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"math/rand/v2"
	"net/http"
)

// RequestIDHeader is the header that carries a request's id both ways.
const RequestIDHeader = "X-Request-Id"

// maxRequestID bounds an id accepted from a client.
const maxRequestID = 128

// validRequestID reports whether a client's id is kept: 1 to
// maxRequestID printable ASCII characters, no spaces or controls (so it
// is one token in a log line and harmless in a header or XML text).
func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > maxRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// newRequestID is 96 random bits as 16 URL-safe base64 characters. The
// ids only tell requests apart, so math/rand/v2's generator (seeded from
// the system's randomness, no system call per id) is enough.
func newRequestID() string {
	var raw [12]byte
	binary.LittleEndian.PutUint64(raw[:8], rand.Uint64())
	binary.LittleEndian.PutUint32(raw[8:], rand.Uint32())
	var out [16]byte
	base64.RawURLEncoding.Encode(out[:], raw[:])
	return string(out[:])
}

// setRequestID takes the request's X-Request-Id when it is a sane token,
// else makes one, and sets it on the response before anything is
// written. It answers the id.
func setRequestID(w http.ResponseWriter, r *http.Request) string {
	id := ""
	if vs := r.Header[RequestIDHeader]; len(vs) == 1 && validRequestID(vs[0]) {
		id = vs[0]
	} else {
		id = newRequestID()
	}
	w.Header()[RequestIDHeader] = []string{id}
	return id
}

// ResponseRequestID is the request id already set on w's headers (every
// response the Server writes has one), "" when none is.
func ResponseRequestID(w http.ResponseWriter) string {
	if vs := w.Header()[RequestIDHeader]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

type requestIDKey struct{}

// WithRequestID carries the request id in ctx.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID is the request id ctx carries, "" when none. The pipeline
// puts it into the context of every request that gets a context of its
// own (writes, which carry their audit entry); a handler holding the
// Request reads Request.ID.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
