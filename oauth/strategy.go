package oauth

import (
	"context"
	"errors"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
)

// accessStrategy issues gatehouse's JWT access tokens (KeySet.IssueAccessToken)
// and leaves refresh tokens and codes to fosite's HMAC strategy. An access
// token's "signature" is the token itself: nothing is stored per access
// token, and the TokenStore reads one back by verifying it. ID tokens are fosite's OpenID
// Connect strategy over idTokenSigner (ES256 by the KeySet).
type accessStrategy struct {
	*oauth2.HMACSHAStrategy
	openid.DefaultStrategy
	keys     *KeySet
	issuer   string
	lifetime time.Duration
}

var (
	_ oauth2.CoreStrategy               = (*accessStrategy)(nil)
	_ openid.OpenIDConnectTokenStrategy = (*accessStrategy)(nil)
	_ jwt.Signer                        = (*accessStrategy)(nil)
)

// AccessTokenSignature is the token itself: access tokens are stateless,
// and the TokenStore reads one back by verifying it (see
// TokenStore.GetAccessTokenSession).
func (s *accessStrategy) AccessTokenSignature(_ context.Context, token string) string {
	return token
}

// GenerateAccessToken signs a JWT access token for the requester: the
// session's user as subject, the client, the granted scopes and audience.
func (s *accessStrategy) GenerateAccessToken(_ context.Context, r fosite.Requester) (string, string, error) {
	sess, ok := r.GetSession().(*Session)
	if !ok || sess.Account == "" || sess.User == "" {
		return "", "", fosite.ErrServerError.WithDebug("the request's session names no user")
	}
	lifetime := s.lifetime
	if exp := sess.GetExpiresAt(fosite.AccessToken); !exp.IsZero() {
		lifetime = time.Until(exp)
	}
	if lifetime <= 0 {
		lifetime = s.lifetime
	}
	var sid string // the sign-in session of a user's grant
	if !isClientCredentials(r) {
		sid = r.GetID()
	}
	tok, _, err := s.keys.IssueAccessToken(AccessTokenRequest{
		Issuer:   s.issuer,
		Account:  sess.Account,
		User:     sess.User,
		ClientID: r.GetClient().GetID(),
		Scopes:   r.GetGrantedScopes(),
		Audience: r.GetGrantedAudience(),
		Lifetime: lifetime,

		SessionID: sid,
	})
	if err != nil {
		return "", "", fosite.ErrServerError.WithWrap(err)
	}
	return tok, tok, nil
}

// isClientCredentials reports whether r is a client credentials grant.
func isClientCredentials(r fosite.Requester) bool {
	ar, ok := r.(fosite.AccessRequester)
	return ok && ar.GetGrantTypes().ExactOne(string(fosite.GrantTypeClientCredentials))
}

// ValidateAccessToken verifies the token's signature, issuer and expiry.
func (s *accessStrategy) ValidateAccessToken(ctx context.Context, _ fosite.Requester, token string) error {
	if _, err := s.keys.VerifyAccessToken(ctx, token, VerifyOptions{Issuer: s.issuer}); err != nil {
		if errors.Is(err, ErrInvalidToken) {
			return fosite.ErrTokenSignatureMismatch.WithWrap(err).WithDebug(err.Error())
		}
		return err
	}
	return nil
}
