package test

// End-to-end tests of pushed authorization requests (RFC 9126; issue 9
// item 8): a confidential client pushes an authorization request with
// its credentials and gets a request_uri; the request_uri drives the
// whole code + PKCE flow through the sign-in page's steps (password,
// then consent) although the pushed request is consumed on its first
// use; the same request_uri used again, an unknown one and an expired
// one fail; pushing without client authentication fails, as do pushes
// gatehouse's authorize endpoint would refuse; discovery advertises the
// endpoint.

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"gatehouse/oauth"
	"gatehouse/test/harness"
)

const (
	parBase  = azV2 + "/accounts/parf"
	parUser  = parBase + "/users/pia"
	parState = "par-state-0123456789"
)

// parClient creates a confidential authorization-code client of
// parf\pia authenticating with client_secret_post, with ocRedirect
// registered.
func parClient(t *testing.T, s *harness.Server, firstParty bool) (id, secret string) {
	t.Helper()
	fp := "false"
	if firstParty {
		fp = "true"
	}
	body := "<client><first-party>" + fp + "</first-party>" +
		clList("grant-types", "grant-type", "authorization_code", "refresh_token") +
		clList("scopes", "scope", "auth:users:read") + clList("uris", "uri", ocRedirect) +
		"<token-endpoint-auth-method>client_secret_post</token-endpoint-auth-method></client>"
	r := s.Admin("POST", parUser+"/clients", body).Must(t, 201)
	id = r.Root().SelectAttrValue("identifier", "")
	if sec := r.Root().SelectElement("client-secret"); sec != nil {
		secret = sec.Text()
	}
	if id == "" || secret == "" {
		t.Fatalf("no id or secret:\n%s", r.Body)
	}
	return id, secret
}

func parChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// parForm is a pushed code request of client id (PKCE S256 for
// verifier), authenticated with secret in the form when not "".
func parForm(id, secret, verifier string) url.Values {
	f := url.Values{"response_type": {"code"}, "client_id": {id}, "redirect_uri": {ocRedirect},
		"scope": {"auth:users:read"}, "state": {parState},
		"code_challenge": {parChallenge(verifier)}, "code_challenge_method": {"S256"}}
	if secret != "" {
		f.Set("client_secret", secret)
	}
	return f
}

// parPush pushes form and returns the request_uri.
func parPush(t *testing.T, s *harness.Server, form url.Values) string {
	t.Helper()
	st, out := oaForm(t, s, "/oauth2/par", form, "", "", nil)
	uri, _ := out["request_uri"].(string)
	if st != 201 || !strings.HasPrefix(uri, oauth.PARURIPrefix) {
		t.Fatalf("push: %d %v", st, out)
	}
	if exp, _ := out["expires_in"].(float64); exp < 60 || exp > 90 {
		t.Errorf("expires_in %v; want 60–90 s", out["expires_in"])
	}
	return uri
}

func parAuthorizeURL(s *harness.Server, id, uri string) string {
	return s.URL() + "/oauth2/authorize?" + url.Values{"client_id": {id}, "request_uri": {uri}}.Encode()
}

