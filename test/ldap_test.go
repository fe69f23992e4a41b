package test

// End-to-end tests of LDAP integration (SPEC §8, §8a) against a real
// slapd (ldapdir/slapdtest, TLS for StartTLS): an ldap provider created
// through the providers resource and an account rule mapping the LDAP
// group printadmins to a role; LDAP users signing in through admin-cli's
// password grant and HTTP Basic become just-in-time users with the
// rule's role; wrong, empty, injected and unknown credentials are
// refused alike; a wrong CA is an outage (503), not a wrong password; a
// directory group change shows at the next sign-in; the directory sync
// of more than 10,000 entries reports progress while it runs and
// disables the users whose entries are gone.

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"gatehouse/ldapdir/slapdtest"
	"gatehouse/test/harness"
)

// ldProvider is the body of an ldap provider for slapd srv trusting ca.
func ldProvider(name string, srv *slapdtest.Server, ca string) string {
	return "<provider><name>" + name + "</name><type>ldap</type><url>" + srv.URL + "</url>" +
		"<start-tls>true</start-tls><ca>" + pvEscape(ca) + "</ca>" +
		"<bind-dn>" + slapdtest.ServiceDN + "</bind-dn><bind-password>" + slapdtest.ServicePassword + "</bind-password>" +
		"<user-base>" + slapdtest.PeopleBase + "</user-base></provider>"
}

// ldSetup creates account a with roles printing (print:*, auth:me:read)
// and member (auth:me:read), the rules printadmins → printing and
// people (any entry under PeopleBase) → member, and ldap provider dir
// for srv.
func ldSetup(t *testing.T, s *harness.Server, a string, srv *slapdtest.Server, ca string) {
	t.Helper()
	base := azV2 + "/accounts/" + a
	azCreateAccount(t, s, a, "system")
	azAdmin(t, s, "PUT", base+"/permissions", azPermsBody("*"), 204)
	azAdmin(t, s, "POST", base+"/roles", "<role><name>printing</name>"+azPermsBody("print:*", "auth:me:read")+"</role>", 201)
	azAdmin(t, s, "POST", base+"/rules", `<rule><name>printadmins</name><conditions><condition><type>ldap</type>`+
		`<attribute>groups</attribute><pattern>printadmins</pattern></condition></conditions>`+
		`<roles><role identifier="printing"/></roles></rule>`, 201)
	// Every person of the directory may read /me.
	azAdmin(t, s, "POST", base+"/roles", "<role><name>member</name>"+azPermsBody("auth:me:read")+"</role>", 201)
	azAdmin(t, s, "POST", base+"/rules", `<rule><name>people</name><conditions><condition><type>ldap</type>`+
		`<attribute>dn</attribute><pattern>*,`+slapdtest.PeopleBase+`</pattern></condition></conditions>`+
		`<roles><role identifier="member"/></roles></rule>`, 201)
	azAdmin(t, s, "POST", base+"/providers", ldProvider("dir", srv, ca), 201)
}

// ldRoot is a root connection to slapd, for changing the directory.
func ldRoot(t *testing.T, srv *slapdtest.Server) *ldap.Conn {
	t.Helper()
	conn, err := ldap.DialURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.Bind(slapdtest.RootDN, slapdtest.RootPassword); err != nil {
		t.Fatal(err)
	}
	return conn
}

// ldEffective is the user's effective permissions.
func ldEffective(t *testing.T, s *harness.Server, a, u string) []string {
	t.Helper()
	r := azAdmin(t, s, "GET", azV2+"/accounts/"+a+"/users/"+u+"/permissions?depth=2", "", 200)
	return azTexts(r, "permission")
}

