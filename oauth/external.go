package oauth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"gatehouse/api"
	"gatehouse/storage"
)

// External sign-in steps (SAML now): a method outside the page signs the
// user in for a pending authorize request, and the run goes on from there
// exactly as after the password step (consent for clients not flagged
// first-party, then the code).
//
//  1. The password step shows a button per method ExternalMethods.Buttons
//     lists for the account (the one chosen in the page's single sign-on
//     form, or the authorize request's "account" parameter). A button is
//     its own form posted to /oauth2/authorize with the request, CSRF
//     token and ticket and external=<key>.
//  2. That POST passes the CSRF and ticket checks like any step, then
//     redirects (303) to the method's start URL with ?pending=<sealed>:
//     the request's raw query and the binding MAC(nonce, request),
//     MACed under the page key with an expiry (ticketLifetime). The
//     nonce itself never leaves the cookie.
//  3. The method (samlsignin) keeps the sealed pending request across
//     the IdP round trip and, once it has signed user a\u in, calls
//     CompleteExternal: a single-use leased record (kindExternal,
//     externalLifetime) holding the request, the binding and the user,
//     and the URL /oauth2/authorize?external=<id> for the browser.
//  4. GET /oauth2/authorize?external=<id> takes the record (of two uses
//     one wins), checks the binding against the browser's nonce cookie
//     (so a response replayed into another browser signs nobody in),
//     re-validates the request and goes on with the user signed in.

// ExternalButton is one external sign-in method the page offers.
type ExternalButton struct {
	Key   string // what the button posts as "external"
	Label string // the button's text
}

// ExternalMethods are the external sign-in methods (samlsignin).
type ExternalMethods interface {
	// Buttons lists the methods offered for account a ("" when the page
	// knows no account: none).
	Buttons(ctx context.Context, account string) ([]ExternalButton, error)
	// StartURL is the URL (an absolute path) the browser is sent to,
	// with ?pending=, to start the method of key; false for an unknown key.
	StartURL(ctx context.Context, key string) (string, bool)
}

// kindExternal holds the results of external sign-ins waiting for their
// browser: random id → externalRecord.
const kindExternal = "oauth-external"

// externalLifetime is how long an external sign-in's result waits for
// its browser (the redirect follows at once).
const externalLifetime = 2 * time.Minute

// pending is a sealed pending authorize request.
type pending struct {
	Request string `json:"r"`
	Binding string `json:"b"`
	Key     string `json:"k"`
	Expires int64  `json:"e"`
}

// externalRecord is what CompleteExternal stores.
type externalRecord struct {
	Request string `json:"r"`
	Binding string `json:"b"`
	Account string `json:"a"`
	User    string `json:"u"`
}

// SetExternal installs the external sign-in methods; call it before the
// provider serves.
func (p *Provider) SetExternal(m ExternalMethods) { p.external = m }

// externalMethods are p's external sign-in methods, nil if none.
func (p *Provider) externalMethods() ExternalMethods { return p.external }

// binding ties a pending request to the browser's nonce.
func (p *Provider) binding(nonce, request string) string { return p.mac("external", nonce, request) }

// sealPending seals the pending request of run s for method key.
func (p *Provider) sealPending(s *signin, key string) string {
	b, _ := json.Marshal(pending{Request: s.request, Binding: p.binding(s.nonce, s.request), Key: key,
		Expires: p.now().Add(ticketLifetime).Unix()})
	payload := b64.EncodeToString(b)
	return payload + "." + p.mac("pending", payload)
}

func (p *Provider) openPending(sealed string) (pending, bool) {
	payload, sum, ok := strings.Cut(sealed, ".")
	if !ok || len(p.pageKey) == 0 || !hmac.Equal([]byte(sum), []byte(p.mac("pending", payload))) {
		return pending{}, false
	}
	b, err := b64.DecodeString(payload)
	if err != nil {
		return pending{}, false
	}
	var pd pending
	if json.Unmarshal(b, &pd) != nil || p.now().Unix() > pd.Expires {
		return pending{}, false
	}
	return pd, true
}

// PendingKey checks a sealed pending request (its MAC and expiry) and
// returns the key of the method it was sealed for.
func (p *Provider) PendingKey(sealed string) (string, bool) {
	pd, ok := p.openPending(sealed)
	return pd.Key, ok
}

// ErrPendingExpired: the sealed pending request is not valid (any more).
var ErrPendingExpired = errors.New("oauth: the pending sign-in has expired or is not valid")

