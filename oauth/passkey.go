package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gatehouse/api"
	"gatehouse/audit"
	"gatehouse/authn"
	"gatehouse/passkey"
	"gatehouse/storage"
)

// Passkeys on the sign-in page (issue 11 item 3). Two uses, the user's
// choice:
//
//   - Instead of the password: the password step shows "Sign in with a
//     passkey" (a discoverable credential, no user name typed). The page's
//     script (passkey.Script, served at /oauth2/passkey.js and allowed by
//     the page's CSP as 'self') posts the page's request, CSRF token and
//     ticket to POST /oauth2/authorize/passkey, which checks them like a
//     step's form and answers the request options (user verification
//     required), bound to the page's CSRF token; the browser's assertion
//     is posted back as the password step's form with method=passkey and
//     credential=<JSON>. A verified assertion by an existing, enabled
//     user is a full sign-in: the ticket records the user and the
//     second-factor step as done (the passkey is possession plus the
//     authenticator's user verification). It is throttled and audited
//     like a password: attempts are counted against "passkey@{address}"
//     and the address before the user is known, and the verified user's
//     own lockout still refuses it; a refusal is audited as a sign-in
//     failure, a success as a sign-in success (detail "passkey"), and
//     it records the last sign-in (PasswordFlow.OnVerified). A user whose
//     password has expired is told so, as on the password step.
//   - As a second factor: the passkey is a method of the second-factor
//     step (factorMethod "passkey", passkey.Step in the PasswordFlow);
//     the same options route, called with the ticket of the signed-in
//     user, answers options allowing that user's passkeys; the answer
//     goes to PasswordFlow.Continue like a TOTP code (throttled, counted,
//     audited by secondFactorStep).
//
// The options route answers 403 for a bad CSRF token or ticket, 429 when
// the address is throttled, 404 when the page has no passkeys (no relying
// party), and never creates anything but the ceremony's short-lived
// token.

// SetPasskeys installs the WebAuthn relying party (nil: none).
func (p *Provider) SetPasskeys(s *passkey.Service) { p.passkeys = s }

// passkeyRoutes are the page's passkey routes.
func (p *Provider) passkeyRoutes() []api.Route {
	return []api.Route{
		{Method: http.MethodPost, Path: "/oauth2/authorize/passkey", Public: true, Handler: p.passkeyOptions,
			Summary: "the sign-in page's passkey options (WebAuthn request options JSON), for the page's request, CSRF token and ticket"},
		{Method: http.MethodGet, Path: "/oauth2/passkey.js", Public: true, Handler: serveScript,
			Summary: "the sign-in page's passkey script"},
	}
}

func serveScript(req *api.Request) error {
	req.Status = http.StatusOK
	passkey.ServeScript(req.W, req.R)
	return nil
}

// passkeyThrottleName is the throttle name of passkey attempts from an
// address before a user is known (like API keys' "api-key@…"): a
// guessed assertion cannot lock anybody out, and an address that keeps
// failing is stopped.
func passkeyThrottleName(addr string) string { return "passkey@" + addr }

// passkeyOptions is POST /oauth2/authorize/passkey.
func (p *Provider) passkeyOptions(req *api.Request) error {
	limitBody(req)
	setPageHeaders(req.W.Header())
	if p.passkeys == nil || p.signIn == nil {
		return api.Problemf(http.StatusNotFound, "passkeys are not available on this server")
	}
	if err := req.R.ParseForm(); err != nil {
		return api.Problemf(http.StatusBadRequest, "the form could not be read")
	}
	form := req.R.PostForm
	raw := form.Get("request")
	nonce := p.browserNonce(req.W, req.R, false)
	if !p.checkCSRF(nonce, raw, form.Get("csrf")) {
		return api.Problemf(http.StatusForbidden, "the sign-in form has expired or was not sent from this site")
	}
	t, ok := p.openTicket(form.Get("ticket"), nonce, raw)
	if !ok {
		return api.Problemf(http.StatusForbidden, "the sign-in has expired")
	}
	addr := clientAddr(req)
	if ok, retry := p.signIn.Throttle.Allowed(passkeyThrottleName(addr), addr); !ok {
		req.W.Header().Set("Retry-After", strconv.Itoa(int((retry+time.Second-1)/time.Second)))
		return api.Problemf(http.StatusTooManyRequests, "too many failed sign-ins")
	}
	ctx := req.R.Context()
	var opts []byte
	var err error
	if t.User == "" {
		opts, err = p.passkeys.BeginLogin(ctx, "", "", form.Get("csrf"))
	} else {
		opts, err = p.passkeys.BeginLogin(ctx, t.Account, t.User, "")
	}
	if errors.Is(err, passkey.ErrRefused) || errors.Is(err, storage.ErrNotFound) {
		return api.Problemf(http.StatusBadRequest, "no passkey sign-in is possible for this sign-in")
	}
	if err != nil {
		return err
	}
	h := req.W.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(opts)))
	req.Status = http.StatusOK
	req.W.WriteHeader(http.StatusOK)
	_, _ = req.W.Write(opts)
	return nil
}

