package oauth

import (
	"context"
	"errors"
	"time"

	"github.com/ory/fosite"

	"gatehouse/api"
	"gatehouse/storage"
)

// Sign-in sessions (SPEC §3a, §6): every authorization-code or password
// grant is a session of its user, stored by storage (Store.CreateSession,
// under the user, so deleting or disabling the user removes it in the
// same transaction). Its id is the grant's fosite request id, which names
// the token family: fosite gives a code exchange the authorize request's
// id and every refresh the id of the grant it refreshes (fosite v0.49.0,
// handler/oauth2 flow_authorize_code_token.go and flow_refresh.go
// SetID), so TokenStore.RevokeFamily(id) revokes the session's tokens.
// Client credentials make no session.
//
//   - The token endpoint calls noteSession after fosite has issued the
//     tokens and before they are written: a grant records the session
//     (client, created, last use, client address, user agent, expiry:
//     the refresh token's, or the access token's without one); a refresh
//     records its use and the family's new expiry, at most once per
//     sessionTouchEvery per session, so refreshing stays cheap (the
//     record's expiry then lags the family's by less than that). When
//     the record cannot be written (the user was disabled or deleted
//     meanwhile, or the session was revoked during a refresh) the answer
//     is invalid_grant, no token is handed out and the family is revoked.
//   - A refresh whose session is gone (revoked, the user disabled or
//     deleted) or expired is invalid_grant (refreshOwner, through
//     SessionAlive), before anything rotates.
//   - Times are the provider's clock (ProviderConfig.Now); fosite stamps
//     token expiries with the wall clock, so the session's expiry is the
//     time left on the wall clock added to the provider's now, and the
//     record's etcd lease lasts that long.

// sessionTouchEvery is how often a refresh writes its session's last use.
const sessionTouchEvery = time.Minute

// HasSession reports whether the tokens of r belong to a sign-in session:
// those of the authorization-code and password grants and of their
// refreshes. A client-credentials token has none (its family is never
// recorded), so SessionAlive must not be asked about it.
func HasSession(r fosite.Requester) bool {
	if r == nil {
		return false
	}
	if ar, ok := r.(fosite.AccessRequester); ok && len(ar.GetGrantTypes()) > 0 {
		return !ar.GetGrantTypes().ExactOne(string(fosite.GrantTypeClientCredentials))
	}
	return r.GetRequestForm().Get("grant_type") != string(fosite.GrantTypeClientCredentials)
}

// SessionAlive reports whether the sign-in session family of user user
// in account account exists and has not expired: false once it was
// revoked (DELETE of the session), its user disabled or deleted, or its
// family expired. It reads the cache, and on a miss once more at etcd's
// current revision, so a session another instance recorded a moment ago
// is alive here too.
func (p *Provider) SessionAlive(ctx context.Context, account, user, family string) (bool, error) {
	if account == "" || user == "" || storage.ValidName(family) != nil {
		return false, nil
	}
	_, ok, err := p.store.ReadSession(ctx, account, user, family, p.now())
	return ok, err
}

// RevokeSession revokes the token family of a session (its refresh
// tokens and the access tokens issued so far). The session's record is
// storage's to delete.
func (p *Provider) RevokeSession(ctx context.Context, family string) error {
	return p.Tokens.RevokeFamily(ctx, family)
}

// noteSession records the session of a successful token response ar,
// resp (see above); an error means the tokens must not be handed out.
func (p *Provider) noteSession(ctx context.Context, req *api.Request, ar fosite.AccessRequester, resp fosite.AccessResponder) error {
	gts := ar.GetGrantTypes()
	grant := gts.ExactOne(string(fosite.GrantTypeAuthorizationCode)) || gts.ExactOne(string(fosite.GrantTypePassword))
	refresh := gts.ExactOne(string(fosite.GrantTypeRefreshToken))
	if !grant && !refresh {
		return nil // client credentials: no session
	}
	sess, ok := ar.GetSession().(*Session)
	if !ok || sess.Account == "" || sess.User == "" {
		return fosite.ErrServerError.WithDebug("the request's session names no user")
	}
	now := p.now()
	ttl := p.sessionLeft(sess, resp)
	expires := now.Add(ttl).Unix()
	family := ar.GetID()
	var err error
	if grant {
		rec := storage.Session{Client: ar.GetClient().GetID(), Created: now.Unix(), LastUsed: now.Unix(),
			Expires: expires, UserAgent: req.R.UserAgent()}
		if req.Server != nil {
			rec.Address = req.Server.ClientAddr(req.R)
		}
		_, err = p.store.CreateSession(ctx, sess.Account, sess.User, family, rec, ttl)
	} else {
		err = p.touchSession(ctx, sess.Account, sess.User, family, now, expires, ttl)
	}
	if err == nil {
		return nil
	}
	// The tokens were stored but are not handed out: revoke them anyway.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = p.Tokens.RevokeFamily(rctx, family)
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalid) {
		return fosite.ErrInvalidGrant.WithHint("The sign-in session was revoked, or the user is disabled or no longer exists.")
	}
	return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
}

// touchSession records a refresh of session family: at most once per
// sessionTouchEvery. A session gone meanwhile is storage.ErrNotFound.
func (p *Provider) touchSession(ctx context.Context, a, u, family string, now time.Time, expires int64, ttl time.Duration) error {
	var rec storage.Session
	var found bool
	if err := p.store.Read(ctx, 0, func(v storage.View) error {
		rec, found = v.LiveSession(a, u, family, now)
		return nil
	}); err != nil {
		return err
	}
	if found && now.Sub(time.Unix(rec.LastUsed, 0)) < sessionTouchEvery {
		return nil
	}
	_, err := p.store.TouchSession(ctx, a, u, family, now.Unix(), expires, ttl)
	return err
}

// sessionLeft is how long the session of a token response lasts: until
// its refresh token expires, or its access token without one (fosite
// stamps both with the wall clock); the configured lifetime when the
// session names no expiry.
func (p *Provider) sessionLeft(sess *Session, resp fosite.AccessResponder) time.Duration {
	exp, life := sess.GetExpiresAt(fosite.AccessToken), p.life.Access
	if rt, _ := resp.GetExtra("refresh_token").(string); rt != "" {
		exp, life = sess.GetExpiresAt(fosite.RefreshToken), p.life.Refresh
	}
	if exp.IsZero() {
		return life
	}
	return time.Until(exp)
}
