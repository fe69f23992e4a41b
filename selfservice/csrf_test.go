package selfservice

import (
	"testing"

	"gatehouse/authn"
)

// A form's token is bound to the page, the principal (user and how it
// came: Basic, API key, OAuth client) and the nonce.
func TestToken(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	tess := authn.Principal{Account: "acme", User: "tess", Method: authn.MethodPassword}
	base := token(key, "totp-enrolment", tess, "n1.100")
	if base != token(key, "totp-enrolment", tess, "n1.100") {
		t.Fatal("the token is not deterministic")
	}
	for name, other := range map[string]string{
		"another page":    token(key, "passkeys", tess, "n1.100"),
		"another nonce":   token(key, "totp-enrolment", tess, "n2.100"),
		"another user":    token(key, "totp-enrolment", authn.Principal{Account: "acme", User: "tom", Method: authn.MethodPassword}, "n1.100"),
		"an API key":      token(key, "totp-enrolment", authn.Principal{Account: "acme", User: "tess", Method: authn.MethodAPIKey, KeyID: "k1"}, "n1.100"),
		"an OAuth client": token(key, "totp-enrolment", authn.Principal{Account: "acme", User: "tess", Method: authn.MethodOAuth, ClientID: "c1"}, "n1.100"),
		"another key":     token([]byte("fedcba9876543210fedcba9876543210"), "totp-enrolment", tess, "n1.100"),
		"shifted parts":   token(key, "totp-enrolmentacme", authn.Principal{Account: "", User: "tess"}, "n1.100"),
	} {
		if other == base {
			t.Errorf("%s: same token", name)
		}
	}
}
