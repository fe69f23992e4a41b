package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"

	"gatehouse/api"
	"gatehouse/audit"
	"gatehouse/authn"
)

// The authorization endpoint (GET and POST /oauth2/authorize): fosite
// validates the request, the sign-in page runs its steps, fosite issues
// the code. GET shows the first step; the page posts each step back with
// the request's raw query, the CSRF token and the ticket of the steps
// passed, and the POST rebuilds the fosite request from that query.

// stepOutcome is what submitting a step's form came to.
type stepOutcome int

const (
	stepPassed stepOutcome = iota // the step is done: go on
	stepAgain                     // show the step again (pg says why)
	stepDenied                    // the user refused: access_denied
)

// signin is one run of the page: the validated request and what the
// steps established so far.
type signin struct {
	ar      fosite.AuthorizeRequester
	client  *Client
	request string // the authorize request's raw query
	nonce   string // the browser's nonce cookie
	t       ticket
}

// pageStep is one step of the sign-in page. The steps run in order
// (pageSteps); a step is shown when it is not done and needed. A second
// factor that needs its own page, or an external provider, is one more
// pageStep between the password and the consent.
type pageStep interface {
	name() string
	needed(s *signin) bool
	// fill prepares the page showing the step.
	fill(s *signin, pg *page)
	// submit handles the step's posted form; with stepAgain it sets
	// pg's error and status.
	submit(ctx context.Context, req *api.Request, s *signin, form url.Values, pg *page) (stepOutcome, error)
}

// steps is the page's sequence: password, then consent.
func (p *Provider) steps() []pageStep {
	return []pageStep{passwordStep{p}, consentStep{}}
}

// next is the first step not done and needed, nil when all are.
func (p *Provider) next(s *signin) pageStep {
	for _, st := range p.steps() {
		if !slices.Contains(s.t.Done, st.name()) && st.needed(s) {
			return st
		}
	}
	return nil
}

// errRedirectNotExact refuses a redirect_uri fosite matched only by its
// loopback relaxation (any port for http://127.0.0.1 and [::1]):
// gatehouse matches redirect URIs exactly.
var errRedirectNotExact = errors.New("the redirect_uri is not one of the client's registered redirect URIs")

// authorizeRequest validates the authorize request whose raw query is
// raw: fosite's checks, then exact redirect URI matching and PKCE (S256
// only, required of public clients) before anybody signs in — fosite
// checks PKCE again when it issues the code.
//
// A request_uri (pushed authorization requests, par.go) is resolved by
// pushedRequest before, on the GET only; raw never holds one here, nor
// an OpenID Connect request object, which gatehouse does not take.
func (p *Provider) authorizeRequest(ctx context.Context, raw string) (fosite.AuthorizeRequester, *Client, error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, nil, fosite.ErrInvalidRequest.WithHint("The request could not be read.")
	}
	if q.Get("request_uri") != "" {
		return nil, nil, fosite.ErrInvalidRequestURI.WithHint("The request_uri cannot be used here.")
	}
	if q.Get("request") != "" {
		return nil, nil, fosite.ErrRequestNotSupported.WithHint("Request objects are not supported.")
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, "/oauth2/authorize?"+raw, nil)
	if err != nil {
		return nil, nil, fosite.ErrInvalidRequest.WithHint("The request could not be read.")
	}
	ar, err := p.OAuth2.NewAuthorizeRequest(ctx, r)
	if err != nil {
		return ar, nil, err
	}
	client, ok := ar.GetClient().(*Client)
	if !ok {
		return ar, nil, fosite.ErrServerError.WithDebug("unexpected client type")
	}
	return ar, client, checkAuthorizeParams(ar, client)
}

// checkAuthorizeParams is what gatehouse checks of an authorize (or
// pushed) request beyond fosite: the redirect URI exactly registered
// (errRedirectNotExact), PKCE S256 only, and PKCE for public clients.
func checkAuthorizeParams(ar fosite.AuthorizeRequester, client *Client) error {
	form := ar.GetRequestForm()
	if ru := form.Get("redirect_uri"); ru != "" && !slices.Contains(client.GetRedirectURIs(), ru) {
		return errRedirectNotExact
	}
	challenge, method := form.Get("code_challenge"), form.Get("code_challenge_method")
	if challenge != "" && method != "S256" {
		return fosite.ErrInvalidRequest.WithHint("The code_challenge_method must be S256; plain is not supported.")
	}
	if challenge == "" && client.IsPublic() {
		return fosite.ErrInvalidRequest.WithHint("Public clients must use PKCE with code_challenge_method S256.")
	}
	return nil
}

