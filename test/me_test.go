package test

// End-to-end tests of /auth/v2/me (SPEC §3a own password, §4, §5, §6):
// the signed-in user's own document and subtree under auth:me:*.

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse/test/harness"
)

const (
	meBase  = azV2 + "/me"
	meUser  = azV2 + "/accounts/meco/users/mia"
	mePass  = "me-password-1"
	mePass2 = "me-password-2"
)

// meSetup: account meco with its starter roles; mia (role users: the
// default self-service permissions, and through group team role
// reporting) with attribute color; nate with a password and no roles;
// olga, mia's fellow member of team.
func meSetup(t *testing.T, s *harness.Server) {
	t.Helper()
	azCreateAccount(t, s, "meco", "system")
	azAdmin(t, s, "POST", azV2+"/accounts/meco/users",
		"<user><name>mia</name><password>"+mePass+"</password><email>mia@example.com</email><full-name>Mia M</full-name></user>", 201)
	azAdmin(t, s, "POST", meUser+"/roles", `<role identifier="users"/>`, 201)
	azAdmin(t, s, "POST", azV2+"/accounts/meco/groups", "<group><name>team</name></group>", 201)
	azAdmin(t, s, "POST", azV2+"/accounts/meco/groups/team/roles", `<role identifier="reporting"/>`, 201)
	azAdmin(t, s, "POST", meUser+"/groups", `<group identifier="team"/>`, 201)
	azAdmin(t, s, "POST", meUser+"/attributes", "<attribute><name>color</name><value>blue</value></attribute>", 201)
	azAdmin(t, s, "POST", azV2+"/accounts/meco/users", "<user><name>nate</name><password>"+mePass+"</password></user>", 201)
	azAdmin(t, s, "POST", azV2+"/accounts/meco/users", "<user><name>olga</name><email>olga@example.com</email></user>", 201)
	azAdmin(t, s, "POST", azV2+"/accounts/meco/groups/team/users", `<user identifier="olga"/>`, 201)
}

// meMoved maps an /accounts/meco/users/mia document to the one /me shows
// mia (SPEC §3c, links the reader may follow): the user and what /me
// serves move under /me; mia (roles users, and reporting through group
// team) may open nothing at an account path, so every other link loses
// its href — a reference keeps its identifier, a permission reference
// shows its permission as text, and granted-by names the role, or links
// /me/roles/{r} when mia holds the role directly (users).
func meMoved(body string) string {
	r := strings.NewReplacer(
		meUser+`"`, meBase+`"`,
		meUser+"/api-keys", meBase+"/api-keys",
		meUser+"/attributes", meBase+"/attributes",
		meUser+"/groups", meBase+"/groups",
		meUser+"/permissions", meBase+"/permissions",
		meUser+"/roles", meBase+"/roles",
		meUser+"/sessions", meBase+"/sessions",
		meUser+"/totp", meBase+"/totp",
		`granted-by="`+azV2+`/accounts/meco/roles/users"`, `granted-by="`+meBase+`/roles/users"`,
		// GET /me/roles/users shows the role at its /me address.
		`<role identifier="users" href="`+azV2+`/accounts/meco/roles/users"`, `<role identifier="users" href="`+meBase+`/roles/users"`,
	)
	body = r.Replace(body)
	body = meGrantedBy.ReplaceAllString(body, `granted-by="$1"`)
	body = mePermRef.ReplaceAllString(body, `<permission>$1</permission>`)
	return meAccountHref.ReplaceAllString(body, "")
}

var (
	meGrantedBy   = regexp.MustCompile(`granted-by="/auth/v2/accounts/meco/roles/([^"/]+)"`)
	mePermRef     = regexp.MustCompile(`<permission href="/auth/v2/accounts/[^"]*/permissions/([^"/]+)"/>`)
	meAccountHref = regexp.MustCompile(` href="/auth/v2/accounts/[^"]*"`)
)

// meGetPaths are the /me reads, relative to /me and to the user's path.
var meGetPaths = []string{"", "/attributes", "/attributes/color", "/roles", "/roles/users", "/groups", "/groups/team",
	"/permissions", "/permissions/auth:me:read", "/permissions/auth:me:attributes:read", "/permissions/reporting:tasks:read"}

