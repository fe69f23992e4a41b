package test

// Default roles (SPEC §3c): an account's …/default-roles, given to every
// user created in it; a new account starts with "users".

import (
	"strings"
	"testing"

	"gatehouse/test/harness"
)

func TestDefaultRoles(t *testing.T) {
	s := harness.Start(t)
	const pw = "default-roles-passphrase-7"
	acme := azV2 + "/accounts/acme"
	e2eDo(t, s, "POST", azV2+"/accounts", "<account><name>acme</name></account>", 201)

	// The account document links its default roles; a new account has
	// "users".
	acc := e2eGet(t, s, acme).Root()
	dr := acc.SelectElement("default-roles")
	if dr == nil || dr.SelectAttrValue("href", "") != acme+"/default-roles" || dr.SelectAttrValue("count", "") != "1" {
		t.Fatalf("account document lacks <default-roles count=\"1\" href=…/>: %v", dr)
	}
	coll := e2eGet(t, s, acme+"/default-roles").Root()
	if coll.Tag != "default-roles" || strings.Join(hmIdentifiers(coll, "role"), ",") != "users" {
		t.Fatalf("default roles of a new account: %s", e2eGet(t, s, acme+"/default-roles").Body)
	}
	if h := coll.SelectElement("role").SelectAttrValue("href", ""); h != acme+"/default-roles/users" {
		t.Errorf("a default role's href %q", h)
	}
	e2eGet(t, s, acme+"/default-roles/users")
	e2eCheckProblem(t, "GET a role that is no default role", s.Admin("GET", acme+"/default-roles/support", ""), 404)

	// A tenant administrator creates a user, who reads /me at once.
	e2eDo(t, s, "POST", acme+"/users", "<user><name>boss</name><password>"+pw+"</password></user>", 201)
	e2eDo(t, s, "PUT", acme+"/users/boss/roles/administrators", "", 201)
	boss := func(method, path, body string) *harness.Response { return s.As(`acme\boss`, pw, method, path, body) }
	boss("POST", acme+"/users", "<user><name>newbie</name><password>"+pw+"</password></user>").Must(t, 201)
	me := s.As(`acme\newbie`, pw, "GET", azV2+"/me", "").Must(t, 200)
	if me.Root() == nil || me.Root().SelectAttrValue("identifier", "") != "newbie" {
		t.Errorf("GET /me as the new user: %s", me.Body)
	}
	s.As(`acme\newbie`, pw, "GET", azV2+"/me/roles/users", "").Must(t, 200)
	// PUT of a new user gets them too.
	boss("PUT", acme+"/users/putnew", "<user><password>"+pw+"</password></user>").Must(t, 201)
	s.As(`acme\putnew`, pw, "GET", azV2+"/me", "").Must(t, 200)

	// The tenant administrator adds and removes default roles.
	boss("PUT", acme+"/default-roles/reporting", "").Must(t, 201)
	boss("PUT", acme+"/default-roles/reporting", "").Must(t, 204)
	e2eCheckProblem(t, "PUT a missing role", boss("PUT", acme+"/default-roles/nosuch", ""), 404)
	e2eCheckProblem(t, "PUT with a body", boss("PUT", acme+"/default-roles/support", "<role identifier=\"support\"/>"), 400)
	boss("POST", acme+"/users", "<user><name>second</name></user>").Must(t, 201)
	if got := strings.Join(hmIdentifiers(e2eGet(t, s, acme+"/users/second/roles").Root(), "role"), ","); got != "reporting,users" {
		t.Errorf("second's roles %q, want reporting,users", got)
	}
	boss("DELETE", acme+"/default-roles/reporting", "").Must(t, 204)
	e2eCheckProblem(t, "DELETE it again", boss("DELETE", acme+"/default-roles/reporting", ""), 404)
	if got := strings.Join(hmIdentifiers(e2eGet(t, s, acme+"/users/second/roles").Root(), "role"), ","); got != "reporting,users" {
		t.Errorf("second's roles %q after the default went, want reporting,users (kept)", got)
	}
	// A deleted role leaves the default roles.
	e2eDo(t, s, "PUT", acme+"/default-roles/support", "", 201)
	e2eDo(t, s, "DELETE", acme+"/roles/support", "", 204)
	if got := strings.Join(hmIdentifiers(e2eGet(t, s, acme+"/default-roles").Root(), "role"), ","); got != "users" {
		t.Errorf("default roles %q after deleting role support, want users", got)
	}

	// Escalation: a principal may make a role a default role, and create
	// users, only if it may grant what the default roles hold.
	e2eDo(t, s, "POST", acme+"/roles", `<role><name>hr</name><permissions>
  <permission>auth:users:create,update</permission><permission>auth:accounts:default-roles:*</permission>
  <permission>auth:accounts:read</permission></permissions></role>`, 201)
	e2eDo(t, s, "POST", acme+"/roles", `<role><name>strong</name><permissions><permission>auth:roles:*</permission></permissions></role>`, 201)
	e2eDo(t, s, "POST", acme+"/users", "<user><name>hank</name><password>"+pw+"</password></user>", 201)
	e2eDo(t, s, "PUT", acme+"/users/hank/roles/hr", "", 201)
	hank := func(method, path, body string) *harness.Response { return s.As(`acme\hank`, pw, method, path, body) }
	// hank holds users (a default role) and hr: he may create users …
	hank("POST", acme+"/users", "<user><name>h1</name></user>").Must(t, 201)
	// … but not make "strong" a default role …
	d := e2eCheckProblem(t, "hank makes strong a default role", hank("PUT", acme+"/default-roles/strong", ""), 403)
	if !strings.Contains(d, "auth:roles:") {
		t.Errorf("the refusal %q does not name what hank may not grant", d)
	}
	if got := strings.Join(hmIdentifiers(e2eGet(t, s, acme+"/default-roles").Root(), "role"), ","); got != "users" {
		t.Errorf("default roles %q after the refusal", got)
	}
	// … and once an administrator has, he may no longer create users
	// (each would hold auth:roles:*), while the administrator may.
	e2eDo(t, s, "PUT", acme+"/default-roles/strong", "", 201)
	d = e2eCheckProblem(t, "hank creates a user holding strong", hank("POST", acme+"/users", "<user><name>h2</name><password>"+pw+"</password></user>"), 403)
	if !strings.Contains(d, "default roles") {
		t.Errorf("the refusal %q does not say the default roles are why", d)
	}
	d = e2eCheckProblem(t, "hank PUTs a new user holding strong", hank("PUT", acme+"/users/h3", "<user/>"), 403)
	if !strings.Contains(d, "default roles") {
		t.Errorf("the refusal %q does not say the default roles are why", d)
	}
	hank("PUT", acme+"/users/h1", "<user><full-name>H One</full-name></user>").Must(t, 204)
	s.Admin("GET", acme+"/users/h2", "").Must(t, 404)
	// hank may still update existing users (nothing is granted), and
	// remove the default role he could not have added.
	hank("DELETE", acme+"/default-roles/strong", "").Must(t, 204)
	hank("POST", acme+"/users", "<user><name>h2</name></user>").Must(t, 201)

	// A plain user reads neither the default roles nor changes them.
	e2eCheckProblem(t, "a plain user reads default roles", s.As(`acme\newbie`, pw, "GET", acme+"/default-roles", ""), 403)
	// Another account's default roles are foreign: 404.
	e2eDo(t, s, "POST", azV2+"/accounts", "<account><name>other</name></account>", 201)
	e2eCheckProblem(t, "a foreign account's default roles", boss("GET", azV2+"/accounts/other/default-roles", ""), 404)
}
