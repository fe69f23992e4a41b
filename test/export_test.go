package test

// Export and import of an account subtree (SPEC §3c): the round trip
// through a second instance on a fresh etcd, 409 without a write, the
// system-only rule, no plain secret in the document, and the refusal of a
// subtree holding what the format does not carry yet.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"gatehouse/test/harness"
)

const (
	exTop   = azV2 + "/accounts/exa"
	exChild = azV2 + "/accounts/exb"
	exPass  = "export-me-safely-1"
)

// exFixture: account exa (ceiling, roles with permissions, default role,
// groups with users and roles, users with a password, roles and
// attributes) and its child exb (a user in a group).
func exFixture(t *testing.T, s *harness.Server) {
	t.Helper()
	azCreateAccount(t, s, "exa", "system")
	azAdmin(t, s, "PUT", exTop, "<account><description>Export &amp; import</description></account>", 204)
	azAdmin(t, s, "PUT", exTop+"/permissions", azPermsBody("auth:*", "print:jobs:*"), 204)
	azUserWithRole(t, s, "exa", "ann", exPass, "reader", "auth:users:read", "auth:me:*")
	azAdmin(t, s, "POST", exTop+"/roles", "<role><name>writer</name><description>writes</description></role>", 201)
	azAdmin(t, s, "PUT", exTop+"/roles/writer/permissions", azPermsBody("auth:users:update", "print:jobs:create"), 204)
	azAdmin(t, s, "PUT", exTop+"/default-roles/reader", "", 201)
	azAdmin(t, s, "POST", exTop+"/users", "<user><name>bob</name><email>bob@example.com</email><full-name>Bob B</full-name></user>", 201)
	azAdmin(t, s, "POST", exTop+"/groups", "<group><name>staff</name><description>all staff</description></group>", 201)
	azAdmin(t, s, "PUT", exTop+"/groups/staff/roles", `<roles><role identifier="writer"/></roles>`, 204)
	azAdmin(t, s, "PUT", exTop+"/users/ann/groups", `<groups><group identifier="staff"/></groups>`, 204)
	azAdmin(t, s, "PUT", exTop+"/users/bob/groups", `<groups><group identifier="staff"/></groups>`, 204)
	azAdmin(t, s, "PUT", exTop+"/users/ann/attributes",
		`<attributes><attribute><name>colour</name><value>blue &lt;ish&gt;</value></attribute><attribute><name>floor</name><value>3</value></attribute></attributes>`, 204)
	azCreateAccount(t, s, "exb", "exa")
	azAdmin(t, s, "POST", exChild+"/users", "<user><name>cy</name></user>", 201)
	azAdmin(t, s, "POST", exChild+"/groups", "<group><name>eu</name></group>", 201)
	azAdmin(t, s, "PUT", exChild+"/users/cy/groups", `<groups><group identifier="eu"/></groups>`, 204)
}

func TestExportImportRoundTrip(t *testing.T) {
	a := harness.Start(t)
	exFixture(t, a)

	first := a.Admin("GET", exTop+"/export", "").Must(t, http.StatusOK)
	if ct := first.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/xml") {
		t.Errorf("export Content-Type %q, want application/xml", ct)
	}
	root := first.Root()
	if root == nil || root.Tag != "export" || root.SelectAttrValue("account", "") != "exa" {
		t.Fatalf("export is not <export account=\"exa\">:\n%s", first.Body)
	}
	if accs := root.SelectElements("account"); len(accs) != 2 ||
		accs[0].SelectElement("name").Text() != "exa" || accs[1].SelectElement("name").Text() != "exb" {
		t.Fatalf("export does not hold exa then exb:\n%s", first.Body)
	}
	if strings.Contains(first.Body, exPass) {
		t.Fatalf("the export holds a plain password")
	}
	if !strings.Contains(first.Body, "<password>$argon2id$") {
		t.Errorf("the export does not hold ann's password hash:\n%s", first.Body)
	}
	for _, want := range []string{"<name>writer</name>", "<permission>print:jobs:create</permission>",
		"<value>blue &lt;ish&gt;</value>", "<email>bob@example.com</email>", "<parent>exa</parent>",
		"<default-roles>", "<description>Export &amp; import</description>"} {
		if !strings.Contains(first.Body, want) {
			t.Errorf("the export lacks %s:\n%s", want, first.Body)
		}
	}

	// A second instance on its own fresh etcd.
	b := harness.Start(t)
	created := b.Admin("POST", "/auth/v2/import", first.Body).Must(t, http.StatusCreated)
	if loc := created.Header.Get("Location"); loc != exTop {
		t.Errorf("import Location %q, want %q", loc, exTop)
	}
	second := b.Admin("GET", exTop+"/export", "").Must(t, http.StatusOK)
	if second.Body != first.Body {
		t.Fatalf("export after import differs:\n--- first\n%s\n--- second\n%s", first.Body, second.Body)
	}

	// The imported state works: ann signs in with her password and holds
	// her roles (reader directly, writer through staff).
	b.As(`exa\ann`, exPass, "GET", exTop+"/users/bob", "").Must(t, http.StatusOK)
	b.Admin("GET", exTop+"/users/ann/permissions/print:jobs:create", "").Must(t, http.StatusOK)
	b.Admin("GET", exChild+"/users/cy/groups/eu", "").Must(t, http.StatusOK)

	// Importing again: 409, and nothing written. A renamed top account
	// with the existing child exb: the new top must not appear either.
	azProblem(t, "import again", b.Admin("POST", "/auth/v2/import", first.Body), http.StatusConflict)
	renamed := strings.NewReplacer(`account="exa"`, `account="exz"`, "<name>exa</name>", "<name>exz</name>",
		"<parent>exa</parent>", "<parent>exz</parent>").Replace(first.Body)
	azProblem(t, "import with a taken child name", b.Admin("POST", "/auth/v2/import", renamed), http.StatusConflict)
	azProblem(t, "the refused import's top account", b.Admin("GET", azV2+"/accounts/exz", ""), http.StatusNotFound)

	// System principals only, even with the permission: ann (in exa)
	// neither exports nor imports.
	azAdmin(t, b, "PUT", exTop+"/roles/reader/permissions", azPermsBody("auth:*"), 204)
	azProblem(t, "export by a tenant", b.As(`exa\ann`, exPass, "GET", exTop+"/export", ""), http.StatusNotFound)
	azProblem(t, "import by a tenant", b.As(`exa\ann`, exPass, "POST", "/auth/v2/import", renamed), http.StatusNotFound)
	azProblem(t, "the tenant's refused import's top account", b.Admin("GET", azV2+"/accounts/exz", ""), http.StatusNotFound)
}

