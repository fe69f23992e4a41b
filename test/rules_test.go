package test

// End-to-end tests of federation rules as XML resources (SPEC §4, §8,
// §8a): root rules (/accounts/rules, system principals only) and account
// rules (/accounts/{a}/rules), their documents, validation, conditional
// writes and the escalation rule.

import (
	"strings"
	"testing"

	"gatehouse/test/harness"
)

const (
	ruRoot = azV2 + "/accounts/rules"
	ruAcme = azV2 + "/accounts/rcorp/rules"
	ruPass = "rules-password-1"
)

// ruSetup: account rcorp (child rcorp-eu) with groups ops, admins (role
// strong) and roles weak (print:jobs:read), strong (print:*); tad, a
// tenant administrator of rcorp holding the rule permissions and
// print:jobs:read only.
func ruSetup(t *testing.T, s *harness.Server) {
	t.Helper()
	azCreateAccount(t, s, "rcorp", "system")
	azCreateAccount(t, s, "rcorp-eu", "rcorp")
	base := azV2 + "/accounts/rcorp"
	for _, r := range [][2]string{{"weak", "print:jobs:read"}, {"strong", "print:*"}} {
		azAdmin(t, s, "POST", base+"/roles", "<role><name>"+r[0]+"</name>"+azPermsBody(r[1])+"</role>", 201)
	}
	for _, g := range []string{"ops", "admins"} {
		azAdmin(t, s, "POST", base+"/groups", "<group><name>"+g+"</name></group>", 201)
	}
	azAdmin(t, s, "POST", base+"/groups/admins/roles", `<role identifier="strong"/>`, 201)
	azUserWithRole(t, s, "rcorp", "tad", ruPass, "tad-role", "auth:rules:*", "auth:accounts:read", "print:jobs:read")
}

func ruTad(s *harness.Server, method, path, body string) *harness.Response {
	return s.As(`rcorp\tad`, ruPass, method, path, body)
}

const ruRootBody = `<rule><name>eu</name><priority>5</priority>
  <conditions><condition><type>saml</type><attribute>country</attribute><pattern>de</pattern></condition></conditions>
  <account>rcorp-eu</account></rule>`

func TestRootRuleCRUD(t *testing.T) {
	s := harness.Start(t)
	ruSetup(t, s)

	r := e2eDo(t, s, "POST", ruRoot, ruRootBody, 201)
	if loc := r.Header.Get("Location"); loc != ruRoot+"/eu" {
		t.Errorf("Location %q, want %s/eu", loc, ruRoot)
	}
	want := `<rule identifier="eu" href="/auth/v2/accounts/rules/eu">
  <name>eu</name>
  <priority>5</priority>
  <conditions>
    <condition><type>saml</type><attribute>country</attribute><pattern>de</pattern></condition>
  </conditions>
  <account identifier="rcorp-eu" href="/auth/v2/accounts/rcorp-eu"/>
</rule>`
	e2eMustShape(t, "POST root rule", want, r)
	got := e2eGet(t, s, ruRoot+"/eu")
	e2eMustShape(t, "GET root rule", want, got)
	e2eMustShape(t, "GET root rules", `<rules count="1" href="/auth/v2/accounts/rules">
  <rule identifier="eu" href="/auth/v2/accounts/rules/eu"/>
</rules>`, e2eGet(t, s, ruRoot))
	e2eDo(t, s, "POST", ruRoot, ruRootBody, 409)

	// PUT updates the fields present; a stale If-Match is 412.
	etag := got.Header.Get("ETag")
	e2eDo(t, s, "PUT", ruRoot+"/eu", "<rule><priority>7</priority></rule>", 204)
	stale := s.Do(harness.Request{Method: "PUT", Path: ruRoot + "/eu", User: `system\admin`, Pass: harness.AdminPassword,
		Body: "<rule><priority>8</priority></rule>", Header: map[string][]string{"If-Match": {etag}}})
	e2eCheckProblem(t, "PUT with a stale If-Match", stale, 412)
	got = e2eGet(t, s, ruRoot+"/eu")
	if p := got.Root().SelectElement("priority"); p == nil || p.Text() != "7" {
		t.Errorf("priority after PUT: %s", got.Body)
	}
	if c := got.Root().FindElement("conditions/condition/pattern"); c == nil || c.Text() != "de" {
		t.Errorf("a PUT without <conditions> changed them: %s", got.Body)
	}
	fresh := s.Do(harness.Request{Method: "PUT", Path: ruRoot + "/eu", User: `system\admin`, Pass: harness.AdminPassword,
		Body: "<rule><priority>9</priority></rule>", Header: map[string][]string{"If-Match": {got.Header.Get("ETag")}}})
	if fresh.Status != 204 {
		t.Errorf("PUT with the current If-Match: %d %s", fresh.Status, fresh.Body)
	}
	// PUT of a new name creates it.
	e2eDo(t, s, "PUT", ruRoot+"/fallback", `<rule><account>rcorp</account></rule>`, 201)
	e2eDo(t, s, "DELETE", ruRoot+"/fallback", "", 204)
	e2eCheckProblem(t, "GET deleted rule", s.Admin("GET", ruRoot+"/fallback", ""), 404)
	e2eCheckProblem(t, "DELETE deleted rule", s.Admin("DELETE", ruRoot+"/fallback", ""), 404)
	// The item pattern serves /accounts/rules/… only.
	e2eCheckProblem(t, "GET /accounts/rcorp/nonsense", s.Admin("GET", azV2+"/accounts/rcorp/nonsense", ""), 404)
	e2eCheckProblem(t, "PUT /accounts/rcorp/nonsense", s.Admin("PUT", azV2+"/accounts/rcorp/nonsense", "<rule/>"), 404)
}

