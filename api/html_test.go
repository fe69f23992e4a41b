package api

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestPrefersHTML: HTML only when text/html is asked for and no XML type
// is preferred (SPEC §3c); a browser's navigation Accept is HTML, API
// clients' (none, */*, XML) are not.
func TestPrefersHTML(t *testing.T) {
	for _, c := range []struct {
		accept string
		want   bool
	}{
		{"", false},
		{"*/*", false},
		{"application/xml", false},
		{"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8", true},
		{"text/html", true},
		{"text/html;q=0.5, application/xml", false},
		{"application/xml;q=0.5, text/html", true},
		{"text/html, application/xml", true}, // a tie: no XML type preferred
		{"text/html;q=0", false},
		{"TEXT/HTML; Q=0.8", true},
		{"text/html;q=x", false},
		{"application/problem+xml, text/html;q=0.9", false},
	} {
		r := httptest.NewRequest(http.MethodGet, "/auth/v2", nil)
		if c.accept != "" {
			r.Header.Set("Accept", c.accept)
		}
		if got := PrefersHTML(r); got != c.want {
			t.Errorf("PrefersHTML(Accept: %q) = %v, want %v", c.accept, got, c.want)
		}
	}
}

// TestCSRFToken: the token is bound to the session and the key.
func TestCSRFToken(t *testing.T) {
	a, b := csrfToken([]byte("k1"), "session-1"), csrfToken([]byte("k1"), "session-2")
	if a == b || a != csrfToken([]byte("k1"), "session-1") || a == csrfToken([]byte("k2"), "session-1") {
		t.Errorf("tokens: %s %s", a, b)
	}
	// Reads need no token, whatever the session.
	r := httptest.NewRequest(http.MethodGet, "/auth/v2", nil)
	if err := (&Server{}).checkCSRF(r, "session-1"); err != nil {
		t.Errorf("GET: %v", err)
	}
	// A write without the header is refused before any key is read.
	r = httptest.NewRequest(http.MethodDelete, "/auth/v2/accounts/x", nil)
	if err := (&Server{}).checkCSRF(r, "session-1"); err == nil || err.(*Problem).Status != http.StatusForbidden {
		t.Errorf("DELETE without the header: %v, want 403", err)
	}
}
