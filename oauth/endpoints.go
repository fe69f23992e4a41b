package oauth

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/ory/fosite"

	"gatehouse/api"
	"gatehouse/audit"
	"gatehouse/storage"
)

// IntrospectPermission lets a bearer of it introspect tokens (besides
// confidential clients, which may with their own credentials).
const IntrospectPermission = "auth:introspect:read"

// maxFormBytes bounds the form body of the token, introspection and
// revocation endpoints.
const maxFormBytes = 64 << 10

// Routes are the OAuth endpoints, all public (they authenticate clients
// themselves, as RFC 6749, 7662 and 7009 say; fosite writes their JSON
// answers and errors). A zero Provider gives the table for documentation.
func (p *Provider) Routes() []api.Route {
	return append([]api.Route{
		{Method: http.MethodGet, Path: "/oauth2/authorize", Public: true, Handler: p.authorize,
			Summary: "OAuth authorization endpoint (RFC 6749, PKCE S256): validates the request and shows the sign-in page"},
		{Method: http.MethodPost, Path: "/oauth2/authorize", Public: true, Handler: p.authorize,
			Summary: "the sign-in page's steps (password or passkey, second factor, consent), CSRF-checked; redirects to the client with a code"},
		{Method: http.MethodPost, Path: "/oauth2/token", Public: true, Handler: p.token,
			Summary: "OAuth token endpoint (RFC 6749): authorization_code, client_credentials, refresh_token, password (admin-cli and clients flagged for it); the client's registered method: client_secret_basic, client_secret_post or private_key_jwt (RFC 7523)"},
		{Method: http.MethodPost, Path: "/oauth2/par", Public: true, Handler: p.par,
			Summary: "pushed authorization requests (RFC 9126): an authenticated client pushes an authorization request and gets a request_uri (single use, 90 s) for /oauth2/authorize"},
		{Method: http.MethodPost, Path: "/oauth2/introspect", Public: true, Handler: p.introspect,
			Summary: "token introspection (RFC 7662), for confidential clients or a bearer holding `auth:introspect:read`"},
		{Method: http.MethodPost, Path: "/oauth2/revoke", Public: true, Handler: p.revoke,
			Summary: "token revocation (RFC 7009) by the client the token was issued to"},
		{Method: http.MethodGet, Path: "/oauth2/userinfo", Public: true, Handler: p.userinfo,
			Summary: "OpenID Connect userinfo: sub, account, email and name per scope, for a bearer access token with `openid`"},
		{Method: http.MethodPost, Path: "/oauth2/userinfo", Public: true, Handler: p.userinfo,
			Summary: "OpenID Connect userinfo (POST; the access token as bearer or form field)"},
		{Method: http.MethodGet, Path: "/oauth2/jwks", Public: true, Handler: p.jwks,
			Summary: "the JSON Web Key Set of the token signing keys"},
		{Method: http.MethodGet, Path: "/.well-known/openid-configuration", Public: true, Handler: p.discovery,
			Summary: "OpenID Connect discovery document"},
		{Method: http.MethodGet, Path: "/.well-known/oauth-authorization-server", Public: true, Handler: p.discovery,
			Summary: "OAuth authorization server metadata (RFC 8414)"},
	}, p.passkeyRoutes()...)
}

// statusOf is the HTTP status fosite writes for err.
func statusOf(err error) int {
	if e := fosite.ErrorToRFC6749Error(err); e != nil && e.CodeField != 0 {
		return e.CodeField
	}
	return http.StatusInternalServerError
}

func limitBody(req *api.Request) {
	req.R.Body = http.MaxBytesReader(req.W, req.R.Body, maxFormBytes)
}

