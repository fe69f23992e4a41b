package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"

	"gatehouse/authz"
	"gatehouse/storage"
)

// The console's browser session (package console signs the browser in
// and sets these cookies; the pipeline reads them).
const (
	// SessionCookie holds the console session's OAuth access token. The
	// pipeline takes it as a Bearer token when the request presents no
	// credentials of its own (Authorization, X-Api-Key).
	SessionCookie = "gatehouse-console"
	// CSRFHeader carries the console session's CSRF token on every write
	// authenticated by SessionCookie (CSRFToken).
	CSRFHeader = "X-Csrf-Token"
	// CSRFKeyName is the server key (Store.ServerKey) CSRF tokens are
	// MACed under.
	CSRFKeyName = "console-csrf"
)

// Pages renders answers for browsers (package console): a request that
// prefers HTML (PrefersHTML) gets its document or its problem as a page.
type Pages interface {
	// Document writes doc, the XML document a GET answers, as a page
	// with status.
	Document(req *Request, status int, doc []byte) error
	// Problem writes p as a page (a 303 of the sign-in redirect too).
	Problem(w http.ResponseWriter, r *http.Request, p *Problem)
}

// PrefersHTML reports whether the request asks for HTML: its Accept
// names text/html (or application/xhtml+xml) with a quality above 0 and
// no XML type (application/xml, text/xml, application/problem+xml) with
// a higher one (SPEC §3c). Wildcards count for neither, so */* and no
// Accept at all get XML.
func PrefersHTML(r *http.Request) bool {
	accept := r.Header.Values("Accept")
	if len(accept) == 0 {
		return false
	}
	asked := false
	for _, h := range accept {
		asked = asked || strings.Contains(strings.ToLower(h), "html")
	}
	if !asked {
		return false // API clients: no parsing, no allocation
	}
	html, xml := -1.0, -1.0
	for _, h := range accept {
		for _, part := range strings.Split(h, ",") {
			mt, params, _ := strings.Cut(part, ";")
			mt = strings.ToLower(strings.TrimSpace(mt))
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f >= 0 && f <= 1 {
						q = f
					} else {
						q = 0
					}
				}
			}
			switch mt {
			case "text/html", "application/xhtml+xml":
				html = max(html, q)
			case "application/xml", "text/xml", "application/problem+xml":
				xml = max(xml, q)
			}
		}
	}
	return html > 0 && html >= xml
}

// sessionCookie is the console session's access token, "" when the
// request carries none.
func sessionCookie(r *http.Request) string {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

// csrfKey is the key CSRF tokens are MACed under: a server key, shared
// by every instance through etcd, read once.
func (s *Server) csrfKey(ctx context.Context) ([]byte, error) {
	if k := s.csrf.Load(); k != nil {
		return *k, nil
	}
	// A key created on first use is not the request's write (its audit
	// entry and checks ride in the request's context).
	dctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	k, err := s.Store.ServerKey(dctx, CSRFKeyName)
	if err != nil {
		return nil, err
	}
	s.csrf.Store(&k)
	return k, nil
}

// CSRFToken is the CSRF token of the request's console session: the
// HMAC-SHA-256 of the session cookie's value under the server key
// CSRFKeyName, so it is good exactly as long as the session's access
// token and on every instance, and nothing is stored. "" when the
// request has no session cookie (nor needs a token).
func (s *Server) CSRFToken(r *http.Request) (string, error) {
	v := sessionCookie(r)
	if v == "" {
		return "", nil
	}
	key, err := s.csrfKey(r.Context())
	if err != nil {
		return "", err
	}
	return csrfToken(key, v), nil
}

func csrfToken(key []byte, session string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("console-csrf\x00"))
	m.Write([]byte(session))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF refuses a write authenticated by the session cookie unless
// it carries the session's CSRF token in CSRFHeader (compared in
// constant time). Reads need none.
func (s *Server) checkCSRF(r *http.Request, session string) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	sent := firstHeader(r.Header, CSRFHeader)
	if sent == "" {
		return Problemf(http.StatusForbidden, "a write with the console's session cookie needs the session's CSRF token in the %s header", CSRFHeader)
	}
	key, err := s.csrfKey(r.Context())
	if err != nil {
		return err
	}
	if !hmac.Equal([]byte(sent), []byte(csrfToken(key, session))) {
		return Problemf(http.StatusForbidden, "the %s header does not hold this session's CSRF token; reload the page", CSRFHeader)
	}
	return nil
}

// signInRedirect is the answer to a browser's GET that needs credentials
// it does not have: 303 to the console's sign-in, which returns to the
// page asked for. Nil when there is no console or the request is not a
// browser's page request.
func (s *Server) signInRedirect(r *http.Request) *Problem {
	if s.SignInPath == "" || s.HTML == nil || (r.Method != http.MethodGet && r.Method != http.MethodHead) || !PrefersHTML(r) {
		return nil
	}
	loc := s.SignInPath + "?" + url.Values{"return": {r.URL.RequestURI()}}.Encode()
	return &Problem{Status: http.StatusSeeOther, Detail: "sign in to see this page",
		Header: http.Header{"Location": {loc}}}
}

// writeProblem writes p as a page for a browser that prefers HTML, as a
// problem document otherwise.
func (s *Server) writeProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	if s.HTML != nil && PrefersHTML(r) {
		s.HTML.Problem(w, r, p)
		return
	}
	WriteProblem(w, r, p)
}

// Permitted lists the methods other than GET, HEAD and OPTIONS that the
// request's principal may use on the request's path: those whose route
// permission it holds in its own account (the tenancy of the path is the
// GET's). The console offers forms for exactly these; the handlers
// still decide each write.
func (req *Request) Permitted() []string {
	if req.endpoint == nil || req.Server == nil {
		return nil
	}
	var out []string
	_ = req.Server.Store.Read(req.R.Context(), 0, func(v storage.View) error {
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			rt := req.endpoint.methods[m]
			if rt == nil {
				continue
			}
			if rt.Public || req.Server.Authority.Decide(v, req.Principal, rt.Permission, "").Denial == authz.Granted {
				out = append(out, m)
			}
		}
		return nil
	})
	return out
}

// csrfCache holds the CSRF key once read.
type csrfCache = atomic.Pointer[[]byte]
