package test

// The root document (SPEC §3c): GET /auth/v2 links the entry points the
// caller may follow, and / and /auth/v2/ lead there.

import (
	"net/http"
	"strings"
	"testing"

	"gatehouse/test/harness"
)

// rootChildren is the element name and href of each child of a root
// document, in order.
func rootChildren(t *testing.T, r *harness.Response) []string {
	t.Helper()
	root := r.Root()
	if root == nil || root.Tag != "auth" || root.SelectAttrValue("href", "") != "/auth/v2" {
		t.Fatalf("root document is not <auth href=\"/auth/v2\">:\n%s", r.Body)
	}
	var out []string
	for _, el := range root.ChildElements() {
		if len(el.ChildElements()) > 0 || len(el.Attr) != 1 {
			t.Errorf("child <%s> is not a bare link: %s", el.Tag, r.Body)
		}
		out = append(out, el.Tag+" "+el.SelectAttrValue("href", ""))
	}
	return out
}

func TestRootDocument(t *testing.T) {
	s := harness.Start(t)
	all := []string{
		"accounts /auth/v2/accounts", "me /auth/v2/me", "check /auth/v2/check", "permissions /auth/v2/permissions",
		"audit /auth/v2/audit", "federated /auth/v2/federated", "schema /auth/v2/schema.xsd",
		"openid-configuration /.well-known/openid-configuration",
	}
	admin := s.Admin("GET", "/auth/v2", "").Must(t, 200)
	if got := rootChildren(t, admin); strings.Join(got, "|") != strings.Join(all, "|") {
		t.Errorf("system admin's root links\n%v\nwant\n%v", got, all)
	}
	if ct := admin.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/xml") {
		t.Errorf("Content-Type %q", ct)
	}

	// A tenant administrator (starter role administrators) and a plain
	// user (starter role users).
	const pw = "root-test-passphrase-9"
	s.Admin("POST", "/auth/v2/accounts", "<account><name>acme</name></account>").Must(t, 201)
	for _, u := range []string{"boss", "pat"} {
		s.Admin("POST", "/auth/v2/accounts/acme/users", "<user><name>"+u+"</name><password>"+pw+"</password></user>").Must(t, 201)
	}
	if st := s.Admin("PUT", "/auth/v2/accounts/acme/users/boss/roles/administrators", "").Status; st != 201 && st != 204 {
		t.Fatalf("PUT role administrators: %d", st)
	}
	if st := s.Admin("PUT", "/auth/v2/accounts/acme/users/pat/roles/users", "").Status; st != 201 && st != 204 {
		t.Fatalf("PUT role users: %d", st)
	}
	boss := s.As(`acme\boss`, pw, "GET", "/auth/v2", "").Must(t, 200)
	if got := rootChildren(t, boss); strings.Join(got, "|") != strings.Join(all, "|") {
		t.Errorf("tenant administrator's root links\n%v\nwant\n%v", got, all)
	}
	pat := s.As(`acme\pat`, pw, "GET", "/auth/v2", "").Must(t, 200)
	want := []string{"me /auth/v2/me", "schema /auth/v2/schema.xsd", "openid-configuration /.well-known/openid-configuration"}
	if got := rootChildren(t, pat); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("plain user's root links\n%v\nwant\n%v", got, want)
	}
	// Every link the plain user sees is one it may follow (the schema is
	// another part's; the rest answer 200).
	for _, href := range []string{"/auth/v2/me", "/.well-known/openid-configuration"} {
		s.As(`acme\pat`, pw, "GET", href, "").Must(t, 200)
	}
	for _, href := range []string{"/auth/v2/accounts", "/auth/v2/audit", "/auth/v2/permissions", "/auth/v2/federated"} {
		s.As(`acme\pat`, pw, "GET", href, "").Must(t, 403)
	}

	// The ETag: 304 while the links stay, a new one when they change.
	etag := pat.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on the root document")
	}
	s.Do(harness.Request{Method: "GET", Path: "/auth/v2", User: `acme\pat`, Pass: pw,
		Header: http.Header{"If-None-Match": {etag}}}).Must(t, 304)
	s.Admin("PUT", "/auth/v2/accounts/acme/roles/users/permissions/auth:audit:read", "").Must(t, 201)
	pat2 := s.As(`acme\pat`, pw, "GET", "/auth/v2", "").Must(t, 200)
	if pat2.Header.Get("ETag") == etag {
		t.Errorf("the ETag stays %s although the links changed", etag)
	}
	if got := rootChildren(t, pat2); !strings.Contains(strings.Join(got, "|"), "audit /auth/v2/audit") {
		t.Errorf("after auth:audit:read the plain user's root links %v lack audit", got)
	}
	if admin.Header.Get("ETag") != s.Admin("GET", "/auth/v2", "").Header.Get("ETag") {
		t.Error("the admin's root ETag moved although nothing it shows changed")
	}

	// Credentials are needed, as for every /auth/v2 document.
	anon := s.Do(harness.Request{Method: "GET", Path: "/auth/v2"})
	e2eCheckProblem(t, "anonymous GET /auth/v2", anon, 401)
	if anon.Header.Get("WWW-Authenticate") == "" {
		t.Error("anonymous 401 without a challenge")
	}
	// HEAD works, and other methods are 405.
	s.Do(harness.Request{Method: "HEAD", Path: "/auth/v2", User: `system\admin`, Pass: harness.AdminPassword}).Must(t, 200)
	s.Admin("POST", "/auth/v2", "<auth/>").Must(t, 405)
}

// GET / and GET /auth/v2/ lead to the root: 308 to /auth/v2, keeping
// the query; other paths stay 404.
func TestRootRedirects(t *testing.T) {
	s := harness.Start(t)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range []struct{ method, path, location string }{
		{"GET", "/", "/auth/v2"},
		{"HEAD", "/", "/auth/v2"},
		{"GET", "/auth/v2/", "/auth/v2"},
		{"GET", "/auth/v2/?depth=0", "/auth/v2?depth=0"},
	} {
		req, err := http.NewRequest(c.method, s.URL()+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != c.location {
			t.Errorf("%s %s: %d Location %q, want 308 %q", c.method, c.path, resp.StatusCode, resp.Header.Get("Location"), c.location)
		}
	}
	// Following the redirect with credentials reaches the root document.
	r := s.Admin("GET", "/", "").Must(t, 200)
	if r.Root() == nil || r.Root().Tag != "auth" {
		t.Errorf("GET / followed: %s", r.Body)
	}
	s.Admin("GET", "/nothing-here", "").Must(t, 404)
	s.Admin("GET", "/auth/v2/nothing-here", "").Must(t, 404)
}
