package test

// Escalation prevention (SPEC §5, after Kubernetes RBAC): a principal
// grants only what it holds, and an account's ceiling changes only by
// principals of a strict ancestor. Every refused write must leave the
// stored state exactly as it was.

import (
	"net/http"
	"slices"
	"testing"

	"gatehouse/test/harness"
)

const escPass = "escalation-pass-1"

// escState is what the refused writes could have changed, read as admin.
func escState(t *testing.T, s *harness.Server) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, p := range []string{
		"/auth/v2/accounts/tenant-a/permissions",
		"/auth/v2/accounts/tenant-a-child/permissions",
		"/auth/v2/accounts/tenant-a/roles",
		"/auth/v2/accounts/tenant-a/roles/tadmin/permissions",
		"/auth/v2/accounts/tenant-a/users/boss/roles",
		"/auth/v2/accounts/tenant-a/users/boss/groups",
		"/auth/v2/accounts/tenant-a/groups/empty/roles",
		"/auth/v2/accounts/tenant-a/groups/pgroup/users",
		"/auth/v2/accounts",
	} {
		r := s.Admin("GET", p+"?page-size=1000", "").Must(t, http.StatusOK)
		var ids []string
		for _, el := range r.Root().ChildElements() {
			ids = append(ids, el.SelectAttrValue("identifier", el.SelectAttrValue("href", "")))
		}
		slices.Sort(ids)
		out[p] = ids
	}
	return out
}

