package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v3"
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
	// AuthMethod is the token endpoint authentication method fosite
	// enforces (storage.Client.TokenEndpointAuthMethod).
	AuthMethod string
	// JWKS is the client's public key set for private_key_jwt (nil when
	// none is registered) and JWKSAlg the one algorithm its keys sign
	// with (ParseClientJWKS).
	JWKS    *jose.JSONWebKeySet
	JWKSAlg string
}

var _ fosite.OpenIDConnectClient = (*Client)(nil)

// GetRequestURIs implements fosite.OpenIDConnectClient: none (OpenID
// Connect request objects by reference are not offered; PAR's
// request_uri is another thing).
func (c *Client) GetRequestURIs() []string { return nil }

// GetJSONWebKeys implements fosite.OpenIDConnectClient: the registered
// public keys private_key_jwt assertions are verified with.
func (c *Client) GetJSONWebKeys() *jose.JSONWebKeySet { return c.JWKS }

// GetJSONWebKeysURI implements fosite.OpenIDConnectClient: keys are
// registered by value only (nothing is fetched).
func (c *Client) GetJSONWebKeysURI() string { return "" }

// GetRequestObjectSigningAlgorithm implements fosite.OpenIDConnectClient.
// The authorization and PAR endpoints refuse request objects before
// fosite sees them; the keys' algorithm is returned all the same so that
// fosite could never take an unsigned ("none") one.
func (c *Client) GetRequestObjectSigningAlgorithm() string {
	if c.JWKSAlg == "" {
		return "RS256"
	}
	return c.JWKSAlg
}

// GetTokenEndpointAuthMethod implements fosite.OpenIDConnectClient:
// fosite accepts only this method at the token, PAR, introspection and
// revocation endpoints.
func (c *Client) GetTokenEndpointAuthMethod() string {
	if c.AuthMethod != "" {
		return c.AuthMethod
	}
	if c.Public {
		return storage.AuthNone
	}
	return storage.AuthClientSecretBasic
}

// GetTokenEndpointAuthSigningAlgorithm implements
// fosite.OpenIDConnectClient: the algorithm a client assertion must be
// signed with (fosite compares it with the assertion's alg header).
func (c *Client) GetTokenEndpointAuthSigningAlgorithm() string { return c.JWKSAlg }

// StorageClients resolves clients from storage's watch-fed cache: the
// record found through the client index (View.ClientOwner). A client
// whose record, user or account is gone is unknown (fosite.ErrNotFound).
// It is both fosite's ClientManager and the TokenStore's ClientSource.
type StorageClients struct {
	Store  *storage.Store
	tokens TokenBackend // JWT assertion replay guard; nil refuses assertions
	// consoleRedirect is the console client's redirect URI
	// (SetConsoleRedirect); "" leaves that client unknown.
	consoleRedirect string
}

// ConsoleClientID is the id of the built-in first-party public client
// of the browser console (package console): authorization code with
// PKCE and refresh tokens, its one redirect URI the console's callback
// on this server, scope `*` (a token's power is still the user's
// effective permissions). Like admin-cli it is never stored, and no
// stored client id (20 random characters) can be it.
const ConsoleClientID = "console"

// SetConsoleRedirect enables the console client with redirect URI uri
// (the issuer's /auth/v2/console/callback). Call it before serving.
func (c *StorageClients) SetConsoleRedirect(uri string) { c.consoleRedirect = uri }

// consoleClient is the built-in console client redirecting to uri.
func consoleClient(uri string) *Client {
	cl := &Client{FirstParty: true}
	cl.ID = ConsoleClientID
	cl.Public = true
	cl.RedirectURIs = []string{uri}
	cl.GrantTypes = []string{storage.GrantAuthorizationCode, storage.GrantRefreshToken}
	cl.ResponseTypes = []string{"code"}
	cl.Scopes = []string{"*", offlineAccess, scopeOpenID, scopeEmail, scopeProfile}
	return cl
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
	if id == ConsoleClientID && c.consoleRedirect != "" {
		return consoleClient(c.consoleRedirect), nil
	}
	var (
		a, u string
		rec  storage.Client
		ok   bool
	)
	if err := c.Store.Read(ctx, 0, func(v storage.View) error {
		a, u, rec, ok = v.ClientOwner(id)
		ok = ok && !v.Importing(a) // a journaled import under way
		return nil
	}); err != nil {
		return nil, err
	}
	if !ok {
		return nil, fosite.ErrNotFound.WithDebugf("client %q does not exist", id)
	}
	return clientFor(ctx, a, u, rec), nil
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
	cl.AuthMethod = rec.TokenEndpointAuthMethod()
	return withKeys(cl, rec)
}

