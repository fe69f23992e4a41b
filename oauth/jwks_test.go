package oauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"gatehouse/storage"
)

func jwkJSON(t testing.TB, key any, kid, alg, use string) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg, Use: use})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func jwksOf(keys ...string) string { return `{"keys":[` + strings.Join(keys, ",") + `]}` }

// TestParseClientJWKS: public RSA (RS256, PS256) and EC P-256 keys are
// taken, every key comes back with use sig; private or symmetric key
// material, encryption keys, weak or unsupported keys, mixed algorithms,
// missing or repeated kids, oversized sets and non-sets are refused.
func TestParseClientJWKS(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rs, _ := rsa.GenerateKey(rand.Reader, 2048)
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)

	for _, c := range []struct {
		name, text, alg string
	}{
		{"ec", jwksOf(jwkJSON(t, &ec.PublicKey, "", "", "")), "ES256"},
		{"ec-sig-es256", jwksOf(jwkJSON(t, &ec.PublicKey, "k1", "ES256", "sig")), "ES256"},
		{"rsa", jwksOf(jwkJSON(t, &rs.PublicKey, "r", "", "")), "RS256"},
		{"rsa-ps256", jwksOf(jwkJSON(t, &rs.PublicKey, "r", "PS256", "sig")), "PS256"},
		{"two-ec", jwksOf(jwkJSON(t, &ec.PublicKey, "a", "", ""), jwkJSON(t, &ec2.PublicKey, "b", "ES256", "")), "ES256"},
	} {
		set, alg, err := ParseClientJWKS(c.text)
		if err != nil || alg != c.alg || set == nil || len(set.Keys) == 0 {
			t.Errorf("%s: %v alg %q; want %s", c.name, err, alg, c.alg)
			continue
		}
		for _, k := range set.Keys {
			if k.Use != "sig" || !k.IsPublic() {
				t.Errorf("%s: key %+v", c.name, k)
			}
		}
	}

	big := jwksOf(strings.Repeat(jwkJSON(t, &ec.PublicKey, "", "", "")+",", 200) + jwkJSON(t, &ec.PublicKey, "", "", ""))
	many := make([]string, MaxJWKSKeys+1)
	for i := range many {
		many[i] = jwkJSON(t, &ec.PublicKey, string(rune('a'+i)), "", "")
	}
	for _, c := range []struct {
		name, text, want string
	}{
		{"empty", "", "not a JSON Web Key Set"},
		{"not-json", "keys", "not a JSON Web Key Set"},
		{"array", "[]", "not a JSON Web Key Set"},
		{"no-keys", `{"keys":[]}`, "no keys"},
		{"one-key-not-set", jwkJSON(t, &ec.PublicKey, "", "", ""), "no keys"},
		{"ec-private", jwksOf(jwkJSON(t, ec, "", "", "")), "private"},
		{"rsa-private", jwksOf(jwkJSON(t, rs, "", "", "")), "private"},
		{"ed-private", jwksOf(jwkJSON(t, edPriv, "", "", "")), "private"},
		{"oct", jwksOf(`{"kty":"oct","k":"c2VjcmV0"}`), "private"},
		{"private-uppercase", jwksOf(strings.TrimSuffix(jwkJSON(t, &ec.PublicKey, "", "", ""), "}") + `,"D":"` + "AAAA" + `"}`), "private"},
		{"enc", jwksOf(jwkJSON(t, &ec.PublicKey, "", "", "enc")), "use"},
		{"weak-rsa", jwksOf(jwkJSON(t, &weak.PublicKey, "", "", "")), "bits"},
		{"p384", jwksOf(jwkJSON(t, &ec384.PublicKey, "", "", "")), "P-256"},
		{"eddsa", jwksOf(jwkJSON(t, edPub, "", "", "")), "EdDSA"},
		{"ec-wrong-alg", jwksOf(jwkJSON(t, &ec.PublicKey, "", "RS256", "")), "alg"},
		{"rsa-wrong-alg", jwksOf(jwkJSON(t, &rs.PublicKey, "", "RS512", "")), "alg"},
		{"mixed", jwksOf(jwkJSON(t, &ec.PublicKey, "a", "", ""), jwkJSON(t, &rs.PublicKey, "b", "", "")), "one algorithm"},
		{"no-kid", jwksOf(jwkJSON(t, &ec.PublicKey, "a", "", ""), jwkJSON(t, &ec2.PublicKey, "", "", "")), "kid"},
		{"same-kid", jwksOf(jwkJSON(t, &ec.PublicKey, "a", "", ""), jwkJSON(t, &ec2.PublicKey, "a", "", "")), "kid"},
		{"too-long", big, "longer than"},
		{"too-many", jwksOf(many...), "at most"},
		{"bad-point", jwksOf(`{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}`), ""},
	} {
		_, _, err := ParseClientJWKS(c.text)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v; want one saying %q", c.name, err, c.want)
		}
	}
}

