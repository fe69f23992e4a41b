package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

func testKeys(t *testing.T) (*KeySet, *clock) {
	t.Helper()
	clk := newClock()
	k, err := NewKeySet(context.Background(), KeyConfig{Store: &memKeys{}, Now: clk.Now})
	mustOK(t, "key set", err)
	return k, clk
}

func TestAccessTokenRoundTrip(t *testing.T) {
	k, clk := testKeys(t)
	ctx := context.Background()
	opts := VerifyOptions{Issuer: "https://id.example", Audience: "https://id.example"}
	tok, issued, err := k.IssueAccessToken(AccessTokenRequest{Issuer: opts.Issuer, Account: "acme", User: "alice",
		ClientID: "app", Scopes: []string{"print:jobs:*", "auth:users:read"}})
	mustOK(t, "issue", err)

	// The header is RFC 9068's.
	hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	for _, want := range []string{`"typ":"at+jwt"`, `"alg":"ES256"`, `"kid":"` + k.CurrentKeyID() + `"`} {
		if !strings.Contains(string(hdr), want) {
			t.Errorf("header %s lacks %s", hdr, want)
		}
	}
	c, err := k.VerifyAccessToken(ctx, tok, opts)
	mustOK(t, "verify", err)
	if c.Subject != `acme\alice` || c.Account != "acme" || c.ClientID != "app" || c.Issuer != opts.Issuer ||
		c.ID == "" || c.ID != issued.ID || c.Scope != "print:jobs:* auth:users:read" || len(c.Scopes()) != 2 ||
		!c.Audience.Contains(opts.Issuer) {
		t.Errorf("claims %+v", c)
	}
	if got := c.Expiry.Time().Sub(c.IssuedAt.Time()); got != 10*time.Minute {
		t.Errorf("lifetime %s; want 10m", got)
	}

	refuse := func(what, token string, o VerifyOptions) {
		t.Helper()
		if _, err := k.VerifyAccessToken(ctx, token, o); err == nil {
			t.Errorf("%s: accepted", what)
		} else {
			wantErr(t, what, err, ErrInvalidToken)
		}
	}
	parts := strings.Split(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := strings.Replace(string(payload), `acme\\alice`, `system\\admin`, 1)
	refuse("tampered payload", parts[0]+"."+base64.RawURLEncoding.EncodeToString([]byte(forged))+"."+parts[2], opts)
	sig := []byte(parts[2])
	sig[5] ^= 1
	refuse("tampered signature", parts[0]+"."+parts[1]+"."+string(sig), opts)
	refuse("wrong issuer", tok, VerifyOptions{Issuer: "https://evil.example"})
	refuse("wrong audience", tok, VerifyOptions{Issuer: opts.Issuer, Audience: "https://print.example"})
	refuse("empty", "", opts)
	refuse("garbage", "a.b.c", opts)
	refuse("too long", strings.Repeat("a", MaxTokenLength+1), opts)

	other, _ := testKeys(t)
	foreign, _, err := other.IssueAccessToken(AccessTokenRequest{Issuer: opts.Issuer, Account: "acme", User: "alice", ClientID: "app"})
	mustOK(t, "issue foreign", err)
	refuse("signed by an unknown key", foreign, opts)

	// Right key, wrong shapes.
	kid, _, key := k.Signer()
	sign := func(alg jose.SignatureAlgorithm, signingKey any, typ string, claims any) string {
		t.Helper()
		so := &jose.SignerOptions{}
		if typ != "" {
			so = so.WithType(jose.ContentType(typ))
		}
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: signingKey, KeyID: kid}}, so)
		mustOK(t, "signer", err)
		out, err := jwt.Signed(s).Claims(claims).Serialize()
		mustOK(t, "sign", err)
		return out
	}
	good := *issued
	refuse("typ JWT", sign(jose.ES256, key, "JWT", good), opts)
	refuse("no typ", sign(jose.ES256, key, "", good), opts)
	refuse("HS256", sign(jose.HS256, []byte("0123456789abcdef0123456789abcdef"), "at+jwt", good), opts)
	wrongKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	refuse("kid of a published key, another key's signature", sign(jose.ES256, wrongKey, "at+jwt", good), opts)
	noSub := good
	noSub.Subject = "alice"
	refuse("subject not account\\user", sign(jose.ES256, key, "at+jwt", noSub), opts)
	noJTI := good
	noJTI.ID = ""
	refuse("no jti", sign(jose.ES256, key, "at+jwt", noJTI), opts)
	noClient := good
	noClient.ClientID = ""
	refuse("no client_id", sign(jose.ES256, key, "at+jwt", noClient), opts)
	future := good
	future.IssuedAt = jwt.NewNumericDate(clk.Now().Add(time.Hour))
	refuse("issued in the future", sign(jose.ES256, key, "at+jwt", future), opts)
	_, err = k.VerifyAccessToken(ctx, sign(jose.ES256, key, "application/at+jwt", good), opts)
	mustOK(t, "typ application/at+jwt", err)

	clk.Advance(10*time.Minute - time.Second)
	_, err = k.VerifyAccessToken(ctx, tok, opts)
	mustOK(t, "just before expiry", err)
	clk.Advance(time.Second)
	refuse("expired", tok, opts)
	_, err = k.VerifyAccessToken(ctx, tok, VerifyOptions{Issuer: opts.Issuer, Leeway: 30 * time.Second})
	mustOK(t, "expired within leeway", err)
}
