package samlsp

import (
	"crypto"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

func checkAlice(t *testing.T, id Identity) {
	t.Helper()
	if id.Subject != "alice@example.com" {
		t.Errorf("Subject = %q, want alice@example.com", id.Subject)
	}
	if id.SessionIndex == "" {
		t.Error("SessionIndex is empty")
	}
	if id.Name != "alice" || id.Email != "alice@example.com" || id.FullName != "Alice Liddell" {
		t.Errorf("mapped Name/Email/FullName = %q/%q/%q", id.Name, id.Email, id.FullName)
	}
	if !slices.Equal(id.Groups, []string{"admins", "printadmins"}) {
		t.Errorf("Groups = %q", id.Groups)
	}
	if got := id.Attributes["urn:oid:2.5.4.42"]; !slices.Equal(got, []string{"Alice"}) {
		t.Errorf("raw attribute givenName = %q", got)
	}
}

// The whole SP-initiated sign-in through a real browser-like client: an
// encrypted, signed assertion posted to an ACS server.
func TestSPInitiatedSignIn(t *testing.T) {
	idp := newTestIdP(t)

	acs := httptest.NewUnstartedServer(nil)
	acsBase := "http://" + acs.Listener.Addr().String()
	sp, guard := newSP(t, idp, "corp", func(c *Config) {
		c.EntityID = acsBase + "/saml/acme/corp/metadata"
		c.ACSURL = acsBase + "/saml/acme/corp/acs"
	})
	idp.register(t, sp, true)

	var (
		mu      sync.Mutex
		pending []string
		got     Identity
		gotErr  error
		calls   int
	)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /saml/acme/corp/acs", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ids := slices.Clone(pending)
		mu.Unlock()
		acsHandler(sp, ids, func(id Identity, err error) {
			mu.Lock()
			defer mu.Unlock()
			got, gotErr, calls = id, err, calls+1
		}).ServeHTTP(w, r)
	})
	acs.Config.Handler = mux
	acs.Start()
	t.Cleanup(acs.Close)

	browser := newBrowser(t)
	form, requestID := signIn(t, idp, sp, browser, "state-1")
	mu.Lock()
	pending = []string{"id-unrelated", requestID}
	mu.Unlock()

	if responseDoc(t, form.values).FindElement("//EncryptedAssertion") == nil {
		t.Fatal("IdP did not encrypt the assertion to the SP metadata's key")
	}
	if form.values.Get("RelayState") != "state-1" {
		t.Errorf("RelayState = %q", form.values.Get("RelayState"))
	}

	resp, err := browser.PostForm(form.action, form.values)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 || gotErr != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("ACS: calls %d, status %d, err %v", calls, resp.StatusCode, gotErr)
	}
	checkAlice(t, got)
	if len(guard.seen) != 1 {
		t.Errorf("replay guard holds %d IDs, want 1", len(guard.seen))
	}
}

func TestSignedAuthnRequest(t *testing.T) {
	t.Run("rsa key", func(t *testing.T) { testSignedAuthnRequest(t, nil) })
	// A key behind crypto.Signer (a KMS) signs, but cannot decrypt, so the
	// metadata offers no encryption key and assertions come in plaintext.
	t.Run("opaque signer", func(t *testing.T) {
		testSignedAuthnRequest(t, rsaSigner{testKeys()["sp"].key})
	})
}

func testSignedAuthnRequest(t *testing.T, key crypto.Signer) {
	idp := newTestIdP(t)
	sp, _ := newSP(t, idp, "signed", func(c *Config) {
		c.SignRequests = true
		if key != nil {
			c.Key = key
		}
	})
	idp.register(t, sp, true)

	md, err := sp.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), `AuthnRequestsSigned="true"`) || !strings.Contains(string(md), `use="signing"`) {
		t.Fatalf("metadata does not announce signed requests:\n%s", md)
	}

	redirect, _, err := sp.AuthnRequest("s")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(redirect)
	if err != nil {
		t.Fatal(err)
	}
	if u.Query().Get("Signature") == "" || u.Query().Get("SigAlg") == "" {
		t.Fatalf("redirect is not signed: %s", redirect)
	}

	browser := newBrowser(t)
	idp.login(t, browser)

	// The IdP checks the signature: a changed RelayState is refused.
	q := u.Query()
	q.Set("RelayState", "t")
	tampered := *u
	tampered.RawQuery = q.Encode()
	resp, err := browser.Get(tampered.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatal("IdP accepted an AuthnRequest whose signature does not match")
	}

	form, requestID := signIn(t, idp, sp, browser, "s")
	if encrypted := responseDoc(t, form.values).FindElement("//EncryptedAssertion") != nil; encrypted != (key == nil) {
		t.Errorf("assertion encrypted = %v, want %v", encrypted, key == nil)
	}
	id, err := post(t, sp, form.values, requestID)
	if err != nil {
		t.Fatal(err)
	}
	checkAlice(t, id)
}

func TestRelayStateLimit(t *testing.T) {
	idp := newTestIdP(t)
	sp, _ := newSP(t, idp, "corp", nil)
	if _, _, err := sp.AuthnRequest(strings.Repeat("x", 81)); err == nil {
		t.Fatal("an 81-byte RelayState was accepted")
	}
	if _, _, err := sp.AuthnRequest(strings.Repeat("x", 80)); err != nil {
		t.Fatal(err)
	}
}

func TestIdPInitiated(t *testing.T) {
	idp := newTestIdP(t)
	refusing, _ := newSP(t, idp, "corp", nil)
	allowing, _ := newSP(t, idp, "corp", func(c *Config) { c.AllowIdPInitiated = true })
	idp.register(t, refusing, false) // same entity ID for both
	idp.shortcut(t, "corp", refusing)

	browser := newBrowser(t)
	idp.login(t, browser)

	form := idpInitiated(t, idp, browser, "corp")
	if responseDoc(t, form.values).Root().SelectAttr("InResponseTo") != nil {
		t.Fatal("IdP-initiated response carries InResponseTo")
	}
	for _, ids := range [][]string{nil, {"id-pending"}} {
		if _, err := post(t, refusing, form.values, ids...); !errors.Is(err, ErrInvalidResponse) {
			t.Fatalf("IdP-initiated response with AllowIdPInitiated off and pending %q: err = %v", ids, err)
		}
	}
	id, err := post(t, allowing, form.values)
	if err != nil {
		t.Fatalf("IdP-initiated response with AllowIdPInitiated on: %v", err)
	}
	checkAlice(t, id)

	// A response to an SP-initiated request is not an IdP-initiated one:
	// with no pending request it is refused even when allowed.
	spForm, _ := signIn(t, idp, allowing, browser, "")
	if _, err := post(t, allowing, spForm.values); !errors.Is(err, ErrInvalidResponse) {
		t.Fatalf("solicited response accepted without its request ID: %v", err)
	}
}
