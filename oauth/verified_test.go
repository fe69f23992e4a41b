package oauth

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestVerifiedTokenCache: a token verified once is served from the cache
// with its time and option checks run again (an expired or foreign-issuer
// token is refused even when cached); the cache stays within its bound,
// dropping expired entries first.
func TestVerifiedTokenCache(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	ks, err := NewKeySet(ctx, KeyConfig{Store: &memKeys{m: map[string][]byte{}}, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ks.verified.max = 64
	issue := func(life time.Duration) string {
		tok, _, err := ks.IssueAccessToken(AccessTokenRequest{Issuer: testIssuer, Account: "acme", User: "alice",
			ClientID: "app", Lifetime: life})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	opts := VerifyOptions{Issuer: testIssuer}
	tok := issue(time.Minute)
	c1, err := ks.VerifyAccessToken(ctx, tok, opts)
	mustOK(t, "first verification", err)
	c2, err := ks.VerifyAccessToken(ctx, tok, opts)
	mustOK(t, "second verification", err)
	if c1 != c2 {
		t.Error("the second verification did not come from the cache")
	}
	if _, err := ks.VerifyAccessToken(ctx, tok, VerifyOptions{Issuer: "https://elsewhere"}); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("a cached token for another issuer: %v, want ErrInvalidToken", err)
	}
	if _, err := ks.VerifyAccessToken(ctx, tok, VerifyOptions{Issuer: testIssuer, Audience: "https://print"}); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("a cached token for another audience: %v, want ErrInvalidToken", err)
	}
	// A token that differs in one byte of its signature is not the
	// cached one.
	forged := tok[:len(tok)-2] + string("AB"[len(tok)%2]) + tok[len(tok)-1:]
	if forged != tok {
		if _, err := ks.VerifyAccessToken(ctx, forged, opts); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("a token with another signature: %v, want ErrInvalidToken", err)
		}
	}
	clk.Advance(time.Minute)
	if _, err := ks.VerifyAccessToken(ctx, tok, opts); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("a cached token past its expiry: %v, want ErrInvalidToken", err)
	}
	// Fill past the bound: expired entries go first, the size stays
	// within the bound.
	for range 200 {
		_, err := ks.VerifyAccessToken(ctx, issue(time.Hour), opts)
		mustOK(t, "verify", err)
	}
	if n := ks.verified.len(); n > 64 || n == 0 {
		t.Errorf("cache holds %d entries, bound 64", n)
	}
}
