package test

// End-to-end tests of SAML sign-in (SPEC §7, §8, §8a; package
// samlsignin) with crewjam's samlidp as a real IdP in-process: a saml
// provider created through the providers resource with the IdP's
// metadata, the SP registered at the IdP from /saml/{a}/{p}/metadata, an
// account rule; an SP-initiated sign-in started from the sign-in page
// that ends in tokens (code + PKCE) for the just-in-time user, who reads
// /auth/v2 within the token's scopes; and the ACS's refusals (unsigned,
// another key, a modified signed assertion, signature wrapping, wrong
// audience, expired, replayed — also across two instances sharing etcd),
// each an HTML error page, no code, and an audit entry.

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"html"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml/samlidp"
	dsig "github.com/russellhaering/goxmldsig"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2"

	"gatehouse/samlsp"
	"gatehouse/test/harness"
)

const (
	smAccount  = "sco"
	smBase     = azV2 + "/accounts/" + smAccount
	smProvider = "idp"
	smKey      = "saml:" + smAccount + "/" + smProvider
	smUser     = "alice"
	smPassword = "wonderland"
)

// smIdP is crewjam's samlidp in-process with user alice.
type smIdP struct {
	srv      *samlidp.Server
	url      string
	metadata []byte
	key      *rsa.PrivateKey
	cert     *x509.Certificate
}

