package test

// Export and import of an account subtree (SPEC §3c): the round trip
// through a second instance on a fresh etcd, 409 without a write, the
// system-only rule, no plain secret in the document, API keys, clients,
// providers and rules carried (secrets as hashes or left out), and what
// the format does not carry named in omitted.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
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
		{"plain API key secret", `<export account="imx"><account><name>imx</name><parent>system</parent><users><user><api-keys><api-key><name>k</name><permissions><permission>a:b</permission></permissions><prefix>gh_abcdefgh</prefix><secret-hash>gh_abcdefgh_plain</secret-hash></api-key></api-keys><name>u</name></user></users></account></export>`},
		{"plain client secret", `<export account="imx"><account><name>imx</name><parent>system</parent><users><user><clients><client><client-id>abcdefghijklmnopqrst</client-id><client-secret-hash>plain-secret</client-secret-hash></client></clients><name>u</name></user></users></account></export>`},
		{"confidential client without hash", `<export account="imx"><account><name>imx</name><parent>system</parent><users><user><clients><client><client-id>abcdefghijklmnopqrst</client-id></client></clients><name>u</name></user></users></account></export>`},
		{"provider without url", `<export account="imx"><account><name>imx</name><parent>system</parent><providers><provider><name>p</name><type>ldap</type><user-base>dc=x</user-base></provider></providers></account></export>`},
		{"rule granting a missing group", `<export account="imx"><account><name>imx</name><parent>system</parent><rules><rule><name>r</name><priority>1</priority><groups><group identifier="nope"/></groups></rule></rules></account></export>`},
		{"provider description over the PUT's length limit", `<export account="imx"><account><name>imx</name><parent>system</parent><providers><provider><name>p</name><type>ldap</type><url>ldap://x</url><user-base>dc=x</user-base><login-attribute>uid</login-attribute><description>` + strings.Repeat("d", 5000) + `</description></provider></providers></account></export>`},
		{"user full name over the PUT's length limit", `<export account="imx"><account><name>imx</name><parent>system</parent><users><user><full-name>` + strings.Repeat("f", 1025) + `</full-name><name>u</name></user></users></account></export>`},
		{"duplicate client id", `<export account="imx"><account><name>imx</name><parent>system</parent><users><user><clients><client><client-id>abcdefghijklmnopqrst</client-id><public>true</public></client></clients><name>u</name></user><user><clients><client><client-id>abcdefghijklmnopqrst</client-id><public>true</public></client></clients><name>v</name></user></users></account></export>`},
	} {
		r := s.Admin("POST", "/auth/v2/import", c.body)
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400; body:\n%s", c.what, r.Status, r.Body)
		}
	}
	azProblem(t, "account after refused imports", s.Admin("GET", azV2+"/accounts/imx", ""), http.StatusNotFound)
	// Above one transaction's limit: journaled batches, the same result
	// (the role holds every permission), no journal left.
	var big strings.Builder
	big.WriteString(`<export account="imx"><account><name>imx</name><parent>system</parent><roles><role><name>many</name><permissions>`)
	for i := range 17000 {
		fmt.Fprintf(&big, "<permission>m:p%05d</permission>", i)
	}
	big.WriteString(`</permissions></role></roles></account></export>`)
	s.Admin("POST", "/auth/v2/import", big.String()).Must(t, http.StatusCreated)
	exported := s.Admin("GET", azV2+"/accounts/imx/export", "").Must(t, http.StatusOK)
	if n := strings.Count(exported.Body, "<permission>m:p"); n != 17000 {
		t.Errorf("the journaled import's role holds %d permissions, want 17000", n)
	}
	for _, r := range []string{storage.ImportJournalRange, storage.ImportingRange} {
		if keys := storagetest.EtcdKeys(t, s.Store, r); len(keys) != 0 {
			t.Errorf("the finished journaled import left %v", keys)
		}
	}
	azAdmin(t, s, "DELETE", azV2+"/accounts/imx", "", 204)
	// A missing parent is 404.
	azProblem(t, "missing parent", s.Admin("POST", "/auth/v2/import",
		`<export account="imx"><account><name>imx</name><parent>nowhere</parent></account></export>`), http.StatusNotFound)
}

