package test

// End-to-end tests of private_key_jwt client authentication (RFC 7523;
// issue 9 item 8): a client registered through the clients resource
// with its public JSON Web Key Set and no secret gets client-credentials
// tokens with assertions signed by its private key and uses them on
// /auth/v2; a replayed assertion, one signed by another key and one for
// another audience are refused; the resource refuses bad key sets and
// inconsistent methods with 400 problem documents; discovery advertises
// the method.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"encoding/xml"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"gatehouse/test/harness"
)

const (
	pkBase = azV2 + "/accounts/pkj"
	pkUser = pkBase + "/users/pete"
)

const jwtBearerAssertion = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// pkXML escapes s as XML text.
func pkXML(t *testing.T, s string) string {
	t.Helper()
	var b strings.Builder
	if err := xml.EscapeText(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// pkJWKS is the public key set of key with kid.
func pkJWKS(t *testing.T, key *ecdsa.PrivateKey, kid string) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// pkAssertion is a client assertion of client id for aud, signed by key
// with kid.
func pkAssertion(t *testing.T, key *ecdsa.PrivateKey, kid, id, aud, jti string) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, err := jwt.Signed(signer).Claims(jwt.Claims{Issuer: id, Subject: id, Audience: jwt.Audience{aud}, ID: jti,
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(5 * time.Minute))}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func pkNewKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// pkGrant posts a client_credentials grant authenticated by assertion.
func pkGrant(t *testing.T, s *harness.Server, assertion string, extra ...string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {jwtBearerAssertion},
		"client_assertion": {assertion}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	return oaForm(t, s, "/oauth2/token", form, "", "", nil)
}

func TestOAuthPrivateKeyJWT(t *testing.T) {
	s := harness.Start(t)
	azCreateAccount(t, s, "pkj", "system")
	azAdmin(t, s, "PUT", pkBase+"/permissions", azPermsBody("*"), 204)
	azUserWithRole(t, s, "pkj", "pete", clPass, "reader", "auth:*")
	tokenURL := s.URL() + "/oauth2/token"

	key := pkNewKey(t)
	body := "<client>" + clList("grant-types", "grant-type", "client_credentials") +
		clList("scopes", "scope", "auth:users:read") +
		"<token-endpoint-auth-method>private_key_jwt</token-endpoint-auth-method>" +
		"<jwks>" + pkXML(t, pkJWKS(t, key, "k1")) + "</jwks></client>"
	r := s.Admin("POST", pkUser+"/clients", body).Must(t, 201)
	id := r.Root().SelectAttrValue("identifier", "")
	if id == "" {
		t.Fatalf("no client id:\n%s", r.Body)
	}
	if r.Root().SelectElement("client-secret") != nil {
		t.Errorf("a private_key_jwt client got a secret:\n%s", r.Body)
	}
	if got := e2eTags(r.Root().ChildElements()); got != "client-id,first-party,grant-types,jwks,public,scopes,token-endpoint-auth-method,uris" {
		t.Errorf("201 fields %s", got)
	}
	g := s.Admin("GET", pkUser+"/clients/"+id, "").Must(t, 200)
	if m := g.Root().SelectElement("token-endpoint-auth-method"); m == nil || m.Text() != "private_key_jwt" {
		t.Errorf("method not shown:\n%s", g.Body)
	}
	if j := g.Root().SelectElement("jwks"); j == nil || !strings.Contains(j.Text(), `"kid":"k1"`) || strings.Contains(j.Text(), `"d"`) {
		t.Errorf("jwks not shown as registered:\n%s", g.Body)
	}

	t.Run("assertion-gets-a-token-for-the-api", func(t *testing.T) {
		st, out := pkGrant(t, s, pkAssertion(t, key, "k1", id, tokenURL, "jti-ok-1"))
		at, _ := out["access_token"].(string)
		if st != 200 || at == "" {
			t.Fatalf("token: %d %v", st, out)
		}
		c := oaClaims(t, at)
		if c["sub"] != `pkj\pete` || c["client_id"] != id || oaScope(c["scope"]) != "auth:users:read" {
			t.Errorf("claims %v", c)
		}
		oaBearer(s, at, "GET", pkBase+"/users").Must(t, 200)
		oaBearer(s, at, "GET", pkBase+"/roles").Must(t, 403)
		// With client_id in the form too (RFC 7521 §4.2 allows it).
		if st, out := pkGrant(t, s, pkAssertion(t, key, "k1", id, tokenURL, "jti-ok-2"), "client_id", id); st != 200 {
			t.Errorf("with client_id: %d %v", st, out)
		}
	})

	t.Run("replayed-assertion-is-refused", func(t *testing.T) {
		a := pkAssertion(t, key, "k1", id, tokenURL, "jti-replay")
		if st, out := pkGrant(t, s, a); st != 200 {
			t.Fatalf("first use: %d %v", st, out)
		}
		st, out := pkGrant(t, s, a)
		if st == 200 || out["access_token"] != nil || out["error"] == nil {
			t.Errorf("replay: %d %v", st, out)
		}
		// Another assertion with the same jti is the same replay.
		if st, out := pkGrant(t, s, pkAssertion(t, key, "k1", id, tokenURL, "jti-replay")); st == 200 {
			t.Errorf("same jti, new assertion: %d %v", st, out)
		}
	})

	t.Run("another-key-is-refused", func(t *testing.T) {
		other := pkNewKey(t)
		// Under the registered kid the signature does not verify
		// (invalid_client); under an unknown kid fosite finds no key and
		// answers invalid_request. Either way no token.
		for kid, want := range map[string]string{"k1": "invalid_client", "k2": "invalid_request"} {
			st, out := pkGrant(t, s, pkAssertion(t, other, kid, id, tokenURL, "jti-other-"+kid))
			if st/100 != 4 || out["error"] != want || out["access_token"] != nil {
				t.Errorf("signed by another key (kid %s): %d %v", kid, st, out)
			}
		}
	})

	t.Run("wrong-audience-is-refused", func(t *testing.T) {
		for _, aud := range []string{s.URL() + "/oauth2/introspect", "https://other.example/oauth2/token"} {
			st, out := pkGrant(t, s, pkAssertion(t, key, "k1", id, aud, "jti-aud-"+aud))
			if st != 401 || out["error"] != "invalid_client" {
				t.Errorf("aud %s: %d %v", aud, st, out)
			}
		}
	})

	t.Run("secrets-and-bare-client-id-are-refused", func(t *testing.T) {
		if st, out := oaForm(t, s, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, id, "guess", nil); st != 401 {
			t.Errorf("basic: %d %v", st, out)
		}
		if st, out := oaForm(t, s, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}}, "", "", nil); st != 401 {
			t.Errorf("client_id alone: %d %v", st, out)
		}
	})

	t.Run("a-secret-client-may-not-assert", func(t *testing.T) {
		sid, _ := ccClientOf(t, s, pkUser, "auth:users:read")
		st, out := pkGrant(t, s, pkAssertion(t, key, "k1", sid, tokenURL, "jti-secret-client"))
		if st != 401 || out["error"] != "invalid_client" {
			t.Errorf("assertion for a client_secret_basic client: %d %v", st, out)
		}
	})

	t.Run("resource-refuses-bad-registrations", func(t *testing.T) {
		priv, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key, KeyID: "k1"}}})
		if err != nil {
			t.Fatal(err)
		}
		cc := clList("grant-types", "grant-type", "client_credentials")
		for _, c := range []struct{ name, body, want string }{
			{"private-key", cc + "<token-endpoint-auth-method>private_key_jwt</token-endpoint-auth-method><jwks>" + pkXML(t, string(priv)) + "</jwks>", "private"},
			{"unparsable", cc + "<token-endpoint-auth-method>private_key_jwt</token-endpoint-auth-method><jwks>{\"keys\":[</jwks>", "jwks"},
			{"oversized", cc + "<token-endpoint-auth-method>private_key_jwt</token-endpoint-auth-method><jwks>" + strings.Repeat(" ", 1) + `{"keys":[],"x":"` + strings.Repeat("a", 17<<10) + `"}</jwks>`, "longer"},
			{"eddsa", cc + `<token-endpoint-auth-method>private_key_jwt</token-endpoint-auth-method><jwks>{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}</jwks>`, "EdDSA"},
			{"no-jwks", cc + "<token-endpoint-auth-method>private_key_jwt</token-endpoint-auth-method>", "jwks"},
			{"unknown-method", cc + "<token-endpoint-auth-method>client_secret_jwt</token-endpoint-auth-method>", "token-endpoint-auth-method"},
			{"public-with-key", "<public>true</public><token-endpoint-auth-method>private_key_jwt</token-endpoint-auth-method><jwks>" + pkXML(t, pkJWKS(t, key, "k1")) + "</jwks>", "public"},
			{"confidential-none", cc + "<token-endpoint-auth-method>none</token-endpoint-auth-method>", "none"},
		} {
			r := s.Admin("POST", pkUser+"/clients", "<client>"+c.body+"</client>")
			if r.Status != 400 || !strings.Contains(r.Body, c.want) || !strings.Contains(r.Header.Get("Content-Type"), "problem") {
				t.Errorf("%s: %d %s\n%s", c.name, r.Status, r.Header.Get("Content-Type"), r.Body)
			}
		}
		// A private_key_jwt client has no secret to switch to a secret method with.
		r := s.Admin("PUT", pkUser+"/clients/"+id, "<client><token-endpoint-auth-method>client_secret_basic</token-endpoint-auth-method></client>")
		if r.Status != 400 || !strings.Contains(r.Body, "without a secret") {
			t.Errorf("switch to a secret method: %d\n%s", r.Status, r.Body)
		}
		// A secret client may register keys and switch to private_key_jwt,
		// and back.
		sid, secret := ccClientOf(t, s, pkUser, "auth:users:read")
		s.Admin("PUT", pkUser+"/clients/"+sid, "<client><token-endpoint-auth-method>private_key_jwt</token-endpoint-auth-method><jwks>"+
			pkXML(t, pkJWKS(t, key, "k9"))+"</jwks></client>").Must(t, 204)
		if st, out := pkGrant(t, s, pkAssertion(t, key, "k9", sid, tokenURL, "jti-switched")); st != 200 {
			t.Errorf("after the switch: %d %v", st, out)
		}
		if st, _ := oaForm(t, s, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, sid, secret, nil); st != 401 {
			t.Errorf("the secret still works under private_key_jwt: %d", st)
		}
		s.Admin("PUT", pkUser+"/clients/"+sid, "<client><token-endpoint-auth-method>client_secret_basic</token-endpoint-auth-method></client>").Must(t, 204)
		oaToken(t, s, sid, secret)
	})

	t.Run("discovery", func(t *testing.T) {
		d := oaGetJSON(t, s, "/.well-known/oauth-authorization-server")
		methods := pkStrings(d["token_endpoint_auth_methods_supported"])
		algs := pkStrings(d["token_endpoint_auth_signing_alg_values_supported"])
		if !slices.Contains(methods, "private_key_jwt") || !slices.Contains(methods, "client_secret_basic") ||
			!slices.Contains(algs, "ES256") || !slices.Contains(algs, "RS256") || slices.Contains(algs, "none") {
			t.Errorf("discovery methods %v algs %v", methods, algs)
		}
	})
}

