package test

// End-to-end tests of the second factor (SPEC §3c): TOTP enrolment and
// confirmation at /me/totp, the password grant's "totp" field (a TOTP
// code once per time step, or a backup code once), HTTP Basic refused
// for a user with a second factor, the admin reset, and the secret never
// shown again.

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	otptotp "github.com/pquerna/otp/totp"

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
