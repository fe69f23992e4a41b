package test

// End-to-end tests of sign-in sessions (SPEC §3a, §4, §6): a real
// gatehouse on embedded etcd, the code flow with PKCE driven through the
// sign-in page with golang.org/x/oauth2, the password grant of admin-cli
// and client credentials; the sessions each makes (or does not), their
// fields, a refresh's update, DELETE revoking the family, the cascade on
// disabling and deleting the user, tenancy and the problem documents of
// bad requests. The server reads a manual clock, so "two minutes later"
// and "after expiry" need no sleeping.

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"gatehouse/test/harness"
)

const sesAgent = "sessions-test/1.0"

// sesUA sets the User-Agent of x/oauth2's token requests.
type sesUA struct{}

func (sesUA) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", sesAgent)
	return http.DefaultTransport.RoundTrip(r)
}

// sesCtx is a context whose x/oauth2 requests carry sesAgent.
func sesCtx() context.Context {
	return context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: sesUA{}})
}

// sesInfo is one <session> as rendered.
type sesInfo struct {
	ID, Href, Client, Created, LastUsed, Address, UserAgent, Expires string
}

// sesList reads a sessions collection (as admin unless user is set) and
// returns its sessions by id.
func sesList(t *testing.T, s *harness.Server, path string) map[string]sesInfo {
	t.Helper()
	r := s.Admin("GET", path+"?depth=2", "").Must(t, 200)
	return sesParse(t, r)
}

func sesParse(t *testing.T, r *harness.Response) map[string]sesInfo {
	t.Helper()
	root := r.Root()
	if root == nil || root.Tag != "sessions" {
		t.Fatalf("not a <sessions> document:\n%s", r.Body)
	}
	out := map[string]sesInfo{}
	for _, el := range root.SelectElements("session") {
		out[el.SelectAttrValue("identifier", "")] = sesOf(el.SelectAttrValue("identifier", ""), el.SelectAttrValue("href", ""), func(n string) string {
			if c := el.SelectElement(n); c != nil {
				return c.Text()
			}
			return "\x00missing"
		})
	}
	if n := root.SelectAttrValue("count", ""); n != strconv.Itoa(len(out)) {
		t.Errorf("count=%q but %d sessions listed:\n%s", n, len(out), r.Body)
	}
	return out
}

func sesOf(id, href string, text func(string) string) sesInfo {
	return sesInfo{ID: id, Href: href, Client: text("client"), Created: text("created"), LastUsed: text("last-used"),
		Address: text("address"), UserAgent: text("user-agent"), Expires: text("expires")}
}

// sesOnly is the one session of m not in before (fails unless exactly one).
func sesOnly(t *testing.T, m map[string]sesInfo, before map[string]sesInfo) sesInfo {
	t.Helper()
	var out []sesInfo
	for id, si := range m {
		if _, old := before[id]; !old {
			out = append(out, si)
		}
	}
	if len(out) != 1 {
		t.Fatalf("want exactly one new session, got %d: %v (before %v)", len(out), m, before)
	}
	return out[0]
}

func sesTime(t *testing.T, what, v string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, v)
	if err != nil {
		t.Fatalf("%s %q is not RFC 3339: %v", what, v, err)
	}
	return tm
}

// sesRefresh posts a refresh_token grant for the public client id with
// sesAgent as User-Agent.
func sesRefresh(t *testing.T, s *harness.Server, id, rt string) (int, map[string]any) {
	t.Helper()
	return oaForm(t, s, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {id}},
		"", "", http.Header{"User-Agent": {sesAgent}})
}

