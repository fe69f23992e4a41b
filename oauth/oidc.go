package oauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/ory/fosite"
	"github.com/ory/fosite/token/jwt"

	"gatehouse/api"
	"gatehouse/storage"
)

// OpenID Connect: ID tokens signed by the KeySet (idTokenSigner), their
// claims from the user record (fillIDClaims), and the userinfo endpoint.

// The OpenID Connect scopes. openid asks for an ID token (and admits a
// token to userinfo); email and profile add the user's email and name.
const (
	scopeOpenID  = "openid"
	scopeEmail   = "email"
	scopeProfile = "profile"
)

// IDTokenType is the JOSE typ of ID tokens.
const IDTokenType = "JWT"

// idTokenSigner is fosite's jwt.Signer over the KeySet: ID tokens are
// signed ES256 by the current key with its kid in the header, so they
// verify against /oauth2/jwks like access tokens; tokens handed back
// (id_token_hint) verify against any published key.
type idTokenSigner struct{ keys *KeySet }

var _ jwt.Signer = idTokenSigner{}

// Generate signs claims with the current key; header's fields are kept
// except alg, kid and typ, which the signer sets.
func (s idTokenSigner) Generate(_ context.Context, claims jwt.MapClaims, header jwt.Mapper) (string, string, error) {
	kid, _, key := s.keys.Signer()
	opts := (&jose.SignerOptions{}).WithType(IDTokenType)
	if header != nil {
		for k, v := range header.ToMap() {
			switch k {
			case "alg", "kid", "typ":
			default:
				opts = opts.WithHeader(jose.HeaderKey(k), v)
			}
		}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, opts)
	if err != nil {
		return "", "", err
	}
	tok, err := josejwt.Signed(signer).Claims(map[string]any(claims)).Serialize()
	if err != nil {
		return "", "", err
	}
	sig, err := s.GetSignature(context.Background(), tok)
	return tok, sig, err
}

// Decode verifies token's signature by the published key its kid names
// (and its time claims, as fosite's parser does) and returns it.
func (s idTokenSigner) Decode(ctx context.Context, token string) (*jwt.Token, error) {
	if len(token) > MaxTokenLength {
		return nil, errors.New("oauth: token too long")
	}
	return jwt.ParseWithClaims(token, jwt.MapClaims{}, func(t *jwt.Token) (any, error) {
		if string(t.Method) != AlgES256 {
			return nil, errors.New("oauth: unexpected signing algorithm")
		}
		kid, _ := t.Header["kid"].(string)
		return s.keys.verificationKey(ctx, kid)
	})
}

// Validate verifies token and returns its signature.
func (s idTokenSigner) Validate(ctx context.Context, token string) (string, error) {
	if _, err := s.Decode(ctx, token); err != nil {
		return "", err
	}
	return s.GetSignature(ctx, token)
}

// Hash is SHA-256 (the hash of ES256).
func (idTokenSigner) Hash(_ context.Context, in []byte) ([]byte, error) {
	h := sha256.Sum256(in)
	return h[:], nil
}

// GetSignature is the token's third part.
func (idTokenSigner) GetSignature(_ context.Context, token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("oauth: a JWT has three parts")
	}
	return parts[2], nil
}

// GetSigningMethodLength is SHA-256's size.
func (idTokenSigner) GetSigningMethodLength(context.Context) int { return sha256.Size }

// idClaims are the user claims scopes grant: email under email, name
// under profile (empty values are left out).
func idClaims(u storage.User, scopes fosite.Arguments) map[string]any {
	c := map[string]any{}
	if scopes.Has(scopeEmail) && u.Email != "" {
		c["email"] = u.Email
	}
	if scopes.Has(scopeProfile) && u.FullName != "" {
		c["name"] = u.FullName
	}
	return c
}

// fillIDClaims sets the ID token claims of sess (user u of account a)
// from the user record: account always, email and name per scopes. It
// reports false when the user no longer exists.
func (p *Provider) fillIDClaims(ctx context.Context, sess *Session, scopes fosite.Arguments) (bool, error) {
	var (
		user  storage.User
		found bool
	)
	if err := p.store.Read(ctx, 0, func(v storage.View) error {
		user, found = v.User(sess.Account, sess.User)
		return nil
	}); err != nil {
		return false, err
	}
	if !found {
		return false, nil
	}
	c := sess.IDTokenClaims()
	c.Subject = Subject(sess.Account, sess.User)
	extra := idClaims(user, scopes)
	extra["account"] = sess.Account
	c.Extra = extra
	return true, nil
}

// idClaimsHandler fills the ID token claims of an authorize request
// granted openid when fosite issues its code; composed before the code
// handler, so the code's (and so the refresh tokens') session and the
// OpenID Connect session carry them.
type idClaimsHandler struct{ p *Provider }