func pkStrings(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// TestOAuthSecretMethods: a confidential client without a registered
// method (the default, shown as client_secret_basic) takes its secret
// by Basic or in the form, as before methods were registered; one
// registered for a method takes only that one.
func TestOAuthSecretMethods(t *testing.T) {
	s := harness.Start(t)
	azCreateAccount(t, s, "pkj", "system")
	azAdmin(t, s, "PUT", pkBase+"/permissions", azPermsBody("*"), 204)
	azUserWithRole(t, s, "pkj", "pete", clPass, "reader", "auth:*")
	grant := url.Values{"grant_type": {"client_credentials"}}
	post := func(id, secret string) int {
		f := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
		st, _ := oaForm(t, s, "/oauth2/token", f, "", "", nil)
		return st
	}
	basic := func(id, secret string) int {
		st, _ := oaForm(t, s, "/oauth2/token", grant, id, secret, nil)
		return st
	}

	id, secret := ccClientOf(t, s, pkUser, "auth:users:read")
	if m := s.Admin("GET", pkUser+"/clients/"+id, "").Must(t, 200).Root().SelectElement("token-endpoint-auth-method"); m == nil || m.Text() != "client_secret_basic" {
		t.Errorf("default method shown as %v", m)
	}
	if basic(id, secret) != 200 || post(id, secret) != 200 {
		t.Errorf("default method: basic %d, post %d; want both 200", basic(id, secret), post(id, secret))
	}
	if post(id, secret+"x") != 401 {
		t.Error("a wrong secret in the form was taken")
	}
	for _, c := range []struct {
		method      string
		basic, post int
	}{{"client_secret_basic", 200, 401}, {"client_secret_post", 401, 200}} {
		s.Admin("PUT", pkUser+"/clients/"+id, "<client><token-endpoint-auth-method>"+c.method+"</token-endpoint-auth-method></client>").Must(t, 204)
		if b, p := basic(id, secret), post(id, secret); b != c.basic || p != c.post {
			t.Errorf("%s: basic %d, post %d; want %d, %d", c.method, b, p, c.basic, c.post)
		}
	}
}
