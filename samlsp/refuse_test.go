package samlsp

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
)

func removeChild(el *etree.Element, tag string) {
	if c := el.SelectElement(tag); c != nil {
		el.RemoveChild(c)
	}
}

func assertionOf(t *testing.T, doc *etree.Document) *etree.Element {
	t.Helper()
	a := doc.Root().SelectElement("Assertion")
	if a == nil {
		t.Fatal("response has no plaintext Assertion")
	}
	return a
}

func setNameID(t *testing.T, assertion *etree.Element, value string) {
	t.Helper()
	n := assertion.FindElement("./Subject/NameID")
	if n == nil {
		t.Fatal("assertion has no NameID")
	}
	n.SetText(value)
}

// evilCopy is an unsigned copy of the signed assertion, for another user.
func evilCopy(t *testing.T, assertion *etree.Element) *etree.Element {
	t.Helper()
	evil := assertion.Copy()
	removeChild(evil, "Signature")
	evil.CreateAttr("ID", "id-evil")
	setNameID(t, evil, "mallory@example.com")
	return evil
}

// Every tampered response is refused with ErrInvalidResponse, while the
// untouched one it was made from is accepted.
func TestTamperedResponsesRefused(t *testing.T) {
	idp := newTestIdP(t)
	sp, _ := newSP(t, idp, "plain", nil)
	idp.register(t, sp, false)
	browser := newBrowser(t)
	form, requestID := signIn(t, idp, sp, browser, "rs")

	doc := responseDoc(t, form.values)
	if doc.Root().SelectElement("Signature") == nil || assertionOf(t, doc).SelectElement("Signature") == nil {
		t.Fatal("samlidp did not sign both Response and Assertion")
	}

	cases := []struct {
		name   string
		tamper func(t *testing.T, resp *etree.Element)
	}{
		{"unsigned (both signatures stripped)", func(t *testing.T, resp *etree.Element) {
			removeChild(resp, "Signature")
			removeChild(resp.SelectElement("Assertion"), "Signature")
		}},
		{"NameID changed under both signatures", func(t *testing.T, resp *etree.Element) {
			setNameID(t, resp.SelectElement("Assertion"), "mallory@example.com")
		}},
		{"NameID changed, assertion signature only", func(t *testing.T, resp *etree.Element) {
			removeChild(resp, "Signature")
			setNameID(t, resp.SelectElement("Assertion"), "mallory@example.com")
		}},
		{"attribute changed, assertion signature only", func(t *testing.T, resp *etree.Element) {
			removeChild(resp, "Signature")
			changed := false
			for _, attr := range resp.FindElements("./Assertion/AttributeStatement/Attribute[@FriendlyName='eduPersonAffiliation']/AttributeValue") {
				attr.SetText("superadmins")
				changed = true
			}
			if !changed {
				t.Fatal("no group attribute to change")
			}
		}},
		{"wrapping: unsigned assertion before the signed one", func(t *testing.T, resp *etree.Element) {
			removeChild(resp, "Signature")
			a := resp.SelectElement("Assertion")
			resp.InsertChildAt(a.Index(), evilCopy(t, a))
		}},
		{"wrapping: unsigned assertion after the signed one", func(t *testing.T, resp *etree.Element) {
			removeChild(resp, "Signature")
			a := resp.SelectElement("Assertion")
			resp.AddChild(evilCopy(t, a))
		}},
		{"wrapping: signed assertion moved into Extensions", func(t *testing.T, resp *etree.Element) {
			removeChild(resp, "Signature")
			a := resp.SelectElement("Assertion")
			evil := evilCopy(t, a)
			idx := a.Index()
			resp.RemoveChild(a)
			ext := etree.NewElement("samlp:Extensions")
			ext.AddChild(a)
			resp.InsertChildAt(0, ext)
			resp.InsertChildAt(idx+1, evil)
		}},
		{"wrapping: signed assertion nested in the unsigned one", func(t *testing.T, resp *etree.Element) {
			removeChild(resp, "Signature")
			a := resp.SelectElement("Assertion")
			evil := evilCopy(t, a)
			resp.RemoveChild(a)
			evil.AddChild(a)
			resp.AddChild(evil)
		}},
		{"wrapping: extra assertion under a signed Response", func(t *testing.T, resp *etree.Element) {
			a := resp.SelectElement("Assertion")
			resp.InsertChildAt(a.Index(), evilCopy(t, a))
		}},
		{"wrapping: signed Response ID pointed at by a copy", func(t *testing.T, resp *etree.Element) {
			// The original, signed Response moves inside a new one whose
			// assertion is the attacker's.
			orig := resp.Copy()
			removeChild(resp, "Signature")
			a := resp.SelectElement("Assertion")
			evil := evilCopy(t, a)
			resp.RemoveChild(a)
			resp.AddChild(evil)
			resp.CreateAttr("ID", "id-evil-response")
			ext := etree.NewElement("samlp:Extensions")
			ext.AddChild(orig)
			resp.InsertChildAt(0, ext)
		}},
		{"signature value replaced", func(t *testing.T, resp *etree.Element) {
			removeChild(resp, "Signature")
			sv := resp.FindElement("./Assertion/Signature/SignatureValue")
			raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(sv.Text()), ""))
			if err != nil {
				t.Fatal(err)
			}
			raw[0] ^= 1
			sv.SetText(base64.StdEncoding.EncodeToString(raw))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := doc.Copy()
			tc.tamper(t, d.Root())
			fresh, _ := newSP(t, idp, "plain", nil)
			id, err := post(t, fresh, withResponse(t, form.values, d), requestID)
			if !errors.Is(err, ErrInvalidResponse) {
				t.Fatalf("tampered response: identity %+v, err %v", id, err)
			}
			t.Logf("refused: %v", err)
			var ire *saml.InvalidResponseError
			if errors.As(err, &ire) {
				t.Error("error chain holds crewjam's InvalidResponseError, which carries the response XML")
			}
			if strings.Contains(err.Error(), "mallory") {
				t.Errorf("error echoes assertion content: %v", err)
			}
		})
	}

	// The controls: the untouched response passes through the same path,
	// and so does it with only the assertion signed.
	fresh, _ := newSP(t, idp, "plain", nil)
	id, err := post(t, fresh, withResponse(t, form.values, doc), requestID)
	if err != nil {
		t.Fatalf("untouched response refused: %v", err)
	}
	checkAlice(t, id)

	// A comment inside the signed NameID does not shorten it: the
	// subject is read from the canonical bytes the signature covers.
	commented := doc.Copy()
	removeChild(commented.Root(), "Signature")
	n := commented.Root().FindElement("./Assertion/Subject/NameID")
	n.SetText("alice@")
	n.CreateComment("")
	n.CreateText("example.com")
	fresh, _ = newSP(t, idp, "plain", nil)
	if id, err := post(t, fresh, withResponse(t, form.values, commented), requestID); err != nil || id.Subject != "alice@example.com" {
		t.Fatalf("NameID with a comment: subject %q, err %v", id.Subject, err)
	}

	assertionSigned := doc.Copy()
	removeChild(assertionSigned.Root(), "Signature")
	fresh, _ = newSP(t, idp, "plain", nil)
	id, err = post(t, fresh, withResponse(t, form.values, assertionSigned), requestID)
	if err != nil {
		t.Fatalf("response with a signed assertion only refused: %v", err)
	}
	checkAlice(t, id)
}

