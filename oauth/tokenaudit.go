package oauth

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"

	"gatehouse/api"
	"gatehouse/audit"
	"gatehouse/authn"
	"gatehouse/storage"
)

// The token endpoint's audit entries and throttling (SPEC §3a): every
// answer of /oauth2/token records one entry with action "token" through
// the server's bounded audit queue, and a failed client authentication
// counts as a failure of the client address in the shared authn.Throttle
// (throttle name "client@{address}", like "api-key@{address}").

// presentedClientID matches a client id worth recording as an actor: a
// stored id (20 base64url characters) or a built-in one. Anything else a
// caller typed (possibly a secret in the wrong field) is never stored.
var presentedClientID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// throttle is the shared authn.Throttle (the password flow's), nil when
// the provider has none.
func (p *Provider) throttle() *authn.Throttle {
	if p.signIn == nil {
		return nil
	}
	return p.signIn.Throttle
}

// clientThrottleName is the throttle name of client authentication
// failures from address.
func clientThrottleName(address string) string { return "client@" + address }

// clientThrottled reports whether the client address is throttled by
// failed client authentications; if so it sets Retry-After and the 429
// status and returns the invalid_client error to write.
func (p *Provider) clientThrottled(req *api.Request, address string) (*fosite.RFC6749Error, bool) {
	t := p.throttle()
	if t == nil {
		return nil, false
	}
	ok, retry := t.Allowed(clientThrottleName(address), address)
	if ok {
		return nil, false
	}
	secs := int((retry + time.Second - 1) / time.Second)
	req.W.Header().Set("Retry-After", strconv.Itoa(secs))
	req.Status = http.StatusTooManyRequests
	return &fosite.RFC6749Error{ErrorField: fosite.ErrInvalidClient.ErrorField,
		DescriptionField: fosite.ErrInvalidClient.DescriptionField,
		HintField:        "Too many failed attempts from this address. Try again in " + strconv.Itoa(secs) + " seconds.",
		CodeField:        http.StatusTooManyRequests}, true
}

// tokenThrottled answers a token request from a throttled address: 429
// with Retry-After, before anything else is done. It reports whether it
// answered.
func (p *Provider) tokenThrottled(req *api.Request, address string) bool {
	err, throttled := p.clientThrottled(req, address)
	if !throttled {
		return false
	}
	p.auditToken(req.R.Context(), req, nil, audit.Denied, "throttled")
	p.OAuth2.WriteAccessError(req.R.Context(), req.W, nil, err)
	return true
}

// clientAuthFailed counts a failed client authentication (invalid_client
// from fosite's request validation) against the client address.
func (p *Provider) clientAuthFailed(address string, err error) {
	t := p.throttle()
	if t == nil || address == "" {
		return
	}
	if e := fosite.ErrorToRFC6749Error(err); e != nil && e.ErrorField == fosite.ErrInvalidClient.ErrorField {
		t.Fail(clientThrottleName(address), address)
	}
}

// presentedClient is the client id a token request presents (Basic user
// name or the client_id field), "" when none or not shaped like one.
func presentedClient(r *http.Request) string {
	id := ""
	if u, _, ok := r.BasicAuth(); ok {
		if dec, err := url.QueryUnescape(u); err == nil {
			id = dec
		}
	} else if r.PostForm != nil {
		id = r.PostForm.Get("client_id")
	}
	if !presentedClientID.MatchString(id) {
		return ""
	}
	return id
}

// clientHref is a stored client's href on /auth/v2.
func clientHref(a, u, id string) string {
	return "/auth/v2/accounts/" + url.PathEscape(a) + "/users/" + url.PathEscape(u) + "/clients/" + url.PathEscape(id)
}

