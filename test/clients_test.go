package test

// End-to-end tests of the OAuth clients resource (SPEC §4, §7; the
// seed's …/users/{u}/clients): the seed's shapes, the secret shown once
// and stored only as a keyed hash, update through POST with a client-id
// and through PUT, deletion of one and of all, strict validation of
// uris, grant types and scopes, escalation, and tenancy.

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"gatehouse/storage"
	"gatehouse/test/harness"
)

const (
	clBase   = azV2 + "/accounts/clco"
	clUser   = clBase + "/users/cara"
	clPass   = "clients-password-1"
	clTedRef = `clco\ted`
)

// clSetup: account clco (ceiling *) with user cara (no roles) and ted,
// whose role holds auth:* only; account clco2, a sibling tenant, whose
// root holds * under *.
func clSetup(t *testing.T, s *harness.Server) {
	t.Helper()
	azCreateAccount(t, s, "clco", "system")
	azAdmin(t, s, "PUT", clBase+"/permissions", azPermsBody("*"), 204)
	azAdmin(t, s, "POST", clBase+"/users", "<user><name>cara</name></user>", 201)
	azUserWithRole(t, s, "clco", "ted", clPass, "tenant-admin", "auth:*")
	azCreateAccount(t, s, "clco2", "system")
	azAdmin(t, s, "PUT", azV2+"/accounts/clco2/permissions", azPermsBody("*"), 204)
	azUserWithRole(t, s, "clco2", "root", clPass, "everything", "*")
}

func clList(tag, item string, values ...string) string {
	var b strings.Builder
	for _, v := range values {
		b.WriteString("<" + item + ">" + v + "</" + item + ">")
	}
	return "<" + tag + ">" + b.String() + "</" + tag + ">"
}

// clCreated checks a 201 and returns the client's id and secret ("" for
// a public client).
func clCreated(t *testing.T, r *harness.Response) (id, secret string) {
	t.Helper()
	r.Must(t, 201)
	root := r.Root()
	if root == nil || root.Tag != "client" {
		t.Fatalf("201 body is not a <client>:\n%s", r.Body)
	}
	id = root.SelectAttrValue("identifier", "")
	if cid := root.SelectElement("client-id"); cid == nil || cid.Text() != id || len(id) != 20 {
		t.Fatalf("client-id %v, identifier %q: want the 20-character id in both:\n%s", cid, id, r.Body)
	}
	for _, ch := range id {
		if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", ch) {
			t.Errorf("client id %q is not URL-safe", id)
		}
	}
	if sec := root.SelectElement("client-secret"); sec != nil {
		secret = sec.Text()
		if len(secret) < 43 {
			t.Errorf("client secret %q is shorter than 43 characters (256 bits)", secret)
		}
	}
	if loc := r.Header.Get("Location"); loc != clUser+"/clients/"+id {
		t.Errorf("Location %q, want %s", loc, clUser+"/clients/"+id)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q on the answer showing a secret", cc)
	}
	return id, secret
}

// clStored reads client id through the index, as the token endpoint
// will, with the server key its secret is hashed under.
func clStored(t *testing.T, s *harness.Server, id string) (storage.Client, []byte, bool) {
	t.Helper()
	key, err := s.Store.ServerKey(context.Background(), storage.ClientSecretKeyName)
	if err != nil {
		t.Fatal(err)
	}
	var c storage.Client
	var ok bool
	_ = s.Store.Read(context.Background(), 0, func(v storage.View) error {
		_, _, c, ok = v.ClientOwner(id)
		return nil
	})
	return c, key, ok
}