func TestMeDocuments(t *testing.T) {
	s := harness.Start(t)
	meSetup(t, s)
	mia := func(method, path, body string) *harness.Response { return s.As(`meco\mia`, mePass, method, path, body) }

	t.Run("same-documents-as-the-user's", func(t *testing.T) {
		// mia's first sign-in records last-login in the background; wait
		// for it so both documents show it.
		azCheck(t, "mia signs in", mia("GET", meBase, ""), 200)
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if strings.Contains(azAdmin(t, s, "GET", meUser, "", 200).Body, "<last-login>") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("mia's last-login never showed")
			}
		}
		for _, p := range meGetPaths {
			for _, q := range []string{"", "?depth=0", "?depth=2"} {
				got := mia("GET", meBase+p+q, "")
				if !azCheck(t, "mia GET /me"+p+q, got, 200) {
					continue
				}
				ref := azAdmin(t, s, "GET", meUser+p+q, "", 200)
				if want := meMoved(ref.Body); got.Body != want {
					t.Errorf("GET /me%s%s differs from GET %s%s%s with hrefs moved:\n/me:\n%s\nwant:\n%s", p, q, meUser, p, q, got.Body, want)
				}
			}
		}
		// Deeper, the user's groups show their members: another user
		// shows as a reference only, never with its fields.
		for _, p := range []string{"?depth=5", "/groups?depth=4", "/groups/team?depth=3"} {
			r := mia("GET", meBase+p, "")
			if !azCheck(t, "mia GET /me"+p, r, 200) {
				continue
			}
			if !strings.Contains(r.Body, `<user identifier="olga"/>`) ||
				strings.Contains(r.Body, "olga@example.com") {
				t.Errorf("GET /me%s does not show fellow member olga as a bare reference:\n%s", p, r.Body)
			}
			if ref := azAdmin(t, s, "GET", strings.Replace(meBase+p, meBase, meUser, 1), "", 200); !strings.Contains(ref.Body, "olga@example.com") {
				t.Errorf("the fixture is wrong: GET %s%s does not expand olga", meUser, p)
			}
		}
		r := mia("GET", meBase, "")
		if !strings.Contains(r.Body, `<user identifier="mia" href="/auth/v2/me">`) ||
			!strings.Contains(r.Body, `<attributes count="1" href="/auth/v2/me/attributes"/>`) {
			t.Errorf("GET /me does not show the user at /auth/v2/me:\n%s", r.Body)
		}
		r = mia("GET", meBase+"/permissions/print:jobs:release", "")
		if azCheck(t, "GET /me/permissions/print:jobs:release", r, 200) &&
			r.Root().SelectAttrValue("granted-by", "") != meBase+"/roles/users" {
			t.Errorf("the grant does not link role users at /me:\n%s", r.Body)
		}
		r = mia("GET", meBase+"/permissions/reporting:tasks:read", "")
		if azCheck(t, "GET /me/permissions/reporting:tasks:read", r, 200) && r.Root().SelectAttrValue("granted-by", "") != "reporting" {
			t.Errorf("a grant through group team does not name role reporting plainly:\n%s", r.Body)
		}
		azProblem(t, "GET /me/permissions/filtering:policies:update (not held)", mia("GET", meBase+"/permissions/filtering:policies:update", ""), 404)
		azProblem(t, "GET /me/attributes/nope", mia("GET", meBase+"/attributes/nope", ""), 404)
		azProblem(t, "GET /me/roles/administrators (not held)", mia("GET", meBase+"/roles/administrators", ""), 404)
		azProblem(t, "GET /me/groups/nope", mia("GET", meBase+"/groups/nope", ""), 404)
		azProblem(t, "GET /me/permissions/print::x (invalid)", mia("GET", meBase+"/permissions/print::x", ""), 400)
		// Conditional requests work as on every GET.
		etag := mia("GET", meBase, "").Header.Get("ETag")
		r = s.Do(harness.Request{Method: "GET", Path: meBase, User: `meco\mia`, Pass: mePass, Header: map[string][]string{"If-None-Match": {etag}}})
		azCheck(t, "GET /me with If-None-Match", r, 304)
		azCheck(t, "HEAD /me", mia("HEAD", meBase, ""), 200)
	})

	t.Run("own-attributes", func(t *testing.T) {
		r := mia("PUT", meBase+"/attributes/shoe", "<attribute><value>42</value></attribute>")
		if azCheck(t, "PUT /me/attributes/shoe (new)", r, 201) {
			if loc := r.Header.Get("Location"); loc != meBase+"/attributes/shoe" {
				t.Errorf("Location %q, want %s", loc, meBase+"/attributes/shoe")
			}
			if r.Root().SelectAttrValue("href", "") != meBase+"/attributes/shoe" {
				t.Errorf("the created attribute is not shown at its /me href:\n%s", r.Body)
			}
		}
		azCheck(t, "PUT /me/attributes/shoe (update)", mia("PUT", meBase+"/attributes/shoe", "<attribute><value>43</value></attribute>"), 204)
		r = azAdmin(t, s, "GET", meUser+"/attributes/shoe", "", 200)
		if v := r.Root().SelectElement("value"); v == nil || v.Text() != "43" {
			t.Errorf("after PUT /me/attributes/shoe the user's attribute is:\n%s", r.Body)
		}
		azProblem(t, "PUT /me/attributes/shoe naming another", mia("PUT", meBase+"/attributes/shoe", "<attribute><name>hat</name></attribute>"), 400)
		azCheck(t, "DELETE /me/attributes/shoe", mia("DELETE", meBase+"/attributes/shoe", ""), 204)
		azAdmin(t, s, "GET", meUser+"/attributes/shoe", "", 404)
		azCheck(t, "PUT /me/attributes (replace)", mia("PUT", meBase+"/attributes",
			"<attributes><attribute><name>color</name><value>red</value></attribute><attribute><name>size</name><value>m</value></attribute></attributes>"), 204)
		r = azAdmin(t, s, "GET", meUser+"/attributes?depth=2", "", 200)
		if got := strings.Join(azTexts(r, "attribute"), ","); !strings.Contains(r.Body, "<value>red</value>") || azCount(r) != "2" {
			t.Errorf("after replacing: attributes %s, count %s:\n%s", got, azCount(r), r.Body)
		}
		azProblem(t, "PUT /me/attributes with an invalid name", mia("PUT", meBase+"/attributes",
			"<attributes><attribute><name>a b</name><value>x</value></attribute></attributes>"), 400)
		// Nobody else's attributes changed.
		r = azAdmin(t, s, "GET", azV2+"/accounts/meco/users/nate/attributes", "", 200)
		if azCount(r) != "0" {
			t.Errorf("nate's attributes changed:\n%s", r.Body)
		}
	})

	t.Run("without-the-self-service-permissions-403", func(t *testing.T) {
		nate := func(method, path, body string) *harness.Response {
			return s.As(`meco\nate`, mePass, method, path, body)
		}
		for _, p := range meGetPaths {
			azProblem(t, "nate GET /me"+p, nate("GET", meBase+p, ""), 403)
		}
		azProblem(t, "nate PUT /me/attributes", nate("PUT", meBase+"/attributes", "<attributes/>"), 403)
		azProblem(t, "nate PUT /me/attributes/x", nate("PUT", meBase+"/attributes/x", "<attribute><value>v</value></attribute>"), 403)
		azProblem(t, "nate DELETE /me/attributes/x", nate("DELETE", meBase+"/attributes/x", ""), 403)
		azProblem(t, "nate PUT /me/password", nate("PUT", meBase+"/password",
			"<password><old-password>"+mePass+"</old-password><new-password>"+mePass2+"</new-password></password>"), 403)
		azCheck(t, "nate's password is unchanged", nate("GET", azV2+"/accounts/meco", ""), 403)
		// auth:me:read alone shows /me but not its sub-collections;
		// auth:me:*:read grants them all.
		azAdmin(t, s, "POST", azV2+"/accounts/meco/roles", azRole("me-only", "auth:me:read"), 201)
		azAdmin(t, s, "POST", azV2+"/accounts/meco/users/nate/roles", `<role identifier="me-only"/>`, 201)
		azCheck(t, "nate with auth:me:read GET /me", nate("GET", meBase, ""), 200)
		azProblem(t, "nate with auth:me:read GET /me/attributes", nate("GET", meBase+"/attributes", ""), 403)
		azAdmin(t, s, "PUT", azV2+"/accounts/meco/roles/me-only/permissions/auth:me:*:read", "", 201)
		for _, p := range []string{"/attributes", "/roles", "/groups", "/permissions"} {
			azCheck(t, "nate with auth:me:*:read GET /me"+p, nate("GET", meBase+p, ""), 200)
		}
		azProblem(t, "nate with only reads PUT /me/attributes", nate("PUT", meBase+"/attributes", "<attributes/>"), 403)
	})
}