// sesCodeFlow signs una in through the page with cfg's client and
// exchanges the code with x/oauth2.
func sesCodeFlow(t *testing.T, s *harness.Server, cfg *oauth2.Config) *oauth2.Token {
	t.Helper()
	code, verifier := ocCode(t, s, cfg, "")
	tok, err := cfg.Exchange(sesCtx(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok
}

func sesPassword(t *testing.T, s *harness.Server, user, pass string, scopes ...string) *oauth2.Token {
	t.Helper()
	tok, err := pwConfig(s, scopes...).PasswordCredentialsToken(sesCtx(), user, pass)
	if err != nil {
		t.Fatalf("password grant for %s: %v", user, err)
	}
	return tok
}

func TestSessions(t *testing.T) {
	start := time.Now().UTC().Truncate(time.Second)
	clock := harness.NewClock(start)
	s := harness.StartClocked(t, harness.Config(t), clock.Now)
	azCreateAccount(t, s, "ocf", "system")
	azAdmin(t, s, "PUT", ocBase+"/permissions", azPermsBody("*"), 204)
	azUserWithRole(t, s, "ocf", "una", clPass, "reader", "auth:*")
	client := ocClient(t, s, true, "auth:users:read", "auth:me:read")
	sessions := ocUser + "/sessions"

	if got := sesList(t, s, sessions); len(got) != 0 {
		t.Fatalf("sessions before any sign-in: %v", got)
	}

	var code sesInfo
	var codeTok *oauth2.Token
	t.Run("code-flow-creates-one", func(t *testing.T) {
		codeTok = sesCodeFlow(t, s, ocConfig(s, client, "auth:users:read", "offline_access"))
		if codeTok.RefreshToken == "" {
			t.Fatal("no refresh token under offline_access")
		}
		got := sesList(t, s, sessions)
		code = sesOnly(t, got, nil)
		if code.Client != client || code.Address != "127.0.0.1" || code.UserAgent != sesAgent {
			t.Errorf("session %+v: want client %s, address 127.0.0.1, user agent %s", code, client, sesAgent)
		}
		if c := sesTime(t, "created", code.Created); !c.Equal(start) {
			t.Errorf("created %v, want the server's clock %v", c, start)
		}
		if code.LastUsed != code.Created {
			t.Errorf("last-used %s, want created %s", code.LastUsed, code.Created)
		}
		// Expires with the refresh token (30 days by default).
		if e := sesTime(t, "expires", code.Expires); e.Before(start.Add(30*24*time.Hour-time.Minute)) || e.After(start.Add(30*24*time.Hour+time.Minute)) {
			t.Errorf("expires %v, want about 30 days after %v", e, start)
		}
		if code.Href != sessions+"/"+code.ID {
			t.Errorf("href %q, want %q", code.Href, sessions+"/"+code.ID)
		}
		// The item document shows the same fields.
		r := s.Admin("GET", code.Href, "").Must(t, 200)
		root := r.Root()
		if root == nil || root.Tag != "session" {
			t.Fatalf("GET %s:\n%s", code.Href, r.Body)
		}
		one := sesOf(root.SelectAttrValue("identifier", ""), root.SelectAttrValue("href", ""), func(n string) string {
			if c := root.SelectElement(n); c != nil {
				return c.Text()
			}
			return ""
		})
		if one != code {
			t.Errorf("item %+v, listed %+v", one, code)
		}
	})

	t.Run("refresh-updates-it", func(t *testing.T) {
		clock.Advance(2 * time.Minute)
		st, out := sesRefresh(t, s, client, codeTok.RefreshToken)
		rt, _ := out["refresh_token"].(string)
		if st != 200 || rt == "" {
			t.Fatalf("refresh: %d %v", st, out)
		}
		codeTok.RefreshToken = rt
		got := sesList(t, s, sessions)
		after, ok := got[code.ID]
		if !ok || len(got) != 1 {
			t.Fatalf("after the refresh the sessions are %v; want the same one session %s (the family keeps its id)", got, code.ID)
		}
		if lu := sesTime(t, "last-used", after.LastUsed); !lu.Equal(start.Add(2 * time.Minute)) {
			t.Errorf("last-used %v after a refresh at %v", lu, start.Add(2*time.Minute))
		}
		if !sesTime(t, "expires", after.Expires).After(sesTime(t, "expires", code.Expires)) {
			t.Errorf("expires %s not moved on by the refresh (was %s)", after.Expires, code.Expires)
		}
		if after.Created != code.Created || after.Client != code.Client {
			t.Errorf("the refresh changed created or client: %+v, was %+v", after, code)
		}
		// A second refresh within the minute succeeds without writing.
		clock.Advance(10 * time.Second)
		st, out = sesRefresh(t, s, client, codeTok.RefreshToken)
		if rt, _ = out["refresh_token"].(string); st != 200 || rt == "" {
			t.Fatalf("second refresh: %d %v", st, out)
		}
		codeTok.RefreshToken = rt
		if again := sesList(t, s, sessions)[code.ID]; again.LastUsed != after.LastUsed {
			t.Errorf("a refresh within a minute rewrote last-used: %s, was %s", again.LastUsed, after.LastUsed)
		}
		code = after
	})

	var pw sesInfo
	var pwTok *oauth2.Token
	t.Run("password-grant-creates-one", func(t *testing.T) {
		before := sesList(t, s, sessions)
		pwTok = sesPassword(t, s, `ocf\una`, clPass, "auth:users:read", "offline_access")
		pw = sesOnly(t, sesList(t, s, sessions), before)
		if pw.Client != "admin-cli" || pw.UserAgent != sesAgent || pw.Address != "127.0.0.1" {
			t.Errorf("password-grant session %+v", pw)
		}
		if pw.ID == code.ID {
			t.Error("the password grant reused the code flow's session id")
		}
	})

	t.Run("client-credentials-create-none", func(t *testing.T) {
		before := sesList(t, s, sessions)
		id, secret := ccClientOf(t, s, ocUser, "auth:users:read")
		tok := oaToken(t, s, id, secret, "auth:users:read")
		oaBearer(s, tok.AccessToken, "GET", ocBase+"/users").Must(t, 200)
		if after := sesList(t, s, sessions); len(after) != len(before) {
			t.Errorf("client credentials made a session: %v, before %v", after, before)
		}
	})

	t.Run("me", func(t *testing.T) {
		r := s.As(`ocf\una`, clPass, "GET", azV2+"/me/sessions?depth=2", "").Must(t, 200)
		mine := sesParse(t, r)
		if len(mine) != 2 || mine[pw.ID].Client != "admin-cli" || mine[code.ID].Client != client {
			t.Fatalf("/me/sessions: %v", mine)
		}
		if h := mine[pw.ID].Href; h != azV2+"/me/sessions/"+pw.ID {
			t.Errorf("/me session href %q", h)
		}
		s.As(`ocf\una`, clPass, "GET", azV2+"/me/sessions/"+pw.ID, "").Must(t, 200)
		azProblem(t, "/me unknown session", s.As(`ocf\una`, clPass, "GET", azV2+"/me/sessions/00000000-0000-0000-0000-000000000000", ""), 404)
	})

	t.Run("delete-revokes", func(t *testing.T) {
		oaBearer(s, pwTok.AccessToken, "GET", ocBase+"/users").Must(t, 200)
		s.Admin("DELETE", pw.Href, "").Must(t, 204)
		got := sesList(t, s, sessions)
		if _, still := got[pw.ID]; still || len(got) != 1 {
			t.Errorf("after DELETE the sessions are %v", got)
		}
		azProblem(t, "GET of the deleted session", s.Admin("GET", pw.Href, ""), 404)
		azProblem(t, "DELETE again", s.Admin("DELETE", pw.Href, ""), 404)
		if st, out := oaForm(t, s, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {pwTok.RefreshToken},
			"client_id": {"admin-cli"}}, "", "", nil); st != 400 || out["error"] != "invalid_grant" {
			t.Errorf("refresh of the deleted session: %d %v, want 400 invalid_grant", st, out)
		}
		oaBearer(s, pwTok.AccessToken, "GET", ocBase+"/users").Must(t, 401)
		// The other session is untouched.
		st, out := sesRefresh(t, s, client, codeTok.RefreshToken)
		if rt, _ := out["refresh_token"].(string); st != 200 || rt == "" {
			t.Fatalf("refresh of the other session: %d %v", st, out)
		} else {
			codeTok.RefreshToken = rt
		}
		// Audited like other deletes.
		es, _ := auAdminList(t, s, "action=delete&account=ocf")
		if len(auFind(es, auEntry{Action: "delete", Target: pw.Href, Outcome: "success", Actor: `system\admin`})) != 1 {
			t.Errorf("no audit entry for the session's delete among %+v", es)
		}
	})

	t.Run("tenancy", func(t *testing.T) {
		azCreateAccount(t, s, "oth", "system")
		azAdmin(t, s, "PUT", azV2+"/accounts/oth/permissions", azPermsBody("*"), 204)
		azUserWithRole(t, s, "oth", "oz", clPass, "admins", "auth:*")
		s.As(`oth\oz`, clPass, "GET", azV2+"/accounts/oth/users/oz/sessions", "").Must(t, 200)
		for _, r := range []*harness.Response{
			s.As(`oth\oz`, clPass, "GET", sessions, ""),
			s.As(`oth\oz`, clPass, "GET", sessions+"/"+code.ID, ""),
			s.As(`oth\oz`, clPass, "DELETE", sessions+"/"+code.ID, ""),
		} {
			azProblem(t, "another account's admin", r, 404)
		}
		if _, ok := sesList(t, s, sessions)[code.ID]; !ok {
			t.Error("another account's admin removed the session")
		}
		// Without the permission: 403.
		azUserWithRole(t, s, "ocf", "nosy", clPass, "user-reader", "auth:users:read")
		azProblem(t, "without auth:users:sessions:read", s.As(`ocf\nosy`, clPass, "GET", sessions, ""), 403)
		azProblem(t, "without auth:users:sessions:delete", s.As(`ocf\nosy`, clPass, "DELETE", sessions+"/"+code.ID, ""), 403)
	})

	t.Run("bad-input", func(t *testing.T) {
		azProblem(t, "unknown session", s.Admin("GET", sessions+"/00000000-0000-0000-0000-000000000000", ""), 404)
		azProblem(t, "DELETE unknown session", s.Admin("DELETE", sessions+"/00000000-0000-0000-0000-000000000000", ""), 404)
		azProblem(t, "unknown user", s.Admin("GET", ocBase+"/users/nobody/sessions", ""), 404)
		azProblem(t, "invalid id", s.Admin("GET", sessions+"/bad$id", ""), 400)
		azProblem(t, "DELETE invalid id", s.Admin("DELETE", sessions+"/.hidden", ""), 400)
		for _, m := range []string{"POST", "PUT", "DELETE"} {
			r := s.Admin(m, sessions, "")
			if azProblem(t, m+" on the collection", r, 405) && !strings.Contains(r.Header.Get("Allow"), "GET") {
				t.Errorf("%s on the collection: Allow %q", m, r.Header.Get("Allow"))
			}
		}
		for _, m := range []string{"POST", "PUT"} {
			r := s.Admin(m, sessions+"/"+code.ID, "<session/>")
			if azProblem(t, m+" on a session", r, 405) && !strings.Contains(r.Header.Get("Allow"), "DELETE") {
				t.Errorf("%s on a session: Allow %q", m, r.Header.Get("Allow"))
			}
		}
		azProblem(t, "DELETE with a body", s.Admin("DELETE", sessions+"/"+code.ID, "<session/>"), 400)
		if _, ok := sesList(t, s, sessions)[code.ID]; !ok {
			t.Error("a refused request removed the session")
		}
	})

	t.Run("disable-removes-all", func(t *testing.T) {
		pw2 := sesPassword(t, s, `ocf\una`, clPass, "auth:users:read", "offline_access")
		if n := len(sesList(t, s, sessions)); n != 2 {
			t.Fatalf("%d sessions before disabling, want 2", n)
		}
		s.Admin("PUT", ocUser, "<user><enabled>false</enabled></user>").Must(t, 204)
		if got := sesList(t, s, sessions); len(got) != 0 {
			t.Errorf("sessions of the disabled user: %v", got)
		}
		s.Admin("PUT", ocUser, "<user><enabled>true</enabled></user>").Must(t, 204)
		if got := sesList(t, s, sessions); len(got) != 0 {
			t.Errorf("enabling the user brought back %v", got)
		}
		if st, out := sesRefresh(t, s, client, codeTok.RefreshToken); st != 400 || out["error"] != "invalid_grant" {
			t.Errorf("refresh of a code-flow session after disable and re-enable: %d %v", st, out)
		}
		if st, out := oaForm(t, s, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {pw2.RefreshToken},
			"client_id": {"admin-cli"}}, "", "", nil); st != 400 || out["error"] != "invalid_grant" {
			t.Errorf("refresh of a password session after disable and re-enable: %d %v", st, out)
		}
		// A new sign-in makes a new session again.
		sesPassword(t, s, `ocf\una`, clPass, "auth:users:read")
		if n := len(sesList(t, s, sessions)); n != 1 {
			t.Errorf("%d sessions after signing in again, want 1", n)
		}
	})

	t.Run("delete-user-removes-them", func(t *testing.T) {
		azAdmin(t, s, "POST", ocBase+"/users", "<user><name>vic</name><password>"+clPass+"</password></user>", 201)
		azAdmin(t, s, "POST", ocBase+"/users/vic/roles", `<role identifier="reader"/>`, 201)
		tok := sesPassword(t, s, `ocf\vic`, clPass, "auth:users:read", "offline_access")
		if n := len(sesList(t, s, ocBase+"/users/vic/sessions")); n != 1 {
			t.Fatalf("%d sessions of vic, want 1", n)
		}
		s.Admin("DELETE", ocBase+"/users/vic", "").Must(t, 204)
		azProblem(t, "sessions of a deleted user", s.Admin("GET", ocBase+"/users/vic/sessions", ""), 404)
		azAdmin(t, s, "POST", ocBase+"/users", "<user><name>vic</name><password>"+clPass+"</password></user>", 201)
		if got := sesList(t, s, ocBase+"/users/vic/sessions"); len(got) != 0 {
			t.Errorf("a new user of the deleted user's name has sessions %v", got)
		}
		if st, out := oaForm(t, s, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
			"client_id": {"admin-cli"}}, "", "", nil); st != 400 || out["error"] != "invalid_grant" {
			t.Errorf("refresh of the deleted user's session: %d %v", st, out)
		}
	})

	t.Run("expired-not-listed", func(t *testing.T) {
		// Without offline_access a session lasts as long as its access
		// token (10 minutes by default).
		before := sesList(t, s, sessions)
		sesPassword(t, s, `ocf\una`, clPass, "auth:users:read")
		short := sesOnly(t, sesList(t, s, sessions), before)
		if e, c := sesTime(t, "expires", short.Expires), sesTime(t, "created", short.Created); e.Sub(c) < 9*time.Minute || e.Sub(c) > 11*time.Minute {
			t.Errorf("a session without refresh token expires %v after creation, want the access token's 10 minutes", e.Sub(c))
		}
		clock.Advance(11 * time.Minute)
		if _, ok := sesList(t, s, sessions)[short.ID]; ok {
			t.Error("an expired session is listed")
		}
		azProblem(t, "GET of an expired session", s.Admin("GET", short.Href, ""), 404)
	})
}
