package test

// Hypermedia conventions of /auth/v2 (SPEC §3, §3b): depth, paging,
// filter, invalid query values, conditional requests, HEAD / OPTIONS /
// 405 / 404, and a walk over every href of a rich graph.

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"gatehouse/test/harness"
)

const (
	hmAcme   = "/auth/v2/accounts/acme"
	hmAcmeEU = "/auth/v2/accounts/acme-eu"
)

// hmBuild creates the graph the depth and walk tests read:
//
//	system ─ acme ─ acme-eu
//	acme:    roles auditor (audit:log,entries:read), printing (print:jobs:*, print:output-ports:read), reporting (report:*:read)
//	         groups finance (roles reporting; users carol, dave+ext@partner), ops (roles auditor, printing; users alice)
//	         users alice (e-mail, full name, attributes color, team; role printing; group ops),
//	               bob (attribute x.y; role reporting), carol, dave+ext@partner
//	acme-eu: ceiling print:*, report:*:read; role eu-print (print:*); group eu-ops (role eu-print; user erin)
//	         user erin (attribute lang; role eu-print; group eu-ops)
func hmBuild(t testing.TB, s *harness.Server) {
	t.Helper()
	do := func(method, path, body string, want int) { e2eDo(t, s, method, path, body, want) }
	do("POST", "/auth/v2/accounts", "<account><name>acme</name><description>Acme Corp</description></account>", 201)
	do("POST", "/auth/v2/accounts", "<account><name>acme-eu</name><parent>acme</parent></account>", 201)
	dropStarterRoles(t, s, "acme")
	dropStarterRoles(t, s, "acme-eu")

	do("POST", hmAcme+"/roles", "<role><name>printing</name><description>Print things</description>"+
		"<permissions><permission>print:jobs:*</permission><permission>print:output-ports:read</permission></permissions></role>", 201)
	do("POST", hmAcme+"/roles", "<role><name>reporting</name><permissions><permission>report:*:read</permission></permissions></role>", 201)
	do("POST", hmAcme+"/roles", "<role><name>auditor</name></role>", 201)
	do("PUT", hmAcme+"/roles/auditor/permissions/audit:log,entries:read", "", 201)
	do("POST", hmAcme+"/groups", "<group><name>ops</name><description>Operations</description></group>", 201)
	do("POST", hmAcme+"/groups", "<group><name>finance</name></group>", 201)
	do("POST", hmAcme+"/users", "<user><name>alice</name><email>alice@example.com</email><full-name>Alice Liddell</full-name></user>", 201)
	do("POST", hmAcme+"/users", "<user><name>bob</name></user>", 201)
	do("PUT", hmAcme+"/users/carol", "<user><name>carol</name></user>", 201)
	do("POST", hmAcme+"/users", "<user><name>dave+ext@partner</name></user>", 201)
	do("POST", hmAcme+"/users/alice/attributes", "<attribute><name>color</name><value>blue</value></attribute>", 201)
	do("PUT", hmAcme+"/users/alice/attributes/team", "<attribute><value>red</value></attribute>", 201)
	do("POST", hmAcme+"/users/bob/attributes", "<attribute><name>x.y</name><value>1</value></attribute>", 201)
	do("POST", hmAcme+"/users/alice/roles", `<role identifier="printing"/>`, 201)
	do("POST", hmAcme+"/users/alice/groups", `<group identifier="ops"/>`, 201)
	do("PUT", hmAcme+"/users/bob/roles/reporting", "", 201)
	do("PUT", hmAcme+"/groups/ops/roles", `<roles><role identifier="printing"/><role identifier="auditor"/></roles>`, 204)
	do("POST", hmAcme+"/groups/finance/roles", `<role identifier="reporting"/>`, 201)
	do("PUT", hmAcme+"/groups/finance/users", `<users><user identifier="carol"/><user identifier="dave+ext@partner"/></users>`, 204)

	do("PUT", hmAcmeEU+"/permissions", "<permissions><permission>print:*</permission><permission>report:*:read</permission></permissions>", 204)
	do("POST", hmAcmeEU+"/roles", "<role><name>eu-print</name><permissions><permission>print:*</permission></permissions></role>", 201)
	do("POST", hmAcmeEU+"/groups", "<group><name>eu-ops</name></group>", 201)
	do("POST", hmAcmeEU+"/users", "<user><name>erin</name></user>", 201)
	do("PUT", hmAcmeEU+"/users/erin/attributes", "<attributes><attribute><name>lang</name><value>de</value></attribute></attributes>", 204)
	do("PUT", hmAcmeEU+"/users/erin/roles/eu-print", "", 201)
	do("PUT", hmAcmeEU+"/users/erin/groups", `<groups><group identifier="eu-ops"/></groups>`, 204)
	do("PUT", hmAcmeEU+"/groups/eu-ops/roles/eu-print", "", 201)
}

// hmCheckDepth checks the depth rule over a whole document: an element
// with href at remaining depth 0 is a bare reference (no children, no
// text); above 0 a collection (it has count) shows min(count, pageSize)
// items when nested, and an entity shows its value fields or text. Value
// fields (children without href) hold text only.
func hmCheckDepth(t testing.TB, label string, el *etree.Element, remaining, pageSize int, top bool) {
	t.Helper()
	p := label + " <" + el.Tag + " href=" + el.SelectAttrValue("href", "") + ">"
	children := el.ChildElements()
	if remaining <= 0 {
		if len(children) > 0 || strings.TrimSpace(el.Text()) != "" {
			t.Errorf("%s at depth 0 is not a bare reference: %d children, text %q", p, len(children), el.Text())
		}
		return
	}
	if c := el.SelectAttr("count"); c != nil {
		n, err := strconv.Atoi(c.Value)
		if err != nil {
			t.Errorf("%s: count %q is not an integer", p, c.Value)
		}
		items := 0
		for _, ch := range children {
			if ch.Tag != "rules" { // the root rules collection shown inside <accounts>
				items++
			}
		}
		if !top && items != min(n, pageSize) {
			t.Errorf("%s: nested expanded collection holds %d items; count %d, page-size %d", p, items, n, pageSize)
		}
		if top && items > min(n, pageSize) {
			t.Errorf("%s: holds %d items; count %d, page-size %d", p, items, n, pageSize)
		}
	} else if len(children) == 0 && strings.TrimSpace(el.Text()) == "" {
		t.Errorf("%s: expanded entity shows no fields", p)
	}
	for _, ch := range children {
		if ch.SelectAttr("href") != nil {
			hmCheckDepth(t, label, ch, remaining-1, pageSize, false)
			continue
		}
		if len(ch.ChildElements()) > 0 {
			t.Errorf("%s: value field <%s> holds elements", p, ch.Tag)
		}
	}
}

// hmMaxDepth is the deepest level of elements with href in the document
// (the root is 0).
func hmMaxDepth(el *etree.Element) int {
	d := 0
	for _, ch := range el.ChildElements() {
		if ch.SelectAttr("href") != nil {
			d = max(d, 1+hmMaxDepth(ch))
		} else {
			d = max(d, hmMaxDepth(ch))
		}
	}
	return d
}

func hmFind(t testing.TB, el *etree.Element, path string) *etree.Element {
	t.Helper()
	e := el.FindElement(path)
	if e == nil {
		t.Fatalf("no %s in <%s href=%s>", path, el.Tag, el.SelectAttrValue("href", ""))
	}
	return e
}