// API keys, OAuth clients, identity providers and account rules travel
// in the export: secrets only as stored hashes (an API key's SHA-256, a
// client's keyed HMAC), a provider's bind password never (it says
// omitted="true" and must be set again); the root rules landing in the
// subtree travel with it, and no other. Imported into another store: the same
// document again, the API key signs in, a filled-in bind password is
// sealed under that store's key. Imported back into its own store after
// the account's deletion: the client's secret works too.
func TestExportCarriesKeysClientsProvidersRules(t *testing.T) {
	a := harness.Start(t)
	const top = azV2 + "/accounts/exk"
	const kay = top + "/users/kay"
	azCreateAccount(t, a, "exk", "system")
	azAdmin(t, a, "PUT", top+"/permissions", azPermsBody("auth:*"), 204)
	azUserWithRole(t, a, "exk", "kay", exPass, "kr", "auth:users:read")
	azAdmin(t, a, "POST", top+"/groups", "<group><name>eng</name></group>", 201)
	keyID, keySecret := akCreated(t, a.Admin("POST", kay+"/api-keys", akBody("ci", "", "auth:users:read")))
	clientID, clientSecret := ccClientOf(t, a, kay, "auth:users:read")
	pubID := a.Admin("POST", kay+"/clients", "<client><public>true</public><description>spa</description>"+
		clList("uris", "uri", "https://app.example/cb")+"</client>").Must(t, http.StatusCreated).Root().SelectAttrValue("identifier", "")
	azAdmin(t, a, "POST", top+"/providers", "<provider><name>corp</name><type>ldap</type><url>ldap://dir.example:389</url>"+
		"<bind-dn>cn=svc,dc=example,dc=org</bind-dn><bind-password>s3cret-bind</bind-password>"+
		"<user-base>ou=people,dc=example,dc=org</user-base><sync-interval>1h</sync-interval></provider>", 201)
	azAdmin(t, a, "POST", top+"/providers", "<provider><name>idp</name><type>saml</type>"+
		"<metadata-url>https://idp.example/metadata</metadata-url><landing-url>https://app.example/</landing-url></provider>", 201)
	azAdmin(t, a, "POST", top+"/rules", "<rule><name>eng</name><priority>3</priority><conditions><condition><type>ldap</type>"+
		"<attribute>ou</attribute><pattern>eng*</pattern></condition></conditions><groups><group identifier=\"eng\"/></groups>"+
		"<roles><role identifier=\"kr\"/></roles></rule>", 201)
	azAdmin(t, a, "POST", azV2+"/accounts/rules", "<rule><name>to-exk</name><priority>1</priority><conditions><condition>"+
		"<type>saml</type><attribute>org</attribute><pattern>k</pattern></condition></conditions><account identifier=\"exk\"/></rule>", 201)

	azAdmin(t, a, "POST", azV2+"/accounts/rules", "<rule><name>other-root</name><priority>1</priority><conditions><condition>"+
		"<type>saml</type><attribute>org</attribute><pattern>s</pattern></condition></conditions><account identifier=\"system\"/></rule>", 201)
	first := a.Admin("GET", top+"/export", "").Must(t, http.StatusOK)
	if got := first.Root().SelectAttr("omitted"); got != nil {
		t.Errorf("omitted=%q, want none:\n%s", got.Value, first.Body)
	}
	for _, secret := range []string{keySecret, clientSecret, "s3cret-bind"} {
		if strings.Contains(first.Body, secret) {
			t.Fatalf("the export holds the plain secret %q:\n%s", secret, first.Body)
		}
	}
	for _, want := range []string{"<prefix>" + keyID + "</prefix>", "<secret-hash>", "<client-id>" + clientID + "</client-id>",
		"<client-secret-hash>", "<client-id>" + pubID + "</client-id>", "<uri>https://app.example/cb</uri>",
		"<grant-type>client_credentials</grant-type>", "<scope>auth:users:read</scope>", `<bind-password omitted="true"/>`,
		"<bind-dn>cn=svc,dc=example,dc=org</bind-dn>", "<metadata-url>https://idp.example/metadata</metadata-url>",
		"<pattern>eng*</pattern>", `<group identifier="eng"/>`, "<priority>3</priority>", "<name>to-exk</name>", `<account identifier="exk"/>`} {
		if !strings.Contains(first.Body, want) {
			t.Errorf("the export lacks %s:\n%s", want, first.Body)
		}
	}
	if strings.Contains(first.Body, "other-root") || strings.Contains(first.Body, "<sync>") || strings.Contains(first.Body, "last-used") {
		t.Errorf("the export holds a root rule landing elsewhere, or volatile state:\n%s", first.Body)
	}

	// Another store: the same document again; the API key works there.
	b := harness.Start(t)
	b.Admin("POST", "/auth/v2/import", first.Body).Must(t, http.StatusCreated)
	if second := b.Admin("GET", top+"/export", "").Must(t, http.StatusOK); second.Body != first.Body {
		t.Fatalf("export after import differs: %s", exDiff(first.Body, second.Body))
	}
	withKey(b, "X-API-Key", keySecret, "GET", kay, "").Must(t, http.StatusOK)
	b.Admin("GET", top+"/rules/eng", "").Must(t, http.StatusOK)
	// The bind password must be set again: the imported record says so.
	var rec storage.Provider
	if err := b.Store.Read(context.Background(), 0, func(v storage.View) error { rec, _ = v.Provider("exk", "corp"); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := storage.OpenProviderSecret(make([]byte, 32), "exk", "corp", rec.BindPassword); !errors.Is(err, storage.ErrProviderSecretUnset) {
		t.Errorf("the imported bind password: %v, want ErrProviderSecretUnset", err)
	}
	// Taken API key and client ids are taken names: 409, nothing written.
	renamed := strings.NewReplacer(`account="exk"`, `account="exq"`, "<name>exk</name>", "<name>exq</name>",
		`identifier="exk"`, `identifier="exq"`, "<name>to-exk</name>", "<name>to-exq</name>").Replace(first.Body)
	azProblem(t, "import with taken key and client ids", b.Admin("POST", "/auth/v2/import", renamed), http.StatusConflict)
	azProblem(t, "the refused import's account", b.Admin("GET", azV2+"/accounts/exq", ""), http.StatusNotFound)

	// A third store, the bind password filled in by the operator: sealed
	// under that store's key.
	c := harness.Start(t)
	filled := strings.Replace(first.Body, `<bind-password omitted="true"/>`, "<bind-password>new-bind-pass</bind-password>", 1)
	c.Admin("POST", "/auth/v2/import", filled).Must(t, http.StatusCreated)
	key, err := c.Store.ServerKey(context.Background(), storage.ProviderSecretKeyName)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Store.Read(context.Background(), 0, func(v storage.View) error { rec, _ = v.Provider("exk", "corp"); return nil }); err != nil {
		t.Fatal(err)
	}
	if pw, err := storage.OpenProviderSecret(key, "exk", "corp", rec.BindPassword); err != nil || pw != "new-bind-pass" {
		t.Errorf("the filled-in bind password opens to %q, %v", pw, err)
	}
	if again := c.Admin("GET", top+"/export", "").Must(t, http.StatusOK); again.Body != first.Body {
		t.Errorf("export after importing a filled-in bind password differs: %s", exDiff(first.Body, again.Body))
	}

	// Back into its own store after deleting the account (the key and
	// client index entries dangle, and are taken over): while the root
	// rule landing there stays, its name is taken; without it the import
	// succeeds, and the client's secret, hashed under this store's key,
	// works again.
	azAdmin(t, a, "DELETE", top, "", 204)
	azProblem(t, "import with a taken root rule name", a.Admin("POST", "/auth/v2/import", first.Body), http.StatusConflict)
	azAdmin(t, a, "DELETE", azV2+"/accounts/rules/to-exk", "", 204)
	a.Admin("POST", "/auth/v2/import", first.Body).Must(t, http.StatusCreated)
	if tok := oaToken(t, a, clientID, clientSecret, "auth:users:read"); tok.AccessToken == "" {
		t.Error("no token for the re-imported client")
	}
	withKey(a, "X-API-Key", keySecret, "GET", kay, "").Must(t, http.StatusOK)
}

// exDiff names the first line where two documents differ.
func exDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, x, y)
		}
	}
	return "no difference"
}

