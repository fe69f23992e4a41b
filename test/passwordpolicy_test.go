package test

import (
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"gatehouse/test/harness"
)

// The password policy (issue 11, item 6; SPEC §3c): each rule refused
// with its own message and <rule>, on the administrator's routes and on
// PUT /me/password; 64 characters of emoji accepted and usable with HTTP
// Basic; expiry by auth.password.max-age on an injected clock.

const (
	ppAccount = "harbour"
	ppUser    = "quinn"
	ppPass1   = "tidal-otter-lantern-1"
	ppPass2   = "tidal-otter-lantern-2"
	ppPass3   = "tidal-otter-lantern-3"
)

var (
	ppUsers = "/auth/v2/accounts/" + ppAccount + "/users"
	ppQuinn = ppUsers + "/" + ppUser
)

// ppSetup creates account harbour and users quinn and rory with ppPass1
// and the starter role users (self-service).
func ppSetup(t *testing.T, s *harness.Server) {
	t.Helper()
	azCreateAccount(t, s, ppAccount, "system")
	for _, u := range []string{ppUser, "rory"} {
		s.Admin("POST", ppUsers, "<user><name>"+u+"</name><password>"+ppPass1+"</password></user>").Must(t, http.StatusCreated)
		s.Admin("POST", ppUsers+"/"+u+"/roles", `<role identifier="users"/>`).Must(t, http.StatusCreated)
	}
}

// ppRefused checks that r is a 400 problem whose <rule> is rule and whose
// detail names the rule and contains each of says.
func ppRefused(t *testing.T, what string, r *harness.Response, rule string, says ...string) {
	t.Helper()
	if !azProblem(t, what, r, http.StatusBadRequest) {
		return
	}
	root := r.Root()
	el := root.SelectElement("rule")
	if el == nil {
		t.Errorf("%s: no <rule> in the problem:\n%s", what, r.Body)
		return
	}
	if el.Text() != rule {
		t.Errorf("%s: <rule>%s</rule>, want %s", what, el.Text(), rule)
	}
	detail := root.SelectElement("detail")
	if detail == nil || !strings.Contains(detail.Text(), "rule "+rule) {
		t.Errorf("%s: the detail does not name rule %s:\n%s", what, rule, r.Body)
		return
	}
	for _, s := range says {
		if !strings.Contains(detail.Text(), s) {
			t.Errorf("%s: the detail %q does not say %q", what, detail.Text(), s)
		}
	}
}

