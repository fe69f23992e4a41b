package oauth

import (
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ory/fosite"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// pushedRequest is what fosite's PAR handler hands the store: an
// authorize request with the pushed form (client credentials included,
// which must not be stored).
func pushedAuthorizeRequest(cl fosite.Client, now time.Time) *fosite.AuthorizeRequest {
	ar := fosite.NewAuthorizeRequest()
	ar.ID = "par-req-1"
	ar.RequestedAt = now.UTC().Truncate(time.Second)
	ar.Client = cl
	ar.RequestedScope = fosite.Arguments{"print:*"}
	ar.ResponseTypes = fosite.Arguments{"code"}
	ar.State = "state-0123456789"
	ar.RedirectURI, _ = url.Parse("https://app.example/cb")
	ar.Form = url.Values{
		"response_type":         {"code"},
		"client_id":             {cl.GetID()},
		"redirect_uri":          {"https://app.example/cb"},
		"scope":                 {"print:*"},
		"state":                 {"state-0123456789"},
		"code_challenge":        {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
		"code_challenge_method": {"S256"},
		"client_secret":         {"very-secret"},
		"client_assertion":      {"a.b.c"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
	}
	ar.Session = newSession()
	return ar
}

// TestPARSessionSingleUse: a pushed request stored by one instance is
// read once on another (the authorize request's fields and form come
// back, the client credentials do not, nor are they in etcd); a second
// read fails; of many concurrent reads of one request_uri exactly one
// gets it; and a request_uri past PARLifetime is unknown.
func TestPARSessionSingleUse(t *testing.T) {
	ep := storagetest.Etcd(t)
	st1, st2 := storagetest.Open(t, ep), storagetest.Open(t, ep)
	cl := newClients("app")
	clk := newClock()
	a := NewTokenStore(StoreConfig{Tokens: st1, Clients: cl, Now: clk.Now})
	b := NewTokenStore(StoreConfig{Tokens: st2, Clients: cl, Now: clk.Now})
	ctx := storagetest.Ctx(t)
	app, _ := cl.Client(ctx, "app")
	uri := PARURIPrefix + "first"

	mustOK(t, "create", a.CreatePARSession(ctx, uri, pushedAuthorizeRequest(app, clk.Now())))
	for k, v := range storagetest.EtcdKeys(t, st1, storage.TokenRange) {
		if strings.Contains(k, "first") {
			t.Errorf("etcd key %s holds the request_uri", k)
		}
		if strings.Contains(string(v), "very-secret") || strings.Contains(string(v), "a.b.c") {
			t.Errorf("etcd value of %s holds the client's credentials: %s", k, v)
		}
	}
	got, err := b.GetPARSession(ctx, uri)
	mustOK(t, "get on b", err)
	form := got.GetRequestForm()
	if got.GetID() != "par-req-1" || got.GetClient().GetID() != "app" || got.GetState() != "state-0123456789" ||
		got.GetRedirectURI() == nil || got.GetRedirectURI().String() != "https://app.example/cb" ||
		!got.GetResponseTypes().ExactOne("code") || form.Get("code_challenge_method") != "S256" ||
		form.Get("code_challenge") == "" || form.Get("scope") != "print:*" {
		t.Errorf("pushed request came back as %+v, form %v", got, form)
	}
	for _, k := range clientCredentialFields {
		if form.Has(k) {
			t.Errorf("the stored form kept %s", k)
		}
	}
	mustOK(t, "delete after get", b.DeletePARSession(ctx, uri))
	_, err = a.GetPARSession(ctx, uri)
	wantErr(t, "second use", err, fosite.ErrNotFound)
	_, err = a.GetPARSession(ctx, PARURIPrefix+"never-pushed")
	wantErr(t, "unknown request_uri", err, fosite.ErrNotFound)

	// Concurrent uses of one request_uri: exactly one wins.
	race := PARURIPrefix + "race"
	mustOK(t, "create race", a.CreatePARSession(ctx, race, pushedAuthorizeRequest(app, clk.Now())))
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := a
			if i%2 == 1 {
				s = b
			}
			if _, err := s.GetPARSession(ctx, race); err == nil {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d concurrent uses of one request_uri succeeded; want 1", wins.Load())
	}

	// Expiry by the store's clock: good just before PARLifetime, not at it.
	late := PARURIPrefix + "late"
	mustOK(t, "create late", a.CreatePARSession(ctx, late, pushedAuthorizeRequest(app, clk.Now())))
	early := PARURIPrefix + "early"
	mustOK(t, "create early", a.CreatePARSession(ctx, early, pushedAuthorizeRequest(app, clk.Now())))
	clk.Advance(PARLifetime - time.Second)
	_, err = b.GetPARSession(ctx, early)
	mustOK(t, "just before expiry", err)
	clk.Advance(time.Second)
	_, err = b.GetPARSession(ctx, late)
	wantErr(t, "expired", err, fosite.ErrNotFound)

	// A deleted client's pushed request is unknown.
	gone := PARURIPrefix + "gone"
	mustOK(t, "create gone", a.CreatePARSession(ctx, gone, pushedAuthorizeRequest(app, clk.Now())))
	cl.Delete("app")
	_, err = b.GetPARSession(ctx, gone)
	wantErr(t, "deleted client", err, fosite.ErrNotFound)
}

// TestPARLifetime: RFC 9126 asks for a short life; gatehouse's is
// within 60–90 s, and fosite's answer (expires_in) uses the same.
func TestPARLifetime(t *testing.T) {
	if PARLifetime < 60*time.Second || PARLifetime > 90*time.Second {
		t.Errorf("PARLifetime %s; want 60–90 s", PARLifetime)
	}
}
