package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// TestSigningKeyCreatedOnce: instances starting together on an empty
// store agree on one key, created by exactly one of them; a second
// instance loads it rather than creating another.
func TestSigningKeyCreatedOnce(t *testing.T) {
	ep := storagetest.Etcd(t)
	st1, st2 := storagetest.Open(t, ep), storagetest.Open(t, ep)
	ctx := storagetest.Ctx(t)
	sets := make([]*KeySet, 6)
	errs := make([]error, len(sets))
	var wg sync.WaitGroup
	for i := range sets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := st1
			if i%2 == 1 {
				st = st2
			}
			sets[i], errs[i] = NewKeySet(ctx, KeyConfig{Store: StorageKeys{st}})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		mustOK(t, "key set", err)
		if sets[i].CurrentKeyID() != sets[0].CurrentKeyID() {
			t.Errorf("instance %d uses key %s; instance 0 %s", i, sets[i].CurrentKeyID(), sets[0].CurrentKeyID())
		}
	}
	keys := storagetest.EtcdKeys(t, st1, storage.OAuthKeyRange)
	if len(keys) != 1 || keys[storage.OAuthKeyKey("signing-1")] == "" {
		t.Fatalf("stored keys %v; want exactly oauthkey/signing-1", storagetest.SortedKeys(keys))
	}
}

// TestKeyRotation: a rotation makes a new key current on every instance
// that refreshes; the old key stays published (and verifies its tokens)
// until its retirement; rotating on a timer from two instances at once
// makes one new key.
func TestKeyRotation(t *testing.T) {
	st := storagetest.Store(t)
	ctx := storagetest.Ctx(t)
	clk := newClock()
	cfg := KeyConfig{Store: StorageKeys{st}, Retain: time.Hour, Now: clk.Now}
	a, err := NewKeySet(ctx, cfg)
	mustOK(t, "key set a", err)
	b, err := NewKeySet(ctx, cfg)
	mustOK(t, "key set b", err)
	first := a.CurrentKeyID()
	opts := VerifyOptions{Issuer: "https://id.example"}
	old, _, err := a.IssueAccessToken(AccessTokenRequest{Issuer: opts.Issuer, Account: "acme", User: "alice", ClientID: "app", Lifetime: 2 * time.Hour})
	mustOK(t, "issue with the first key", err)

	clk.Advance(time.Minute)
	mustOK(t, "rotate", a.Rotate(ctx))
	second := a.CurrentKeyID()
	if second == first {
		t.Fatal("rotation kept the key")
	}
	if b.CurrentKeyID() != first {
		t.Fatal("b changed key without refreshing")
	}
	// b verifies a token of the new key it has not seen yet (reload on
	// an unknown kid), then signs with it after a refresh.
	fresh, _, err := a.IssueAccessToken(AccessTokenRequest{Issuer: opts.Issuer, Account: "acme", User: "alice", ClientID: "app"})
	mustOK(t, "issue with the second key", err)
	_, err = b.VerifyAccessToken(ctx, fresh, opts)
	mustOK(t, "b verifies the new key's token", err)
	mustOK(t, "refresh b", b.Refresh(ctx))
	if b.CurrentKeyID() != second {
		t.Fatalf("b signs with %s after refresh; want %s", b.CurrentKeyID(), second)
	}
	if got := kids(t, a); len(got) != 2 || got[0] != second || got[1] != first {
		t.Fatalf("JWKS kids %v; want [%s %s]", got, second, first)
	}
	_, err = b.VerifyAccessToken(ctx, old, opts)
	mustOK(t, "old key's token before retirement", err)

	clk.Advance(time.Hour)
	if got := kids(t, a); len(got) != 1 || got[0] != second {
		t.Fatalf("JWKS kids after retirement %v; want [%s]", got, second)
	}
	_, err = a.VerifyAccessToken(ctx, old, opts)
	wantErr(t, "retired key's token", err, ErrInvalidToken)

	// Timer rotation from both instances at once: one new generation.
	var wg sync.WaitGroup
	for _, k := range []*KeySet{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := k.RotateIfOlder(ctx, 30*time.Minute)
			mustOK(t, "rotate if older", err)
		}()
	}
	wg.Wait()
	mustOK(t, "refresh a", a.Refresh(ctx))
	mustOK(t, "refresh b", b.Refresh(ctx))
	if a.CurrentKeyID() != b.CurrentKeyID() || a.CurrentKeyID() == second {
		t.Errorf("after timer rotation a uses %s, b %s (second was %s)", a.CurrentKeyID(), b.CurrentKeyID(), second)
	}
	if n := len(storagetest.EtcdKeys(t, st, storage.OAuthKeyRange)); n != 3 {
		t.Errorf("%d stored keys after two rotations; want 3", n)
	}
	if rotated, err := a.RotateIfOlder(ctx, 30*time.Minute); rotated || err != nil {
		t.Errorf("RotateIfOlder of a fresh key = %v, %v; want false, nil", rotated, err)
	}
}

func kids(t *testing.T, k *KeySet) []string {
	t.Helper()
	var out []string
	for _, key := range k.PublicKeys().Keys {
		out = append(out, key.KeyID)
	}
	return out
}

// TestJWKSPublicOnly: the JWKS document holds public EC keys only, each
// with its RFC 7638 thumbprint as kid, alg ES256 and use sig.
func TestJWKSPublicOnly(t *testing.T) {
	k, err := NewKeySet(context.Background(), KeyConfig{Store: &memKeys{}})
	mustOK(t, "key set", err)
	mustOK(t, "rotate", k.Rotate(context.Background()))
	doc, err := k.JWKS()
	mustOK(t, "jwks", err)
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	mustOK(t, "decode jwks", json.Unmarshal(doc, &raw))
	if len(raw.Keys) != 2 {
		t.Fatalf("%d keys in %s; want 2", len(raw.Keys), doc)
	}
	for _, key := range raw.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := key[private]; ok {
				t.Errorf("JWKS key has private member %q: %s", private, doc)
			}
		}
		if key["kty"] != "EC" || key["crv"] != "P-256" || key["alg"] != "ES256" || key["use"] != "sig" {
			t.Errorf("key %v; want an EC P-256 ES256 signing key", key)
		}
		// RFC 7638: SHA-256 of the required members in lexical order.
		canon := `{"crv":"P-256","kty":"EC","x":"` + key["x"].(string) + `","y":"` + key["y"].(string) + `"}`
		sum := sha256.Sum256([]byte(canon))
		if want := base64.RawURLEncoding.EncodeToString(sum[:]); key["kid"] != want {
			t.Errorf("kid %v; want thumbprint %s", key["kid"], want)
		}
	}
	var set jose.JSONWebKeySet
	mustOK(t, "parse jwks", json.Unmarshal(doc, &set))
	for _, key := range set.Keys {
		if !key.IsPublic() {
			t.Errorf("key %s is not public", key.KeyID)
		}
	}
	if strings.Contains(string(doc), "pkcs8") {
		t.Error("JWKS holds the stored private key")
	}
}
