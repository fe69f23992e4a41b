package totp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"image"
	"image/png"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"

	"gatehouse/storage"
)

func serverKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestEnrolment(t *testing.T) {
	e, err := NewEnrolment("Gatehouse Test", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(e.Secret)
	if err != nil || len(raw) != 20 {
		t.Fatalf("secret %d bytes, %v; want 20 bytes of base32", len(raw), err)
	}
	u, err := url.Parse(e.URI)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "otpauth" || u.Host != "totp" {
		t.Errorf("URI %s://%s, want otpauth://totp", u.Scheme, u.Host)
	}
	if u.Path != "/Gatehouse Test:alice@example.com" {
		t.Errorf("URI label %q", u.Path)
	}
	q := u.Query()
	for k, want := range map[string]string{"issuer": "Gatehouse Test", "secret": e.Secret, "algorithm": "SHA1", "digits": "6", "period": "30"} {
		if got := q.Get(k); got != want {
			t.Errorf("URI %s = %q, want %q", k, got, want)
		}
	}
	key, err := otp.NewKeyFromURL(e.URI)
	if err != nil {
		t.Fatal(err)
	}
	if key.Issuer() != "Gatehouse Test" || key.AccountName() != "alice@example.com" || key.Secret() != e.Secret ||
		key.Algorithm() != otp.AlgorithmSHA1 || key.Digits() != otp.DigitsSix || key.Period() != 30 {
		t.Errorf("key from URI: %s %s %v %v %d", key.Issuer(), key.AccountName(), key.Algorithm(), key.Digits(), key.Period())
	}

	// The PNG is a 200×200 image, and pixel for pixel the QR code of
	// the URI (no pure-Go QR decoder is a dependency here, so the
	// content is checked by encoding the URI independently).
	img, format, err := image.Decode(bytes.NewReader(e.PNG))
	if err != nil || format != "png" {
		t.Fatalf("PNG decodes as %q: %v", format, err)
	}
	if b := img.Bounds(); b.Dx() != QRSize || b.Dy() != QRSize {
		t.Errorf("PNG is %v, want %d×%d", b, QRSize, QRSize)
	}
	code, err := qr.Encode(e.URI, qr.M, qr.Auto)
	if err != nil {
		t.Fatal(err)
	}
	if code.Content() != e.URI {
		t.Errorf("QR content %q, want the URI", code.Content())
	}
	want, err := barcode.Scale(code, QRSize, QRSize)
	if err != nil {
		t.Fatal(err)
	}
	if !sameImage(img, want) {
		t.Error("PNG is not the QR code of the URI")
	}
	other, _ := qr.Encode(e.URI+"x", qr.M, qr.Auto)
	if otherImg, err := barcode.Scale(other, QRSize, QRSize); err == nil && sameImage(img, otherImg) {
		t.Error("PNG matches the QR code of another URI too: the comparison is vacuous")
	}

	e2, err := NewEnrolment("Gatehouse Test", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if e2.Secret == e.Secret {
		t.Error("two enrolments drew the same secret")
	}
	if _, err := NewEnrolment("", "alice"); err == nil {
		t.Error("enrolment without issuer succeeded")
	}
	// The largest QR code still fits 200 pixels; a longer URI fails.
	long, err := NewEnrolment("Gatehouse", strings.Repeat("a", 1500))
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := png.DecodeConfig(bytes.NewReader(long.PNG)); err != nil || cfg.Width != QRSize {
		t.Errorf("long URI: PNG %v, %v", cfg, err)
	}
	if _, err := NewEnrolment("Gatehouse", strings.Repeat("a", 3000)); err == nil {
		t.Error("enrolment with a URI beyond any QR code succeeded")
	}
}

func sameImage(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			r1, g1, b1, a1 := a.At(x, y).RGBA()
			r2, g2, b2, a2 := b.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				return false
			}
		}
	}
	return true
}