func TestRuleValidation(t *testing.T) {
	s := harness.Start(t)
	ruSetup(t, s)
	cond := func(typ, attr, pat string) string {
		return "<conditions><condition><type>" + typ + "</type><attribute>" + attr + "</attribute><pattern>" + pat + "</pattern></condition></conditions>"
	}
	for _, c := range []struct {
		label, path, body string
		status            int
		detail            string
	}{
		{"unknown type", ruRoot, "<rule><name>x</name>" + cond("kerberos", "a", "b") + "<account>rcorp</account></rule>", 400, "kerberos"},
		{"empty pattern", ruRoot, "<rule><name>x</name>" + cond("ldap", "a", "") + "<account>rcorp</account></rule>", 400, "pattern"},
		{"missing attribute", ruRoot, "<rule><name>x</name><conditions><condition><type>ldap</type><pattern>p</pattern></condition></conditions><account>rcorp</account></rule>", 400, "attribute"},
		{"unknown condition field", ruRoot, "<rule><name>x</name><conditions><condition><type>ldap</type><attribute>a</attribute><pattern>p</pattern><op>eq</op></condition></conditions><account>rcorp</account></rule>", 400, "op"},
		{"root rule without account", ruRoot, "<rule><name>x</name>" + cond("ldap", "a", "b") + "</rule>", 400, "account"},
		{"root rule with groups", ruRoot, `<rule><name>x</name><account>rcorp</account><groups><group identifier="ops"/></groups></rule>`, 400, "groups"},
		{"root rule to a missing account", ruRoot, "<rule><name>x</name><account>nope</account></rule>", 404, "nope"},
		{"bad priority", ruRoot, "<rule><name>x</name><priority>high</priority><account>rcorp</account></rule>", 400, "priority"},
		{"bad name", ruRoot, "<rule><name>a/b</name><account>rcorp</account></rule>", 400, "name"},
		{"duplicated field", ruAcme, "<rule><name>x</name><priority>1</priority><priority>2</priority></rule>", 400, "priority"},
		{"account rule with account", ruAcme, "<rule><name>x</name><account>rcorp</account></rule>", 400, "account"},
		{"account rule with a missing group", ruAcme, `<rule><name>x</name><groups><group identifier="nope"/></groups></rule>`, 404, "nope"},
		{"account rule with a missing role", ruAcme, `<rule><name>x</name><roles><role identifier="nope"/></roles></rule>`, 404, "nope"},
		{"misplaced item", ruAcme, `<rule><name>x</name><roles><group identifier="ops"/></roles></rule>`, 400, "group"},
		{"wrong root", ruAcme, `<role><name>x</name></role>`, 400, "rule"},
		{"name differs from the path", ruAcme + "/y", `<rule><name>x</name></rule>`, 400, "x"},
	} {
		method := "POST"
		if strings.HasSuffix(c.path, "/y") {
			method = "PUT"
		}
		r := s.Admin(method, c.path, c.body)
		if d := e2eCheckProblem(t, c.label, r, c.status); !strings.Contains(d, c.detail) {
			t.Errorf("%s: detail %q does not name %q", c.label, d, c.detail)
		}
	}
	// Nothing was stored.
	e2eMustShape(t, "no root rules", `<rules count="0" href="/auth/v2/accounts/rules"/>`, e2eGet(t, s, ruRoot))
	e2eMustShape(t, "no account rules", `<rules count="0" href="/auth/v2/accounts/rcorp/rules"/>`, e2eGet(t, s, ruAcme))
}

