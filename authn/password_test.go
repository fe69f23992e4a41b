package authn

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"

	"golang.org/x/crypto/argon2"
)

// cheap are fast argon2id parameters for tests that are not about the
// default cost.
var cheap = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// seqReader yields 0, 1, 2, ... forever (deterministic "randomness").
type seqReader struct{ n byte }

func (r *seqReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

func mustHash(t testing.TB, password string, p Params) string {
	t.Helper()
	h, err := HashPassword(password, p, &seqReader{})
	if err != nil {
		t.Fatalf("HashPassword: %v", err)
	}
	return h
}

func TestDefaultParamsAreOWASP(t *testing.T) {
	want := Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
	if DefaultParams != want {
		t.Fatalf("DefaultParams = %+v, want %+v", DefaultParams, want)
	}
	h, err := HashPassword("hunter2hunter2", DefaultParams, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q does not carry the default parameters", h)
	}
	if ok, err := VerifyPassword("hunter2hunter2", h); !ok || err != nil {
		t.Fatalf("VerifyPassword(default params) = %v, %v; want true, nil", ok, err)
	}
}

func TestHashVerifyRoundTrip(t *testing.T) {
	tests := []struct {
		name, password, wrong string
	}{
		{"ascii", "correct horse battery staple", "correct horse battery stapl"},
		{"empty", "", " "},
		{"unicode", "pässwörd-密码-🔑", "passwörd-密码-🔑"},
		{"nul byte", "a\x00b", "a\x00c"},
		{"long", strings.Repeat("x", 4096), strings.Repeat("x", 4095)},
		{"case", "Secret123", "secret123"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := mustHash(t, tc.password, cheap)
			ok, err := VerifyPassword(tc.password, h)
			if !ok || err != nil {
				t.Errorf("VerifyPassword(right) = %v, %v; want true, nil", ok, err)
			}
			ok, err = VerifyPassword(tc.wrong, h)
			if ok || err != nil {
				t.Errorf("VerifyPassword(wrong) = %v, %v; want false, nil", ok, err)
			}
		})
	}
}

func TestVerifyKnownAnswer(t *testing.T) {
	// Produced by HashPassword("correct horse", cheap, &seqReader{}); also a
	// fuzz seed. Guards against silent changes in encoding or derivation.
	const h = "$argon2id$v=19$m=64,t=1,p=1$AAECAwQFBgcICQoLDA0ODw$Jc5SM8weTTfpvKMb/vQXEOQERs0ctXWTJ5HF/TeAvTw"
	if got := mustHash(t, "correct horse", cheap); got != h {
		t.Errorf("HashPassword = %q, want %q", got, h)
	}
	if ok, err := VerifyPassword("correct horse", h); !ok || err != nil {
		t.Errorf("VerifyPassword = %v, %v; want true, nil", ok, err)
	}
}

func TestHashUsesFreshSalt(t *testing.T) {
	r := &seqReader{}
	h1, err1 := HashPassword("same password", cheap, r)
	h2, err2 := HashPassword("same password", cheap, r)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if h1 == h2 {
		t.Fatalf("two hashes of one password are equal: %q", h1)
	}
	for _, h := range []string{h1, h2} {
		if ok, err := VerifyPassword("same password", h); !ok || err != nil {
			t.Errorf("VerifyPassword(%q) = %v, %v", h, ok, err)
		}
	}
}

