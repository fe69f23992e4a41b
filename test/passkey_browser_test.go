package test

// End-to-end tests of passkeys (issue 11 item 3, SPEC §3c): the JSON
// registration routes and the /me/passkeys documents with a software
// authenticator, and (TestPasskeyBrowser) registration and sign-in in
// chromium with CDP's virtual authenticator.

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"gatehouse/passkey/passkeytest"
	"gatehouse/storage"
	"gatehouse/test/harness"
)

const (
	pskBase    = azV2 + "/accounts/pkco"
	pskUser    = pskBase + "/users/alice"
	pskPass    = "violet-harbour-93"
	pskMine    = azV2 + "/me/passkeys"
	pskRegPath = pskMine + "/registration"
)

// Path variable {pk} of the passkey routes: a well-formed id of no
// passkey (TestAuthzEveryRoute; those answer 404).
func init() { azVars["pk"] = "pk1" }

// pskSetup: account pkco with its starter roles; alice (password) holds
// role users and role pk (the passkey permissions), and an API key for
// her own passkeys, which the calls below use (a passkey is a second
// factor: HTTP Basic may refuse her once she has one).
func pskSetup(t *testing.T, s *harness.Server) (apiKey string) {
	t.Helper()
	azCreateAccount(t, s, "pkco", "system")
	azUserWithRole(t, s, "pkco", "alice", pskPass, "pk", "auth:me:passkeys:*", "auth:me:read")
	azAdmin(t, s, "POST", pskUser+"/roles", `<role identifier="users"/>`, 201)
	_, secret := akCreated(t, s.Admin("POST", pskUser+"/api-keys", akBody("passkeys", "", "auth:me:passkeys:*", "auth:me:read")))
	return secret
}

// pskCall calls as the API key; a body is JSON unless it starts with "<".
func pskCall(s *harness.Server, key, method, path, body string) *harness.Response {
	h := http.Header{}
	h.Set("X-API-Key", key)
	ct := "application/json"
	if strings.HasPrefix(body, "<") {
		ct = "application/xml"
	}
	return s.Do(harness.Request{Method: method, Path: path, Body: body, ContentType: ct, Header: h})
}

