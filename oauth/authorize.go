package oauth

import (
	"bytes"
	"context"
	"errors"
	"html/template"
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
	"gatehouse/passkey"
	"gatehouse/totp"
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
	// pending is the further steps the signed-in user has (read once per
	// request, pendingRead; the password step sets it from Begin).
	pending     []authn.PendingStep
	pendingRead bool
}

// pageStep is one step of the sign-in page. The steps run in order
// (pageSteps); a step is shown when it is not done and needed. A second
// factor that needs its own page, or an external provider, is one more
// pageStep between the password and the consent.
type pageStep interface {
	name() string
	needed(ctx context.Context, s *signin) (bool, error)
	// fill prepares the page showing the step.
	fill(ctx context.Context, s *signin, pg *page) error
	// submit handles the step's posted form; with stepAgain it sets
	// pg's error and status.
	submit(ctx context.Context, req *api.Request, s *signin, form url.Values, pg *page) (stepOutcome, error)
}

// steps is the page's sequence: password, the second factor (for a
// user who has one), then consent.
func (p *Provider) steps() []pageStep {
	return []pageStep{passwordStep{p}, secondFactorStep{p}, consentStep{}}
}

// next is the first step not done and needed, nil when all are.
func (p *Provider) next(ctx context.Context, s *signin) (pageStep, error) {
	for _, st := range p.steps() {
		if slices.Contains(s.t.Done, st.name()) {
			continue
		}
		need, err := st.needed(ctx, s)
		if err != nil {
			return nil, err
		}
		if need {
			return st, nil
		}
	}
	return nil, nil
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
		st, err := p.next(ctx, s)
		if err != nil {
			return err
		}
		if st != nil && form.Get("step") == st.name() {
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
	st, err := p.next(req.R.Context(), s)
	if err != nil {
		return err
	}
	if st != nil {
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
	if err := st.fill(req.R.Context(), s, &pg); err != nil {
		return err
	}
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
// the shared authn.PasswordFlow (throttling, credential cache,
// last-login): its Begin, so a user with further steps (a second factor)
// is not refused but recorded in the ticket as pending them, and the
// secondFactorStep asks for them next.
type passwordStep struct{ p *Provider }

const passwordStepName = "password"

func (passwordStep) name() string                                      { return passwordStepName }
func (passwordStep) needed(_ context.Context, s *signin) (bool, error) { return s.t.User == "", nil }
func (st passwordStep) fill(_ context.Context, _ *signin, pg *page) error {
	pg.Title = "Sign in"
	pg.Passkey = st.p.passkeys != nil
	return nil
}

const badSignIn = "The user name or password is not correct."

func (st passwordStep) submit(ctx context.Context, req *api.Request, s *signin, form url.Values, pg *page) (stepOutcome, error) {
	if form.Get("method") == passkey.MethodName {
		return st.passkeySignIn(ctx, req, s, form, pg) // passkey.go
	}
	name := strings.TrimSpace(form.Get("username"))
	pg.Name = name
	res, partial, err := st.p.signIn.Begin(ctx, name, form.Get("password"), clientAddr(req))
	if err != nil {
		return 0, err
	}
	if partial != nil {
		// The password is right; the user has further steps: the
		// ticket records the user, and the second-factor step is
		// needed until it is done. Nothing is audited yet: the sign-in
		// is not done.
		s.t.Account, s.t.User = partial.Account, partial.User
		s.pending, s.pendingRead = partial.Steps, true
		return stepPassed, nil
	}
	switch res.Status {
	case authn.Accepted:
	case authn.Throttled:
		throttled(req, name, res, pg)
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

// clientAddr is the request's client address (trusted proxies
// considered).
func clientAddr(req *api.Request) string {
	if req.Server != nil {
		return req.Server.ClientAddr(req.R)
	}
	return ""
}

// throttled audits a throttled attempt and makes pg the friendly 429
// with Retry-After.
func throttled(req *api.Request, name string, res authn.Result, pg *page) {
	auditSignIn(req, name, audit.Denied, "throttled")
	secs := int((res.RetryAfter + time.Second - 1) / time.Second)
	pg.Error = "Too many failed sign-ins. Wait " + strconv.Itoa(secs) + " seconds and try again."
	pg.status = http.StatusTooManyRequests
	pg.header = http.Header{"Retry-After": {strconv.Itoa(secs)}}
}

// consentStep asks the user to allow the client the requested scopes;
// first-party clients skip it.
type consentStep struct{}

func (consentStep) name() string { return "consent" }
func (consentStep) needed(_ context.Context, s *signin) (bool, error) {
	return !s.client.FirstParty, nil
}
func (consentStep) fill(_ context.Context, s *signin, pg *page) error {
	pg.Title = "Allow access?"
	pg.Name = Subject(s.t.Account, s.t.User)
	pg.Scopes = s.ar.GetRequestedScopes()
	return nil
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

// secondFactorStep asks a user whose password verified (or whom an
// external provider signed in) for the further steps the user has: the
// second factor (authn.PendingStep; totp.Step's "second factor").
//
// It is needed while the ticket records a signed-in user, the step is
// not in its Done list, and the flow says the user has further steps
// (PasswordFlow.Pending, read again on every request: a ticket never
// claims a second factor it did not pass, and a factor reset meanwhile
// is not asked for). The page shows one form per method the user has
// that the page knows (factorMethods), each posting step=second-factor
// and method=<name>; the answers go to PasswordFlow.Continue, so a
// wrong answer is a failed sign-in (throttled and counted against the
// user's name, audited) and the step is shown again with an error; a
// throttled user gets 429 with Retry-After like on the password step.
type secondFactorStep struct{ p *Provider }

const secondFactorStepName = "second-factor"

func (secondFactorStep) name() string { return secondFactorStepName }

// pendingSteps is the further steps of the ticket's user (read once per
// request).
func (st secondFactorStep) pendingSteps(ctx context.Context, s *signin) ([]authn.PendingStep, error) {
	if s.pendingRead || st.p.signIn == nil {
		return s.pending, nil
	}
	pending, err := st.p.signIn.Pending(ctx, s.t.Account, s.t.User)
	if err != nil {
		return nil, err
	}
	s.pending, s.pendingRead = pending, true
	return pending, nil
}

func (st secondFactorStep) needed(ctx context.Context, s *signin) (bool, error) {
	if s.t.User == "" {
		return false, nil
	}
	pending, err := st.pendingSteps(ctx, s)
	return len(pending) > 0, err
}

// methods is the page's methods the user has, in the flow's order.
func (st secondFactorStep) methods(ctx context.Context, s *signin) ([]factorMethod, error) {
	pending, err := st.pendingSteps(ctx, s)
	if err != nil {
		return nil, err
	}
	var out []factorMethod
	for _, ps := range pending {
		for _, name := range ps.Methods {
			for _, m := range st.p.factorMethods() {
				if m.method() == name && !slices.ContainsFunc(out, func(o factorMethod) bool { return o.method() == name }) {
					out = append(out, m)
				}
			}
		}
	}
	return out, nil
}

func (st secondFactorStep) fill(ctx context.Context, s *signin, pg *page) error {
	pg.Title = "Second factor"
	pg.Name = Subject(s.t.Account, s.t.User)
	methods, err := st.methods(ctx, s)
	if err != nil {
		return err
	}
	for _, m := range methods {
		sec := factorSection{Method: m.method()}
		if err := m.section(ctx, s, &sec); err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := pageTemplate.ExecuteTemplate(&buf, "factor-"+m.method(), sec); err != nil {
			return err
		}
		sec.Fields = template.HTML(buf.String()) // html/template's own output
		pg.Factors = append(pg.Factors, sec)
	}
	if len(pg.Factors) == 0 && pg.Error == "" {
		pg.Error = "Your account needs a second factor that this page cannot ask for. Ask your administrator."
	}
	return nil
}

func (st secondFactorStep) submit(ctx context.Context, req *api.Request, s *signin, form url.Values, pg *page) (stepOutcome, error) {
	methods, err := st.methods(ctx, s)
	if err != nil {
		return 0, err
	}
	name := form.Get("method")
	i := slices.IndexFunc(methods, func(m factorMethod) bool { return m.method() == name })
	if i < 0 {
		pg.Error = "Choose one of the ways below."
		return stepAgain, nil
	}
	m := methods[i]
	who := Subject(s.t.Account, s.t.User)
	res, err := st.p.signIn.Continue(ctx, authn.Partial{Name: who, Account: s.t.Account, User: s.t.User},
		clientAddr(req), name, m.answers(form))
	if err != nil {
		return 0, err
	}
	switch res.Status {
	case authn.Accepted:
	case authn.Throttled:
		throttled(req, who, res, pg)
		return stepAgain, nil
	default:
		auditSignIn(req, who, audit.Failure, "bad second factor")
		pg.Error = m.refused()
		return stepAgain, nil
	}
	if res.Principal.PasswordExpired {
		auditSignIn(req, who, audit.Failure, "password expired")
		pg.Error = "Your password has expired. Change it, then sign in again."
		return stepAgain, nil
	}
	auditSignIn(req, who, audit.Success, "")
	return stepPassed, nil
}

// factorMethod is one method of the second-factor step on the page (the
// seam for second factors): method is its authn method name
// (authn.MethodOf of its Step, the form's "method" value); its fields are
// the template "factor-<method>" (templates/factor-<method>.html),
// executed with the factorSection that section filled; answers takes the
// flow's answers (the Step's fields) from the posted form; refused is
// the error shown when the answer is wrong. A method is added by listing
// it in factorMethods and adding its template; its Step is in the
// PasswordFlow.
type factorMethod interface {
	method() string
	section(ctx context.Context, s *signin, sec *factorSection) error
	answers(form url.Values) map[string]string
	refused() string
}

// factorMethods is every method the page knows, in no particular order
// (the page shows them in the flow's).
func (p *Provider) factorMethods() []factorMethod {
	if p.passkeys != nil {
		return []factorMethod{totpMethod{}, passkeyMethod{}}
	}
	return []factorMethod{totpMethod{}}
}

// factorSection is one method's part of the second-factor step.
type factorSection struct {
	Method string        // the form's "method" value
	Title  string        // its heading
	Data   any           // the method's own data for its template
	Fields template.HTML // its template's output (fill)
}

// totpMethod is a TOTP code or a backup code, the field "totp"
// (totp.AnswerField; totp.Step checks it).
type totpMethod struct{}

func (totpMethod) method() string { return totp.MethodName }
func (totpMethod) section(_ context.Context, _ *signin, sec *factorSection) error {
	sec.Title = "Authenticator app"
	return nil
}
func (totpMethod) answers(form url.Values) map[string]string {
	return map[string]string{totp.AnswerField: strings.TrimSpace(form.Get(totp.AnswerField))}
}
func (totpMethod) refused() string {
	return "The code is not correct, or was already used. Enter the current code from your authenticator app, or an unused backup code."
}