func TestLDAPSignIn(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{TLS: true})
	s := harness.Start(t)
	ctx := context.Background()
	ldSetup(t, s, "ldco", srv, srv.CAPEM)

	// The provider shows what was stored, never the bind password.
	r := azAdmin(t, s, "GET", azV2+"/accounts/ldco/providers/dir", "", 200)
	if strings.Contains(r.Body, slapdtest.ServicePassword) || !strings.Contains(r.Body, "<start-tls>true</start-tls>") {
		t.Fatalf("provider document:\n%s", r.Body)
	}

	t.Run("password grant: JIT user with the rule's role", func(t *testing.T) {
		tok, err := pwConfig(s).PasswordCredentialsToken(ctx, `ldco\alice`, "alice-pw")
		if err != nil {
			t.Fatalf("password grant for an LDAP user: %v", err)
		}
		oaBearer(s, tok.AccessToken, "GET", azV2+"/me").Must(t, 200)
		u := azAdmin(t, s, "GET", azV2+"/accounts/ldco/users/alice", "", 200)
		if !strings.Contains(u.Body, "alice@example.org") {
			t.Errorf("JIT user alice lacks the mapped e-mail:\n%s", u.Body)
		}
		if eff := ldEffective(t, s, "ldco", "alice"); !slices.Contains(eff, "print:*") {
			t.Errorf("alice's effective permissions %v lack print:* from the printadmins rule", eff)
		}
		fed := azAdmin(t, s, "GET", azV2+"/accounts/ldco/users/alice/federated", "", 200)
		if !strings.Contains(fed.Body, "/auth/v2/federated/ldap/principals/ldco:dir:alice") {
			t.Errorf("alice is not linked to her ldap principal:\n%s", fed.Body)
		}
	})

	t.Run("HTTP Basic: JIT user with the rule's role", func(t *testing.T) {
		me := s.As(`ldco\bob`, "bob-pw", "GET", azV2+"/me", "").Must(t, 200)
		if !strings.Contains(me.Body, "bob") {
			t.Errorf("/me of bob:\n%s", me.Body)
		}
		if eff := ldEffective(t, s, "ldco", "bob"); !slices.Contains(eff, "print:*") {
			t.Errorf("bob's effective permissions %v lack print:*", eff)
		}
		// Again: the existing link, not a second user.
		s.As(`ldco\bob`, "bob-pw", "GET", azV2+"/me", "").Must(t, 200)
	})

	t.Run("refusals are indistinguishable", func(t *testing.T) {
		cases := []struct{ what, name, pass string }{
			{"wrong password", `ldco\carol`, "wrong"},
			{"empty password", `ldco\carol`, ""},
			{"filter injection", `ldco\*)(uid=*`, "carol-pw"},
			{"unknown user", `ldco\nobody`, "carol-pw"},
		}
		var basic, grant []string
		for _, c := range cases {
			r := s.As(c.name, c.pass, "GET", azV2+"/me", "")
			if r.Status != 401 {
				t.Errorf("%s over HTTP Basic: %d, want 401:\n%s", c.what, r.Status, r.Body)
			}
			basic = append(basic, withoutRequestID(r.Body))
			_, err := pwConfig(s).PasswordCredentialsToken(ctx, c.name, c.pass)
			if c.pass == "" {
				// x/oauth2 sends the empty password; the grant refuses it.
				if err == nil {
					t.Errorf("%s: password grant succeeded", c.what)
				}
				continue
			}
			grant = append(grant, pwRefused(t, err, 400, "invalid_grant"))
		}
		for i := range basic {
			if basic[i] != basic[0] {
				t.Errorf("HTTP Basic refusal %q differs from %q:\n%s\n%s", cases[i].what, cases[0].what, basic[i], basic[0])
			}
		}
		for i := range grant {
			if grant[i] != grant[0] {
				t.Errorf("password grant refusals differ: %q vs %q", grant[i], grant[0])
			}
		}
		// None of them made a user.
		for _, u := range []string{"carol", "nobody"} {
			azAdmin(t, s, "GET", azV2+"/accounts/ldco/users/"+u, "", 404)
		}
	})

	t.Run("wrong CA is unavailable, not a wrong password", func(t *testing.T) {
		ldSetup(t, s, "ldbad", srv, string(slapdtest.NewCA(t).CertPEM))
		r := s.As(`ldbad\alice`, "alice-pw", "GET", azV2+"/me", "")
		if r.Status != 503 || !strings.Contains(r.Body, "unavailable") {
			t.Errorf("StartTLS with the wrong CA: %d, want 503 naming the outage:\n%s", r.Status, r.Body)
		}
		_, err := pwConfig(s).PasswordCredentialsToken(ctx, `ldbad\alice`, "alice-pw")
		// Not "wrong password": the directory could not be asked.
		if err == nil || !strings.Contains(err.Error(), "temporarily_unavailable") {
			t.Errorf("password grant with the wrong CA: %v, want temporarily_unavailable", err)
		}
		azAdmin(t, s, "GET", azV2+"/accounts/ldbad/users/alice", "", 404)
	})

	t.Run("a directory group change shows at the next sign-in", func(t *testing.T) {
		s.As(`ldco\carol`, "carol-pw", "GET", azV2+"/me", "").Must(t, 200) // staff: the people rule only
		if eff := ldEffective(t, s, "ldco", "carol"); slices.Contains(eff, "print:*") {
			t.Fatalf("carol holds print:* before joining printadmins: %v", eff)
		}
		conn := ldRoot(t, srv)
		add := ldap.NewModifyRequest("cn=printadmins,"+slapdtest.GroupsBase, nil)
		add.Add("member", []string{"uid=carol," + slapdtest.PeopleBase})
		if err := conn.Modify(add); err != nil {
			t.Fatal(err)
		}
		s.As(`ldco\carol`, "carol-pw", "GET", azV2+"/me", "").Must(t, 200)
		if eff := ldEffective(t, s, "ldco", "carol"); !slices.Contains(eff, "print:*") {
			t.Errorf("carol joined printadmins; effective %v lack print:*", eff)
		}
		del := ldap.NewModifyRequest("cn=printadmins,"+slapdtest.GroupsBase, nil)
		del.Delete("member", []string{"uid=carol," + slapdtest.PeopleBase})
		if err := conn.Modify(del); err != nil {
			t.Fatal(err)
		}
		s.As(`ldco\carol`, "carol-pw", "GET", azV2+"/me", "").Must(t, 200)
		if eff := ldEffective(t, s, "ldco", "carol"); slices.Contains(eff, "print:*") {
			t.Errorf("carol left printadmins; effective %v still hold print:*", eff)
		}
	})

	t.Run("a local user of the name is never linked", func(t *testing.T) {
		conn := ldRoot(t, srv)
		req := ldap.NewAddRequest("uid=dave,"+slapdtest.PeopleBase, nil)
		req.Attribute("objectClass", []string{"inetOrgPerson"})
		for k, v := range map[string]string{"uid": "dave", "cn": "Dave", "sn": "Dave", "userPassword": "dave-pw"} {
			req.Attribute(k, []string{v})
		}
		if err := conn.Add(req); err != nil {
			t.Fatal(err)
		}
		azAdmin(t, s, "POST", azV2+"/accounts/ldco/users", "<user><name>dave</name></user>", 201)
		r := s.As(`ldco\dave`, "dave-pw", "GET", azV2+"/me", "")
		if r.Status != 401 || !strings.Contains(r.Body, "not linked") {
			t.Errorf("name clash: %d, want 401 saying the local user is not linked:\n%s", r.Status, r.Body)
		}
	})
}