// TestPasskeyAPI: begin and finish a registration through the JSON
// routes, list, show and delete the passkey; bad JSON, a replayed or
// foreign response, a second registration of one credential, the wrong
// media type and an oversize body each get their status.
func TestPasskeyAPI(t *testing.T) {
	cfg := harness.Config(t)
	cfg.Auth.Passkeys.RPID = "id.example.com"
	cfg.Auth.Passkeys.Origins = []string{"https://id.example.com"}
	s := harness.StartWith(t, cfg)
	key := pskSetup(t, s)

	r := pskCall(s, key, "GET", pskMine, "").Must(t, 200)
	if root := r.Root(); root == nil || root.Tag != "passkeys" || len(root.SelectElements("passkey")) != 0 {
		t.Fatalf("empty collection:\n%s", r.Body)
	}
	r = pskCall(s, key, "POST", pskRegPath, "").Must(t, 200)
	if ct := r.Header.Get("Content-Type"); ct != "application/json" || r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("options answered with Content-Type %q, Cache-Control %q", ct, r.Header.Get("Cache-Control"))
	}
	opts := []byte(r.Body)
	if !strings.Contains(r.Body, `"rp":{"name":"Gatehouse","id":"id.example.com"}`) {
		t.Errorf("creation options:\n%s", r.Body)
	}
	k := passkeytest.NewKey(t, "https://id.example.com", "id.example.com")
	body := string(k.Create(opts, map[string]any{"name": "work laptop"}))

	// Refusals that leave the ceremony pending.
	azProblem(t, "bad JSON", pskCall(s, key, "PUT", pskRegPath, `{"id":`), 400)
	azProblem(t, "not an object", pskCall(s, key, "PUT", pskRegPath, `[1]`), 400)
	azProblem(t, "XML body", pskCall(s, key, "PUT", pskRegPath, "<passkey/>"), 415)
	azProblem(t, "oversize", pskCall(s, key, "PUT", pskRegPath, `{"name":"`+strings.Repeat("x", 70<<10)+`"}`), 413)
	azProblem(t, "name too long", pskCall(s, key, "PUT", pskRegPath, strings.Replace(body, "work laptop", strings.Repeat("n", 65), 1)), 400)

	r = pskCall(s, key, "PUT", pskRegPath, body).Must(t, 201)
	root := r.Root()
	if root == nil || root.Tag != "passkey" {
		t.Fatalf("201 body:\n%s", r.Body)
	}
	id := root.SelectAttrValue("identifier", "")
	href := pskMine + "/" + id
	if id == "" || root.SelectAttrValue("href", "") != href || r.Header.Get("Location") != href {
		t.Errorf("201 identifier %q href %q Location %q", id, root.SelectAttrValue("href", ""), r.Header.Get("Location"))
	}
	for f, want := range map[string]string{"name": "work laptop", "last-used": ""} {
		if el := root.SelectElement(f); el == nil || el.Text() != want {
			t.Errorf("<%s> in:\n%s", f, r.Body)
		}
	}
	if el := root.SelectElement("created"); el == nil || el.Text() == "" {
		t.Errorf("<created> missing:\n%s", r.Body)
	}
	for _, secret := range []string{passkeytest.B64.EncodeToString(k.ID), "publicKey", "sign"} {
		if strings.Contains(r.Body, secret) {
			t.Errorf("the document shows %q:\n%s", secret, r.Body)
		}
	}
	azProblem(t, "replayed response", pskCall(s, key, "PUT", pskRegPath, body), 400)

	// A passkey is a second factor: HTTP Basic, which cannot run a
	// ceremony, no longer signs alice in; her API key still works.
	azProblem(t, "Basic with a passkey", s.As(`pkco\alice`, pskPass, "GET", azV2+"/me", ""), 401)
	pskCall(s, key, "GET", azV2+"/me", "").Must(t, 200)

	// A second ceremony with the same credential: 409.
	opts2 := []byte(pskCall(s, key, "POST", pskRegPath, "").Must(t, 200).Body)
	azProblem(t, "credential twice", pskCall(s, key, "PUT", pskRegPath, string(k.Create(opts2, nil))), 409)

	r = pskCall(s, key, "GET", pskMine, "").Must(t, 200)
	if items := r.Root().SelectElements("passkey"); len(items) != 1 || items[0].SelectAttrValue("identifier", "") != id ||
		items[0].SelectAttrValue("href", "") != href {
		t.Fatalf("collection:\n%s", r.Body)
	}
	r = pskCall(s, key, "GET", href, "").Must(t, 200)
	if r.Root().SelectElement("name").Text() != "work laptop" {
		t.Errorf("GET %s:\n%s", href, r.Body)
	}
	azProblem(t, "unknown passkey", pskCall(s, key, "GET", pskMine+"/nope", ""), 404)
	azProblem(t, "bad id", pskCall(s, key, "GET", pskMine+"/a%21b", ""), 400)

	// Another user cannot see or delete alice's passkey (it is not
	// under their /me).
	azUserWithRole(t, s, "pkco", "bob", "amber-lantern-77", "pkb", "auth:me:passkeys:*")
	azProblem(t, "bob reads alice's", s.As(`pkco\bob`, "amber-lantern-77", "GET", href, ""), 404)
	azProblem(t, "bob deletes alice's", s.As(`pkco\bob`, "amber-lantern-77", "DELETE", href, ""), 404)

	pskCall(s, key, "DELETE", href, "").Must(t, 204)
	azProblem(t, "deleted passkey", pskCall(s, key, "GET", href, ""), 404)
	azProblem(t, "delete twice", pskCall(s, key, "DELETE", href, ""), 404)
	s.As(`pkco\alice`, pskPass, "GET", azV2+"/me", "").Must(t, 200) // no second factor left

	// Deleting the user removes its passkeys with their index entries.
	opts3 := []byte(pskCall(s, key, "POST", pskRegPath, "").Must(t, 200).Body)
	k2 := passkeytest.NewKey(t, "https://id.example.com", "id.example.com")
	pskCall(s, key, "PUT", pskRegPath, string(k2.Create(opts3, nil))).Must(t, 201)
	azAdmin(t, s, "DELETE", pskUser, "", 204)
	if left := pskIndexEntries(t, s); len(left) != 0 {
		t.Errorf("passkey index entries left after the user was deleted: %v", left)
	}
}

