package test

// End-to-end tests of federated sign-in resolution (package federation,
// SPEC §8, §8a) with the rules written through the API, and of the
// /federated documents (seed 001) and a user's federated links.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"gatehouse/federation"
	"gatehouse/test/harness"
)

func fdResolve(t *testing.T, s *harness.Server, id federation.Identity) (federation.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return federation.Resolve(ctx, s.Store, id)
}

func fdMust(t *testing.T, s *harness.Server, id federation.Identity) federation.Result {
	t.Helper()
	res, err := fdResolve(t, s, id)
	if err != nil {
		t.Fatalf("Resolve(%s %s): %v", id.Type, id.Subject, err)
	}
	return res
}

func fdLDAP(sub string, groups ...string) federation.Identity {
	return federation.Identity{Type: "ldap", Account: "rcorp", Provider: "corp-dir", Subject: sub,
		Attributes: map[string][]string{"name": {sub}, "email": {sub + "@corp.example"}, "groups": groups, "memberOf": groups}}
}

// fdIDs lists the identifiers of the items of a collection GET.
func fdIDs(t *testing.T, s *harness.Server, path, item string) string {
	t.Helper()
	return strings.Join(hmIdentifiers(e2eGet(t, s, path).Root(), item), ",")
}

func TestFederatedResolution(t *testing.T) {
	s := harness.Start(t)
	ruSetup(t, s)
	base := azV2 + "/accounts/rcorp"
	eu := azV2 + "/accounts/rcorp-eu"
	e2eDo(t, s, "POST", eu+"/roles", "<role><name>eu-staff</name></role>", 201)
	azCreateAccount(t, s, "rother", "system")
	// Root rules: country de → rcorp-eu (priority 5); anything from a
	// provider → rother (priority 1: outside rcorp's subtree, skipped).
	e2eDo(t, s, "POST", azV2+"/accounts/rules", `<rule><name>de</name><priority>5</priority>
  <conditions><condition><type>ldap</type><attribute>c</attribute><pattern>DE</pattern></condition></conditions>
  <account>rcorp-eu</account></rule>`, 201)
	e2eDo(t, s, "POST", azV2+"/accounts/rules", `<rule><name>grab</name><priority>1</priority>
  <conditions><condition><type>ldap</type><attribute>c</attribute><pattern>*</pattern></condition></conditions>
  <account>rother</account></rule>`, 201)
	// Account rules of rcorp: printadmins → group ops + role strong;
	// everyone of corp.example → role weak.
	e2eDo(t, s, "POST", base+"/rules", `<rule><name>printadmins</name>
  <conditions><condition><type>ldap</type><attribute>groups</attribute><pattern>*printadmins*</pattern></condition></conditions>
  <groups><group identifier="ops"/></groups><roles><role identifier="strong"/></roles></rule>`, 201)
	e2eDo(t, s, "POST", base+"/rules", `<rule><name>everyone</name>
  <conditions><condition><type>ldap</type><attribute>email</attribute><pattern>*@CORP.example</pattern></condition></conditions>
  <roles><role identifier="weak"/></roles></rule>`, 201)
	e2eDo(t, s, "POST", eu+"/rules", `<rule><name>all</name><roles><role identifier="eu-staff"/></roles></rule>`, 201)

	t.Run("jit-union", func(t *testing.T) {
		res := fdMust(t, s, fdLDAP("alice", "cn=PrintAdmins,ou=groups"))
		if res.Account != "rcorp" || res.User != "alice" || !res.Created {
			t.Fatalf("result %+v", res)
		}
		if got := fdIDs(t, s, base+"/users/alice/roles", "role"); got != "strong,weak" {
			t.Errorf("alice's roles %q, want the union strong,weak", got)
		}
		if got := fdIDs(t, s, base+"/users/alice/groups", "group"); got != "ops" {
			t.Errorf("alice's groups %q, want ops", got)
		}
		if got := fdIDs(t, s, base+"/groups/ops/users", "user"); got != "alice" {
			t.Errorf("ops's users %q: the group side of the membership", got)
		}
		user := e2eGet(t, s, base+"/users/alice")
		if e := user.Root().SelectElement("email"); e == nil || e.Text() != "alice@corp.example" {
			t.Errorf("JIT user's e-mail: %s", user.Body)
		}
	})

	t.Run("link-and-regrant", func(t *testing.T) {
		// The directory takes alice out of printadmins: the rule's
		// grants go at the next sign-in, weak stays; a linked principal
		// resolves to its user whatever its name attribute says now.
		id := fdLDAP("alice", "cn=users")
		id.Attributes["name"] = []string{"alice2"}
		res := fdMust(t, s, id)
		if res.User != "alice" || res.Created {
			t.Fatalf("result %+v, want the linked alice", res)
		}
		if got := fdIDs(t, s, base+"/users/alice/roles", "role"); got != "weak" {
			t.Errorf("alice's roles %q after leaving printadmins, want weak", got)
		}
		if got := fdIDs(t, s, base+"/users/alice/groups", "group"); got != "" {
			t.Errorf("alice's groups %q after leaving printadmins, want none", got)
		}
		if s.Admin("GET", base+"/users/alice2", "").Status != 404 {
			t.Error("a second user was made for a linked principal")
		}
		// Back in: granted again. A role given by hand is kept.
		e2eDo(t, s, "POST", base+"/users/alice/groups", `<group identifier="admins"/>`, 201)
		fdMust(t, s, fdLDAP("alice", "printadmins"))
		if got := fdIDs(t, s, base+"/users/alice/groups", "group"); got != "admins,ops" {
			t.Errorf("alice's groups %q, want admins,ops", got)
		}
		fdMust(t, s, fdLDAP("alice"))
		if got := fdIDs(t, s, base+"/users/alice/groups", "group"); got != "admins" {
			t.Errorf("alice's groups %q, want admins (given by hand)", got)
		}
	})

	t.Run("root-rule-and-subtree", func(t *testing.T) {
		id := fdLDAP("hans")
		id.Attributes["c"] = []string{"de"}
		res := fdMust(t, s, id)
		if res.Account != "rcorp-eu" {
			t.Fatalf("result %+v: want rcorp-eu (rule de; rule grab points outside the provider's subtree)", res)
		}
		if got := fdIDs(t, s, eu+"/users/hans/roles", "role"); got != "eu-staff" {
			t.Errorf("hans's roles %q, want eu-staff (rcorp-eu's rules, not rcorp's)", got)
		}
		if s.Admin("GET", azV2+"/accounts/rother/users/hans", "").Status != 404 {
			t.Error("a root rule sent a user outside the provider's account subtree")
		}
		// A provider of rother: rule grab applies.
		id = fdLDAP("olga")
		id.Account, id.Attributes["c"] = "rother", []string{"fr"}
		if res = fdMust(t, s, id); res.Account != "rother" {
			t.Errorf("result %+v, want rother", res)
		}
	})

	t.Run("name-clash-refused", func(t *testing.T) {
		e2eDo(t, s, "POST", base+"/users", "<user><name>bob</name></user>", 201)
		_, err := fdResolve(t, s, fdLDAP("bob", "printadmins"))
		if !errors.Is(err, federation.ErrNameClash) {
			t.Fatalf("err = %v, want ErrNameClash", err)
		}
		if got := fdIDs(t, s, base+"/users/bob/roles", "role"); got != "" {
			t.Errorf("bob got roles %q from a refused sign-in", got)
		}
		e2eMustShape(t, "bob's federated", `<federations count="0" href="/auth/v2/accounts/rcorp/users/bob/federated"/>`,
			e2eGet(t, s, base+"/users/bob/federated"))
		// The principal is recorded, unlinked.
		e2eMustShape(t, "bob's principal users", `<users count="0" href="/auth/v2/federated/ldap/principals/rcorp:corp-dir:bob/users"/>`,
			e2eGet(t, s, azV2+"/federated/ldap/principals/rcorp:corp-dir:bob/users"))
	})

	t.Run("no-rule-no-user", func(t *testing.T) {
		id := fdLDAP("carl")
		id.Attributes["email"] = []string{"carl@elsewhere.example"}
		if _, err := fdResolve(t, s, id); !errors.Is(err, federation.ErrNoRule) {
			t.Fatalf("err = %v, want ErrNoRule", err)
		}
		if s.Admin("GET", base+"/users/carl", "").Status != 404 {
			t.Error("a user was made without a rule")
		}
	})

	t.Run("user-federated-links", func(t *testing.T) {
		e2eMustShape(t, "alice's federated", `<federations count="1" href="/auth/v2/accounts/rcorp/users/alice/federated">
  <federated-user identifier="rcorp:corp-dir:alice" href="/auth/v2/federated/ldap/principals/rcorp:corp-dir:alice"/>
</federations>`, e2eGet(t, s, base+"/users/alice/federated"))
		user := e2eGet(t, s, base+"/users/alice")
		if e := user.Root().SelectElement("federations"); e == nil || e.SelectAttrValue("count", "") != "1" {
			t.Errorf("user document's <federations>: %s", user.Body)
		}
		// Deleting the user unlinks the principal; the next sign-in makes
		// a new user.
		e2eDo(t, s, "DELETE", base+"/users/alice", "", 204)
		e2eMustShape(t, "principal of a deleted user", `<users count="0" href="/auth/v2/federated/ldap/principals/rcorp:corp-dir:alice/users"/>`,
			e2eGet(t, s, azV2+"/federated/ldap/principals/rcorp:corp-dir:alice/users"))
		if res := fdMust(t, s, fdLDAP("alice")); !res.Created {
			t.Errorf("result %+v, want alice created again", res)
		}
	})

	t.Run("tenancy", func(t *testing.T) {
		azUserWithRole(t, s, "rcorp", "fad", ruPass, "fad-role", "auth:federated:read")
		as := func(path string) *harness.Response { return s.As(`rcorp\fad`, ruPass, "GET", path, "") }
		r := as(azV2 + "/federated/ldap/principals")
		if r.Status != 200 {
			t.Fatalf("tenant lists principals: %d %s", r.Status, r.Body)
		}
		ids := strings.Join(hmIdentifiers(r.Root(), "federated-user"), ",")
		if strings.Contains(ids, "rother:") || !strings.Contains(ids, "rcorp:corp-dir:hans") {
			t.Errorf("tenant sees %q: want rcorp's principals only", ids)
		}
		if r.Root().SelectAttrValue("count", "") != "4" {
			t.Errorf("tenant's count: %s", r.Body)
		}
		e2eCheckProblem(t, "tenant reads another tenant's principal", as(azV2+"/federated/ldap/principals/rother:corp-dir:olga"), 404)
		if as(azV2+"/federated/ldap/principals/rcorp:corp-dir:hans").Status != 200 {
			t.Error("tenant cannot read its own principal")
		}
	})
}