func TestDepth(t *testing.T) {
	s := harness.Start(t)
	hmBuild(t, s)

	type level struct {
		depth int
		want  string // the whole document, or "" for the generic check only
	}
	check := func(t *testing.T, path string, levels []level) {
		for _, l := range levels {
			p := path
			if l.depth >= 0 {
				p = fmt.Sprintf("%s?depth=%d", path, l.depth)
			}
			r := e2eGet(t, s, p)
			d := l.depth
			if d < 0 {
				d = 1
			}
			hmCheckDepth(t, "GET "+p, r.Root(), d, 50, true)
			if l.want != "" {
				e2eMustShape(t, "GET "+p, l.want, r)
			}
		}
	}

	t.Run("accounts", func(t *testing.T) {
		refs := `
  <account identifier="acme" href="/auth/v2/accounts/acme"/>
  <account identifier="acme-eu" href="/auth/v2/accounts/acme-eu"/>
  <account identifier="system" href="/auth/v2/accounts/system"/>
  <rules count="0" href="/auth/v2/accounts/rules"/>`
		check(t, "/auth/v2/accounts", []level{
			{0, `<accounts count="3" href="/auth/v2/accounts"/>`},
			{-1, `<accounts count="3" href="/auth/v2/accounts">` + refs + `</accounts>`},
			{1, `<accounts count="3" href="/auth/v2/accounts">` + refs + `</accounts>`},
			{2, `
<accounts count="3" href="/auth/v2/accounts">
  <account identifier="acme" href="/auth/v2/accounts/acme">
    <default-roles count="0" href="/auth/v2/accounts/acme/default-roles"/>
    <description>Acme Corp</description>
    <groups count="2" href="/auth/v2/accounts/acme/groups"/>
    <name>acme</name>
    <parent identifier="system" href="/auth/v2/accounts/system"/>
    <permissions count="1" href="/auth/v2/accounts/acme/permissions"/>
    <providers count="0" href="/auth/v2/accounts/acme/providers"/>
    <roles count="3" href="/auth/v2/accounts/acme/roles"/>
    <rules count="0" href="/auth/v2/accounts/acme/rules"/>
    <users count="4" href="/auth/v2/accounts/acme/users"/>
  </account>
  <account identifier="acme-eu" href="/auth/v2/accounts/acme-eu">
    <default-roles count="0" href="/auth/v2/accounts/acme-eu/default-roles"/>
    <groups count="1" href="/auth/v2/accounts/acme-eu/groups"/>
    <name>acme-eu</name>
    <parent identifier="acme" href="/auth/v2/accounts/acme"/>
    <permissions count="2" href="/auth/v2/accounts/acme-eu/permissions"/>
    <providers count="0" href="/auth/v2/accounts/acme-eu/providers"/>
    <roles count="1" href="/auth/v2/accounts/acme-eu/roles"/>
    <rules count="0" href="/auth/v2/accounts/acme-eu/rules"/>
    <users count="1" href="/auth/v2/accounts/acme-eu/users"/>
  </account>
  <account identifier="system" href="/auth/v2/accounts/system">
    <default-roles count="0" href="/auth/v2/accounts/system/default-roles"/>
    <groups count="0" href="/auth/v2/accounts/system/groups"/>
    <name>system</name>
    <permissions count="1" href="/auth/v2/accounts/system/permissions"/>
    <providers count="0" href="/auth/v2/accounts/system/providers"/>
    <roles count="1" href="/auth/v2/accounts/system/roles"/>
    <rules count="0" href="/auth/v2/accounts/system/rules"/>
    <users count="1" href="/auth/v2/accounts/system/users"/>
  </account>
  <rules count="0" href="/auth/v2/accounts/rules"/>
</accounts>`},
			{3, ""},
		})
		// depth 3: each account's collections are expanded into references.
		r := e2eGet(t, s, "/auth/v2/accounts?depth=3")
		acme := hmFind(t, r.Root(), "account[@identifier='acme']")
		e2eMustShape(t, "acme's users at depth 3", `
<users count="4" href="/auth/v2/accounts/acme/users">
  <user identifier="alice" href="/auth/v2/accounts/acme/users/alice"/>
  <user identifier="bob" href="/auth/v2/accounts/acme/users/bob"/>
  <user identifier="carol" href="/auth/v2/accounts/acme/users/carol"/>
  <user identifier="dave+ext@partner" href="/auth/v2/accounts/acme/users/dave+ext@partner"/>
</users>`, &harness.Response{Doc: hmDocOf(hmFind(t, acme, "users"))})
		e2eMustShape(t, "acme's parent at depth 3", `
<parent identifier="system" href="/auth/v2/accounts/system">
  <default-roles count="0" href="/auth/v2/accounts/system/default-roles"/>
  <groups count="0" href="/auth/v2/accounts/system/groups"/>
  <name>system</name>
  <permissions count="1" href="/auth/v2/accounts/system/permissions"/>
  <providers count="0" href="/auth/v2/accounts/system/providers"/>
  <roles count="1" href="/auth/v2/accounts/system/roles"/>
  <rules count="0" href="/auth/v2/accounts/system/rules"/>
  <users count="1" href="/auth/v2/accounts/system/users"/>
</parent>`, &harness.Response{Doc: hmDocOf(hmFind(t, acme, "parent"))})
		if got := hmMaxDepth(r.Root()); got != 3 {
			t.Errorf("/accounts?depth=3 nests hrefs %d deep, want 3", got)
		}
	})

	t.Run("account", func(t *testing.T) {
		check(t, hmAcme, []level{
			{0, `<account identifier="acme" href="/auth/v2/accounts/acme"/>`},
			{1, `
<account identifier="acme" href="/auth/v2/accounts/acme">
  <default-roles count="0" href="/auth/v2/accounts/acme/default-roles"/>
  <description>Acme Corp</description>
  <groups count="2" href="/auth/v2/accounts/acme/groups"/>
  <name>acme</name>
  <parent identifier="system" href="/auth/v2/accounts/system"/>
  <permissions count="1" href="/auth/v2/accounts/acme/permissions"/>
  <providers count="0" href="/auth/v2/accounts/acme/providers"/>
  <roles count="3" href="/auth/v2/accounts/acme/roles"/>
  <rules count="0" href="/auth/v2/accounts/acme/rules"/>
  <users count="4" href="/auth/v2/accounts/acme/users"/>
</account>`},
			{2, `
<account identifier="acme" href="/auth/v2/accounts/acme">
  <default-roles count="0" href="/auth/v2/accounts/acme/default-roles"/>
  <description>Acme Corp</description>
  <groups count="2" href="/auth/v2/accounts/acme/groups">
    <group identifier="finance" href="/auth/v2/accounts/acme/groups/finance"/>
    <group identifier="ops" href="/auth/v2/accounts/acme/groups/ops"/>
  </groups>
  <name>acme</name>
  <parent identifier="system" href="/auth/v2/accounts/system">
    <default-roles count="0" href="/auth/v2/accounts/system/default-roles"/>
    <groups count="0" href="/auth/v2/accounts/system/groups"/>
    <name>system</name>
    <permissions count="1" href="/auth/v2/accounts/system/permissions"/>
    <providers count="0" href="/auth/v2/accounts/system/providers"/>
    <roles count="1" href="/auth/v2/accounts/system/roles"/>
    <rules count="0" href="/auth/v2/accounts/system/rules"/>
    <users count="1" href="/auth/v2/accounts/system/users"/>
  </parent>
  <permissions count="1" href="/auth/v2/accounts/acme/permissions">
    <permission href="/auth/v2/accounts/acme/permissions/*"/>
  </permissions>
  <providers count="0" href="/auth/v2/accounts/acme/providers"/>
  <roles count="3" href="/auth/v2/accounts/acme/roles">
    <role identifier="auditor" href="/auth/v2/accounts/acme/roles/auditor"/>
    <role identifier="printing" href="/auth/v2/accounts/acme/roles/printing"/>
    <role identifier="reporting" href="/auth/v2/accounts/acme/roles/reporting"/>
  </roles>
  <rules count="0" href="/auth/v2/accounts/acme/rules"/>
  <users count="4" href="/auth/v2/accounts/acme/users">
    <user identifier="alice" href="/auth/v2/accounts/acme/users/alice"/>
    <user identifier="bob" href="/auth/v2/accounts/acme/users/bob"/>
    <user identifier="carol" href="/auth/v2/accounts/acme/users/carol"/>
    <user identifier="dave+ext@partner" href="/auth/v2/accounts/acme/users/dave+ext@partner"/>
  </users>
</account>`},
			{3, ""},
		})
		r := e2eGet(t, s, hmAcme+"?depth=3")
		e2eMustShape(t, "acme's ceiling at depth 3", `
<permissions count="1" href="/auth/v2/accounts/acme/permissions">
  <permission href="/auth/v2/accounts/acme/permissions/*">*</permission>
</permissions>`, &harness.Response{Doc: hmDocOf(hmFind(t, r.Root(), "permissions"))})
		e2eMustShape(t, "acme's role printing at depth 3", `
<role identifier="printing" href="/auth/v2/accounts/acme/roles/printing">
  <description>Print things</description>
  <name>printing</name>
  <permissions count="2" href="/auth/v2/accounts/acme/roles/printing/permissions"/>
</role>`, &harness.Response{Doc: hmDocOf(hmFind(t, r.Root(), "roles/role[@identifier='printing']"))})
		e2eMustShape(t, "acme's group ops at depth 3", `
<group identifier="ops" href="/auth/v2/accounts/acme/groups/ops">
  <description>Operations</description>
  <name>ops</name>
  <roles count="2" href="/auth/v2/accounts/acme/groups/ops/roles"/>
  <users count="1" href="/auth/v2/accounts/acme/groups/ops/users"/>
</group>`, &harness.Response{Doc: hmDocOf(hmFind(t, r.Root(), "groups/group[@identifier='ops']"))})
		// The parent is expanded at depth 2: its collections list items.
		if n := len(hmFind(t, r.Root(), "parent/users").ChildElements()); n != 1 {
			t.Errorf("acme?depth=3: parent/users holds %d items, want 1 (admin)", n)
		}
		// acme-eu's parent is acme, and at depth 3 acme's own parent
		// (system) is expanded as well.
		r = e2eGet(t, s, hmAcmeEU+"?depth=3")
		if v := hmFind(t, r.Root(), "parent").SelectAttrValue("identifier", ""); v != "acme" {
			t.Errorf("acme-eu's parent is %q, want acme", v)
		}
		if e := hmFind(t, r.Root(), "parent/parent"); len(e.ChildElements()) == 0 || e.SelectAttrValue("identifier", "") != "system" {
			t.Errorf("acme-eu?depth=3: parent/parent is not system expanded: %s", e2eAttrText(e))
		}
	})

	t.Run("users", func(t *testing.T) {
		check(t, hmAcme+"/users", []level{
			{0, `<users count="4" href="/auth/v2/accounts/acme/users"/>`},
			{1, `
<users count="4" href="/auth/v2/accounts/acme/users">
  <user identifier="alice" href="/auth/v2/accounts/acme/users/alice"/>
  <user identifier="bob" href="/auth/v2/accounts/acme/users/bob"/>
  <user identifier="carol" href="/auth/v2/accounts/acme/users/carol"/>
  <user identifier="dave+ext@partner" href="/auth/v2/accounts/acme/users/dave+ext@partner"/>
</users>`},
			{2, ""},
			{3, ""},
		})
		r := e2eGet(t, s, hmAcme+"/users?depth=2")
		e2eMustShape(t, "bob in users?depth=2", `
<user identifier="bob" href="/auth/v2/accounts/acme/users/bob">
  <account>acme</account>
  <api-keys count="0" href="/auth/v2/accounts/acme/users/bob/api-keys"/>
  <attributes count="1" href="/auth/v2/accounts/acme/users/bob/attributes"/>
  <clients count="0" href="/auth/v2/accounts/acme/users/bob/clients"/>
  <created>{{rfc3339}}</created>
  <enabled>true</enabled>
  <federations count="0" href="/auth/v2/accounts/acme/users/bob/federated"/>
  <groups count="0" href="/auth/v2/accounts/acme/users/bob/groups"/>
  <password></password>
  <password-expired>false</password-expired>
  <permissions count="1" href="/auth/v2/accounts/acme/users/bob/permissions"/>
  <roles count="1" href="/auth/v2/accounts/acme/users/bob/roles"/>
  <sessions count="0" href="/auth/v2/accounts/acme/users/bob/sessions"/>
  <totp href="/auth/v2/accounts/acme/users/bob/totp"/>
  <name>bob</name>
</user>`, &harness.Response{Doc: hmDocOf(hmFind(t, r.Root(), "user[@identifier='bob']"))})
		r = e2eGet(t, s, hmAcme+"/users?depth=3")
		e2eMustShape(t, "bob's roles in users?depth=3", `
<roles count="1" href="/auth/v2/accounts/acme/users/bob/roles">
  <role identifier="reporting" href="/auth/v2/accounts/acme/users/bob/roles/reporting"/>
</roles>`, &harness.Response{Doc: hmDocOf(hmFind(t, r.Root(), "user[@identifier='bob']/roles"))})
	})

	t.Run("user", func(t *testing.T) {
		const u = hmAcme + "/users/alice"
		check(t, u, []level{
			{0, `<user identifier="alice" href="/auth/v2/accounts/acme/users/alice"/>`},
			{1, `
<user identifier="alice" href="/auth/v2/accounts/acme/users/alice">
  <account>acme</account>
  <api-keys count="0" href="/auth/v2/accounts/acme/users/alice/api-keys"/>
  <attributes count="2" href="/auth/v2/accounts/acme/users/alice/attributes"/>
  <clients count="0" href="/auth/v2/accounts/acme/users/alice/clients"/>
  <created>{{rfc3339}}</created>
  <email>alice@example.com</email>
  <enabled>true</enabled>
  <federations count="0" href="/auth/v2/accounts/acme/users/alice/federated"/>
  <full-name>Alice Liddell</full-name>
  <groups count="1" href="/auth/v2/accounts/acme/users/alice/groups"/>
  <password></password>
  <password-expired>false</password-expired>
  <permissions count="3" href="/auth/v2/accounts/acme/users/alice/permissions"/>
  <roles count="1" href="/auth/v2/accounts/acme/users/alice/roles"/>
  <sessions count="0" href="/auth/v2/accounts/acme/users/alice/sessions"/>
  <totp href="/auth/v2/accounts/acme/users/alice/totp"/>
  <name>alice</name>
</user>`},
			{2, `
<user identifier="alice" href="/auth/v2/accounts/acme/users/alice">
  <account>acme</account>
  <api-keys count="0" href="/auth/v2/accounts/acme/users/alice/api-keys"/>
  <attributes count="2" href="/auth/v2/accounts/acme/users/alice/attributes">
    <attribute identifier="color" href="/auth/v2/accounts/acme/users/alice/attributes/color"/>
    <attribute identifier="team" href="/auth/v2/accounts/acme/users/alice/attributes/team"/>
  </attributes>
  <clients count="0" href="/auth/v2/accounts/acme/users/alice/clients"/>
  <created>{{rfc3339}}</created>
  <email>alice@example.com</email>
  <enabled>true</enabled>
  <federations count="0" href="/auth/v2/accounts/acme/users/alice/federated"/>
  <full-name>Alice Liddell</full-name>
  <groups count="1" href="/auth/v2/accounts/acme/users/alice/groups">
    <group identifier="ops" href="/auth/v2/accounts/acme/users/alice/groups/ops"/>
  </groups>
  <password></password>
  <password-expired>false</password-expired>
  <permissions count="3" href="/auth/v2/accounts/acme/users/alice/permissions">
    <permission href="/auth/v2/accounts/acme/users/alice/permissions/audit:log,entries:read"/>
    <permission href="/auth/v2/accounts/acme/users/alice/permissions/print:jobs:*"/>
    <permission href="/auth/v2/accounts/acme/users/alice/permissions/print:output-ports:read"/>
  </permissions>
  <roles count="1" href="/auth/v2/accounts/acme/users/alice/roles">
    <role identifier="printing" href="/auth/v2/accounts/acme/users/alice/roles/printing"/>
  </roles>
  <sessions count="0" href="/auth/v2/accounts/acme/users/alice/sessions"/>
  <totp href="/auth/v2/accounts/acme/users/alice/totp">
    <enabled>false</enabled>
  </totp>
  <name>alice</name>
</user>`},
			{3, `
<user identifier="alice" href="/auth/v2/accounts/acme/users/alice">
  <account>acme</account>
  <api-keys count="0" href="/auth/v2/accounts/acme/users/alice/api-keys"/>
  <attributes count="2" href="/auth/v2/accounts/acme/users/alice/attributes">
    <attribute identifier="color" href="/auth/v2/accounts/acme/users/alice/attributes/color">
      <id>{{int}}</id>
      <name>color</name>
      <value>blue</value>
    </attribute>
    <attribute identifier="team" href="/auth/v2/accounts/acme/users/alice/attributes/team">
      <id>{{int}}</id>
      <name>team</name>
      <value>red</value>
    </attribute>
  </attributes>
  <clients count="0" href="/auth/v2/accounts/acme/users/alice/clients"/>
  <created>{{rfc3339}}</created>
  <email>alice@example.com</email>
  <enabled>true</enabled>
  <federations count="0" href="/auth/v2/accounts/acme/users/alice/federated"/>
  <full-name>Alice Liddell</full-name>
  <groups count="1" href="/auth/v2/accounts/acme/users/alice/groups">
    <group identifier="ops" href="/auth/v2/accounts/acme/users/alice/groups/ops">
      <description>Operations</description>
      <name>ops</name>
      <roles count="2" href="/auth/v2/accounts/acme/groups/ops/roles"/>
      <users count="1" href="/auth/v2/accounts/acme/groups/ops/users"/>
    </group>
  </groups>
  <password></password>
  <password-expired>false</password-expired>
  <permissions count="3" href="/auth/v2/accounts/acme/users/alice/permissions">
    <permission href="/auth/v2/accounts/acme/users/alice/permissions/audit:log,entries:read">audit:log,entries:read</permission>
    <permission href="/auth/v2/accounts/acme/users/alice/permissions/print:jobs:*">print:jobs:*</permission>
    <permission href="/auth/v2/accounts/acme/users/alice/permissions/print:output-ports:read">print:output-ports:read</permission>
  </permissions>
  <roles count="1" href="/auth/v2/accounts/acme/users/alice/roles">
    <role identifier="printing" href="/auth/v2/accounts/acme/users/alice/roles/printing">
      <description>Print things</description>
      <name>printing</name>
      <permissions count="2" href="/auth/v2/accounts/acme/roles/printing/permissions"/>
    </role>
  </roles>
  <sessions count="0" href="/auth/v2/accounts/acme/users/alice/sessions"/>
  <totp href="/auth/v2/accounts/acme/users/alice/totp">
    <enabled>false</enabled>
  </totp>
  <name>alice</name>
</user>`},
		})
		// Two attributes' ids differ (each is the attribute's own id).
		r := e2eGet(t, s, u+"?depth=3")
		ids := r.Root().FindElements("attributes/attribute/id")
		if len(ids) == 2 && ids[0].Text() == ids[1].Text() {
			t.Errorf("attributes color and team have the same id %s", ids[0].Text())
		}
	})

	t.Run("role", func(t *testing.T) {
		const head = `<role identifier="printing" href="/auth/v2/accounts/acme/roles/printing">
  <description>Print things</description>
  <name>printing</name>`
		check(t, hmAcme+"/roles/printing", []level{
			{0, `<role identifier="printing" href="/auth/v2/accounts/acme/roles/printing"/>`},
			{1, head + `<permissions count="2" href="/auth/v2/accounts/acme/roles/printing/permissions"/></role>`},
			{2, head + `<permissions count="2" href="/auth/v2/accounts/acme/roles/printing/permissions">
    <permission href="/auth/v2/accounts/acme/roles/printing/permissions/print:jobs:*"/>
    <permission href="/auth/v2/accounts/acme/roles/printing/permissions/print:output-ports:read"/>
  </permissions></role>`},
			{3, head + `<permissions count="2" href="/auth/v2/accounts/acme/roles/printing/permissions">
    <permission href="/auth/v2/accounts/acme/roles/printing/permissions/print:jobs:*">print:jobs:*</permission>
    <permission href="/auth/v2/accounts/acme/roles/printing/permissions/print:output-ports:read">print:output-ports:read</permission>
  </permissions></role>`},
		})
		// The same role reached through a user is the account role.
		e2eMustShape(t, "user role at depth 2", head+`<permissions count="2" href="/auth/v2/accounts/acme/roles/printing/permissions">
    <permission href="/auth/v2/accounts/acme/roles/printing/permissions/print:jobs:*"/>
    <permission href="/auth/v2/accounts/acme/roles/printing/permissions/print:output-ports:read"/>
  </permissions></role>`, e2eGet(t, s, hmAcme+"/users/alice/roles/printing?depth=2"))
	})

	t.Run("group", func(t *testing.T) {
		const head = `<group identifier="ops" href="/auth/v2/accounts/acme/groups/ops">
  <description>Operations</description>
  <name>ops</name>`
		check(t, hmAcme+"/groups/ops", []level{
			{0, `<group identifier="ops" href="/auth/v2/accounts/acme/groups/ops"/>`},
			{1, head + `
  <roles count="2" href="/auth/v2/accounts/acme/groups/ops/roles"/>
  <users count="1" href="/auth/v2/accounts/acme/groups/ops/users"/>
</group>`},
			{2, head + `
  <roles count="2" href="/auth/v2/accounts/acme/groups/ops/roles">
    <role identifier="auditor" href="/auth/v2/accounts/acme/groups/ops/roles/auditor"/>
    <role identifier="printing" href="/auth/v2/accounts/acme/groups/ops/roles/printing"/>
  </roles>
  <users count="1" href="/auth/v2/accounts/acme/groups/ops/users">
    <user identifier="alice" href="/auth/v2/accounts/acme/groups/ops/users/alice"/>
  </users>
</group>`},
			{3, head + `
  <roles count="2" href="/auth/v2/accounts/acme/groups/ops/roles">
    <role identifier="auditor" href="/auth/v2/accounts/acme/groups/ops/roles/auditor">
      <name>auditor</name>
      <permissions count="1" href="/auth/v2/accounts/acme/roles/auditor/permissions"/>
    </role>
    <role identifier="printing" href="/auth/v2/accounts/acme/groups/ops/roles/printing">
      <description>Print things</description>
      <name>printing</name>
      <permissions count="2" href="/auth/v2/accounts/acme/roles/printing/permissions"/>
    </role>
  </roles>
  <users count="1" href="/auth/v2/accounts/acme/groups/ops/users">
    <user identifier="alice" href="/auth/v2/accounts/acme/groups/ops/users/alice">
      <account>acme</account>
      <api-keys count="0" href="/auth/v2/accounts/acme/users/alice/api-keys"/>
      <attributes count="2" href="/auth/v2/accounts/acme/users/alice/attributes"/>
      <clients count="0" href="/auth/v2/accounts/acme/users/alice/clients"/>
      <created>{{rfc3339}}</created>
      <email>alice@example.com</email>
      <enabled>true</enabled>
      <federations count="0" href="/auth/v2/accounts/acme/users/alice/federated"/>
      <full-name>Alice Liddell</full-name>
      <groups count="1" href="/auth/v2/accounts/acme/users/alice/groups"/>
      <password></password>
      <password-expired>false</password-expired>
      <permissions count="3" href="/auth/v2/accounts/acme/users/alice/permissions"/>
      <roles count="1" href="/auth/v2/accounts/acme/users/alice/roles"/>
      <sessions count="0" href="/auth/v2/accounts/acme/users/alice/sessions"/>
      <totp href="/auth/v2/accounts/acme/users/alice/totp"/>
      <name>alice</name>
    </user>
  </users>
</group>`},
		})
		// The group reached through its member keeps the membership href.
		e2eMustShape(t, "user group at depth 0", `<group identifier="ops" href="/auth/v2/accounts/acme/users/alice/groups/ops"/>`,
			e2eGet(t, s, hmAcme+"/users/alice/groups/ops?depth=0"))
	})

	t.Run("nested collections hold at most page-size items", func(t *testing.T) {
		// An entity at the top: every nested expanded collection shows its
		// first page-size items, whatever current-page says, and carries
		// no paging attributes.
		for _, q := range []string{"?depth=2&page-size=1", "?depth=2&page-size=1&current-page=2", "?depth=3&page-size=2"} {
			r := e2eGet(t, s, hmAcme+q)
			ps, _ := strconv.Atoi(regexp.MustCompile(`page-size=(\d+)`).FindStringSubmatch(q)[1])
			d, _ := strconv.Atoi(regexp.MustCompile(`depth=(\d+)`).FindStringSubmatch(q)[1])
			hmCheckDepth(t, "GET acme"+q, r.Root(), d, ps, true)
			for _, el := range r.Root().FindElements("//*[@count]") {
				for _, a := range []string{"page-size", "current-page", "next", "previous"} {
					if el.SelectAttr(a) != nil {
						t.Errorf("GET acme%s: nested <%s href=%s> carries %s", q, el.Tag, el.SelectAttrValue("href", ""), a)
					}
				}
			}
			if first := hmFind(t, r.Root(), "users/user"); first.SelectAttrValue("identifier", "") != "alice" {
				t.Errorf("GET acme%s: the nested users page starts at %q, want alice (the first page)", q, first.SelectAttrValue("identifier", ""))
			}
		}
		// A collection at the top: it is paged; what it nests is cut at
		// page-size too.
		r := e2eGet(t, s, "/auth/v2/accounts?depth=3&page-size=2")
		hmCheckDepth(t, "GET /accounts?depth=3&page-size=2", r.Root(), 3, 2, true)
		if n := len(r.Root().SelectElements("account")); n != 2 {
			t.Errorf("/accounts?page-size=2 shows %d accounts, want 2", n)
		}
	})

	t.Run("depth above the cap is served at the cap", func(t *testing.T) {
		body := func(q string) string { return e2eGet(t, s, "/auth/v2/accounts"+q).Body }
		five := body("?depth=5")
		for _, q := range []string{"?depth=6", "?depth=99", "?depth=2147483647"} {
			if b := body(q); b != five {
				t.Errorf("GET /accounts%s differs from depth=5:\n%s", q, b)
			}
		}
		if body("?depth=4") == five {
			t.Errorf("depth=4 and depth=5 give the same document; the graph should be deeper than 4")
		}
		if d := hmMaxDepth(e2eGet(t, s, "/auth/v2/accounts?depth=99").Root()); d != 5 {
			t.Errorf("depth=99 nests hrefs %d deep, want 5 (the cap)", d)
		}
	})
}