// Bad documents are refused with 400 and write nothing: a plain password
// in place of a hash, an unknown element, a reference to a missing role.
func TestImportRefusesBadDocuments(t *testing.T) {
	s := harness.Start(t)
	for _, c := range []struct{ what, body string }{
		{"plain password", `<export account="imx"><account><name>imx</name><parent>system</parent><users><user><password>hunter2-hunter2</password><name>u</name></user></users></account></export>`},
		{"unknown element", `<export account="imx"><account><name>imx</name><parent>system</parent><secret>x</secret></account></export>`},
		{"missing role", `<export account="imx"><account><name>imx</name><parent>system</parent><users><user><roles><role><name>nope</name></role></roles><name>u</name></user></users></account></export>`},
		{"child before parent", `<export account="imx"><account><name>imx</name><parent>system</parent></account><account><name>imy</name><parent>imq</parent></account></export>`},
		{"invalid permission", `<export account="imx"><account><name>imx</name><parent>system</parent><permissions><permission>a::b</permission></permissions></account></export>`},
	} {
		r := s.Admin("POST", "/auth/v2/import", c.body)
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400; body:\n%s", c.what, r.Status, r.Body)
		}
	}
	azProblem(t, "account after refused imports", s.Admin("GET", azV2+"/accounts/imx", ""), http.StatusNotFound)
	// Above one transaction's limit: 413 naming it, nothing written.
	var big strings.Builder
	big.WriteString(`<export account="imx"><account><name>imx</name><parent>system</parent><roles><role><name>many</name><permissions>`)
	for i := range 17000 {
		fmt.Fprintf(&big, "<permission>m:p%d</permission>", i)
	}
	big.WriteString(`</permissions></role></roles></account></export>`)
	r := s.Admin("POST", "/auth/v2/import", big.String())
	if azProblem(t, "import above the limit", r, http.StatusRequestEntityTooLarge) && !strings.Contains(r.Body, "16000") {
		t.Errorf("the 413 does not name the limit:\n%s", r.Body)
	}
	azProblem(t, "account after the refused large import", s.Admin("GET", azV2+"/accounts/imx", ""), http.StatusNotFound)
	// A missing parent is 404.
	azProblem(t, "missing parent", s.Admin("POST", "/auth/v2/import",
		`<export account="imx"><account><name>imx</name><parent>nowhere</parent></account></export>`), http.StatusNotFound)
}

// A subtree holding what the format does not carry yet (an API key) is
// exported without it, and the document says so; it still imports.
func TestExportNamesWhatItOmits(t *testing.T) {
	s := harness.Start(t)
	azCreateAccount(t, s, "exk", "system")
	azUserWithRole(t, s, "exk", "kay", exPass, "kr", "auth:users:read")
	azAdmin(t, s, "POST", azV2+"/accounts/exk/users/kay/api-keys", "<api-key><name>k1</name>"+azPermsBody("auth:users:read")+"</api-key>", 201)
	r := s.Admin("GET", azV2+"/accounts/exk/export", "").Must(t, http.StatusOK)
	if got := r.Root().SelectAttrValue("omitted", ""); got != "api-keys" {
		t.Errorf("omitted=%q, want \"api-keys\":\n%s", got, r.Body)
	}
	if strings.Contains(r.Body, "api-key>") || strings.Contains(r.Body, "k1") {
		t.Errorf("the export holds the API key:\n%s", r.Body)
	}
	other := harness.Start(t)
	other.Admin("POST", "/auth/v2/import", r.Body).Must(t, http.StatusCreated)
	other.As(`exk\kay`, exPass, "GET", azV2+"/accounts/exk/users/kay", "").Must(t, http.StatusOK)
}