func TestSeal(t *testing.T) {
	key := serverKey(t)
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	sealed, err := Seal(key, "acme", "alice", secret)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, secret) {
		t.Error("sealed value holds the secret")
	}
	if again, _ := Seal(key, "acme", "alice", secret); again == sealed {
		t.Error("two seals are equal: nonce not random")
	}
	got, err := Open(key, "acme", "alice", sealed)
	if err != nil || got != secret {
		t.Fatalf("Open = %q, %v", got, err)
	}
	tampered := []byte(sealed)
	tampered[len(tampered)/2] ^= 1
	if tampered[len(tampered)/2] == '-'^1 || tampered[len(tampered)/2] == '_'^1 {
		tampered[len(tampered)/2] = 'A'
	}
	cases := map[string]struct {
		key           []byte
		account, user string
		sealed        string
	}{
		"other key":     {serverKey(t), "acme", "alice", sealed},
		"other user":    {key, "acme", "bob", sealed},
		"other account": {key, "other", "alice", sealed},
		"shifted names": {key, "acme\x00alice", "", sealed},
		"tampered":      {key, "acme", "alice", string(tampered)},
		"truncated":     {key, "acme", "alice", sealed[:10]},
		"not base64":    {key, "acme", "alice", "!!!"},
		"empty":         {key, "acme", "alice", ""},
	}
	for name, c := range cases {
		got, err := Open(c.key, c.account, c.user, c.sealed)
		if err == nil || got != "" {
			t.Errorf("%s: Open = %q, %v; want refusal", name, got, err)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error holds the secret", name)
		}
	}
	// Not a provider secret, and a provider secret is not a TOTP secret.
	prov, err := storage.SealProviderSecret(key, "acme", "alice", secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(key, "acme", "alice", prov); err == nil {
		t.Error("a provider secret opened as a TOTP secret")
	}
	if _, err := storage.OpenProviderSecret(key, "acme", "alice", sealed); err == nil {
		t.Error("a TOTP secret opened as a provider secret")
	}
	if _, err := Seal(key[:16], "acme", "alice", secret); err == nil {
		t.Error("Seal with a 16-byte key succeeded")
	}
	if _, err := Open(nil, "acme", "alice", sealed); err == nil {
		t.Error("Open without a key succeeded")
	}
}

// memGuard is a ReplayGuard in memory, with the time injected.
type memGuard struct {
	mu   sync.Mutex
	now  *time.Time
	used map[string]time.Time // key → expiry
	ttls []time.Duration
	err  error
}

func newMemGuard(now *time.Time) *memGuard {
	return &memGuard{now: now, used: map[string]time.Time{}}
}

func (g *memGuard) Use(_ context.Context, key string, ttl time.Duration) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err != nil {
		return g.err
	}
	g.ttls = append(g.ttls, ttl)
	if exp, ok := g.used[key]; ok && g.now.Before(exp) {
		return fmt.Errorf("guard: %w", ErrReplay)
	}
	g.used[key] = g.now.Add(ttl)
	return nil
}

const testSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

func codeAt(t *testing.T, step int64) string {
	t.Helper()
	c, err := hotp.GenerateCodeCustom(testSecret, uint64(step), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_015, 0) // mid-step
	step := now.Unix() / 30

	// RFC 6238 appendix B vector (SHA-1, 8 digits there): the 6-digit
	// suffix of 94287082 at T=59.
	rfc := base32.StdEncoding.EncodeToString([]byte("12345678901234567890"))
	if ok, err := Verify(ctx, newMemGuard(&now), "a", "u", rfc, "287082", time.Unix(59, 0)); !ok || err != nil {
		t.Errorf("RFC 6238 vector: %v, %v", ok, err)
	}

	for off := int64(-3); off <= 3; off++ {
		g := newMemGuard(&now)
		ok, err := Verify(ctx, g, "acme", "alice", testSecret, codeAt(t, step+off), now)
		if err != nil {
			t.Fatal(err)
		}
		if want := off >= -1 && off <= 1; ok != want {
			t.Errorf("code of step %+d: %v, want %v", off, ok, want)
		}
	}

	g := newMemGuard(&now)
	cur := codeAt(t, step)
	for _, wrong := range []string{"", "12345", "1234567", "abcdef", "12345a", "-12345", cur + "0", cur[:5]} {
		if ok, err := Verify(ctx, g, "acme", "alice", testSecret, wrong, now); ok || err != nil {
			t.Errorf("code %q: %v, %v; want refused", wrong, ok, err)
		}
	}
	wrong := fmt.Sprintf("%06d", 0)
	for off := int64(-1); off <= 1 && wrong == codeAt(t, step+off); off++ {
		wrong = "999999"
	}
	if ok, _ := Verify(ctx, g, "acme", "alice", testSecret, wrong, now); ok {
		t.Error("wrong code accepted")
	}
	if len(g.used) != 0 {
		t.Errorf("refused codes claimed %d steps", len(g.used))
	}

	// Once per user and step.
	if ok, err := Verify(ctx, g, "acme", "alice", testSecret, cur[:3]+" "+cur[3:], now); !ok || err != nil {
		t.Fatalf("current code (spaced): %v, %v", ok, err)
	}
	if ok, err := Verify(ctx, g, "acme", "alice", testSecret, cur, now); ok || err != nil {
		t.Errorf("same code again: %v, %v; want refused", ok, err)
	}
	// Still refused a step later (it is then the previous step's code).
	later := now.Add(30 * time.Second)
	if ok, _ := Verify(ctx, g, "acme", "alice", testSecret, cur, later); ok {
		t.Error("same code a step later accepted")
	}
	next := codeAt(t, step+1)
	if ok, err := Verify(ctx, g, "acme", "alice", testSecret, next, now); !ok || err != nil {
		t.Errorf("next step's code: %v, %v", ok, err)
	}
	// Another user with the same secret is not affected.
	if ok, err := Verify(ctx, g, "acme", "bob", testSecret, cur, now); !ok || err != nil {
		t.Errorf("same code, other user: %v, %v", ok, err)
	}
	// Keys never hold the code or the secret; TTLs cover the window.
	for k := range g.used {
		if strings.Contains(k, cur) || strings.Contains(k, next) || strings.Contains(k, testSecret) ||
			strings.Contains(k, "alice") || len(k) != 64 {
			t.Errorf("replay key %q", k)
		}
	}
	for _, ttl := range g.ttls {
		if ttl < 30*time.Second || ttl > 150*time.Second {
			t.Errorf("ttl %v", ttl)
		}
	}

	// A guard failure is returned.
	boom := errors.New("etcd down")
	g.err = boom
	if ok, err := Verify(ctx, g, "acme", "carol", testSecret, cur, now); ok || !errors.Is(err, boom) {
		t.Errorf("guard failure: %v, %v", ok, err)
	}
	if ok, err := Verify(ctx, newMemGuard(&now), "acme", "alice", "", "123456", now); ok || err == nil {
		t.Errorf("empty secret: %v, %v", ok, err)
	}
	// A bad secret is an error that does not hold it.
	if ok, err := Verify(ctx, newMemGuard(&now), "acme", "alice", "not base32!", "123456", now); ok || err == nil || strings.Contains(err.Error(), "not base32!") {
		t.Errorf("bad secret: %v, %v", ok, err)
	}
}

