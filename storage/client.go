package storage

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// OAuth clients. A client's record lives in its owner's per-user set
// SubKey(a, KindClient, u, id), so deleting the user (DeleteItem, via
// owned) or the account (DeleteAccount, the tenant range) removes it.
// A global index ClientIndexKey(id) → "a\u" finds the record from a
// presented client_id in one lookup; it is written and deleted in the
// same transaction as the record. As with API keys, deleting the user or
// the account leaves the index entry dangling on purpose: ClientOwner
// always loads the record through it and a missing record is an unknown
// client.
//
// The secret is never stored: SecretHash is the hex HMAC-SHA-256 of the
// secret under the server key ClientSecretKeyName (Store.ServerKey). A
// generated secret carries 256 bits of entropy, so a fast keyed hash is
// as strong as a slow one and costs a microsecond per client
// authentication instead of bcrypt's tens of milliseconds; the key keeps
// a copy of etcd without the key from being a list of checkable hashes.

// ClientIndexRange holds the client id → owner index of OAuth clients.
const ClientIndexRange = "clientidx/"

// ClientIndexKey is the index entry of client id.
func ClientIndexKey(id string) string { return ClientIndexRange + id }

// ClientSecretKeyName names the server key client secrets are hashed
// under (Store.ServerKey).
const ClientSecretKeyName = "client-secret"

// The grant types a client may be given.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantClientCredentials = "client_credentials"
	GrantRefreshToken      = "refresh_token"
	GrantPassword          = "password"
)

// GrantTypes lists every grant type a client may be given.
var GrantTypes = []string{GrantAuthorizationCode, GrantClientCredentials, GrantRefreshToken, GrantPassword}

// The token endpoint authentication methods a client may register
// (RFC 7591 token_endpoint_auth_method).
const (
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	AuthPrivateKeyJWT     = "private_key_jwt"
	AuthNone              = "none"
)

// AuthMethods lists every token endpoint authentication method.
var AuthMethods = []string{AuthClientSecretBasic, AuthClientSecretPost, AuthPrivateKeyJWT, AuthNone}

// Client is the stored part of an OAuth client; its owner is its key.
type Client struct {
	ID          string
	Description string
	SecretHash  string   // hex HMAC-SHA-256 of the secret (ClientSecretHash); "" for a public client
	URIs        []string // exact redirect URIs
	GrantTypes  []string
	Scopes      []string // permission patterns
	Public      bool
	FirstParty  bool
	// AuthMethod is the registered token endpoint authentication method
	// (AuthMethods); "" (none registered, as in records written before
	// it existed) reads as the default, see TokenEndpointAuthMethod;
	// oauth then accepts client_secret_post as well.
	AuthMethod string
	// JWKS is the client's JSON Web Key Set (public keys, JSON text) for
	// private_key_jwt; "" when none is registered. It is validated by
	// its writer (oauth.ParseClientJWKS), not here.
	JWKS string
}

// TokenEndpointAuthMethod is the client's effective token endpoint
// authentication method: the registered one, else none for a public
// client and client_secret_basic for a confidential one.
func (c Client) TokenEndpointAuthMethod() string {
	switch {
	case c.AuthMethod != "":
		return c.AuthMethod
	case c.Public:
		return AuthNone
	}
	return AuthClientSecretBasic
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return ""
}

func lines(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, "\n")
}

// Encode returns the compact stored form.
func (c Client) Encode() string {
	return encodeFields(fields{c.ID, c.Description, c.SecretHash, strings.Join(c.URIs, "\n"),
		strings.Join(c.GrantTypes, "\n"), strings.Join(c.Scopes, "\n"), flag(c.Public), flag(c.FirstParty),
		c.AuthMethod, c.JWKS})
}

// DecodeClient reads a Client record. Records written before the
// authentication method and the key set existed (8 fields) decode with
// both empty.
func DecodeClient(v string) (Client, error) {
	var f [10]string
	if err := decodeFields(v, f[:]); err != nil {
		return Client{}, err
	}
	return Client{ID: f[0], Description: f[1], SecretHash: f[2], URIs: lines(f[3]), GrantTypes: lines(f[4]),
		Scopes: lines(f[5]), Public: f[6] != "", FirstParty: f[7] != "", AuthMethod: f[8], JWKS: f[9]}, nil
}

// HasGrant reports whether the client may use grant type g.
func (c Client) HasGrant(g string) bool {
	for _, x := range c.GrantTypes {
		if x == g {
			return true
		}
	}
	return false
}