// auditToken queues the token entry of one answer. ar is the validated
// request (nil when validation failed); the client is ar's, else the one
// presented. A stored client gives the target (its href) and, when ar
// has no session owner, the account (its owner's).
func (p *Provider) auditToken(ctx context.Context, req *api.Request, ar fosite.AccessRequester, outcome, detail string) {
	srv := req.Server
	if srv == nil || srv.Audit == nil {
		return
	}
	if c, ok := srv.Audit.(tokenCounter); ok {
		c.CountToken(requestedGrant(req.R, ar), tokenOutcome(outcome))
	}
	address := srv.ClientAddr(req.R)
	e := storage.AuditEntry{Time: srv.Now().UnixNano(), Action: audit.ActionToken, Target: req.R.URL.Path,
		Address: address, Outcome: outcome, Detail: detail}
	var client fosite.Client
	if ar != nil && ar.GetClient() != nil {
		client = ar.GetClient()
	} else if id := presentedClient(req.R); id != "" {
		e.Actor = "client:" + id
		if c, err := p.Clients.GetClient(ctx, id); err == nil {
			client = c
		}
	}
	if client != nil {
		e.Actor = "client:" + client.GetID()
		if cl, ok := client.(*Client); ok && cl.Account != "" && cl.Owner != "" {
			e.Account = cl.Account
			e.Target = clientHref(cl.Account, cl.Owner, cl.GetID())
		}
	}
	if ar != nil {
		if sess, ok := ar.GetSession().(*Session); ok && sess.Account != "" {
			e.Account = sess.Account
		}
	}
	if e.Actor == "" {
		e.Actor = address
	}
	srv.Audit.Record(e)
}

// tokenCounter is implemented by an audit recorder that also counts the
// token endpoint's answers for the metrics (metrics.Recorder, which
// instance puts in front of the audit queue); its grant label keeps only
// known grant types.
type tokenCounter interface {
	CountToken(grant, outcome string)
}

// requestedGrant is the grant type of a token request: ar's when it was
// validated, else the form's (maybe unknown or empty).
func requestedGrant(r *http.Request, ar fosite.AccessRequester) string {
	if ar != nil {
		if g := ar.GetGrantTypes(); len(g) > 0 {
			return g[0]
		}
	}
	if r.PostForm != nil {
		return r.PostForm.Get("grant_type")
	}
	return ""
}

// tokenOutcome is an answer's outcome label: issued, throttled (a 429,
// audited as denied) or refused.
func tokenOutcome(outcome string) string {
	switch outcome {
	case audit.Success:
		return "issued"
	case audit.Denied:
		return "throttled"
	}
	return "refused"
}

// grantDetail is a successful answer's audit detail: the grant type and
// the granted scopes (never a token or secret).
func grantDetail(ar fosite.AccessRequester) string {
	d := "grant_type=" + strings.Join(ar.GetGrantTypes(), " ")
	if s := ar.GetGrantedScopes(); len(s) > 0 {
		d += "; scope=" + strings.Join(s, " ")
	}
	return d
}

// errorCode is the OAuth error code fosite answers for err.
func errorCode(err error) string {
	if e := fosite.ErrorToRFC6749Error(err); e != nil && e.ErrorField != "" {
		return e.ErrorField
	}
	return fosite.ErrServerError.ErrorField
}

// refreshOwner refuses a refresh whose user is disabled or no longer
// exists, or whose sign-in session is gone (revoked, the user disabled or
// deleted since) or expired: invalid_grant before anything is rotated or
// issued.
func (p *Provider) refreshOwner(ctx context.Context, ar fosite.AccessRequester) error {
	sess, ok := ar.GetSession().(*Session)
	if !ok || sess.Account == "" || sess.User == "" {
		return fosite.ErrServerError.WithDebug("the request's session names no user")
	}
	enabled, err := p.ownerEnabled(ctx, sess.Account, sess.User)
	if err != nil {
		return err
	}
	if !enabled {
		return fosite.ErrInvalidGrant.WithHint("The user is disabled or no longer exists.")
	}
	alive, err := p.SessionAlive(ctx, sess.Account, sess.User, ar.GetID())
	if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	if !alive {
		return fosite.ErrInvalidGrant.WithHint("The sign-in session was revoked or has expired.")
	}
	return nil
}
