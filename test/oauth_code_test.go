package test

// End-to-end tests of the authorization code flow (SPEC §7): the sign-in
// page driven with net/http and a cookie jar, the real x/oauth2 client
// with PKCE S256, the tokens on /auth/v2 within and beyond their scopes,
// refresh rotation and reuse, and the refusals: plain PKCE, a wrong
// verifier, redirect URIs that are not exactly registered, code replay,
// a wrong password, the CSRF check and a denied consent.

import (
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"gatehouse/test/harness"
)

const (
	ocBase     = azV2 + "/accounts/ocf"
	ocUser     = ocBase + "/users/una"
	ocRedirect = "https://app.example/cb"
	ocState    = "state-0123456789"
)

// ocClient creates a public authorization-code client of ocf\una with
// ocRedirect and a loopback URI registered.
func ocClient(t *testing.T, s *harness.Server, firstParty bool, scopes ...string) string {
	t.Helper()
	fp := "false"
	if firstParty {
		fp = "true"
	}
	body := "<client><first-party>" + fp + "</first-party>" +
		clList("grant-types", "grant-type", "authorization_code", "refresh_token") +
		"<public>true</public>" + clList("scopes", "scope", scopes...) +
		clList("uris", "uri", ocRedirect, "http://127.0.0.1:9999/cb") + "</client>"
	r := s.Admin("POST", ocUser+"/clients", body).Must(t, 201)
	id := r.Root().SelectAttrValue("identifier", "")
	if id == "" {
		t.Fatalf("no client id:\n%s", r.Body)
	}
	return id
}

func ocConfig(s *harness.Server, id string, scopes ...string) *oauth2.Config {
	return &oauth2.Config{ClientID: id, RedirectURL: ocRedirect, Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: s.URL() + "/oauth2/authorize", TokenURL: s.URL() + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInParams}}
}

// ocBrowser is a browser without JavaScript: a cookie jar, redirects
// not followed.
type ocBrowser struct {
	t *testing.T
	s *harness.Server
	c *http.Client
}