// hmDocOf wraps an element in a document for e2eMustShape.
func hmDocOf(el *etree.Element) *etree.Document {
	d := etree.NewDocument()
	d.SetRoot(el.Copy())
	return d
}

// hmQuery returns the query of an href, failing on a malformed one.
func hmQuery(t testing.TB, href string) (string, url.Values) {
	t.Helper()
	u, err := url.Parse(href)
	if err != nil {
		t.Fatalf("href %q: %v", href, err)
	}
	return u.Path, u.Query()
}

// hmPaging are the names in account pg, and sorted in byte order.
var hmPaging = []string{"zeta", "beta", "alpha-2", "alpha-10", "alpha-1", "_under", "Alpha", "@at", "0zero", "-dash", "+plus"}

func hmSorted(names []string) []string {
	out := append([]string(nil), names...)
	sort.Strings(out)
	return out
}

// hmIdentifiers lists the identifiers of el's children named item.
func hmIdentifiers(el *etree.Element, item string) []string {
	out := []string{}
	for _, c := range el.SelectElements(item) {
		out = append(out, c.SelectAttrValue("identifier", ""))
	}
	return out
}

func hmAttr(el *etree.Element, name string) (string, bool) {
	a := el.SelectAttr(name)
	if a == nil {
		return "", false
	}
	return a.Value, true
}

