package authn

import (
	"errors"
	"testing"
)

// FuzzVerifyPassword checks that no encoded hash string panics
// VerifyPassword, that everything rejected is ErrMalformedHash, and that
// every accepted string is canonical (re-encodes to itself). Hashes whose
// (bounded, but still real) cost is above a small budget are only parsed,
// not verified, so fuzzing stays fast; the bounds themselves are applied by
// decodeHash, which VerifyPassword calls before argon2.
func FuzzVerifyPassword(f *testing.F) {
	f.Add("pw", mustHash(f, "pw", cheap))
	f.Add("", "")
	f.Add("pw", "$argon2id$v=19$m=1048577,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, password, encoded string) {
		p, salt, key, err := decodeHash(encoded)
		if err != nil {
			ok, verr := VerifyPassword(password, encoded)
			if ok || !errors.Is(verr, ErrMalformedHash) {
				t.Fatalf("VerifyPassword(%q) = %v, %v; want false, ErrMalformedHash", encoded, ok, verr)
			}
			return
		}
		if p.validate() != nil {
			t.Fatalf("decodeHash accepted out-of-bounds params %+v", p)
		}
		if re := encodeHash(p, salt, key); re != encoded {
			t.Fatalf("accepted non-canonical hash %q (re-encodes to %q)", encoded, re)
		}
		if uint64(p.Memory)*uint64(p.Time) > 4096 {
			return // valid but too costly to run on every fuzz input
		}
		if _, err := VerifyPassword(password, encoded); err != nil {
			t.Fatalf("VerifyPassword(%q) on a decodable hash: %v", encoded, err)
		}
	})
}

// FuzzAPIKeyID checks the decoder of presented API keys: it never
// panics, and an id it returns is the secret's own prefix, made only of
// the key alphabet, so it can never name another path.
func FuzzAPIKeyID(f *testing.F) {
	f.Add("gh_abcdefgh_secretpart")
	f.Add("gh_abcdefgh")
	f.Add("gh_/../_x")
	f.Add("")
	f.Fuzz(func(t *testing.T, secret string) {
		id := APIKeyID(secret)
		if id == "" {
			return
		}
		if len(secret) <= len(id) || secret[:len(id)] != id || secret[len(id)] != '_' {
			t.Fatalf("APIKeyID(%q) = %q, not the secret's prefix", secret, id)
		}
		for i := len(APIKeyPrefix); i < len(id); i++ {
			if c := id[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
				t.Fatalf("APIKeyID(%q) = %q holds %q", secret, id, c)
			}
		}
	})
}