func ocNewBrowser(t *testing.T, s *harness.Server) *ocBrowser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &ocBrowser{t: t, s: s, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// ocPage is an answer of the authorization endpoint.
type ocPage struct {
	status int
	header http.Header
	body   string
	hidden url.Values // the form's hidden fields
}

var ocHidden = regexp.MustCompile(`<input type="hidden" name="([a-z]+)" value="([^"]*)">`)

func (b *ocBrowser) page(resp *http.Response, err error) *ocPage {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	p := &ocPage{status: resp.StatusCode, header: resp.Header, body: string(raw), hidden: url.Values{}}
	for _, m := range ocHidden.FindAllStringSubmatch(p.body, -1) {
		p.hidden.Set(m[1], html.UnescapeString(m[2]))
	}
	return p
}

func (b *ocBrowser) get(u string) *ocPage {
	b.t.Helper()
	return b.page(b.c.Get(u))
}

// post submits the page's form with the fields added (a "-name" field
// removes that hidden field).
func (b *ocBrowser) post(p *ocPage, fields ...string) *ocPage {
	b.t.Helper()
	form := url.Values{}
	for k, v := range p.hidden {
		form[k] = v
	}
	for i := 0; i+1 < len(fields); i += 2 {
		if strings.HasPrefix(fields[i], "-") {
			form.Del(fields[i][1:])
			continue
		}
		form.Set(fields[i], fields[i+1])
	}
	return b.page(b.c.PostForm(b.s.URL()+"/oauth2/authorize", form))
}

// redirect is the page's redirect to the client (fails the test if it
// is not one).
func (p *ocPage) redirect(t *testing.T) url.Values {
	t.Helper()
	loc := p.header.Get("Location")
	if p.status != http.StatusSeeOther || !strings.HasPrefix(loc, ocRedirect+"?") {
		t.Fatalf("want a 303 to %s, got %d %q:\n%s", ocRedirect, p.status, loc, p.body)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// ocSignIn opens authURL in b, signs in as user and, on a consent page,
// answers consent; it returns the redirect's query.
func ocSignIn(t *testing.T, b *ocBrowser, authURL, user, pass, consent string) url.Values {
	t.Helper()
	p := b.get(authURL)
	if p.status != 200 || p.hidden.Get("step") != "password" {
		t.Fatalf("authorize: %d %s", p.status, p.body)
	}
	p = b.post(p, "username", user, "password", pass)
	if p.status == 200 && p.hidden.Get("step") == "consent" {
		if consent == "" {
			t.Fatalf("unexpected consent page:\n%s", p.body)
		}
		p = b.post(p, "consent", consent)
	}
	return p.redirect(t)
}

// ocCode runs the whole front channel for cfg and returns the code and
// the PKCE verifier.
func ocCode(t *testing.T, s *harness.Server, cfg *oauth2.Config, consent string) (code, verifier string) {
	t.Helper()
	verifier = oauth2.GenerateVerifier()
	q := ocSignIn(t, ocNewBrowser(t, s), cfg.AuthCodeURL(ocState, oauth2.S256ChallengeOption(verifier)), `ocf\una`, clPass, consent)
	if q.Get("state") != ocState || q.Get("code") == "" {
		t.Fatalf("redirect query %v", q)
	}
	return q.Get("code"), verifier
}

func ocGrantError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

// ocRefresh posts a refresh_token grant for public client id.
func ocRefresh(t *testing.T, s *harness.Server, id, rt string) (int, map[string]any) {
	t.Helper()
	return oaForm(t, s, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {id}}, "", "", nil)
}

func TestOAuthCodeFlow(t *testing.T) {
	s := harness.Start(t)
	ctx := context.Background()
	azCreateAccount(t, s, "ocf", "system")
	azAdmin(t, s, "PUT", ocBase+"/permissions", azPermsBody("*"), 204)
	azUserWithRole(t, s, "ocf", "una", clPass, "reader", "auth:*")
	first := ocClient(t, s, true, "auth:users:read", "auth:me:read")
	third := ocClient(t, s, false, "auth:users:read")

	t.Run("page", func(t *testing.T) {
		b := ocNewBrowser(t, s)
		p := b.get(ocConfig(s, first).AuthCodeURL(ocState, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if p.status != 200 || !strings.Contains(p.body, `name="password"`) || !strings.Contains(p.body, `name="username"`) ||
			p.hidden.Get("csrf") == "" || p.hidden.Get("request") == "" {
			t.Fatalf("sign-in page %d:\n%s", p.status, p.body)
		}
		csp := p.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
			!strings.Contains(csp, "style-src 'sha256-") || p.header.Get("X-Content-Type-Options") != "nosniff" ||
			p.header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
			t.Errorf("headers %v", p.header)
		}
		if strings.Contains(p.body, "<script") {
			t.Error("the page has a script")
		}
		c := p.header.Get("Set-Cookie")
		if !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Lax") {
			t.Errorf("cookie %q", c)
		}
	})

	t.Run("full-flow", func(t *testing.T) {
		cfg := ocConfig(s, first, "auth:users:read", "offline_access")
		code, verifier := ocCode(t, s, cfg, "")
		tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token with offline_access")
		}
		c := oaClaims(t, tok.AccessToken)
		if c["sub"] != `ocf\una` || c["account"] != "ocf" || c["client_id"] != first ||
			oaScope(c["scope"]) != "auth:users:read offline_access" {
			t.Errorf("claims %v", c)
		}
		oaBearer(s, tok.AccessToken, "GET", ocBase+"/users").Must(t, 200)
		oaBearer(s, tok.AccessToken, "GET", ocBase+"/roles").Must(t, 403) // una holds auth:*, the token only its scopes

		// Rotation: the new pair works, the old refresh token does not;
		// reusing it revokes the family.
		st, out := ocRefresh(t, s, first, tok.RefreshToken)
		rt2, _ := out["refresh_token"].(string)
		at2, _ := out["access_token"].(string)
		if st != 200 || rt2 == "" || at2 == "" || rt2 == tok.RefreshToken {
			t.Fatalf("refresh: %d %v", st, out)
		}
		oaBearer(s, at2, "GET", ocBase+"/users").Must(t, 200)
		if st, out := ocRefresh(t, s, first, tok.RefreshToken); st != 400 || out["error"] != "invalid_grant" {
			t.Errorf("reused refresh token: %d %v", st, out)
		}
		if st, out := ocRefresh(t, s, first, rt2); st == 200 {
			t.Errorf("the family survived reuse: %v", out)
		}
		oaBearer(s, at2, "GET", ocBase+"/users").Must(t, 401)
	})

	t.Run("no-offline-access", func(t *testing.T) {
		cfg := ocConfig(s, first, "auth:me:read")
		code, verifier := ocCode(t, s, cfg, "")
		tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		if tok.RefreshToken != "" {
			t.Error("a refresh token without offline_access")
		}
		oaBearer(s, tok.AccessToken, "GET", azV2+"/me").Must(t, 200)
		oaBearer(s, tok.AccessToken, "GET", ocBase+"/users").Must(t, 403)
	})

	t.Run("plain-pkce-refused", func(t *testing.T) {
		cfg := ocConfig(s, first, "auth:users:read")
		v := oauth2.GenerateVerifier()
		for name, opts := range map[string][]oauth2.AuthCodeOption{
			"plain":     {oauth2.SetAuthURLParam("code_challenge", v), oauth2.SetAuthURLParam("code_challenge_method", "plain")},
			"no-method": {oauth2.SetAuthURLParam("code_challenge", v)},
			"no-pkce":   nil,
		} {
			p := ocNewBrowser(t, s).get(cfg.AuthCodeURL(ocState, opts...))
			if q := p.redirect(t); q.Get("error") != "invalid_request" || q.Get("code") != "" {
				t.Errorf("%s: redirect %v", name, q)
			}
		}
	})

	t.Run("wrong-verifier", func(t *testing.T) {
		cfg := ocConfig(s, first, "auth:users:read")
		code, _ := ocCode(t, s, cfg, "")
		_, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
		if ocGrantError(err) != "invalid_grant" {
			t.Errorf("wrong verifier: %v", err)
		}
		code, _ = ocCode(t, s, cfg, "")
		if _, err := cfg.Exchange(ctx, code); ocGrantError(err) != "invalid_grant" && ocGrantError(err) != "invalid_request" {
			t.Errorf("no verifier: %v", err)
		}
	})

	t.Run("redirect-mismatch", func(t *testing.T) {
		for _, bad := range []string{"https://app.example/cb/x", "https://app.example/cbx", "https://app.example.evil/cb",
			"https://app.example/cb?x=1", "https://app.example/cb#f", "http://app.example/cb", "http://127.0.0.1:8888/cb"} {
			cfg := ocConfig(s, first, "auth:users:read")
			cfg.RedirectURL = bad
			p := ocNewBrowser(t, s).get(cfg.AuthCodeURL(ocState, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
			if p.status != 400 || p.header.Get("Location") != "" || !strings.Contains(p.body, "redirect") ||
				strings.Contains(p.body, `name="password"`) {
				t.Errorf("%s: %d %q\n%s", bad, p.status, p.header.Get("Location"), p.body)
			}
		}
		// An unknown client: a page too.
		p := ocNewBrowser(t, s).get(ocConfig(s, "no-such-client").AuthCodeURL(ocState, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if p.status != 400 || p.header.Get("Location") != "" {
			t.Errorf("unknown client: %d %v", p.status, p.header)
		}
		// The registered loopback URI itself works.
		cfg := ocConfig(s, first, "auth:users:read")
		cfg.RedirectURL = "http://127.0.0.1:9999/cb"
		p = ocNewBrowser(t, s).get(cfg.AuthCodeURL(ocState, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if p.status != 200 {
			t.Errorf("registered loopback URI: %d\n%s", p.status, p.body)
		}
	})

	t.Run("code-replay", func(t *testing.T) {
		cfg := ocConfig(s, first, "auth:users:read", "offline_access")
		code, verifier := ocCode(t, s, cfg, "")
		tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		oaBearer(s, tok.AccessToken, "GET", ocBase+"/users").Must(t, 200)
		if _, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier)); ocGrantError(err) != "invalid_grant" {
			t.Errorf("second use of a code: %v", err)
		}
		oaBearer(s, tok.AccessToken, "GET", ocBase+"/users").Must(t, 401)
		if st, out := ocRefresh(t, s, first, tok.RefreshToken); st == 200 {
			t.Errorf("refresh token of a replayed code: %v", out)
		}
	})

	t.Run("wrong-password", func(t *testing.T) {
		b := ocNewBrowser(t, s)
		p := b.get(ocConfig(s, first, "auth:users:read").AuthCodeURL(ocState, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		wrong := b.post(p, "username", `ocf\una`, "password", "not-the-password")
		ghost := b.post(p, "username", `ocf\nobody`, "password", "not-the-password")
		for _, r := range []*ocPage{wrong, ghost} {
			if r.status != 200 || r.header.Get("Location") != "" || strings.Contains(r.body, "code=") ||
				!strings.Contains(r.body, "The user name or password is not correct.") || r.hidden.Get("step") != "password" {
				t.Errorf("wrong sign-in: %d %v\n%s", r.status, r.header, r.body)
			}
		}
		// The right password after a wrong one still signs in.
		if q := b.post(wrong, "username", `ocf\una`, "password", clPass).redirect(t); q.Get("code") == "" {
			t.Errorf("redirect %v", q)
		}
	})

	t.Run("csrf", func(t *testing.T) {
		b := ocNewBrowser(t, s)
		p := b.get(ocConfig(s, first, "auth:users:read").AuthCodeURL(ocState, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if r := b.post(p, "-csrf", "", "username", `ocf\una`, "password", clPass); r.status != 403 || r.header.Get("Location") != "" {
			t.Errorf("missing CSRF token: %d", r.status)
		}
		// Another first character (not the same one by chance).
		csrfTok := p.hidden.Get("csrf")
		lead := "x"
		if strings.HasPrefix(csrfTok, "x") {
			lead = "y"
		}
		if r := b.post(p, "csrf", lead+csrfTok[1:], "username", `ocf\una`, "password", clPass); r.status != 403 {
			t.Errorf("invalid CSRF token: %d", r.status)
		}
		// The form posted from another browser (no nonce cookie).
		if r := ocNewBrowser(t, s).post(p, "username", `ocf\una`, "password", clPass); r.status != 403 {
			t.Errorf("form from another browser: %d", r.status)
		}
		// A token bound to another request.
		other := b.get(ocConfig(s, first, "auth:me:read").AuthCodeURL(ocState, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if r := b.post(p, "csrf", other.hidden.Get("csrf"), "username", `ocf\una`, "password", clPass); r.status != 403 {
			t.Errorf("CSRF token of another request: %d", r.status)
		}
		// A forged ticket cannot skip the password.
		if r := b.post(p, "step", "consent", "ticket", "eyJhIjoib2NmIiwidSI6InVuYSJ9.xxxx"); r.status != 403 {
			t.Errorf("forged ticket: %d", r.status)
		}
	})

	t.Run("consent", func(t *testing.T) {
		cfg := ocConfig(s, third, "auth:users:read")
		b := ocNewBrowser(t, s)
		p := b.get(cfg.AuthCodeURL(ocState, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		p = b.post(p, "username", `ocf\una`, "password", clPass)
		if p.status != 200 || p.hidden.Get("step") != "consent" || !strings.Contains(p.body, "auth:users:read") ||
			!strings.Contains(p.body, "Allow") || !strings.Contains(p.body, "Deny") {
			t.Fatalf("consent page %d:\n%s", p.status, p.body)
		}
		if q := b.post(p, "consent", "deny").redirect(t); q.Get("error") != "access_denied" || q.Get("code") != "" || q.Get("state") != ocState {
			t.Errorf("deny: %v", q)
		}
		code, verifier := ocCode(t, s, cfg, "allow")
		tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange after consent: %v", err)
		}
		oaBearer(s, tok.AccessToken, "GET", ocBase+"/users").Must(t, 200)
	})

	t.Run("disabled-user", func(t *testing.T) {
		b := ocNewBrowser(t, s)
		p := b.get(ocConfig(s, first, "auth:users:read").AuthCodeURL(ocState, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		s.Admin("PUT", ocUser, "<user><enabled>false</enabled></user>").Must(t, 204)
		r := b.post(p, "username", `ocf\una`, "password", clPass)
		s.Admin("PUT", ocUser, "<user><enabled>true</enabled></user>").Must(t, 204)
		if r.status != 200 || r.header.Get("Location") != "" || !strings.Contains(r.body, "not correct") {
			t.Errorf("disabled user: %d %v\n%s", r.status, r.header, r.body)
		}
	})
}

// The page and HTTP Basic share one throttle: failures on the page
// throttle Basic and the page alike, and the page says so kindly.
func TestOAuthSignInThrottle(t *testing.T) {
	cfg := harness.Config(t)
	cfg.Auth.Throttle.UserFailures = 2
	cfg.Auth.Throttle.AddressFailures = 1000
	s := harness.StartWith(t, cfg)
	azCreateAccount(t, s, "ocf", "system")
	azAdmin(t, s, "PUT", ocBase+"/permissions", azPermsBody("*"), 204)
	azUserWithRole(t, s, "ocf", "una", clPass, "reader", "auth:*")
	id := ocClient(t, s, true, "auth:users:read")

	b := ocNewBrowser(t, s)
	p := b.get(ocConfig(s, id, "auth:users:read").AuthCodeURL(ocState, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	for range 2 {
		if r := b.post(p, "username", `ocf\una`, "password", "wrong-password"); r.status != 200 {
			t.Fatalf("wrong password: %d", r.status)
		}
	}
	r := b.post(p, "username", `ocf\una`, "password", clPass)
	if r.status != 429 || r.header.Get("Retry-After") == "" || r.header.Get("Location") != "" ||
		!strings.Contains(r.body, "Too many failed sign-ins") || r.hidden.Get("step") != "password" {
		t.Errorf("throttled page: %d %v\n%s", r.status, r.header, r.body)
	}
	s.As(`ocf\una`, clPass, "GET", ocBase+"/users", "").Must(t, 429)
}