// tokens fakes storage.Tokens' CreateToken.
type tokens struct {
	mu   sync.Mutex
	seen map[string]bool
	err  error
}

func (s *tokens) CreateToken(_ context.Context, kind, id string, _ []byte, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if ttl <= 0 || kind != ReplayKind {
		return storage.ErrInvalid
	}
	if s.seen[kind+"/"+id] {
		return fmt.Errorf("token: %w", storage.ErrNameTaken)
	}
	s.seen[kind+"/"+id] = true
	return nil
}

func TestTokenGuard(t *testing.T) {
	ctx := context.Background()
	ts := &tokens{seen: map[string]bool{}}
	g := TokenGuard{Tokens: ts}
	if err := g.Use(ctx, "k", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := g.Use(ctx, "k", time.Minute); !errors.Is(err, ErrReplay) {
		t.Errorf("second use: %v, want ErrReplay", err)
	}
	now := time.Unix(1_800_000_000, 0)
	code := codeAt(t, now.Unix()/30)
	if ok, err := Verify(ctx, g, "acme", "alice", testSecret, code, now); !ok || err != nil {
		t.Errorf("verify through TokenGuard: %v, %v", ok, err)
	}
	if ok, err := Verify(ctx, g, "acme", "alice", testSecret, code, now); ok || err != nil {
		t.Errorf("replay through TokenGuard: %v, %v", ok, err)
	}
	ts.err = storage.ErrUnavailable
	if err := g.Use(ctx, "k2", time.Minute); !errors.Is(err, storage.ErrUnavailable) || errors.Is(err, ErrReplay) {
		t.Errorf("store failure: %v", err)
	}
}

// Concurrent verifications of one code (as on several instances sharing
// a guard) accept it exactly once.
func TestVerifyConcurrent(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	g := TokenGuard{Tokens: &tokens{seen: map[string]bool{}}}
	code := codeAt(t, now.Unix()/30)
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := Verify(ctx, g, "acme", "alice", testSecret, code, now)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				accepted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if accepted != 1 {
		t.Errorf("accepted %d times, want once", accepted)
	}
}

func TestEnrolmentOfRebuilds(t *testing.T) {
	e, err := NewEnrolment("gatehouse", `acme\alice`)
	if err != nil {
		t.Fatal(err)
	}
	again, err := EnrolmentOf("gatehouse", `acme\alice`, e.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if again.Secret != e.Secret || again.URI != e.URI || len(again.PNG) == 0 {
		t.Errorf("EnrolmentOf: %q %q, want %q %q", again.Secret, again.URI, e.Secret, e.URI)
	}
}