func TestHashPHCFormat(t *testing.T) {
	p := Params{Memory: 64, Time: 3, Threads: 2, SaltLen: 16, KeyLen: 32}
	h := mustHash(t, "pw", p)
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=3,p=2\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43})$`)
	m := re.FindStringSubmatch(h)
	if m == nil {
		t.Fatalf("hash %q does not match %v", h, re)
	}
	salt, err := base64.RawStdEncoding.DecodeString(m[1])
	if err != nil {
		t.Fatal(err)
	}
	wantSalt := make([]byte, 16)
	_, _ = (&seqReader{}).Read(wantSalt)
	if !bytes.Equal(salt, wantSalt) {
		t.Errorf("salt = %x, want %x (read from the injected reader)", salt, wantSalt)
	}
	key, _ := base64.RawStdEncoding.DecodeString(m[2])
	if want := argon2.IDKey([]byte("pw"), wantSalt, 3, 64, 2, 32); !bytes.Equal(key, want) {
		t.Errorf("key = %x, want argon2.IDKey = %x", key, want)
	}
}

func TestHashPasswordErrors(t *testing.T) {
	tests := []struct {
		name   string
		p      Params
		random io.Reader
		want   error
	}{
		{"zero params", Params{}, &seqReader{}, ErrInvalidParams},
		{"zero threads", Params{Memory: 64, Time: 1, Threads: 0, SaltLen: 16, KeyLen: 32}, &seqReader{}, ErrInvalidParams},
		{"zero time", Params{Memory: 64, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32}, &seqReader{}, ErrInvalidParams},
		{"memory below 8*threads", Params{Memory: 15, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32}, &seqReader{}, ErrInvalidParams},
		{"memory above 1 GiB", Params{Memory: 1<<20 + 1, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, &seqReader{}, ErrInvalidParams},
		{"time above 100", Params{Memory: 64, Time: 101, Threads: 1, SaltLen: 16, KeyLen: 32}, &seqReader{}, ErrInvalidParams},
		{"threads above 64", Params{Memory: 1024, Time: 1, Threads: 65, SaltLen: 16, KeyLen: 32}, &seqReader{}, ErrInvalidParams},
		{"short salt", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 7, KeyLen: 32}, &seqReader{}, ErrInvalidParams},
		{"short key", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 15}, &seqReader{}, ErrInvalidParams},
		{"random fails", cheap, iotest.ErrReader(io.ErrClosedPipe), io.ErrClosedPipe},
		{"random short", cheap, bytes.NewReader(make([]byte, 5)), io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := HashPassword("pw", tc.p, tc.random)
			if !errors.Is(err, tc.want) || h != "" {
				t.Fatalf("HashPassword = %q, %v; want \"\", %v", h, err, tc.want)
			}
		})
	}
}

func TestVerifyMalformedHash(t *testing.T) {
	good := mustHash(t, "pw", cheap) // $argon2id$v=19$m=64,t=1,p=1$<salt>$<key>
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	with := func(params, s, k string) string { return "$argon2id$v=19$" + params + "$" + s + "$" + k }
	tests := []struct{ name, encoded string }{
		{"empty", ""},
		{"garbage", "not a hash"},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", strings.Replace(good, "argon2id", "argon2i", 1)},
		{"version 16", strings.Replace(good, "v=19", "v=16", 1)},
		{"no version", strings.Replace(good, "$v=19", "", 1)},
		{"missing key", "$argon2id$v=19$m=64,t=1,p=1$" + salt},
		{"extra field", good + "$AAAA"},
		{"trailing dollar", good + "$"},
		{"params reordered", with("t=1,m=64,p=1", salt, key)},
		{"params missing p", with("m=64,t=1", salt, key)},
		{"params extra", with("m=64,t=1,p=1,keyid=x", salt, key)},
		{"m not a number", with("m=abc,t=1,p=1", salt, key)},
		{"m empty", with("m=,t=1,p=1", salt, key)},
		{"m signed", with("m=+64,t=1,p=1", salt, key)},
		{"m negative", with("m=-64,t=1,p=1", salt, key)},
		{"m leading zero", with("m=064,t=1,p=1", salt, key)},
		{"m overflow", with("m=99999999999,t=1,p=1", salt, key)},
		{"m above 1 GiB", with("m=1048577,t=1,p=1", salt, key)},
		{"m max uint32", with("m=4294967295,t=1,p=1", salt, key)},
		{"m below 8*p", with("m=15,t=1,p=2", salt, key)},
		{"t zero", with("m=64,t=0,p=1", salt, key)},
		{"t above 100", with("m=64,t=101,p=1", salt, key)},
		{"p zero", with("m=64,t=1,p=0", salt, key)},
		{"p above 64", with("m=4096,t=1,p=65", salt, key)},
		{"p above 255", with("m=4096,t=1,p=257", salt, key)},
		{"salt bad char", with("m=64,t=1,p=1", "!"+salt[1:], key)},
		{"salt padded", with("m=64,t=1,p=1", salt+"==", key)},
		{"salt short", with("m=64,t=1,p=1", "AAAAAA", key)},
		{"salt empty", with("m=64,t=1,p=1", "", key)},
		{"key empty", with("m=64,t=1,p=1", salt, "")},
		{"key short", with("m=64,t=1,p=1", salt, key[:20])},
		{"key newline", with("m=64,t=1,p=1", salt, key[:20]+"\n"+key[20:])},
		{"key url alphabet", with("m=64,t=1,p=1", salt, strings.Repeat("_", 43))},
		{"key non-zero trailing bits", with("m=64,t=1,p=1", salt, key[:42]+"B")},
		{"too long", with("m=64,t=1,p=1", salt, strings.Repeat("A", maxEncodedLen))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := VerifyPassword("pw", tc.encoded)
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("VerifyPassword(%q) = %v, %v; want false, ErrMalformedHash", tc.encoded, ok, err)
			}
		})
	}
	if ok, err := VerifyPassword("pw", good); !ok || err != nil {
		t.Fatalf("control: VerifyPassword(good) = %v, %v", ok, err)
	}
}

func TestDecodeHashRoundTrip(t *testing.T) {
	for _, p := range []Params{cheap, DefaultParams, {Memory: 1 << 20, Time: 100, Threads: 64, SaltLen: 8, KeyLen: 16}} {
		salt := bytes.Repeat([]byte{7}, int(p.SaltLen))
		key := bytes.Repeat([]byte{9}, int(p.KeyLen))
		enc := encodeHash(p, salt, key)
		gp, gs, gk, err := decodeHash(enc)
		if err != nil || gp != p || !bytes.Equal(gs, salt) || !bytes.Equal(gk, key) {
			t.Errorf("decodeHash(%q) = %+v, %x, %x, %v", enc, gp, gs, gk, err)
		}
	}
}

func TestDummyVerifyCostsDefaultParams(t *testing.T) {
	p, _, key, err := decodeHash(dummyHash())
	if err != nil {
		t.Fatalf("dummy hash malformed: %v", err)
	}
	if p != DefaultParams {
		t.Fatalf("dummy hash params = %+v, want DefaultParams %+v", p, DefaultParams)
	}
	if !bytes.Equal(key, make([]byte, DefaultParams.KeyLen)) {
		t.Fatalf("dummy key is not the fixed all-zero key")
	}
	if first, second := dummyHash(), dummyHash(); first != second {
		t.Fatal("dummy hash is not fixed")
	}
	DummyVerify("anything") // must not panic
}

func BenchmarkVerifyPassword(b *testing.B) {
	h := mustHash(b, "correct horse battery staple", DefaultParams)
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := VerifyPassword("correct horse battery staple", h); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
