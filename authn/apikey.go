package authn

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"io"
	"strings"
	"time"
)

// API key secrets. A key's id is its public prefix, APIKeyPrefix + 8
// random base32 characters; its secret is the id, "_" and 32 random bytes
// in base32 (256 bits). Only the hex SHA-256 of the secret is stored: a
// secret of that entropy cannot be guessed, so a slow hash would only
// cost CPU on every request; the stored hash is compared in constant
// time.

// APIKeyPrefix starts every API key; a Bearer token that starts with it
// is taken as an API key.
const APIKeyPrefix = "gh_"

var keyEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func randomText(random io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(random, b); err != nil {
		return "", err
	}
	return strings.ToLower(keyEncoding.EncodeToString(b)), nil
}

// NewAPIKeySecret draws a new key: its id and its secret (shown once).
func NewAPIKeySecret(random io.Reader) (id, secret string, err error) {
	body, err := randomText(random, 5) // 8 base32 characters
	if err != nil {
		return "", "", err
	}
	tail, err := randomText(random, 32)
	if err != nil {
		return "", "", err
	}
	id = APIKeyPrefix + body
	return id, id + "_" + tail, nil
}

// APIKeyID is the id (prefix) of a presented secret, "" when it has none.
func APIKeyID(secret string) string {
	rest, ok := strings.CutPrefix(secret, APIKeyPrefix)
	if !ok {
		return ""
	}
	body, _, ok := strings.Cut(rest, "_")
	if !ok || body == "" || len(body) > 64 {
		return ""
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return ""
		}
	}
	return APIKeyPrefix + body
}

// HashAPIKeySecret is what is stored of a secret.
func HashAPIKeySecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// APIKeyRecord is what signing in with a key needs to know of it.
type APIKeyRecord struct {
	Account, User string
	SecretHash    string
	Expires       time.Time // zero: never
	Permissions   []string
	OwnerEnabled  bool // the owner exists and is enabled
}

// APIKeys finds keys by id for sign-in.
type APIKeys interface {
	LookupAPIKey(ctx context.Context, id string) (APIKeyRecord, bool, error)
}

// APIKeyAuthenticator signs requests in with API keys (X-API-Key, or a
// Bearer token starting with APIKeyPrefix). The principal's scopes are
// the key's permissions: its power is the owner's live permissions cut by
// them. A bad key counts as a failed sign-in for the client address,
// under the throttle name "api-key@{address}", so a guessed prefix cannot
// lock the owner out. An owner whose password has expired may still use
// a key: the key is its own credential.
type APIKeyAuthenticator struct {
	Keys     APIKeys
	Throttle *Throttle
	Now      func() time.Time
	// OnUse is called with the key id after each accepted request.
	OnUse func(id string)
}

// Authenticate implements Authenticator.
func (a APIKeyAuthenticator) Authenticate(ctx context.Context, cr Credentials) (Result, error) {
	secret := cr.APIKey
	if secret == "" && strings.HasPrefix(cr.Bearer, APIKeyPrefix) {
		secret = cr.Bearer
	}
	if secret == "" {
		return Result{Status: NotMine}, nil
	}
	throttleName := "api-key@" + cr.Address
	if ok, retry := a.Throttle.Allowed(throttleName, cr.Address); !ok {
		return Result{Status: Throttled, Name: throttleName, RetryAfter: retry, Reason: "too many failed sign-ins"}, nil
	}
	id := APIKeyID(secret)
	var rec APIKeyRecord
	found := false
	if id != "" {
		var err error
		if rec, found, err = a.Keys.LookupAPIKey(ctx, id); err != nil {
			return Result{}, err
		}
	}
	hash := HashAPIKeySecret(secret)
	if !found || subtle.ConstantTimeCompare([]byte(hash), []byte(rec.SecretHash)) != 1 {
		a.Throttle.Fail(throttleName, cr.Address)
		reason := "the X-API-Key value is not a valid API key"
		if cr.APIKey == "" {
			reason = "the bearer value is not a valid API key"
		}
		return Result{Status: Refused, Name: id, Reason: reason}, nil
	}
	if !rec.Expires.IsZero() && !a.Now().Before(rec.Expires) {
		return Result{Status: Refused, Name: id, Reason: "the API key has expired"}, nil
	}
	if !rec.OwnerEnabled {
		return Result{Status: Refused, Name: id, Reason: "the API key's owner is disabled or no longer exists"}, nil
	}
	scopes := rec.Permissions
	if scopes == nil {
		scopes = []string{}
	}
	if a.OnUse != nil {
		a.OnUse(id)
	}
	return Result{Status: Accepted, Name: id, Principal: Principal{Account: rec.Account, User: rec.User,
		Method: MethodAPIKey, Scopes: scopes, KeyID: id}}, nil
}