// token is POST /oauth2/token.
func (p *Provider) token(req *api.Request) error {
	limitBody(req)
	w := req.W
	att := &passwordAttempt{}
	if req.Server != nil {
		att.address = req.Server.ClientAddr(req.R)
	}
	if p.tokenThrottled(req, att.address) {
		return nil
	}
	ctx := WithTokenRequest(context.WithValue(req.R.Context(), passwordAttemptKey{}, att))
	ar, err := p.OAuth2.NewAccessRequest(ctx, req.R, newSession())
	validated := err == nil
	if err != nil {
		p.clientAuthFailed(att.address, err)
		err = passwordRefusal(req, att, err)
	}
	if err == nil && ar.GetGrantTypes().ExactOne(string(fosite.GrantTypeClientCredentials)) {
		err = p.grantClientCredentials(ctx, ar)
	}
	if err == nil && ar.GetGrantTypes().ExactOne(string(fosite.GrantTypePassword)) {
		err = p.grantPassword(ctx, ar, att)
		if err == nil && att.res.Verified {
			auditSignIn(req, att.name, audit.Success, "")
		}
	}
	if err == nil && ar.GetGrantTypes().ExactOne(string(fosite.GrantTypeRefreshToken)) {
		err = p.refreshOwner(ctx, ar)
		if err == nil {
			err = p.refreshIDClaims(ctx, ar)
		}
	}
	var resp fosite.AccessResponder
	if err == nil {
		resp, err = p.OAuth2.NewAccessResponse(ctx, ar)
	}
	if err == nil {
		err = p.noteSession(ctx, req, ar, resp) // the sign-in session (sessions.go)
	}
	if err != nil {
		req.Status = statusOf(err)
		outcome := audit.Failure
		if req.Status == http.StatusTooManyRequests {
			outcome = audit.Denied
		}
		var audited fosite.AccessRequester
		if validated {
			audited = ar
		}
		p.auditToken(ctx, req, audited, outcome, errorCode(err))
		p.OAuth2.WriteAccessError(ctx, w, ar, err)
		return nil
	}
	p.auditToken(ctx, req, ar, audit.Success, grantDetail(ar))
	p.OAuth2.WriteAccessResponse(ctx, w, ar, resp)
	return nil
}

// revoke is POST /oauth2/revoke (RFC 7009): the client the token was
// issued to revokes it (and its family); an unknown token is success.
func (p *Provider) revoke(req *api.Request) error {
	limitBody(req)
	ctx := req.R.Context()
	err := p.OAuth2.NewRevocationRequest(ctx, req.R)
	if err != nil {
		req.Status = statusOf(err)
	}
	p.OAuth2.WriteRevocationResponse(ctx, req.W, err)
	return nil
}

func writeJSON(req *api.Request, v any, cache string) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	h := req.W.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", cache)
	_, _ = req.W.Write(b)
	return nil
}

// jwks is GET /oauth2/jwks: the published keys, public parts only.
func (p *Provider) jwks(req *api.Request) error {
	b, err := p.Keys.JWKS()
	if err != nil {
		return err
	}
	h := req.W.Header()
	h.Set("Content-Type", "application/jwk-set+json")
	h.Set("Cache-Control", "public, max-age=60")
	_, _ = req.W.Write(b)
	return nil
}

// Metadata is the discovery document (OpenID Connect Discovery 1.0, RFC
// 8414) of the endpoints mounted now.
type Metadata struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	PushedAuthorizationEndpoint       string   `json:"pushed_authorization_request_endpoint"`
	RequirePushedAuthorization        bool     `json:"require_pushed_authorization_requests"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgs      []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	IntrospectionAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	AccessTokenSigningAlgs            []string `json:"access_token_signing_alg_values_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
}

// Metadata returns the provider's discovery document.
func (p *Provider) Metadata() Metadata {
	auth := []string{"client_secret_basic", "client_secret_post", "private_key_jwt"}
	return Metadata{
		Issuer:                            p.Issuer,
		AuthorizationEndpoint:             p.Issuer + "/oauth2/authorize",
		TokenEndpoint:                     p.Issuer + "/oauth2/token",
		PushedAuthorizationEndpoint:       p.Issuer + "/oauth2/par",
		RequirePushedAuthorization:        false,
		IntrospectionEndpoint:             p.Issuer + "/oauth2/introspect",
		RevocationEndpoint:                p.Issuer + "/oauth2/revoke",
		UserinfoEndpoint:                  p.Issuer + "/oauth2/userinfo",
		JWKSURI:                           p.Issuer + "/oauth2/jwks",
		GrantTypesSupported:               []string{storage.GrantAuthorizationCode, storage.GrantClientCredentials, storage.GrantRefreshToken, storage.GrantPassword},
		ResponseTypesSupported:            []string{"code"},
		CodeChallengeMethodsSupported:     []string{"S256"},
		TokenEndpointAuthMethodsSupported: auth,
		TokenEndpointAuthSigningAlgs:      append([]string(nil), JWKSAlgs...),
		IntrospectionAuthMethodsSupported: append(auth[:len(auth):len(auth)], "bearer"),
		RevocationAuthMethodsSupported:    auth,
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  []string{AlgES256},
		AccessTokenSigningAlgs:            []string{AlgES256},
		ScopesSupported:                   []string{scopeOpenID, offlineAccess, scopeEmail, scopeProfile},
		ClaimsSupported: []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash",
			"account", "email", "name"},
	}
}

// discovery is GET /.well-known/openid-configuration and
// /.well-known/oauth-authorization-server.
func (p *Provider) discovery(req *api.Request) error {
	return writeJSON(req, p.Metadata(), "public, max-age=300")
}