// pskIndexEntries lists the passkey index (credential → owner).
func pskIndexEntries(t *testing.T, s *harness.Server) []string {
	t.Helper()
	var out []string
	err := s.Store.Read(context.Background(), 0, func(v storage.View) error {
		v.EachRange(storage.PasskeyIndexRange, func(id, owner string) bool {
			out = append(out, id+"="+owner)
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPasskeyUnavailable: with the issuer on an IP address and no
// rp-id, registration answers 404 with a problem naming the setting.
func TestPasskeyUnavailable(t *testing.T) {
	s := harness.Start(t)
	key := pskSetup(t, s)
	r := pskCall(s, key, "POST", pskRegPath, "")
	if azProblem(t, "no relying party", r, 404) && !strings.Contains(r.Body, "auth.passkeys.rp-id") {
		t.Errorf("503 does not name the setting:\n%s", r.Body)
	}
	pskCall(s, key, "GET", pskMine, "").Must(t, 200)
}

// pskFreePort is a loopback port free a moment ago: the instance must
// know its issuer (http://localhost:PORT, WebAuthn refuses IP addresses
// as relying party IDs) before it listens.
func pskFreePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// pskAuthenticator enables CDP's WebAuthn domain in the tab and adds a
// virtual platform authenticator (CTAP2, internal transport, resident
// keys, user verification that succeeds).
func pskAuthenticator(t *testing.T, ctx context.Context) {
	t.Helper()
	if _, err := chromedp.Call(ctx, cdpwebauthn.Enable, cdpwebauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	if _, err := chromedp.Call(ctx, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{
		Options: &cdpwebauthn.VirtualAuthenticatorOptions{
			Protocol:                    cdpwebauthn.AuthenticatorProtocolCtap2,
			Transport:                   cdpwebauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
		}}); err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
}

// pskPageError is the sign-in page's error, "" when it shows none.
func pskPageError(ctx context.Context) string {
	nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS(`main > p.error`), chromedp.AtLeast(0)))
	if err != nil || len(nodes) == 0 {
		return ""
	}
	text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`main > p.error`)))
	return text
}

// TestPasskeyBrowser: in chromium with CDP's virtual authenticator, a
// passkey is registered on the self-service page, shows in GET
// /auth/v2/me/passkeys, signs in on the OAuth sign-in page instead of the
// password (the authorization-code flow with PKCE completes to tokens),
// and once deleted through the API is refused on the page.
func TestPasskeyBrowser(t *testing.T) {
	chromium := obChromium(t)
	port := pskFreePort(t)
	origin := "http://localhost:" + port
	cfg := harness.Config(t)
	cfg.HTTP.Listen = "127.0.0.1:" + port
	cfg.OAuth.Issuer = origin // the relying party: localhost, origin http://localhost:PORT
	s := harness.StartWith(t, cfg)
	key := pskSetup(t, s)

	// A public first-party client whose redirect URI is the catcher.
	redirect, got := obCatcher(t)
	body := "<client><first-party>true</first-party><public>true</public>" +
		clList("grant-types", "grant-type", "authorization_code", "refresh_token") +
		clList("scopes", "scope", "auth:me:passkeys:read") + clList("uris", "uri", redirect) + "</client>"
	r := s.Admin("POST", pskUser+"/clients", body).Must(t, 201)
	clientID := r.Root().SelectAttrValue("identifier", "")

	ctx := obBrowser(t, chromium, 900, 800)
	if _, err := chromedp.Run(ctx, chromedp.NavigateResponse(origin+"/oauth2/jwks")); err != nil {
		t.Fatalf("chromium (%s) opening %s: %v", chromium, origin, err)
	}
	pskAuthenticator(t, ctx)

	// Register on the self-service page, signed in with the API key.
	browserHeaders(t, ctx, map[string]string{"X-API-Key": key})
	pskRegister(t, ctx, origin)
	browserHeaders(t, ctx, nil)

	r = pskCall(s, key, "GET", pskMine+"?depth=2", "").Must(t, 200)
	items := r.Root().SelectElements("passkey")
	if len(items) != 1 || items[0].SelectElement("name") == nil || items[0].SelectElement("name").Text() != "browser key" {
		t.Fatalf("GET %s after registering in the browser:\n%s", pskMine, r.Body)
	}
	href := items[0].SelectAttrValue("href", "")

	// Sign in with the passkey instead of the password.
	oc := &oauth2.Config{ClientID: clientID, RedirectURL: redirect, Scopes: []string{"auth:me:passkeys:read"},
		Endpoint: oauth2.Endpoint{AuthURL: origin + "/oauth2/authorize", TokenURL: s.URL() + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(oc.AuthCodeURL(ocState, oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.ID("passkey-signin")),
	); err != nil {
		t.Fatalf("the sign-in page shows no passkey button: %v", err)
	}
	browserShot(t, ctx, "passkey-signin-page.png")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("passkey-signin"))); err != nil {
		t.Fatalf("clicking the passkey button: %v", err)
	}
	var q url.Values
	select {
	case q = <-got:
	case <-ctx.Done():
		text, _ := chromedp.Run(context.WithoutCancel(ctx), chromedp.Text(chromedp.CSS("main")))
		t.Fatalf("the client got no redirect after the passkey sign-in: %v; the page says:\n%s", ctx.Err(), text)
	}
	if q.Get("code") == "" || q.Get("state") != ocState {
		t.Fatalf("the client's redirect: %v", q)
	}
	tok, err := oc.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchanging the code: %v", err)
	}
	if c := oaClaims(t, tok.AccessToken); c["sub"] != `pkco\alice` || c["client_id"] != clientID {
		t.Errorf("access token claims %v", c)
	}
	oaBearer(s, tok.AccessToken, "GET", pskMine).Must(t, 200)
	// The sign-in was audited as a passkey sign-in.
	harness.WaitFor(t, 30*time.Second, "the passkey sign-in in the audit log", func() bool {
		entries, _, _ := auList(t, s, `system\admin`, harness.AdminPassword, "actor="+url.QueryEscape(`pkco\alice`)+"&action=sign-in")
		for _, e := range entries {
			if e.Outcome == "success" && e.Detail == "passkey" {
				return true
			}
		}
		return false
	})

	// With the password, the passkey is the second factor: the page
	// asks for it after the password and the sign-in completes with it.
	verifier = oauth2.GenerateVerifier()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(oc.AuthCodeURL(ocState, oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), `pkco\alice`),
		chromedp.SendKeys(chromedp.ID("password"), pskPass),
		chromedp.Click(chromedp.CSS(`form:not(.passkey) button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("passkey-factor")),
	); err != nil {
		text, _ := chromedp.Run(context.WithoutCancel(ctx), chromedp.Text(chromedp.CSS("main")))
		t.Fatalf("the second-factor step with a passkey: %v; the page says:\n%s", err, text)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("passkey-factor"))); err != nil {
		t.Fatalf("clicking the second-factor passkey button: %v", err)
	}
	select {
	case q = <-got:
	case <-ctx.Done():
		t.Fatalf("the client got no redirect after the second factor: %v", ctx.Err())
	}
	tok, err = oc.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchanging the code of the two-factor sign-in: %v", err)
	}
	oaBearer(s, tok.AccessToken, "GET", pskMine).Must(t, 200)

	// Deleted through the API, the passkey is refused on the page.
	pskCall(s, key, "DELETE", href, "").Must(t, 204)
	verifier = oauth2.GenerateVerifier()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(oc.AuthCodeURL(ocState, oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.ID("passkey-signin")),
		chromedp.Click(chromedp.ID("passkey-signin")),
		chromedp.WaitVisible(chromedp.CSS(`main > p.error`)),
	); err != nil {
		t.Fatalf("signing in with the deleted passkey: %v", err)
	}
	if msg := pskPageError(ctx); !strings.Contains(msg, "passkey was not accepted") {
		t.Errorf("the page's error after a deleted passkey: %q", msg)
	}
	select {
	case q := <-got:
		t.Errorf("the client got a redirect after a deleted passkey: %v", q)
	default:
	}
}

// pskRegister registers a passkey named "browser key" on the
// self-service passkey page (the tab sends the API key), and saves a
// screenshot of the page showing it.
func pskRegister(t *testing.T, ctx context.Context, origin string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(origin+"/auth/v2/me/passkeys/enrolment"),
		chromedp.WaitVisible(chromedp.ID("passkey-register")),
		chromedp.SendKeys(chromedp.ID("name"), "browser key"),
		chromedp.Click(chromedp.ID("passkey-register")),
		chromedp.WaitVisible(chromedp.ID("registered")),
	); err != nil {
		text, _ := chromedp.Run(context.WithoutCancel(ctx), chromedp.Text(chromedp.CSS("main")))
		t.Fatalf("registering on the passkey page: %v; the page says:\n%s", err, text)
	}
	row, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#passkeys tr.passkey td.name")))
	if err != nil || row != "browser key" {
		t.Errorf("the page lists %q (%v), want the new passkey", row, err)
	}
	browserShot(t, ctx, "passkey-register-page.png")
}

// TestPasskeySignInPage drives the sign-in page's passkey routes over
// HTTP with a software authenticator: the options need the page's CSRF
// token; an assertion posted as the password step signs in; bad
// assertions count against the address until it is throttled (429).
func TestPasskeySignInPage(t *testing.T) {
	port := pskFreePort(t)
	origin := "http://localhost:" + port
	cfg := harness.Config(t)
	cfg.HTTP.Listen = "127.0.0.1:" + port
	cfg.OAuth.Issuer = origin
	cfg.Auth.Throttle.AddressFailures = 3
	s := harness.StartWith(t, cfg)
	key := pskSetup(t, s)
	opts := []byte(pskCall(s, key, "POST", pskRegPath, "").Must(t, 200).Body)
	k := passkeytest.NewKey(t, origin, "localhost")
	pskCall(s, key, "PUT", pskRegPath, string(k.Create(opts, nil))).Must(t, 201)

	const redirect = "http://127.0.0.1:9/cb"
	body := "<client><first-party>true</first-party><public>true</public>" +
		clList("grant-types", "grant-type", "authorization_code") +
		clList("scopes", "scope", "auth:me:passkeys:read") + clList("uris", "uri", redirect) + "</client>"
	clientID := s.Admin("POST", pskUser+"/clients", body).Must(t, 201).Root().SelectAttrValue("identifier", "")
	oc := &oauth2.Config{ClientID: clientID, RedirectURL: redirect, Scopes: []string{"auth:me:passkeys:read"},
		Endpoint: oauth2.Endpoint{AuthURL: s.URL() + "/oauth2/authorize", TokenURL: s.URL() + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInParams}}

	b := ocNewBrowser(t, s)
	options := func(p *ocPage, csrf string) (int, []byte) {
		t.Helper()
		resp, err := b.c.PostForm(s.URL()+"/oauth2/authorize/passkey", url.Values{"request": {p.hidden.Get("request")},
			"csrf": {csrf}, "ticket": {p.hidden.Get("ticket")}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, raw
	}
	verifier := oauth2.GenerateVerifier()
	p := b.get(oc.AuthCodeURL(ocState, oauth2.S256ChallengeOption(verifier)))
	if p.status != 200 || !strings.Contains(p.body, `id="passkey-signin"`) || !strings.Contains(p.body, `src="/oauth2/passkey.js"`) {
		t.Fatalf("the sign-in page has no passkey button:\n%s", p.body)
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("CSP %q does not allow the passkey script", csp)
	}
	if st, _ := options(p, "forged"); st != 403 {
		t.Errorf("options with a forged CSRF token: %d, want 403", st)
	}
	st, o := options(p, p.hidden.Get("csrf"))
	if st != 200 || !strings.Contains(string(o), `"userVerification":"required"`) {
		t.Fatalf("options: %d %s", st, o)
	}
	res := b.post(p, "step", "password", "method", "passkey", "credential", string(k.Get(o, 1, true)))
	loc := res.header.Get("Location")
	if res.status != 303 || !strings.HasPrefix(loc, redirect+"?") || !strings.Contains(loc, "code=") {
		t.Fatalf("passkey sign-in: %d %q\n%s", res.status, loc, res.body)
	}
	u, _ := url.Parse(loc)
	if _, err := oc.Exchange(context.Background(), u.Query().Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("exchanging the code: %v", err)
	}

	// The script is served as JavaScript.
	resp, err := http.Get(s.URL() + "/oauth2/passkey.js")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("GET /oauth2/passkey.js: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	// Bad assertions: refused with the page's error, counted against the
	// address until it is throttled.
	p = b.get(oc.AuthCodeURL(ocState, oauth2.S256ChallengeOption(verifier)))
	for i := range 3 {
		_, o := options(p, p.hidden.Get("csrf"))
		res := b.post(p, "step", "password", "method", "passkey", "credential", string(k.Get(o, 1, true))) // counter did not advance
		if res.status != 200 || !strings.Contains(res.body, "passkey was not accepted") {
			t.Fatalf("bad assertion %d: %d\n%s", i, res.status, res.body)
		}
	}
	if st, _ := options(p, p.hidden.Get("csrf")); st != 429 {
		t.Errorf("options after 3 failures from the address: %d, want 429", st)
	}
	res = b.post(p, "step", "password", "method", "passkey", "credential", string(k.Get(o, 9, true)))
	if res.status != 429 {
		t.Errorf("a passkey sign-in from a throttled address: %d, want 429", res.status)
	}
}