// secretPostKey marks a client authentication context whose request
// sends a client_secret in the form (and no Basic credentials nor
// assertion).
type secretPostKey struct{}

// secretMethodContext is the context fosite's client authentication
// runs in (ProviderConfig's ClientAuthenticationStrategy): it notes
// whether the request uses client_secret_post, so that a confidential
// client without a registered method — the default, client_secret_basic
// — is resolved as client_secret_post for that request. Such clients
// keep accepting both secret methods, as every client did before
// methods were registered (and as OAuth libraries that try one, then
// the other, expect); fosite enforces a registered method strictly.
func secretMethodContext(ctx context.Context, r *http.Request, form url.Values) context.Context {
	if form.Get("client_assertion_type") != "" || form.Get("client_secret") == "" {
		return ctx
	}
	if _, _, basic := r.BasicAuth(); basic {
		return ctx
	}
	return context.WithValue(ctx, secretPostKey{}, true)
}

// clientFor is NewClient as a client authentication in ctx sees it (see
// secretMethodContext).
func clientFor(ctx context.Context, a, u string, rec storage.Client) *Client {
	cl := NewClient(a, u, rec)
	if rec.AuthMethod == "" && !rec.Public {
		if post, _ := ctx.Value(secretPostKey{}).(bool); post {
			cl.AuthMethod = storage.AuthClientSecretPost
		}
	}
	return cl
}

// withKeys adds rec's key set to cl.
func withKeys(cl *Client, rec storage.Client) *Client {
	if rec.JWKS != "" && !rec.Public {
		// Validated when written; a set that does not parse now leaves
		// the client without keys, so its assertions are refused.
		cl.JWKS, cl.JWKSAlg, _ = parsedJWKS(rec.JWKS)
	}
	return cl
}

