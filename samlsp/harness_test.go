package samlsp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml/samlidp"
	"golang.org/x/crypto/bcrypt"
)

// memGuard is the test-only in-memory ReplayGuard.
type memGuard struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func newMemGuard() *memGuard { return &memGuard{seen: map[string]time.Time{}} }

func (g *memGuard) Remember(_ context.Context, id string, until time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.seen[id]; ok {
		return fmt.Errorf("assertion %q: %w", id, ErrReplay)
	}
	g.seen[id] = until
	return nil
}

func (g *memGuard) until(id string) (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t, ok := g.seen[id]
	return t, ok
}

// Keys are slow to generate; each role gets one per test binary.
type keyPair struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

var testKeys = sync.OnceValue(func() map[string]keyPair {
	m := map[string]keyPair{}
	for _, name := range []string{"sp", "idp", "other"} {
		key, cert, err := NewSelfSignedKey(name, time.Now(), 24*time.Hour)
		if err != nil {
			panic(err)
		}
		m[name] = keyPair{key, cert}
	}
	return m
})

const (
	testUser     = "alice"
	testPassword = "wonderland"
	spBase       = "https://gatehouse.example"
)

var testMapping = Mapping{
	Name:     "urn:oid:0.9.2342.19200300.100.1.1", // uid, by raw name
	Email:    "mail",                              // by FriendlyName
	FullName: "cn",
	Groups:   "eduPersonAffiliation",
}

// testIdP is crewjam's samlidp running in-process with one user.
type testIdP struct {
	srv      *samlidp.Server
	ts       *httptest.Server
	metadata []byte
}