// TestClientAssertionMethods: a stored private_key_jwt client is an
// OpenID Connect client to fosite with its keys and their one
// algorithm; other clients report their registered (or default) method.
func TestClientAssertionMethods(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	text := jwksOf(jwkJSON(t, &ec.PublicKey, "k", "", ""))
	cl := NewClient("a", "u", storageClient("c", false, "private_key_jwt", text))
	if cl.GetTokenEndpointAuthMethod() != "private_key_jwt" || cl.GetTokenEndpointAuthSigningAlgorithm() != "ES256" ||
		cl.GetJSONWebKeys() == nil || len(cl.GetJSONWebKeys().Key("k")) != 1 || cl.GetJSONWebKeysURI() != "" ||
		cl.GetRequestObjectSigningAlgorithm() == "" || cl.GetRequestURIs() != nil {
		t.Errorf("private_key_jwt client %+v", cl)
	}
	if m := NewClient("a", "u", storageClient("c", false, "", "")).GetTokenEndpointAuthMethod(); m != "client_secret_basic" {
		t.Errorf("old confidential record: %q", m)
	}
	if m := NewClient("a", "u", storageClient("c", true, "", "")).GetTokenEndpointAuthMethod(); m != "none" {
		t.Errorf("old public record: %q", m)
	}
	if m := adminCLI().GetTokenEndpointAuthMethod(); m != "none" {
		t.Errorf("admin-cli: %q", m)
	}
	if k := NewClient("a", "u", storageClient("c", false, "private_key_jwt", `{"keys":[`)).GetJSONWebKeys(); k != nil {
		t.Errorf("an unparsable stored set gave keys %v", k)
	}
}

// FuzzParseClientJWKS feeds outside input (a registrant's key set) to
// the parser: it must never panic, and what it accepts holds public
// signing keys only, one algorithm of JWKSAlgs, within the bounds.
func FuzzParseClientJWKS(f *testing.F) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.Add(jwksOf(jwkJSON(f, &ec.PublicKey, "k", "ES256", "sig")))
	f.Add(jwksOf(jwkJSON(f, ec, "k", "", "")))
	f.Add(`{"keys":[{"kty":"oct","k":"AAAA"}]}`)
	f.Add(`{"keys":null}`)
	f.Fuzz(func(t *testing.T, text string) {
		set, alg, err := ParseClientJWKS(text)
		if err != nil {
			if set != nil || alg != "" {
				t.Fatalf("refused with a result: %v %q", set, alg)
			}
			return
		}
		if len(text) > MaxJWKSBytes || len(set.Keys) == 0 || len(set.Keys) > MaxJWKSKeys {
			t.Fatalf("accepted %d bytes with %d keys", len(text), len(set.Keys))
		}
		found := false
		for _, a := range JWKSAlgs {
			found = found || a == alg
		}
		if !found {
			t.Fatalf("accepted algorithm %q", alg)
		}
		for _, k := range set.Keys {
			if !k.IsPublic() || k.Use != "sig" {
				t.Fatalf("accepted key %+v", k)
			}
			switch k.Key.(type) {
			case *rsa.PublicKey, *ecdsa.PublicKey:
			default:
				t.Fatalf("accepted key type %T", k.Key)
			}
		}
	})
}

func storageClient(id string, public bool, method, jwks string) storage.Client {
	return storage.Client{ID: id, Public: public, AuthMethod: method, JWKS: jwks, SecretHash: "ab",
		GrantTypes: []string{storage.GrantClientCredentials}}
}
