package selfservice

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"gatehouse/api"
	"gatehouse/authn"
	"gatehouse/htmlpage"
	"gatehouse/passkey"
	"gatehouse/storage"
)

// Pages serves the self-service pages.
type Pages struct {
	Store *storage.Store
	Now   func() time.Time // nil: time.Now
	// Passkeys is the WebAuthn relying party (nil: the passkey page
	// lists passkeys but cannot add one).
	Passkeys *passkey.Service
}

// Routes are the pages' routes for the API registry (see doc.go). A
// zero Pages lists them for documentation.
func (p *Pages) Routes() []api.Route {
	return append([]api.Route{
		{Method: http.MethodGet, Path: totpPath, Permission: "auth:me:totp:read", Handler: p.getTOTP,
			Summary: "self-service page (HTML): one's own TOTP state, and the form that starts an enrolment"},
		{Method: http.MethodPost, Path: totpPath, Permission: "auth:me:totp:create", Handler: p.startTOTP, FormCSRF: true,
			Summary: "self-service page (HTML form, CSRF-checked): start a TOTP enrolment; the answer alone shows the secret, otpauth:// URI and QR code"},
		{Method: http.MethodPost, Path: totpConfirmPath, Permission: "auth:me:totp:update", Handler: p.confirmTOTP, FormCSRF: true,
			Summary: "self-service page (HTML form, CSRF-checked): confirm the pending TOTP enrolment with a code"},
	}, p.passkeyRoutes()...)
}

func (p *Pages) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

//go:embed templates
var files embed.FS

var (
	style = htmlpage.MustRead(files, "templates/style.css")
	// csp allows the inline style sheet (by its hash), data: images,
	// forms posting to this origin, and nothing else.
	csp = "default-src 'none'; style-src '" + htmlpage.SourceHash(style) + "'; img-src data:; form-action 'self'; " +
		"base-uri 'none'; frame-ancestors 'none'"
	// scriptCSP is csp for a page with a script (the passkey page):
	// scripts and their requests from this origin only.
	scriptCSP = csp + "; script-src 'self'; connect-src 'self'"
	base      = template.Must(template.ParseFS(files, "templates/base.html"))
)

// newPage is the page template of file (templates/<file>): base.html
// with the file's "content".
func newPage(file string) *template.Template {
	return template.Must(template.Must(base.Clone()).ParseFS(files, "templates/"+file))
}

// frame is what base.html shows around a page's content.
type frame struct {
	Title     string
	Principal string // account\user signed in
	Style     template.CSS
	Content   any    // the page's own data (its template's "." is the frame; .Content its data)
	Script    string // the path of the page's script, "" for none (renderScript)
}

// render writes the page t with status.
func (p *Pages) render(req *api.Request, t *template.Template, status int, title string, content any) error {
	return p.renderScript(req, t, status, title, content, "")
}

// renderScript is render for a page that loads the script at path
// script (from this origin; the CSP allows it and its requests).
func (p *Pages) renderScript(req *api.Request, t *template.Template, status int, title string, content any, script string) error {
	var buf bytes.Buffer
	if err := t.Execute(&buf, frame{Title: title, Principal: req.Principal.Name(), Style: template.CSS(style),
		Content: content, Script: script}); err != nil {
		return err
	}
	h := req.W.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	if script != "" {
		htmlpage.SetHeaders(h, scriptCSP, "no-referrer")
	} else {
		htmlpage.SetHeaders(h, csp, "no-referrer")
	}
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	req.Status = status
	req.W.WriteHeader(status)
	if req.R.Method != http.MethodHead {
		_, _ = req.W.Write(buf.Bytes())
	}
	return nil
}

// CSRFKeyName is the server key (Store.ServerKey) the forms' CSRF tokens
// are MACed under.
const CSRFKeyName = "selfservice-csrf"

// CSRFLifetime is how long a form stays good.
const CSRFLifetime = time.Hour

// maxFormBytes bounds a posted form.
const maxFormBytes = 16 << 10

// form is the hidden fields every form of a page carries.
type form struct {
	Nonce, CSRF string
}

// detached runs fn on a context with ctx's cancellation but none of its
// values: a server key created on first use is not the request's write
// (its audit entry and checks).
func detached(ctx context.Context, fn func(ctx context.Context) error) error {
	dctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	return fn(dctx)
}

func (p *Pages) csrfKey(ctx context.Context) ([]byte, error) {
	var key []byte
	err := detached(ctx, func(dctx context.Context) error {
		var err error
		key, err = p.Store.ServerKey(dctx, CSRFKeyName)
		return err
	})
	return key, err
}

// token is the CSRF token of page's form for principal pr and nonce.
func token(key []byte, page string, pr authn.Principal, nonce string) string {
	m := hmac.New(sha256.New, key)
	for _, part := range []string{"selfservice-csrf", page, pr.Name(), pr.Actor(), nonce} {
		m.Write([]byte(part))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// form draws a nonce for a form of page shown to the request's principal.
func (p *Pages) form(req *api.Request, page string) (form, error) {
	key, err := p.csrfKey(req.R.Context())
	if err != nil {
		return form{}, err
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return form{}, err
	}
	nonce := base64.RawURLEncoding.EncodeToString(b[:]) + "." + strconv.FormatInt(p.now().Unix(), 10)
	return form{Nonce: nonce, CSRF: token(key, page, req.Principal, nonce)}, nil
}

// checkForm parses the posted form and reports whether its nonce and
// CSRF token are good for page and the request's principal.
func (p *Pages) checkForm(req *api.Request, page string) (bool, error) {
	req.R.Body = http.MaxBytesReader(req.W, req.R.Body, maxFormBytes)
	if err := req.R.ParseForm(); err != nil {
		return false, nil
	}
	nonce, sum := req.R.PostForm.Get("nonce"), req.R.PostForm.Get("csrf")
	_, at, ok := strings.Cut(nonce, ".")
	if !ok || sum == "" {
		return false, nil
	}
	drawn, err := strconv.ParseInt(at, 10, 64)
	if err != nil {
		return false, nil
	}
	if age := p.now().Sub(time.Unix(drawn, 0)); age > CSRFLifetime || age < -time.Minute {
		return false, nil
	}
	key, err := p.csrfKey(req.R.Context())
	if err != nil {
		return false, err
	}
	return hmac.Equal([]byte(sum), []byte(token(key, page, req.Principal, nonce))), nil
}
