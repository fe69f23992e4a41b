package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"

	"gatehouse/authn"
	"gatehouse/passkey"
	"gatehouse/storage"
)

// HMACKeyName names the server key (storage.Store.ServerKey) fosite's
// HMAC strategy signs refresh tokens and authorization codes with: the
// same on every instance, so any instance validates what another issued.
const HMACKeyName = "oauth-hmac"

// SignInKeyName names the server key the sign-in page's CSRF tokens and
// step tickets are MACed with (the same on every instance, so a form
// shown by one instance may be posted to another).
const SignInKeyName = "oauth-signin"

// ProviderConfig configures a Provider.
type ProviderConfig struct {
	Store     *storage.Store
	Issuer    string // iss of every token; no trailing slash
	Lifetimes Lifetimes
	// KeyRetention is how long a superseded signing key stays published
	// (at least the access token lifetime); DefaultKeyRetention if zero.
	KeyRetention time.Duration
	Now          func() time.Time // time.Now if nil
	// SignIn is the password flow the sign-in page uses: the same one
	// HTTP Basic uses, so throttling and the credential cache are shared.
	// Nil: the authorization endpoint refuses to sign anybody in.
	SignIn *authn.PasswordFlow
}

// Provider is gatehouse's OAuth 2.0 authorization server: fosite composed
// over the TokenStore and the stored clients, with JWT access tokens
// signed by the KeySet. Its HTTP endpoints are Routes.
type Provider struct {
	OAuth2  fosite.OAuth2Provider
	Keys    *KeySet
	Tokens  *TokenStore
	Clients *StorageClients
	Issuer  string
	life    Lifetimes
	store   *storage.Store
	signIn  *authn.PasswordFlow
	pageKey []byte // SignInKeyName
	now     func() time.Time
	// external are the sign-in methods beside the password (SAML),
	// installed by SetExternal (external.go).
	external ExternalMethods
	// passkeys is the WebAuthn relying party, installed by SetPasskeys
	// (passkey.go); nil: the page offers no passkey.
	passkeys *passkey.Service
}

// storageAll is what fosite's composition needs of storage: the client
// manager, the token state and the password grant's sign-in.
type storageAll struct {
	*StorageClients
	*TokenStore
	passwordAuth
}

