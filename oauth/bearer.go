package oauth

import (
	"context"
	"errors"
	"strings"

	"github.com/ory/fosite"

	"gatehouse/authn"
	"gatehouse/storage"
)

// BearerAuthenticator signs /auth/v2 requests in with gatehouse's JWT
// access tokens (Authorization: Bearer). It claims every bearer value
// but API keys (APIKeyPrefix), which go to the API key authenticator
// before it: a value that is not even shaped like a JWT (three
// dot-separated parts) is refused at once, saying it is neither a valid
// API key nor a valid access token (nothing was looked up, so it does
// not count against the throttle). A token is
// accepted when its signature, issuer and expiry verify with the key set
// and the token store still knows its jti (not revoked, not expired, its
// client not deleted) and its user exists and is enabled. The principal
// is the token's user with the token's scopes, so the authority cuts its
// power to the user's effective permissions ∩ the scopes. A refused
// token counts as a failed sign-in for the client address (throttle
// name "token@{address}").
type BearerAuthenticator struct {
	Provider *Provider
	Throttle *authn.Throttle // nil: no throttling
}

var _ authn.Authenticator = BearerAuthenticator{}

// notKeyNorToken is the refusal of a bearer value that signs no one in.
const notKeyNorToken = "the bearer value is neither a valid API key nor a valid access token"

// LooksLikeJWT reports whether a bearer token has the compact JWS shape.
func LooksLikeJWT(token string) bool {
	return strings.Count(token, ".") == 2 && !strings.HasPrefix(token, authn.APIKeyPrefix)
}

// Authenticate implements authn.Authenticator.
func (b BearerAuthenticator) Authenticate(ctx context.Context, cr authn.Credentials) (authn.Result, error) {
	if cr.Bearer == "" || strings.HasPrefix(cr.Bearer, authn.APIKeyPrefix) {
		return authn.Result{Status: authn.NotMine}, nil
	}
	if !LooksLikeJWT(cr.Bearer) {
		return authn.Result{Status: authn.Refused, Name: "token", Reason: notKeyNorToken}, nil
	}
	throttleName := "token@" + cr.Address
	if b.Throttle != nil {
		if ok, retry := b.Throttle.Allowed(throttleName, cr.Address); !ok {
			return authn.Result{Status: authn.Throttled, Name: throttleName, RetryAfter: retry, Reason: "too many failed sign-ins"}, nil
		}
	}
	refuse := func(name, reason string) (authn.Result, error) {
		if b.Throttle != nil {
			b.Throttle.Fail(throttleName, cr.Address)
		}
		return authn.Result{Status: authn.Refused, Name: name, Reason: reason}, nil
	}
	p := b.Provider
	c, err := p.Tokens.AccessToken(ctx, cr.Bearer)
	if errors.Is(err, fosite.ErrNotFound) {
		return refuse("token", notKeyNorToken+": the token is unknown, expired or revoked, or its user is disabled or gone")
	}
	if err != nil {
		return authn.Result{}, err
	}
	name := "client:" + c.ClientID
	if _, err := p.Clients.Client(ctx, c.ClientID); errors.Is(err, fosite.ErrNotFound) || errors.Is(err, storage.ErrNotFound) {
		return refuse(name, "the bearer token's client no longer exists")
	} else if err != nil {
		return authn.Result{}, err
	}
	user := c.Subject[len(c.Account)+1:]
	scopes := c.Scopes()
	if scopes == nil {
		scopes = []string{}
	}
	return authn.Result{Status: authn.Accepted, Name: name, Principal: authn.Principal{Account: c.Account, User: user,
		Method: authn.MethodOAuth, Scopes: scopes, ClientID: c.ClientID}}, nil
}
