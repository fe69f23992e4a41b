package test

// End-to-end tests of the OAuth endpoints (SPEC §3a, §6, §7) with a real
// OAuth client (golang.org/x/oauth2/clientcredentials): client
// credentials tokens that act for the client's owner with the client's
// scopes, JWT access tokens on /auth/v2 (power = effective ∩ scopes),
// introspection, revocation, a deleted client's tokens, wrong secrets,
// discovery, the JWKS, and a token signed by another key.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"gatehouse/test/harness"
)

const (
	oaBase = azV2 + "/accounts/oac"
	oaUser = oaBase + "/users/olga"
)

// oaClient creates a confidential client_credentials client of
// oac\olga with scopes and returns its id and secret.
func oaClient(t *testing.T, s *harness.Server, scopes ...string) (id, secret string) {
	t.Helper()
	return ccClientOf(t, s, oaUser, scopes...)
}

// ccClientOf creates a confidential client_credentials client of the
// user at userHref with scopes and returns its id and secret.
func ccClientOf(t *testing.T, s *harness.Server, userHref string, scopes ...string) (id, secret string) {
	t.Helper()
	body := "<client>" + clList("grant-types", "grant-type", "client_credentials") +
		clList("scopes", "scope", scopes...) + "</client>"
	r := s.Admin("POST", userHref+"/clients", body).Must(t, 201)
	id = r.Root().SelectAttrValue("identifier", "")
	if sec := r.Root().SelectElement("client-secret"); sec != nil {
		secret = sec.Text()
	}
	if id == "" || secret == "" {
		t.Fatalf("no id or secret:\n%s", r.Body)
	}
	return id, secret
}

func oaConfig(s *harness.Server, id, secret string, scopes ...string) *clientcredentials.Config {
	return &clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: s.URL() + "/oauth2/token", Scopes: scopes}
}

func oaToken(t *testing.T, s *harness.Server, id, secret string, scopes ...string) *oauth2.Token {
	t.Helper()
	tok, err := oaConfig(s, id, secret, scopes...).Token(context.Background())
	if err != nil {
		t.Fatalf("token for %s: %v", id, err)
	}
	return tok
}

// oaBearer calls /auth/v2 with a bearer token.
func oaBearer(s *harness.Server, token, method, path string) *harness.Response {
	return s.Do(harness.Request{Method: method, Path: path, Header: http.Header{"Authorization": {"Bearer " + token}}})
}

