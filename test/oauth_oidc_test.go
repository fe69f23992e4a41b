package test

// End-to-end tests of OpenID Connect (SPEC §7): the code + PKCE flow
// with the openid scope and a nonce gives an ID token that verifies
// against /oauth2/jwks with the right iss, aud, sub, nonce and user
// claims; userinfo answers for the same subject; without openid there is
// no ID token and userinfo refuses the token; a refresh gives a new ID
// token; client credentials without scope get no OpenID scopes; the
// discovery document advertises userinfo and the OpenID metadata.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	"gatehouse/test/harness"
)

const (
	oidBase  = azV2 + "/accounts/oid"
	oidUser  = oidBase + "/users/ida"
	oidSub   = `oid\ida`
	oidEmail = "ida@example.com"
	oidName  = "Ida Example"
	oidNonce = "nonce-0123456789"
)

// oidSetup: account oid with user ida (email and full name set, role
// holding auth:*) and a first-party public code client of hers with
// refresh; returns the client id.
func oidSetup(t *testing.T, s *harness.Server) string {
	t.Helper()
	azCreateAccount(t, s, "oid", "system")
	azAdmin(t, s, "PUT", oidBase+"/permissions", azPermsBody("*"), 204)
	azUserWithRole(t, s, "oid", "ida", clPass, "reader", "auth:*")
	s.Admin("PUT", oidUser, "<user><email>"+oidEmail+"</email><full-name>"+oidName+"</full-name></user>").Must(t, 204)
	body := "<client><first-party>true</first-party>" +
		clList("grant-types", "grant-type", "authorization_code", "refresh_token") +
		"<public>true</public>" + clList("scopes", "scope", "auth:me:read") +
		clList("uris", "uri", ocRedirect) + "</client>"
	r := s.Admin("POST", oidUser+"/clients", body).Must(t, 201)
	id := r.Root().SelectAttrValue("identifier", "")
	if id == "" {
		t.Fatalf("no client id:\n%s", r.Body)
	}
	return id
}

// oidExchange runs the code + PKCE flow as oid\ida with the scopes and
// extra authorize parameters and returns the token response.
func oidExchange(t *testing.T, s *harness.Server, id string, scopes []string, opts ...oauth2.AuthCodeOption) *oauth2.Token {
	t.Helper()
	cfg := ocConfig(s, id, scopes...)
	verifier := oauth2.GenerateVerifier()
	q := ocSignIn(t, ocNewBrowser(t, s), cfg.AuthCodeURL(ocState, append(opts, oauth2.S256ChallengeOption(verifier))...), oidSub, clPass, "")
	if q.Get("code") == "" {
		t.Fatalf("redirect query %v", q)
	}
	tok, err := cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok
}

// oidVerify verifies an ID token against the server's JWKS and returns
// its claims.
func oidVerify(t *testing.T, s *harness.Server, idToken string) map[string]any {
	t.Helper()
	resp, err := s.Client.Get(s.URL() + "/oauth2/jwks")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.ParseSigned(idToken, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("id token: %v", err)
	}
	if len(tok.Headers) != 1 {
		t.Fatalf("id token headers %v", tok.Headers)
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("the id token's kid %q is not in the JWKS", tok.Headers[0].KeyID)
	}
	var std jwt.Claims
	var all map[string]any
	if err := tok.Claims(keys[0].Key, &std, &all); err != nil {
		t.Fatalf("id token signature: %v", err)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: s.URL(), Time: time.Now()}, time.Minute); err != nil {
		t.Errorf("id token claims: %v", err)
	}
	return all
}

// oidUserinfo calls userinfo with a bearer token.
func oidUserinfo(t *testing.T, s *harness.Server, method, token string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL()+"/oauth2/userinfo", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, resp.Header, out
}