// ppMe is quinn's own password change.
func ppMe(s *harness.Server, cur, nw string) *harness.Response {
	return s.As(ppAccount+`\`+ppUser, cur, "PUT", "/auth/v2/me/password", mePasswordBody(cur, nw))
}

func ppAdminSet(s *harness.Server, pw string) *harness.Response {
	return s.Admin("PUT", ppQuinn+"/password", "<password>"+pw+"</password>")
}

// ppExpiredField is the user document's password-expired.
func ppExpiredField(t *testing.T, r *harness.Response) string {
	t.Helper()
	r.Must(t, http.StatusOK)
	el := r.Root().SelectElement("password-expired")
	if el == nil {
		t.Fatalf("no <password-expired> in:\n%s", r.Body)
	}
	return el.Text()
}

func TestPasswordPolicyRules(t *testing.T) {
	s := harness.Start(t) // defaults: 8..256 characters, history 5
	ppSetup(t, s)
	long := strings.Repeat("otter-", 43)[:257]
	rules := []struct {
		rule, pw string
		says     []string
	}{
		{"min-length", "otter-7", []string{"too short", "7 characters, minimum 8"}},
		{"max-length", long, []string{"too long", "257 characters, maximum 256"}},
		{"common", "Password123", []string{"common and breached"}},
		{"common", "            ", []string{"blank"}},
		{"contains-name", "the-QUINN-otter-9", []string{`"quinn"`}},
		{"contains-name", "harbour-otter-99", []string{`"harbour"`}},
	}
	for _, rc := range rules {
		ppRefused(t, "admin PUT …/password ("+rc.rule+")", ppAdminSet(s, rc.pw), rc.rule, rc.says...)
		ppRefused(t, "admin PUT user <password> ("+rc.rule+")",
			s.Admin("PUT", ppQuinn, "<user><password>"+rc.pw+"</password></user>"), rc.rule, rc.says...)
		ppRefused(t, "PUT /me/password ("+rc.rule+")", ppMe(s, ppPass1, rc.pw), rc.rule, rc.says...)
	}
	// Creating a user applies the rules too, with the body's name.
	ppRefused(t, "POST a user whose password holds its name",
		s.Admin("POST", ppUsers, "<user><name>rowan</name><password>rowan-otter-77</password></user>"), "contains-name", `"rowan"`)
	ppRefused(t, "POST a user with a common password",
		s.Admin("POST", ppUsers, "<user><name>rowan</name><password>iloveyou</password></user>"), "common")
	// Nothing was changed by the refusals.
	azCheck(t, "quinn still signs in with the first password", s.As(ppAccount+`\`+ppUser, ppPass1, "GET", "/auth/v2/me", ""), 200)

	// history: p1 (current), p2, then p1 again is refused, on both routes.
	ppRefused(t, "admin sets the current password again", ppAdminSet(s, ppPass1), "history", "used before")
	ppAdminSet(s, ppPass2).Must(t, http.StatusNoContent)
	ppRefused(t, "admin sets p1 again after p2", ppAdminSet(s, ppPass1), "history", "used before")
	ppRefused(t, "admin PUT user with p1 again",
		s.Admin("PUT", ppQuinn, "<user><password>"+ppPass1+"</password></user>"), "history")
	ppRefused(t, "PUT /me/password to the same password", ppMe(s, ppPass2, ppPass2), "history", "differ")
	ppRefused(t, "PUT /me/password back to p1", ppMe(s, ppPass2, ppPass1), "history", "used before")
	ppMe(s, ppPass2, ppPass3).Must(t, http.StatusNoContent)
	ppRefused(t, "PUT /me/password back to p2", ppMe(s, ppPass3, ppPass2), "history", "used before")
	// Removing the password and setting an old one again is still reuse.
	s.Admin("DELETE", ppQuinn+"/password", "").Must(t, http.StatusNoContent)
	ppRefused(t, "admin sets p3 after removing it", ppAdminSet(s, ppPass3), "history")

	// 64 characters with emoji: accepted, and HTTP Basic signs in with
	// them (the credentials are UTF-8).
	emoji := strings.Repeat("🦊🌲", 30) + "ñ-Ω"
	if n := utf8.RuneCountInString(emoji); n != 63 {
		t.Fatalf("test password has %d characters", n)
	}
	emoji += "€" // 64 characters, 250 bytes
	ppAdminSet(s, emoji).Must(t, http.StatusNoContent)
	azCheck(t, "Basic sign-in with 64 characters of emoji", s.As(ppAccount+`\`+ppUser, emoji, "GET", "/auth/v2/me", ""), 200)
	an401(t, "the same password without its last character", s.As(ppAccount+`\`+ppUser, strings.TrimSuffix(emoji, "€"), "GET", "/auth/v2/me", ""))
	emoji2 := strings.Repeat("🔑", 64)
	ppMe(s, emoji, emoji2).Must(t, http.StatusNoContent)
	azCheck(t, "Basic sign-in after changing to 64 key emoji", s.As(ppAccount+`\`+ppUser, emoji2, "GET", "/auth/v2/me", ""), 200)
}

func TestPasswordPolicyHistoryOff(t *testing.T) {
	cfg := harness.Config(t)
	cfg.Auth.Password.History = 0
	s := harness.StartWith(t, cfg)
	ppSetup(t, s)
	ppAdminSet(s, ppPass2).Must(t, http.StatusNoContent)
	ppAdminSet(s, ppPass1).Must(t, http.StatusNoContent) // p1 again: nothing is remembered
	ppAdminSet(s, ppPass1).Must(t, http.StatusNoContent) // not even the current one
	ppMe(s, ppPass1, ppPass2).Must(t, http.StatusNoContent)
	ppMe(s, ppPass2, ppPass1).Must(t, http.StatusNoContent)
	// Typing the old password as the new one is still refused.
	ppRefused(t, "PUT /me/password to the same password", ppMe(s, ppPass1, ppPass1), "history", "differ")
	azCheck(t, "quinn signs in with p1", s.As(ppAccount+`\`+ppUser, ppPass1, "GET", "/auth/v2/me", ""), 200)
}

func TestPasswordPolicyMaxAge(t *testing.T) {
	const maxAge = 90 * 24 * time.Hour
	cfg := harness.Config(t)
	cfg.Auth.Password.MaxAge = maxAge
	clock := harness.NewClock(time.Now())
	s := harness.StartClocked(t, cfg, clock.Now)
	ppSetup(t, s)
	quinn := func(pass, method, path, body string) *harness.Response {
		return s.As(ppAccount+`\`+ppUser, pass, method, path, body)
	}

	fresh := s.Admin("GET", ppQuinn, "")
	if got := ppExpiredField(t, fresh); got != "false" {
		t.Fatalf("a new password shows password-expired %s", got)
	}
	etag := fresh.Header.Get("ETag")
	azCheck(t, "quinn signs in", quinn(ppPass1, "GET", "/auth/v2/me", ""), 200)

	clock.Advance(maxAge - time.Minute)
	azCheck(t, "a minute before max-age quinn still signs in", quinn(ppPass1, "GET", "/auth/v2/me", ""), 200)
	clock.Advance(2 * time.Minute)

	// The bootstrap admin has no change time: its password counts from
	// its creation, so it has expired too and must change it first.
	r := s.Admin("GET", ppQuinn, "")
	an401(t, "the admin's own password has expired", r)
	if !strings.Contains(r.Body, "expired") {
		t.Errorf("the refusal does not say expired:\n%s", r.Body)
	}
	const adminPass = "keeper-of-the-gate-2"
	s.Do(harness.Request{Method: "PUT", Path: "/auth/v2/me/password", User: `system\admin`, Pass: harness.AdminPassword,
		Body: mePasswordBody(harness.AdminPassword, adminPass)}).Must(t, http.StatusNoContent)
	admin := func(method, path, body string) *harness.Response {
		return s.As(`system\admin`, adminPass, method, path, body)
	}

	// quinn's document shows the expiry, also to a conditional GET with
	// the ETag from before (the record did not change, the answer did).
	r = s.Do(harness.Request{Method: "GET", Path: ppQuinn, User: `system\admin`, Pass: adminPass,
		Header: http.Header{"If-None-Match": {etag}}})
	if got := ppExpiredField(t, r); got != "true" {
		t.Errorf("after max-age the user document shows password-expired %s", got)
	}
	r = quinn(ppPass1, "GET", "/auth/v2/me", "")
	an401(t, "Basic sign-in with an expired password", r)
	if !strings.Contains(r.Body, "expired") {
		t.Errorf("the refusal does not say expired:\n%s", r.Body)
	}

	// Changing the password clears it: the user's own change…
	quinn(ppPass1, "PUT", "/auth/v2/me/password", mePasswordBody(ppPass1, ppPass2)).Must(t, http.StatusNoContent)
	azCheck(t, "quinn signs in with the new password", quinn(ppPass2, "GET", "/auth/v2/me", ""), 200)
	if got := ppExpiredField(t, admin("GET", ppQuinn, "")); got != "false" {
		t.Errorf("after the change the user document shows password-expired %s", got)
	}
	// …and an administrator's.
	if got := ppExpiredField(t, admin("GET", ppUsers+"/rory", "")); got != "true" {
		t.Errorf("rory's password-expired %s", got)
	}
	admin("PUT", ppUsers+"/rory/password", "<password>"+ppPass3+"</password>").Must(t, http.StatusNoContent)
	if got := ppExpiredField(t, admin("GET", ppUsers+"/rory", "")); got != "false" {
		t.Errorf("after an administrator's change rory's password-expired %s", got)
	}
	azCheck(t, "rory signs in", s.As(ppAccount+`\rory`, ppPass3, "GET", "/auth/v2/me", ""), 200)

	// And it expires again a max-age later.
	clock.Advance(maxAge)
	an401(t, "quinn a max-age after the change", quinn(ppPass2, "GET", "/auth/v2/me", ""))
}