func TestEscalationRefused(t *testing.T) {
	s := harness.Start(t)
	admin := func(method, path, body string, want int) {
		t.Helper()
		s.Admin(method, path, body).Must(t, want)
	}
	// tenant-a's ceiling is auth:* and print:*; its administrator boss
	// holds auth:* only. Role printer (print:*) and group pgroup (holding
	// printer) exist; so does a sub-account and another tenant.
	admin("POST", "/auth/v2/accounts", `<account><name>tenant-a</name><permissions><permission>auth:*</permission><permission>print:*</permission></permissions></account>`, http.StatusCreated)
	// boss and worker hold only what this test gives them: no default role.
	admin("DELETE", "/auth/v2/accounts/tenant-a/default-roles/users", "", http.StatusNoContent)
	admin("POST", "/auth/v2/accounts", `<account><name>tenant-b</name></account>`, http.StatusCreated)
	admin("POST", "/auth/v2/accounts", `<account><name>tenant-a-child</name><parent>tenant-a</parent></account>`, http.StatusCreated)
	admin("POST", "/auth/v2/accounts/tenant-a/roles", `<role><name>tadmin</name><permissions><permission>auth:*</permission></permissions></role>`, http.StatusCreated)
	admin("POST", "/auth/v2/accounts/tenant-a/roles", `<role><name>printer</name><permissions><permission>print:*</permission></permissions></role>`, http.StatusCreated)
	admin("POST", "/auth/v2/accounts/tenant-a/groups", `<group><name>pgroup</name></group>`, http.StatusCreated)
	admin("POST", "/auth/v2/accounts/tenant-a/groups", `<group><name>empty</name></group>`, http.StatusCreated)
	admin("POST", "/auth/v2/accounts/tenant-a/groups/pgroup/roles", `<role identifier="printer"/>`, http.StatusCreated)
	for _, u := range []string{"boss", "worker"} {
		admin("POST", "/auth/v2/accounts/tenant-a/users", `<user><name>`+u+`</name><password>`+escPass+`</password></user>`, http.StatusCreated)
	}
	admin("POST", "/auth/v2/accounts/tenant-a/users/boss/roles", `<role identifier="tadmin"/>`, http.StatusCreated)

	boss := func(method, path, body string) *harness.Response {
		t.Helper()
		return s.As(`tenant-a\boss`, escPass, method, path, body)
	}
	holds := func(perm string) int {
		t.Helper()
		return s.Admin("GET", "/auth/v2/accounts/tenant-a/users/boss/permissions/"+perm, "").Status
	}
	if got := holds("print:jobs:read"); got != http.StatusNotFound {
		t.Fatalf("before: boss holds print:jobs:read (%d)", got)
	}

	before := escState(t, s)
	refused := []struct{ name, method, path, body string }{
		{"own ceiling, collection PUT", "PUT", "/auth/v2/accounts/tenant-a/permissions", `<permissions><permission>*</permission></permissions>`},
		{"own ceiling, item PUT", "PUT", "/auth/v2/accounts/tenant-a/permissions/*", ""},
		{"own ceiling, item DELETE", "DELETE", "/auth/v2/accounts/tenant-a/permissions/print:*", ""},
		{"own ceiling, collection DELETE", "DELETE", "/auth/v2/accounts/tenant-a/permissions", ""},
		{"child ceiling beyond what boss holds", "PUT", "/auth/v2/accounts/tenant-a-child/permissions/print:jobs:read", ""},
		{"child ceiling replaced beyond", "PUT", "/auth/v2/accounts/tenant-a-child/permissions", `<permissions><permission>auth:*</permission><permission>print:jobs:*</permission></permissions>`},
		{"role permission item PUT", "PUT", "/auth/v2/accounts/tenant-a/roles/tadmin/permissions/print:jobs:read", ""},
		{"role permissions collection PUT", "PUT", "/auth/v2/accounts/tenant-a/roles/tadmin/permissions", `<permissions><permission>auth:*</permission><permission>print:*</permission></permissions>`},
		{"role created with permissions (POST)", "POST", "/auth/v2/accounts/tenant-a/roles", `<role><name>sneaky</name><permissions><permission>print:*</permission></permissions></role>`},
		{"role created with permissions (PUT)", "PUT", "/auth/v2/accounts/tenant-a/roles/sneaky2", `<role><name>sneaky2</name><permissions><permission>*</permission></permissions></role>`},
		{"account created with a ceiling beyond", "POST", "/auth/v2/accounts", `<account><name>sneaky-acct</name><parent>tenant-a</parent><permissions><permission>print:*</permission></permissions></account>`},
		{"role to self (POST)", "POST", "/auth/v2/accounts/tenant-a/users/boss/roles", `<role identifier="printer"/>`},
		{"role to self (item PUT)", "PUT", "/auth/v2/accounts/tenant-a/users/boss/roles/printer", ""},
		{"role to self (collection PUT)", "PUT", "/auth/v2/accounts/tenant-a/users/boss/roles", `<roles><role identifier="tadmin"/><role identifier="printer"/></roles>`},
		{"role to a group (POST)", "POST", "/auth/v2/accounts/tenant-a/groups/empty/roles", `<role identifier="printer"/>`},
		{"role to a group (collection PUT)", "PUT", "/auth/v2/accounts/tenant-a/groups/empty/roles", `<roles><role identifier="printer"/></roles>`},
		{"self into a powerful group (user side)", "PUT", "/auth/v2/accounts/tenant-a/users/boss/groups/pgroup", ""},
		{"self into a powerful group (group side)", "POST", "/auth/v2/accounts/tenant-a/groups/pgroup/users", `<user identifier="boss"/>`},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			r := boss(c.method, c.path, c.body)
			if r.Status != http.StatusForbidden {
				t.Fatalf("%s %s: status %d, want 403; body:\n%s", c.method, c.path, r.Status, r.Body)
			}
			if after := escState(t, s); !equalState(before, after) {
				t.Fatalf("%s %s changed the stored state:\nbefore %v\nafter  %v", c.method, c.path, before, after)
			}
		})
	}
	if got := holds("print:jobs:read"); got != http.StatusNotFound {
		t.Errorf("after: boss holds print:jobs:read (%d)", got)
	}
	if got := s.Admin("GET", "/auth/v2/accounts/tenant-a/users/boss/permissions/*", "").Status; got != http.StatusNotFound {
		t.Errorf("after: boss holds * (%d)", got)
	}

	// Taking over a stronger user is escalation too: boss may not set the
	// password of, or mint an API key for, a user who holds print:*.
	admin("POST", "/auth/v2/accounts/tenant-a/users", `<user><name>pusr</name><password>`+escPass+`</password></user>`, http.StatusCreated)
	admin("POST", "/auth/v2/accounts/tenant-a/users/pusr/roles", `<role identifier="printer"/>`, http.StatusCreated)
	for _, c := range []struct{ name, method, path, body string }{
		{"password of a stronger user", "PUT", "/auth/v2/accounts/tenant-a/users/pusr/password", `<password>taken-over-1</password>`},
		{"password in a stronger user's body", "PUT", "/auth/v2/accounts/tenant-a/users/pusr", `<user><name>pusr</name><password>taken-over-1</password></user>`},
		{"password of a stronger user removed", "DELETE", "/auth/v2/accounts/tenant-a/users/pusr/password", ""},
		{"API key for a stronger user", "POST", "/auth/v2/accounts/tenant-a/users/pusr/api-keys", `<api-key><name>k</name><permissions><permission>print:jobs:read</permission></permissions></api-key>`},
	} {
		if r := boss(c.method, c.path, c.body); r.Status != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403; body:\n%s", c.name, r.Status, r.Body)
		}
	}
	// pusr may not read /me (no auth: permission), but its password
	// still signs it in: 403, not 401.
	if r := s.As(`tenant-a\pusr`, escPass, "GET", "/auth/v2/me", ""); r.Status != http.StatusForbidden {
		t.Errorf("pusr's own password after refused takeovers: %d, want 403 (signed in, no permission)", r.Status)
	}
	if r := s.Admin("GET", "/auth/v2/accounts/tenant-a/users/pusr/api-keys", ""); r.Root().SelectAttrValue("count", "") != "0" {
		t.Errorf("a refused key for pusr was stored:\n%s", r.Body)
	}
	boss("PUT", "/auth/v2/accounts/tenant-a/users/worker/password", `<password>replaced-pass-2</password>`).Must(t, http.StatusNoContent)

	// An API key keeps its own rule: a permission its owner lacks is 400.
	r := boss("POST", "/auth/v2/me/api-keys", `<api-key><name>k</name><permissions><permission>print:jobs:read</permission></permissions></api-key>`)
	if r.Status != http.StatusBadRequest {
		t.Errorf("API key beyond the owner: status %d, want 400; body:\n%s", r.Status, r.Body)
	}

	// What boss holds it may grant.
	boss("PUT", "/auth/v2/accounts/tenant-a/users/worker/roles/tadmin", "").Must(t, http.StatusCreated)
	boss("POST", "/auth/v2/accounts/tenant-a/roles", `<role><name>reader</name><permissions><permission>auth:users:read</permission></permissions></role>`).Must(t, http.StatusCreated)
	boss("PUT", "/auth/v2/accounts/tenant-a-child/permissions/auth:users:read", "").Must(t, http.StatusCreated)
	boss("DELETE", "/auth/v2/accounts/tenant-a-child/permissions/print:*", "").Must(t, http.StatusNoContent)
	// A role that grants everything gives, inside tenant-a, no more than
	// the ceiling: an administrator holding the ceiling may assign it.
	admin("POST", "/auth/v2/accounts/tenant-a/roles", `<role><name>all</name><permissions><permission>*</permission></permissions></role>`, http.StatusCreated)
	boss("PUT", "/auth/v2/accounts/tenant-a/users/worker/roles/all", "").Must(t, http.StatusForbidden) // boss lacks print:*
	admin("PUT", "/auth/v2/accounts/tenant-a/users/boss/roles/printer", "", http.StatusCreated)
	boss("PUT", "/auth/v2/accounts/tenant-a/users/worker/roles/all", "").Must(t, http.StatusCreated)
	// The system administrator may change a top-level ceiling.
	admin("PUT", "/auth/v2/accounts/tenant-a/permissions/filtering:*", "", http.StatusCreated)
}