func oidAud(v any) []string {
	switch a := v.(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, x := range a {
			s, _ := x.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

func TestOIDCCodeFlow(t *testing.T) {
	s := harness.Start(t)
	id := oidSetup(t, s)

	t.Run("id-token-and-userinfo", func(t *testing.T) {
		tok := oidExchange(t, s, id, []string{"openid", "email", "auth:me:read"}, oauth2.SetAuthURLParam("nonce", oidNonce))
		raw, _ := tok.Extra("id_token").(string)
		if raw == "" {
			t.Fatal("no id_token with the openid scope")
		}
		c := oidVerify(t, s, raw)
		if c["iss"] != s.URL() || c["sub"] != oidSub || !slices.Contains(oidAud(c["aud"]), id) ||
			c["nonce"] != oidNonce || c["email"] != oidEmail || c["account"] != "oid" {
			t.Errorf("id token claims %v", c)
		}
		if _, ok := c["name"]; ok {
			t.Errorf("name without the profile scope: %v", c)
		}
		exp, _ := c["exp"].(float64)
		iat, _ := c["iat"].(float64)
		if at, _ := c["auth_time"].(float64); at == 0 || exp-iat < 9*60 || exp-iat > 11*60 {
			t.Errorf("auth_time, iat, exp: %v", c)
		}
		// The access token still works on /auth/v2 within its scopes.
		oaBearer(s, tok.AccessToken, "GET", azV2+"/me").Must(t, 200)

		for _, m := range []string{"GET", "POST"} {
			st, _, u := oidUserinfo(t, s, m, tok.AccessToken)
			if st != 200 || u["sub"] != c["sub"] || u["email"] != oidEmail || u["account"] != "oid" {
				t.Errorf("%s userinfo: %d %v", m, st, u)
			}
			if _, ok := u["name"]; ok {
				t.Errorf("%s userinfo: name without profile: %v", m, u)
			}
		}
	})

	t.Run("without-openid", func(t *testing.T) {
		tok := oidExchange(t, s, id, []string{"auth:me:read"}, oauth2.SetAuthURLParam("nonce", oidNonce))
		if raw, _ := tok.Extra("id_token").(string); raw != "" {
			t.Errorf("an id_token without the openid scope: %s", raw)
		}
		st, h, out := oidUserinfo(t, s, "GET", tok.AccessToken)
		if st != 403 || out["error"] != "insufficient_scope" || !strings.Contains(h.Get("WWW-Authenticate"), "insufficient_scope") {
			t.Errorf("userinfo without openid: %d %v %v", st, h, out)
		}
		if st, _, _ := oidUserinfo(t, s, "GET", "not-a-token"); st != 401 {
			t.Errorf("userinfo with a bad token: %d", st)
		}
	})

	t.Run("refresh", func(t *testing.T) {
		tok := oidExchange(t, s, id, []string{"openid", "profile", "offline_access"})
		first, _ := tok.Extra("id_token").(string)
		if first == "" || tok.RefreshToken == "" {
			t.Fatalf("id token %q, refresh token %q", first, tok.RefreshToken)
		}
		c1 := oidVerify(t, s, first)
		if c1["name"] != oidName || c1["sub"] != oidSub {
			t.Errorf("first id token %v", c1)
		}
		if _, ok := c1["email"]; ok {
			t.Errorf("email without the email scope: %v", c1)
		}
		st, out := ocRefresh(t, s, id, tok.RefreshToken)
		second, _ := out["id_token"].(string)
		if st != 200 || second == "" || second == first {
			t.Fatalf("refresh: %d %v", st, out)
		}
		c2 := oidVerify(t, s, second)
		if c2["sub"] != oidSub || !slices.Contains(oidAud(c2["aud"]), id) || c2["name"] != oidName || c2["account"] != "oid" {
			t.Errorf("refreshed id token %v", c2)
		}
		at2, _ := out["access_token"].(string)
		if st, _, u := oidUserinfo(t, s, "GET", at2); st != 200 || u["name"] != oidName || u["sub"] != oidSub {
			t.Errorf("userinfo after refresh: %d %v", st, u)
		}
	})

	t.Run("client-credentials-no-openid", func(t *testing.T) {
		body := "<client>" + clList("grant-types", "grant-type", "client_credentials", "authorization_code") +
			clList("scopes", "scope", "auth:me:read") + clList("uris", "uri", ocRedirect) + "</client>"
		r := s.Admin("POST", oidUser+"/clients", body).Must(t, 201)
		cid := r.Root().SelectAttrValue("identifier", "")
		var secret string
		if sec := r.Root().SelectElement("client-secret"); sec != nil {
			secret = sec.Text()
		}
		st, out := oaForm(t, s, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, cid, secret, nil)
		if st != 200 || out["id_token"] != nil {
			t.Fatalf("client credentials: %d %v", st, out)
		}
		at, _ := out["access_token"].(string)
		if sc := oaScope(oaClaims(t, at)["scope"]); sc != "auth:me:read" {
			t.Errorf("client credentials without scope got %q", sc)
		}
		if st, _, _ := oidUserinfo(t, s, "GET", at); st != 403 {
			t.Errorf("userinfo for a client credentials token: %d", st)
		}
	})

	t.Run("discovery", func(t *testing.T) {
		d := oaGetJSON(t, s, "/.well-known/openid-configuration")
		if d["userinfo_endpoint"] != s.URL()+"/oauth2/userinfo" {
			t.Errorf("userinfo_endpoint %v", d["userinfo_endpoint"])
		}
		for field, want := range map[string][]string{
			"scopes_supported":                      {"openid", "offline_access", "email", "profile"},
			"id_token_signing_alg_values_supported": {"ES256"},
			"subject_types_supported":               {"public"},
			"claims_supported":                      {"sub", "iss", "aud", "nonce", "account", "email", "name"},
		} {
			list, _ := d[field].([]any)
			for _, w := range want {
				if !slices.Contains(list, any(w)) {
					t.Errorf("%s %v lacks %s", field, list, w)
				}
			}
		}
	})
}