func TestPaging(t *testing.T) {
	s := harness.Start(t)
	const pg = "/auth/v2/accounts/pg"
	e2eDo(t, s, "POST", "/auth/v2/accounts", "<account><name>pg</name></account>", 201)
	dropStarterRoles(t, s, "pg")
	for _, u := range hmPaging {
		e2eDo(t, s, "POST", pg+"/users", "<user><name>"+u+"</name></user>", 201)
	}
	all := hmSorted(hmPaging)
	n := len(all)

	// walk follows next from first and checks every page on the way.
	walk := func(t *testing.T, first string, size int, wantIDs []string, extra url.Values) {
		t.Helper()
		var got []string
		href, page := first, 1
		for ; href != ""; page++ {
			if page > len(wantIDs)+2 {
				t.Fatalf("more pages than items following next from %s", first)
			}
			r := e2eGet(t, s, href)
			root := r.Root()
			ids := hmIdentifiers(root, "user")
			got = append(got, ids...)
			if c, _ := hmAttr(root, "count"); c != strconv.Itoa(len(wantIDs)) {
				t.Errorf("%s: count %q, want %d", href, c, len(wantIDs))
			}
			if v, _ := hmAttr(root, "page-size"); v != strconv.Itoa(size) {
				t.Errorf("%s: page-size %q, want %d", href, v, size)
			}
			if v, _ := hmAttr(root, "current-page"); v != strconv.Itoa(page) {
				t.Errorf("%s: current-page %q, want %d", href, v, page)
			}
			if len(ids) > size || len(ids) == 0 && len(wantIDs) > 0 {
				t.Errorf("%s: %d items on page %d of size %d", href, len(ids), page, size)
			}
			prev, hasPrev := hmAttr(root, "previous")
			if hasPrev != (page > 1) {
				t.Errorf("%s: previous %q present=%v on page %d", href, prev, hasPrev, page)
			}
			if hasPrev {
				p, q := hmQuery(t, prev)
				if p != pg+"/users" || q.Get("current-page") != strconv.Itoa(page-1) || q.Get("page-size") != strconv.Itoa(size) {
					t.Errorf("%s: previous %q, want page %d of size %d", href, prev, page-1, size)
				}
				for k := range extra {
					if q.Get(k) != extra.Get(k) {
						t.Errorf("%s: previous %q does not keep %s=%s", href, prev, k, extra.Get(k))
					}
				}
			}
			next, hasNext := hmAttr(root, "next")
			if hasNext {
				p, q := hmQuery(t, next)
				if p != pg+"/users" || q.Get("current-page") != strconv.Itoa(page+1) || q.Get("page-size") != strconv.Itoa(size) {
					t.Errorf("%s: next %q, want page %d of size %d", href, next, page+1, size)
				}
				for k := range extra {
					if q.Get(k) != extra.Get(k) {
						t.Errorf("%s: next %q does not keep %s=%s", href, next, k, extra.Get(k))
					}
				}
			}
			href = next
		}
		if strings.Join(got, ",") != strings.Join(wantIDs, ",") {
			t.Errorf("following next from %s gave\n %v\nwant (each once, in byte order)\n %v", first, got, wantIDs)
		}
		if pages, want := page-1, max(1, (len(wantIDs)+size-1)/size); pages != want {
			t.Errorf("following next from %s took %d pages, want %d", first, pages, want)
		}
	}

	t.Run("page-size 1..N+1 walks every item once", func(t *testing.T) {
		for size := 1; size <= n+1; size++ {
			walk(t, fmt.Sprintf("%s/users?page-size=%d", pg, size), size, all, nil)
		}
	})
	t.Run("next and previous keep page-size, filter and depth", func(t *testing.T) {
		alpha := []string{"Alpha", "alpha-1", "alpha-10", "alpha-2"}
		walk(t, pg+"/users?filter=ALPHA&page-size=1&depth=1", 1, alpha, url.Values{"filter": {"ALPHA"}, "depth": {"1"}})
		walk(t, pg+"/users?filter=alpha-*&page-size=2&depth=2", 2, alpha[1:], url.Values{"filter": {"alpha-*"}, "depth": {"2"}})
		walk(t, pg+"/users?page-size=4&filter=a?pha%2A", 4, alpha, url.Values{"filter": {"a?pha*"}})
		// At depth 2 the items are expanded on every page.
		r := e2eGet(t, s, pg+"/users?page-size=3&current-page=2&depth=2")
		for _, u := range r.Root().SelectElements("user") {
			if u.SelectElement("name") == nil {
				t.Errorf("depth=2 page: user %s not expanded", u.SelectAttrValue("identifier", ""))
			}
		}
	})
	t.Run("last page", func(t *testing.T) {
		r := e2eGet(t, s, pg+"/users?page-size=3&current-page=4")
		if ids := hmIdentifiers(r.Root(), "user"); strings.Join(ids, ",") != strings.Join(all[9:], ",") {
			t.Errorf("last page holds %v, want %v", ids, all[9:])
		}
		if _, ok := hmAttr(r.Root(), "next"); ok {
			t.Errorf("last page has next: %s", r.Body)
		}
	})
	t.Run("a page past the end", func(t *testing.T) {
		for _, q := range []string{"page-size=3&current-page=5", "page-size=3&current-page=99", "current-page=2", "page-size=1000&current-page=2147483647"} {
			r := e2eGet(t, s, pg+"/users?"+q)
			root := r.Root()
			if len(root.ChildElements()) != 0 {
				t.Errorf("?%s: a page past the end holds items:\n%s", q, r.Body)
			}
			if c, _ := hmAttr(root, "count"); c != strconv.Itoa(n) {
				t.Errorf("?%s: count %q, want the true count %d", q, c, n)
			}
			if _, ok := hmAttr(root, "next"); ok {
				t.Errorf("?%s: next on a page past the end", q)
			}
			prev, ok := hmAttr(root, "previous")
			if !ok {
				t.Errorf("?%s: no previous on a page past the end", q)
				continue
			}
			// previous leads back to a page that exists.
			if len(e2eGet(t, s, prev).Root().SelectElements("user")) == 0 {
				t.Errorf("?%s: previous %s is empty too", q, prev)
			}
		}
	})
	t.Run("paging attributes only when asked or needed", func(t *testing.T) {
		r := e2eGet(t, s, pg+"/users")
		for _, a := range []string{"page-size", "current-page", "next", "previous"} {
			if _, ok := hmAttr(r.Root(), a); ok {
				t.Errorf("a single default page carries %s:\n%s", a, r.Body)
			}
		}
		if len(r.Root().SelectElements("user")) != n {
			t.Errorf("default page holds %d users, want %d", len(r.Root().SelectElements("user")), n)
		}
		r = e2eGet(t, s, pg+"/users?page-size=50")
		if v, _ := hmAttr(r.Root(), "page-size"); v != "50" {
			t.Errorf("page-size given: page-size attribute %q, want 50", v)
		}
		if v, _ := hmAttr(r.Root(), "current-page"); v != "1" {
			t.Errorf("page-size given: current-page attribute %q, want 1", v)
		}
		r = e2eGet(t, s, pg+"/users?current-page=1")
		if v, _ := hmAttr(r.Root(), "page-size"); v != "50" {
			t.Errorf("current-page given: page-size attribute %q, want 50", v)
		}
		// More than one default page: 52 roles.
		for i := 0; i < 52; i++ {
			e2eDo(t, s, "POST", pg+"/roles", fmt.Sprintf("<role><name>r%02d</name></role>", i), 201)
		}
		r = e2eGet(t, s, pg+"/roles")
		root := r.Root()
		if v, _ := hmAttr(root, "page-size"); v != "50" {
			t.Errorf("52 roles, default page: page-size %q, want 50", v)
		}
		if v, _ := hmAttr(root, "current-page"); v != "1" {
			t.Errorf("52 roles, default page: current-page %q, want 1", v)
		}
		if c, _ := hmAttr(root, "count"); c != "52" || len(root.SelectElements("role")) != 50 {
			t.Errorf("52 roles, default page: count %q with %d items, want 52 with 50", c, len(root.SelectElements("role")))
		}
		next, ok := hmAttr(root, "next")
		if !ok {
			t.Fatalf("52 roles, default page: no next:\n%s", r.Body)
		}
		r = e2eGet(t, s, next)
		if ids := hmIdentifiers(r.Root(), "role"); strings.Join(ids, ",") != "r50,r51" {
			t.Errorf("second default page holds %v, want [r50 r51]", ids)
		}
	})
	t.Run("sorted by identifier in byte order", func(t *testing.T) {
		ids := hmIdentifiers(e2eGet(t, s, pg+"/users").Root(), "user")
		if !sort.StringsAreSorted(ids) || len(ids) != n {
			t.Errorf("users are not in byte order: %v", ids)
		}
		want := []string{"+plus", "-dash", "0zero", "@at", "Alpha", "_under", "alpha-1", "alpha-10", "alpha-2", "beta", "zeta"}
		if strings.Join(ids, " ") != strings.Join(want, " ") {
			t.Errorf("users %v, want %v", ids, want)
		}
	})
}

