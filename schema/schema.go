package schema

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"gatehouse/api"
)

//go:embed gatehouse.xsd problem.xsd
var files embed.FS

// Main is the file name of the schema to validate with; it imports the
// other files, which sit next to it.
const Main = "gatehouse.xsd"

// Path is where the schema is served; the files it imports are served
// next to it under their own names.
const Path = "/auth/v2/schema.xsd"

// served maps each route to the embedded file it answers.
var served = []struct{ path, file, summary string }{
	{Path, Main, "the XML Schema (XSD) of every /auth/v2 document and request body"},
	{"/auth/v2/problem.xsd", "problem.xsd", "the XML Schema of problem documents (urn:ietf:rfc:7807), imported by schema.xsd"},
}

// Bytes is the content of the embedded file name (Main or a file it
// imports).
func Bytes(name string) ([]byte, error) { return files.ReadFile(name) }

// WriteDir writes every schema file into dir and returns the path of the
// main one, for a validator that reads files (xmllint --schema).
func WriteDir(dir string) (string, error) {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		b, err := files.ReadFile(e.Name())
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			return "", err
		}
	}
	return filepath.Join(dir, Main), nil
}

// Routes serves the schema files: public, cacheable, with an ETag (a
// digest of the bytes), If-None-Match answered 304 and HEAD without body.
func Routes() []api.Route {
	out := make([]api.Route, 0, len(served))
	for _, s := range served {
		b, err := files.ReadFile(s.file)
		if err != nil {
			panic("schema: " + s.file + " is not embedded")
		}
		sum := sha256.Sum256(b)
		etag := `"` + hex.EncodeToString(sum[:16]) + `"`
		out = append(out, api.Route{Method: http.MethodGet, Path: s.path, Public: true, Summary: s.summary,
			Handler: func(req *api.Request) error {
				h := req.W.Header()
				h.Set("Content-Type", "application/xml; charset=utf-8")
				h.Set("Cache-Control", "public, max-age=3600")
				h.Set("ETag", etag)
				// ServeContent answers If-None-Match (304), ranges and
				// HEAD; a zero modification time sends no Last-Modified.
				rw := &statusWriter{ResponseWriter: req.W, status: http.StatusOK}
				http.ServeContent(rw, req.R, s.file, time.Time{}, bytes.NewReader(b))
				req.Status = rw.status
				return nil
			}})
	}
	return out
}

// statusWriter notes the status ServeContent writes, for the metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}
