package test

// End-to-end tests of the token endpoint's audit entries (SPEC §3a:
// action token, success or failure), its throttling of failed client
// authentication per client address, and a refresh for a disabled user.

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"gatehouse/test/harness"
)

const oatBase = azV2 + "/accounts/oat"

// oatClient creates a client_credentials client of oat\tess.
func oatClient(t *testing.T, s *harness.Server, scopes ...string) (id, secret string) {
	t.Helper()
	return ccClientOf(t, s, oatBase+"/users/tess", scopes...)
}

func oatSetup(t *testing.T, s *harness.Server) {
	t.Helper()
	azCreateAccount(t, s, "oat", "system")
	azAdmin(t, s, "PUT", oatBase+"/permissions", azPermsBody("*"), 204)
	azUserWithRole(t, s, "oat", "tess", pwPass, "reader", "auth:*")
}

func TestOAuthTokenAudit(t *testing.T) {
	s := harness.Start(t)
	oatSetup(t, s)
	id, secret := oatClient(t, s, "auth:users:read")
	href := oatBase + "/users/tess/clients/" + id

	since := time.Now().Add(-time.Second)
	tok := oaToken(t, s, id, secret)
	ok := auOne(t, s, "granted token", since, auEntry{Action: "token", Actor: "client:" + id, Outcome: "success"})
	if ok.Account != "oat" || ok.Target != href {
		t.Errorf("success entry: account %q target %q, want oat and %s", ok.Account, ok.Target, href)
	}
	if !strings.Contains(ok.Detail, "client_credentials") || !strings.Contains(ok.Detail, "auth:users:read") {
		t.Errorf("success entry detail %q: want the grant type and scopes", ok.Detail)
	}

	st, out := oaForm(t, s, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, id, "not-the-secret", nil)
	if st != 401 || out["error"] != "invalid_client" {
		t.Fatalf("bad secret: %d %v", st, out)
	}
	bad := auOne(t, s, "bad secret", since, auEntry{Action: "token", Actor: "client:" + id, Outcome: "failure"})
	if bad.Detail != "invalid_client" || bad.Account != "oat" || bad.Target != href {
		t.Errorf("failure entry %+v: want detail invalid_client, account oat, target %s", bad, href)
	}

	st, _ = oaForm(t, s, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "", "", nil)
	if st < 400 {
		t.Fatalf("no client: %d", st)
	}
	anon := auOne(t, s, "no client", since, auEntry{Action: "token", Actor: "127.0.0.1", Outcome: "failure"})
	if anon.Detail == "" {
		t.Errorf("anonymous failure entry has no detail: %+v", anon)
	}

	es, _ := auAdminList(t, s, "action=token&page-size=1000")
	if len(es) < 3 {
		t.Errorf("GET /audit?action=token: %d entries, want at least 3", len(es))
	}
	for _, e := range es {
		if e.Action != "token" {
			t.Errorf("action filter: entry %+v", e)
		}
		all := e.Actor + e.Account + e.Target + e.Detail
		if strings.Contains(all, secret) || strings.Contains(all, "not-the-secret") || strings.Contains(all, tok.AccessToken) {
			t.Errorf("entry carries a secret or token: %+v", e)
		}
	}
}

func TestOAuthTokenThrottle(t *testing.T) {
	cfg := harness.Config(t)
	cfg.Auth.Throttle.AddressFailures = 3
	s := harness.StartWith(t, cfg)
	oatSetup(t, s)
	id, secret := oatClient(t, s, "auth:users:read")
	form := url.Values{"grant_type": {"client_credentials"}}
	for i := range 3 {
		if st, out := oaForm(t, s, "/oauth2/token", form, id, "wrong-secret", nil); st != 401 {
			t.Fatalf("bad secret %d: %d %v", i, st, out)
		}
	}
	// Throttled: even the right secret is refused before any work.
	req, err := http.NewRequest("POST", s.URL()+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("throttled token request: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestOAuthRefreshDisabledUser(t *testing.T) {
	s := harness.Start(t)
	oatSetup(t, s)
	tok, err := pwConfig(s, "auth:users:read", "offline_access").PasswordCredentialsToken(context.Background(), `oat\tess`, pwPass)
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	azAdmin(t, s, "PUT", oatBase+"/users/tess", "<user><enabled>false</enabled></user>", 204)
	st, out := ocRefresh(t, s, "admin-cli", tok.RefreshToken)
	if st != 400 || out["error"] != "invalid_grant" || out["access_token"] != nil {
		t.Fatalf("refresh for a disabled user: %d %v", st, out)
	}
	// Disabling ended the sign-in session (SPEC §6): re-enabled, the
	// refresh token and the access token stay refused.
	azAdmin(t, s, "PUT", oatBase+"/users/tess", "<user><enabled>true</enabled></user>", 204)
	st, out = ocRefresh(t, s, "admin-cli", tok.RefreshToken)
	if st != 400 || out["error"] != "invalid_grant" || out["access_token"] != nil {
		t.Fatalf("refresh after re-enabling: %d %v, want 400 invalid_grant", st, out)
	}
	if r := oaBearer(s, tok.AccessToken, "GET", oatBase+"/users"); r.Status != 401 {
		t.Errorf("the access token of the ended session after re-enabling: %d, want 401", r.Status)
	}
}