// NewProvider loads (or creates) the signing keys and the shared secrets
// and composes fosite: the authorization code grant, client credentials,
// refresh tokens (rotated), the password grant (for clients flagged for
// it, through the shared PasswordFlow), introspection and revocation; PKCE is S256
// only and required of public clients; OpenID Connect ID tokens (ES256
// by the KeySet) for the code grant and its refreshes; pushed
// authorization requests (RFC 9126) and private_key_jwt client
// authentication (RFC 7523, fosite's, for clients registering a key set).
func NewProvider(ctx context.Context, c ProviderConfig) (*Provider, error) {
	if c.Issuer == "" {
		return nil, errors.New("oauth: the provider needs an issuer")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	life := c.Lifetimes.withDefaults()
	retain := c.KeyRetention
	if retain <= 0 {
		retain = DefaultKeyRetention
	}
	retain = max(retain, life.Access+time.Minute)
	keys, err := NewKeySet(ctx, KeyConfig{Store: StorageKeys{c.Store}, Retain: retain, Now: c.Now})
	if err != nil {
		return nil, err
	}
	secretKey, err := c.Store.ServerKey(ctx, storage.ClientSecretKeyName)
	if err != nil {
		return nil, fmt.Errorf("oauth: client secret key: %w", err)
	}
	hmacKey, err := c.Store.ServerKey(ctx, HMACKeyName)
	if err != nil {
		return nil, fmt.Errorf("oauth: token HMAC key: %w", err)
	}
	pageKey, err := c.Store.ServerKey(ctx, SignInKeyName)
	if err != nil {
		return nil, fmt.Errorf("oauth: sign-in page key: %w", err)
	}
	clients := &StorageClients{Store: c.Store, tokens: c.Store}
	tokens := NewTokenStore(StoreConfig{Tokens: c.Store, Directory: c.Store, Clients: clients, Lifetimes: life, Now: c.Now,
		Verify: func(ctx context.Context, token string) (*AccessClaims, error) {
			return keys.VerifyAccessToken(ctx, token, VerifyOptions{Issuer: c.Issuer})
		}})
	cfg := &fosite.Config{
		AccessTokenLifespan:            life.Access,
		RefreshTokenLifespan:           life.Refresh,
		AuthorizeCodeLifespan:          life.Code,
		IDTokenLifespan:                life.Access,
		AccessTokenIssuer:              c.Issuer,
		IDTokenIssuer:                  c.Issuer,
		TokenURL:                       c.Issuer + "/oauth2/token",
		ScopeStrategy:                  PermissionScopeStrategy,
		AudienceMatchingStrategy:       fosite.DefaultAudienceMatchingStrategy,
		EnforcePKCE:                    false,
		EnforcePKCEForPublicClients:    true,
		EnablePKCEPlainChallengeMethod: false,
		GlobalSecret:                   hmacKey,
		ClientSecretsHasher:            SecretHasher{Key: secretKey},
		RefreshTokenScopes:             []string{"offline_access"},
		SendDebugMessagesToClients:     false,
		// Pushed authorization requests (RFC 9126, par.go): optional.
		PushedAuthorizeRequestURIPrefix: PARURIPrefix,
		PushedAuthorizeContextLifespan:  PARLifetime,
		IsPushedAuthorizeEnforced:       false,
	}
	strategy := &accessStrategy{
		HMACSHAStrategy: compose.NewOAuth2HMACStrategy(cfg),
		keys:            keys,
		issuer:          c.Issuer,
		lifetime:        life.Access,
	}
	strategy.DefaultStrategy = openid.DefaultStrategy{Signer: idTokenSigner{keys: keys}, Config: cfg}
	store := storageAll{clients, tokens, passwordAuth{c.SignIn}}
	prov := &Provider{Keys: keys, Tokens: tokens, Clients: clients, Issuer: c.Issuer, life: life, store: c.Store,
		signIn: c.SignIn, pageKey: pageKey, now: c.Now}
	prov.OAuth2 = compose.Compose(cfg, store, strategy,
		prov.idClaimsFactory, // before the code is stored: the code's session carries the claims
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2ClientCredentialsGrantFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		//lint:ignore SA1019 the password grant is offered only to clients flagged for it (SPEC §7)
		compose.OAuth2ResourceOwnerPasswordCredentialsFactory,
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2TokenRevocationFactory,
		compose.OAuth2PKCEFactory,
		compose.OpenIDConnectExplicitFactory,
		compose.OpenIDConnectRefreshFactory,
		compose.PushedAuthorizeHandlerFactory,
	)
	f, ok := prov.OAuth2.(*fosite.Fosite)
	if !ok {
		return nil, errors.New("oauth: fosite composed an unexpected provider")
	}
	cfg.ClientAuthenticationStrategy = func(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
		return f.DefaultClientAuthenticationStrategy(secretMethodContext(ctx, r, form), r, form)
	}
	return prov, nil
}

// newSession is the session a token request starts with; the grant fills
// it (client credentials: the client's owner; refresh: the stored one).
func newSession() *Session {
	return &Session{DefaultSession: *openid.NewDefaultSession()}
}

// fillOwner makes sess the session of user u of account a.
func fillOwner(sess *Session, a, u string) {
	sess.Account, sess.User = a, u
	sess.Subject = Subject(a, u)
	sess.Username = sess.Subject
	if sess.Claims != nil {
		sess.Claims.Subject = sess.Subject
	}
}

// ownerEnabled reports whether user u of account a exists and is enabled.
func (p *Provider) ownerEnabled(ctx context.Context, a, u string) (bool, error) {
	var ok bool
	err := p.store.Read(ctx, 0, func(v storage.View) error {
		user, found := v.User(a, u)
		ok = found && user.Enabled
		return nil
	})
	return ok, err
}

// grantClientCredentials completes a client credentials request fosite
// has validated: the client acts for its owning user (who must exist and
// be enabled), and a request without scope gets the client's scopes.
func (p *Provider) grantClientCredentials(ctx context.Context, ar fosite.AccessRequester) error {
	a, u, err := ownerOf(ar.GetClient())
	if err != nil {
		return fosite.ErrServerError.WithWrap(err)
	}
	enabled, err := p.ownerEnabled(ctx, a, u)
	if err != nil {
		return err
	}
	if !enabled {
		return fosite.ErrInvalidClient.WithHint("The client's owner is disabled or no longer exists.")
	}
	_, err = grantForOwner(ar, a, u)
	return err
}

// grantForOwner makes user a\u the session's subject and grants every
// requested scope and audience; a request without scope gets the
// client's permission scopes (never its protocol scopes). It returns the
// session.
func grantForOwner(ar fosite.AccessRequester, a, u string) (*Session, error) {
	sess, ok := ar.GetSession().(*Session)
	if !ok {
		return nil, fosite.ErrServerError.WithDebug("unexpected session type")
	}
	fillOwner(sess, a, u)
	if len(ar.GetRequestedScopes()) == 0 {
		var scopes fosite.Arguments
		for _, s := range ar.GetClient().GetScopes() {
			if !isProtocolScope(s) {
				scopes = append(scopes, s)
			}
		}
		ar.SetRequestedScopes(scopes)
	}
	for _, s := range ar.GetRequestedScopes() {
		ar.GrantScope(s)
	}
	for _, aud := range ar.GetRequestedAudience() {
		ar.GrantAudience(aud)
	}
	return sess, nil
}