// ldSync reads the provider's <sync>.
func ldSync(t *testing.T, s *harness.Server, href string) map[string]string {
	t.Helper()
	r := azAdmin(t, s, "GET", href, "", 200)
	el := r.Root().SelectElement("sync")
	if el == nil {
		t.Fatalf("no <sync> in\n%s", r.Body)
	}
	out := map[string]string{}
	for _, c := range el.ChildElements() {
		out[c.Tag] = c.Text()
	}
	return out
}

func ldNum(m map[string]string, k string) int64 {
	n, _ := strconv.ParseInt(m[k], 10, 64)
	return n
}

// ldRunSync starts a sync and polls the provider until it ends, returning
// the statuses seen while it ran and the final one.
func ldRunSync(t *testing.T, s *harness.Server, href string) (seen []map[string]string, final map[string]string, took time.Duration) {
	t.Helper()
	begin := time.Now()
	r := azAdmin(t, s, "POST", href+"/sync", "", 202)
	if loc := r.Header.Get("Location"); loc != href {
		t.Errorf("Location %q, want %s", loc, href)
	}
	if st := r.Root().SelectElement("sync").SelectElement("state").Text(); st != "running" {
		t.Errorf("the 202 shows sync state %q, want running", st)
	}
	harness.WaitFor(t, 5*time.Minute, "the sync to end", func() bool {
		m := ldSync(t, s, href)
		if m["state"] == "running" {
			seen = append(seen, m)
			return false
		}
		final = m
		return true
	})
	return seen, final, time.Since(begin)
}

