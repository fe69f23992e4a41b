package test

// End-to-end tests of request ids and the access log (SPEC §3c): an
// X-Request-Id is echoed when sane and generated otherwise, on every
// response; problem documents and audit entries carry it; every request
// leaves one "request" line naming its route pattern, and no secret a
// client sends — password, API key, client secret, code, verifier,
// token, a secret-looking query value — ever reaches the log.

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"gatehouse/storage"
	"gatehouse/test/harness"
)

var alGenerated = regexp.MustCompile(`^[A-Za-z0-9_-]{16}$`)

// alLine is one access line's fields.
type alLine map[string]string

var alField = regexp.MustCompile(`([a-z_]+)=("(?:[^"\\]|\\.)*"|\S*)`)

// alLines parses the access lines ("msg=request") of a text log.
func alLines(t *testing.T, log string) []alLine {
	t.Helper()
	var out []alLine
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, " msg=request ") {
			continue
		}
		f := alLine{}
		for _, m := range alField.FindAllStringSubmatch(l, -1) {
			v := m[2]
			if strings.HasPrefix(v, `"`) {
				u, err := strconv.Unquote(v)
				if err != nil {
					t.Fatalf("unquote %s in %q: %v", v, l, err)
				}
				v = u
			}
			f[m[1]] = v
		}
		out = append(out, f)
	}
	return out
}