func newTestIdP(t testing.TB) *testIdP {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	u, err := url.Parse("http://" + ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	kp := testKeys()["idp"]
	srv, err := samlidp.New(samlidp.Options{
		URL:         *u,
		Key:         kp.key,
		Certificate: kp.cert,
		Store:       &samlidp.MemoryStore{},
		Logger:      log.New(io.Discard, "", 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(ts.Close)

	hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	err = srv.Store.Put("/users/"+testUser, samlidp.User{
		Name:           testUser,
		HashedPassword: hash,
		Groups:         []string{"admins", "printadmins"},
		Email:          "alice@example.com",
		CommonName:     "Alice Liddell",
		GivenName:      "Alice",
		Surname:        "Liddell",
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(ts.URL + "/metadata")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	md, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("idp metadata: %d %v", resp.StatusCode, err)
	}
	return &testIdP{srv: srv, ts: ts, metadata: md}
}

// register registers the SP's metadata with the IdP, as its admin API does.
// Without encryption, the encryption KeyDescriptor is removed first so
// that the IdP sends plaintext (still signed) assertions tests can edit.
func (idp *testIdP) register(t testing.TB, sp *SP, encryption bool) {
	t.Helper()
	md, err := sp.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	if !encryption {
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(md); err != nil {
			t.Fatal(err)
		}
		for _, kd := range doc.FindElements("//KeyDescriptor[@use='encryption']") {
			kd.Parent().RemoveChild(kd)
		}
		if md, err = doc.WriteToBytes(); err != nil {
			t.Fatal(err)
		}
	}
	name := strings.NewReplacer(":", "_", "/", "_", ".", "_").Replace(sp.sp.EntityID)
	rec := httptest.NewRecorder()
	idp.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/services/"+name, bytes.NewReader(md)))
	if rec.Code != http.StatusNoContent {
		t.Fatalf("register SP: %d %s", rec.Code, rec.Body)
	}
}

// shortcut adds an IdP-initiated sign-in link for sp at /login/{name}.
func (idp *testIdP) shortcut(t testing.TB, name string, sp *SP) {
	t.Helper()
	err := idp.srv.Store.Put("/shortcuts/"+name, samlidp.Shortcut{Name: name, ServiceProviderID: sp.sp.EntityID})
	if err != nil {
		t.Fatal(err)
	}
}

// newSP builds an SP for provider p of account acme, trusting idp.
func newSP(t testing.TB, idp *testIdP, p string, edit func(*Config)) (*SP, *memGuard) {
	t.Helper()
	kp := testKeys()["sp"]
	guard := newMemGuard()
	cfg := Config{
		EntityID:    spBase + "/saml/acme/" + p + "/metadata",
		ACSURL:      spBase + "/saml/acme/" + p + "/acs",
		Key:         kp.key,
		Certificate: kp.cert,
		IDPMetadata: idp.metadata,
		Mapping:     testMapping,
		Replay:      guard,
	}
	if edit != nil {
		edit(&cfg)
	}
	sp, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return sp, guard
}

func newBrowser(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second}
}

// login signs the browser in at the IdP (POST /login), so that later
// AuthnRequests are answered from the IdP session.
func (idp *testIdP) login(t testing.TB, browser *http.Client) {
	t.Helper()
	resp, err := browser.PostForm(idp.ts.URL+"/login", url.Values{"user": {testUser}, "password": {testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("idp login: %d", resp.StatusCode)
	}
}

var (
	formActionRE = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	hiddenRE     = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)"`)
)

// htmlForm is a form read from a samlidp page.
type htmlForm struct {
	action string
	values url.Values
}

func readForm(t testing.TB, resp *http.Response) htmlForm {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: status %d: %s", resp.Request.URL, resp.StatusCode, body)
	}
	m := formActionRE.FindSubmatch(body)
	if m == nil {
		t.Fatalf("%s: no form in %s", resp.Request.URL, body)
	}
	f := htmlForm{action: html.UnescapeString(string(m[1])), values: url.Values{}}
	for _, h := range hiddenRE.FindAllSubmatch(body, -1) {
		f.values.Set(html.UnescapeString(string(h[1])), html.UnescapeString(string(h[2])))
	}
	return f
}

// signIn drives an SP-initiated sign-in up to the IdP's auto-submitting
// form: AuthnRequest redirect, the IdP login form when the browser has no
// IdP session, and the form carrying SAMLResponse. It returns that form
// and the request ID.
func signIn(t testing.TB, idp *testIdP, sp *SP, browser *http.Client, relayState string) (htmlForm, string) {
	t.Helper()
	redirect, requestID, err := sp.AuthnRequest(relayState)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := browser.Get(redirect)
	if err != nil {
		t.Fatal(err)
	}
	form := readForm(t, resp)
	if form.values.Get("SAMLRequest") != "" { // the login form
		form.values.Set("user", testUser)
		form.values.Set("password", testPassword)
		resp, err := browser.PostForm(form.action, form.values)
		if err != nil {
			t.Fatal(err)
		}
		form = readForm(t, resp)
	}
	if form.values.Get("SAMLResponse") == "" {
		t.Fatalf("no SAMLResponse in form %v", form.values)
	}
	if form.action != sp.acsURL.String() {
		t.Fatalf("form posts to %s, want ACS %s", form.action, sp.acsURL.String())
	}
	return form, requestID
}

// idpInitiated follows the IdP-initiated link of a signed-in browser.
func idpInitiated(t testing.TB, idp *testIdP, browser *http.Client, shortcut string) htmlForm {
	t.Helper()
	resp, err := browser.Get(idp.ts.URL + "/login/" + shortcut)
	if err != nil {
		t.Fatal(err)
	}
	return readForm(t, resp)
}

// acsHandler is the test ACS: it parses the posted response and reports
// the result to got.
func acsHandler(sp *SP, requestIDs []string, got func(Identity, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := sp.ParseResponse(r.Context(), r, requestIDs)
		got(id, err)
		if err != nil {
			http.Error(w, "sign-in failed", http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// post hands form to the ACS of sp in-process and returns ParseResponse's
// result.
func post(t testing.TB, sp *SP, form url.Values, requestIDs ...string) (Identity, error) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, sp.acsURL.String(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var (
		id  Identity
		err error
	)
	acsHandler(sp, requestIDs, func(i Identity, e error) { id, err = i, e }).ServeHTTP(httptest.NewRecorder(), req)
	return id, err
}

// responseDoc decodes the SAMLResponse of form.
func responseDoc(t testing.TB, form url.Values) *etree.Document {
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

// withResponse returns a copy of form carrying doc as SAMLResponse.
func withResponse(t testing.TB, form url.Values, doc *etree.Document) url.Values {
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

// rsaSigner hides an RSA key behind crypto.Signer, as a KMS key would be.
type rsaSigner struct{ k *rsa.PrivateKey }

func (s rsaSigner) Public() crypto.PublicKey { return s.k.Public() }
func (s rsaSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.k.Sign(r, digest, opts)
}

func xmlUnmarshal(data []byte, v any) error { return xml.Unmarshal(data, v) }