func TestOAuthPAR(t *testing.T) {
	clock := harness.NewClock(time.Now())
	s := harness.StartClocked(t, harness.Config(t), clock.Now)
	ctx := context.Background()
	azCreateAccount(t, s, "parf", "system")
	azAdmin(t, s, "PUT", parBase+"/permissions", azPermsBody("*"), 204)
	azUserWithRole(t, s, "parf", "pia", clPass, "reader", "auth:*")
	first, firstSecret := parClient(t, s, true)
	third, thirdSecret := parClient(t, s, false)

	exchange := func(t *testing.T, id, secret, code, verifier string) *oauth2.Token {
		t.Helper()
		cfg := &oauth2.Config{ClientID: id, ClientSecret: secret, RedirectURL: ocRedirect,
			Endpoint: oauth2.Endpoint{AuthURL: s.URL() + "/oauth2/authorize", TokenURL: s.URL() + "/oauth2/token",
				AuthStyle: oauth2.AuthStyleInParams}}
		tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		return tok
	}

	t.Run("request-uri-completes-code-pkce-flow", func(t *testing.T) {
		for _, c := range []struct {
			name, id, secret, consent string
		}{{"first-party", first, firstSecret, ""}, {"with-consent", third, thirdSecret, "allow"}} {
			t.Run(c.name, func(t *testing.T) {
				verifier := oauth2.GenerateVerifier()
				uri := parPush(t, s, parForm(c.id, c.secret, verifier))
				b := ocNewBrowser(t, s)
				p := b.get(parAuthorizeURL(s, c.id, uri))
				if p.status != 200 || p.hidden.Get("step") != "password" {
					t.Fatalf("authorize with request_uri: %d %s", p.status, p.body)
				}
				// The page carries the pushed parameters, not the used
				// request_uri, and never the client's secret.
				req := p.hidden.Get("request")
				if strings.Contains(req, "request_uri") || strings.Contains(req, c.secret) ||
					!strings.Contains(req, "code_challenge="+parChallenge(verifier)) {
					t.Errorf("page's request %q", req)
				}
				p = b.post(p, "username", `parf\pia`, "password", clPass)
				if c.consent != "" {
					if p.status != 200 || p.hidden.Get("step") != "consent" {
						t.Fatalf("want the consent step: %d %s", p.status, p.body)
					}
					p = b.post(p, "consent", c.consent)
				}
				q := p.redirect(t)
				if q.Get("state") != parState || q.Get("code") == "" {
					t.Fatalf("redirect query %v", q)
				}
				tok := exchange(t, c.id, c.secret, q.Get("code"), verifier)
				cl := oaClaims(t, tok.AccessToken)
				if cl["sub"] != `parf\pia` || cl["client_id"] != c.id || oaScope(cl["scope"]) != "auth:users:read" {
					t.Errorf("claims %v", cl)
				}
				oaBearer(s, tok.AccessToken, "GET", parBase+"/users").Must(t, 200)

				// The request_uri was used: a second use fails with an
				// error page, never a redirect.
				again := ocNewBrowser(t, s).get(parAuthorizeURL(s, c.id, uri))
				if again.status != 400 || again.header.Get("Location") != "" || again.hidden.Get("step") != "" {
					t.Errorf("second use: %d %q %s", again.status, again.header.Get("Location"), again.body)
				}
			})
		}
	})

	t.Run("wrong-verifier-still-refused", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		uri := parPush(t, s, parForm(first, firstSecret, verifier))
		q := ocSignIn(t, ocNewBrowser(t, s), parAuthorizeURL(s, first, uri), `parf\pia`, clPass, "")
		cfg := &oauth2.Config{ClientID: first, ClientSecret: firstSecret, RedirectURL: ocRedirect,
			Endpoint: oauth2.Endpoint{TokenURL: s.URL() + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams}}
		if _, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier())); ocGrantError(err) != "invalid_grant" {
			t.Errorf("exchange with another verifier: %v", err)
		}
	})

	t.Run("unknown-or-foreign-request-uri-fails", func(t *testing.T) {
		for _, uri := range []string{oauth.PARURIPrefix + "never-pushed", "https://app.example/request.jwt", "urn:other:thing"} {
			p := ocNewBrowser(t, s).get(parAuthorizeURL(s, first, uri))
			if p.status != 400 || p.header.Get("Location") != "" || p.hidden.Get("step") != "" {
				t.Errorf("request_uri %q: %d %s", uri, p.status, p.body)
			}
		}
		// Another client's request_uri is not this client's.
		uri := parPush(t, s, parForm(third, thirdSecret, oauth2.GenerateVerifier()))
		if p := ocNewBrowser(t, s).get(parAuthorizeURL(s, first, uri)); p.status == 200 || p.hidden.Get("step") != "" {
			t.Errorf("another client's request_uri: %d %s", p.status, p.body)
		}
		// A posted step never resolves a request_uri.
		uri = parPush(t, s, parForm(first, firstSecret, oauth2.GenerateVerifier()))
		b := ocNewBrowser(t, s)
		p := b.get(ocConfig(s, first).AuthCodeURL(ocState, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if p.status != 200 {
			t.Fatalf("plain authorize: %d %s", p.status, p.body)
		}
		p = b.post(p, "request", url.Values{"client_id": {first}, "request_uri": {uri}}.Encode(), "username", `parf\pia`, "password", clPass)
		if p.status != 400 || p.header.Get("Location") != "" {
			t.Errorf("request_uri in a posted step: %d %s", p.status, p.body)
		}
		// ... so it is still good for its own flow.
		ocSignIn(t, ocNewBrowser(t, s), parAuthorizeURL(s, first, uri), `parf\pia`, clPass, "")
	})

	t.Run("push-needs-client-authentication", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		for name, form := range map[string]url.Values{
			"no-credentials": parForm(first, "", verifier),
			"wrong-secret":   parForm(first, "not-the-secret", verifier),
		} {
			st, out := oaForm(t, s, "/oauth2/par", form, "", "", nil)
			if st != 401 || out["error"] != "invalid_client" || out["request_uri"] != nil {
				t.Errorf("%s: %d %v", name, st, out)
			}
		}
		// client_secret_basic is not this client's registered method.
		st, out := oaForm(t, s, "/oauth2/par", parForm(first, "", verifier), first, firstSecret, nil)
		if st != 401 || out["request_uri"] != nil {
			t.Errorf("basic for a client_secret_post client: %d %v", st, out)
		}
	})

	t.Run("push-is-validated-like-authorize", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		for name, change := range map[string][2]string{
			"unregistered-redirect": {"redirect_uri", "https://app.example/other"},
			"plain-pkce":            {"code_challenge_method", "plain"},
			"request-uri-inside":    {"request_uri", oauth.PARURIPrefix + "x"},
			"request-object":        {"request", "a.b.c"},
			"scope-not-allowed":     {"scope", "auth:roles:read"},
		} {
			form := parForm(first, firstSecret, verifier)
			form.Set(change[0], change[1])
			st, out := oaForm(t, s, "/oauth2/par", form, "", "", nil)
			if st != 400 || out["request_uri"] != nil || out["error"] == nil {
				t.Errorf("%s: %d %v", name, st, out)
			}
		}
		if st, out := oaForm(t, s, "/oauth2/par?"+parForm(first, firstSecret, verifier).Encode(), url.Values{}, "", "", nil); st != 400 || out["request_uri"] != nil {
			t.Errorf("parameters in the query: %d %v", st, out)
		}
	})

	t.Run("discovery", func(t *testing.T) {
		for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
			d := oaGetJSON(t, s, path)
			if d["pushed_authorization_request_endpoint"] != s.URL()+"/oauth2/par" || d["require_pushed_authorization_requests"] != false {
				t.Errorf("%s: %v", path, d)
			}
		}
	})

	// Last: it moves the clock past the request_uri's life.
	t.Run("expired-request-uri-fails", func(t *testing.T) {
		fresh := parPush(t, s, parForm(first, firstSecret, oauth2.GenerateVerifier()))
		stale := parPush(t, s, parForm(first, firstSecret, oauth2.GenerateVerifier()))
		clock.Advance(oauth.PARLifetime - 5*time.Second)
		if p := ocNewBrowser(t, s).get(parAuthorizeURL(s, first, fresh)); p.status != 200 || p.hidden.Get("step") != "password" {
			t.Errorf("request_uri just before expiry: %d %s", p.status, p.body)
		}
		clock.Advance(5 * time.Second)
		p := ocNewBrowser(t, s).get(parAuthorizeURL(s, first, stale))
		if p.status != 400 || p.header.Get("Location") != "" || p.hidden.Get("step") != "" {
			t.Errorf("expired request_uri: %d %s", p.status, p.body)
		}
	})
}
