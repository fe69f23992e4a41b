package test

// End-to-end tests of the second factor (SPEC §3c): TOTP enrolment and
// confirmation at /me/totp, the password grant's "totp" field (a TOTP
// code once per time step, or a backup code once), HTTP Basic refused
// for a user with a second factor, the admin reset, and the secret never
// shown again.

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	otptotp "github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"gatehouse/test/harness"
)

const (
	tfBase = azV2 + "/accounts/tfa"
	tfUser = `tfa\tess`
	tfPass = "second-factor-1"
)

// tfCode is secret's TOTP code at at.
func tfCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := otptotp.GenerateCodeCustom(secret, at, otptotp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tfGrant asks for a token with the password grant of admin-cli, with
// totp as the "totp" field when not empty: the status, the OAuth error
// code and the access token.
func tfGrant(t *testing.T, s *harness.Server, totp string) (int, string, string) {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "client_id": {"admin-cli"}, "username": {tfUser}, "password": {tfPass}}
	if totp != "" {
		form.Set("totp", totp)
	}
	resp, err := s.Client.PostForm(s.URL()+"/oauth2/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error       string `json:"error"`
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Error, body.AccessToken
}

func tfBearer(s *harness.Server, tok, method, path string) *harness.Response {
	return s.Do(harness.Request{Method: method, Path: path, Header: http.Header{"Authorization": {"Bearer " + tok}}})
}

func TestTOTPSecondFactor(t *testing.T) {
	// A time at the start of a 30 s step, so the steps are known.
	start := time.Unix(1_900_000_000-1_900_000_000%30+3, 0)
	clock := harness.NewClock(start)
	s := harness.StartClocked(t, harness.Config(t), clock.Now)
	azCreateAccount(t, s, "tfa", "system")
	azAdmin(t, s, "PUT", tfBase+"/permissions", azPermsBody("*"), 204)
	azUserWithRole(t, s, "tfa", "tess", tfPass, "self", "auth:*")
	me := azV2 + "/me"

	// Nothing enrolled: disabled, and the password grant needs no code.
	r := s.As(tfUser, tfPass, "GET", me+"/totp", "").Must(t, 200)
	if !strings.Contains(r.Body, "<enabled>false</enabled>") {
		t.Fatalf("GET /me/totp: %s", r.Body)
	}
	if st, _, _ := tfGrant(t, s, ""); st != 200 {
		t.Fatalf("grant without a second factor: %d", st)
	}

	// Enrol: the secret, URI and QR link are shown once.
	r = s.As(tfUser, tfPass, "POST", me+"/totp", "").Must(t, 201)
	secret := r.Root().SelectElement("secret").Text()
	uri := r.Root().SelectElement("uri").Text()
	if secret == "" || !strings.HasPrefix(uri, "otpauth://totp/") || r.Root().SelectElement("qr") == nil {
		t.Fatalf("enrolment: %s", r.Body)
	}
	if r.Root().SelectElement("enabled").Text() != "false" {
		t.Fatalf("enrolment enabled before confirmation: %s", r.Body)
	}
	qr := s.As(tfUser, tfPass, "GET", me+"/totp/qr", "").Must(t, 200)
	if qr.Header.Get("Content-Type") != "image/png" || !strings.HasPrefix(qr.Body, "\x89PNG") {
		t.Fatalf("qr: %s %q", qr.Header.Get("Content-Type"), qr.Body[:min(8, len(qr.Body))])
	}
	if r := s.As(tfUser, tfPass, "GET", me+"/totp", "").Must(t, 200); strings.Contains(r.Body, secret) {
		t.Fatalf("the secret shows again: %s", r.Body)
	}

	// Backup codes, drawn before confirming.
	r = s.As(tfUser, tfPass, "POST", me+"/backup-codes", "").Must(t, 201)
	if r.Root().SelectAttrValue("count", "") != "10" || len(r.Root().SelectElements("code")) != 10 {
		t.Fatalf("backup codes: %s", r.Body)
	}
	backup := r.Root().SelectElements("code")[0].Text()

	// Confirm: a wrong code is 400, the right one 204.
	wrong := "000000"
	if tfCode(t, secret, start) == wrong {
		wrong = "111111"
	}
	s.As(tfUser, tfPass, "PUT", me+"/totp", "<totp><code>"+wrong+"</code></totp>").Must(t, 400)
	s.As(tfUser, tfPass, "PUT", me+"/totp", "<totp><code>"+tfCode(t, secret, clock.Now())+"</code></totp>").Must(t, 204)
	s.Admin("GET", tfBase+"/users/tess/totp", "").Must(t, 200)
	if r := s.Admin("GET", tfBase+"/users/tess/totp", ""); !strings.Contains(r.Body, "<enabled>true</enabled>") || strings.Contains(r.Body, secret) {
		t.Fatalf("admin view: %s", r.Body)
	}
	s.As(tfUser, tfPass, "GET", me+"/totp/qr", "").Must(t, 401) // Basic no longer signs tess in

	// HTTP Basic cannot give a second factor: 401 naming it.
	r = s.As(tfUser, tfPass, "GET", me, "").Must(t, 401)
	if !strings.Contains(r.Body, "second factor") {
		t.Fatalf("Basic refusal does not name the second factor: %s", r.Body)
	}

	// The password grant: without a code or with a wrong one 400
	// invalid_grant; the next step's code once.
	if st, code, _ := tfGrant(t, s, ""); st != 400 || code != "invalid_grant" {
		t.Fatalf("grant without totp: %d %s", st, code)
	}
	if st, code, _ := tfGrant(t, s, wrong); st != 400 || code != "invalid_grant" {
		t.Fatalf("grant with a wrong totp: %d %s", st, code)
	}
	next := tfCode(t, secret, clock.Now().Add(30*time.Second))
	st, _, tok := tfGrant(t, s, next)
	if st != 200 || tok == "" {
		t.Fatalf("grant with the right code: %d", st)
	}
	if st, code, _ := tfGrant(t, s, next); st != 400 || code != "invalid_grant" {
		t.Fatalf("the same code again: %d %s", st, code)
	}
	// The confirming code's step was claimed too.
	if st, _, _ := tfGrant(t, s, tfCode(t, secret, clock.Now())); st != 400 {
		t.Fatalf("the confirming code again: %d", st)
	}

	// The secret never shows again.
	if r := tfBearer(s, tok, "GET", me+"/totp").Must(t, 200); strings.Contains(r.Body, secret) || !strings.Contains(r.Body, "<enabled>true</enabled>") {
		t.Fatalf("GET /me/totp after enabling: %s", r.Body)
	}
	tfBearer(s, tok, "GET", me+"/totp/qr").Must(t, 404)
	tfBearer(s, tok, "POST", me+"/totp").Must(t, 409)

	// A backup code works once.
	if st, _, _ := tfGrant(t, s, strings.ToUpper(backup)); st != 200 {
		t.Fatalf("grant with a backup code: %d", st)
	}
	if st, code, _ := tfGrant(t, s, backup); st != 400 || code != "invalid_grant" {
		t.Fatalf("the backup code again: %d %s", st, code)
	}
	if r := tfBearer(s, tok, "GET", me+"/backup-codes").Must(t, 200); r.Root().SelectAttrValue("remaining", "") != "9" {
		t.Fatalf("backup codes after one use: %s", r.Body)
	}

	// The admin resets it: sign-in needs no code again.
	s.Admin("DELETE", tfBase+"/users/tess/totp", "").Must(t, 204)
	if st, _, _ := tfGrant(t, s, ""); st != 200 {
		t.Fatalf("grant after reset: %d", st)
	}
	r = s.As(tfUser, tfPass, "GET", me+"/totp", "").Must(t, 200)
	if !strings.Contains(r.Body, "<enabled>false</enabled>") || strings.Contains(r.Body, secret) {
		t.Fatalf("after reset: %s", r.Body)
	}
	if r := s.As(tfUser, tfPass, "GET", me+"/backup-codes", "").Must(t, 200); r.Root().SelectAttrValue("remaining", "") != "0" {
		t.Fatalf("backup codes after reset: %s", r.Body)
	}
	s.Admin("DELETE", tfBase+"/users/nobody/totp", "").Must(t, 404)

	// The user document links it.
	if r := s.Admin("GET", tfBase+"/users/tess", "").Must(t, 200); !strings.Contains(r.Body, `<totp href="/auth/v2/accounts/tfa/users/tess/totp"/>`) {
		t.Fatalf("the user document does not link its totp: %s", r.Body)
	}
}

// tfStepStart is the start of the 30 s step of at, plus a second.
func tfStepStart(at time.Time) time.Time {
	start := at.Truncate(30 * time.Second).Add(time.Second)
	if start.After(at) {
		start = start.Add(-30 * time.Second)
	}
	return start
}

// tfEnrol enrols and confirms a TOTP for name (account\user, password
// pass) over the API with HTTP Basic, confirming with the code of at;
// it returns the secret.
func tfEnrol(t *testing.T, s *harness.Server, name, pass string, at time.Time) string {
	t.Helper()
	r := s.As(name, pass, "POST", azV2+"/me/totp", "").Must(t, 201)
	secret := r.Root().SelectElement("secret").Text()
	if secret == "" {
		t.Fatalf("enrolment: %s", r.Body)
	}
	s.As(name, pass, "PUT", azV2+"/me/totp", "<totp><code>"+tfCode(t, secret, at)+"</code></totp>").Must(t, 204)
	return secret
}

// tfClient creates a public first-party authorization-code client of
// tfa\tess redirecting to ocRedirect.
func tfClient(t *testing.T, s *harness.Server) *oauth2.Config {
	t.Helper()
	body := "<client><first-party>true</first-party><public>true</public>" +
		clList("grant-types", "grant-type", "authorization_code", "refresh_token") +
		clList("scopes", "scope", "auth:me:read") + clList("uris", "uri", ocRedirect) + "</client>"
	r := s.Admin("POST", tfBase+"/users/tess/clients", body).Must(t, 201)
	id := r.Root().SelectAttrValue("identifier", "")
	if id == "" {
		t.Fatalf("no client id:\n%s", r.Body)
	}
	return ocConfig(s, id, "auth:me:read")
}

// The sign-in page's second-factor step: after the password a TOTP user
// is asked for the code (and nobody else is, and nothing tells a user
// with a second factor from one without before the password); a wrong
// code is shown again with an error and counts as a failed sign-in; the
// right code (or a backup code) completes the flow; a code is taken
// once; user-failures wrong codes throttle the user (429, Retry-After),
// even with the right code afterwards.
func TestTOTPSignInPage(t *testing.T) {
	// The clock stands at the start of the current 30 s step (fosite
	// dates codes by the real clock), so the steps are known.
	start := tfStepStart(time.Now())
	clock := harness.NewClock(start)
	cfg := harness.Config(t)
	cfg.Auth.Throttle.UserFailures = 3
	cfg.Auth.Throttle.AddressFailures = 1000
	s := harness.StartClocked(t, cfg, clock.Now)
	azCreateAccount(t, s, "tfa", "system")
	azAdmin(t, s, "PUT", tfBase+"/permissions", azPermsBody("*"), 204)
	azUserWithRole(t, s, "tfa", "tess", tfPass, "self", "auth:*")
	azUserWithRole(t, s, "tfa", "tom", tfPass, "self2", "auth:*")
	cfgOAuth := tfClient(t, s)
	secret := tfEnrol(t, s, tfUser, tfPass, start)

	authURL := func(verifier string) string {
		return cfgOAuth.AuthCodeURL(ocState, oauth2.S256ChallengeOption(verifier))
	}
	b := ocNewBrowser(t, s)
	verifier := oauth2.GenerateVerifier()
	first := b.get(authURL(verifier))
	if first.status != 200 || first.hidden.Get("step") != "password" {
		t.Fatalf("authorize: %d\n%s", first.status, first.body)
	}

	// Before the password verifies, a user with a second factor, one
	// without and one that does not exist read alike.
	for _, name := range []string{tfUser, `tfa\tom`, `tfa\nobody`} {
		p := b.post(first, "username", name, "password", "wrong-password")
		if p.status != 200 || p.hidden.Get("step") != "password" || !strings.Contains(p.body, "The user name or password is not correct.") ||
			strings.Contains(p.body, "second factor") || strings.Contains(p.body, "Second factor") {
			t.Fatalf("wrong password for %s: %d\n%s", name, p.status, p.body)
		}
	}

	// The right password: the second-factor step, not a redirect.
	p := b.post(first, "username", tfUser, "password", tfPass)
	if p.status != 200 || p.hidden.Get("step") != "second-factor" || p.hidden.Get("method") != "totp" ||
		!strings.Contains(p.body, `name="totp"`) || p.header.Get("Location") != "" || p.hidden.Get("ticket") == "" {
		t.Fatalf("after the password: %d %v\n%s", p.status, p.header, p.body)
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP of the second-factor step: %q", csp)
	}
	// The ticket does not skip the step: posting the consent or the
	// password form with it shows the second-factor step again.
	if q := b.post(p, "step", "consent", "consent", "allow"); q.status != 200 || q.hidden.Get("step") != "second-factor" {
		t.Fatalf("skipping the second factor: %d %v\n%s", q.status, q.header, q.body)
	}

	// A wrong code: shown again with the error (the failure is
	// counted: the password earlier counted one, this is the second).
	wrong := "000000"
	for _, at := range []time.Time{start.Add(-30 * time.Second), start, start.Add(30 * time.Second)} {
		if tfCode(t, secret, at) == wrong {
			wrong = "111111"
		}
	}
	q := b.post(p, "totp", wrong)
	if q.status != 200 || q.hidden.Get("step") != "second-factor" || !strings.Contains(q.body, "The code is not correct") {
		t.Fatalf("wrong code: %d\n%s", q.status, q.body)
	}

	// The right code: the redirect to the client, whose code gives
	// tokens for tess.
	next := tfCode(t, secret, start.Add(30*time.Second))
	code := b.post(q, "totp", next).redirect(t)
	if code.Get("state") != ocState || code.Get("code") == "" {
		t.Fatalf("redirect: %v", code)
	}
	tok, err := cfgOAuth.Exchange(context.Background(), code.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if c := oaClaims(t, tok.AccessToken); c["sub"] != tfUser {
		t.Fatalf("claims %v", c)
	}
	tfBearer(s, tok.AccessToken, "GET", azV2+"/me").Must(t, 200)

	// The same code in a new sign-in: refused (replay).
	b2 := ocNewBrowser(t, s)
	p = b2.post(b2.get(authURL(oauth2.GenerateVerifier())), "username", tfUser, "password", tfPass)
	if p.hidden.Get("step") != "second-factor" {
		t.Fatalf("second sign-in: %d\n%s", p.status, p.body)
	}
	if q := b2.post(p, "totp", next); q.status != 200 || !strings.Contains(q.body, "The code is not correct") {
		t.Fatalf("replayed code: %d\n%s", q.status, q.body)
	}
	// user-failures (3) wrong codes in a row (the replay was one):
	// the user is throttled, even with the right code; the password
	// step is too.
	b2.post(p, "totp", wrong)
	b2.post(p, "totp", wrong)
	th := b2.post(p, "totp", tfCode(t, secret, start.Add(-30*time.Second)))
	if th.status != 429 || th.header.Get("Retry-After") == "" || !strings.Contains(th.body, "Too many failed sign-ins") ||
		th.header.Get("Location") != "" {
		t.Fatalf("throttled second factor: %d %v\n%s", th.status, th.header, th.body)
	}
	if th := b2.post(b2.get(authURL(oauth2.GenerateVerifier())), "username", tfUser, "password", tfPass); th.status != 429 {
		t.Fatalf("throttled password step: %d\n%s", th.status, th.body)
	}

	// Audited: the failed and the successful second factor.
	var au string
	if _, ok := harness.Poll(30*time.Second, func() bool {
		au = s.Admin("GET", azV2+"/audit?depth=2&action=sign-in&page-size=1000", "").Body
		return strings.Contains(au, "bad second factor")
	}); !ok {
		t.Errorf("no audit entry of a wrong code:\n%s", au)
	}
}

const tfPage = azV2 + "/me/totp/enrolment"

var tfFormFields = regexp.MustCompile(`name="(nonce|csrf)" value="([^"]*)"`)

// tfForm reads the nonce and CSRF token of the enrolment page's forms
// from a GET of it by name.
func tfForm(t *testing.T, s *harness.Server, name, pass string) url.Values {
	t.Helper()
	r := s.As(name, pass, "GET", tfPage, "").Must(t, 200)
	f := url.Values{}
	for _, m := range tfFormFields.FindAllStringSubmatch(r.Body, 2) {
		f.Set(m[1], html.UnescapeString(m[2]))
	}
	if f.Get("nonce") == "" || f.Get("csrf") == "" {
		t.Fatalf("no form on the enrolment page:\n%s", r.Body)
	}
	return f
}

// tfPost posts form to the enrolment page's path as name.
func tfPost(s *harness.Server, name, pass, path string, form url.Values) *harness.Response {
	return s.Do(harness.Request{Method: "POST", Path: path, User: name, Pass: pass, Body: form.Encode(),
		ContentType: "application/x-www-form-urlencoded"})
}

var tfPageSecret = regexp.MustCompile(`<code id="secret">([A-Z2-7]+)</code>`)

// The enrolment page over HTTP: a strict CSP; forms refused without
// their CSRF token or with another user's; start shows the secret, URI
// and an inline QR code once; a wrong code is 400, the right one
// enables the TOTP; then it is 409 to start again.
func TestTOTPEnrolmentPage(t *testing.T) {
	s := harness.Start(t)
	azCreateAccount(t, s, "tfa", "system")
	azAdmin(t, s, "PUT", tfBase+"/permissions", azPermsBody("*"), 204)
	azUserWithRole(t, s, "tfa", "tess", tfPass, "self", "auth:*")
	azUserWithRole(t, s, "tfa", "tom", tfPass, "self2", "auth:*")
	r := s.As(tfUser, tfPass, "GET", tfPage, "").Must(t, 200)
	csp := r.Header.Get("Content-Security-Policy")
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || !strings.Contains(csp, "default-src 'none'") ||
		!strings.Contains(csp, "img-src data:") || strings.Contains(csp, "script-src") || !strings.Contains(csp, "frame-ancestors 'none'") ||
		r.Header.Get("Cache-Control") != "no-store" || !strings.Contains(r.Body, "not set up") {
		t.Fatalf("the page: %v\n%s", r.Header, r.Body)
	}
	s.Do(harness.Request{Method: "GET", Path: tfPage}).Must(t, 401)

	// Forms without a token, with a token of another user, with a
	// forged one: 400, nothing enrolled.
	mine, toms := tfForm(t, s, tfUser, tfPass), tfForm(t, s, `tfa\tom`, tfPass)
	forged := url.Values{"nonce": {mine.Get("nonce")}, "csrf": {toms.Get("csrf")}}
	for _, f := range []url.Values{{}, toms, forged, {"nonce": {mine.Get("nonce")}}} {
		if r := tfPost(s, tfUser, tfPass, tfPage, f); r.Status != 400 || !strings.Contains(r.Body, "The form has expired") || tfPageSecret.MatchString(r.Body) {
			t.Fatalf("start with form %v: %d\n%s", f, r.Status, r.Body)
		}
	}
	s.As(tfUser, tfPass, "GET", azV2+"/me/totp/qr", "").Must(t, 404)

	// Start: the secret, URI and inline QR code.
	r = tfPost(s, tfUser, tfPass, tfPage, mine).Must(t, 200)
	m := tfPageSecret.FindStringSubmatch(r.Body)
	if m == nil || !strings.Contains(r.Body, `src="data:image/png;base64,`) || !strings.Contains(r.Body, "otpauth://totp/gatehouse:tfa%5Ctess?") {
		t.Fatalf("started enrolment:\n%s", r.Body)
	}
	secret := m[1]
	// Shown once: the page again has the confirmation form, not the secret.
	if r := s.As(tfUser, tfPass, "GET", tfPage, "").Must(t, 200); strings.Contains(r.Body, secret) || !strings.Contains(r.Body, `id="confirm"`) {
		t.Fatalf("the page after starting:\n%s", r.Body)
	}

	// Confirm, now as a bearer (a token of the password grant: no code
	// is needed while the enrolment is pending): a wrong code 400, stays
	// pending; a form of Basic's principal is not the bearer's; the
	// right code enables.
	st, _, tok := tfGrant(t, s, "")
	if st != 200 {
		t.Fatalf("grant while pending: %d", st)
	}
	h := http.Header{"Authorization": {"Bearer " + tok}}
	bearerPost := func(path string, f url.Values) *harness.Response {
		return s.Do(harness.Request{Method: "POST", Path: path, Header: h, Body: f.Encode(),
			ContentType: "application/x-www-form-urlencoded"})
	}
	r = s.Do(harness.Request{Method: "GET", Path: tfPage, Header: h}).Must(t, 200)
	f := url.Values{}
	for _, mm := range tfFormFields.FindAllStringSubmatch(r.Body, 2) {
		f.Set(mm[1], html.UnescapeString(mm[2]))
	}
	kept := url.Values{"nonce": f["nonce"], "csrf": f["csrf"]}
	f.Set("code", tbWrongCode(t, secret))
	if r := bearerPost(tfPage+"/confirmation", f); r.Status != 400 || !strings.Contains(r.Body, "not correct") {
		t.Fatalf("wrong code: %d\n%s", r.Status, r.Body)
	}
	basicForm := tfForm(t, s, tfUser, tfPass)
	basicForm.Set("code", tfCode(t, secret, time.Now()))
	if r := bearerPost(tfPage+"/confirmation", basicForm); r.Status != 400 || !strings.Contains(r.Body, "The form has expired") {
		t.Fatalf("confirmation with the Basic principal's form: %d", r.Status)
	}
	f.Set("code", tfCode(t, secret, time.Now()))
	r = bearerPost(tfPage+"/confirmation", f).Must(t, 200)
	if !strings.Contains(r.Body, `id="confirmed"`) || strings.Contains(r.Body, secret) {
		t.Fatalf("confirmed:\n%s", r.Body)
	}
	if r := s.Admin("GET", tfBase+"/users/tess/totp", ""); !strings.Contains(r.Body, "<enabled>true</enabled>") {
		t.Fatalf("after the page's confirmation: %s", r.Body)
	}
	// Basic no longer signs tess in; the bearer sees the page enabled,
	// without forms; a start posted with a form kept from before is 409.
	s.As(tfUser, tfPass, "GET", tfPage, "").Must(t, 401)
	r = s.Do(harness.Request{Method: "GET", Path: tfPage, Header: h}).Must(t, 200)
	if !strings.Contains(r.Body, "<strong>enabled</strong>") || strings.Contains(r.Body, secret) || strings.Contains(r.Body, "<form") {
		t.Fatalf("the page once enabled:\n%s", r.Body)
	}
	if r := bearerPost(tfPage, kept); r.Status != 409 || !strings.Contains(r.Body, "already set up") || tfPageSecret.MatchString(r.Body) {
		t.Fatalf("start once enabled: %d\n%s", r.Status, r.Body)
	}
}

// A TOTP code accepted on one instance is refused on another on the
// same etcd (the replay guard is in etcd); another unused code works
// there.
func TestTOTPReplayAcrossInstances(t *testing.T) {
	ep := harness.Etcd(t)
	start := tfStepStart(time.Now())
	clock := harness.NewClock(start)
	boot := func() *harness.Server {
		cfg := harness.Config(t)
		cfg.Storage.Etcd.Endpoints = []string{ep}
		return harness.StartClocked(t, cfg, clock.Now)
	}
	a, b := boot(), boot()
	azCreateAccount(t, a, "tfa", "system")
	azAdmin(t, a, "PUT", tfBase+"/permissions", azPermsBody("*"), 204)
	azUserWithRole(t, a, "tfa", "tess", tfPass, "self", "auth:*")
	secret := tfEnrol(t, a, tfUser, tfPass, start)
	if _, ok := harness.Poll(ghxPatience, func() bool {
		return strings.Contains(b.Admin("GET", tfBase+"/users/tess/totp", "").Body, "<enabled>true</enabled>")
	}); !ok {
		t.Fatal("instance B does not see the enabled TOTP")
	}
	code := tfCode(t, secret, start.Add(30*time.Second))
	if st, _, _ := tfGrant(t, a, code); st != 200 {
		t.Fatalf("the code on A: %d", st)
	}
	if st, e, _ := tfGrant(t, b, code); st != 400 || e != "invalid_grant" {
		t.Fatalf("the same code on B: %d %s, want 400 invalid_grant", st, e)
	}
	if st, _, _ := tfGrant(t, b, tfCode(t, secret, start.Add(-30*time.Second))); st != 200 {
		t.Fatalf("an unused code on B: %d", st)
	}
}

// A wrong code with the right password is a failed sign-in:
// user-failures of them throttle the user, who then gets 429 with
// Retry-After even with the right code (and with HTTP Basic).
func TestTOTPWrongCodeCounts(t *testing.T) {
	start := tfStepStart(time.Now())
	clock := harness.NewClock(start)
	cfg := harness.Config(t)
	cfg.Auth.Throttle.UserFailures = 3
	cfg.Auth.Throttle.AddressFailures = 1000
	s := harness.StartClocked(t, cfg, clock.Now)
	azCreateAccount(t, s, "tfa", "system")
	azAdmin(t, s, "PUT", tfBase+"/permissions", azPermsBody("*"), 204)
	azUserWithRole(t, s, "tfa", "tess", tfPass, "self", "auth:*")
	secret := tfEnrol(t, s, tfUser, tfPass, start)
	wrong := tbWrongCode(t, secret)
	for i := range 3 {
		if st, e, _ := tfGrant(t, s, wrong); st != 400 || e != "invalid_grant" {
			t.Fatalf("wrong code %d: %d %s", i+1, st, e)
		}
	}
	form := url.Values{"grant_type": {"password"}, "client_id": {"admin-cli"}, "username": {tfUser}, "password": {tfPass},
		"totp": {tfCode(t, secret, start.Add(30*time.Second))}}
	resp, err := s.Client.PostForm(s.URL()+"/oauth2/token", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("the right code after %d wrong ones: %d (Retry-After %q), want 429", 3, resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	s.As(tfUser, tfPass, "GET", azV2+"/me", "").Must(t, 429)
}

// The TOTP secret is never shown again after the answer that drew it:
// not by GET /me/totp, the user and account documents at any depth, the
// enrolment page, any audit entry, nor any log line.
func TestTOTPSecretNeverShown(t *testing.T) {
	s, logs := harness.StartLogged(t, harness.Config(t))
	azCreateAccount(t, s, "tfa", "system")
	azAdmin(t, s, "PUT", tfBase+"/permissions", azPermsBody("*"), 204)
	azUserWithRole(t, s, "tfa", "tess", tfPass, "self", "auth:*")

	// A first secret drawn by the API, replaced by one drawn by the
	// page, which is confirmed there.
	r := s.As(tfUser, tfPass, "POST", azV2+"/me/totp", "").Must(t, 201)
	first := r.Root().SelectElement("secret").Text()
	r = tfPost(s, tfUser, tfPass, tfPage, tfForm(t, s, tfUser, tfPass)).Must(t, 200)
	m := tfPageSecret.FindStringSubmatch(r.Body)
	if m == nil || first == "" {
		t.Fatalf("secrets %q:\n%s", first, r.Body)
	}
	secret := m[1]
	f := tfForm(t, s, tfUser, tfPass)
	f.Set("code", tfCode(t, secret, time.Now()))
	tfPost(s, tfUser, tfPass, tfPage+"/confirmation", f).Must(t, 200)
	st, _, tok := tfGrant(t, s, tfCode(t, secret, time.Now().Add(30*time.Second)))
	if st != 200 {
		t.Fatalf("grant: %d", st)
	}
	// A failed sign-in with a wrong code, for the logs and the audit.
	tfGrant(t, s, tbWrongCode(t, secret))
	s.As(tfUser, tfPass, "GET", azV2+"/me", "").Must(t, 401)

	check := func(what, body string) {
		t.Helper()
		for _, sec := range []string{first, secret} {
			if strings.Contains(body, sec) || strings.Contains(body, strings.ToLower(sec)) {
				t.Errorf("%s shows a TOTP secret:\n%s", what, body)
			}
		}
	}
	check("GET /me/totp", tfBearer(s, tok, "GET", azV2+"/me/totp").Must(t, 200).Body)
	check("the page", tfBearer(s, tok, "GET", tfPage).Must(t, 200).Body)
	for _, p := range []string{tfBase + "/users/tess", tfBase + "/users/tess/totp", tfBase + "/users?depth=3", tfBase + "?depth=5", azV2 + "/accounts?depth=5"} {
		check("GET "+p, s.Admin("GET", p, "").Must(t, 200).Body)
	}
	check("GET /me?depth=3", tfBearer(s, tok, "GET", azV2+"/me?depth=3").Body)
	// The audit: the sign-ins and the writes are in (waiting for the
	// queue), and no entry shows a secret.
	var audit string
	if _, ok := harness.Poll(30*time.Second, func() bool {
		audit = s.Admin("GET", azV2+"/audit?depth=2&page-size=1000", "").Body
		return strings.Contains(audit, "bad credentials") && strings.Contains(audit, "/auth/v2/me/totp/enrolment/confirmation")
	}); !ok {
		t.Fatalf("the audit log lacks the failed sign-in or the confirmation:\n%s", audit)
	}
	check("GET /auth/v2/audit", audit)
	check("the log", logs.String())
	if !strings.Contains(logs.String(), "sign-in") {
		t.Errorf("the log has no sign-in line; is it captured?\n%s", logs.String())
	}
}
