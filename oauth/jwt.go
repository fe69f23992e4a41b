package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// AccessTokenType is the JOSE typ of access tokens (RFC 9068 §2.1).
const AccessTokenType = "at+jwt"

// MaxTokenLength bounds the outside input VerifyAccessToken parses.
const MaxTokenLength = 8 << 10

// ErrInvalidToken is the error of every refused access token; the
// wrapped detail says why (for logs, not for callers).
var ErrInvalidToken = errors.New("invalid access token")

// AccessClaims are the claims of a JWT access token (RFC 9068 §2.2)
// plus gatehouse's account.
type AccessClaims struct {
	Issuer   string           `json:"iss"`
	Subject  string           `json:"sub"` // account\user
	Audience jwt.Audience     `json:"aud"`
	Expiry   *jwt.NumericDate `json:"exp"`
	IssuedAt *jwt.NumericDate `json:"iat"`
	ID       string           `json:"jti"`
	ClientID string           `json:"client_id"`
	Scope    string           `json:"scope,omitempty"` // space-separated
	Account  string           `json:"account"`
	// SessionID names the sign-in session (the token family) of a token
	// issued to a signed-in user (code and password grants and their
	// refreshes); empty for client credentials.
	SessionID string `json:"sid,omitempty"`
}

// Scopes returns the token's scopes.
func (c *AccessClaims) Scopes() []string { return strings.Fields(c.Scope) }

// AccessTokenRequest says what an access token grants.
type AccessTokenRequest struct {
	Issuer   string
	Account  string
	User     string
	ClientID string
	Scopes   []string
	Audience []string      // the issuer if empty
	Lifetime time.Duration // DefaultLifetimes.Access if zero
	ID       string        // jti; a fresh one (newJTI) if empty
	// SessionID is the sid claim: the token family of a signed-in
	// user's grant; empty for client credentials.
	SessionID string
}

// newJTI is the time of issue in Unix nanoseconds (8 bytes, big-endian)
// and 64 random bits, base64url: unique, opaque to clients, and telling
// the exact moment a token was issued, which iat (whole seconds) cannot:
// a family revoked at a moment covers exactly the tokens issued before
// it (IssuedBefore).
func newJTI(now time.Time) (string, error) {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixNano()))
	if _, err := rand.Read(b[8:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Issued is when the token was issued, to the nanosecond when its jti
// says so (newJTI), else its iat.
func (c *AccessClaims) Issued() time.Time {
	if len(c.ID) == 22 {
		var b [16]byte
		if n, err := base64.RawURLEncoding.Decode(b[:], []byte(c.ID)); err == nil && n == 16 {
			return time.Unix(0, int64(binary.BigEndian.Uint64(b[:8])))
		}
	}
	if c.IssuedAt == nil {
		return time.Time{}
	}
	return c.IssuedAt.Time()
}

// IssueAccessToken signs an RFC 9068 access token with the current key
// and returns it with its claims.
func (k *KeySet) IssueAccessToken(r AccessTokenRequest) (string, *AccessClaims, error) {
	if r.Issuer == "" || r.Account == "" || r.User == "" || r.ClientID == "" {
		return "", nil, errors.New("oauth: an access token needs issuer, account, user and client")
	}
	if r.Lifetime <= 0 {
		r.Lifetime = DefaultLifetimes.Access
	}
	now := k.now()
	if r.ID == "" {
		id, err := newJTI(now)
		if err != nil {
			return "", nil, err
		}
		r.ID = id
	}
	aud := r.Audience
	if len(aud) == 0 {
		aud = []string{r.Issuer}
	}
	c := &AccessClaims{
		Issuer:   r.Issuer,
		Subject:  Subject(r.Account, r.User),
		Audience: jwt.Audience(slices.Clone(aud)),
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(r.Lifetime)),
		ID:       r.ID,
		ClientID: r.ClientID,
		Scope:    strings.Join(r.Scopes, " "),
		Account:  r.Account,

		SessionID: r.SessionID,
	}
	kid, _, key := k.Signer()
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType(AccessTokenType))
	if err != nil {
		return "", nil, err
	}
	tok, err := jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		return "", nil, err
	}
	return tok, c, nil
}

