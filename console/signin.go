package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"gatehouse/api"
	"gatehouse/oauth"
)

// Paths of the console's own routes.
const (
	Base         = "/auth/v2/console"
	SignInPath   = Base + "/signin"
	CallbackPath = Base + "/callback"
	SignOutPath  = Base + "/signout"
	ScriptPath   = Base + "/console.js"
	// Home is where a sign-in without a return page lands.
	Home = "/auth/v2"
)

// Cookies besides api.SessionCookie (the access token).
const (
	// RefreshCookie holds the session's refresh token; it is sent only to
	// the console's own routes (Path Base), where the sign-in renews the
	// session with it.
	RefreshCookie = "gatehouse-console-refresh"
	// flowCookie holds an authorization request in flight: state, PKCE
	// verifier and the page to return to.
	flowCookie = "gatehouse-console-flow"
	flowLife   = 10 * time.Minute
	// scope is what the console asks for: the user's full power, and a
	// refresh token.
	scope = "* offline_access"
)

// Console is the browser console: its sign-in routes and the pages
// (Document, Problem) the api pipeline renders for browsers.
type Console struct {
	// Issuer is the OAuth issuer: the callback is Issuer+CallbackPath,
	// and cookies are Secure when it is https.
	Issuer string
	// Handler serves the server's own routes (the api.Server): the
	// console exchanges codes and refresh tokens at /oauth2/token in
	// process, as any client would over HTTP. Set before serving.
	Handler http.Handler
	Logger  *slog.Logger
}

// RedirectURI is the console client's redirect URI.
func (c *Console) RedirectURI() string { return c.Issuer + CallbackPath }

// secure says whether cookies are Secure: when the issuer is https or
// the request came over TLS.
func (c *Console) secure(r *http.Request) bool {
	return strings.HasPrefix(c.Issuer, "https://") || r.TLS != nil
}

func (c *Console) log() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

// Routes are the console's routes for the api registry. They are public:
// the sign-in is the OAuth sign-in page's, and sign-out checks the
// session's CSRF token itself.
func (c *Console) Routes() []api.Route {
	return []api.Route{
		{Method: http.MethodGet, Path: SignInPath, Public: true, Handler: c.signIn,
			Summary: "console (HTML): sign in — renews the session from its refresh cookie, else starts the OAuth code flow (PKCE) of the built-in client `console`; query return: the /auth/v2 page to come back to"},
		{Method: http.MethodGet, Path: CallbackPath, Public: true, Handler: c.callback,
			Summary: "console (HTML): the console client's OAuth redirect; exchanges the code and sets the session cookies"},
		{Method: http.MethodPost, Path: SignOutPath, Public: true, Handler: c.signOut,
			Summary: "console: sign out (CSRF token in X-Csrf-Token): revokes the session's tokens and clears its cookies"},
		{Method: http.MethodGet, Path: ScriptPath, Public: true, Handler: serveScript,
			Summary: "console: the pages' small script (forms sent as XML with fetch)"},
	}
}

// returnPath is the page a sign-in returns to: a path under /auth/v2
// (never another origin), Home otherwise.
func returnPath(s string) string {
	if s == "" || !strings.HasPrefix(s, "/auth/v2") || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\\r\n") ||
		strings.HasPrefix(s, Base) {
		return Home
	}
	if u, err := url.Parse(s); err != nil || u.Host != "" || u.Scheme != "" {
		return Home
	}
	return s
}

// signIn is GET SignInPath.
func (c *Console) signIn(req *api.Request) error {
	ret := returnPath(req.R.URL.Query().Get("return"))
	if rc, err := req.R.Cookie(RefreshCookie); err == nil && rc.Value != "" {
		tok, err := c.token(req.R, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rc.Value},
			"client_id": {oauth.ConsoleClientID}})
		if err == nil {
			c.setSession(req.W, req.R, tok)
			return redirect(req, ret)
		}
		c.log().Info("console: the session could not be renewed; signing in again", "err", err)
		c.clear(req.W, req.R, RefreshCookie, Base)
	}
	state, verifier := random(), random()
	sum := sha256.Sum256([]byte(verifier))
	http.SetCookie(req.W, &http.Cookie{Name: flowCookie, Value: state + "." + verifier + "." +
		base64.RawURLEncoding.EncodeToString([]byte(ret)), Path: Base, MaxAge: int(flowLife / time.Second),
		HttpOnly: true, Secure: c.secure(req.R), SameSite: http.SameSiteLaxMode})
	q := url.Values{"response_type": {"code"}, "client_id": {oauth.ConsoleClientID}, "redirect_uri": {c.RedirectURI()},
		"scope": {scope}, "state": {state}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"}}
	return redirect(req, "/oauth2/authorize?"+q.Encode())
}