// authorizeError answers a request fosite refused: with a redirect to
// the client when the redirect URI is established, else with an error
// page (never redirecting to an unregistered URI).
func (p *Provider) authorizeError(req *api.Request, ar fosite.AuthorizeRequester, err error) error {
	if errors.Is(err, errRedirectNotExact) || ar == nil || !ar.IsRedirectURIValid() {
		msg := errRedirectNotExact.Error() + "."
		if !errors.Is(err, errRedirectNotExact) {
			msg = "The application's sign-in request is not valid"
			if e := fosite.ErrorToRFC6749Error(err); e != nil && e.HintField != "" {
				msg += ": " + e.HintField
			} else {
				msg += "."
			}
		}
		return renderError(req, http.StatusBadRequest, msg)
	}
	req.Status = http.StatusSeeOther
	p.OAuth2.WriteAuthorizeError(req.R.Context(), req.W, ar, err)
	return nil
}

// authorize is GET and POST /oauth2/authorize.
func (p *Provider) authorize(req *api.Request) error {
	limitBody(req)
	setPageHeaders(req.W.Header())
	ctx := req.R.Context()
	post := req.R.Method == http.MethodPost
	raw := req.R.URL.RawQuery
	var form url.Values
	if !post {
		if id := externalID(raw); id != "" {
			return p.resumeExternal(req, id)
		}
	}
	if post {
		if err := req.R.ParseForm(); err != nil {
			return renderError(req, http.StatusBadRequest, "The form could not be read.")
		}
		form = req.R.PostForm
		raw = form.Get("request")
	} else if req.R.URL.Query().Get("request_uri") != "" {
		// A pushed request: taken now (single use); the page carries its
		// parameters from here on as an ordinary request's query.
		par, resolved, err := p.pushedRequest(ctx, raw)
		if err != nil {
			return p.authorizeError(req, par, err)
		}
		raw = resolved
	}
	ar, client, err := p.authorizeRequest(ctx, raw)
	if err != nil {
		return p.authorizeError(req, ar, err)
	}
	if p.signIn == nil {
		return p.authorizeError(req, ar, fosite.ErrServerError.WithHint("Sign-in is not configured."))
	}
	s := &signin{ar: ar, client: client, request: raw, nonce: p.browserNonce(req.W, req.R, !post)}
	var pg page
	if post {
		if !p.checkCSRF(s.nonce, raw, form.Get("csrf")) {
			return renderError(req, http.StatusForbidden,
				"The sign-in form has expired or was not sent from this site. Go back to the application and start again.")
		}
		t, ok := p.openTicket(form.Get("ticket"), s.nonce, raw)
		if !ok {
			return renderError(req, http.StatusForbidden,
				"The sign-in has expired. Go back to the application and start again.")
		}
		s.t = t
		if answered, err := p.externalPost(req, s, form, &pg); answered {
			return err
		}
		// A form of a step already done or not current (a second tab, the
		// back button) shows the current step instead.
		if st := p.next(s); st != nil && form.Get("step") == st.name() {
			out, err := st.submit(ctx, req, s, form, &pg)
			if err != nil {
				return err
			}
			switch out {
			case stepAgain:
				return p.show(req, s, st, pg)
			case stepDenied:
				return p.authorizeError(req, ar, fosite.ErrAccessDenied.WithHint("The user refused the request."))
			}
			s.t.Done = append(s.t.Done, st.name())
			pg = page{}
		}
	}
	return p.proceed(req, s, pg)
}

// proceed shows the next step of run s, or issues the code when every
// step is done (after a step's form, or after an external sign-in).
func (p *Provider) proceed(req *api.Request, s *signin, pg page) error {
	if st := p.next(s); st != nil {
		return p.show(req, s, st, pg)
	}
	return p.issueCode(req, s)
}

// show renders step st of run s.
func (p *Provider) show(req *api.Request, s *signin, st pageStep, pg page) error {
	pg.Step = st.name()
	pg.ClientID = s.client.GetID()
	pg.Request = s.request
	pg.CSRF = p.csrfToken(s.nonce, s.request)
	pg.Ticket = p.sealTicket(s.t, s.nonce, s.request)
	st.fill(s, &pg)
	if st.name() == "password" {
		if err := p.fillButtons(req.R.Context(), s, &pg); err != nil {
			return err
		}
	}
	return render(req, pg)
}

