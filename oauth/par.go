package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/ory/fosite"

	"gatehouse/api"
	"gatehouse/storage"
)

// Pushed authorization requests (RFC 9126): POST /oauth2/par takes an
// authorization request's parameters from an authenticated client and
// answers a request_uri, which the client then sends to
// /oauth2/authorize with its client_id. The pushed request is kept in
// the leased token store under kindPAR for PARLifetime and is taken
// (read and deleted in one etcd transaction) by its first use.

// PARLifetime is how long a request_uri stays good (RFC 9126 §2.2 asks
// for a short time; expires_in of the push's answer).
const PARLifetime = 90 * time.Second

// PARURIPrefix starts every request_uri gatehouse hands out (fosite's
// default; only request_uris with it are looked up).
const PARURIPrefix = "urn:ietf:params:oauth:request_uri:"

// kindPAR holds pushed authorization requests: tokenID(request_uri) →
// parRecord.
const kindPAR = "oauth-par"

// clientCredentialFields are the form fields of client authentication:
// they are never stored with a pushed request nor carried into the
// authorization request it becomes.
var clientCredentialFields = []string{"client_secret", "client_assertion", "client_assertion_type"}

// parRecord is a stored pushed request: the requester (record) plus the
// authorize request's own fields fosite merges into the request the
// request_uri stands for.
type parRecord struct {
	record
	RedirectURI   string   `json:"redirect_uri,omitempty"`
	ResponseTypes []string `json:"response_types,omitempty"`
	State         string   `json:"state,omitempty"`
	ResponseMode  string   `json:"response_mode,omitempty"`
}

// withoutCredentials is form without the client authentication fields.
func withoutCredentials(form url.Values) url.Values {
	out := make(url.Values, len(form))
	for k, v := range form {
		out[k] = v
	}
	for _, k := range clientCredentialFields {
		delete(out, k)
	}
	return out
}

// CreatePARSession implements fosite.PARStorage: the pushed request,
// without the client's credentials, is stored under requestURI until
// PARLifetime from now (the store's clock).
func (s *TokenStore) CreatePARSession(ctx context.Context, requestURI string, req fosite.AuthorizeRequester) error {
	now := s.now()
	rec, err := encodeRecord(req, now, now.Add(PARLifetime))
	if err != nil {
		return err
	}
	rec.Form = withoutCredentials(req.GetRequestForm())
	pr := parRecord{record: *rec, ResponseTypes: req.GetResponseTypes(), State: req.GetState(),
		ResponseMode: string(req.GetResponseMode())}
	if u := req.GetRedirectURI(); u != nil {
		pr.RedirectURI = u.String()
	}
	b, err := json.Marshal(pr)
	if err != nil {
		return err
	}
	return s.tokens.CreateToken(ctx, kindPAR, tokenID(requestURI), b, PARLifetime)
}

// GetPARSession implements fosite.PARStorage. It takes the pushed
// request (TakeToken: of two concurrent uses of one request_uri exactly
// one gets it), so a request_uri is good once; fosite.ErrNotFound if it
// is unknown, used or expired, or its client is gone.
func (s *TokenStore) GetPARSession(ctx context.Context, requestURI string) (fosite.AuthorizeRequester, error) {
	b, err := s.tokens.TakeToken(ctx, kindPAR, tokenID(requestURI))
	if err != nil {
		return nil, notFound(err)
	}
	var pr parRecord
	if err := json.Unmarshal(b, &pr); err != nil {
		return nil, fmt.Errorf("oauth: decoding pushed request: %w", err)
	}
	if !s.now().Before(pr.Expires) {
		return nil, fosite.ErrNotFound.WithDebug("the request_uri has expired")
	}
	req, err := s.requester(ctx, &pr.record, nil)
	if err != nil {
		return nil, err
	}
	ar := fosite.NewAuthorizeRequest()
	ar.Request = *req
	ar.ResponseTypes = fosite.Arguments(pr.ResponseTypes)
	ar.State = pr.State
	ar.ResponseMode = fosite.ResponseModeType(pr.ResponseMode)
	if pr.RedirectURI != "" {
		if ar.RedirectURI, err = url.Parse(pr.RedirectURI); err != nil {
			return nil, fmt.Errorf("oauth: decoding pushed request: %w", err)
		}
	}
	return ar, nil
}