// TestFederatedSeedShapes pins the /federated documents to the seed's
// examples (seed 001), with an e-mail principal like the seed's.
func TestFederatedSeedShapes(t *testing.T) {
	s := harness.Start(t)
	e2eDo(t, s, "POST", azV2+"/accounts/system/rules", `<rule><name>mail</name>
  <conditions><condition><type>email</type><attribute>default-user</attribute><pattern>*</pattern></condition></conditions></rule>`, 201)
	res := fdMust(t, s, federation.Identity{Type: "email", Account: "system", Subject: "admin@localhost",
		Attributes: map[string][]string{"default-user": {`system\admin`}, "password": {""}}})
	if res.User != "admin@localhost" || res.Account != "system" {
		t.Fatalf("result %+v", res)
	}
	const p = "/auth/v2/federated/email/principals/admin@localhost"
	for _, c := range []struct{ path, want string }{
		{"/auth/v2/federated", `<federations count="3" href="/auth/v2/federated">
  <federation identifier="email" href="/auth/v2/federated/email"/>
  <federation identifier="ldap" href="/auth/v2/federated/ldap"/>
  <federation identifier="saml" href="/auth/v2/federated/saml"/>
</federations>`},
		{"/auth/v2/federated/email", `<federation identifier="email" href="/auth/v2/federated/email">
  <federated-users count="1" href="/auth/v2/federated/email/principals"/>
  <type>email</type>
</federation>`},
		{"/auth/v2/federated/email/principals", `<federated-users count="1" href="/auth/v2/federated/email/principals">
  <federated-user identifier="admin@localhost" href="/auth/v2/federated/email/principals/admin@localhost"/>
</federated-users>`},
		{p, `<federated-user identifier="admin@localhost" href="/auth/v2/federated/email/principals/admin@localhost">
  <attributes count="2" href="/auth/v2/federated/email/principals/admin@localhost/attributes"/>
  <principal>admin@localhost</principal>
  <type>email</type>
  <users count="1" href="/auth/v2/federated/email/principals/admin@localhost/users"/>
</federated-user>`},
		{p + "/attributes", `<attributes count="2" href="/auth/v2/federated/email/principals/admin@localhost/attributes">
  <attribute identifier="default-user" href="/auth/v2/federated/email/principals/admin@localhost/attributes/default-user"/>
  <attribute identifier="password" href="/auth/v2/federated/email/principals/admin@localhost/attributes/password"/>
</attributes>`},
		{p + "/attributes/default-user", `<attribute identifier="default-user" href="/auth/v2/federated/email/principals/admin@localhost/attributes/default-user">
  <id>{{int}}</id>
  <name>default-user</name>
  <value>system\admin</value>
</attribute>`},
		{p + "/users", `<users count="1" href="/auth/v2/federated/email/principals/admin@localhost/users">
  <user identifier="admin@localhost" href="/auth/v2/accounts/system/users/admin@localhost"/>
</users>`},
		{"/auth/v2/accounts/system/users/admin@localhost/federated", `<federations count="1" href="/auth/v2/accounts/system/users/admin@localhost/federated">
  <federated-user identifier="admin@localhost" href="/auth/v2/federated/email/principals/admin@localhost"/>
</federations>`},
	} {
		e2eMustShape(t, "GET "+c.path, c.want, e2eGet(t, s, c.path))
	}
	// A multi-valued attribute shows one <value> per value; an attribute
	// name with "/" is escaped in its identifier, kept in <name>.
	fdMust(t, s, federation.Identity{Type: "email", Account: "system", Subject: "admin@localhost",
		Attributes: map[string][]string{"default-user": {`system\admin`, `system\other`}, "http://x/claims/role": {"a"}}})
	e2eMustShape(t, "multi-valued attribute", `<attribute identifier="default-user" href="`+p+`/attributes/default-user">
  <id>{{int}}</id>
  <name>default-user</name>
  <value>system\admin</value>
  <value>system\other</value>
</attribute>`, e2eGet(t, s, p+"/attributes/default-user"))
	e2eMustShape(t, "escaped attribute name", `<attributes count="2" href="`+p+`/attributes">
  <attribute identifier="default-user" href="`+p+`/attributes/default-user"/>
  <attribute identifier="http:%2F%2Fx%2Fclaims%2Frole" href="`+p+`/attributes/http:%252F%252Fx%252Fclaims%252Frole"/>
</attributes>`, e2eGet(t, s, p+"/attributes"))
	uri := e2eGet(t, s, p+"/attributes/http:%252F%252Fx%252Fclaims%252Frole")
	if n := uri.Root().SelectElement("name"); n == nil || n.Text() != "http://x/claims/role" {
		t.Errorf("escaped attribute's <name>: %s", uri.Body)
	}
	// Unknown type, principal and attribute are 404 problems.
	for _, path := range []string{"/auth/v2/federated/kerberos", "/auth/v2/federated/kerberos/principals",
		"/auth/v2/federated/saml/principals/nobody", p + "/attributes/nope", "/auth/v2/federated/ldap/principals/nobody/users"} {
		e2eCheckProblem(t, "GET "+path, s.Admin("GET", path, ""), 404)
	}
}