var _ fosite.AuthorizeEndpointHandler = idClaimsHandler{}

// idClaimsFactory is the compose.Factory of idClaimsHandler.
func (p *Provider) idClaimsFactory(fosite.Configurator, any, any) any { return idClaimsHandler{p} }

// HandleAuthorizeEndpointRequest implements fosite.AuthorizeEndpointHandler.
func (h idClaimsHandler) HandleAuthorizeEndpointRequest(ctx context.Context, ar fosite.AuthorizeRequester, _ fosite.AuthorizeResponder) error {
	if !ar.GetGrantedScopes().Has(scopeOpenID) {
		return nil
	}
	sess, ok := ar.GetSession().(*Session)
	if !ok || sess.Account == "" || sess.User == "" {
		return fosite.ErrServerError.WithDebug("the request's session names no user")
	}
	found, err := h.p.fillIDClaims(ctx, sess, ar.GetGrantedScopes())
	if err != nil {
		return fosite.ErrServerError.WithWrap(err)
	}
	if !found {
		return fosite.ErrAccessDenied.WithHint("The user no longer exists.")
	}
	if c := sess.IDTokenClaims(); c.AuthTime.IsZero() {
		c.AuthTime = authTime()
	}
	return nil
}

// refreshIDClaims brings the ID token claims of a refresh request with
// the openid scope up to date with the user record, so the new ID token
// carries the user's current email and name.
func (p *Provider) refreshIDClaims(ctx context.Context, ar fosite.AccessRequester) error {
	if !ar.GetGrantedScopes().Has(scopeOpenID) {
		return nil
	}
	sess, ok := ar.GetSession().(*Session)
	if !ok || sess.Account == "" || sess.User == "" {
		return fosite.ErrServerError.WithDebug("the request's session names no user")
	}
	found, err := p.fillIDClaims(ctx, sess, ar.GetGrantedScopes())
	if err != nil {
		return err
	}
	if !found {
		return fosite.ErrInvalidGrant.WithHint("The user no longer exists.")
	}
	return nil
}

// userinfoError answers a refused userinfo request (RFC 6750 §3).
func userinfoError(req *api.Request, status int, code, desc string) error {
	req.Status = status
	h := req.W.Header()
	h.Set("WWW-Authenticate", `Bearer error="`+code+`", error_description="`+desc+`"`)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json")
	req.W.WriteHeader(status)
	_, _ = req.W.Write([]byte(`{"error":"` + code + `","error_description":"` + desc + `"}`))
	return nil
}

// userinfo is GET and POST /oauth2/userinfo (OpenID Connect Core §5.3):
// the bearer access token (Authorization header, or access_token in a
// posted form) must be valid, unrevoked and carry the openid scope; the
// answer is sub, account, and email and name as its scopes allow, from
// the user record now (a disabled or deleted user is refused).
func (p *Provider) userinfo(req *api.Request) error {
	limitBody(req)
	ctx := req.R.Context()
	token := fosite.AccessTokenFromRequest(req.R)
	if token == "" {
		return userinfoError(req, http.StatusUnauthorized, "invalid_request", "An access token is required.")
	}
	tu, ar, err := p.OAuth2.IntrospectToken(ctx, token, fosite.AccessToken, newSession())
	if err != nil || tu != fosite.AccessToken {
		return userinfoError(req, http.StatusUnauthorized, "invalid_token", "The access token is not valid.")
	}
	if !ar.GetGrantedScopes().Has(scopeOpenID) {
		return userinfoError(req, http.StatusForbidden, "insufficient_scope", "The access token lacks the openid scope.")
	}
	sess, ok := ar.GetSession().(*Session)
	if !ok || sess.Account == "" || sess.User == "" {
		return userinfoError(req, http.StatusUnauthorized, "invalid_token", "The access token is not valid.")
	}
	var (
		user  storage.User
		found bool
	)
	if err := p.store.Read(ctx, 0, func(v storage.View) error {
		user, found = v.User(sess.Account, sess.User)
		return nil
	}); err != nil {
		return err
	}
	if !found || !user.Enabled {
		return userinfoError(req, http.StatusUnauthorized, "invalid_token", "The token's user is disabled or no longer exists.")
	}
	out := idClaims(user, ar.GetGrantedScopes())
	out["sub"] = Subject(sess.Account, sess.User)
	out["account"] = sess.Account
	return writeJSON(req, out, "no-store")
}

// authTime is the auth_time of a sign-in finishing now. fosite stamps
// iat and exp of ID tokens with the wall clock (and refuses an auth_time
// ahead of it), so auth_time is the wall clock too.
func authTime() time.Time { return time.Now().UTC().Truncate(time.Second) }