func TestAccountRuleCRUD(t *testing.T) {
	s := harness.Start(t)
	ruSetup(t, s)
	body := `<rule><name>printadmins</name><priority>1</priority>
  <conditions><condition><type>ldap</type><attribute>groups</attribute><pattern>*printadmins*</pattern></condition>
  <condition><type>ldap</type><attribute>email</attribute><pattern>*@corp.example</pattern></condition></conditions>
  <groups><group identifier="ops"/></groups><roles><role identifier="weak"/><role identifier="strong"/></roles></rule>`
	r := e2eDo(t, s, "POST", ruAcme, body, 201)
	want := `<rule identifier="printadmins" href="/auth/v2/accounts/rcorp/rules/printadmins">
  <name>printadmins</name>
  <priority>1</priority>
  <conditions>
    <condition><type>ldap</type><attribute>groups</attribute><pattern>*printadmins*</pattern></condition>
    <condition><type>ldap</type><attribute>email</attribute><pattern>*@corp.example</pattern></condition>
  </conditions>
  <groups><group identifier="ops" href="/auth/v2/accounts/rcorp/groups/ops"/></groups>
  <roles>
    <role identifier="strong" href="/auth/v2/accounts/rcorp/roles/strong"/>
    <role identifier="weak" href="/auth/v2/accounts/rcorp/roles/weak"/>
  </roles>
</rule>`
	e2eMustShape(t, "POST account rule", want, r)
	e2eMustShape(t, "GET account rule", want, e2eGet(t, s, ruAcme+"/printadmins"))
	// The account document links the collection, which lists the rule;
	// depth 2 expands it.
	acct := e2eGet(t, s, azV2+"/accounts/rcorp")
	if el := acct.Root().SelectElement("rules"); el == nil || el.SelectAttrValue("count", "") != "1" {
		t.Errorf("account document's <rules>: %s", acct.Body)
	}
	deep := e2eGet(t, s, ruAcme+"?depth=2")
	if el := deep.Root().FindElement("rule/conditions/condition/type"); el == nil || el.Text() != "ldap" {
		t.Errorf("depth=2 does not expand the rule:\n%s", deep.Body)
	}
	// A PUT with <roles> replaces them.
	e2eDo(t, s, "PUT", ruAcme+"/printadmins", `<rule><roles><role identifier="weak"/></roles></rule>`, 204)
	got := e2eGet(t, s, ruAcme+"/printadmins")
	if ids := hmIdentifiers(got.Root().SelectElement("roles"), "role"); strings.Join(ids, ",") != "weak" {
		t.Errorf("roles after PUT: %v", ids)
	}
	if ids := hmIdentifiers(got.Root().SelectElement("groups"), "group"); strings.Join(ids, ",") != "ops" {
		t.Errorf("groups after a PUT without <groups>: %v", ids)
	}
	// Rules go with their account.
	e2eDo(t, s, "DELETE", ruAcme+"/printadmins", "", 204)
	e2eCheckProblem(t, "GET deleted account rule", s.Admin("GET", ruAcme+"/printadmins", ""), 404)
	// A foreign tenant's rules are 404.
	azCreateAccount(t, s, "rother", "system")
	azUserWithRole(t, s, "rother", "oad", ruPass, "oad-role", "auth:rules:*")
	e2eCheckProblem(t, "other tenant reads rcorp's rules", s.As(`rother\oad`, ruPass, "GET", ruAcme, ""), 404)
	e2eCheckProblem(t, "other tenant writes rcorp's rules", s.As(`rother\oad`, ruPass, "POST", ruAcme, `<rule><name>z</name></rule>`), 404)
}