func equalState(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestDecisionOrder: authenticate → tenancy (404) → permission (403) →
// escalation (403), on every route the same.
func TestDecisionOrder(t *testing.T) {
	s := harness.Start(t)
	s.Admin("POST", "/auth/v2/accounts", `<account><name>order-a</name></account>`).Must(t, http.StatusCreated)
	s.Admin("POST", "/auth/v2/accounts", `<account><name>order-b</name></account>`).Must(t, http.StatusCreated)
	s.Admin("POST", "/auth/v2/accounts/order-a/users", `<user><name>nobody</name><password>`+escPass+`</password></user>`).Must(t, http.StatusCreated)
	as := func(method, path, body string) int {
		t.Helper()
		return s.As(`order-a\nobody`, escPass, method, path, body).Status
	}
	cases := []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/auth/v2/accounts/order-b", "", http.StatusNotFound},                  // foreign and no permission: 404
		{"PUT", "/auth/v2/accounts/order-b/permissions/x:y", "", http.StatusNotFound},  // foreign write: 404
		{"GET", "/auth/v2/accounts/zz-missing/users", "", http.StatusNotFound},         // missing: 404
		{"GET", "/auth/v2/accounts/order-a", "", http.StatusForbidden},                 // own, no permission: 403
		{"PUT", "/auth/v2/accounts/order-a/permissions/x:y", "", http.StatusForbidden}, // own, no permission: 403
	}
	for _, c := range cases {
		if got := as(c.method, c.path, c.body); got != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, got, c.want)
		}
	}
	if got := s.Do(harness.Request{Method: "GET", Path: "/auth/v2/accounts/order-b", User: `order-a\nobody`, Pass: "wrong-password"}).Status; got != http.StatusUnauthorized {
		t.Errorf("bad credentials on a foreign account: %d, want 401", got)
	}
}