func TestFilter(t *testing.T) {
	s := harness.Start(t)
	hmBuild(t, s)
	const pg = "/auth/v2/accounts/pg"
	e2eDo(t, s, "POST", "/auth/v2/accounts", "<account><name>pg</name></account>", 201)
	dropStarterRoles(t, s, "pg")
	for _, u := range hmPaging {
		e2eDo(t, s, "POST", pg+"/users", "<user><name>"+u+"</name></user>", 201)
	}
	cases := []struct {
		path, filter string
		item         string
		want         []string
	}{
		{pg + "/users", "alpha", "user", []string{"Alpha", "alpha-1", "alpha-10", "alpha-2"}},
		{pg + "/users", "ALPHA", "user", []string{"Alpha", "alpha-1", "alpha-10", "alpha-2"}},
		{pg + "/users", "lph", "user", []string{"Alpha", "alpha-1", "alpha-10", "alpha-2"}},
		{pg + "/users", "alpha-*", "user", []string{"alpha-1", "alpha-10", "alpha-2"}},
		{pg + "/users", "ALPHA-?", "user", []string{"alpha-1", "alpha-2"}},
		{pg + "/users", "a?pha", "user", []string{"Alpha"}},
		{pg + "/users", "*a", "user", []string{"Alpha", "beta", "zeta"}},
		{pg + "/users", "*", "user", hmSorted(hmPaging)},
		{pg + "/users", "?", "user", []string{}},
		{pg + "/users", "a", "user", []string{"@at", "Alpha", "alpha-1", "alpha-10", "alpha-2", "-dash", "beta", "zeta"}},
		{pg + "/users", "+", "user", []string{"+plus"}},
		{pg + "/users", "nomatch", "user", []string{}},
		{"/auth/v2/accounts", "acme", "account", []string{"acme", "acme-eu"}},
		{"/auth/v2/accounts", "ACME-??", "account", []string{"acme-eu"}},
		{"/auth/v2/accounts", "acme", "account", []string{"acme", "acme-eu"}},
		{hmAcme + "/users/alice/permissions", "PRINT", "permission", nil},
		{hmAcme + "/users/alice/permissions", "*:read", "permission", nil},
		{hmAcme + "/users/alice/permissions", "print:*", "permission", nil},
		{hmAcme + "/roles", "ING", "role", []string{"printing", "reporting"}},
		{hmAcme + "/groups/ops/roles", "aud*", "role", []string{"auditor"}},
		{hmAcme + "/users/alice/attributes", "COL", "attribute", []string{"color"}},
	}
	perms := map[string][]string{
		"PRINT": {"print:jobs:*", "print:output-ports:read"}, "*:read": {"audit:log,entries:read", "print:output-ports:read"},
		"print:*": {"print:jobs:*", "print:output-ports:read"},
	}
	for _, c := range cases {
		want := c.want
		if c.item == "permission" {
			want = perms[c.filter]
		}
		want = hmSorted(want)
		q := c.path + "?filter=" + url.QueryEscape(c.filter)
		r := e2eGet(t, s, q)
		var got []string
		for _, it := range r.Root().SelectElements(c.item) {
			if c.item == "permission" {
				h := it.SelectAttrValue("href", "")
				got = append(got, h[strings.LastIndexByte(h, '/')+1:])
			} else {
				got = append(got, it.SelectAttrValue("identifier", ""))
			}
		}
		if got == nil {
			got = []string{}
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("GET %s: %v, want %v", q, got, want)
		}
		if cnt, _ := hmAttr(r.Root(), "count"); cnt != strconv.Itoa(len(want)) {
			t.Errorf("GET %s: count %q, want %d (the matching items)", q, cnt, len(want))
		}
	}

	t.Run("filter at depth 0 counts the matching items", func(t *testing.T) {
		// SPEC §3: count is the total of matching items.
		for _, c := range []struct {
			q    string
			want string
		}{{"?depth=0&filter=alpha", "4"}, {"?depth=0&filter=nomatch", "0"}, {"?depth=0", "11"}} {
			r := e2eGet(t, s, pg+"/users"+c.q)
			if cnt, _ := hmAttr(r.Root(), "count"); cnt != c.want {
				t.Errorf("GET pg/users%s: count %q, want %s:\n%s", c.q, cnt, c.want, r.Body)
			}
		}
	})
	t.Run("filter applies to the requested collection only", func(t *testing.T) {
		r := e2eGet(t, s, "/auth/v2/accounts?depth=3&filter=acme-eu")
		if ids := hmIdentifiers(r.Root(), "account"); strings.Join(ids, ",") != "acme-eu" {
			t.Errorf("accounts filtered by acme-eu: %v", ids)
		}
		if n := len(r.Root().FindElements("account/users/user")); n != 1 {
			t.Errorf("acme-eu's nested users are filtered too: %d items, want 1", n)
		}
		if a, b := e2eGet(t, s, hmAcme+"?depth=2&filter=zzz").Body, e2eGet(t, s, hmAcme+"?depth=2").Body; a != b {
			t.Errorf("a filter on an entity changes it:\n%s", a)
		}
	})
	t.Run("a filtered page follows writes", func(t *testing.T) {
		count := func() string {
			v, _ := hmAttr(e2eGet(t, s, pg+"/users?filter=alpha").Root(), "count")
			return v
		}
		if c := count(); c != "4" {
			t.Fatalf("filter=alpha count %s, want 4", c)
		}
		e2eDo(t, s, "POST", pg+"/users", "<user><name>alpha-3</name></user>", 201)
		if c := count(); c != "5" {
			t.Errorf("after adding alpha-3: filter=alpha count %s, want 5", c)
		}
		e2eDo(t, s, "DELETE", pg+"/users/alpha-3", "", 204)
		if c := count(); c != "4" {
			t.Errorf("after deleting alpha-3: filter=alpha count %s, want 4", c)
		}
	})
}