func TestRefusedResponses(t *testing.T) {
	idp := newTestIdP(t)
	sp, _ := newSP(t, idp, "plain", nil)
	idp.register(t, sp, false)
	browser := newBrowser(t)
	form, requestID := signIn(t, idp, sp, browser, "rs")

	otherCert := base64.StdEncoding.EncodeToString(testKeys()["other"].cert.Raw)
	idpCert := base64.StdEncoding.EncodeToString(testKeys()["idp"].cert.Raw)
	if !strings.Contains(string(idp.metadata), idpCert) {
		t.Fatal("IdP metadata does not hold the IdP certificate")
	}

	notOnOrAfter, err := time.Parse(time.RFC3339, responseDoc(t, form.values).FindElement("//Conditions").SelectAttrValue("NotOnOrAfter", ""))
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		edit func(*Config)
		ids  []string
	}{
		{"signed by a key other than the metadata's", func(c *Config) {
			c.IDPMetadata = []byte(strings.ReplaceAll(string(idp.metadata), idpCert, otherCert))
		}, []string{requestID}},
		{"wrong audience", func(c *Config) {
			c.EntityID = spBase + "/saml/acme/other/metadata" // same ACS URL
		}, []string{requestID}},
		{"wrong recipient", func(c *Config) {
			c.ACSURL = spBase + "/saml/acme/other/acs"
		}, []string{requestID}},
		{"expired", func(c *Config) {
			at := notOnOrAfter.Add(ClockSkew + time.Second)
			c.Now = func() time.Time { return at }
		}, []string{requestID}},
		{"not yet valid", func(c *Config) {
			at := time.Now().Add(-time.Hour)
			c.Now = func() time.Time { return at }
		}, []string{requestID}},
		{"InResponseTo of another request", nil, []string{"id-other"}},
		{"no pending request", nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			refusing, guard := newSP(t, idp, "plain", tc.edit)
			if _, err := post(t, refusing, form.values, tc.ids...); !errors.Is(err, ErrInvalidResponse) {
				t.Fatalf("err = %v, want ErrInvalidResponse", err)
			} else {
				t.Logf("refused: %v", err)
			}
			if len(guard.seen) != 0 {
				t.Error("a refused assertion was remembered")
			}
		})
	}

	t.Run("replayed", func(t *testing.T) {
		fresh, guard := newSP(t, idp, "plain", nil)
		if _, err := post(t, fresh, form.values, requestID); err != nil {
			t.Fatal(err)
		}
		assertionID := assertionOf(t, responseDoc(t, form.values)).SelectAttrValue("ID", "")
		until, ok := guard.until(assertionID)
		if !ok || !until.Equal(notOnOrAfter.Add(ClockSkew)) {
			t.Errorf("assertion remembered until %v (%v), want NotOnOrAfter+skew %v", until, ok, notOnOrAfter.Add(ClockSkew))
		}
		if _, err := post(t, fresh, form.values, requestID); !errors.Is(err, ErrReplay) {
			t.Fatalf("second post: err = %v, want ErrReplay", err)
		}
	})

	t.Run("replayed concurrently", func(t *testing.T) {
		fresh, _ := newSP(t, idp, "plain", nil)
		const n = 8
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := post(t, fresh, form.values, requestID)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		accepted := 0
		for err := range errs {
			switch {
			case err == nil:
				accepted++
			case !errors.Is(err, ErrReplay):
				t.Errorf("err = %v, want ErrReplay", err)
			}
		}
		if accepted != 1 {
			t.Fatalf("accepted %d times, want once", accepted)
		}
	})
}

