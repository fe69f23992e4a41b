package samlsignin

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"gatehouse/federation"
	"gatehouse/oauth"
	"gatehouse/samlsp"
	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// fakeOAuth is the OAuth seam without a provider.
type fakeOAuth struct{}

func (fakeOAuth) PendingKey(sealed string) (string, bool) { return sealed, sealed != "" }
func (fakeOAuth) CompleteExternal(context.Context, string, string, string) (string, error) {
	return "/oauth2/authorize?external=x", nil
}

// clock is a movable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const idpMetadata = `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example/metadata">` +
	`<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
	`<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/sso"/>` +
	`</md:IDPSSODescriptor></md:EntityDescriptor>`

func newService(t *testing.T, s *storage.Store, now func() time.Time) *Service {
	t.Helper()
	svc, err := New(Options{Store: s, Issuer: "https://gh.example/", OAuth: fakeOAuth{}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func putProvider(t *testing.T, s *storage.Store, a, name string, p storage.Provider) {
	t.Helper()
	if _, err := s.Update(storagetest.Ctx(t), func(_ storage.View, tx *storage.Txn) error {
		tx.PutMember(storage.Providers(a), name, p.Encode())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestMaxIssueDelayAllowsTheSkew(t *testing.T) {
	if saml.MaxIssueDelay < samlsp.ClockSkew+90*time.Second {
		t.Errorf("saml.MaxIssueDelay = %s: an IdP %s behind would be refused", saml.MaxIssueDelay, samlsp.ClockSkew)
	}
}

// The SP key is made once per installation: two instances on one etcd
// publish the same certificate, and it survives a restart.
func TestSPKeyOncePerInstallation(t *testing.T) {
	endpoint := storagetest.Etcd(t)
	s1, s2 := storagetest.Open(t, endpoint), storagetest.Open(t, endpoint)
	ctx := storagetest.Ctx(t)
	var (
		wg     sync.WaitGroup
		c1, c2 []byte
		e1, e2 error
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		c, err := newService(t, s1, nil).Certificate(ctx)
		if err == nil {
			c1 = c.Raw
		}
		e1 = err
	}()
	go func() {
		defer wg.Done()
		c, err := newService(t, s2, nil).Certificate(ctx)
		if err == nil {
			c2 = c.Raw
		}
		e2 = err
	}()
	wg.Wait()
	if e1 != nil || e2 != nil {
		t.Fatal(e1, e2)
	}
	if !slices.Equal(c1, c2) {
		t.Error("two instances made different SP keys")
	}
	c3, err := newService(t, storagetest.Open(t, endpoint), nil).Certificate(ctx)
	if err != nil || !slices.Equal(c3.Raw, c1) {
		t.Errorf("a later instance reads another certificate (%v)", err)
	}
	rec, ok, err := s1.KeyRecord(ctx, SPKeyName)
	if err != nil || !ok {
		t.Fatalf("key record: %v %v", ok, err)
	}
	if _, _, err := parseKey(rec); err != nil {
		t.Error(err)
	}
	if _, _, err := parseKey([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")); err == nil {
		t.Error("a record without a key parsed")
	}
}

// The replay guard is create-only in etcd: a second use fails on any
// instance; another provider's assertion of the same ID does not.
func TestReplayGuard(t *testing.T) {
	endpoint := storagetest.Etcd(t)
	s1, s2 := storagetest.Open(t, endpoint), storagetest.Open(t, endpoint)
	ctx := storagetest.Ctx(t)
	until := time.Now().Add(time.Minute)
	g1 := replayGuard{store: s1, a: "acme", p: "okta", now: time.Now}
	g2 := replayGuard{store: s2, a: "acme", p: "okta", now: time.Now}
	if err := g1.Remember(ctx, "id-1", until); err != nil {
		t.Fatal(err)
	}
	if err := g1.Remember(ctx, "id-1", until); !errors.Is(err, samlsp.ErrReplay) {
		t.Errorf("second use on the same instance: %v", err)
	}
	if err := g2.Remember(ctx, "id-1", until); !errors.Is(err, samlsp.ErrReplay) {
		t.Errorf("second use on another instance: %v", err)
	}
	other := replayGuard{store: s2, a: "acme", p: "other", now: time.Now}
	if err := other.Remember(ctx, "id-1", until); err != nil {
		t.Errorf("another provider's assertion with the same ID: %v", err)
	}
	// Odd IDs (any characters) are fine: they are hashed.
	if err := g1.Remember(ctx, "_a/b c:ü", until); err != nil {
		t.Error(err)
	}
	// A bound already past still records (for at least a second).
	if err := g1.Remember(ctx, "late", time.Now().Add(-time.Minute)); err != nil {
		t.Error(err)
	}
	if err := g2.Remember(ctx, "late", time.Now().Add(-time.Minute)); !errors.Is(err, samlsp.ErrReplay) {
		t.Errorf("late replay: %v", err)
	}
}

// Inline metadata builds one SP per provider record; a changed record
// builds a new one; an unknown or non-saml provider is errNoProvider.
func TestSPCachePerRevision(t *testing.T) {
	s := storagetest.Store(t)
	storagetest.MustAccount(t, s, "acme", "")
	ctx := storagetest.Ctx(t)
	svc := newService(t, s, nil)
	putProvider(t, s, "acme", "idp", storage.Provider{Type: storage.ProviderSAML, Metadata: idpMetadata, SignRequests: true})
	putProvider(t, s, "acme", "dir", storage.Provider{Type: storage.ProviderLDAP, URL: "ldap://dir.example"})
	sp1, _, err := svc.sp(ctx, "acme", "idp")
	if err != nil {
		t.Fatal(err)
	}
	if sp2, _, _ := svc.sp(ctx, "acme", "idp"); sp2 != sp1 {
		t.Error("the SP was rebuilt without a change")
	}
	putProvider(t, s, "acme", "idp", storage.Provider{Type: storage.ProviderSAML, Metadata: idpMetadata, Description: "changed"})
	if sp3, _, _ := svc.sp(ctx, "acme", "idp"); sp3 == sp1 {
		t.Error("the SP was not rebuilt after the provider changed")
	}
	for _, p := range []string{"dir", "nope", "bad/name"} {
		if _, _, err := svc.sp(ctx, "acme", p); !errors.Is(err, errNoProvider) {
			t.Errorf("provider %s: %v, want errNoProvider", p, err)
		}
	}
	md, err := sp1.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`entityID="https://gh.example/saml/acme/idp/metadata"`, `Location="https://gh.example/saml/acme/idp/acs"`} {
		if !strings.Contains(string(md), want) {
			t.Errorf("metadata lacks %s:\n%s", want, md)
		}
	}
}

// Metadata by URL is fetched once, refreshed after MetadataRefresh, kept
// when a refresh fails, and retried no more than once per MetadataRetry.
func TestMetadataURLRefresh(t *testing.T) {
	var fetches atomic.Int32
	var failing atomic.Bool
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		if failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(idpMetadata))
	}))
	defer ts.Close()
	s := storagetest.Store(t)
	storagetest.MustAccount(t, s, "acme", "")
	ctx := storagetest.Ctx(t)
	clk := &clock{t: time.Now()}
	svc := newService(t, s, clk.Now)
	svc.o.MetadataClient = ts.Client()
	putProvider(t, s, "acme", "idp", storage.Provider{Type: storage.ProviderSAML, MetadataURL: ts.URL + "/md"})

	sp1, _, err := svc.sp(ctx, "acme", "idp")
	if err != nil || fetches.Load() != 1 {
		t.Fatalf("first use: %v, %d fetches", err, fetches.Load())
	}
	clk.Advance(DefaultMetadataRefresh / 2)
	if sp, _, _ := svc.sp(ctx, "acme", "idp"); sp != sp1 || fetches.Load() != 1 {
		t.Errorf("fresh metadata fetched again (%d fetches)", fetches.Load())
	}
	clk.Advance(DefaultMetadataRefresh)
	sp2, _, err := svc.sp(ctx, "acme", "idp")
	if err != nil || sp2 == sp1 || fetches.Load() != 2 {
		t.Errorf("stale metadata: %v, rebuilt %v, %d fetches", err, sp2 != sp1, fetches.Load())
	}
	failing.Store(true)
	clk.Advance(DefaultMetadataRefresh + time.Second)
	if sp, _, err := svc.sp(ctx, "acme", "idp"); err != nil || sp != sp2 || fetches.Load() != 3 {
		t.Errorf("failed refresh: %v, kept %v, %d fetches", err, sp == sp2, fetches.Load())
	}
	clk.Advance(MetadataRetry / 2)
	if _, _, err := svc.sp(ctx, "acme", "idp"); err != nil || fetches.Load() != 3 {
		t.Errorf("retried before MetadataRetry: %v, %d fetches", err, fetches.Load())
	}
	clk.Advance(MetadataRetry)
	failing.Store(false)
	if sp, _, err := svc.sp(ctx, "acme", "idp"); err != nil || sp == sp2 || fetches.Load() != 4 {
		t.Errorf("retry after MetadataRetry: %v, rebuilt %v, %d fetches", err, sp != sp2, fetches.Load())
	}
	// A provider whose metadata was never fetched has no SP.
	putProvider(t, s, "acme", "down", storage.Provider{Type: storage.ProviderSAML, MetadataURL: ts.URL + "/md"})
	failing.Store(true)
	if _, _, err := svc.sp(ctx, "acme", "down"); err == nil {
		t.Error("an SP without metadata")
	}
}

func TestButtonsAndStart(t *testing.T) {
	s := storagetest.Store(t)
	storagetest.MustAccount(t, s, "acme", "")
	ctx := storagetest.Ctx(t)
	svc := newService(t, s, nil)
	putProvider(t, s, "acme", "idp", storage.Provider{Type: storage.ProviderSAML, Metadata: idpMetadata, Description: "Okta"})
	putProvider(t, s, "acme", "plain", storage.Provider{Type: storage.ProviderSAML, Metadata: idpMetadata})
	putProvider(t, s, "acme", "dir", storage.Provider{Type: storage.ProviderLDAP, URL: "ldap://dir.example"})
	got, err := svc.Buttons(ctx, "acme")
	want := []oauth.ExternalButton{{Key: "saml:acme/idp", Label: "Sign in with Okta"}, {Key: "saml:acme/plain", Label: "Sign in with plain"}}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("Buttons = %v, %v; want %v", got, err, want)
	}
	if got, _ := svc.Buttons(ctx, "other"); len(got) != 0 {
		t.Errorf("another account's buttons: %v", got)
	}
	if u, ok := svc.StartURL(ctx, "saml:acme/idp"); !ok || u != "/saml/acme/idp/login" {
		t.Errorf("StartURL = %q, %v", u, ok)
	}
	for _, key := range []string{"saml:acme/dir", "saml:acme/nope", "ldap:acme/idp", "saml:acme", "saml:../x/idp"} {
		if _, ok := svc.StartURL(ctx, key); ok {
			t.Errorf("StartURL(%q) accepted", key)
		}
	}
}

func TestAttributes(t *testing.T) {
	got := attributes(samlsp.Identity{Subject: "a@x", Name: "alice", Email: "a@x", Groups: []string{"g1", "g2"},
		Attributes: map[string][]string{"urn:oid:1": {"alice"}, "mail": {"a@x"}}})
	if !slices.Equal(got[federation.AttrName], []string{"alice"}) || !slices.Equal(got[federation.AttrGroups], []string{"g1", "g2"}) ||
		!slices.Equal(got["urn:oid:1"], []string{"alice"}) || got[federation.AttrFullName] != nil {
		t.Errorf("attributes = %v", got)
	}
}

func TestStateShape(t *testing.T) {
	if !isState("abcdefghijklmnopqrstuvwxyz0123456789-_ABCDE"[:43]) {
		t.Error("a 43-character base64url state refused")
	}
	for _, s := range []string{"", "https://app.example/cb", "abc", "abcdefghijklmnopqrstuvwxyz0123456789+/ABCDE"[:43]} {
		if isState(s) {
			t.Errorf("isState(%q)", s)
		}
	}
}
