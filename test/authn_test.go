package test

// End-to-end authentication tests (SPEC §3a throttling, §3b, §6): HTTP
// Basic with account\user, uniform failures, the verified-credential
// cache and its invalidation, password expiry, brute-force throttling.

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatehouse/test/harness"
)

const (
	anPassword  = "authn-password-1"
	anPassword2 = "authn-password-2"
	anUsers     = azV2 + "/accounts/acme/users"
)

// anSetup creates account acme with user bob, who may read users.
func anSetup(t *testing.T, s *harness.Server) {
	t.Helper()
	azCreateAccount(t, s, "acme", "system")
	azUserWithRole(t, s, "acme", "bob", anPassword, "reader", "auth:users:read")
}

// an401 checks a 401 problem with a Basic challenge and returns its detail.
func an401(t *testing.T, what string, r *harness.Response) string {
	t.Helper()
	if !azProblem(t, what, r, 401) {
		return ""
	}
	if ch := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(strings.ToLower(ch), "basic") {
		t.Errorf("%s: WWW-Authenticate %q, want a Basic challenge", what, ch)
	}
	if d := r.Root().SelectElement("detail"); d != nil {
		return d.Text()
	}
	t.Errorf("%s: the problem has no <detail>", what)
	return ""
}

// an429 checks a 429 problem with Retry-After (whole seconds, at least
// 1 and at most the throttle window).
func an429(t *testing.T, what string, r *harness.Response, window time.Duration) {
	t.Helper()
	if !azProblem(t, what, r, 429) {
		return
	}
	ra := r.Header.Get("Retry-After")
	n, err := strconv.Atoi(ra)
	if err != nil || n < 1 || n > int(window/time.Second) {
		t.Errorf("%s: Retry-After %q, want a whole number of seconds from 1 to %d (the window)", what, ra, int(window/time.Second))
	}
}