func mePasswordBody(old, nw string) string {
	return "<password><old-password>" + old + "</old-password><new-password>" + nw + "</new-password></password>"
}

func TestMePassword(t *testing.T) {
	s := harness.Start(t)
	meSetup(t, s)
	as := func(pass, method, path, body string) *harness.Response {
		return s.As(`meco\mia`, pass, method, path, body)
	}

	t.Run("wrong-old-password-changes-nothing", func(t *testing.T) {
		azCheck(t, "mia signs in", as(mePass, "GET", meBase, ""), 200)
		azProblem(t, "PUT /me/password with a wrong old password", as(mePass, "PUT", meBase+"/password", mePasswordBody("wrong-password-9", mePass2)), 403)
		azCheck(t, "the old password still works", as(mePass, "GET", meBase, ""), 200)
		an401(t, "the new one does not", as(mePass2, "GET", meBase, ""))
	})

	t.Run("bad-bodies-are-400", func(t *testing.T) {
		for _, c := range []struct{ what, body, detail string }{
			{"the admin shape", "<password>" + mePass2 + "</password>", "stray text"},
			{"no old password", "<password><new-password>" + mePass2 + "</new-password></password>", "old-password"},
			{"no new password", "<password><old-password>" + mePass + "</old-password></password>", "new-password"},
			{"too short", mePasswordBody(mePass, "short"), "policy"},
			{"unknown field", "<password><old-password>" + mePass + "</old-password><new-password>" + mePass2 + "</new-password><x/></password>", "unknown field"},
			{"duplicated field", "<password><old-password>" + mePass + "</old-password><old-password>" + mePass + "</old-password><new-password>" + mePass2 + "</new-password></password>", "more than once"},
			{"same as the old", mePasswordBody(mePass, mePass), "differ"},
		} {
			r := as(mePass, "PUT", meBase+"/password", c.body)
			if azProblem(t, c.what, r, 400) && !strings.Contains(r.Body, c.detail) {
				t.Errorf("%s: the detail does not say %q:\n%s", c.what, c.detail, r.Body)
			}
		}
		azCheck(t, "the password is unchanged", as(mePass, "GET", meBase, ""), 200)
	})

	t.Run("right-old-password-changes-it", func(t *testing.T) {
		azCheck(t, "mia signs in (the credentials are now cached)", as(mePass, "GET", meBase, ""), 200)
		azCheck(t, "PUT /me/password", as(mePass, "PUT", meBase+"/password", mePasswordBody(mePass, mePass2)), 204)
		an401(t, "the old password stops working at once", as(mePass, "GET", meBase, ""))
		azCheck(t, "the new one works", as(mePass2, "GET", meBase, ""), 200)
		// Changing it back is reuse: the password policy's history rule.
		azProblem(t, "and back", as(mePass2, "PUT", meBase+"/password", mePasswordBody(mePass2, mePass)), 400)
	})

	t.Run("an-expired-password-can-be-changed-and-nothing-else", func(t *testing.T) {
		// mia's password is mePass2 now; mePass3 is a new one.
		const mePass3 = "me-password-3"
		azAdmin(t, s, "PUT", meUser, "<user><password-expired>true</password-expired></user>", 204)
		an401(t, "expired: GET /me", as(mePass2, "GET", meBase, ""))
		an401(t, "expired: PUT /me/attributes", as(mePass2, "PUT", meBase+"/attributes", "<attributes/>"))
		an401(t, "expired: with a wrong password", as("wrong-password-9", "PUT", meBase+"/password", mePasswordBody(mePass2, mePass3)))
		azProblem(t, "expired: wrong old password", as(mePass2, "PUT", meBase+"/password", mePasswordBody("wrong-password-9", mePass3)), 403)
		azCheck(t, "expired: PUT /me/password", as(mePass2, "PUT", meBase+"/password", mePasswordBody(mePass2, mePass3)), 204)
		r := as(mePass3, "GET", meBase, "")
		if azCheck(t, "signs in with the new password", r, 200) {
			if e := r.Root().SelectElement("password-expired"); e == nil || e.Text() != "false" {
				t.Errorf("password-expired is not cleared:\n%s", r.Body)
			}
		}
		an401(t, "the old password does not work", as(mePass2, "GET", meBase, ""))
	})
}

// A wrong old password counts as a failed sign-in for the throttle. A
// Basic-authenticated request clears its user's own count, so what
// blocks is the client address's count.
func TestMePasswordThrottle(t *testing.T) {
	cfg := harness.Config(t)
	cfg.Auth.Throttle.AddressFailures = 2
	s := harness.StartWith(t, cfg)
	meSetup(t, s)
	for range 2 {
		azProblem(t, "wrong old password", s.As(`meco\mia`, mePass, "PUT", meBase+"/password", mePasswordBody("wrong-password-9", mePass2)), 403)
	}
	azProblem(t, "after two wrong old passwords, the right credentials", s.As(`meco\mia`, mePass, "GET", meBase, ""), 429)
}
