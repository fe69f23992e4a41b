package oauth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ory/fosite"

	"gatehouse/authz"
	"gatehouse/storage"
)

// Client is a stored OAuth client as fosite sees it: fosite's default
// client (id, redirect URIs, grant types, scopes, public flag) plus the
// user it belongs to. Its "hashed secret" is the stored HMAC
// (storage.ClientSecretHash), which only SecretHasher can compare; it
// never leaves the process.
type Client struct {
	fosite.DefaultClient
	Account, Owner string // the owning user: client credentials act for it
	FirstParty     bool
}

// StorageClients resolves clients from storage's watch-fed cache: the
// record found through the client index (View.ClientOwner). A client
// whose record, user or account is gone is unknown (fosite.ErrNotFound).
// It is both fosite's ClientManager and the TokenStore's ClientSource.
type StorageClients struct {
	Store  *storage.Store
	tokens TokenBackend // JWT assertion replay guard; nil refuses assertions
}

var _ ClientSource = (*StorageClients)(nil)
var _ fosite.ClientManager = (*StorageClients)(nil)

// Client implements ClientSource.
func (c *StorageClients) Client(ctx context.Context, id string) (fosite.Client, error) {
	return c.GetClient(ctx, id)
}

// GetClient implements fosite.ClientManager. The built-in admin-cli
// (AdminCLIClientID) is resolved before storage is consulted.
func (c *StorageClients) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	if id == AdminCLIClientID {
		return adminCLI(), nil
	}
	var (
		a, u string
		rec  storage.Client
		ok   bool
	)
	if err := c.Store.Read(ctx, 0, func(v storage.View) error {
		a, u, rec, ok = v.ClientOwner(id)
		return nil
	}); err != nil {
		return nil, err
	}
	if !ok {
		return nil, fosite.ErrNotFound.WithDebugf("client %q does not exist", id)
	}
	return NewClient(a, u, rec), nil
}

// NewClient is the fosite view of client rec of user u of account a.
func NewClient(a, u string, rec storage.Client) *Client {
	cl := &Client{Account: a, Owner: u, FirstParty: rec.FirstParty}
	cl.ID = rec.ID
	cl.RedirectURIs = rec.URIs
	cl.GrantTypes = rec.GrantTypes
	cl.ResponseTypes = []string{"code"}
	cl.Scopes = rec.Scopes
	if rec.HasGrant(storage.GrantRefreshToken) && !slices.Contains(cl.Scopes, offlineAccess) {
		// A client that may refresh may ask for offline_access without
		// registering it (SPEC §3a: a refresh token is issued when
		// offline_access is requested).
		cl.Scopes = append(slices.Clip(cl.Scopes), offlineAccess)
	}
	if rec.HasGrant(storage.GrantAuthorizationCode) {
		// Likewise the OpenID Connect scopes for a client that signs
		// users in: an ID token, and their email and name.
		for _, sc := range []string{scopeOpenID, scopeEmail, scopeProfile} {
			if !slices.Contains(cl.Scopes, sc) {
				cl.Scopes = append(slices.Clip(cl.Scopes), sc)
			}
		}
	}
	cl.Public = rec.Public
	if !rec.Public && rec.SecretHash != "" {
		cl.Secret = []byte(rec.SecretHash)
	}
	return cl
}

// ClientAssertionJWTValid implements fosite.ClientManager: a JWT client
// assertion's jti seen before is refused (private_key_jwt is not offered
// yet: clients register no keys, so fosite refuses assertions before it
// gets here).
func (c *StorageClients) ClientAssertionJWTValid(ctx context.Context, jti string) error {
	if c.tokens == nil {
		return fosite.ErrJTIKnown
	}
	_, err := c.tokens.GetToken(ctx, kindAssertion, tokenID(jti))
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return fosite.ErrJTIKnown
}

// SetClientAssertionJWT implements fosite.ClientManager: it records a
// used assertion's jti until it expires.
func (c *StorageClients) SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error {
	if c.tokens == nil {
		return fosite.ErrJTIKnown
	}
	ttl := time.Until(exp)
	if ttl <= 0 {
		return nil
	}
	err := c.tokens.CreateToken(ctx, kindAssertion, tokenID(jti), []byte{1}, ttl)
	if errors.Is(err, storage.ErrNameTaken) {
		return fosite.ErrJTIKnown
	}
	return err
}

// offlineAccess is the scope that asks for a refresh token.
const offlineAccess = "offline_access"

// kindAssertion holds used JWT client assertion ids.
const kindAssertion = "oauth-jti"

// SecretHasher is fosite's client secret hasher over gatehouse's keyed
// fast hash: the stored "hash" is the hex HMAC-SHA-256 of the secret
// under the server key storage.ClientSecretKeyName, compared in constant
// time. Generated secrets carry 256 bits of entropy, so this is as
// strong as bcrypt and a thousand times cheaper (SPEC §12).
type SecretHasher struct{ Key []byte }

var _ fosite.Hasher = SecretHasher{}

// Compare implements fosite.Hasher.
func (h SecretHasher) Compare(_ context.Context, hash, data []byte) error {
	if len(h.Key) == 0 {
		return errors.New("oauth: no client secret key")
	}
	if !(storage.Client{SecretHash: string(hash)}).SecretMatches(h.Key, string(data)) {
		return fosite.ErrInvalidClient.WithHint("The client secret is wrong.")
	}
	return nil
}

// Hash implements fosite.Hasher.
func (h SecretHasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	if len(h.Key) == 0 {
		return nil, errors.New("oauth: no client secret key")
	}
	return []byte(storage.ClientSecretHash(h.Key, string(data))), nil
}

// PermissionScopeStrategy is fosite's scope strategy for gatehouse:
// scopes are permission patterns (Shiro wildcards), and a requested scope
// is allowed when one of the client's scopes implies it. The OAuth
// scopes openid and offline_access match only themselves.
func PermissionScopeStrategy(haystack []string, needle string) bool {
	for _, held := range haystack {
		if held == needle {
			return true
		}
		if isProtocolScope(held) || isProtocolScope(needle) {
			continue
		}
		if authz.Validate(held) == nil && authz.Validate(needle) == nil && authz.Implies(held, needle) {
			return true
		}
	}
	return false
}

// isProtocolScope reports whether s is an OAuth or OpenID Connect scope
// rather than a permission pattern.
func isProtocolScope(s string) bool {
	switch s {
	case "openid", "offline_access", "offline", "profile", "email":
		return true
	}
	return false
}

// ownerOf is the owning user of a resolved client.
func ownerOf(c fosite.Client) (a, u string, err error) {
	cl, ok := c.(*Client)
	if !ok || cl.Account == "" || cl.Owner == "" {
		return "", "", fmt.Errorf("oauth: client %q has no owner", c.GetID())
	}
	return cl.Account, cl.Owner, nil
}