// callback is GET CallbackPath: the sign-in page's redirect.
func (c *Console) callback(req *api.Request) error {
	fc, err := req.R.Cookie(flowCookie)
	if err != nil {
		return api.Problemf(http.StatusBadRequest, "no sign-in is in progress in this browser (or it took longer than %s); start again at %s", flowLife, SignInPath)
	}
	parts := strings.Split(fc.Value, ".")
	q := req.R.URL.Query()
	if len(parts) != 3 || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(parts[0])) != 1 {
		return api.Problemf(http.StatusBadRequest, "the sign-in's state does not match this browser's; start again at %s", SignInPath)
	}
	c.clear(req.W, req.R, flowCookie, Base)
	if e := q.Get("error"); e != "" {
		return api.Problemf(http.StatusForbidden, "the sign-in was refused: %s %s", e, q.Get("error_description"))
	}
	ret, _ := base64.RawURLEncoding.DecodeString(parts[2])
	tok, err := c.token(req.R, url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
		"redirect_uri": {c.RedirectURI()}, "client_id": {oauth.ConsoleClientID}, "code_verifier": {parts[1]}})
	if err != nil {
		return api.Problemf(http.StatusBadRequest, "the sign-in's code could not be exchanged: %v", err)
	}
	c.setSession(req.W, req.R, tok)
	return redirect(req, returnPath(string(ret)))
}

// signOut is POST SignOutPath.
func (c *Console) signOut(req *api.Request) error {
	want, err := req.Server.CSRFToken(req.R)
	if err != nil {
		return err
	}
	got := req.R.Header.Get(api.CSRFHeader)
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return api.Problemf(http.StatusForbidden, "signing out needs the session's CSRF token in the %s header", api.CSRFHeader)
	}
	if rc, err := req.R.Cookie(RefreshCookie); err == nil && rc.Value != "" {
		// Revoking the refresh token revokes its family: the access
		// token in the session cookie too.
		if _, err := c.call(req.R, "/oauth2/revoke", url.Values{"token": {rc.Value}, "client_id": {oauth.ConsoleClientID}}); err != nil {
			c.log().Warn("console: revoking the session's tokens", "err", err)
		}
	}
	c.clear(req.W, req.R, api.SessionCookie, "/auth/v2")
	c.clear(req.W, req.R, RefreshCookie, Base)
	req.Status = http.StatusNoContent
	req.W.WriteHeader(http.StatusNoContent)
	return nil
}

// tokens is a token endpoint answer.
type tokens struct {
	Access    string `json:"access_token"`
	Refresh   string `json:"refresh_token"`
	ExpiresIn int    `json:"expires_in"`
	Error     string `json:"error"`
	Detail    string `json:"error_description"`
}

// token posts form to /oauth2/token in process.
func (c *Console) token(r *http.Request, form url.Values) (tokens, error) {
	var t tokens
	b, err := c.call(r, "/oauth2/token", form)
	if err != nil {
		return t, err
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return t, err
	}
	if t.Access == "" {
		return t, fmt.Errorf("no access token: %s %s", t.Error, t.Detail)
	}
	return t, nil
}

// call posts form to the server's own endpoint path, as the browser's
// request r (its address counts for throttling), and returns the body of
// a 200 answer.
func (c *Console) call(r *http.Request, path string, form url.Values) ([]byte, error) {
	if c.Handler == nil {
		return nil, fmt.Errorf("console: no handler for %s", path)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
	defer cancel()
	in, err := http.NewRequestWithContext(ctx, http.MethodPost, path, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	in.RemoteAddr = r.RemoteAddr
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		in.Header["X-Forwarded-For"] = xff
	}
	in.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	in.Header.Set("Accept", "application/json")
	w := &recorder{header: http.Header{}, status: http.StatusOK}
	c.Handler.ServeHTTP(w, in)
	if w.status != http.StatusOK {
		return w.body.Bytes(), fmt.Errorf("%s answered %d: %s", path, w.status, clip(w.body.String()))
	}
	return w.body.Bytes(), nil
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// setSession sets the session cookies from a token answer.
func (c *Console) setSession(w http.ResponseWriter, r *http.Request, t tokens) {
	age := t.ExpiresIn
	if age <= 0 {
		age = 600
	}
	http.SetCookie(w, &http.Cookie{Name: api.SessionCookie, Value: t.Access, Path: "/auth/v2", MaxAge: age,
		HttpOnly: true, Secure: c.secure(r), SameSite: http.SameSiteLaxMode})
	if t.Refresh != "" {
		http.SetCookie(w, &http.Cookie{Name: RefreshCookie, Value: t.Refresh, Path: Base,
			HttpOnly: true, Secure: c.secure(r), SameSite: http.SameSiteLaxMode})
	}
}

func (c *Console) clear(w http.ResponseWriter, r *http.Request, name, path string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: path, MaxAge: -1,
		HttpOnly: true, Secure: c.secure(r), SameSite: http.SameSiteLaxMode})
}

// redirect answers 303 to loc.
func redirect(req *api.Request, loc string) error {
	h := req.W.Header()
	h.Set("Location", loc)
	h.Set("Cache-Control", "no-store")
	req.Status = http.StatusSeeOther
	req.W.WriteHeader(http.StatusSeeOther)
	return nil
}

// random is 32 random bytes, base64url.
func random() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// recorder holds an in-process answer.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	wrote  bool
}

func (w *recorder) Header() http.Header { return w.header }
func (w *recorder) WriteHeader(s int) {
	if !w.wrote {
		w.status, w.wrote = s, true
	}
}
func (w *recorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}
