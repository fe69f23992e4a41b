package test

// End-to-end tests of the resource-owner password grant (SPEC §7): the
// built-in public first-party client admin-cli with golang.org/x/oauth2's
// PasswordCredentialsToken; the token within and beyond its scopes, a
// refresh token under offline_access, refusals that do not tell a wrong
// password from an unknown or disabled user, throttling shared with HTTP
// Basic, and a stored client not flagged for the grant.

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"gatehouse/test/harness"
)

const (
	pwBase = azV2 + "/accounts/pwg"
	pwPass = "password-grant-1"
)

func pwConfig(s *harness.Server, scopes ...string) *oauth2.Config {
	return &oauth2.Config{ClientID: "admin-cli", Scopes: scopes,
		Endpoint: oauth2.Endpoint{TokenURL: s.URL() + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams}}
}

// pwRefused asserts err is an OAuth error answer with status and code
// and returns its description.
func pwRefused(t *testing.T, err error, status int, code string) string {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response.StatusCode != status || re.ErrorCode != code {
		t.Fatalf("want %d %s, got %v", status, code, err)
	}
	return re.ErrorDescription
}

func TestOAuthPasswordGrant(t *testing.T) {
	s := harness.Start(t)
	ctx := context.Background()
	azCreateAccount(t, s, "pwg", "system")
	azAdmin(t, s, "PUT", pwBase+"/permissions", azPermsBody("*"), 204)
	azUserWithRole(t, s, "pwg", "dan", pwPass, "reader", "auth:*")

	t.Run("scoped", func(t *testing.T) {
		tok, err := pwConfig(s, "auth:accounts:read").PasswordCredentialsToken(ctx, `system\admin`, harness.AdminPassword)
		if err != nil {
			t.Fatal(err)
		}
		if tok.AccessToken == "" || tok.RefreshToken != "" {
			t.Fatalf("token %+v: want an access token and no refresh token", tok)
		}
		oaBearer(s, tok.AccessToken, "GET", azV2+"/accounts").Must(t, 200)
		s.Do(harness.Request{Method: "PUT", Path: azV2 + "/accounts/pwx", Body: "<account><parent>system</parent></account>",
			Header: http.Header{"Authorization": {"Bearer " + tok.AccessToken}}}).Must(t, 403)
	})

	t.Run("offline", func(t *testing.T) {
		cfg := pwConfig(s, "auth:accounts:read", "offline_access")
		tok, err := cfg.PasswordCredentialsToken(ctx, `system\admin`, harness.AdminPassword)
		if err != nil {
			t.Fatal(err)
		}
		if tok.RefreshToken == "" {
			t.Fatalf("no refresh token under offline_access: %+v", tok)
		}
		next, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatal(err)
		}
		if next.AccessToken == "" || next.AccessToken == tok.AccessToken || next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken {
			t.Fatalf("refresh gave %+v", next)
		}
		oaBearer(s, next.AccessToken, "GET", azV2+"/accounts").Must(t, 200)
	})

	t.Run("refused", func(t *testing.T) {
		cfg := pwConfig(s, "auth:accounts:read")
		_, err := cfg.PasswordCredentialsToken(ctx, `system\admin`, "wrong-password")
		wrong := pwRefused(t, err, 400, "invalid_grant")
		_, err = cfg.PasswordCredentialsToken(ctx, `system\nobody`, "wrong-password")
		if unknown := pwRefused(t, err, 400, "invalid_grant"); unknown != wrong {
			t.Errorf("unknown user %q, wrong password %q: they must not differ", unknown, wrong)
		}
		_, err = cfg.PasswordCredentialsToken(ctx, `nowhere\admin`, "wrong-password")
		pwRefused(t, err, 400, "invalid_grant")
	})

	t.Run("disabled-user", func(t *testing.T) {
		cfg := pwConfig(s, "auth:users:read")
		if _, err := cfg.PasswordCredentialsToken(ctx, `pwg\dan`, pwPass); err != nil {
			t.Fatalf("enabled user: %v", err)
		}
		s.Admin("PUT", pwBase+"/users/dan", "<user><enabled>false</enabled></user>").Must(t, 204)
		_, err := cfg.PasswordCredentialsToken(ctx, `pwg\dan`, pwPass)
		s.Admin("PUT", pwBase+"/users/dan", "<user><enabled>true</enabled></user>").Must(t, 204)
		pwRefused(t, err, 400, "invalid_grant")
	})

	t.Run("client-not-flagged", func(t *testing.T) {
		azCreateAccount(t, s, "oac", "system")
		azAdmin(t, s, "PUT", oaBase+"/permissions", azPermsBody("*"), 204)
		azUserWithRole(t, s, "oac", "olga", clPass, "reader", "auth:*")
		id, secret := oaClient(t, s, "auth:users:read")
		st, out := oaForm(t, s, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {`oac\olga`},
			"password": {clPass}, "scope": {"auth:users:read"}}, id, secret, nil)
		if st != 400 || out["error"] != "unauthorized_client" || out["access_token"] != nil {
			t.Errorf("password grant of a client not flagged for it: %d %v", st, out)
		}
	})

	t.Run("discovery", func(t *testing.T) {
		st, _ := oaForm(t, s, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {`system\admin`},
			"password": {harness.AdminPassword}, "client_id": {"admin-cli"}, "scope": {"auth:accounts:read"}}, "", "", nil)
		if st != 200 {
			t.Errorf("client_id in the form: %d", st)
		}
		r := s.Do(harness.Request{Method: "GET", Path: "/.well-known/openid-configuration"}).Must(t, 200)
		if !strings.Contains(r.Body, `"password"`) {
			t.Errorf("discovery does not list the password grant:\n%s", r.Body)
		}
	})
}

// Failed password grants count against the name like failed Basic
// sign-ins: once throttled, the grant answers 429 (invalid_grant, with
// Retry-After) even with the right password, and so does Basic.
func TestOAuthPasswordThrottle(t *testing.T) {
	cfg := harness.Config(t)
	cfg.Auth.Throttle.UserFailures = 2
	cfg.Auth.Throttle.AddressFailures = 1000
	s := harness.StartWith(t, cfg)
	azCreateAccount(t, s, "pwg", "system")
	azAdmin(t, s, "PUT", pwBase+"/permissions", azPermsBody("*"), 204)
	azUserWithRole(t, s, "pwg", "dan", pwPass, "reader", "auth:*")
	ctx := context.Background()
	oc := pwConfig(s, "auth:users:read")
	for range 2 {
		_, err := oc.PasswordCredentialsToken(ctx, `pwg\dan`, "wrong-password")
		pwRefused(t, err, 400, "invalid_grant")
	}
	_, err := oc.PasswordCredentialsToken(ctx, `pwg\dan`, pwPass)
	pwRefused(t, err, 429, "invalid_grant")
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After on a throttled grant")
	}
	s.As(`pwg\dan`, pwPass, "GET", pwBase+"/users", "").Must(t, 429)
}