// VerifyOptions say what VerifyAccessToken requires beyond a valid
// signature by a published key.
type VerifyOptions struct {
	Issuer   string        // required: iss must equal it
	Audience string        // if set, aud must contain it
	Leeway   time.Duration // clock skew allowed on exp and iat
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidToken}, a...)...)
}

// VerifyAccessToken checks a JWT access token from outside: compact
// JWS, alg ES256, typ at+jwt, a kid of a published key, a valid
// signature, iss, exp, iat, and the claims gatehouse needs (sub =
// account\user, jti, client_id). It returns the claims, which the caller
// must not modify; every refusal wraps ErrInvalidToken. A token whose
// signature verified before is found in the verification cache
// (verifiedTokens) and only its time and option checks run again.
// Revocation is the caller's next check (TokenStore.AccessToken).
func (k *KeySet) VerifyAccessToken(ctx context.Context, token string, o VerifyOptions) (*AccessClaims, error) {
	if o.Issuer == "" {
		return nil, errors.New("oauth: VerifyAccessToken needs the issuer")
	}
	if len(token) > MaxTokenLength {
		return nil, invalid("longer than %d bytes", MaxTokenLength)
	}
	cached, h, ok := k.verified.get(token)
	if ok {
		if err := checkClaims(cached, o, k.now()); err != nil {
			return nil, err
		}
		return cached, nil
	}
	c, err := k.verifySignature(ctx, token)
	if err != nil {
		return nil, err
	}
	now := k.now()
	if err := checkClaims(c, o, now); err != nil {
		return nil, err
	}
	k.verified.put(h, c, now)
	return c, nil
}

// verifySignature parses token and verifies its header and signature.
func (k *KeySet) verifySignature(ctx context.Context, token string) (*AccessClaims, error) {
	if strings.Count(token, ".") != 2 {
		return nil, invalid("not a compact JWS")
	}
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return nil, invalid("%v", err)
	}
	if len(tok.Headers) != 1 {
		return nil, invalid("%d signatures", len(tok.Headers))
	}
	h := tok.Headers[0]
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	if !strings.EqualFold(typ, AccessTokenType) && !strings.EqualFold(typ, "application/"+AccessTokenType) {
		return nil, invalid("typ %q", typ)
	}
	if h.KeyID == "" {
		return nil, invalid("no kid")
	}
	pub, err := k.verificationKey(ctx, h.KeyID)
	if errors.Is(err, errUnknownKey) {
		return nil, invalid("kid %q: %v", h.KeyID, err)
	}
	if err != nil {
		return nil, err
	}
	var c AccessClaims
	if err := tok.Claims(pub, &c); err != nil {
		return nil, invalid("%v", err)
	}
	return &c, nil
}

// checkClaims checks the claims of a token whose signature verified at
// now, against o.
func checkClaims(c *AccessClaims, o VerifyOptions, now time.Time) error {
	switch {
	case c.Issuer != o.Issuer:
		return invalid("issuer %q", c.Issuer)
	case c.Expiry == nil:
		return invalid("no exp")
	case !now.Before(c.Expiry.Time().Add(o.Leeway)):
		return invalid("expired at %s", c.Expiry.Time().UTC().Format(time.RFC3339))
	case c.IssuedAt == nil:
		return invalid("no iat")
	case c.IssuedAt.Time().After(now.Add(o.Leeway)):
		return invalid("issued in the future")
	case c.ID == "":
		return invalid("no jti")
	case c.ClientID == "":
		return invalid("no client_id")
	case c.Account == "" || !strings.HasPrefix(c.Subject, c.Account+`\`) || len(c.Subject) == len(c.Account)+1:
		return invalid("subject %q is not a user of account %q", c.Subject, c.Account)
	case o.Audience != "" && !c.Audience.Contains(o.Audience):
		return invalid("audience %q", []string(c.Audience))
	}
	return nil
}
