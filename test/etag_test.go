package test

// Per-document ETags (SPEC §3): a document's ETag changes exactly when
// what it shows changes, and is the same on every instance.

import (
	"net/http"
	"testing"

	"gatehouse/test/harness"
)

func TestETagPerDocument(t *testing.T) {
	etcd := harness.Etcd(t)
	s := harness.StartOn(t, etcd)
	admin := func(method, path, body string, want int) {
		t.Helper()
		s.Admin(method, path, body).Must(t, want)
	}
	admin("POST", "/auth/v2/accounts", `<account><name>etag-acme</name></account>`, http.StatusCreated)
	admin("POST", "/auth/v2/accounts/etag-acme/roles", `<role><name>r1</name><permissions><permission>print:jobs:read</permission></permissions></role>`, http.StatusCreated)
	admin("POST", "/auth/v2/accounts/etag-acme/roles", `<role><name>r2</name></role>`, http.StatusCreated)
	admin("POST", "/auth/v2/accounts/etag-acme/users", `<user><name>alice</name><email>alice@example.com</email></user>`, http.StatusCreated)
	admin("POST", "/auth/v2/accounts/etag-acme/users/alice/roles", `<role identifier="r1"/>`, http.StatusCreated)

	const user = "/auth/v2/accounts/etag-acme/users/alice"
	const perms = user + "/permissions"
	etag := func(path string) string {
		t.Helper()
		r := s.Admin("GET", path, "").Must(t, http.StatusOK)
		e := r.Header.Get("ETag")
		if e == "" {
			t.Fatalf("GET %s: no ETag", path)
		}
		return e
	}
	userTag, permsTag := etag(user), etag(perms)

	unchanged := []struct {
		what, method, path, body string
	}{
		{"another user created", "POST", "/auth/v2/accounts/etag-acme/users", `<user><name>bob</name></user>`},
		{"another user edited", "PUT", "/auth/v2/accounts/etag-acme/users/bob", `<user><name>bob</name><email>bob@example.com</email></user>`},
		{"another user given alice's role", "POST", "/auth/v2/accounts/etag-acme/users/bob/roles", `<role identifier="r1"/>`},
		{"another user's attribute", "POST", "/auth/v2/accounts/etag-acme/users/bob/attributes", `<attribute><name>color</name><value>blue</value></attribute>`},
		{"another top-level account", "POST", "/auth/v2/accounts", `<account><name>etag-other</name></account>`},
		{"a user in another account", "POST", "/auth/v2/accounts/etag-other/users", `<user><name>carol</name></user>`},
		{"a user in system", "POST", "/auth/v2/accounts/system/users", `<user><name>etag-dave</name></user>`},
		{"a role alice does not hold", "PUT", "/auth/v2/accounts/etag-acme/roles/r2/permissions/print:jobs:create", ""},
	}
	for _, c := range unchanged {
		if r := s.Admin(c.method, c.path, c.body); r.Status != http.StatusCreated && r.Status != http.StatusNoContent {
			t.Fatalf("%s: status %d; body:\n%s", c.what, r.Status, r.Body)
		}
		if got := etag(user); got != userTag {
			t.Errorf("%s changed alice's ETag: %s → %s", c.what, userTag, got)
		}
		if got := etag(perms); got != permsTag {
			t.Errorf("%s changed alice's permissions' ETag: %s → %s", c.what, permsTag, got)
		}
	}

	// A second instance on the same etcd gives the same ETags.
	s2 := harness.StartOn(t, etcd)
	for _, p := range []string{user, perms, "/auth/v2/accounts/etag-acme/users?page-size=10", "/auth/v2/accounts/etag-acme?depth=2"} {
		a := s.Admin("GET", p, "").Must(t, http.StatusOK).Header.Get("ETag")
		b := s2.Admin("GET", p, "").Must(t, http.StatusOK).Header.Get("ETag")
		if a != b {
			t.Errorf("GET %s: ETag %s on one instance, %s on another", p, a, b)
		}
	}

	// If-None-Match answers 304 while nothing alice shows has changed.
	r := s.Do(harness.Request{Method: "GET", Path: user, User: `system\admin`, Pass: harness.AdminPassword,
		Header: http.Header{"If-None-Match": {userTag}}})
	if r.Status != http.StatusNotModified {
		t.Errorf("If-None-Match with the current ETag: %d, want 304", r.Status)
	}

	changed := []struct {
		what, method, path, body string
		want                     int
		userChanges, permsChange bool
	}{
		{"her own e-mail", "PUT", user, `<user><name>alice</name><email>alice@example.org</email></user>`, http.StatusNoContent, true, false},
		{"a role for her", "PUT", user + "/roles/r2", "", http.StatusCreated, true, true},
		{"a permission of a role she holds", "PUT", "/auth/v2/accounts/etag-acme/roles/r1/permissions/print:jobs:delete", "", http.StatusCreated, true, true},
	}
	for _, c := range changed {
		s.Admin(c.method, c.path, c.body).Must(t, c.want)
		u, p := etag(user), etag(perms)
		if (u != userTag) != c.userChanges {
			t.Errorf("%s: alice's ETag %s → %s; want changed=%v", c.what, userTag, u, c.userChanges)
		}
		if (p != permsTag) != c.permsChange {
			t.Errorf("%s: alice's permissions' ETag %s → %s; want changed=%v", c.what, permsTag, p, c.permsChange)
		}
		userTag, permsTag = u, p
	}

	// If-Match: a stale ETag is 412 and changes nothing; the current one
	// is honoured.
	stale := userTag
	admin("PUT", user, `<user><name>alice</name><full-name>Alice A.</full-name></user>`, http.StatusNoContent)
	r = s.Do(harness.Request{Method: "PUT", Path: user, User: `system\admin`, Pass: harness.AdminPassword,
		Body: `<user><name>alice</name><full-name>Mallory</full-name></user>`, Header: http.Header{"If-Match": {stale}}})
	if r.Status != http.StatusPreconditionFailed {
		t.Fatalf("If-Match with a stale ETag: %d, want 412; body:\n%s", r.Status, r.Body)
	}
	if got := s.Admin("GET", user, "").Root().SelectElement("full-name"); got == nil || got.Text() != "Alice A." {
		t.Errorf("a 412 changed the user")
	}
	r = s.Do(harness.Request{Method: "PUT", Path: user, User: `system\admin`, Pass: harness.AdminPassword,
		Body: `<user><name>alice</name><full-name>Alice B.</full-name></user>`, Header: http.Header{"If-Match": {etag(user)}}})
	if r.Status != http.StatusNoContent {
		t.Errorf("If-Match with the current ETag: %d, want 204; body:\n%s", r.Status, r.Body)
	}
}
