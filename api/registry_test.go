package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func mustPanic(t *testing.T, fn func()) (panicked bool, msg any) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			panicked, msg = true, r
		}
	}()
	fn()
	return false, nil
}

func noop(*Request) error { return nil }

// Authorization fails closed: a route without a valid permission stops
// start-up, naming the route.
func TestRegistryFailsClosed(t *testing.T) {
	bad := []string{
		"",               // no permission at all
		" ",              // white space
		"auth:users:",    // empty last part
		":auth:users",    // empty first part
		"auth::read",     // empty middle part
		"auth:users,:rd", // empty subpart
		"auth users read",
		"auth:users:read\n",
		"auth:usérs:read",
		strings.Repeat("a:", 16) + "read", // 17 parts
		"a" + strings.Repeat("b", 256),    // 257 characters
	}
	for _, perm := range bad {
		g := NewRegistry()
		g.Handle(Route{Method: http.MethodGet, Path: "/good", Permission: "auth:good:read", Handler: noop})
		p, msg := mustPanic(t, func() {
			g.Handle(Route{Method: http.MethodGet, Path: "/bad", Permission: perm, Handler: noop})
		})
		if !p {
			t.Errorf("Handle accepted GET /bad with permission %q; want a panic", perm)
			continue
		}
		if s, ok := msg.(string); !ok || !strings.Contains(s, "/bad") {
			t.Errorf("panic for permission %q does not name the route: %v", perm, msg)
		}
	}
	g := NewRegistry()
	g.Handle(Route{Method: http.MethodGet, Path: "/x", Permission: "auth:x:read", Handler: noop})
	if p, _ := mustPanic(t, func() { g.Handle(Route{Method: http.MethodGet, Path: "/x", Permission: "auth:x:read", Handler: noop}) }); !p {
		t.Error("a route registered twice was accepted")
	}
	if p, _ := mustPanic(t, func() {
		g.Handle(Route{Method: http.MethodGet, Path: "/p", Public: true, Permission: "auth:p:read", Handler: noop})
	}); !p {
		t.Error("a public route naming a permission was accepted")
	}
}

// Routes from several packages share one pipeline: a mounted /oauth2
// route answers OPTIONS and 405 like /auth/v2 does, and a public route is
// served without credentials while a protected one needs them.
func TestRegistryMountsPackages(t *testing.T) {
	g := NewRegistry()
	g.Mount(Route{Method: http.MethodGet, Path: "/auth/v2/things", Permission: "auth:things:read", Summary: "list things", Handler: noop})
	served := false
	g.Mount(Route{Method: http.MethodGet, Path: "/.well-known/thing", Public: true, Summary: "a public document", Handler: func(req *Request) error {
		served = true
		req.W.WriteHeader(http.StatusOK)
		return nil
	}})
	s := New(Options{BasicAuth: true, Authenticator: noCredentials{}}, g)
	do := func(method, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec
	}
	if rec := do("GET", "/.well-known/thing"); rec.Code != http.StatusOK || !served {
		t.Errorf("public route: %d", rec.Code)
	}
	if rec := do("GET", "/auth/v2/things"); rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") == "" {
		t.Errorf("protected route without credentials: %d", rec.Code)
	}
	if rec := do("DELETE", "/.well-known/thing"); rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD, OPTIONS" {
		t.Errorf("405: %d Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
	if rec := do("GET", "/auth/v2/nothing"); rec.Code != http.StatusNotFound {
		t.Errorf("unknown /auth/v2 path: %d", rec.Code)
	}
	md := g.Markdown()
	if !strings.Contains(md, "| GET | `/auth/v2/things` | `auth:things:read` | list things |") || !strings.Contains(md, "| GET | `/.well-known/thing` | (public) | a public document |") {
		t.Errorf("Markdown:\n%s", md)
	}
}

func TestCredentials(t *testing.T) {
	s := &Server{Options: Options{BasicAuth: true}}
	r := httptest.NewRequest("GET", "/", nil)
	if cr := s.Credentials(r); cr.Basic || cr.Bearer != "" || cr.APIKey != "" {
		t.Errorf("no header: %+v", cr)
	}
	r.Header.Set("Authorization", "bearer gh_abcdefgh_x")
	if cr := s.Credentials(r); cr.Bearer != "gh_abcdefgh_x" {
		t.Errorf("Bearer: %+v", cr)
	}
	r.Header.Set("X-API-Key", " gh_zzzzzzzz_y ")
	if cr := s.Credentials(r); cr.APIKey != "gh_zzzzzzzz_y" {
		t.Errorf("X-API-Key: %+v", cr)
	}
	r = httptest.NewRequest("GET", "/", nil)
	r.SetBasicAuth(`acme\alice`, "pw")
	if cr := s.Credentials(r); !cr.Basic || cr.Name != `acme\alice` || cr.Password != "pw" {
		t.Errorf("Basic: %+v", cr)
	}
	s.BasicAuth = false
	if cr := s.Credentials(r); cr.Basic {
		t.Errorf("Basic taken while turned off: %+v", cr)
	}
}