// oaForm posts a form to an OAuth endpoint, with Basic client
// credentials when id is set, else with the header given.
func oaForm(t *testing.T, s *harness.Server, path string, form url.Values, id, secret string, h http.Header) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("POST", s.URL()+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range h {
		req.Header[k] = v
	}
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func oaIntrospect(t *testing.T, s *harness.Server, token, id, secret string) map[string]any {
	t.Helper()
	st, out := oaForm(t, s, "/oauth2/introspect", url.Values{"token": {token}}, id, secret, nil)
	if st != 200 {
		t.Fatalf("introspection: %d %v", st, out)
	}
	return out
}

// oaClaims decodes a JWT's claims without verifying it.
func oaClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("access token %q is not a JWT", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// oaScope is a scope claim's scopes, sorted.
func oaScope(v any) string {
	s, _ := v.(string)
	f := strings.Fields(s)
	slices.Sort(f)
	return strings.Join(f, " ")
}

func oaGetJSON(t *testing.T, s *harness.Server, path string) map[string]any {
	t.Helper()
	resp, err := s.Client.Get(s.URL() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return out
}

func TestOAuthClientCredentials(t *testing.T) {
	s := harness.Start(t)
	azCreateAccount(t, s, "oac", "system")
	azAdmin(t, s, "PUT", oaBase+"/permissions", azPermsBody("*"), 204)
	azUserWithRole(t, s, "oac", "olga", clPass, "reader", "auth:*")

	id, secret := oaClient(t, s, "auth:users:read", "auth:me:read")
	tok := oaToken(t, s, id, secret)
	if tok.TokenType != "bearer" && tok.TokenType != "Bearer" || tok.Expiry.IsZero() || tok.RefreshToken != "" {
		t.Errorf("token response: type %q, expiry %v, refresh %q", tok.TokenType, tok.Expiry, tok.RefreshToken)
	}
	c := oaClaims(t, tok.AccessToken)
	if c["sub"] != `oac\olga` || c["account"] != "oac" || c["client_id"] != id || oaScope(c["scope"]) != "auth:me:read auth:users:read" ||
		c["iss"] != s.URL() || c["jti"] == "" {
		t.Errorf("claims %v", c)
	}

	t.Run("api-within-scopes", func(t *testing.T) {
		oaBearer(s, tok.AccessToken, "GET", oaBase+"/users").Must(t, 200)
		r := oaBearer(s, tok.AccessToken, "GET", azV2+"/me").Must(t, 200)
		if !strings.Contains(r.Body, "olga") {
			t.Errorf("/me as the token:\n%s", r.Body)
		}
	})
	t.Run("api-beyond-scopes", func(t *testing.T) {
		// olga holds auth:*, the token only its scopes.
		oaBearer(s, tok.AccessToken, "GET", oaBase+"/roles").Must(t, 403)
		s.As(`oac\olga`, clPass, "GET", oaBase+"/roles", "").Must(t, 200)
	})
	t.Run("narrower-scope", func(t *testing.T) {
		narrow := oaToken(t, s, id, secret, "auth:users:read")
		if got := oaClaims(t, narrow.AccessToken)["scope"]; got != "auth:users:read" {
			t.Errorf("scope %v", got)
		}
		oaBearer(s, narrow.AccessToken, "GET", azV2+"/me").Must(t, 403)
	})
	t.Run("scope-beyond-client", func(t *testing.T) {
		_, err := oaConfig(s, id, secret, "auth:roles:read").Token(context.Background())
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_scope" {
			t.Errorf("scope beyond the client's: %v", err)
		}
	})
	t.Run("wrong-secret", func(t *testing.T) {
		_, err := oaConfig(s, id, secret+"x").Token(context.Background())
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.Response.StatusCode != 401 || re.ErrorCode != "invalid_client" {
			t.Errorf("wrong secret: %v", err)
		}
		st, out := oaForm(t, s, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "no-such-client", "x", nil)
		if st != 401 || out["error"] != "invalid_client" {
			t.Errorf("unknown client: %d %v", st, out)
		}
	})
	t.Run("introspect", func(t *testing.T) {
		out := oaIntrospect(t, s, tok.AccessToken, id, secret)
		if out["active"] != true || out["sub"] != `oac\olga` || oaScope(out["scope"]) != "auth:me:read auth:users:read" ||
			out["client_id"] != id || out["token_type"] != "Bearer" && out["token_type"] != nil {
			t.Errorf("introspection %v", out)
		}
		if _, has := out["exp"]; !has {
			t.Errorf("introspection without exp: %v", out)
		}
		if out := oaIntrospect(t, s, "not-a-token", id, secret); out["active"] != false {
			t.Errorf("garbage introspected %v", out)
		}
		// Callers: wrong secret, nobody, a bearer without the permission.
		if st, _ := oaForm(t, s, "/oauth2/introspect", url.Values{"token": {tok.AccessToken}}, id, "wrong", nil); st != 401 {
			t.Errorf("introspection with a wrong secret: %d", st)
		}
		if st, _ := oaForm(t, s, "/oauth2/introspect", url.Values{"token": {tok.AccessToken}}, "", "", nil); st != 401 {
			t.Errorf("introspection without credentials: %d", st)
		}
		other := oaToken(t, s, id, secret, "auth:users:read")
		h := http.Header{"Authorization": {"Bearer " + other.AccessToken}}
		if st, _ := oaForm(t, s, "/oauth2/introspect", url.Values{"token": {tok.AccessToken}}, "", "", h); st != 401 {
			t.Errorf("introspection by a bearer without %s: %d", "auth:introspect:read", st)
		}
		// A bearer holding auth:introspect:read may.
		iid, isec := oaClient(t, s, "auth:introspect:read")
		itok := oaToken(t, s, iid, isec)
		h = http.Header{"Authorization": {"Bearer " + itok.AccessToken}}
		if st, out := oaForm(t, s, "/oauth2/introspect", url.Values{"token": {tok.AccessToken}}, "", "", h); st != 200 || out["active"] != true {
			t.Errorf("introspection by a bearer holding auth:introspect:read: %d %v", st, out)
		}
	})
	t.Run("revoke", func(t *testing.T) {
		victim := oaToken(t, s, id, secret)
		oaBearer(s, victim.AccessToken, "GET", oaBase+"/users").Must(t, 200)
		// Another client may not revoke it (RFC 7009 §2.1): still active.
		oid, osec := oaClient(t, s, "auth:users:read")
		_, _ = oaForm(t, s, "/oauth2/revoke", url.Values{"token": {victim.AccessToken}}, oid, osec, nil)
		if out := oaIntrospect(t, s, victim.AccessToken, id, secret); out["active"] != true {
			t.Fatalf("revoked by another client: %v", out)
		}
		if st, out := oaForm(t, s, "/oauth2/revoke", url.Values{"token": {victim.AccessToken}}, id, secret, nil); st != 200 {
			t.Fatalf("revoke: %d %v", st, out)
		}
		if out := oaIntrospect(t, s, victim.AccessToken, id, secret); out["active"] != false {
			t.Errorf("revoked token introspected %v", out)
		}
		oaBearer(s, victim.AccessToken, "GET", oaBase+"/users").Must(t, 401)
		// Revoking one token leaves the client's others alone.
		oaBearer(s, tok.AccessToken, "GET", oaBase+"/users").Must(t, 200)
		// Unknown tokens: success (RFC 7009 §2.2).
		if st, _ := oaForm(t, s, "/oauth2/revoke", url.Values{"token": {"unknown"}}, id, secret, nil); st != 200 {
			t.Errorf("revoking an unknown token: %d", st)
		}
	})
	t.Run("deleted-client", func(t *testing.T) {
		did, dsec := oaClient(t, s, "auth:users:read")
		dtok := oaToken(t, s, did, dsec)
		oaBearer(s, dtok.AccessToken, "GET", oaBase+"/users").Must(t, 200)
		s.Admin("DELETE", oaUser+"/clients/"+did, "").Must(t, 204)
		oaBearer(s, dtok.AccessToken, "GET", oaBase+"/users").Must(t, 401)
		if out := oaIntrospect(t, s, dtok.AccessToken, id, secret); out["active"] != false {
			t.Errorf("a deleted client's token introspected %v", out)
		}
		if _, err := oaConfig(s, did, dsec).Token(context.Background()); err == nil {
			t.Error("a deleted client got a token")
		}
	})
	t.Run("disabled-owner", func(t *testing.T) {
		eid, esec := oaClient(t, s, "auth:users:read")
		etok := oaToken(t, s, eid, esec)
		s.Admin("PUT", oaUser, "<user><enabled>false</enabled></user>").Must(t, 204)
		oaBearer(s, etok.AccessToken, "GET", oaBase+"/users").Must(t, 401)
		if _, err := oaConfig(s, eid, esec).Token(context.Background()); err == nil {
			t.Error("a disabled owner's client got a token")
		}
		s.Admin("PUT", oaUser, "<user><enabled>true</enabled></user>").Must(t, 204)
		oaBearer(s, etok.AccessToken, "GET", oaBase+"/users").Must(t, 200)
	})
	t.Run("api-key-bearer-still-works", func(t *testing.T) {
		oaBearer(s, "gh_notakey_xxxx", "GET", oaBase+"/users").Must(t, 401)
		oaBearer(s, "a.b.c", "GET", oaBase+"/users").Must(t, 401)
	})
	t.Run("foreign-key", func(t *testing.T) {
		jwks := oaGetJSON(t, s, "/oauth2/jwks")
		kid := jwks["keys"].([]any)[0].(map[string]any)["kid"].(string)
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		for _, useKid := range []string{kid, oaThumb(t, &priv.PublicKey)} {
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: priv, KeyID: useKid}},
				(&jose.SignerOptions{}).WithType("at+jwt"))
			if err != nil {
				t.Fatal(err)
			}
			forged := c
			forged["exp"] = time.Now().Add(time.Hour).Unix()
			raw, err := jwt.Signed(signer).Claims(forged).Serialize()
			if err != nil {
				t.Fatal(err)
			}
			oaBearer(s, raw, "GET", oaBase+"/users").Must(t, 401)
			if out := oaIntrospect(t, s, raw, id, secret); out["active"] != false {
				t.Errorf("forged token (kid %s) introspected %v", useKid, out)
			}
		}
	})
}