// An import above one transaction's limit (lowered here) interrupted
// after its first batch: its users and API keys cannot sign in and the
// account is not listed under its parent; the same document posted again
// resumes and ends with the same export, and they can.
func TestImportJournaledResumesOverHTTP(t *testing.T) {
	a := harness.Start(t)
	const top = azV2 + "/accounts/exj"
	azCreateAccount(t, a, "exj", "system")
	azAdmin(t, a, "PUT", top+"/permissions", azPermsBody("auth:*", "m:*"), 204)
	perms := []string{"auth:users:read"}
	for i := range 120 {
		perms = append(perms, fmt.Sprintf("m:p%03d", i))
	}
	azUserWithRole(t, a, "exj", "jo", exPass, "many", perms...)
	_, keySecret := akCreated(t, a.Admin("POST", top+"/users/jo/api-keys", akBody("k", "", "auth:users:read")))
	first := a.Admin("GET", top+"/export", "").Must(t, http.StatusOK)

	b := harness.Start(t)
	saved := storage.ImportBatchOps
	storage.ImportBatchOps = 60
	crash := errors.New("interrupted by the test")
	storage.ImportAfterBatch = func(int, int) error { return crash }
	t.Cleanup(func() { storage.ImportBatchOps, storage.ImportAfterBatch = saved, nil })
	if r := b.Admin("POST", "/auth/v2/import", first.Body); r.Status == http.StatusCreated {
		t.Fatalf("the interrupted import answered 201")
	}
	cliSynced(t, b)
	b.As(`exj\jo`, exPass, "GET", "/auth/v2/me", "").Must(t, http.StatusUnauthorized)
	withKey(b, "X-API-Key", keySecret, "GET", "/auth/v2/me", "").Must(t, http.StatusUnauthorized)
	if r := b.Admin("GET", azV2+"/accounts/system", "").Must(t, http.StatusOK); strings.Contains(r.Body, "exj") {
		t.Errorf("the account of an unfinished import is listed under its parent:\n%s", r.Body)
	}
	azProblem(t, "creating a name the import reserved", b.Admin("POST", azV2+"/accounts",
		"<account><name>exj</name><parent>system</parent></account>"), http.StatusConflict)

	batches := 0
	storage.ImportAfterBatch = func(int, int) error { batches++; return nil }
	b.Admin("POST", "/auth/v2/import", first.Body).Must(t, http.StatusCreated)
	if batches == 0 {
		t.Error("the resumed import took no batch before its last")
	}
	if second := b.Admin("GET", top+"/export", "").Must(t, http.StatusOK); second.Body != first.Body {
		t.Fatalf("export after the resumed import differs: %s", exDiff(first.Body, second.Body))
	}
	b.As(`exj\jo`, exPass, "GET", top+"/users/jo", "").Must(t, http.StatusOK)
	withKey(b, "X-API-Key", keySecret, "GET", top+"/users/jo", "").Must(t, http.StatusOK)
}