func TestRuleEscalation(t *testing.T) {
	s := harness.Start(t)
	ruSetup(t, s)
	// tad holds print:jobs:read: a rule granting strong (print:*), or
	// group admins (which holds strong), is refused and not stored.
	for _, c := range []struct{ label, body string }{
		{"role", `<rule><name>esc</name><roles><role identifier="strong"/></roles></rule>`},
		{"group", `<rule><name>esc</name><groups><group identifier="admins"/></groups></rule>`},
	} {
		r := ruTad(s, "POST", ruAcme, c.body)
		if d := e2eCheckProblem(t, "tenant admin grants "+c.label+" beyond its own", r, 403); !strings.Contains(d, "grants only what it holds") {
			t.Errorf("detail %q", d)
		}
	}
	e2eCheckProblem(t, "refused rule not stored", s.Admin("GET", ruAcme+"/esc", ""), 404)
	// What it holds it may grant.
	ok := ruTad(s, "POST", ruAcme, `<rule><name>weak</name><groups><group identifier="ops"/></groups><roles><role identifier="weak"/></roles></rule>`)
	if ok.Status != 201 {
		t.Fatalf("tenant admin grants weak: %d %s", ok.Status, ok.Body)
	}
	// Adding strong to its rule later is refused too; a change that adds
	// nothing is not.
	e2eCheckProblem(t, "tenant admin adds strong", ruTad(s, "PUT", ruAcme+"/weak", `<rule><roles><role identifier="weak"/><role identifier="strong"/></roles></rule>`), 403)
	if r := ruTad(s, "PUT", ruAcme+"/weak", `<rule><priority>3</priority></rule>`); r.Status != 204 {
		t.Errorf("tenant admin changes priority: %d %s", r.Status, r.Body)
	}
	// A rule the system admin made with strong stays editable by tad as
	// long as tad adds nothing.
	e2eDo(t, s, "POST", ruAcme, `<rule><name>strong</name><roles><role identifier="strong"/></roles></rule>`, 201)
	if r := ruTad(s, "PUT", ruAcme+"/strong", `<rule><roles><role identifier="strong"/></roles><priority>2</priority></rule>`); r.Status != 204 {
		t.Errorf("tenant admin rewrites an existing grant: %d %s", r.Status, r.Body)
	}
	// Root rules belong to system principals: a tenant finds nothing.
	for _, c := range []struct{ method, path, body string }{
		{"GET", ruRoot, ""},
		{"POST", ruRoot, ruRootBody},
		{"GET", ruRoot + "/eu", ""},
		{"PUT", ruRoot + "/eu", ruRootBody},
		{"DELETE", ruRoot + "/eu", ""},
	} {
		e2eCheckProblem(t, "tenant admin "+c.method+" "+c.path, ruTad(s, c.method, c.path, c.body), 404)
	}
	e2eMustShape(t, "no root rules", `<rules count="0" href="/auth/v2/accounts/rules"/>`, e2eGet(t, s, ruRoot))
}