func TestHypermediaQueryErrors(t *testing.T) {
	s := harness.Start(t)
	e2eDo(t, s, "POST", "/auth/v2/accounts", "<account><name>acme</name></account>", 201)
	dropStarterRoles(t, s, "acme")
	bad := []string{
		"depth=-1", "depth=abc", "depth=1.5", "depth=", "depth=%201", "depth=1&depth=1", "depth=99999999999",
		"page-size=abc", "page-size=0", "page-size=-5", "page-size=1001", "page-size=99999999999", "page-size=",
		"current-page=0", "current-page=-1", "current-page=x", "current-page=99999999999",
		"page-size=2&page-size=3", "filter=a&filter=b", "current-page=1&current-page=1", "depth=%zz",
	}
	for _, path := range []string{"/auth/v2/accounts", hmAcme, hmAcme + "/users/admin", "/auth/v2/accounts/system/users/admin/permissions"} {
		for _, q := range bad {
			r := s.Admin("GET", path+"?"+q, "")
			d := e2eCheckProblem(t, "GET "+path+"?"+q, r, 400)
			if r.Status == 400 && !strings.Contains(d, strings.SplitN(q, "=", 2)[0]) && q != "depth=%zz" {
				t.Errorf("GET %s?%s: detail %q does not name the parameter", path, q, d)
			}
		}
	}
	for _, q := range []string{"page-size=1000", "page-size=1", "current-page=1", "depth=0", "depth=5", "filter="} {
		e2eGet(t, s, "/auth/v2/accounts?"+q)
	}
}

