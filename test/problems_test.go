package test

// Clear problems (issue 12): a malformed body says where, a bearer value
// that signs no one in says what it is not, and an unknown query
// parameter is a 400 naming it.

import (
	"net/http"
	"strings"
	"testing"

	"gatehouse/test/harness"
)

// problemSays fails unless r is a problem document with status want
// whose detail holds each of says.
func problemSays(t *testing.T, label string, r *harness.Response, want int, says ...string) {
	t.Helper()
	d := e2eCheckProblem(t, label, r, want)
	for _, s := range says {
		if !strings.Contains(d, s) {
			t.Errorf("%s: detail %q does not say %q", label, d, s)
		}
	}
}

func TestProblemMalformedBody(t *testing.T) {
	s := harness.Start(t)
	r := s.Admin("POST", "/auth/v2/accounts", "<account>\n  <name>acme</name>\n  <description>x</descripton>\n</account>")
	problemSays(t, "mismatched end tag", r, 400, "line 3, column 29", "closed by </descripton>")
	if strings.Contains(r.Body, "etree") {
		t.Errorf("the problem still names the parser: %s", r.Body)
	}
	r = s.Admin("POST", "/auth/v2/accounts", "<account><name>acme</name>")
	problemSays(t, "unclosed root", r, 400, "line 1, column 26", "unexpected EOF")
	r = s.Admin("POST", "/auth/v2/accounts/system/users", "<user><name a=b>x</name></user>")
	problemSays(t, "unquoted attribute", r, 400, "line 1, column 15")
	s.Admin("GET", "/auth/v2/accounts/acme", "").Must(t, 404) // nothing was created
}

func TestProblemBadBearer(t *testing.T) {
	s := harness.Start(t)
	for _, c := range []struct{ header, value, says string }{
		{"Authorization", "Bearer not-a-key-or-token", "neither a valid API key nor a valid access token"},
		{"Authorization", "Bearer aaa.bbb.ccc", "neither a valid API key nor a valid access token"},
		{"Authorization", "Bearer gh_notakey", "not a valid API key"},
		{"Authorization", "Bearer ", "bearer value is empty"},
		{"Authorization", "Token xyz", `scheme "Token"`},
		{"X-Api-Key", "gh_notakey", "X-API-Key value is not a valid API key"},
	} {
		r := s.Do(harness.Request{Method: "GET", Path: "/auth/v2/me", Header: http.Header{c.header: {c.value}}})
		problemSays(t, c.header+": "+c.value, r, 401, c.says)
		if strings.Contains(r.Body, "needs credentials") {
			t.Errorf("%s: %q still says the resource needs credentials", c.header, c.value)
		}
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: %q: 401 without a challenge", c.header, c.value)
		}
	}
	// No credentials at all still says so.
	problemSays(t, "no credentials", s.Do(harness.Request{Method: "GET", Path: "/auth/v2/me"}), 401, "needs credentials")
}

func TestProblemUnknownQueryParameter(t *testing.T) {
	s := harness.Start(t)
	for _, c := range []struct{ path, name string }{
		{"/auth/v2/accounts/system/users?pagesize=5", "pagesize"},
		{"/auth/v2/accounts?page-size=5&curent-page=2", "curent-page"},
		{"/auth/v2?x=1", "x"},
		{"/auth/v2/me?deepth=2", "deepth"},
		{"/auth/v2/audit?actr=admin", "actr"},
	} {
		problemSays(t, "GET "+c.path, s.Admin("GET", c.path, ""), 400, `"`+c.name+`"`, "page-size")
	}
	// Writes refuse them too (the query is parsed before any body).
	problemSays(t, "POST with pagesize", s.Admin("POST", "/auth/v2/accounts?pagesize=5", "<account><name>q</name></account>"), 400, `"pagesize"`)
	s.Admin("GET", "/auth/v2/accounts/q", "").Must(t, 404)
	// The known parameters, and the audit collection's own filters, work.
	for _, path := range []string{
		"/auth/v2/accounts/system/users?page-size=5&current-page=1&depth=0&filter=a*",
		"/auth/v2/audit?actor=system%5Cadmin&account=system&action=sign-in&outcome=success&since=2020-01-01T00:00:00Z&until=2099-01-01T00:00:00Z&page-size=5",
		"/auth/v2?depth=1",
	} {
		s.Admin("GET", path, "").Must(t, 200)
	}
	// The audit filters belong to the audit collection only.
	problemSays(t, "actor on users", s.Admin("GET", "/auth/v2/accounts/system/users?actor=x", ""), 400, `"actor"`)
}
