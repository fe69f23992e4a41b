package oauth

import (
	"errors"
	"strings"

	"github.com/ory/fosite"

	"gatehouse/api"
	"gatehouse/authn"
	"gatehouse/authz"
	"gatehouse/storage"
)

// introspect is POST /oauth2/introspect (RFC 7662). The caller is a
// confidential client (its own credentials, basic or post) or a bearer
// (access token or API key) holding auth:introspect:read; fosite then
// introspects the token: access tokens by signature and jti (revoked,
// expired or of a deleted client: inactive), refresh tokens by HMAC.
func (p *Provider) introspect(req *api.Request) error {
	limitBody(req)
	ctx := req.R.Context()
	w, r := req.W, req.R
	fail := func(err error) error {
		req.Status = statusOf(err)
		p.OAuth2.WriteIntrospectionError(ctx, w, err)
		return nil
	}
	if err := r.ParseForm(); err != nil {
		return fail(fosite.ErrInvalidRequest.WithHint("The body is not a form.").WithWrap(err))
	}
	if err := p.introspectionCaller(req); err != nil {
		return fail(err)
	}
	token := r.PostForm.Get("token")
	if token == "" {
		return fail(fosite.ErrInvalidRequest.WithHint("The token parameter is missing."))
	}
	var scopes []string
	if s := r.PostForm.Get("scope"); s != "" {
		scopes = strings.Fields(s)
	}
	tu, ar, err := p.OAuth2.IntrospectToken(ctx, token, fosite.TokenUse(r.PostForm.Get("token_type_hint")), newSession(), scopes...)
	if err != nil {
		p.OAuth2.WriteIntrospectionResponse(ctx, w, &fosite.IntrospectionResponse{Active: false})
		return nil
	}
	res := &fosite.IntrospectionResponse{Active: true, AccessRequester: ar, TokenUse: tu}
	if tu == fosite.AccessToken {
		res.AccessTokenType = fosite.BearerAccessToken
	}
	p.OAuth2.WriteIntrospectionResponse(ctx, w, res)
	return nil
}

// introspectionCaller authorises the introspection caller.
func (p *Provider) introspectionCaller(req *api.Request) error {
	r := req.R
	ctx := r.Context()
	s := req.Server
	cr := s.Credentials(r)
	if cr.Bearer != "" || cr.APIKey != "" {
		cr.Basic = false
		res, err := s.Authenticator.Authenticate(ctx, cr)
		if err != nil {
			return err
		}
		if res.Status != authn.Accepted {
			return fosite.ErrRequestUnauthorized.WithHint("The bearer credentials are not valid.")
		}
		var d authz.Decision
		if err := s.Store.Read(ctx, 0, func(v storage.View) error {
			d = s.Authority.Decide(v, res.Principal, IntrospectPermission, "")
			return nil
		}); err != nil {
			return err
		}
		if d.Denial != authz.Granted {
			return fosite.ErrRequestUnauthorized.WithHintf("The bearer does not hold %s.", IntrospectPermission)
		}
		return nil
	}
	f, ok := p.OAuth2.(*fosite.Fosite)
	if !ok {
		return errors.New("oauth: the provider is not fosite's")
	}
	client, err := f.AuthenticateClient(ctx, r, r.PostForm)
	if err != nil {
		return fosite.ErrRequestUnauthorized.WithHint("The client credentials are not valid.").WithWrap(err)
	}
	if client.IsPublic() {
		return fosite.ErrRequestUnauthorized.WithHint("Public clients may not introspect tokens.")
	}
	return nil
}