// passkeySignIn is the password step answered with a passkey instead of
// the password (form method=passkey).
func (st passwordStep) passkeySignIn(ctx context.Context, req *api.Request, s *signin, form url.Values, pg *page) (stepOutcome, error) {
	p := st.p
	if p.passkeys == nil {
		pg.Error = "Passkeys are not available here. Sign in with your password."
		return stepAgain, nil
	}
	addr := clientAddr(req)
	anon := passkeyThrottleName(addr)
	if ok, retry := p.signIn.Throttle.Allowed(anon, addr); !ok {
		throttled(req, "", authn.Result{Status: authn.Throttled, RetryAfter: retry}, pg)
		return stepAgain, nil
	}
	in, err := p.passkeys.FinishLogin(ctx, "", "", form.Get("csrf"), []byte(form.Get("credential")))
	if errors.Is(err, passkey.ErrRefused) {
		p.signIn.Throttle.Fail(anon, addr)
		auditSignIn(req, "", audit.Failure, "bad passkey")
		pg.Error = "The passkey was not accepted. Try again, or sign in with your password."
		return stepAgain, nil
	}
	if err != nil {
		return 0, err
	}
	name := Subject(in.Account, in.User)
	if ok, retry := p.signIn.Throttle.Allowed(name, addr); !ok {
		throttled(req, name, authn.Result{Status: authn.Throttled, RetryAfter: retry}, pg)
		return stepAgain, nil
	}
	rec, found, err := p.signIn.Users.LookupUser(ctx, in.Account, in.User)
	if err != nil {
		return 0, err
	}
	if !found || !rec.Enabled {
		p.signIn.Throttle.Fail(anon, addr)
		auditSignIn(req, name, audit.Failure, "bad passkey")
		pg.Error = "The passkey was not accepted. Try again, or sign in with your password."
		return stepAgain, nil
	}
	if rec.PasswordExpired && rec.PasswordHash != "" {
		auditSignIn(req, name, audit.Failure, "password expired")
		pg.Error = "Your password has expired. Change it, then sign in again."
		return stepAgain, nil
	}
	p.signIn.Throttle.Succeed(name)
	if p.signIn.OnVerified != nil {
		p.signIn.OnVerified(in.Account, in.User)
	}
	auditSignIn(req, name, audit.Success, "passkey")
	s.t.Account, s.t.User = in.Account, in.User
	// The passkey verified the user: no second factor is asked.
	s.t.Done = append(s.t.Done, secondFactorStepName)
	pg.Name = name
	return stepPassed, nil
}

// passkeyMethod is a passkey as a method of the second-factor step: the
// page's script fills the form's "credential" field with the assertion
// (passkey.Step checks it).
type passkeyMethod struct{}

func (passkeyMethod) method() string { return passkey.MethodName }
func (passkeyMethod) section(_ context.Context, _ *signin, sec *factorSection) error {
	sec.Title = "Passkey"
	return nil
}
func (passkeyMethod) answers(form url.Values) map[string]string {
	return map[string]string{passkey.AnswerField: strings.TrimSpace(form.Get("credential"))}
}
func (passkeyMethod) refused() string {
	return "The passkey was not accepted. Try again, or use another way below."
}