func TestHypermediaMethods(t *testing.T) {
	s := harness.Start(t)
	hmBuild(t, s)

	t.Run("OPTIONS", func(t *testing.T) {
		for path, allow := range map[string]string{
			"/auth/v2/accounts":                    "GET, HEAD, OPTIONS, POST",
			hmAcme:                                 "DELETE, GET, HEAD, OPTIONS, PUT",
			hmAcme + "/users/alice/password":       "DELETE, OPTIONS, PUT",
			hmAcme + "/users/alice/permissions":    "GET, HEAD, OPTIONS",
			hmAcme + "/users/alice/roles":          "DELETE, GET, HEAD, OPTIONS, POST, PUT",
			hmAcme + "/roles/printing/permissions": "DELETE, GET, HEAD, OPTIONS, PUT",
		} {
			r := s.Admin("OPTIONS", path, "")
			if r.Status != http.StatusNoContent || r.Body != "" {
				t.Errorf("OPTIONS %s: status %d body %q, want 204 and no body", path, r.Status, r.Body)
			}
			if got := r.Header.Get("Allow"); got != allow {
				t.Errorf("OPTIONS %s: Allow %q, want %q", path, got, allow)
			}
		}
	})
	t.Run("405", func(t *testing.T) {
		for _, c := range []struct{ method, path, allow string }{
			{"DELETE", "/auth/v2/accounts", "GET, HEAD, OPTIONS, POST"},
			{"PATCH", hmAcme, "DELETE, GET, HEAD, OPTIONS, PUT"},
			{"POST", hmAcme, "DELETE, GET, HEAD, OPTIONS, PUT"},
			{"GET", hmAcme + "/users/alice/password", "DELETE, OPTIONS, PUT"},
			{"HEAD", hmAcme + "/users/alice/password", "DELETE, OPTIONS, PUT"},
			{"PUT", hmAcme + "/users/alice/permissions", "GET, HEAD, OPTIONS"},
			{"POST", hmAcme + "/users/alice/permissions/print:jobs:read", "GET, HEAD, OPTIONS"},
		} {
			r := s.Admin(c.method, c.path, "")
			if c.method == "HEAD" {
				if r.Status != 405 || r.Body != "" {
					t.Errorf("HEAD %s: status %d body %q, want 405 without body", c.path, r.Status, r.Body)
				}
			} else {
				e2eCheckProblem(t, c.method+" "+c.path, r, 405)
			}
			if got := r.Header.Get("Allow"); got != c.allow {
				t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
			}
		}
	})
	t.Run("unknown path", func(t *testing.T) {
		for _, p := range []string{"/auth/v2/nope", "/auth/v2/accounts/acme/nope", "/auth/v2/accounts/acme/users/alice/nope",
			"/nope", "/auth/v3/accounts"} {
			e2eCheckProblem(t, "GET "+p, s.Admin("GET", p, ""), 404)
		}
	})
	t.Run("HEAD", func(t *testing.T) {
		for _, p := range []string{"/auth/v2/accounts", hmAcme + "?depth=3", hmAcme + "/users/alice", hmAcme + "/users?page-size=1",
			hmAcme + "/users/alice/permissions/print:jobs:read"} {
			g := e2eGet(t, s, p)
			h := s.Admin("HEAD", p, "")
			if h.Status != 200 || h.Body != "" {
				t.Errorf("HEAD %s: status %d body %q, want 200 without body", p, h.Status, h.Body)
			}
			for _, k := range []string{"Content-Type", "Content-Length", "ETag"} {
				if h.Header.Get(k) != g.Header.Get(k) {
					t.Errorf("HEAD %s: %s %q, GET has %q", p, k, h.Header.Get(k), g.Header.Get(k))
				}
			}
			if g.Header.Get("Content-Length") != strconv.Itoa(len(g.Body)) {
				t.Errorf("GET %s: Content-Length %s for %d bytes", p, g.Header.Get("Content-Length"), len(g.Body))
			}
		}
		h := s.Admin("HEAD", hmAcme+"/users/nobody", "")
		if h.Status != 404 || h.Body != "" {
			t.Errorf("HEAD of a missing user: status %d body %q, want 404 without body", h.Status, h.Body)
		}
	})
}

func TestConditional(t *testing.T) {
	s := harness.Start(t)
	hmBuild(t, s)
	get := func(path string, h http.Header) *harness.Response {
		return s.Do(harness.Request{Method: "GET", Path: path, User: `system\admin`, Pass: harness.AdminPassword, Header: h})
	}
	write := func(method, path, body, ifMatch string) *harness.Response {
		h := http.Header{}
		if ifMatch != "" {
			h.Set("If-Match", ifMatch)
		}
		return s.Do(harness.Request{Method: method, Path: path, User: `system\admin`, Pass: harness.AdminPassword, Body: body, Header: h})
	}
	etag := func(path string) string { return e2eGet(t, s, path).Header.Get("ETag") }

	t.Run("ETag and If-None-Match", func(t *testing.T) {
		for _, p := range []string{"/auth/v2/accounts", "/auth/v2/accounts?depth=3", hmAcme, hmAcme + "/users", hmAcme + "/users/alice",
			hmAcme + "/users/alice/permissions", hmAcme + "/users/alice/permissions/print:jobs:read", hmAcme + "/roles/printing/permissions/print:jobs:*",
			hmAcme + "/groups/ops/users/alice", hmAcme + "/users/alice/attributes/color", hmAcme + "/permissions"} {
			g := e2eGet(t, s, p)
			tag := g.Header.Get("ETag")
			if !regexp.MustCompile(`^(W/)?"[^"]*"$`).MatchString(tag) {
				t.Errorf("GET %s: ETag %q is not an entity tag", p, tag)
			}
			for _, inm := range []string{tag, "W/" + tag, `"nope", ` + tag, "*"} {
				r := get(p, http.Header{"If-None-Match": {inm}})
				if r.Status != http.StatusNotModified || r.Body != "" {
					t.Errorf("GET %s If-None-Match %s: status %d body %q, want 304 without body", p, inm, r.Status, r.Body)
				}
				if r.Header.Get("ETag") != tag {
					t.Errorf("GET %s If-None-Match %s: 304 ETag %q, want %q", p, inm, r.Header.Get("ETag"), tag)
				}
			}
			if r := get(p, http.Header{"If-None-Match": {`"other"`}}); r.Status != 200 || r.Body != g.Body {
				t.Errorf("GET %s with a stale If-None-Match: status %d, want 200 and the document", p, r.Status)
			}
		}
	})
	t.Run("a write changes the ETag", func(t *testing.T) {
		acme, alice, eu := etag(hmAcme), etag(hmAcme+"/users/alice"), etag(hmAcmeEU+"/users/erin/permissions")
		write("PUT", hmAcme, "<account><description>Acme Inc</description></account>", "").Must(t, 204)
		if etag(hmAcme) == acme {
			t.Errorf("acme's ETag is unchanged after a PUT")
		}
		if r := get(hmAcme, http.Header{"If-None-Match": {acme}}); r.Status != 200 {
			t.Errorf("GET acme with the old ETag: status %d, want 200", r.Status)
		}
		// ETags are per document: a write to alice's account that does
		// not touch what alice's document shows leaves its ETag alone.
		alice2 := etag(hmAcme + "/users/alice")
		if alice2 != alice {
			t.Errorf("alice's ETag changed after a write to her account that she does not show")
		}
		write("POST", hmAcme+"/users/alice/attributes", "<attribute><name>size</name><value>m</value></attribute>", "").Must(t, 201)
		if etag(hmAcme+"/users/alice") == alice2 {
			t.Errorf("alice's ETag is unchanged after adding an attribute")
		}
		// erin's effective permissions depend on acme's ceiling.
		write("PUT", hmAcme+"/permissions", "<permissions><permission>print:*</permission></permissions>", "").Must(t, 204)
		if etag(hmAcmeEU+"/users/erin/permissions") == eu {
			t.Errorf("erin's effective permissions' ETag is unchanged after her parent account's ceiling changed")
		}
		accounts := etag("/auth/v2/accounts")
		write("POST", "/auth/v2/accounts", "<account><name>acme-us</name><parent>acme</parent></account>", "").Must(t, 201)
		if etag("/auth/v2/accounts") == accounts {
			t.Errorf("/accounts' ETag is unchanged after an account was created")
		}
	})
	t.Run("If-Match", func(t *testing.T) {
		type target struct{ path, body, method string }
		for _, c := range []target{
			{hmAcme, "<account><description>changed</description></account>", "PUT"},
			{hmAcme + "/users/bob", "<user><full-name>Changed</full-name></user>", "PUT"},
			{hmAcme + "/roles/auditor", "<role><description>changed</description></role>", "PUT"},
			{hmAcme + "/users/bob/attributes/x.y", "<attribute><value>2</value></attribute>", "PUT"},
			{hmAcme + "/users/bob/roles/reporting", "", "DELETE"},
			{hmAcme + "/users/carol", "", "DELETE"},
			{hmAcme + "/groups/finance", "", "DELETE"},
			{hmAcmeEU, "", "DELETE"},
		} {
			before, _ := e2eSnapshot(t, s)
			tag := etag(c.path)
			for _, im := range []string{`"1"`, `"nope"`, `W/"1"`} {
				r := write(c.method, c.path, c.body, im)
				e2eCheckProblem(t, fmt.Sprintf("%s %s If-Match %s", c.method, c.path, im), r, http.StatusPreconditionFailed)
			}
			if after, _ := e2eSnapshot(t, s); e2eSnapshotDiff(before, after) != "" {
				t.Errorf("%s %s with a failed If-Match changed the store: %s", c.method, c.path, e2eSnapshotDiff(before, after))
			}
			// The current ETag lets it through.
			r := write(c.method, c.path, c.body, tag)
			if r.Status != 204 {
				t.Errorf("%s %s If-Match %s (current): status %d, want 204; %s", c.method, c.path, tag, r.Status, r.Body)
			}
		}
	})
	t.Run("If-Match on a missing resource", func(t *testing.T) {
		// RFC 9110 §13.1.1: If-Match is false when there is no current
		// representation; the PUT must not create anything.
		before, _ := e2eSnapshot(t, s)
		for _, c := range []struct{ path, element string }{
			{hmAcme + "/users/", "user"},
			{hmAcme + "/roles/", "role"},
			{"/auth/v2/accounts/", "account"},
		} {
			for i, im := range []string{`"5"`, "*"} {
				name := fmt.Sprintf("new%s%d", c.element, i)
				body := "<" + c.element + "><name>" + name + "</name></" + c.element + ">"
				e2eCheckProblem(t, "PUT "+c.path+name+" If-Match "+im, write("PUT", c.path+name, body, im), http.StatusPreconditionFailed)
			}
		}
		if after, _ := e2eSnapshot(t, s); e2eSnapshotDiff(before, after) != "" {
			t.Errorf("a PUT with a failed If-Match changed the store: %s", e2eSnapshotDiff(before, after))
		}
	})
}

