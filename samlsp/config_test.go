package samlsp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"
	crewjamsp "github.com/crewjam/saml/samlsp"
)

func TestConfigValidate(t *testing.T) {
	err := Config{}.Validate()
	if err == nil {
		t.Fatal("empty config accepted")
	}
	for _, key := range []string{"entity-id", "acs-url", "key", "metadata", "replay"} {
		if !strings.Contains(err.Error(), key+":") {
			t.Errorf("error does not name %s: %v", key, err)
		}
	}

	idp := newTestIdP(t)
	good := Config{
		EntityID:    spBase + "/saml/acme/p/metadata",
		ACSURL:      spBase + "/saml/acme/p/acs",
		Key:         testKeys()["sp"].key,
		Certificate: testKeys()["sp"].cert,
		IDPMetadata: idp.metadata,
		Replay:      newMemGuard(),
	}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(*Config){
		"entity-id":   func(c *Config) { c.EntityID = "/relative" },
		"acs-url":     func(c *Config) { c.ACSURL = "ftp://x/acs" },
		"certificate": func(c *Config) { c.Certificate = testKeys()["other"].cert },
		"metadata": func(c *Config) {
			c.IDPMetadata = []byte("<EntityDescriptor xmlns=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"x\"/>")
		},
		"metadata:": func(c *Config) { c.IDPEntityID = "https://not-this-idp.example" },
	}
	for key, edit := range cases {
		c := good
		edit(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), strings.TrimSuffix(key, ":")+":") {
			t.Errorf("%s: err = %v", key, err)
		}
		if _, err := New(c); err == nil {
			t.Errorf("%s: New accepted the config", key)
		}
	}
}

func TestMetadata(t *testing.T) {
	idp := newTestIdP(t)
	sp, _ := newSP(t, idp, "corp", nil)
	md, err := sp.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	var ed saml.EntityDescriptor
	if err := xmlUnmarshal(md, &ed); err != nil {
		t.Fatal(err)
	}
	if ed.EntityID != spBase+"/saml/acme/corp/metadata" {
		t.Errorf("entityID = %q", ed.EntityID)
	}
	sso := ed.SPSSODescriptors[0]
	if len(sso.AssertionConsumerServices) != 1 || sso.AssertionConsumerServices[0].Binding != saml.HTTPPostBinding ||
		sso.AssertionConsumerServices[0].Location != spBase+"/saml/acme/corp/acs" {
		t.Errorf("ACS = %+v, want one HTTP-POST at the ACS URL", sso.AssertionConsumerServices)
	}
	uses := map[string]bool{}
	for _, kd := range sso.KeyDescriptors {
		uses[kd.Use] = true
	}
	if !uses["encryption"] || uses["signing"] {
		t.Errorf("key uses = %v, want encryption only when requests are unsigned", uses)
	}
	if *sso.AuthnRequestsSigned || !*sso.WantAssertionsSigned {
		t.Errorf("AuthnRequestsSigned=%v WantAssertionsSigned=%v", *sso.AuthnRequestsSigned, *sso.WantAssertionsSigned)
	}

	// A key that cannot decrypt is not offered for encryption.
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signerOnly, _ := newSP(t, idp, "corp", func(c *Config) {
		c.Key = rsaSigner{testKeys()["sp"].key}
		c.SignRequests = true
	})
	md, err = signerOnly.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(md), `use="encryption"`) || !strings.Contains(string(md), `use="signing"`) {
		t.Errorf("opaque signer metadata:\n%s", md)
	}
	c := Config{Key: ecKey}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "certificate:") {
		t.Errorf("EC key without certificate: %v", err)
	}
}

func TestMultiEntityMetadata(t *testing.T) {
	idp := newTestIdP(t)
	entity := string(idp.metadata)
	if i := strings.Index(entity, "?>"); i >= 0 {
		entity = entity[i+2:]
	}
	idpID := idp.ts.URL + "/metadata"
	decoy := strings.ReplaceAll(entity, `entityID="`+idpID+`"`, `entityID="https://decoy.example/idp"`)
	aggregate := []byte(`<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata">` + decoy + entity + `</EntitiesDescriptor>`)

	if _, err := New(Config{
		EntityID: spBase + "/m", ACSURL: spBase + "/a", Key: testKeys()["sp"].key, Certificate: testKeys()["sp"].cert,
		IDPMetadata: aggregate, Replay: newMemGuard(),
	}); err == nil {
		t.Fatal("aggregate with two IdPs accepted without an IdP entity ID")
	}
	sp, _ := newSP(t, idp, "plain", func(c *Config) {
		c.IDPMetadata = aggregate
		c.IDPEntityID = idpID
	})
	if sp.sp.IDPMetadata.EntityID != idpID {
		t.Fatalf("picked %q", sp.sp.IDPMetadata.EntityID)
	}
	idp.register(t, sp, false)
	form, requestID := signIn(t, idp, sp, newBrowser(t), "")
	id, err := post(t, sp, form.values, requestID)
	if err != nil {
		t.Fatal(err)
	}
	checkAlice(t, id)
}

func TestFetchMetadata(t *testing.T) {
	idp := newTestIdP(t)
	ctx := context.Background()
	got, err := FetchMetadata(ctx, nil, idp.ts.URL+"/metadata", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := crewjamsp.ParseMetadata(got); err != nil {
		t.Fatalf("fetched metadata does not parse: %v", err)
	}

	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 4096)))
	}))
	t.Cleanup(big.Close)
	if _, err := FetchMetadata(ctx, nil, big.URL, 0, 1024); !errors.Is(err, ErrMetadataTooLarge) {
		t.Errorf("oversized: err = %v", err)
	}

	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(hang.Close)
	if _, err := FetchMetadata(ctx, nil, hang.URL, 50*time.Millisecond, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hanging server: err = %v", err)
	}

	redirect := httptest.NewServer(http.RedirectHandler(idp.ts.URL+"/metadata", http.StatusFound))
	t.Cleanup(redirect.Close)
	if _, err := FetchMetadata(ctx, nil, redirect.URL, 0, 0); err == nil {
		t.Error("redirect followed by the default client")
	}
	if _, err := FetchMetadata(ctx, nil, "file:///etc/passwd", 0, 0); err == nil {
		t.Error("file URL fetched")
	}
}