func oaThumb(t *testing.T, pub *ecdsa.PublicKey) string {
	t.Helper()
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

func TestOAuthDiscovery(t *testing.T) {
	s := harness.Start(t)
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		d := oaGetJSON(t, s, path)
		if d["issuer"] != s.URL() || d["token_endpoint"] != s.URL()+"/oauth2/token" ||
			d["introspection_endpoint"] != s.URL()+"/oauth2/introspect" || d["revocation_endpoint"] != s.URL()+"/oauth2/revoke" ||
			d["jwks_uri"] != s.URL()+"/oauth2/jwks" {
			t.Errorf("%s endpoints: %v", path, d)
		}
		has := func(field, want string) {
			list, _ := d[field].([]any)
			for _, x := range list {
				if x == want {
					return
				}
			}
			t.Errorf("%s: %s %v lacks %s", path, field, d[field], want)
		}
		has("grant_types_supported", "client_credentials")
		has("code_challenge_methods_supported", "S256")
		has("token_endpoint_auth_methods_supported", "client_secret_basic")
		has("token_endpoint_auth_methods_supported", "client_secret_post")
		if m := d["code_challenge_methods_supported"].([]any); len(m) != 1 {
			t.Errorf("%s: PKCE methods %v; want S256 only", path, m)
		}
	}
	jwks := oaGetJSON(t, s, "/oauth2/jwks")
	keys, _ := jwks["keys"].([]any)
	if len(keys) != 1 {
		t.Fatalf("JWKS %v", jwks)
	}
	k := keys[0].(map[string]any)
	if k["kty"] != "EC" || k["crv"] != "P-256" || k["alg"] != "ES256" || k["use"] != "sig" || k["kid"] == "" || k["x"] == nil {
		t.Errorf("JWK %v", k)
	}
	if _, private := k["d"]; private {
		t.Error("the JWKS publishes a private key")
	}
	// The OAuth endpoints answer OAuth errors, not problem documents.
	req, _ := http.NewRequest("POST", s.URL()+"/oauth2/token", strings.NewReader("grant_type=password"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("token endpoint without a client: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
