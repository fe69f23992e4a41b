package test

// The authorization code flow across gatehouse instances that share one
// etcd (SPEC §2, issue 9 "a flow started on one gatehouse instance and
// finished on a second one"): nothing of a flow is kept in one
// instance's memory — the sign-in state rides in the browser under a
// server key in etcd, codes and tokens are leased etcd records, signing
// keys live in etcd — so every step may land on another instance. And a
// code outlives neither its lifetime nor an instance change.

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"gatehouse/conf"
	"gatehouse/test/harness"
)

// occPair starts two instances on one external etcd, both reading time
// from now (time.Now if nil). They share one issuer (oauth.issuer must
// be the same on every instance, conf.IssuerFor): A's own address, as if
// A's address were the load balancer's.
func occPair(t *testing.T, now func() time.Time) (a, b *harness.Server) {
	t.Helper()
	ep := harness.Etcd(t)
	start := func(issuer string) *harness.Server {
		cfg := harness.Config(t)
		cfg.Storage.Etcd.Endpoints = []string{ep}
		cfg.OAuth.Issuer = issuer
		if now == nil {
			return harness.StartWith(t, cfg)
		}
		return harness.StartClocked(t, cfg, now)
	}
	a = start("")
	b = start(a.URL())
	return a, b
}

// occSetup creates account ocf with user una (auth:*) and a first-party
// public code client of una's on a, and waits until b sees the client.
func occSetup(t *testing.T, a, b *harness.Server, scopes ...string) string {
	t.Helper()
	azCreateAccount(t, a, "ocf", "system")
	azAdmin(t, a, "PUT", ocBase+"/permissions", azPermsBody("*"), 204)
	azUserWithRole(t, a, "ocf", "una", clPass, "reader", "auth:*")
	id := ocClient(t, a, true, scopes...)
	ghxPropagates(t, "the client created on A", b, "GET", ocUser+"/clients/"+id, http.StatusOK)
	return id
}

// occFrontChannel opens the sign-in page of cfg on from and posts the
// password form to to, in one browser (one cookie jar: the nonce cookie
// is host-only on 127.0.0.1, and cookies ignore ports, so the jar sends
// what from set to to as well). It returns the code and PKCE verifier.
func occFrontChannel(t *testing.T, from, to *harness.Server, cfg *oauth2.Config) (code, verifier string) {
	t.Helper()
	verifier = oauth2.GenerateVerifier()
	onFrom := ocNewBrowser(t, from)
	p := onFrom.get(cfg.AuthCodeURL(ocState, oauth2.S256ChallengeOption(verifier)))
	if p.status != 200 || p.hidden.Get("step") != "password" {
		t.Fatalf("GET /oauth2/authorize on instance %s: want the sign-in page (200, step password), got %d:\n%s",
			from.URL(), p.status, p.body)
	}
	u, _ := url.Parse(to.URL() + "/oauth2/authorize")
	if len(onFrom.c.Jar.Cookies(u)) == 0 {
		t.Fatalf("the cookie jar would send no cookie to %s after the page of %s (Set-Cookie %q): "+
			"the sign-in nonce cookie must be host-only, not bound to a port", to.URL(), from.URL(), p.header.Get("Set-Cookie"))
	}
	onTo := &ocBrowser{t: t, s: to, c: onFrom.c} // the same browser, posting to the other instance
	r := onTo.post(p, "username", `ocf\una`, "password", clPass)
	if r.status != http.StatusSeeOther {
		t.Fatalf("POST /oauth2/authorize on instance %s of the form instance %s served: want a 303 to the client, got %d %v:\n%s",
			to.URL(), from.URL(), r.status, r.header, r.body)
	}
	q := r.redirect(t)
	if q.Get("code") == "" || q.Get("state") != ocState {
		t.Fatalf("the redirect from instance %s carries no code or the wrong state: %v", to.URL(), q)
	}
	return q.Get("code"), verifier
}