func TestAuthnChallengeAndUniformFailures(t *testing.T) {
	s := harness.Start(t)
	anSetup(t, s)

	// No credentials at all.
	an401(t, "GET users without credentials", s.Do(harness.Request{Method: "GET", Path: anUsers}))
	an401(t, "POST users without credentials",
		s.Do(harness.Request{Method: "POST", Path: anUsers, Body: "<user><name>anon</name></user>"}))
	azAdmin(t, s, "GET", anUsers+"/anon", "", 404)

	// last-login is absent until the first sign-in, then recorded.
	r := azAdmin(t, s, "GET", anUsers+"/bob", "", 200)
	if r.Root().SelectElement("last-login") != nil {
		t.Errorf("bob has a last-login before ever signing in:\n%s", r.Body)
	}
	signedIn := time.Now().UTC()
	azCheck(t, "bob with the right password", s.As(`acme\bob`, anPassword, "GET", anUsers, ""), 200)
	var last string
	for deadline := time.Now().Add(2 * time.Second); ; {
		r := azAdmin(t, s, "GET", anUsers+"/bob", "", 200)
		if el := r.Root().SelectElement("last-login"); el != nil && el.Text() != "" {
			last = el.Text()
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("no last-login on bob 2 s after a successful sign-in:\n%s", r.Body)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if last != "" {
		at, err := time.Parse(time.RFC3339, last)
		if err != nil {
			t.Errorf("last-login %q is not RFC 3339: %v", last, err)
		} else if d := at.Sub(signedIn); d < -2*time.Second || d > time.Minute {
			t.Errorf("last-login %s is not the sign-in time (about %s)", last, signedIn.Format(time.RFC3339))
		}
	}

	// Every kind of bad credential answers the same.
	azAdmin(t, s, "POST", anUsers, "<user><name>nopass</name></user>", 201)
	azAdmin(t, s, "POST", anUsers+"/nopass/roles", `<role identifier="reader"/>`, 201)
	cases := []struct{ what, user, pass string }{
		{"wrong password", `acme\bob`, "wrong-password-1"},
		{"unknown user", `acme\nobody`, anPassword},
		{"unknown account", `nowhere\bob`, anPassword},
		{"name without a backslash", `noBackslash`, anPassword},
		{"empty user part", `acme\`, anPassword},
		{"empty password", `acme\bob`, ""},
		{"account name in another case", `ACME\bob`, anPassword},
		{"user name in another case", `acme\BOB`, anPassword},
		{"passwordless user, empty password", `acme\nopass`, ""},
		{"passwordless user, some password", `acme\nopass`, anPassword},
	}
	var first *harness.Response
	for _, c := range cases {
		r := s.As(c.user, c.pass, "GET", anUsers, "")
		detail := an401(t, c.what, r)
		if detail == "" {
			continue
		}
		if first == nil {
			first = r
			continue
		}
		if withoutRequestID(r.Body) != withoutRequestID(first.Body) {
			t.Errorf("%s answers differently from %s:\n%s\nvs\n%s", c.what, cases[0].what, r.Body, first.Body)
		}
	}
	// The failures did not lock bob out (the limit is 10).
	azCheck(t, "bob after a few failures", s.As(`acme\bob`, anPassword, "GET", anUsers, ""), 200)

	// Timing must not tell a known user from an unknown one; logged only.
	timeOf := func(user string) time.Duration {
		start := time.Now()
		for i := 0; i < 3; i++ {
			s.As(user, "wrong-password-2", "GET", anUsers, "")
		}
		return time.Since(start) / 3
	}
	t.Logf("failed sign-in latency: known user %v, unknown user %v, unknown account %v",
		timeOf(`acme\bob`), timeOf(`acme\nobody`), timeOf(`nowhere\bob`))
}

func TestAuthnCachedCredentialsRevoked(t *testing.T) {
	s := harness.Start(t)
	anSetup(t, s)
	bob := func(pass string) *harness.Response { return s.As(`acme\bob`, pass, "GET", anUsers, "") }
	user := anUsers + "/bob"

	azCheck(t, "bob signs in", bob(anPassword), 200)
	azCheck(t, "bob again (cached)", bob(anPassword), 200)

	azAdmin(t, s, "PUT", user, "<user><enabled>false</enabled></user>", 204)
	an401(t, "disabled bob right after a cached success", bob(anPassword))
	an401(t, "disabled bob again", bob(anPassword))
	azAdmin(t, s, "PUT", user, "<user><enabled>true</enabled></user>", 204)
	azCheck(t, "re-enabled bob", bob(anPassword), 200)
	azCheck(t, "re-enabled bob (cached)", bob(anPassword), 200)

	azAdmin(t, s, "PUT", user+"/password", "<password>"+anPassword2+"</password>", 204)
	an401(t, "bob's old password right after a change", bob(anPassword))
	azCheck(t, "bob's new password", bob(anPassword2), 200)
	azCheck(t, "bob's new password (cached)", bob(anPassword2), 200)
	an401(t, "bob's old password once the new one is cached", bob(anPassword))

	azAdmin(t, s, "PUT", user, "<user><password-expired>true</password-expired></user>", 204)
	an401(t, "bob with an expired (cached) password", bob(anPassword2))
	azAdmin(t, s, "PUT", user, "<user><password-expired>false</password-expired></user>", 204)
	azCheck(t, "bob once the password is no longer expired", bob(anPassword2), 200)
	azCheck(t, "bob again (cached)", bob(anPassword2), 200)

	// A new password through PUT on the user works the same way. (New
	// ones each time: the password policy refuses reuse.)
	const anPassword3, anPassword4 = "authn-password-3", "authn-password-4"
	azAdmin(t, s, "PUT", user, "<user><password>"+anPassword3+"</password></user>", 204)
	an401(t, "bob's previous password after PUT user <password>", bob(anPassword2))
	azCheck(t, "bob's password set through PUT user", bob(anPassword3), 200)
	azCheck(t, "bob again (cached)", bob(anPassword3), 200)
	// Removing the password ends Basic sign-in at once.
	azAdmin(t, s, "DELETE", user+"/password", "", 204)
	an401(t, "bob right after his password was removed", bob(anPassword3))
	azAdmin(t, s, "PUT", user+"/password", "<password>"+anPassword4+"</password>", 204)
	azCheck(t, "bob with a password again", bob(anPassword4), 200)
	azCheck(t, "bob again (cached)", bob(anPassword4), 200)

	azAdmin(t, s, "DELETE", user, "", 204)
	an401(t, "deleted bob right after a cached success", bob(anPassword4))
	an401(t, "deleted bob again", bob(anPassword4))
}

// anRetryDigits hides the number of seconds in a 429 detail.
var anRetryDigits = regexp.MustCompile(`[0-9]+`)

func TestThrottleUserFailures(t *testing.T) {
	cfg := harness.Config(t)
	cfg.Auth.Throttle.UserFailures = 3
	cfg.Auth.Throttle.AddressFailures = 1000
	s := harness.StartWith(t, cfg)
	anSetup(t, s)
	azCheck(t, "bob signs in", s.As(`acme\bob`, anPassword, "GET", anUsers, ""), 200)

	for i := 1; i <= 3; i++ {
		an401(t, "bob's wrong password #"+strconv.Itoa(i), s.As(`acme\bob`, "wrong-password", "GET", anUsers, ""))
	}
	known := s.As(`acme\bob`, anPassword, "GET", anUsers, "")
	an429(t, "bob's RIGHT password after 3 failures (user-failures 3)", known, cfg.Auth.Throttle.UserWindow)
	an429(t, "bob's wrong password after 3 failures", s.As(`acme\bob`, "wrong-password", "GET", anUsers, ""), cfg.Auth.Throttle.UserWindow)

	// An unknown name is throttled after the same count, the same way.
	for i := 1; i <= 3; i++ {
		an401(t, "unknown acme\\ghost #"+strconv.Itoa(i), s.As(`acme\ghost`, anPassword, "GET", anUsers, ""))
	}
	unknown := s.As(`acme\ghost`, anPassword, "GET", anUsers, "")
	an429(t, "unknown acme\\ghost after 3 failures", unknown, cfg.Auth.Throttle.UserWindow)
	if known.Status == 429 && unknown.Status == 429 {
		k := anRetryDigits.ReplaceAllString(withoutRequestID(known.Body), "N")
		u := anRetryDigits.ReplaceAllString(withoutRequestID(unknown.Body), "N")
		if k != u || known.Header.Get("Content-Type") != unknown.Header.Get("Content-Type") {
			t.Errorf("the 429 for an unknown user differs from a known user's:\n%s\nvs\n%s", unknown.Body, known.Body)
		}
	}

	// The throttle is per name: others from the same address still sign in.
	azCheck(t, "system\\admin while bob is throttled", s.Admin("GET", anUsers, ""), 200)
}

func TestThrottleAddressFailures(t *testing.T) {
	cfg := harness.Config(t)
	cfg.Auth.Throttle.UserFailures = 1000
	cfg.Auth.Throttle.AddressFailures = 8
	s := harness.StartWith(t, cfg)
	azAdmin(t, s, "GET", azV2+"/accounts", "", 200)

	for i := 1; i <= 8; i++ {
		name := `acme\stranger-` + strconv.Itoa(i)
		an401(t, "unknown "+name+" (address failure #"+strconv.Itoa(i)+")", s.As(name, "some-password", "GET", anUsers, ""))
	}
	an429(t, "a ninth, never-seen name from the same address", s.As(`acme\stranger-9`, "some-password", "GET", anUsers, ""), cfg.Auth.Throttle.AddressWindow)
	an429(t, "system\\admin with the RIGHT password from the throttled address", s.Admin("GET", azV2+"/accounts", ""), cfg.Auth.Throttle.AddressWindow)
}

func TestCredentialCacheLatency(t *testing.T) {
	s := harness.Start(t)
	anSetup(t, s)
	start := time.Now()
	azCheck(t, "bob's first request", s.As(`acme\bob`, anPassword, "GET", anUsers, ""), 200)
	first := time.Since(start)
	const n = 20
	start = time.Now()
	for i := 0; i < n; i++ {
		azCheck(t, "bob's repeated request", s.As(`acme\bob`, anPassword, "GET", anUsers, ""), 200)
	}
	mean := time.Since(start) / n
	t.Logf("Basic auth latency: first request (argon2id) %v, mean of %d repeated (cached) requests %v", first, n, mean)
}

func TestAuthnBasicDisabled(t *testing.T) {
	cfg := harness.Config(t)
	cfg.Auth.Basic.Enabled = false
	s := harness.StartWith(t, cfg)
	for _, c := range []struct{ method, path, body string }{
		{"GET", azV2 + "/accounts", ""},
		{"GET", azV2 + "/accounts/system", ""},
		{"GET", azV2 + "/accounts/system/users/admin", ""},
		{"POST", azV2 + "/accounts", "<account><name>acme</name></account>"},
		{"DELETE", azV2 + "/accounts/system/users/admin", ""},
	} {
		azProblem(t, "system\\admin "+c.method+" "+c.path+" with Basic turned off", s.Admin(c.method, c.path, c.body), 401)
		azProblem(t, "anonymous "+c.method+" "+c.path+" with Basic turned off",
			s.Do(harness.Request{Method: c.method, Path: c.path, Body: c.body}), 401)
	}
	if r := s.Admin("GET", azV2+"/accounts/system/users/admin", ""); r.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("401 without WWW-Authenticate")
	}
}