func TestBindingRefusals(t *testing.T) {
	idp := newTestIdP(t)
	sp, _ := newSP(t, idp, "plain", nil)
	idp.register(t, sp, false)
	form, requestID := signIn(t, idp, sp, newBrowser(t), "")

	for _, extra := range []string{"SAMLart", "SigAlg", "Signature"} {
		v := withResponse(t, form.values, responseDoc(t, form.values))
		v.Set(extra, "x")
		if _, err := post(t, sp, v, requestID); !errors.Is(err, ErrInvalidResponse) {
			t.Errorf("form with %s: err = %v", extra, err)
		}
	}
	for name, r := range map[string]*http.Request{
		"GET":                   httptest.NewRequest(http.MethodGet, sp.acsURL.String()+"?"+form.values.Encode(), nil),
		"SAMLResponse in query": httptest.NewRequest(http.MethodPost, sp.acsURL.String()+"?"+form.values.Encode(), nil),
	} {
		if _, err := sp.ParseResponse(context.Background(), r, []string{requestID}); !errors.Is(err, ErrInvalidResponse) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	for name, v := range map[string]url.Values{
		"empty":         {},
		"not base64":    {"SAMLResponse": {"%%%"}},
		"not XML":       {"SAMLResponse": {base64.StdEncoding.EncodeToString([]byte("hello"))}},
		"too large":     {"SAMLResponse": {strings.Repeat("A", MaxResponseBytes*2)}},
		"wrong root":    {"SAMLResponse": {base64.StdEncoding.EncodeToString([]byte("<x/>"))}},
		"doctype/XXE":   {"SAMLResponse": {base64.StdEncoding.EncodeToString([]byte(`<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><r>&e;</r>`))}},
		"truncated XML": {"SAMLResponse": {base64.StdEncoding.EncodeToString([]byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"`))}},
	} {
		if _, err := post(t, sp, v, requestID); !errors.Is(err, ErrInvalidResponse) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

type failingGuard struct{}

var errGuardDown = errors.New("etcd unavailable")

func (failingGuard) Remember(context.Context, string, time.Time) error { return errGuardDown }

// A replay guard that cannot record the ID refuses the sign-in; the error
// is the guard's, not a protocol refusal.
func TestReplayGuardFailure(t *testing.T) {
	idp := newTestIdP(t)
	sp, _ := newSP(t, idp, "plain", func(c *Config) { c.Replay = failingGuard{} })
	idp.register(t, sp, false)
	form, requestID := signIn(t, idp, sp, newBrowser(t), "")
	_, err := post(t, sp, form.values, requestID)
	if !errors.Is(err, errGuardDown) || errors.Is(err, ErrInvalidResponse) || errors.Is(err, ErrReplay) {
		t.Fatalf("err = %v, want the guard's error only", err)
	}
}