// alFind is the access line of request id, failing the test when there
// is not exactly one.
func alFind(t *testing.T, logs *harness.LogBuffer, id string) alLine {
	t.Helper()
	var found []alLine
	for _, l := range alLines(t, logs.String()) {
		if l["request_id"] == id {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d access lines with request id %q, want 1; log:\n%s", len(found), id, logs.String())
	}
	return found[0]
}

func alWithID(id string) http.Header { return http.Header{"X-Request-Id": {id}} }

func TestAccessLogRequestIDs(t *testing.T) {
	s, logs := harness.StartLogged(t, harness.Config(t))

	t.Run("echoed", func(t *testing.T) {
		r := s.Do(harness.Request{Method: "GET", Path: azV2, User: `system\admin`, Pass: harness.AdminPassword,
			Header: alWithID("client-id-1.2:3")}).Must(t, 200)
		if got := r.Header.Get("X-Request-Id"); got != "client-id-1.2:3" {
			t.Fatalf("X-Request-Id %q, want the one sent", got)
		}
	})
	t.Run("generated", func(t *testing.T) {
		seen := map[string]bool{}
		for _, h := range []http.Header{nil, alWithID("has space"), alWithID(strings.Repeat("x", 200)), alWithID(""),
			alWithID("tab\tinside"), {"X-Request-Id": {"one", "two"}}} {
			r := s.Do(harness.Request{Method: "GET", Path: "/healthz", Header: h}).Must(t, 200)
			id := r.Header.Get("X-Request-Id")
			if !alGenerated.MatchString(id) || seen[id] {
				t.Fatalf("sent %q: X-Request-Id %q, want a fresh 16-character URL-safe id", h, id)
			}
			seen[id] = true
		}
	})
	t.Run("every-endpoint", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz", "/metrics", "/auth/v2/schema.xsd", "/no-such-path",
			"/auth/v2/no-such-path", "/.well-known/openid-configuration", "/oauth2/token", "/oauth2/authorize"} {
			r := s.Do(harness.Request{Method: "GET", Path: p})
			if id := r.Header.Get("X-Request-Id"); !alGenerated.MatchString(id) {
				t.Errorf("GET %s (%d): X-Request-Id %q", p, r.Status, id)
			}
		}
	})
	t.Run("problem-documents", func(t *testing.T) {
		for _, c := range []struct{ path, id string }{
			{azV2 + "/accounts/no-such-account", "prob-1"},
			{azV2 + "/no-such-path", "prob-2"},
			{azV2 + "/accounts/no-such-account", ""},
		} {
			var h http.Header
			if c.id != "" {
				h = alWithID(c.id)
			}
			r := s.Do(harness.Request{Method: "GET", Path: c.path, User: `system\admin`, Pass: harness.AdminPassword, Header: h}).Must(t, 404)
			want := r.Header.Get("X-Request-Id")
			if c.id != "" && want != c.id {
				t.Fatalf("X-Request-Id %q, want %q", want, c.id)
			}
			el := r.Root().SelectElement("request-id")
			if el == nil || el.Text() != want || want == "" {
				t.Fatalf("problem lacks <request-id>%s</request-id>:\n%s", want, r.Body)
			}
		}
	})
	t.Run("audit-entry-of-a-write", func(t *testing.T) {
		s.Do(harness.Request{Method: "PUT", Path: azV2 + "/accounts/rid", User: `system\admin`, Pass: harness.AdminPassword,
			Body: "<account><parent>system</parent></account>", Header: alWithID("write-42")}).Must(t, 201)
		var found []storage.AuditEntry
		_, err := s.Instance.Store.AuditScan(context.Background(), storage.AuditFilter{}, func(_ string, e storage.AuditEntry) bool {
			if e.RequestID == "write-42" {
				found = append(found, e)
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(found) != 1 || found[0].Target != azV2+"/accounts/rid" || found[0].Actor != `system\admin` {
			t.Fatalf("audit entries with request id write-42: %+v", found)
		}
	})
	t.Run("access-lines", func(t *testing.T) {
		azUserWithRole(t, s, "rid", "ron", "quiet-harbor-9", "reader", "auth:users:read")
		s.Do(harness.Request{Method: "GET", Path: azV2 + "/accounts/rid/users/ron?depth=2", User: `rid\ron`, Pass: "quiet-harbor-9",
			Header: alWithID("line-1")}).Must(t, 200)
		l := alFind(t, logs, "line-1")
		want := alLine{"level": "INFO", "method": "GET", "route": "/auth/v2/accounts/{a}/users/{u}", "status": "200",
			"principal": `rid\ron`, "client": "127.0.0.1"}
		for k, v := range want {
			if l[k] != v {
				t.Errorf("%s = %q, want %q; line %v", k, l[k], v, l)
			}
		}
		if n, err := strconv.Atoi(l["bytes"]); err != nil || n <= 0 {
			t.Errorf("bytes %q; line %v", l["bytes"], l)
		}
		if ms, err := strconv.ParseFloat(l["ms"], 64); err != nil || ms < 0 {
			t.Errorf("ms %q; line %v", l["ms"], l)
		}

		s.Do(harness.Request{Method: "GET", Path: azV2 + "/accounts/rid/users/nobody/what/ever", Header: alWithID("line-2")})
		if l := alFind(t, logs, "line-2"); l["route"] != "unmatched" || l["status"] != "404" || l["principal"] != "" {
			t.Errorf("unmatched line %v", l)
		}
		s.Do(harness.Request{Method: "GET", Path: "/nothing/here", Header: alWithID("line-3")})
		if l := alFind(t, logs, "line-3"); l["route"] != "unmatched" || l["status"] != "404" {
			t.Errorf("unmatched line %v", l)
		}
		s.Do(harness.Request{Method: "GET", Path: "/healthz", Header: alWithID("line-4")})
		if l := alFind(t, logs, "line-4"); l["route"] != "/healthz" || l["level"] != "DEBUG" || l["status"] != "200" {
			t.Errorf("health line %v", l)
		}
		s.Do(harness.Request{Method: "DELETE", Path: azV2 + "/accounts/rid/users/ron", User: `rid\ron`, Pass: "quiet-harbor-9",
			Header: alWithID("line-5")}).Must(t, 403)
		if l := alFind(t, logs, "line-5"); l["route"] != "/auth/v2/accounts/{a}/users/{u}" || l["status"] != "403" || l["method"] != "DELETE" {
			t.Errorf("refused line %v", l)
		}
		s.Do(harness.Request{Method: "POST", Path: "/oauth2/token", Header: alWithID("line-6")})
		if l := alFind(t, logs, "line-6"); l["route"] != "/oauth2/token" || l["status"] != "400" {
			t.Errorf("token line %v", l)
		}
		for _, l := range alLines(t, logs.String()) {
			if strings.Contains(l["route"], "ron") || strings.Contains(l["route"], "?") {
				t.Errorf("a raw path in the access log: %v", l)
			}
		}
	})
}

func TestAccessLogNoSecrets(t *testing.T) {
	s, logs := harness.StartLogged(t, harness.Config(t))
	ctx := context.Background()
	secrets := []string{harness.AdminPassword, clPass, akPass}

	// Basic sign-ins, good and bad.
	azCreateAccount(t, s, "ocf", "system")
	azAdmin(t, s, "PUT", ocBase+"/permissions", azPermsBody("*"), 204)
	azUserWithRole(t, s, "ocf", "una", clPass, "reader", "auth:*")
	s.As(`ocf\una`, clPass, "GET", ocUser, "").Must(t, 200)
	s.As(`ocf\una`, "wrong-"+clPass, "GET", ocUser, "").Must(t, 401)
	// A password typed into the name field: no log line holds it (the
	// whole log is searched below, with the other secrets).
	const typedAsName = "typed-as-name-Pw-91c2"
	secrets = append(secrets, typedAsName)
	s.As(typedAsName, clPass, "GET", ocUser, "").Must(t, 401)

	// An API key, in both headers.
	akSetup(t, s)
	_, key := akCreated(t, s.Admin("POST", akUser+"/api-keys", akBody("ci", "", "auth:users:read")))
	secrets = append(secrets, key)
	withKey(s, "X-API-Key", key, "GET", akUser, "").Must(t, 200)
	withKey(s, "Bearer", key, "GET", akUser, "").Must(t, 200)
	s.As(`kco\kim`, akPass, "GET", akUser, "").Must(t, 200)

	// The code grant: sign-in page, code, verifier, tokens.
	first := ocClient(t, s, true, "auth:users:read", "offline_access")
	cfg := ocConfig(s, first, "auth:users:read", "offline_access")
	code, verifier := ocCode(t, s, cfg, "")
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, code, verifier, tok.AccessToken)
	if tok.RefreshToken != "" {
		secrets = append(secrets, tok.RefreshToken)
	}
	oaBearer(s, tok.AccessToken, "GET", ocUser).Must(t, 200)

	// The password grant and client credentials.
	pw, err := pwConfig(s).PasswordCredentialsToken(ctx, `ocf\una`, clPass)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, pw.AccessToken)
	id, secret := oaClientOf(t, s)
	secrets = append(secrets, secret, oaToken(t, s, id, secret).AccessToken)

	// Secret-looking query values, on a route and on no route.
	const query = "s3cr3t-query-value-7f3a"
	secrets = append(secrets, query)
	s.Admin("GET", ocUser+"?access_token="+query, "")
	s.Do(harness.Request{Method: "GET", Path: "/oauth2/authorize?code=" + query + "&password=" + query})
	s.Do(harness.Request{Method: "GET", Path: azV2 + "/nowhere/" + query + "?token=" + query})

	log := logs.String()
	lines := alLines(t, log)
	if len(lines) < 20 {
		t.Fatalf("too few access lines to mean anything:\n%s", log)
	}
	for _, l := range lines {
		for k, v := range l {
			if strings.Contains(v, typedAsName) {
				t.Errorf("access line field %s holds the password typed as a name: %v", k, l)
			}
		}
	}
	for _, sec := range secrets {
		if sec == "" {
			t.Fatal("an empty secret")
		}
		if strings.Contains(log, sec) {
			t.Errorf("the log holds secret %q:\n%s", sec, log)
		}
	}
}

// oaClientOf creates a client_credentials client of ocf\una.
func oaClientOf(t *testing.T, s *harness.Server) (id, secret string) {
	t.Helper()
	return ccClientOf(t, s, ocUser)
}

var alRequestIDElement = regexp.MustCompile(`\n *<request-id>[^<]*</request-id>`)

// withoutRequestID is a problem document without its <request-id>, which
// differs between any two requests: tests that hold two refusals to be
// indistinguishable compare the rest.
func withoutRequestID(body string) string {
	return alRequestIDElement.ReplaceAllString(body, "")
}
