package passkey_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"gatehouse/passkey"
	"gatehouse/passkey/passkeytest"
)

// FuzzParseRegistration: any body either decodes to a named response
// with a challenge or is refused with ErrRefused; it never panics.
func FuzzParseRegistration(f *testing.F) {
	k := passkeytest.NewKey(f, "https://id.example.com", "id.example.com")
	opts := []byte(`{"publicKey":{"challenge":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","user":{"id":"dXNlcg"}}}`)
	f.Add(k.Create(opts, map[string]any{"name": "laptop"}))
	f.Add(k.Create(opts, nil))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"name":"\u0000"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"id":"x","rawId":"x","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		reg, err := passkey.ParseRegistration(body)
		if err != nil {
			if !errors.Is(err, passkey.ErrRefused) {
				t.Fatalf("error %v is not ErrRefused", err)
			}
			return
		}
		if reg.Credential == nil || reg.Credential.Response.CollectedClientData.Challenge == "" {
			t.Fatal("accepted without a challenge")
		}
		if reg.Name == "" || !utf8.ValidString(reg.Name) || utf8.RuneCountInString(reg.Name) > passkey.MaxNameLength {
			t.Fatalf("accepted name %q", reg.Name)
		}
	})
}

// FuzzParseAssertion: any body either decodes to a response with a
// challenge or is refused with ErrRefused; it never panics.
func FuzzParseAssertion(f *testing.F) {
	k := passkeytest.NewKey(f, "https://id.example.com", "id.example.com")
	k.Handle = []byte("handle")
	opts := []byte(`{"publicKey":{"challenge":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}`)
	f.Add(k.Get(opts, 1, true))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"x","rawId":"x","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"","signature":""}}`))
	f.Add([]byte(strings.Repeat("{", 100)))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := passkey.ParseAssertion(body)
		if err != nil {
			if !errors.Is(err, passkey.ErrRefused) {
				t.Fatalf("error %v is not ErrRefused", err)
			}
			return
		}
		if p.Response.CollectedClientData.Challenge == "" {
			t.Fatal("accepted without a challenge")
		}
	})
}

// FuzzCheckName: an accepted name is trimmed, bounded and valid UTF-8,
// and checking it again changes nothing.
func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"", " laptop ", "ключ 🔑", "a\nb", "\xff", strings.Repeat("é", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := passkey.CheckName(s)
		if err != nil {
			if !errors.Is(err, passkey.ErrRefused) {
				t.Fatalf("error %v is not ErrRefused", err)
			}
			return
		}
		if n == "" || n != strings.TrimSpace(n) || !utf8.ValidString(n) || utf8.RuneCountInString(n) > passkey.MaxNameLength {
			t.Fatalf("CheckName(%q) = %q", s, n)
		}
		if again, err := passkey.CheckName(n); err != nil || again != n {
			t.Fatalf("CheckName not idempotent on %q: %q, %v", n, again, err)
		}
	})
}
