package oauth

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fuzzNow is the fuzz test's fixed clock: the seed tokens in
// testdata/fuzz were signed with testdata/fuzzkey.json, valid until 2031.
var fuzzNow = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

const fuzzIssuer = "https://id.example"

func fuzzKeySet(tb testing.TB) *KeySet {
	tb.Helper()
	key, err := os.ReadFile("testdata/fuzzkey.json")
	if err != nil {
		tb.Fatal(err)
	}
	store := &memKeys{m: map[string][]byte{keyName(1): key}}
	k, err := NewKeySet(context.Background(), KeyConfig{Store: store, Now: func() time.Time { return fuzzNow }})
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// FuzzVerifyAccessToken feeds outside input to the verifier: it must
// never panic, refuse with ErrInvalidToken, and accept only tokens whose
// claims hold what it promises.
func FuzzVerifyAccessToken(f *testing.F) {
	k := fuzzKeySet(f)
	tok, _, err := k.IssueAccessToken(AccessTokenRequest{Issuer: fuzzIssuer, Account: "acme", User: "alice", ClientID: "app",
		Scopes: []string{"print:*"}, Lifetime: time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	ctx := context.Background()
	opts := VerifyOptions{Issuer: fuzzIssuer}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := k.VerifyAccessToken(ctx, token, opts)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("refused with %v; want ErrInvalidToken", err)
			}
			if c != nil {
				t.Fatal("claims returned with an error")
			}
			return
		}
		if c.Issuer != fuzzIssuer || c.ID == "" || c.ClientID == "" || !strings.HasPrefix(c.Subject, c.Account+`\`) ||
			c.Expiry == nil || !fuzzNow.Before(c.Expiry.Time()) || c.IssuedAt == nil || c.IssuedAt.Time().After(fuzzNow) {
			t.Fatalf("accepted claims %+v", c)
		}
	})
}

// TestFuzzSeedValid keeps the corpus meaningful: its "valid" seed is a
// token the fuzz key set accepts.
func TestFuzzSeedValid(t *testing.T) {
	b, err := os.ReadFile("testdata/fuzz/FuzzVerifyAccessToken/valid")
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[1])
	tok, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(line, "string("), ")"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := fuzzKeySet(t).VerifyAccessToken(context.Background(), tok, VerifyOptions{Issuer: fuzzIssuer})
	if err != nil {
		t.Fatalf("valid seed refused: %v", err)
	}
	if c.Subject != `acme\alice` || c.Scope != "print:* offline_access" {
		t.Errorf("valid seed claims %+v", c)
	}
}