// CompleteExternal records that an external step signed user a\u in for
// the sealed pending request and returns where the browser goes next
// (/oauth2/authorize?external=…, single use, externalLifetime).
func (p *Provider) CompleteExternal(ctx context.Context, sealed, account, user string) (string, error) {
	pd, ok := p.openPending(sealed)
	if !ok {
		return "", ErrPendingExpired
	}
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	id := b64.EncodeToString(raw[:])
	b, _ := json.Marshal(externalRecord{Request: pd.Request, Binding: pd.Binding, Account: account, User: user})
	if err := p.store.CreateToken(ctx, kindExternal, id, b, externalLifetime); err != nil {
		return "", fmt.Errorf("oauth: external sign-in: %w", err)
	}
	return "/oauth2/authorize?external=" + id, nil
}

// ErrorPage shows the sign-in page's error page (with its security
// headers) for another package's sign-in endpoints.
func ErrorPage(req *api.Request, status int, msg string) error {
	setPageHeaders(req.W.Header())
	return renderError(req, status, msg)
}

// externalID is the id of a GET /oauth2/authorize?external=<id>: the only
// parameter, shaped like the ids CompleteExternal makes; "" otherwise.
func externalID(raw string) string {
	q, err := url.ParseQuery(raw)
	if err != nil || len(q) != 1 || len(q["external"]) != 1 || !validNonce(q.Get("external")) {
		return ""
	}
	return q.Get("external")
}

// resumeExternal is GET /oauth2/authorize?external=<id>: the run of the
// recorded request goes on with the externally signed-in user.
func (p *Provider) resumeExternal(req *api.Request, id string) error {
	ctx := req.R.Context()
	nonce := p.browserNonce(req.W, req.R, false)
	b, err := p.store.TakeToken(ctx, kindExternal, id)
	if errors.Is(err, storage.ErrNotFound) {
		return renderError(req, http.StatusForbidden, "The sign-in has expired or was already used. Go back to the application and start again.")
	}
	if err != nil {
		return err
	}
	var rec externalRecord
	if json.Unmarshal(b, &rec) != nil || rec.User == "" {
		return renderError(req, http.StatusForbidden, "The sign-in could not be read. Go back to the application and start again.")
	}
	if nonce == "" || !hmac.Equal([]byte(rec.Binding), []byte(p.binding(nonce, rec.Request))) {
		return renderError(req, http.StatusForbidden,
			"The sign-in was not started in this browser. Go back to the application and start again.")
	}
	ar, client, err := p.authorizeRequest(ctx, rec.Request)
	if err != nil {
		return p.authorizeError(req, ar, err)
	}
	s := &signin{ar: ar, client: client, request: rec.Request, nonce: nonce,
		t: ticket{Account: rec.Account, User: rec.User}}
	return p.proceed(req, s, page{})
}

// externalPost handles the page's external forms: a button (external=key)
// redirects to the method's start; the single sign-on form (sso-account)
// shows the step again with the account's buttons. It reports whether it
// answered.
func (p *Provider) externalPost(req *api.Request, s *signin, form url.Values, pg *page) (bool, error) {
	if key := form.Get("external"); key != "" {
		start, ok := "", false
		if m := p.externalMethods(); m != nil {
			start, ok = m.StartURL(req.R.Context(), key)
		}
		if !ok {
			return true, renderError(req, http.StatusBadRequest, "That sign-in method is not available.")
		}
		req.Status = http.StatusSeeOther
		http.Redirect(req.W, req.R, start+"?pending="+url.QueryEscape(p.sealPending(s, key)), http.StatusSeeOther)
		return true, nil
	}
	if form.Has("sso-account") {
		pg.Account = strings.TrimSpace(form.Get("sso-account"))
		pg.AccountChosen = true
	}
	return false, nil
}

// fillButtons adds the external methods of the page's account to pg.
func (p *Provider) fillButtons(ctx context.Context, s *signin, pg *page) error {
	m := p.externalMethods()
	if m == nil {
		return nil
	}
	pg.SSO = true
	if pg.Account == "" && !pg.AccountChosen {
		pg.Account = strings.TrimSpace(s.ar.GetRequestForm().Get("account"))
	}
	if pg.Account == "" || storage.ValidName(pg.Account) != nil {
		return nil
	}
	buttons, err := m.Buttons(ctx, pg.Account)
	if err != nil {
		return err
	}
	pg.Buttons = buttons
	return nil
}