func TestClients(t *testing.T) {
	s := harness.Start(t)
	clSetup(t, s)
	admin := func(method, path, body string) *harness.Response { return s.Admin(method, path, body) }

	body := "<client><description>Example description.</description>" +
		clList("uris", "uri", "http://example.com/") + clList("scopes", "scope", "print:jobs:read") + "</client>"
	r := admin("POST", clUser+"/clients", body)
	id, secret := clCreated(t, r)
	href := clUser + "/clients/" + id
	if secret == "" {
		t.Fatalf("a confidential client got no secret:\n%s", r.Body)
	}
	if got := e2eTags(r.Root().ChildElements()); got != "client-id,client-secret,description,first-party,grant-types,public,scopes,token-endpoint-auth-method,uris" {
		t.Errorf("201 fields %s", got)
	}
	e2eCheckDocument(t, "201", r)

	t.Run("seed-shapes", func(t *testing.T) {
		e2eMustShape(t, "GET client depth 2", `
<client identifier="`+id+`" href="`+href+`">
  <client-id>`+id+`</client-id>
  <description>Example description.</description>
  <first-party>false</first-party>
  <grant-types count="2" href="`+href+`/grant-types">
    <grant-type>authorization_code</grant-type>
    <grant-type>refresh_token</grant-type>
  </grant-types>
  <public>false</public>
  <scopes count="1" href="`+href+`/scopes">
    <scope>print:jobs:read</scope>
  </scopes>
  <token-endpoint-auth-method>client_secret_basic</token-endpoint-auth-method>
  <uris count="1" href="`+href+`/uris">
    <uri>http://example.com/</uri>
  </uris>
</client>`, e2eGet(t, s, href+"?depth=2"))
		e2eMustShape(t, "GET client", `
<client identifier="`+id+`" href="`+href+`">
  <client-id>`+id+`</client-id>
  <description>Example description.</description>
  <first-party>false</first-party>
  <grant-types count="2" href="`+href+`/grant-types"/>
  <public>false</public>
  <scopes count="1" href="`+href+`/scopes"/>
  <token-endpoint-auth-method>client_secret_basic</token-endpoint-auth-method>
  <uris count="1" href="`+href+`/uris"/>
</client>`, e2eGet(t, s, href))
		e2eMustShape(t, "GET uris", `<uris count="1" href="`+href+`/uris"><uri>http://example.com/</uri></uris>`, e2eGet(t, s, href+"/uris"))
		e2eMustShape(t, "GET scopes", `<scopes count="1" href="`+href+`/scopes"><scope>print:jobs:read</scope></scopes>`, e2eGet(t, s, href+"/scopes"))
		e2eMustShape(t, "GET grant-types", `<grant-types count="2" href="`+href+`/grant-types"><grant-type>authorization_code</grant-type><grant-type>refresh_token</grant-type></grant-types>`,
			e2eGet(t, s, href+"/grant-types"))

		id2, _ := clCreated(t, admin("POST", clUser+"/clients", "<client>"+clList("uris", "uri", "https://two.example/cb")+"</client>"))
		ids := []string{id, id2}
		if ids[1] < ids[0] {
			ids[0], ids[1] = ids[1], ids[0]
		}
		e2eMustShape(t, "GET clients (the seed's list)", `
<clients count="2" href="`+clUser+`/clients">
  <client identifier="`+ids[0]+`" href="`+clUser+`/clients/`+ids[0]+`"/>
  <client identifier="`+ids[1]+`" href="`+clUser+`/clients/`+ids[1]+`"/>
</clients>`, e2eGet(t, s, clUser+"/clients"))
		user := e2eGet(t, s, clUser)
		if c := user.Root().SelectElement("clients"); c == nil || c.SelectAttrValue("count", "") != "2" || c.SelectAttrValue("href", "") != clUser+"/clients" {
			t.Errorf("the user document's clients:\n%s", user.Body)
		}
		azAdmin(t, s, "DELETE", clUser+"/clients/"+id2, "", 204)
	})

	t.Run("secret-shown-once-stored-as-keyed-hash", func(t *testing.T) {
		for _, p := range []string{"/clients", "/clients?depth=3", "/clients/" + id, "/clients/" + id + "?depth=3", "?depth=4"} {
			r := e2eGet(t, s, clUser+p)
			if strings.Contains(r.Body, "client-secret") || strings.Contains(r.Body, secret) {
				t.Errorf("GET %s shows the secret:\n%s", p, r.Body)
			}
		}
		c, key, ok := clStored(t, s, id)
		if !ok {
			t.Fatal("the client does not resolve through its index")
		}
		if !c.SecretMatches(key, secret) || c.SecretMatches(key, secret+"x") || c.SecretMatches(key, "") {
			t.Error("the stored hash does not verify exactly the secret")
		}
		if c.SecretHash == secret || strings.Contains(c.SecretHash, secret) || c.SecretHash != storage.ClientSecretHash(key, secret) {
			t.Errorf("stored hash %q is not HMAC-SHA-256 of the secret", c.SecretHash)
		}
	})

	t.Run("update-via-post-and-put", func(t *testing.T) {
		azAdmin(t, s, "POST", clUser+"/clients", "<client><client-id>"+id+"</client-id><description>changed</description></client>", 204)
		r := e2eGet(t, s, href+"?depth=2")
		if d := r.Root().SelectElement("description"); d == nil || d.Text() != "changed" {
			t.Errorf("POST with client-id did not update:\n%s", r.Body)
		}
		if got := r.Root().FindElements("uris/uri"); len(got) != 1 {
			t.Errorf("fields left out changed: %s", r.Body)
		}
		azProblem(t, "POST with an unknown client-id", admin("POST", clUser+"/clients", "<client><client-id>AAAAAAAAAAAAAAAAAAAA</client-id></client>"), 404)
		azAdmin(t, s, "PUT", href, "<client>"+clList("uris", "uri", "https://a.example/cb", "http://localhost:8080/cb")+
			clList("grant-types", "grant-type", "client_credentials", "authorization_code")+"</client>", 204)
		r = e2eGet(t, s, href+"?depth=2")
		uris := r.Root().SelectElement("uris")
		if uris == nil || uris.SelectAttrValue("count", "") != "2" || e2eTags(uris.ChildElements()) != "uri,uri" ||
			uris.ChildElements()[0].Text() != "https://a.example/cb" {
			t.Errorf("PUT uris:\n%s", r.Body)
		}
		if gt := r.Root().SelectElement("grant-types"); gt == nil || len(gt.ChildElements()) != 2 ||
			gt.ChildElements()[0].Text() != "authorization_code" || gt.ChildElements()[1].Text() != "client_credentials" {
			t.Errorf("PUT grant-types (canonical order):\n%s", r.Body)
		}
		// PUT back what GET shows at depth 1: the sub-lists are read-only there.
		got := e2eGet(t, s, href)
		azAdmin(t, s, "PUT", href, strings.TrimPrefix(got.Body, e2eXMLDecl), 204)
		azProblem(t, "PUT with another client-id", admin("PUT", href, "<client><client-id>BBBBBBBBBBBBBBBBBBBB</client-id></client>"), 400)
		azProblem(t, "PUT of a missing client", admin("PUT", clUser+"/clients/AAAAAAAAAAAAAAAAAAAA", "<client><description>x</description></client>"), 404)
		azProblem(t, "PUT making a confidential client public", admin("PUT", href, "<client><public>true</public></client>"), 400)
		if c, key, _ := clStored(t, s, id); !c.SecretMatches(key, secret) {
			t.Error("updates changed the secret")
		}
	})

	t.Run("public-client-gets-no-secret", func(t *testing.T) {
		r := admin("POST", clUser+"/clients", "<client><public>true</public>"+clList("uris", "uri", "http://127.0.0.1:9999/cb")+"</client>")
		pid, psecret := clCreated(t, r)
		if psecret != "" || strings.Contains(r.Body, "client-secret") {
			t.Errorf("a public client got a secret:\n%s", r.Body)
		}
		if c, key, ok := clStored(t, s, pid); !ok || c.SecretHash != "" || c.SecretMatches(key, "") || !c.Public {
			t.Errorf("stored public client %+v", c)
		}
		azProblem(t, "client_credentials on a public client", admin("PUT", clUser+"/clients/"+pid,
			"<client>"+clList("grant-types", "grant-type", "client_credentials")+"</client>"), 400)
		azAdmin(t, s, "DELETE", clUser+"/clients/"+pid, "", 204)
	})

	t.Run("bad-bodies-are-400", func(t *testing.T) {
		uris := func(u string) string { return "<client>" + clList("uris", "uri", u) + "</client>" }
		for what, b := range map[string]string{
			"relative uri":              uris("/callback"),
			"uri without scheme":        uris("example.com/cb"),
			"uri with fragment":         uris("https://example.com/cb#frag"),
			"uri with empty fragment":   uris("https://example.com/cb#"),
			"non-http scheme":           uris("ftp://example.com/cb"),
			"custom scheme":             uris("myapp:/cb"),
			"javascript uri":            uris("javascript:alert(1)"),
			"uri without host":          uris("http:///cb"),
			"uri with user info":        uris("https://user:pw@example.com/cb"),
			"uri with a space":          uris("https://example.com/a b"),
			"unknown grant type":        "<client>" + clList("grant-types", "grant-type", "implicit") + "</client>",
			"no grant types":            "<client><grant-types/></client>",
			"password, not first-party": "<client>" + clList("grant-types", "grant-type", "password") + "</client>",
			"invalid scope":             "<client>" + clList("scopes", "scope", "auth::read") + "</client>",
			"scope with white space":    "<client>" + clList("scopes", "scope", "print: jobs") + "</client>",
			"bad boolean":               "<client><public>yes</public></client>",
			"unknown field":             "<client><color>red</color></client>",
			"secret supplied":           "<client><client-secret>mine</client-secret></client>",
			"wrong root":                "<clients/>",
			"not XML":                   "<client>",
			"client-id not a name":      "<client><client-id>a/b</client-id></client>",
		} {
			azProblem(t, what, admin("POST", clUser+"/clients", b), 400)
		}
		azProblem(t, "PUT password grant on a non-first-party client", admin("PUT", href,
			"<client>"+clList("grant-types", "grant-type", "password")+"</client>"), 400)
		// The password grant with first-party (by a system principal).
		fid, _ := clCreated(t, admin("POST", clUser+"/clients",
			"<client><first-party>true</first-party>"+clList("grant-types", "grant-type", "password", "refresh_token")+"</client>"))
		azProblem(t, "first-party off while the password grant remains", admin("PUT", clUser+"/clients/"+fid,
			"<client><first-party>false</first-party></client>"), 400)
		azAdmin(t, s, "DELETE", clUser+"/clients/"+fid, "", 204)
	})

	t.Run("escalation-is-403", func(t *testing.T) {
		ted := func(method, path, body string) *harness.Response { return s.As(clTedRef, clPass, method, path, body) }
		azProblem(t, "ted gives a client print:* he does not hold", ted("POST", clUser+"/clients",
			"<client>"+clList("scopes", "scope", "print:*")+"</client>"), 403)
		azProblem(t, "ted adds print:jobs:write by PUT", ted("PUT", href,
			"<client>"+clList("scopes", "scope", "print:jobs:read", "print:jobs:write")+"</client>"), 403)
		azProblem(t, "ted makes a client first-party", ted("POST", clUser+"/clients",
			"<client><first-party>true</first-party></client>"), 403)
		// Scopes the client already has are no grant; ones he holds are fine.
		tid, _ := clCreated(t, ted("POST", clUser+"/clients", "<client>"+clList("scopes", "scope", "auth:users:read")+"</client>"))
		azCheck(t, "ted keeps print:jobs:read and adds auth:roles:read", ted("PUT", href,
			"<client>"+clList("scopes", "scope", "print:jobs:read", "auth:roles:read")+"</client>"), 204)
		r := e2eGet(t, s, href+"/scopes")
		if got := azTexts(r, "scope"); strings.Join(got, ",") != "auth:roles:read,print:jobs:read" {
			t.Errorf("scopes %v", got)
		}
		azAdmin(t, s, "DELETE", clUser+"/clients/"+tid, "", 204)
	})

	t.Run("missing-user-or-client-is-404", func(t *testing.T) {
		nobody := clBase + "/users/nobody/clients"
		for _, c := range []struct{ method, path, body string }{
			{"GET", nobody, ""},
			{"POST", nobody, "<client><description>x</description></client>"},
			{"DELETE", nobody, ""},
			{"GET", nobody + "/" + id, ""},
			{"GET", clUser + "/clients/AAAAAAAAAAAAAAAAAAAA", ""},
			{"GET", clUser + "/clients/AAAAAAAAAAAAAAAAAAAA/uris", ""},
			{"DELETE", clUser + "/clients/AAAAAAAAAAAAAAAAAAAA", ""},
		} {
			azProblem(t, c.method+" "+c.path, admin(c.method, c.path, c.body), 404)
		}
	})

	t.Run("another-tenant-gets-404", func(t *testing.T) {
		root := func(method, path, body string) *harness.Response {
			return s.As(`clco2\root`, clPass, method, path, body)
		}
		for _, c := range []struct{ method, path, body string }{
			{"GET", clUser + "/clients", ""},
			{"GET", href, ""},
			{"POST", clUser + "/clients", "<client><description>x</description></client>"},
			{"PUT", href, "<client><description>x</description></client>"},
			{"DELETE", href, ""},
			{"DELETE", clUser + "/clients", ""},
		} {
			azProblem(t, "clco2\\root "+c.method+" "+c.path, root(c.method, c.path, c.body), 404)
		}
		if _, _, ok := clStored(t, s, id); !ok {
			t.Error("another tenant's request removed the client")
		}
	})

	t.Run("delete-one-and-all", func(t *testing.T) {
		a, _ := clCreated(t, admin("POST", clUser+"/clients", "<client/>"))
		b, _ := clCreated(t, admin("POST", clUser+"/clients", "<client/>"))
		azAdmin(t, s, "DELETE", clUser+"/clients/"+a, "", 204)
		azProblem(t, "GET the deleted client", admin("GET", clUser+"/clients/"+a, ""), 404)
		if _, _, ok := clStored(t, s, a); ok {
			t.Error("the deleted client still resolves")
		}
		if r := e2eGet(t, s, clUser+"/clients"); azCount(r) != "2" {
			t.Errorf("after deleting one: %s", r.Body)
		}
		azAdmin(t, s, "DELETE", clUser+"/clients", "", 204)
		if r := e2eGet(t, s, clUser+"/clients"); azCount(r) != "0" {
			t.Errorf("after deleting all: %s", r.Body)
		}
		for _, x := range []string{id, b} {
			if _, _, ok := clStored(t, s, x); ok {
				t.Errorf("client %s survives DELETE of the collection", x)
			}
		}
		azAdmin(t, s, "DELETE", clUser+"/clients", "", 204) // empty: still 204
	})

	t.Run("deleting-the-user-deletes-its-clients", func(t *testing.T) {
		c, _ := clCreated(t, admin("POST", clUser+"/clients", "<client/>"))
		azAdmin(t, s, "DELETE", clUser, "", 204)
		if _, _, ok := clStored(t, s, c); ok {
			t.Error("a client of a deleted user resolves")
		}
		azAdmin(t, s, "POST", clBase+"/users", "<user><name>cara</name></user>", 201)
		if r := e2eGet(t, s, clUser+"/clients"); azCount(r) != "0" {
			t.Errorf("a recreated user has the old user's clients: %s", r.Body)
		}
		if r := admin("GET", clUser+"/clients/"+c, ""); r.Status != http.StatusNotFound {
			t.Errorf("old client under the recreated user: %d", r.Status)
		}
	})
}