// hmLinkAttrs are the attributes holding links.
var hmLinkAttrs = []string{"href", "next", "previous", "granted-by"}

// hmAliases: a member reached through its holder is shown as the account
// item (the seed's user role; group roles and group users likewise).
var hmAliases = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`^(/auth/v2/accounts/[^/]+)/users/[^/]+/roles/([^/]+)$`), "$1/roles/$2"},
	{regexp.MustCompile(`^(/auth/v2/accounts/[^/]+)/groups/[^/]+/roles/([^/]+)$`), "$1/roles/$2"},
	{regexp.MustCompile(`^(/auth/v2/accounts/[^/]+)/groups/[^/]+/users/([^/]+)$`), "$1/users/$2"},
}

// hmWalk follows every link reachable from /auth/v2/accounts, breadth
// first, each once, requesting documents at depth, and checks every
// answer. It returns how many links it followed.
func hmWalk(t *testing.T, s *harness.Server, depth int) int {
	queue := []string{"/auth/v2/accounts"}
	seen := map[string]bool{queue[0]: true}
	counts := map[string]string{} // href → count shown on references to it
	countFrom := map[string]string{}
	for len(queue) > 0 {
		href := queue[0]
		queue = queue[1:]
		req := href
		if !strings.Contains(href, "depth=") {
			sep := "?"
			if strings.Contains(href, "?") {
				sep = "&"
			}
			req = href + sep + "depth=" + strconv.Itoa(depth)
		}
		r := s.Admin("GET", req, "")
		if r.Status != 200 {
			t.Errorf("GET %s: status %d, want 200; body:\n%s", req, r.Status, r.Body)
			continue
		}
		e2eCheckDocument(t, "GET "+req, r)
		root := r.Root()
		if root == nil {
			continue
		}
		path, q := hmQuery(t, href)
		want := path
		for _, a := range hmAliases {
			if a.re.MatchString(path) {
				want = a.re.ReplaceAllString(path, a.repl)
			}
		}
		if got := root.SelectAttrValue("href", ""); got != want {
			t.Errorf("GET %s: the document's href is %q, want %q", req, got, want)
		}
		if c, ok := counts[path]; ok && len(q) == 0 {
			if got := root.SelectAttrValue("count", ""); got != c {
				t.Errorf("GET %s: count %q, but %s shows count %q for it", req, got, countFrom[path], c)
			}
		}
		for _, el := range append([]*etree.Element{root}, root.FindElements("//*")...) {
			if c := el.SelectAttr("count"); c != nil && el != root {
				h := el.SelectAttrValue("href", "")
				if old, ok := counts[h]; ok && old != c.Value {
					t.Errorf("count of %s is %q in %s but %q in %s", h, c.Value, req, old, countFrom[h])
				}
				counts[h], countFrom[h] = c.Value, req
			}
			for _, name := range hmLinkAttrs {
				v := el.SelectAttrValue(name, "")
				if v == "" {
					continue
				}
				if !strings.HasPrefix(v, "/auth/v2/") {
					t.Errorf("GET %s: %s=%q on <%s> is not an absolute /auth/v2 path", req, name, v, el.Tag)
					continue
				}
				if !seen[v] {
					seen[v] = true
					queue = append(queue, v)
				}
			}
		}
	}
	return len(seen)
}

func TestWalk(t *testing.T) {
	s := harness.Start(t)
	hmBuild(t, s)
	// Links also come from paged collections and effective permissions.
	for i := 0; i < 3; i++ {
		e2eDo(t, s, "POST", hmAcme+"/roles", fmt.Sprintf("<role><name>extra-%d</name></role>", i), 201)
	}
	for _, depth := range []int{1, 2} {
		t.Run(fmt.Sprintf("depth=%d", depth), func(t *testing.T) {
			n := hmWalk(t, s, depth)
			t.Logf("walk at depth=%d: followed %d distinct hrefs", depth, n)
			if n < 100 {
				t.Errorf("the walk reached only %d hrefs; the graph has more", n)
			}
		})
	}
	t.Run("paged", func(t *testing.T) {
		// next / previous links are followed too.
		n := hmWalkFrom(t, s, hmAcme+"/roles?page-size=2")
		t.Logf("walk from acme/roles?page-size=2: followed %d distinct hrefs", n)
	})
}

// hmWalkFrom is a shallow walk from one paged collection.
func hmWalkFrom(t *testing.T, s *harness.Server, start string) int {
	queue := []string{start}
	seen := map[string]bool{start: true}
	pages := 0
	for len(queue) > 0 {
		href := queue[0]
		queue = queue[1:]
		r := s.Admin("GET", href, "")
		if r.Status != 200 {
			t.Errorf("GET %s: status %d", href, r.Status)
			continue
		}
		if strings.Contains(href, "page-size=2") {
			pages++
		}
		for _, name := range []string{"next", "previous"} {
			v := r.Root().SelectAttrValue(name, "")
			if v == "" {
				continue
			}
			// page 1 is the start page, however it is spelled.
			p, q := hmQuery(t, v)
			if q.Get("current-page") == "1" {
				q.Del("current-page")
			}
			if v = p + "?" + q.Encode(); !seen[v] {
				seen[v] = true
				queue = append(queue, v)
			}
		}
	}
	if pages != 3 { // 6 roles, 2 a page
		t.Errorf("next/previous from %s reached %d pages, want 3", start, pages)
	}
	return len(seen)
}
