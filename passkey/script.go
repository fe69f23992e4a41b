package passkey

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"net/http"
	"strconv"
)

// Script is the small plain JavaScript a page includes to run a
// ceremony (see passkey.js): pages serve it at a path of their own
// (ServeScript) and allow it in their Content-Security-Policy by
// ScriptHash or 'self'.
//
//go:embed passkey.js
var Script []byte

// ScriptHash is the CSP source of Script: 'sha256-…'.
var ScriptHash = func() string {
	sum := sha256.Sum256(Script)
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// ServeScript answers a GET of the script.
func ServeScript(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("Content-Length", strconv.Itoa(len(Script)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(Script)
	}
}
