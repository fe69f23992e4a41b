package oauth

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"slices"

	"gatehouse/api"
	"gatehouse/htmlpage"
	"gatehouse/passkey"
)

// The sign-in page: one server-rendered html/template showing the
// current step (password, second factor, consent) or an error, with an
// inline style sheet allowed by its hash. The only script is the passkey
// ceremony's (passkey.go), loaded from this origin where a passkey can
// be used; every step works without it.

//go:embed templates/signin.html templates/signin.css templates/factor-*.html
var pageFiles embed.FS

var (
	// pageTemplate is the page and, as "factor-<method>", the fields of
	// each second-factor method (factorMethod).
	pageTemplate = template.Must(template.ParseFS(pageFiles, "templates/signin.html", "templates/factor-*.html"))
	pageStyle    = htmlpage.MustRead(pageFiles, "templates/signin.css")
	// pageCSP allows nothing but the inline style sheet (by its hash),
	// the passkey script from this origin (/oauth2/passkey.js) and its
	// requests to this origin (the passkey options), posting forms and
	// no framing.
	pageCSP = "default-src 'none'; style-src '" + htmlpage.SourceHash(pageStyle) + "'; script-src 'self'; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)

// page is what the template shows.
type page struct {
	Title    string
	Step     string // "password", "second-factor", "consent", or "" for an error page
	Error    string
	ClientID string
	Scopes   []string
	Name     string // the user name typed, or the signed-in user
	Request  string // the authorize request's raw query
	CSRF     string
	Ticket   string
	Style    template.CSS
	// The external sign-in methods (external.go): SSO shows the single
	// sign-on form, Account is the account chosen there (AccountChosen:
	// by the form, even if empty), Buttons its methods.
	SSO           bool
	Account       string
	AccountChosen bool
	Buttons       []ExternalButton
	// Factors are the second-factor step's methods (factorMethod).
	Factors []factorSection
	// Passkey shows "Sign in with a passkey" on the password step
	// (passkey.go); the page then loads the passkey script.
	Passkey bool
	Script  bool // the page loads the passkey script (render)
	status  int
	header  http.Header // extra response headers (Retry-After)
}

// setPageHeaders sets the security headers of every answer of the
// authorization endpoint (pages and redirects alike).
func setPageHeaders(h http.Header) {
	htmlpage.SetHeaders(h, pageCSP, "no-referrer")
}

// render writes pg.
func render(req *api.Request, pg page) error {
	if pg.status == 0 {
		pg.status = http.StatusOK
	}
	pg.Style = template.CSS(pageStyle)
	pg.Script = pg.Passkey || slices.ContainsFunc(pg.Factors, func(f factorSection) bool { return f.Method == passkey.MethodName })
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, pg); err != nil {
		return err
	}
	h := req.W.Header()
	for k, v := range pg.header {
		h[k] = v
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	req.Status = pg.status
	req.W.WriteHeader(pg.status)
	_, _ = req.W.Write(buf.Bytes())
	return nil
}

// renderError shows an error page without a form: for requests that
// cannot be answered by a redirect (unknown client, redirect URI not
// registered) and for forms that fail the CSRF check.
func renderError(req *api.Request, status int, msg string) error {
	return render(req, page{Title: "Sign-in problem", Error: msg, status: status})
}
