package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
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
	ID       string        // jti; a fresh random one if empty
}

// newJTI is 128 random bits, base64url: a valid storage token id.
func newJTI() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
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
	if r.ID == "" {
		id, err := newJTI()
		if err != nil {
			return "", nil, err
		}
		r.ID = id
	}
	aud := r.Audience
	if len(aud) == 0 {
		aud = []string{r.Issuer}
	}
	now := k.now()
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
// account\user, jti, client_id). It returns the claims; every refusal
// wraps ErrInvalidToken. Revocation is the caller's next check (the
// TokenStore by jti).
func (k *KeySet) VerifyAccessToken(ctx context.Context, token string, o VerifyOptions) (*AccessClaims, error) {
	if o.Issuer == "" {
		return nil, errors.New("oauth: VerifyAccessToken needs the issuer")
	}
	if len(token) > MaxTokenLength {
		return nil, invalid("longer than %d bytes", MaxTokenLength)
	}
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
	now := k.now()
	switch {
	case c.Issuer != o.Issuer:
		return nil, invalid("issuer %q", c.Issuer)
	case c.Expiry == nil:
		return nil, invalid("no exp")
	case !now.Before(c.Expiry.Time().Add(o.Leeway)):
		return nil, invalid("expired at %s", c.Expiry.Time().UTC().Format(time.RFC3339))
	case c.IssuedAt == nil:
		return nil, invalid("no iat")
	case c.IssuedAt.Time().After(now.Add(o.Leeway)):
		return nil, invalid("issued in the future")
	case c.ID == "":
		return nil, invalid("no jti")
	case c.ClientID == "":
		return nil, invalid("no client_id")
	case c.Account == "" || !strings.HasPrefix(c.Subject, c.Account+`\`) || len(c.Subject) == len(c.Account)+1:
		return nil, invalid("subject %q is not a user of account %q", c.Subject, c.Account)
	case o.Audience != "" && !c.Audience.Contains(o.Audience):
		return nil, invalid("audience %q", []string(c.Audience))
	}
	return &c, nil
}