// ClientAssertionJWTValid implements fosite.ClientManager: a JWT client
// assertion (private_key_jwt) whose jti was seen before is refused
// (fosite.ErrJTIKnown). fosite calls it after verifying the assertion's
// signature, iss, sub and exp, then records the jti with
// SetClientAssertionJWT, whose create-only write settles a race between
// two uses of one assertion.
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
// used assertion's jti until the assertion expires, create-only, so of
// two concurrent uses of one assertion exactly one succeeds (the other
// gets fosite.ErrJTIKnown). An assertion valid for longer than
// MaxAssertionLifetime is refused: its jti would have to be kept that
// long.
func (c *StorageClients) SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error {
	if c.tokens == nil {
		return fosite.ErrJTIKnown
	}
	ttl := time.Until(exp)
	if ttl <= 0 {
		return fosite.ErrInvalidClient.WithHint("The client_assertion has expired.")
	}
	if ttl > MaxAssertionLifetime {
		return fosite.ErrInvalidClient.WithHintf("The client_assertion's exp is more than %s away.", MaxAssertionLifetime)
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

// MaxAssertionLifetime bounds how far ahead a client assertion's exp may
// be (RFC 7523 §3 lets the server refuse long-lived assertions).
const MaxAssertionLifetime = time.Hour

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

// Client key sets (private_key_jwt, RFC 7523): what a client may
// register, checked by ParseClientJWKS when the clients resource writes
// one and parsed again (cached) whenever the client is resolved.
const (
	MaxJWKSBytes = 16 << 10 // the JSON text
	MaxJWKSKeys  = 8
	minRSABits   = 2048
)

// JWKSAlgs are the client assertion signing algorithms gatehouse
// accepts: those fosite verifies client assertions with (RSA and ECDSA
// keys; it has no EdDSA verification for them).
var JWKSAlgs = []string{"RS256", "PS256", "ES256"}

// privateMembers are JWK members that hold private or symmetric key
// material (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// ParseClientJWKS validates a client's JSON Web Key Set as registered
// through the clients resource and returns it (every key with use "sig")
// and the one algorithm its keys sign with. Refused: more than
// MaxJWKSBytes or MaxJWKSKeys, JSON that is not a key set, private or
// symmetric key material, keys for encryption, RSA keys under 2048 bits,
// EC keys not on P-256, EdDSA and other key types fosite cannot verify
// assertions with, algorithms other than JWKSAlgs, keys of different
// algorithms in one set (fosite enforces one per client), and, in a set
// of several keys, missing or repeated kids. The messages are meant for
// the client's registrant.
func ParseClientJWKS(text string) (*jose.JSONWebKeySet, string, error) {
	if len(text) > MaxJWKSBytes {
		return nil, "", fmt.Errorf("the key set is longer than %d bytes", MaxJWKSBytes)
	}
	var raw struct {
		Keys []map[string]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return nil, "", errors.New("the key set is not a JSON Web Key Set (a JSON object with a keys array of key objects)")
	}
	if len(raw.Keys) == 0 {
		return nil, "", errors.New("the key set has no keys")
	}
	if len(raw.Keys) > MaxJWKSKeys {
		return nil, "", fmt.Errorf("the key set has %d keys; at most %d are allowed", len(raw.Keys), MaxJWKSKeys)
	}
	for i, k := range raw.Keys {
		for m := range k {
			// Any case: the set is stored and shown as written.
			if slices.Contains(privateMembers, strings.ToLower(m)) {
				return nil, "", fmt.Errorf("key %d holds private or symmetric key material (member %q): register public keys only", i+1, clipMsg(m))
			}
		}
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(text), &set); err != nil {
		return nil, "", fmt.Errorf("the key set does not parse: %s", clipMsg(err.Error()))
	}
	alg := ""
	kids := map[string]bool{}
	for i := range set.Keys {
		k := &set.Keys[i]
		kalg, err := keyAlg(k)
		if err != nil {
			return nil, "", fmt.Errorf("key %d: %w", i+1, err)
		}
		if alg != "" && kalg != alg {
			return nil, "", fmt.Errorf("key %d signs with %s, key 1 with %s: all keys of a client sign with one algorithm", i+1, kalg, alg)
		}
		alg = kalg
		if len(set.Keys) > 1 {
			if k.KeyID == "" {
				return nil, "", fmt.Errorf("key %d has no kid: in a set of several keys each needs a distinct kid", i+1)
			}
			if kids[k.KeyID] {
				return nil, "", fmt.Errorf("key %d repeats kid %q", i+1, clipMsg(k.KeyID))
			}
			kids[k.KeyID] = true
		}
		k.Use = "sig"
	}
	return &set, alg, nil
}

// keyAlg checks one key and returns the algorithm it signs with.
func keyAlg(k *jose.JSONWebKey) (string, error) {
	if !k.Valid() || !k.IsPublic() {
		return "", errors.New("not a valid public key")
	}
	if k.Use != "" && k.Use != "sig" {
		return "", fmt.Errorf("use %q: a client's keys sign (use sig)", clipMsg(k.Use))
	}
	var alg string
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < minRSABits {
			return "", fmt.Errorf("the RSA key has %d bits; at least %d are needed", pub.N.BitLen(), minRSABits)
		}
		alg = "RS256"
		if k.Algorithm == "PS256" {
			alg = "PS256"
		}
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return "", errors.New("the EC key is not on curve P-256 (ES256)")
		}
		alg = "ES256"
	case ed25519.PublicKey:
		return "", errors.New("EdDSA (Ed25519) keys are not supported: client assertions are verified with RSA (RS256, PS256) or EC P-256 (ES256) keys")
	default:
		return "", errors.New("unsupported key type: use RSA (RS256, PS256) or EC P-256 (ES256)")
	}
	if k.Algorithm != "" && k.Algorithm != alg {
		return "", fmt.Errorf("alg %q does not fit the key; expected one of %s", clipMsg(k.Algorithm), strings.Join(JWKSAlgs, ", "))
	}
	return alg, nil
}

func clipMsg(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// jwksCache holds parsed key sets by their text (NewClient runs on every
// client resolution); cleared when it grows past jwksCacheMax entries.
var jwksCache struct {
	sync.Mutex
	m map[string]parsedSet
}

const jwksCacheMax = 1024

type parsedSet struct {
	set *jose.JSONWebKeySet
	alg string
	err error
}

// parsedJWKS is ParseClientJWKS through jwksCache. The set returned is
// shared: callers do not modify it.
func parsedJWKS(text string) (*jose.JSONWebKeySet, string, error) {
	jwksCache.Lock()
	p, ok := jwksCache.m[text]
	jwksCache.Unlock()
	if ok {
		return p.set, p.alg, p.err
	}
	p.set, p.alg, p.err = ParseClientJWKS(text)
	jwksCache.Lock()
	if jwksCache.m == nil || len(jwksCache.m) >= jwksCacheMax {
		jwksCache.m = map[string]parsedSet{}
	}
	jwksCache.m[text] = p
	jwksCache.Unlock()
	return p.set, p.alg, p.err
}