// issueCode ends a run whose steps are all done: the signed-in user
// (still existing and enabled) is the session, every requested scope is
// granted (fosite has checked them against the client's; the token's
// power is still cut to the user's effective permissions at use), and
// fosite issues the code and redirects.
func (p *Provider) issueCode(req *api.Request, s *signin) error {
	ctx := req.R.Context()
	if s.t.User == "" {
		return p.authorizeError(req, s.ar, fosite.ErrServerError.WithDebug("no user signed in"))
	}
	enabled, err := p.ownerEnabled(ctx, s.t.Account, s.t.User)
	if err != nil {
		return err
	}
	if !enabled {
		return p.authorizeError(req, s.ar, fosite.ErrAccessDenied.WithHint("The user is disabled or no longer exists."))
	}
	for _, sc := range s.ar.GetRequestedScopes() {
		s.ar.GrantScope(sc)
	}
	for _, a := range s.ar.GetRequestedAudience() {
		s.ar.GrantAudience(a)
	}
	resp, err := p.OAuth2.NewAuthorizeResponse(ctx, s.ar, NewSession(s.t.Account, s.t.User))
	if err != nil {
		return p.authorizeError(req, s.ar, err)
	}
	req.Status = http.StatusSeeOther
	p.OAuth2.WriteAuthorizeResponse(ctx, req.W, s.ar, resp)
	return nil
}

// auditSignIn queues the sign-in entry of a page sign-in, as the API
// pipeline does for HTTP Basic.
func auditSignIn(req *api.Request, name, outcome, detail string) {
	srv := req.Server
	if srv == nil || srv.Audit == nil {
		return
	}
	srv.Audit.Record(audit.SignInEntry(audit.Request{Path: req.R.URL.Path, Address: srv.ClientAddr(req.R),
		Time: srv.Now().UnixNano()}, name, outcome, detail))
}

// passwordStep signs the user in with account\user and password through
// the shared authn.PasswordFlow (throttling, credential cache, further
// authn.Steps, last-login). The form's other fields are the flow's
// answers, so a further authn.Step reads its field from the page.
type passwordStep struct{ p *Provider }

func (passwordStep) name() string             { return "password" }
func (passwordStep) needed(s *signin) bool    { return s.t.User == "" }
func (passwordStep) fill(_ *signin, pg *page) { pg.Title = "Sign in" }

const badSignIn = "The user name or password is not correct."

func (st passwordStep) submit(ctx context.Context, req *api.Request, s *signin, form url.Values, pg *page) (stepOutcome, error) {
	name := strings.TrimSpace(form.Get("username"))
	pg.Name = name
	answers := map[string]string{}
	for k, v := range form {
		switch k {
		case "username", "password", "request", "csrf", "ticket", "step":
		default:
			answers[k] = v[0]
		}
	}
	var addr string
	if req.Server != nil {
		addr = req.Server.ClientAddr(req.R)
	}
	res, err := st.p.signIn.SignIn(ctx, name, form.Get("password"), addr, answers)
	if err != nil {
		return 0, err
	}
	switch res.Status {
	case authn.Accepted:
	case authn.Throttled:
		auditSignIn(req, name, audit.Denied, "throttled")
		secs := int((res.RetryAfter + time.Second - 1) / time.Second)
		pg.Error = "Too many failed sign-ins. Wait " + strconv.Itoa(secs) + " seconds and try again."
		pg.status = http.StatusTooManyRequests
		pg.header = http.Header{"Retry-After": {strconv.Itoa(secs)}}
		return stepAgain, nil
	default:
		auditSignIn(req, name, audit.Failure, "bad credentials")
		pg.Error = badSignIn
		return stepAgain, nil
	}
	if res.Principal.PasswordExpired {
		auditSignIn(req, name, audit.Failure, "password expired")
		pg.Error = "Your password has expired. Change it, then sign in again."
		return stepAgain, nil
	}
	if res.Verified {
		auditSignIn(req, name, audit.Success, "")
	}
	s.t.Account, s.t.User = res.Principal.Account, res.Principal.User
	return stepPassed, nil
}

// consentStep asks the user to allow the client the requested scopes;
// first-party clients skip it.
type consentStep struct{}

func (consentStep) name() string          { return "consent" }
func (consentStep) needed(s *signin) bool { return !s.client.FirstParty }
func (consentStep) fill(s *signin, pg *page) {
	pg.Title = "Allow access?"
	pg.Name = Subject(s.t.Account, s.t.User)
	pg.Scopes = s.ar.GetRequestedScopes()
}

func (consentStep) submit(_ context.Context, _ *api.Request, _ *signin, form url.Values, pg *page) (stepOutcome, error) {
	switch form.Get("consent") {
	case "allow":
		return stepPassed, nil
	case "deny":
		return stepDenied, nil
	}
	pg.Error = "Choose Allow or Deny."
	return stepAgain, nil
}
