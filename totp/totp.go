package totp

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"image/png"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	otptotp "github.com/pquerna/otp/totp"

	"gatehouse/storage"
)

// The TOTP parameters (SPEC §3c).
const (
	Period     = 30 * time.Second // time step
	Digits     = 6                // code length
	Skew       = 1                // steps accepted on either side of now
	SecretSize = 20               // secret bytes (160 bits)
	QRSize     = 200              // QR code width and height in pixels
)

// Server key names (Store.ServerKey) the caller is expected to use.
const (
	SecretKeyName = "totp-secret" // seals TOTP secrets (Seal, Open)
	BackupKeyName = "backup-code" // keys backup-code hashes
)

// ReplayKind is the token kind TokenGuard claims time steps under.
const ReplayKind = "totpstep"

// ErrReplay is wrapped by a ReplayGuard's error when the key was used.
var ErrReplay = errors.New("totp: code already used")

// errSealed is the one error of Open for anything that does not open.
var errSealed = errors.New("totp: sealed secret does not open")

// Enrolment is a new TOTP secret and the ways to show it.
type Enrolment struct {
	Secret string // base32, unpadded
	URI    string // otpauth://totp/…
	PNG    []byte // QR code of URI
}

// NewEnrolment draws a new secret for accountName at issuer.
func NewEnrolment(issuer, accountName string) (Enrolment, error) {
	return enrolment(otptotp.GenerateOpts{Issuer: issuer, AccountName: accountName, SecretSize: SecretSize, Rand: rand.Reader})
}

// enrolment generates the key o describes with gatehouse's parameters
// (SHA-1, 6 digits, Period) and its QR code.
func enrolment(o otptotp.GenerateOpts) (Enrolment, error) {
	o.Period = uint(Period / time.Second)
	o.Digits = otp.DigitsSix
	o.Algorithm = otp.AlgorithmSHA1
	key, err := otptotp.Generate(o)
	if err != nil {
		return Enrolment{}, fmt.Errorf("totp: enrolment: %w", err)
	}
	// A QR code has at most 177 modules a side (version 40), so
	// QRSize pixels always fit; only a URI beyond any QR code fails.
	img, err := key.Image(QRSize, QRSize)
	if err != nil {
		return Enrolment{}, errors.New("totp: enrolment QR code: issuer and account name too long")
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Enrolment{}, fmt.Errorf("totp: enrolment QR code: %w", err)
	}
	return Enrolment{Secret: key.Secret(), URI: key.URL(), PNG: buf.Bytes()}, nil
}

// Seal seals secret for user of account under key (32 bytes, the server
// key SecretKeyName): base64url of nonce ‖ ciphertext.
func Seal(key []byte, account, user, secret string) (string, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(secret)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := aead.Seal(nonce, nonce, []byte(secret), sealData(account, user))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// Open opens a secret Seal sealed for user of account under key.
func Open(key []byte, account, user, sealed string) (string, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return "", err
	}
	b, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(b) < aead.NonceSize() {
		return "", errSealed
	}
	plain, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], sealData(account, user))
	if err != nil {
		return "", errSealed
	}
	return string(plain), nil
}

func sealData(account, user string) []byte {
	return []byte("totp\x00" + account + "\x00" + user)
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("totp: sealing key is %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// ReplayGuard claims a key once: Use fails with an error wrapping
// ErrReplay when key was claimed and has not expired (ttl).
type ReplayGuard interface {
	Use(ctx context.Context, key string, ttl time.Duration) error
}

// TokenGuard is a ReplayGuard over create-only token storage
// (storage.Tokens; storage.ErrNameTaken when present): keys are token
// ids of kind ReplayKind.
type TokenGuard struct {
	Tokens interface {
		CreateToken(ctx context.Context, kind, id string, value []byte, ttl time.Duration) error
	}
}

// Use claims key.
func (g TokenGuard) Use(ctx context.Context, key string, ttl time.Duration) error {
	err := g.Tokens.CreateToken(ctx, ReplayKind, key, []byte{1}, ttl)
	if errors.Is(err, storage.ErrNameTaken) {
		return ErrReplay
	}
	return err
}

// Verify reports whether code is secret's TOTP code at now (±Skew
// steps) and not yet used for user of account in its time step, claiming
// the step through guard when it is. Spaces in code are ignored. A wrong
// or replayed code is (false, nil); an error is a bad secret or a failure
// of guard.
func Verify(ctx context.Context, guard ReplayGuard, account, user, secret, code string, now time.Time) (bool, error) {
	if secret == "" {
		return false, errors.New("totp: no secret")
	}
	in := make([]byte, 0, Digits)
	for i := 0; i < len(code); i++ {
		if code[i] != ' ' {
			in = append(in, code[i])
		}
	}
	wellFormed := len(in) == Digits
	for _, c := range in {
		if c < '0' || c > '9' {
			wellFormed = false
		}
	}
	step := now.Unix() / int64(Period/time.Second)
	matched, found := int64(0), 0
	for off := int64(-Skew); off <= Skew; off++ {
		s := step + off
		if s < 0 {
			continue
		}
		want, err := hotp.GenerateCodeCustom(secret, uint64(s), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return false, errors.New("totp: secret is not valid base32")
		}
		// Every candidate is compared (no early exit); the first
		// match is the step claimed.
		eq := subtle.ConstantTimeCompare([]byte(want), in)
		first := eq & (1 - found)
		matched = int64(first)*s + int64(1-first)*matched
		found |= eq
	}
	if !wellFormed || found == 0 {
		return false, nil
	}
	// The step's code is accepted until the end of step matched+Skew;
	// one more step of margin covers clocks of other instances.
	until := time.Unix((matched+Skew+2)*int64(Period/time.Second), 0)
	ttl := until.Sub(now)
	if ttl < time.Second {
		ttl = time.Second
	}
	err := guard.Use(ctx, replayKey(account, user, matched), ttl)
	if errors.Is(err, ErrReplay) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("totp: replay guard: %w", err)
	}
	return true, nil
}

// replayKey names time step of user of account for ReplayGuard: hex of
// SHA-256, so it is a valid token id and reveals neither names nor code.
func replayKey(account, user string, step int64) string {
	h := sha256.New()
	h.Write([]byte("totp-step\x00" + account + "\x00" + user + "\x00"))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(step))
	h.Write(b[:])
	return hex.EncodeToString(h.Sum(nil))
}