func smNewIdP(t *testing.T) *smIdP {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	u, _ := url.Parse("http://" + ts.Listener.Addr().String())
	key, cert, err := samlsp.NewSelfSignedKey("test idp", time.Now(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := samlidp.New(samlidp.Options{URL: *u, Key: key, Certificate: cert,
		Store: &samlidp.MemoryStore{}, Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(ts.Close)
	hash, err := bcrypt.GenerateFromPassword([]byte(smPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Store.Put("/users/"+smUser, samlidp.User{Name: smUser, HashedPassword: hash,
		Groups: []string{"staff", "printadmins"}, Email: "alice@example.com", CommonName: "Alice Liddell",
		GivenName: "Alice", Surname: "Liddell"}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(ts.URL + "/metadata")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	md, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("idp metadata: %d", resp.StatusCode)
	}
	return &smIdP{srv: srv, url: ts.URL, metadata: md, key: key, cert: cert}
}

// smProviderBody is a saml provider document with the IdP's metadata.
func smProviderBody(name string, idp *smIdP, extra string) string {
	return "<provider><name>" + name + "</name><type>saml</type><description>Test IdP</description>" +
		"<metadata>" + pvEscape(string(idp.metadata)) + "</metadata>" + extra +
		"<attribute-mapping><name>urn:oid:0.9.2342.19200300.100.1.1</name><email>mail</email>" +
		"<full-name>cn</full-name><groups>eduPersonAffiliation</groups></attribute-mapping></provider>"
}

// register fetches the SP metadata of provider p from gatehouse at base
// and registers it at the IdP; the encryption key is left out so the
// IdP sends plaintext (still signed) assertions the tests can edit.
func (idp *smIdP) register(t *testing.T, base, p string) string {
	t.Helper()
	resp, err := http.Get(base + "/saml/" + smAccount + "/" + p + "/metadata")
	if err != nil {
		t.Fatal(err)
	}
	md, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "samlmetadata+xml") {
		t.Fatalf("SP metadata: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), md)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(md); err != nil {
		t.Fatalf("SP metadata does not parse: %v", err)
	}
	entityID := doc.Root().SelectAttrValue("entityID", "")
	if want := base + "/saml/" + smAccount + "/" + p + "/metadata"; entityID != want {
		t.Fatalf("SP entity ID %q, want its metadata URL %q", entityID, want)
	}
	if doc.FindElement("//KeyDescriptor//X509Certificate") == nil {
		t.Fatalf("SP metadata without its certificate:\n%s", md)
	}
	for _, kd := range doc.FindElements("//KeyDescriptor[@use='encryption']") {
		kd.Parent().RemoveChild(kd)
	}
	out, _ := doc.WriteToBytes()
	name := strings.NewReplacer(":", "_", "/", "_", ".", "_").Replace(entityID)
	rec := httptest.NewRecorder()
	idp.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/services/"+name, bytes.NewReader(out)))
	if rec.Code != http.StatusNoContent {
		t.Fatalf("register SP at the IdP: %d %s", rec.Code, rec.Body)
	}
	return entityID
}

var (
	smFormAction = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	smHidden     = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)"`)
)

// smReadForm reads the form of an IdP page.
func smReadForm(t *testing.T, resp *http.Response) (string, url.Values) {
	t.Helper()
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d\n%s", resp.Request.URL, resp.StatusCode, body)
	}
	m := smFormAction.FindSubmatch(body)
	if m == nil {
		t.Fatalf("%s: no form in\n%s", resp.Request.URL, body)
	}
	v := url.Values{}
	for _, h := range smHidden.FindAllSubmatch(body, -1) {
		v.Set(html.UnescapeString(string(h[1])), html.UnescapeString(string(h[2])))
	}
	return html.UnescapeString(string(m[1])), v
}

// smLocation is the 303's Location (fails otherwise).
func smLocation(t *testing.T, p *ocPage) string {
	t.Helper()
	if p.status != http.StatusSeeOther || p.header.Get("Location") == "" {
		t.Fatalf("want a 303, got %d %q:\n%s", p.status, p.header.Get("Location"), p.body)
	}
	return p.header.Get("Location")
}

// smToIdP runs the sign-in page up to the IdP's form carrying the
// SAMLResponse: the authorize URL, the provider's button, the start
// endpoint, the IdP (signing in there when it has no session). It
// returns the form's action (the ACS) and fields.
func smToIdP(t *testing.T, b *ocBrowser, idp *smIdP, authURL string) (string, url.Values) {
	t.Helper()
	p := b.get(authURL)
	if p.status != 200 || !strings.Contains(p.body, `value="`+smKey+`"`) {
		t.Fatalf("the sign-in page shows no button for %s: %d\n%s", smKey, p.status, p.body)
	}
	start := smLocation(t, b.post(p, "external", smKey, "-step", ""))
	if !strings.HasPrefix(start, "/saml/"+smAccount+"/"+smProvider+"/login?pending=") {
		t.Fatalf("the button leads to %q", start)
	}
	toIdP := smLocation(t, b.get(b.s.URL()+start))
	if !strings.HasPrefix(toIdP, idp.url+"/sso?") {
		t.Fatalf("the start endpoint redirects to %q, want the IdP's SSO", toIdP)
	}
	smIdPLogin(t, b, idp, smUser)
	resp, err := b.c.Get(toIdP)
	if err != nil {
		t.Fatal(err)
	}
	action, form := smReadForm(t, resp)
	if form.Get("SAMLResponse") == "" || len(form.Get("RelayState")) > 80 {
		t.Fatalf("IdP form without SAMLResponse or with a RelayState over 80 bytes: %v", form)
	}
	if want := b.s.URL() + "/saml/" + smAccount + "/" + smProvider + "/acs"; action != want {
		t.Fatalf("the IdP posts to %q, want the ACS %q", action, want)
	}
	return action, form
}

// smIdPLogin signs browser b in at the IdP as user unless it has an IdP
// session (samlidp's login form cannot be used: it would present the
// AuthnRequest a second time, which the IdP's replay cache refuses).
func smIdPLogin(t *testing.T, b *ocBrowser, idp *smIdP, user string) {
	t.Helper()
	u, _ := url.Parse(idp.url)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "session" {
			return
		}
	}
	resp, err := b.c.PostForm(idp.url+"/login", url.Values{"user": {user}, "password": {smPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("IdP login of %s: %d", user, resp.StatusCode)
	}
}

// smPost posts form to the ACS in browser b.
func smPost(t *testing.T, b *ocBrowser, action string, form url.Values) *ocPage {
	t.Helper()
	return b.page(b.c.PostForm(action, form))
}

// smDoc and smWith edit the SAMLResponse of a form.
func smDoc(t *testing.T, form url.Values) *etree.Document {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(form.Get("SAMLResponse"))
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	return doc
}

func smWith(t *testing.T, form url.Values, doc *etree.Document) url.Values {
	t.Helper()
	raw, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	out := url.Values{}
	for k, v := range form {
		out[k] = append([]string(nil), v...)
	}
	out.Set("SAMLResponse", base64.StdEncoding.EncodeToString(raw))
	return out
}

func smRemove(el *etree.Element, tag string) {
	if c := el.SelectElement(tag); c != nil {
		el.RemoveChild(c)
	}
}

func smAssertion(t *testing.T, doc *etree.Document) *etree.Element {
	t.Helper()
	a := doc.Root().SelectElement("Assertion")
	if a == nil {
		t.Fatal("the response has no plaintext assertion")
	}
	return a
}

// smResign replaces the assertion's signature by one made with key
// (placed after the Issuer, as the schema wants) and drops the
// Response's signature, which the edit broke.
func smResign(t *testing.T, doc *etree.Document, key *rsa.PrivateKey, cert *x509.Certificate) {
	t.Helper()
	resp := doc.Root()
	smRemove(resp, "Signature")
	a := smAssertion(t, doc)
	smRemove(a, "Signature")
	ctx := dsig.NewDefaultSigningContext(dsig.TLSCertKeyStore(tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key}))
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		t.Fatal(err)
	}
	signed, err := ctx.SignEnveloped(a)
	if err != nil {
		t.Fatal(err)
	}
	// goxmldsig appends the signature without making signed its parent.
	sig := signed.Child[len(signed.Child)-1].(*etree.Element)
	signed.Child = signed.Child[:len(signed.Child)-1]
	signed.InsertChildAt(signed.SelectElement("Issuer").Index()+1, sig)
	resp.InsertChildAt(a.Index(), signed)
	resp.RemoveChild(a)
}

// smSetup is an instance with account sco (ceiling *), role reader
// (auth:*) held by the client owner, a saml provider idp of the test
// IdP registered there, and an account rule granting reader to
// everyone of the provider.
func smSetup(t *testing.T, s *harness.Server, idp *smIdP, extra string) {
	t.Helper()
	azCreateAccount(t, s, smAccount, "system")
	azAdmin(t, s, "PUT", smBase+"/permissions", azPermsBody("*"), 204)
	azUserWithRole(t, s, smAccount, "owner", clPass, "reader", "auth:*")
	azAdmin(t, s, "POST", smBase+"/providers", smProviderBody(smProvider, idp, extra), 201)
	azAdmin(t, s, "POST", smBase+"/rules", `<rule><name>saml-staff</name>
  <conditions><condition><type>saml</type><attribute>groups</attribute><pattern>staff</pattern></condition></conditions>
  <roles><role identifier="reader"/></roles></rule>`, 201)
	idp.register(t, s.URL(), smProvider)
}

// smClient is a public code client of sco\owner redirecting to ocRedirect.
func smClient(t *testing.T, s *harness.Server, firstParty bool) *oauth2.Config {
	t.Helper()
	fp := "false"
	if firstParty {
		fp = "true"
	}
	body := "<client><first-party>" + fp + "</first-party><public>true</public>" +
		clList("grant-types", "grant-type", "authorization_code", "refresh_token") +
		clList("scopes", "scope", "auth:users:read") + clList("uris", "uri", ocRedirect) + "</client>"
	r := s.Admin("POST", smBase+"/users/owner/clients", body).Must(t, 201)
	id := r.Root().SelectAttrValue("identifier", "")
	if id == "" {
		t.Fatalf("no client id:\n%s", r.Body)
	}
	return &oauth2.Config{ClientID: id, RedirectURL: ocRedirect, Scopes: []string{"auth:users:read"},
		Endpoint: oauth2.Endpoint{AuthURL: s.URL() + "/oauth2/authorize", TokenURL: s.URL() + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInParams}}
}

// smAuthURL is cfg's authorization URL with PKCE, naming the account so
// the page shows its providers.
func smAuthURL(cfg *oauth2.Config, verifier string) string {
	return cfg.AuthCodeURL(ocState, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("account", smAccount))
}

// smRefused checks an ACS answer is an HTML error page, not a redirect.
func smRefused(t *testing.T, what string, p *ocPage) {
	t.Helper()
	if p.status != http.StatusForbidden || !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") ||
		p.header.Get("Location") != "" || !strings.Contains(p.body, `class="error"`) {
		t.Errorf("%s: want a 403 HTML error page, got %d %q %q:\n%s", what, p.status, p.header.Get("Content-Type"),
			p.header.Get("Location"), p.body)
	}
}

// smAudited waits for a sign-in entry with outcome and detail.
func smAudited(t *testing.T, s *harness.Server, since time.Time, outcome, detail string) {
	t.Helper()
	var es []auEntry
	_, ok := harness.Poll(ghxPatience, func() bool {
		es, _ = auAdminList(t, s, "page-size=1000&since="+url.QueryEscape(since.Format(time.RFC3339Nano)))
		for _, e := range es {
			if e.Action == "sign-in" && e.Outcome == outcome && e.Detail == detail {
				return true
			}
		}
		return false
	})
	if !ok {
		t.Errorf("no sign-in entry %s %q; entries:\n%+v", outcome, detail, es)
	}
}

func TestSAMLSignIn(t *testing.T) {
	s, logs := harness.StartLogged(t, harness.Config(t))
	defer func() {
		if t.Failed() || testing.Verbose() {
			t.Logf("server log:\n%s", logs)
		}
	}()
	idp := smNewIdP(t)
	smSetup(t, s, idp, "")
	third := smClient(t, s, false)
	b := ocNewBrowser(t, s)

	t.Run("page-lists-providers", func(t *testing.T) {
		// Without an account the page offers the single sign-on form;
		// choosing the account shows its providers' buttons.
		p := b.get(third.AuthCodeURL(ocState, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if p.status != 200 || !strings.Contains(p.body, `name="sso-account"`) || strings.Contains(p.body, smKey) {
			t.Fatalf("sign-in page without an account:\n%s", p.body)
		}
		p = b.post(p, "sso-account", smAccount, "-step", "")
		if p.status != 200 || p.hidden.Get("step") != "password" || !strings.Contains(p.body, `value="`+smKey+`"`) ||
			!strings.Contains(p.body, "Sign in with Test IdP") {
			t.Fatalf("after choosing account %s: %d\n%s", smAccount, p.status, p.body)
		}
		p = b.post(p, "sso-account", "system", "-step", "")
		if strings.Contains(p.body, smKey) || !strings.Contains(p.body, "has no single sign-on") {
			t.Errorf("account system shows another account's provider:\n%s", p.body)
		}
		// A button for a provider that does not exist is refused.
		if p := b.post(p, "external", "saml:"+smAccount+"/nope", "-step", ""); p.status != 400 {
			t.Errorf("unknown provider's button: %d", p.status)
		}
	})

	t.Run("sp-initiated-to-tokens", func(t *testing.T) {
		since := time.Now()
		verifier := oauth2.GenerateVerifier()
		action, form := smToIdP(t, b, idp, smAuthURL(third, verifier))
		resume := smLocation(t, smPost(t, b, action, form))
		if !strings.HasPrefix(resume, "/oauth2/authorize?external=") {
			t.Fatalf("the ACS sends the browser to %q", resume)
		}
		// Not a first-party client: the consent step, as after a password.
		p := b.get(s.URL() + resume)
		if p.status != 200 || p.hidden.Get("step") != "consent" || !strings.Contains(p.body, smAccount+`\`+smUser) {
			t.Fatalf("after the ACS: %d\n%s", p.status, p.body)
		}
		q := b.post(p, "consent", "allow").redirect(t)
		if q.Get("state") != ocState || q.Get("code") == "" {
			t.Fatalf("redirect %v", q)
		}
		tok, err := third.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("code exchange: %v", err)
		}
		if c := oaClaims(t, tok.AccessToken); c["sub"] != smAccount+`\`+smUser {
			t.Errorf("token subject %v, want the JIT user", c["sub"])
		}
		oaBearer(s, tok.AccessToken, "GET", smBase+"/users").Must(t, 200)
		oaBearer(s, tok.AccessToken, "GET", smBase+"/roles").Must(t, 403) // beyond the token's scope
		// The user was made just in time, with the rule's role and the
		// mapped fields, and linked to the principal.
		u := e2eGet(t, s, smBase+"/users/"+smUser)
		if e := u.Root().SelectElement("email"); e == nil || e.Text() != "alice@example.com" {
			t.Errorf("JIT user:\n%s", u.Body)
		}
		if got := fdIDs(t, s, smBase+"/users/"+smUser+"/roles", "role"); got != "reader" {
			t.Errorf("JIT user's roles %q, want reader", got)
		}
		if fed := e2eGet(t, s, smBase+"/users/"+smUser+"/federated"); !strings.Contains(fed.Body, "/federated/saml/principals/") {
			t.Errorf("no saml principal linked:\n%s", fed.Body)
		}
		smAudited(t, s, since, "success", "saml "+smAccount+"/"+smProvider)
		// The resume link is single use.
		if p := b.get(s.URL() + resume); p.status != 403 {
			t.Errorf("the resume link used twice: %d", p.status)
		}
	})

	t.Run("resume-in-another-browser", func(t *testing.T) {
		action, form := smToIdP(t, b, idp, smAuthURL(third, oauth2.GenerateVerifier()))
		resume := smLocation(t, smPost(t, b, action, form))
		other := ocNewBrowser(t, s)
		p := other.get(s.URL() + resume)
		if p.status != 403 || p.header.Get("Location") != "" || !strings.Contains(p.body, "not started in this browser") {
			t.Errorf("another browser resumed the sign-in: %d %q\n%s", p.status, p.header.Get("Location"), p.body)
		}
	})

	t.Run("start-without-pending", func(t *testing.T) {
		p := b.get(s.URL() + "/saml/" + smAccount + "/" + smProvider + "/login?pending=forged.value")
		if p.status != 400 || p.header.Get("Location") != "" {
			t.Errorf("start with a forged pending request: %d %q", p.status, p.header.Get("Location"))
		}
	})

	other, otherCert, err := samlsp.NewSelfSignedKey("mallory", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// reason is what the server log says (the page never does).
	refusals := []struct {
		name, detail, reason string
		edit                 func(t *testing.T, doc *etree.Document)
	}{
		{"unsigned", "saml: invalid response", "signature element not present", func(t *testing.T, doc *etree.Document) {
			smRemove(doc.Root(), "Signature")
			smRemove(smAssertion(t, doc), "Signature")
		}},
		{"signed-by-another-key", "saml: invalid response", "Could not verify certificate against trusted certs", func(t *testing.T, doc *etree.Document) {
			smResign(t, doc, other, otherCert)
		}},
		{"modified-signed-assertion", "saml: invalid response", "Signature could not be verified", func(t *testing.T, doc *etree.Document) {
			smRemove(doc.Root(), "Signature")
			smAssertion(t, doc).FindElement("./Subject/NameID").SetText("mallory@example.com")
		}},
		{"wrapping", "saml: invalid response", "an unsigned Response must contain exactly one Assertion", func(t *testing.T, doc *etree.Document) {
			smRemove(doc.Root(), "Signature")
			a := smAssertion(t, doc)
			evil := a.Copy()
			smRemove(evil, "Signature")
			evil.CreateAttr("ID", "id-evil")
			evil.FindElement("./Subject/NameID").SetText("mallory@example.com")
			doc.Root().InsertChildAt(a.Index(), evil)
		}},
		{"wrong-audience", "saml: invalid response", "AudienceRestriction does not contain", func(t *testing.T, doc *etree.Document) {
			smAssertion(t, doc).FindElement("./Conditions/AudienceRestriction/Audience").SetText("https://elsewhere.example/sp")
			smResign(t, doc, idp.key, idp.cert)
		}},
		{"expired", "saml: invalid response", "expired on", func(t *testing.T, doc *etree.Document) {
			a := smAssertion(t, doc)
			past := func(d time.Duration) string { return time.Now().Add(-d).UTC().Format(time.RFC3339) }
			a.CreateAttr("IssueInstant", past(20*time.Minute))
			a.FindElement("./Conditions").CreateAttr("NotBefore", past(21*time.Minute))
			a.FindElement("./Conditions").CreateAttr("NotOnOrAfter", past(10*time.Minute))
			a.FindElement("./Subject/SubjectConfirmation/SubjectConfirmationData").CreateAttr("NotOnOrAfter", past(10*time.Minute))
			smResign(t, doc, idp.key, idp.cert)
		}},
	}
	for _, tc := range refusals {
		t.Run("refused-"+tc.name, func(t *testing.T) {
			since, logged := time.Now(), len(logs.String())
			action, form := smToIdP(t, b, idp, smAuthURL(third, oauth2.GenerateVerifier()))
			doc := smDoc(t, form)
			tc.edit(t, doc)
			p := smPost(t, b, action, smWith(t, form, doc))
			smRefused(t, tc.name, p)
			if strings.Contains(p.body, tc.reason) {
				t.Errorf("the page shows the refusal's detail:\n%s", p.body)
			}
			smAudited(t, s, since, "failure", tc.detail)
			if !strings.Contains(logs.String()[logged:], tc.reason) {
				t.Errorf("refused, but not because %q", tc.reason)
			}
			if r := s.Admin("GET", smBase+"/users/mallory", ""); r.Status != 404 {
				t.Errorf("a refused response made user mallory: %d", r.Status)
			}
		})
	}

	t.Run("resigned-by-idp-accepted", func(t *testing.T) {
		// The re-signing above is sound: unchanged but re-signed with the
		// IdP's key, the response is accepted.
		action, form := smToIdP(t, b, idp, smAuthURL(third, oauth2.GenerateVerifier()))
		doc := smDoc(t, form)
		smResign(t, doc, idp.key, idp.cert)
		if loc := smLocation(t, smPost(t, b, action, smWith(t, form, doc))); !strings.HasPrefix(loc, "/oauth2/authorize?external=") {
			t.Errorf("re-signed response: %q", loc)
		}
	})

	t.Run("replayed", func(t *testing.T) {
		// The same response twice: its state is single use.
		since := time.Now()
		action, form := smToIdP(t, b, idp, smAuthURL(third, oauth2.GenerateVerifier()))
		smLocation(t, smPost(t, b, action, form))
		smRefused(t, "replayed response", smPost(t, b, action, form))
		smAudited(t, s, since, "failure", "saml: unknown or expired state")
		// Nor does it pass as unsolicited (without its RelayState): this
		// provider does not allow IdP-initiated sign-in.
		bare := url.Values{"SAMLResponse": form["SAMLResponse"]}
		smRefused(t, "replayed without RelayState", smPost(t, b, action, bare))
	})

	t.Run("no-rule", func(t *testing.T) {
		since := time.Now()
		azAdmin(t, s, "DELETE", smBase+"/rules/saml-staff", "", 204)
		defer azAdmin(t, s, "POST", smBase+"/rules", `<rule><name>saml-staff</name>
  <conditions><condition><type>saml</type><attribute>groups</attribute><pattern>staff</pattern></condition></conditions>
  <roles><role identifier="reader"/></roles></rule>`, 201)
		// A new IdP user nobody admits (alice is linked already).
		hash, _ := bcrypt.GenerateFromPassword([]byte(smPassword), bcrypt.MinCost)
		if err := idp.srv.Store.Put("/users/bob", samlidp.User{Name: "bob", HashedPassword: hash, Email: "bob@example.com"}); err != nil {
			t.Fatal(err)
		}
		nb := ocNewBrowser(t, s)
		smIdPLogin(t, nb, idp, "bob")
		action, form := smToIdP(t, nb, idp, smAuthURL(third, oauth2.GenerateVerifier()))
		p := smPost(t, nb, action, form)
		smRefused(t, "no rule", p)
		if !strings.Contains(p.body, "no rule") {
			t.Errorf("the page does not say why:\n%s", p.body)
		}
		smAudited(t, s, since, "failure", "saml: no rule")
		if r := s.Admin("GET", smBase+"/users/bob", ""); r.Status != 404 {
			t.Errorf("bob was created without a rule: %d", r.Status)
		}
	})
}

// An unsolicited (IdP-initiated) response is accepted only by a provider
// that allows it, lands on a registered redirect URI or the landing URL,
// and is refused when replayed — on the same instance and on a second
// one sharing the etcd.
func TestSAMLIdPInitiatedReplayAcrossInstances(t *testing.T) {
	endpoint := harness.Etcd(t)
	s1 := harness.StartOn(t, endpoint)
	cfg := harness.Config(t)
	cfg.Storage.Etcd.Endpoints = []string{endpoint}
	cfg.OAuth.Issuer = s1.URL() // one issuer: the same SP entity ID and ACS
	s2 := harness.StartWith(t, cfg)
	idp := smNewIdP(t)
	smSetup(t, s1, idp, "<allow-idp-initiated>true</allow-idp-initiated><landing-url>https://app.example/landing</landing-url>")
	smClient(t, s1, true) // registers ocRedirect
	entityID := s1.URL() + "/saml/" + smAccount + "/" + smProvider + "/metadata"
	relay := func(v string) *string { return &v }
	for name, rs := range map[string]*string{"plain": nil, "registered": relay(ocRedirect), "foreign": relay("https://evil.example/cb")} {
		if err := idp.srv.Store.Put("/shortcuts/"+name, samlidp.Shortcut{Name: name, ServiceProviderID: entityID, RelayState: rs}); err != nil {
			t.Fatal(err)
		}
	}
	b := ocNewBrowser(t, s1)
	smIdPLogin(t, b, idp, smUser)
	unsolicited := func(shortcut string) (string, url.Values) {
		t.Helper()
		resp, err := b.c.Get(idp.url + "/login/" + shortcut)
		if err != nil {
			t.Fatal(err)
		}
		return smReadForm(t, resp)
	}

	since := time.Now()
	action, form := unsolicited("plain")
	if loc := smLocation(t, smPost(t, b, action, form)); loc != "https://app.example/landing" {
		t.Errorf("IdP-initiated sign-in lands on %q, want the landing URL", loc)
	}
	smAudited(t, s1, since, "success", "saml "+smAccount+"/"+smProvider)
	// Replayed: on the same instance, and on the other one.
	smRefused(t, "replay on the same instance", smPost(t, b, action, form))
	s2ACS := strings.Replace(action, s1.URL(), s2.URL(), 1)
	smRefused(t, "replay on another instance", smPost(t, b, s2ACS, form))
	smAudited(t, s1, since, "failure", "saml: replayed assertion")

	// A fresh response is accepted by the second instance.
	_, form = unsolicited("plain")
	if loc := smLocation(t, smPost(t, b, s2ACS, form)); loc != "https://app.example/landing" {
		t.Errorf("second instance: lands on %q", loc)
	}
	// RelayState: a registered redirect URI is honoured, another not.
	_, form = unsolicited("registered")
	if loc := smLocation(t, smPost(t, b, action, form)); loc != ocRedirect {
		t.Errorf("RelayState %s (registered): lands on %q", ocRedirect, loc)
	}
	_, form = unsolicited("foreign")
	if loc := smLocation(t, smPost(t, b, action, form)); loc != "https://app.example/landing" {
		t.Errorf("RelayState of no client: lands on %q, want the landing URL", loc)
	}

	// Not allowed any more: refused.
	azAdmin(t, s1, "PUT", smBase+"/providers/"+smProvider, "<provider><allow-idp-initiated>false</allow-idp-initiated></provider>", 204)
	_, form = unsolicited("plain")
	smRefused(t, "IdP-initiated when not allowed", smPost(t, b, action, form))
}