// ClientSecretHash is the stored form of a client secret: hex
// HMAC-SHA-256 of secret under key (the server key ClientSecretKeyName).
func ClientSecretHash(key []byte, secret string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(secret))
	return hex.EncodeToString(m.Sum(nil))
}

// SecretMatches reports, in constant time, whether secret is the
// client's secret under key. A public client (no hash) matches nothing.
func (c Client) SecretMatches(key []byte, secret string) bool {
	if c.SecretHash == "" || len(key) == 0 {
		return false
	}
	want, err := hex.DecodeString(c.SecretHash)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(secret))
	return hmac.Equal(m.Sum(nil), want)
}

// Client returns client id of user u in account a.
func (v View) Client(a, u, id string) (Client, bool) {
	val, ok := v.Get(SubKey(a, KindClient, u, id))
	if !ok {
		return Client{}, false
	}
	c, err := DecodeClient(val)
	return c, err == nil
}

// ClientOwner finds client id and its owner through the index; ok is
// false when the index or the record is missing (a deleted client, or
// one whose user or account was deleted).
func (v View) ClientOwner(id string) (a, u string, c Client, ok bool) {
	owner, found := v.Get(ClientIndexKey(id))
	if !found {
		return "", "", Client{}, false
	}
	a, u, split := strings.Cut(owner, `\`)
	if !split {
		return "", "", Client{}, false
	}
	c, ok = v.Client(a, u, id)
	return a, u, c, ok
}

// CreateClient stores a new client of user u with its index entry, in
// one transaction guarded on the user existing and the id being unused
// (ErrNameTaken: the caller draws another id).
func (s *Store) CreateClient(ctx context.Context, a, u string, c Client) (int64, error) {
	if err := ValidName(c.ID); err != nil {
		return 0, fmt.Errorf("%w: client id: %v", ErrInvalid, err)
	}
	return s.Update(ctx, func(v View, t *Txn) error {
		if err := expectItem(v, t, a, KindUser, u); err != nil {
			return err
		}
		idx := ClientIndexKey(c.ID)
		key := SubKey(a, KindClient, u, c.ID)
		if v.Has(idx) || v.Has(key) {
			return fmt.Errorf("client %q: %w", c.ID, ErrNameTaken)
		}
		t.Expect(idx)
		t.Expect(key)
		t.Put(key, c.Encode())
		t.Put(idx, a+`\`+u)
		return nil
	})
}

// UpdateClient rewrites client id of user u; update runs on the record
// as the transaction reads it and may refuse with an error. The id and
// the secret hash are kept whatever update does to them.
func (s *Store) UpdateClient(ctx context.Context, a, u, id string, update func(*Client) error) (int64, error) {
	return s.Update(ctx, func(v View, t *Txn) error {
		if err := expectItem(v, t, a, KindUser, u); err != nil {
			return err
		}
		key := SubKey(a, KindClient, u, id)
		c, ok := v.Client(a, u, id)
		if !ok {
			return notFound(fmt.Sprintf("client %q of user %q", id, u))
		}
		hash := c.SecretHash
		if err := update(&c); err != nil {
			return err
		}
		c.ID = id
		if c.Public {
			c.SecretHash = ""
		} else {
			c.SecretHash = hash
		}
		t.Expect(key)
		t.Put(key, c.Encode())
		return nil
	})
}

// DeleteClient removes client id of user u and its index entry.
func (s *Store) DeleteClient(ctx context.Context, a, u, id string) (int64, error) {
	return s.Update(ctx, func(v View, t *Txn) error {
		key := SubKey(a, KindClient, u, id)
		if !v.Has(key) {
			return notFound(fmt.Sprintf("client %q of user %q", id, u))
		}
		t.Expect(key)
		t.Delete(key)
		t.Delete(ClientIndexKey(id))
		return nil
	})
}

// DeleteClients removes every client of user u and their index entries
// in one transaction (guarded on the user existing and no client being
// added meanwhile).
func (s *Store) DeleteClients(ctx context.Context, a, u string) (int64, error) {
	return s.Update(ctx, func(v View, t *Txn) error {
		if err := expectItem(v, t, a, KindUser, u); err != nil {
			return err
		}
		r := SubRange(a, KindClient, u)
		t.ExpectNoNew(r)
		v.EachRange(r, func(id, _ string) bool {
			t.Expect(SubKey(a, KindClient, u, id))
			t.Delete(ClientIndexKey(id))
			return true
		})
		t.DeleteRange(r)
		return nil
	})
}