func TestOAuthClusterCodeFlow(t *testing.T) {
	a, b := occPair(t, nil)
	first := occSetup(t, a, b, "auth:users:read")
	ctx := context.Background()

	// A confidential client of una's that introspects with its own
	// credentials.
	body := "<client>" + clList("grant-types", "grant-type", "client_credentials") +
		clList("scopes", "scope", "auth:users:read") + "</client>"
	r := a.Admin("POST", ocUser+"/clients", body).Must(t, 201)
	iid := r.Root().SelectAttrValue("identifier", "")
	isec := ""
	if e := r.Root().SelectElement("client-secret"); e != nil {
		isec = e.Text()
	}
	if iid == "" || isec == "" {
		t.Fatalf("the confidential client has no id or secret:\n%s", r.Body)
	}

	// Front channel: page on A, password posted to B, code from B.
	cfgA := ocConfig(a, first, "auth:users:read", "offline_access")
	code, verifier := occFrontChannel(t, a, b, cfgA)

	// The code B issued, exchanged at A's token endpoint.
	tok, err := cfgA.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchanging at instance A the code instance B issued: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("the exchange at A gave no refresh token although offline_access was granted")
	}
	if c := oaClaims(t, tok.AccessToken); c["sub"] != `ocf\una` || c["client_id"] != first || c["iss"] != a.URL() {
		t.Errorf("claims of the access token A issued: %v (want sub ocf\\una, client_id %s, iss %s)", c, first, a.URL())
	}
	oaBearer(b, tok.AccessToken, "GET", ocBase+"/users").Must(t, 200)

	// Refresh at B: rotation across instances.
	st, out := ocRefresh(t, b, first, tok.RefreshToken)
	rt2, _ := out["refresh_token"].(string)
	at2, _ := out["access_token"].(string)
	if st != 200 || rt2 == "" || at2 == "" || rt2 == tok.RefreshToken {
		t.Fatalf("refreshing at instance B the refresh token instance A issued: %d %v", st, out)
	}

	// The new access token on B's /auth/v2, within and beyond its scopes.
	if r := oaBearer(b, at2, "GET", ocBase+"/users"); r.Status != 200 {
		t.Errorf("the access token B issued on B's /auth/v2 (within its scope auth:users:read): %d, want 200:\n%s", r.Status, r.Body)
	}
	if r := oaBearer(b, at2, "GET", ocBase+"/roles"); r.Status != 403 {
		t.Errorf("the access token B issued on B's /auth/v2 beyond its scopes: %d, want 403:\n%s", r.Status, r.Body)
	}

	// Introspection on A of what B issued, and of what the rotation
	// retired.
	in := oaIntrospect(t, a, at2, iid, isec)
	if in["active"] != true || in["sub"] != `ocf\una` || in["client_id"] != first || oaScope(in["scope"]) != "auth:users:read offline_access" {
		t.Errorf("introspecting at instance A the access token instance B issued: %v", in)
	}
	if in := oaIntrospect(t, a, rt2, iid, isec); in["active"] != true {
		t.Errorf("introspecting at instance A the refresh token instance B issued: %v", in)
	}
	if in := oaIntrospect(t, a, tok.RefreshToken, iid, isec); in["active"] == true {
		t.Errorf("instance A calls the refresh token B rotated away still active: %v", in)
	}
	// The access token issued with the rotated refresh token lives on
	// until it expires (tokens are stateless; reuse revokes the family).
	if in := oaIntrospect(t, a, tok.AccessToken, iid, isec); in["active"] != true {
		t.Errorf("instance A calls the access token issued before B's rotation inactive: %v", in)
	}

	// Reuse of the rotated refresh token at A revokes the family B
	// continued, on both instances.
	if st, out := ocRefresh(t, a, first, tok.RefreshToken); st != 400 || out["error"] != "invalid_grant" {
		t.Errorf("reusing at A the refresh token B rotated: %d %v, want 400 invalid_grant", st, out)
	}
	// A, where the family was revoked, refuses at once; B as soon as its
	// watch delivers the revocation marker.
	for _, at := range []string{at2, tok.AccessToken} {
		if in := oaIntrospect(t, a, at, iid, isec); in["active"] == true {
			t.Errorf("A calls an access token of a revoked family active: %v", in)
		}
		if r := oaBearer(a, at, "GET", ocBase+"/users"); r.Status != 401 {
			t.Errorf("A accepts an access token of a family revoked at A: %d, want 401", r.Status)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := oaBearer(b, at2, "GET", ocBase+"/users")
		if r.Status == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B still accepts the access token of a family revoked at A after 30 s: %d, want 401", r.Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if in := oaIntrospect(t, b, tok.AccessToken, iid, isec); in["active"] == true {
		t.Errorf("B calls an access token of a family revoked at A active once it refuses another: %v", in)
	}
}

// An authorization code expires after oauth.lifetimes.code (1 min by
// default): instances whose clock has moved past it refuse the code
// with invalid_grant; just within it, it is exchanged.
func TestOAuthClusterExpiredCode(t *testing.T) {
	clock := harness.NewClock(time.Now())
	a, b := occPair(t, clock.Now)
	id := occSetup(t, a, b, "auth:users:read")
	life := conf.Defaults().OAuth.Lifetimes.Code
	ctx := context.Background()

	t.Run("within-lifetime", func(t *testing.T) {
		cfg := ocConfig(a, id, "auth:users:read")
		code, verifier := occFrontChannel(t, a, b, cfg)
		clock.Advance(life - 5*time.Second)
		tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchanging a code %v before its lifetime %v ends: %v", life-5*time.Second, life, err)
		}
		oaBearer(b, tok.AccessToken, "GET", ocBase+"/users").Must(t, 200)
	})

	t.Run("expired", func(t *testing.T) {
		cfg := ocConfig(a, id, "auth:users:read")
		code, verifier := occFrontChannel(t, a, b, cfg)
		clock.Advance(life + time.Second)
		tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err == nil {
			t.Fatalf("a code exchanged %v after it was issued (lifetime %v) gave tokens (access token expiring %v), want invalid_grant",
				life+time.Second, life, tok.Expiry)
		}
		if got := ocGrantError(err); got != "invalid_grant" {
			t.Errorf("exchanging an expired code: error %q (%v), want invalid_grant", got, err)
		}
		// At B as well.
		cfgB := ocConfig(b, id, "auth:users:read")
		if _, err := cfgB.Exchange(ctx, code, oauth2.VerifierOption(verifier)); ocGrantError(err) != "invalid_grant" {
			t.Errorf("exchanging the expired code at instance B: %v, want invalid_grant", err)
		}
	})
}
