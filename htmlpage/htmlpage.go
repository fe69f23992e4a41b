package htmlpage

import (
	"crypto/sha256"
	"encoding/base64"
	"io/fs"
	"net/http"
)

// SourceHash is the CSP source ('sha256-…', without the quotes) that
// allows the inline style or script s.
func SourceHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// MustRead returns file name of the embedded files fsys; a missing file
// is a build mistake, so it panics.
func MustRead(fsys fs.FS, name string) string {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// SetHeaders sets the headers every page answer carries: its
// Content-Security-Policy csp, nosniff, no framing, the referrer policy
// and no caching.
func SetHeaders(h http.Header, csp, referrer string) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", referrer)
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}