// DeletePARSession implements fosite.PARStorage. GetPARSession has
// taken the record already; absent is success.
func (s *TokenStore) DeletePARSession(ctx context.Context, requestURI string) error {
	err := s.tokens.DeleteToken(ctx, kindPAR, tokenID(requestURI))
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalid) {
		return nil
	}
	return err
}

var _ fosite.PARStorage = (*TokenStore)(nil)

// par is POST /oauth2/par (RFC 9126): the client authenticates as at the
// token endpoint (its registered method; a public client sends its
// client_id), fosite validates the request like an authorization
// request, gatehouse adds its own checks (exact redirect URI, PKCE S256,
// PKCE for public clients, no request objects, no parameters in the
// URL query), and the request is stored under a new request_uri: 201
// {request_uri, expires_in}.
func (p *Provider) par(req *api.Request) error {
	limitBody(req)
	ctx := req.R.Context()
	var addr string
	if req.Server != nil {
		addr = req.Server.ClientAddr(req.R)
	}
	if p.parThrottled(req, addr) {
		return nil
	}
	if req.R.URL.RawQuery != "" {
		// RFC 9126 §2.1: the parameters are the form body; a query (where
		// a client secret would end up in logs) is refused, not merged.
		err := fosite.ErrInvalidRequest.WithHint("Send the parameters in the form body, not in the query.")
		req.Status = statusOf(err)
		p.OAuth2.WritePushedAuthorizeError(ctx, req.W, fosite.NewAuthorizeRequest(), err)
		return nil
	}
	ar, err := p.OAuth2.NewPushedAuthorizeRequest(ctx, req.R)
	if err != nil {
		p.clientAuthFailed(addr, err)
	}
	if err == nil {
		if ar.GetRequestForm().Get("request") != "" {
			err = fosite.ErrRequestNotSupported.WithHint("Request objects are not supported; push the parameters themselves.")
		} else if client, ok := ar.GetClient().(*Client); !ok {
			err = fosite.ErrServerError.WithDebug("unexpected client type")
		} else if err = checkAuthorizeParams(ar, client); errors.Is(err, errRedirectNotExact) {
			err = fosite.ErrInvalidRequest.WithHint(errRedirectNotExact.Error() + ".")
		}
	}
	var resp fosite.PushedAuthorizeResponder
	if err == nil {
		resp, err = p.OAuth2.NewPushedAuthorizeResponse(ctx, ar, newSession())
	}
	if err != nil {
		req.Status = statusOf(err)
		p.OAuth2.WritePushedAuthorizeError(ctx, req.W, ar, err)
		return nil
	}
	req.Status = http.StatusCreated
	p.OAuth2.WritePushedAuthorizeResponse(ctx, req.W, ar, resp)
	return nil
}

// parThrottled answers 429 (invalid_client, Retry-After) when the client
// address is throttled by failed client authentications (the token
// endpoint's throttle, shared).
func (p *Provider) parThrottled(req *api.Request, address string) bool {
	err, throttled := p.clientThrottled(req, address)
	if !throttled {
		return false
	}
	p.OAuth2.WritePushedAuthorizeError(req.R.Context(), req.W, fosite.NewAuthorizeRequest(), err)
	return true
}

// pushedRequest resolves the request_uri of the authorize request whose
// raw query is raw: fosite takes the pushed request (GetPARSession, so
// this is its one use) and checks the client_id matches. It returns the
// pushed parameters as a raw query (without request_uri and client
// credentials), which the sign-in page then carries from step to step
// as an ordinary authorize request.
func (p *Provider) pushedRequest(ctx context.Context, raw string) (fosite.AuthorizeRequester, string, error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, "", fosite.ErrInvalidRequest.WithHint("The request could not be read.")
	}
	if uri := q.Get("request_uri"); len(uri) <= len(PARURIPrefix) || uri[:len(PARURIPrefix)] != PARURIPrefix {
		return nil, "", fosite.ErrInvalidRequestURI.WithHint("The request_uri was not issued by this server's pushed authorization request endpoint.")
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, "/oauth2/authorize?"+raw, nil)
	if err != nil {
		return nil, "", fosite.ErrInvalidRequest.WithHint("The request could not be read.")
	}
	ar, err := p.OAuth2.NewAuthorizeRequest(ctx, r)
	if err != nil {
		return ar, "", err
	}
	form := withoutCredentials(ar.GetRequestForm())
	delete(form, "request_uri")
	return ar, form.Encode(), nil
}