func TestLDAPSync(t *testing.T) {
	const generated = 10000
	srv := slapdtest.Start(t, slapdtest.Options{TLS: true, GeneratedUsers: generated})
	s := harness.Start(t)
	ldSetup(t, s, "ldsync", srv, srv.CAPEM)
	href := azV2 + "/accounts/ldsync/providers/dir"
	if m := ldSync(t, s, href); m["state"] != "idle" {
		t.Fatalf("sync before any: %v, want idle", m)
	}
	total := int64(generated + slapdtest.FixtureUserCount)

	seen, final, took := ldRunSync(t, s, href)
	t.Logf("sync of %d entries took %s; %d running statuses seen", total, took, len(seen))
	midway := false
	for i, m := range seen {
		p, tot := ldNum(m, "progress"), ldNum(m, "total")
		if p > 0 && p < tot {
			midway = true
		}
		if i > 0 && p < ldNum(seen[i-1], "progress") {
			t.Errorf("progress went back: %v then %v", seen[i-1], m)
		}
		if m["started"] == "" || m["finished"] != "" {
			t.Errorf("a running status without started, or with finished: %v", m)
		}
	}
	if !midway {
		t.Errorf("never saw the sync running with 0 < progress < total; saw %v", seen)
	}
	if final["state"] != "done" || ldNum(final, "progress") != total || ldNum(final, "total") != total ||
		ldNum(final, "users") != total || ldNum(final, "groups") != int64(len(slapdtest.Groups)) ||
		ldNum(final, "disabled") != 0 || final["finished"] == "" || final["last-error"] != "" {
		t.Fatalf("first sync ended %v; want done with %d users, %d groups", final, total, len(slapdtest.Groups))
	}
	uid, _ := slapdtest.GeneratedUser(1234)
	azAdmin(t, s, "GET", azV2+"/accounts/ldsync/users/"+uid, "", 200)
	if eff := ldEffective(t, s, "ldsync", "bob"); !slices.Contains(eff, "print:*") {
		t.Errorf("synced bob's effective permissions %v lack print:* from the rule", eff)
	}
	// Single flight: a second POST while one runs is 409.
	azAdmin(t, s, "POST", href+"/sync", "", 202)
	r := s.Admin("POST", href+"/sync", "")
	if r.Status != 409 {
		t.Errorf("a second sync while one runs: %d, want 409:\n%s", r.Status, r.Body)
	}
	harness.WaitFor(t, 5*time.Minute, "the second sync to end", func() bool {
		return ldSync(t, s, href)["state"] != "running"
	})

	// An entry gone from the directory: the next sync disables its user.
	conn := ldRoot(t, srv)
	if err := conn.Del(ldap.NewDelRequest("uid="+uid+","+slapdtest.PeopleBase, nil)); err != nil {
		t.Fatal(err)
	}
	_, final, took = ldRunSync(t, s, href)
	t.Logf("sync after a removal took %s", took)
	if final["state"] != "done" || ldNum(final, "disabled") != 1 || ldNum(final, "users") != total-1 {
		t.Fatalf("sync after a removal ended %v; want done, disabled 1", final)
	}
	u := azAdmin(t, s, "GET", azV2+"/accounts/ldsync/users/"+uid, "", 200)
	if !strings.Contains(u.Body, "<enabled>false</enabled>") {
		t.Errorf("the user of the removed entry is not disabled:\n%s", u.Body)
	}
	other, _ := slapdtest.GeneratedUser(1235)
	if u := azAdmin(t, s, "GET", azV2+"/accounts/ldsync/users/"+other, "", 200); !strings.Contains(u.Body, "<enabled>true</enabled>") {
		t.Errorf("another synced user is not enabled:\n%s", u.Body)
	}
	if r := s.As(`ldsync\`+uid, fmt.Sprintf("pw-%06d", 1234), "GET", azV2+"/me", ""); r.Status != 401 {
		t.Errorf("the removed entry still signs in: %d", r.Status)
	}
}
