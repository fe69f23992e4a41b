package oauth

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/ory/fosite"

	"gatehouse/api"
	"gatehouse/audit"
	"gatehouse/authn"
	"gatehouse/storage"
)

// The resource-owner password grant (RFC 6749 §4.3), only for clients
// flagged for it: the built-in admin-cli, and stored first-party clients
// with the grant type password. The user signs in through the same
// authn.PasswordFlow as HTTP Basic and the sign-in page.

// AdminCLIClientID is the id of the built-in first-party public client
// that may use the password grant (the Keycloak pattern for admin CLIs).
// It is never stored: StorageClients resolves it before looking in
// storage, and stored client ids (20 random characters) cannot be it.
const AdminCLIClientID = "admin-cli"

// adminCLI is the built-in client admin-cli: public, first-party, grant
// types password and refresh_token, scope `*` (a token's power is still
// the user's effective permissions ∩ its scopes) plus the protocol
// scopes the code-flow clients get.
func adminCLI() *Client {
	cl := &Client{FirstParty: true}
	cl.ID = AdminCLIClientID
	cl.Public = true
	cl.GrantTypes = []string{storage.GrantPassword, storage.GrantRefreshToken}
	cl.ResponseTypes = []string{"code"}
	cl.Scopes = []string{"*", offlineAccess, scopeOpenID, scopeEmail, scopeProfile}
	return cl
}

// passwordAttemptKey keys the passwordAttempt of a token request in its
// context.
type passwordAttemptKey struct{}

// passwordAttempt carries a token request's client address to the
// password grant's Authenticate and its outcome back to the endpoint
// (fosite's storage interface passes only name and password).
type passwordAttempt struct {
	address       string
	name          string // as typed; "" when no sign-in was attempted
	account, user string // the signed-in user
	res           authn.Result
}

// passwordAuth is the Authenticate half of fosite's
// ResourceOwnerPasswordCredentialsGrantStorage over the shared
// authn.PasswordFlow.
type passwordAuth struct{ flow *authn.PasswordFlow }

// grantFields are the token request's own form fields; every other field
// is an answer for the flow's further steps (e.g. "totp").
var grantFields = map[string]bool{"grant_type": true, "username": true, "password": true, "scope": true,
	"audience": true, "client_id": true, "client_secret": true, "client_assertion": true,
	"client_assertion_type": true, "refresh_token": true}

// errSignIn is what fosite turns into invalid_grant: whether the user
// exists, is disabled or typed a wrong password is not told apart.
var errSignIn = fosite.ErrNotFound.WithDebug("the credentials are not valid")

// Authenticate implements fosite's ResourceOwnerPasswordCredentialsGrantStorage:
// the flow signs name in (throttled per name and address, one argon2id
// run whether the user exists or not); the form's other fields are the
// answers of further steps. Any refusal is fosite.ErrNotFound
// (invalid_grant); the token endpoint turns a throttled one into 429.
func (pa passwordAuth) Authenticate(ctx context.Context, name, password string) (string, error) {
	if pa.flow == nil {
		return "", fosite.ErrServerError.WithHint("Sign-in is not configured.")
	}
	att, _ := ctx.Value(passwordAttemptKey{}).(*passwordAttempt)
	if att == nil {
		att = &passwordAttempt{}
	}
	answers := map[string]string{}
	if r, ok := ctx.Value(fosite.RequestContextKey).(*http.Request); ok {
		for k, v := range r.PostForm {
			if !grantFields[k] && len(v) > 0 {
				answers[k] = v[0]
			}
		}
	}
	res, err := pa.flow.SignIn(ctx, name, password, att.address, answers)
	att.name, att.res = name, res
	if err != nil {
		return "", err
	}
	if res.Status != authn.Accepted || res.Principal.PasswordExpired {
		return "", errSignIn
	}
	att.account, att.user = res.Principal.Account, res.Principal.User
	return Subject(att.account, att.user), nil
}

// grantPassword completes a password request fosite has validated: the
// signed-in user (still existing and enabled) is the session, and every
// requested scope is granted (a request without scope gets the client's
// permission scopes: for admin-cli `*`, the user's full power).
func (p *Provider) grantPassword(ctx context.Context, ar fosite.AccessRequester, att *passwordAttempt) error {
	if att.user == "" {
		return fosite.ErrServerError.WithDebug("no user signed in")
	}
	enabled, err := p.ownerEnabled(ctx, att.account, att.user)
	if err != nil {
		return err
	}
	if !enabled {
		return fosite.ErrInvalidGrant.WithHint("Unable to authenticate the provided username and password credentials.")
	}
	sess, err := grantForOwner(ar, att.account, att.user)
	if err != nil {
		return err
	}
	if ar.GetGrantedScopes().Has(scopeOpenID) {
		// The session carries the ID token claims, so a refresh of this
		// grant returns an id_token like one of the code grant.
		sess.Claims.AuthTime = time.Now().UTC()
		found, err := p.fillIDClaims(ctx, sess, ar.GetGrantedScopes())
		if err != nil {
			return err
		}
		if !found {
			return fosite.ErrInvalidGrant.WithHint("Unable to authenticate the provided username and password credentials.")
		}
	}
	return nil
}

// passwordRefusal is the answer to a refused password grant: a throttled
// attempt is 429 with Retry-After (invalid_grant), everything else stays
// fosite's invalid_grant. It audits the sign-in like the page does.
func passwordRefusal(req *api.Request, att *passwordAttempt, err error) error {
	if att.name == "" {
		return err
	}
	var unavailable *api.Problem
	if errors.As(err, &unavailable) && unavailable.Status == http.StatusServiceUnavailable {
		// A directory (LDAP) that could not be asked: not the client's
		// fault, and not a wrong password.
		auditSignIn(req, att.name, audit.Failure, "directory unavailable")
		return fosite.ErrTemporarilyUnavailable.WithHint("The user directory is unavailable. Try again later.").WithWrap(err)
	}
	switch {
	case att.res.Status == authn.Throttled:
		auditSignIn(req, att.name, audit.Denied, "throttled")
		secs := int((att.res.RetryAfter + time.Second - 1) / time.Second)
		req.W.Header().Set("Retry-After", strconv.Itoa(secs))
		return &fosite.RFC6749Error{ErrorField: fosite.ErrInvalidGrant.ErrorField,
			DescriptionField: fosite.ErrInvalidGrant.DescriptionField,
			HintField:        "Too many failed sign-ins. Try again in " + strconv.Itoa(secs) + " seconds.",
			CodeField:        http.StatusTooManyRequests}
	case att.res.Status == authn.Accepted && att.res.Principal.PasswordExpired:
		auditSignIn(req, att.name, audit.Failure, "password expired")
		return fosite.ErrInvalidGrant.WithHint("The password has expired. Change it, then sign in again.")
	case att.res.Status != authn.Accepted:
		auditSignIn(req, att.name, audit.Failure, "bad credentials")
	}
	return err
}
