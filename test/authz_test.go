package test

// End-to-end authorization and tenancy tests (SPEC §3b, §4, §5).
//
// TestAuthzEveryRoute is driven by the route registry (instance.Routes()): a route added to the
// table is covered without touching this file, as long as its path
// variables are among azVars (otherwise the test fails and says so).

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gatehouse/api"
	"gatehouse/authz"
	"gatehouse/instance"
	"gatehouse/test/harness"
)

const (
	azV2       = "/auth/v2"
	azPassword = "authz-password-1"
	// azMissing is an account that never exists.
	azMissing = "zz-no-such-acct"
	// azPerm is the permission used for {p}: every fixture account's
	// ceiling lists it, role r1 holds it, and u1 holds it through r1.
	azPerm = "print:jobs:read"
)

// azVars fills path variables with fixture items that exist in every
// fixture account (see azEnsure).
var azVars = map[string]string{"u": "u1", "r": "r1", "g": "g1", "p": azPerm, "n": "n1", "pv": "pv1"}

// Path variables of the federation routes: /federated/{type}/… has no
// fixture principal (federated sign-ins make them), so those answer 404.
func init() {
	azVars["type"], azVars["principal"] = "email", "nobody@example.com"
}

// azKeys is the id of the fixture API key of u1 in each account (see
// azEnsure), for path variable {k}.
var azKeys = map[string]string{}

// azClients is the id of the fixture OAuth client of u1 in each account
// (see azEnsure), for path variable {c}.
var azClients = map[string]string{}

// azSessions is the id of the fixture sign-in session of u1 in each
// account (see azEnsure), for path variable {s}.
var azSessions = map[string]string{}

var azVarRE = regexp.MustCompile(`\{([^}]*)\}`)

// azFill turns a route pattern into a concrete path in account a. It
// reports false when the pattern has a variable without a fixture.
func azFill(pattern, a string) (string, bool) {
	ok := true
	p := azVarRE.ReplaceAllStringFunc(pattern, func(v string) string {
		name := v[1 : len(v)-1]
		if name == "a" {
			return url.PathEscape(a)
		}
		if name == "k" || name == "c" || name == "s" {
			// API keys, clients and sessions have random ids: azEnsure
			// made one of each per account.
			ids := azKeys
			switch name {
			case "c":
				ids = azClients
			case "s":
				ids = azSessions
			}
			id, found := ids[a]
			if !found {
				// A missing account: any well-formed id.
				id, found = ids["acme"]
			}
			if found {
				return url.PathEscape(id)
			}
			ok = false
			return v
		}
		x, found := azVars[name]
		if !found {
			ok = false
			return v
		}
		return url.PathEscape(x)
	})
	return p, ok
}

// azBody is a minimal valid body for a route (empty where the route
// takes none). uniq keeps created names distinct.
func azBody(method, pattern string, uniq int) string {
	if method != "POST" && method != "PUT" {
		return ""
	}
	segs := strings.Split(strings.TrimPrefix(pattern, azV2+"/"), "/")
	last := segs[len(segs)-1]
	prev := ""
	if len(segs) > 1 {
		prev = segs[len(segs)-2]
	}
	isVar := func(s string) bool { return strings.HasPrefix(s, "{") }
	entity := map[string]string{"accounts": "account", "roles": "role", "groups": "group", "users": "user"}
	if !isVar(last) {
		// A collection.
		ownedByAccount := prev == "" || prev == "{a}"
		switch {
		case last == "password":
			return fmt.Sprintf("<password>changed-password-%d</password>", uniq)
		case last == "permissions" && method == "PUT":
			return "<permissions><permission>" + azPerm + "</permission></permissions>"
		case last == "attributes" && method == "POST":
			return fmt.Sprintf("<attribute><name>new-attr-%d</name><value>v</value></attribute>", uniq)
		case last == "clients" && method == "POST":
			return fmt.Sprintf("<client><description>new-client-%d</description></client>", uniq)
		case last == "attributes" && method == "PUT":
			return "<attributes><attribute><name>n1</name><value>v1</value></attribute></attributes>"
		case entity[last] != "" && ownedByAccount && method == "POST":
			return fmt.Sprintf("<%s><name>new-%s-%d</name></%[1]s>", entity[last], entity[last], uniq)
		case entity[last] != "" && !ownedByAccount && method == "POST":
			// A membership: the second fixture item is not yet a member.
			return fmt.Sprintf(`<%s identifier="%s2"/>`, entity[last], last[:1])
		case entity[last] != "" && !ownedByAccount && method == "PUT":
			return fmt.Sprintf(`<%s><%s identifier="%s1"/></%[1]s>`, last, entity[last], last[:1])
		}
		return ""
	}
	// An item.
	switch {
	case last == "{n}":
		return "<attribute><value>w</value></attribute>"
	case last == "{p}":
		return ""
	case last == "{c}":
		return "<client><description>touched</description></client>"
	case entity[prev] != "" && (len(segs) == 2 || segs[len(segs)-3] == "{a}"):
		// An entity of the account (or the account itself).
		switch entity[prev] {
		case "user":
			return "<user><full-name>Touched</full-name></user>"
		default:
			return fmt.Sprintf("<%s><description>touched</description></%[1]s>", entity[prev])
		}
	}
	return "" // a membership item: PUT adds it, with no body
}

// azCheck fails the test unless r has one of the statuses.
func azCheck(t *testing.T, what string, r *harness.Response, want ...int) bool {
	t.Helper()
	if slices.Contains(want, r.Status) {
		return true
	}
	t.Errorf("%s: status %d, want %v; body:\n%s", what, r.Status, want, r.Body)
	return false
}

// azAdmin performs an admin request that must answer one of want.
func azAdmin(t *testing.T, s *harness.Server, method, path, body string, want ...int) *harness.Response {
	t.Helper()
	r := s.Admin(method, path, body)
	if !slices.Contains(want, r.Status) {
		t.Fatalf("setup %s %s: status %d, want %v; body:\n%s", method, path, r.Status, want, r.Body)
	}
	return r
}

// azProblem checks that r is a problem+xml document with the status.
func azProblem(t *testing.T, what string, r *harness.Response, status int) bool {
	t.Helper()
	ok := true
	if r.Status != status {
		t.Errorf("%s: status %d, want %d; body:\n%s", what, r.Status, status, r.Body)
		return false
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+xml") {
		t.Errorf("%s: Content-Type %q, want application/problem+xml", what, ct)
		ok = false
	}
	root := r.Root()
	if root == nil || root.Tag != "problem" {
		t.Errorf("%s: body is not a <problem> document:\n%s", what, r.Body)
		return false
	}
	if st := root.SelectElement("status"); st == nil || st.Text() != fmt.Sprint(status) {
		t.Errorf("%s: <status> of the problem is not %d:\n%s", what, status, r.Body)
		ok = false
	}
	return ok
}

// azCreateAccount creates account a under parent (idempotently). The
// fixtures built on it give their users exactly the roles they name, so
// a new account's default role (users) is taken away again: its users
// start with no role (test/defaultroles_test.go tests default roles).
func azCreateAccount(t *testing.T, s *harness.Server, a, parent string) {
	t.Helper()
	r := azAdmin(t, s, "PUT", azV2+"/accounts/"+a, "<account><parent>"+parent+"</parent></account>", 201, 204)
	if r.Status == 201 {
		azAdmin(t, s, "DELETE", azV2+"/accounts/"+a+"/default-roles/users", "", 204)
	}
}

// azPermsBody is a <permissions> body.
func azPermsBody(ps ...string) string {
	var b strings.Builder
	b.WriteString("<permissions>")
	for _, p := range ps {
		b.WriteString("<permission>" + p + "</permission>")
	}
	b.WriteString("</permissions>")
	return b.String()
}

// azUserWithRole creates user u (with a password when pass is not
// empty) in account a holding a new role of the same name with perms.
func azUserWithRole(t *testing.T, s *harness.Server, a, u, pass, role string, perms ...string) {
	t.Helper()
	base := azV2 + "/accounts/" + a
	azAdmin(t, s, "POST", base+"/roles", "<role><name>"+role+"</name></role>", 201)
	azAdmin(t, s, "PUT", base+"/roles/"+role+"/permissions", azPermsBody(perms...), 204)
	body := "<user><name>" + u + "</name></user>"
	if pass != "" {
		body = "<user><name>" + u + "</name><password>" + pass + "</password></user>"
	}
	azAdmin(t, s, "POST", base+"/users", body, 201)
	azAdmin(t, s, "POST", base+"/users/"+u+"/roles", `<role identifier="`+role+`"/>`, 201)
}

// azEnsure (re)builds the fixture items of account a under parent:
// ceiling {*, azPerm}; roles r1 (azPerm), r2; groups g1 (role r1, user
// u1), g2; users u1 (role r1, group g1, attribute n1), u2. It is
// idempotent and cheap when nothing changed.
func azEnsure(t *testing.T, s *harness.Server, a, parent string) {
	t.Helper()
	base := azV2 + "/accounts/" + a
	azCreateAccount(t, s, a, parent)
	azAdmin(t, s, "PUT", base+"/permissions", azPermsBody("*", azPerm), 204)
	for _, r := range []string{"r1", "r2"} {
		azAdmin(t, s, "PUT", base+"/roles/"+r, "<role><name>"+r+"</name></role>", 201, 204)
	}
	azAdmin(t, s, "PUT", base+"/roles/r1/permissions", azPermsBody(azPerm), 204)
	azAdmin(t, s, "PUT", base+"/roles/r2/permissions", azPermsBody(), 204)
	for _, g := range []string{"g1", "g2"} {
		azAdmin(t, s, "PUT", base+"/groups/"+g, "<group><name>"+g+"</name></group>", 201, 204)
	}
	for _, u := range []string{"u1", "u2"} {
		azAdmin(t, s, "PUT", base+"/users/"+u, "<user><name>"+u+"</name></user>", 201, 204)
	}
	azAdmin(t, s, "PUT", base+"/users/u1/roles", `<roles><role identifier="r1"/></roles>`, 204)
	azAdmin(t, s, "PUT", base+"/users/u2/roles", `<roles/>`, 204)
	azAdmin(t, s, "PUT", base+"/users/u1/groups", `<groups><group identifier="g1"/></groups>`, 204)
	azAdmin(t, s, "PUT", base+"/users/u2/groups", `<groups/>`, 204)
	azAdmin(t, s, "PUT", base+"/groups/g1/roles", `<roles><role identifier="r1"/></roles>`, 204)
	azAdmin(t, s, "PUT", base+"/groups/g2/roles", `<roles/>`, 204)
	azAdmin(t, s, "PUT", base+"/users/u1/attributes",
		`<attributes><attribute><name>n1</name><value>v1</value></attribute></attributes>`, 204)
	// Account rule r1 (for /accounts/{a}/rules/{r}).
	azAdmin(t, s, "PUT", base+"/rules/r1", "<rule><name>r1</name></rule>", 201, 204)
	// Default role r1 (for /accounts/{a}/default-roles/{r}).
	azAdmin(t, s, "PUT", base+"/default-roles/r1", "", 201, 204)
	// u1's API key carrying azPerm (ids are random: {k} maps per account).
	if id, ok := azKeys[a]; !ok || s.Admin("GET", base+"/users/u1/api-keys/"+id, "").Status != 200 {
		r := azAdmin(t, s, "POST", base+"/users/u1/api-keys",
			"<api-key><name>k1</name>"+azPermsBody(azPerm)+"</api-key>", 201)
		azKeys[a] = r.Root().SelectAttrValue("identifier", "")
	}
	// u1's OAuth client (ids are random too: {c} maps per account).
	if id, ok := azClients[a]; !ok || s.Admin("GET", base+"/users/u1/clients/"+id, "").Status != 200 {
		r := azAdmin(t, s, "POST", base+"/users/u1/clients",
			"<client><description>c1</description><uris><uri>https://c1.example/cb</uri></uris></client>", 201)
		azClients[a] = r.Root().SelectAttrValue("identifier", "")
	}
	// The account's identity provider pv1.
	azAdmin(t, s, "PUT", base+"/providers/pv1", "<provider><name>pv1</name><type>ldap</type>"+
		"<url>ldap://dir.example</url><user-base>dc=example,dc=org</user-base></provider>", 201, 204)
	// u1's sign-in session: a password grant of admin-cli ({s} maps per
	// account too).
	if id, ok := azSessions[a]; !ok || s.Admin("GET", base+"/users/u1/sessions/"+id, "").Status != 200 {
		// A new password each time: the password policy refuses reuse.
		azSessionSeq++
		pw := fmt.Sprintf("%s-%d", azSessionPassword, azSessionSeq)
		azAdmin(t, s, "PUT", base+"/users/u1/password", "<password>"+pw+"</password>", 204)
		st, out := oaForm(t, s, "/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {"admin-cli"},
			"username": {a + `\u1`}, "password": {pw}, "scope": {azPerm}}, "", "", nil)
		if st != 200 {
			t.Fatalf("password grant for u1 of %s: %d %v", a, st, out)
		}
		r := azAdmin(t, s, "GET", base+"/users/u1/sessions", "", 200)
		el := r.Root().SelectElement("session")
		if el == nil {
			t.Fatalf("u1 of %s has no session after a password grant:\n%s", a, r.Body)
		}
		azSessions[a] = el.SelectAttrValue("identifier", "")
	}
}

// azSessionPassword starts u1's password for its fixture session;
// azSessionSeq numbers them.
const azSessionPassword = "az-fixture-session"

var azSessionSeq int

// azDistinctPerms lists the table's permissions, in table order.
func azDistinctPerms(routes []api.RouteInfo) []string {
	var out []string
	for _, r := range routes {
		if !slices.Contains(out, r.Permission) {
			out = append(out, r.Permission)
		}
	}
	return out
}

// TestAuthzEveryRoute checks, for every route of the table, that (a) a
// caller of the same account holding every other auth:* permission of
// the table gets 403, (c) a caller holding exactly the route's permission
// is not refused, and (b) a caller of a sibling tenant holding * under a
// * ceiling gets a 404 that looks exactly like the 404 of a missing
// account.
func TestAuthzEveryRoute(t *testing.T) {
	s := harness.Start(t)
	// Public routes (OAuth endpoints, discovery) need no permission: they
	// authenticate their callers themselves (test/oauth_test.go).
	var routes []api.RouteInfo
	for _, r := range instance.Routes().Routes() {
		if r.Permission != "" {
			routes = append(routes, r)
		}
	}
	if len(routes) == 0 {
		t.Fatal("the route registry is empty")
	}
	perms := azDistinctPerms(routes)

	// Tenant acme (fixtures, and the probe whose one role is rewritten
	// per permission); acme-c, a child of acme, takes the (c) requests,
	// which really run; beta, a sibling tenant, holds * under *.
	azEnsure(t, s, "acme", "system")
	azUserWithRole(t, s, "acme", "probe", azPassword, "probe-role")
	for _, r := range routes {
		if _, ok := azFill(r.Path, "acme"); !ok {
			t.Errorf("route %s %s has a path variable without a fixture; extend azVars and azEnsure", r.Method, r.Path)
		}
	}
	azEnsure(t, s, "acme-c", "acme")
	azCreateAccount(t, s, "beta", "system")
	azAdmin(t, s, "PUT", azV2+"/accounts/beta/permissions", azPermsBody("*"), 204)
	azUserWithRole(t, s, "beta", "root", azPassword, "everything", "*")
	setProbe := func(ps ...string) {
		t.Helper()
		azAdmin(t, s, "PUT", azV2+"/accounts/acme/roles/probe-role/permissions", azPermsBody(ps...), 204)
	}
	probe := func(method, path, body string) *harness.Response {
		return s.As(`acme\probe`, azPassword, method, path, body)
	}
	uniq := 0

	t.Run("a/all-but-the-route's-permission-is-403", func(t *testing.T) {
		checked := 0
		defer func() {
			if checked != len(routes) {
				t.Errorf("(a) checked %d of %d routes", checked, len(routes))
			}
		}()
		for _, p := range perms {
			var others []string
			for _, h := range perms {
				if !authz.Implies(h, p) {
					others = append(others, h)
				}
			}
			setProbe(others...)
			// The probe is otherwise able: a read it holds succeeds.
			for _, r := range routes {
				if r.Method == "GET" && r.Permission != p && strings.Contains(r.Path, "{a}") {
					path, _ := azFill(r.Path, "acme")
					azCheck(t, fmt.Sprintf("probe without %s: %s %s (holds %s)", p, r.Method, path, r.Permission),
						probe("GET", path, ""), 200)
					break
				}
			}
			for _, r := range routes {
				if r.Permission != p {
					continue
				}
				path, ok := azFill(r.Path, "acme")
				if !ok {
					continue
				}
				uniq++
				checked++
				resp := probe(r.Method, path, azBody(r.Method, r.Path, uniq))
				what := fmt.Sprintf("%s %s by a caller holding every table permission but %s", r.Method, path, p)
				if !azProblem(t, what, resp, 403) && r.Method != "GET" {
					azEnsure(t, s, "acme", "system") // it may have changed something
				}
			}
		}
	})

	t.Run("c/exactly-the-route's-permission-is-not-refused", func(t *testing.T) {
		statuses := map[int][]string{}
		checked := 0
		defer func() {
			if checked != len(routes) {
				t.Errorf("(c) checked %d of %d routes", checked, len(routes))
			}
		}()
		for _, p := range perms {
			setProbe(p)
			for _, r := range routes {
				if r.Permission != p {
					continue
				}
				path, ok := azFill(r.Path, "acme-c")
				if !ok {
					continue
				}
				uniq++
				checked++
				resp := probe(r.Method, path, azBody(r.Method, r.Path, uniq))
				statuses[resp.Status] = append(statuses[resp.Status], r.Method+" "+r.Path)
				// A write that grants power may still be refused by the
				// escalation rule (SPEC §5): the caller holds the route's
				// permission but not what the write would give. That is
				// TestEscalationRefused's subject, not a routing refusal.
				escalation := resp.Status == 403 && strings.Contains(resp.Body, "grants only what it holds")
				if (resp.Status == 401 || resp.Status == 403) && !escalation {
					t.Errorf("%s %s by a caller holding exactly %s: refused with %d; body:\n%s",
						r.Method, path, p, resp.Status, resp.Body)
				}
				if resp.Status >= 500 {
					t.Errorf("%s %s by a caller holding exactly %s: server error %d; body:\n%s",
						r.Method, path, p, resp.Status, resp.Body)
				}
				if r.Method != "GET" {
					azEnsure(t, s, "acme-c", "acme")
				}
			}
		}
		var codes []int
		for c := range statuses {
			codes = append(codes, c)
		}
		sort.Ints(codes)
		for _, c := range codes {
			t.Logf("(c) status %d: %d routes %v", c, len(statuses[c]), statuses[c])
		}
	})

	t.Run("b/foreign-tenant-gets-the-missing-account-404", func(t *testing.T) {
		azEnsure(t, s, "acme", "system")
		foreign := func(method, path, body string) *harness.Response {
			return s.As(`beta\root`, azPassword, method, path, body)
		}
		// The form of "no such account" for a read.
		missingGet := foreign("GET", azV2+"/accounts/"+azMissing, "")
		azProblem(t, "GET of a missing account", missingGet, 404)
		checked := 0
		for _, r := range routes {
			if !strings.Contains(r.Path, "{a}") {
				continue
			}
			path, ok := azFill(r.Path, "acme")
			if !ok {
				continue
			}
			checked++
			if r.Method == "GET" {
				// The item exists: the 404 below is tenancy alone.
				azCheck(t, "admin "+path+" (the fixture must exist)", s.Admin("GET", path, ""), 200)
			}
			uniq++
			body := azBody(r.Method, r.Path, uniq)
			got := foreign(r.Method, path, body)
			what := fmt.Sprintf("%s %s by tenant beta (holds * under *)", r.Method, path)
			if !azProblem(t, what, got, 404) {
				if r.Method != "GET" {
					azEnsure(t, s, "acme", "system")
				}
				continue
			}
			mpath, _ := azFill(r.Path, azMissing)
			missing := foreign(r.Method, mpath, body)
			if missing.Status >= 200 && missing.Status < 300 {
				// PUT on a missing account creates it; compare with the
				// read of a missing account instead.
				azAdmin(t, s, "DELETE", azV2+"/accounts/"+azMissing, "", 204)
				missing = missingGet
			}
			want := strings.ReplaceAll(withoutRequestID(missing.Body), azMissing, "acme")
			if withoutRequestID(got.Body) != want || got.Status != missing.Status ||
				got.Header.Get("Content-Type") != missing.Header.Get("Content-Type") {
				t.Errorf("%s: the foreign account's answer differs from a missing account's:\nforeign (%d):\n%s\nmissing (%d, names swapped):\n%s",
					what, got.Status, got.Body, missing.Status, want)
			}
		}
		if checked == 0 {
			t.Error("(b) checked no route under /accounts/{a}")
		}
		t.Logf("(b) checked %d routes under /accounts/{a}", checked)
	})
}

// azTexts returns the permissions (or identifiers) listed in a collection
// rendered at depth 2, sorted.
func azTexts(r *harness.Response, item string) []string {
	var out []string
	if r.Root() == nil {
		return nil
	}
	for _, el := range r.Root().SelectElements(item) {
		v := strings.TrimSpace(el.Text())
		if v == "" {
			v = el.SelectAttrValue("identifier", "")
		}
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

func azCount(r *harness.Response) string {
	if r.Root() == nil {
		return ""
	}
	return r.Root().SelectAttrValue("count", "")
}

// TestCeilingCapsRoles: an account's ceiling cuts its roles, and a
// child's ceiling never exceeds its parent's, even when set to *.
func TestCeilingCapsRoles(t *testing.T) {
	s := harness.Start(t)
	azCreateAccount(t, s, "capco", "system")
	azAdmin(t, s, "PUT", azV2+"/accounts/capco/permissions", azPermsBody("print:jobs:*"), 204)
	azUserWithRole(t, s, "capco", "cu", "", "printing", "print:*")
	eff := azV2 + "/accounts/capco/users/cu/permissions"

	r := azAdmin(t, s, "GET", eff+"?depth=2", "", 200)
	if got := azTexts(r, "permission"); !slices.Equal(got, []string{"print:jobs:*"}) || azCount(r) != "1" {
		t.Errorf("effective permissions of role print:* under ceiling print:jobs:* = %v (count %s), want [print:jobs:*] (count 1); body:\n%s",
			got, azCount(r), r.Body)
	}
	azProblem(t, "GET effective print:ports:read (outside the ceiling)", s.Admin("GET", eff+"/print:ports:read", ""), 404)
	azProblem(t, "GET effective print:* (wider than the ceiling)", s.Admin("GET", eff+"/print:*", ""), 404)
	r = s.Admin("GET", eff+"/print:jobs:release", "")
	if azCheck(t, "GET effective print:jobs:release (inside the ceiling)", r, 200) {
		if !strings.Contains(r.Body, "/auth/v2/accounts/capco/roles/printing") {
			t.Errorf("the 200 for print:jobs:release does not name role printing as what grants it:\n%s", r.Body)
		}
	}

	// A child: its ceiling starts as a copy of the parent's, and set to *
	// it still cannot exceed the parent's.
	azAdmin(t, s, "POST", azV2+"/accounts", "<account><name>capco-kid</name><parent>capco</parent></account>", 201)
	azAdmin(t, s, "DELETE", azV2+"/accounts/capco-kid/default-roles/users", "", 204) // kid holds only "all"
	r = azAdmin(t, s, "GET", azV2+"/accounts/capco-kid/permissions?depth=2", "", 200)
	if got := azTexts(r, "permission"); !slices.Equal(got, []string{"print:jobs:*"}) {
		t.Errorf("a new child's ceiling = %v, want a copy of the parent's [print:jobs:*]", got)
	}
	azAdmin(t, s, "PUT", azV2+"/accounts/capco-kid/permissions", azPermsBody("*"), 204)
	azUserWithRole(t, s, "capco-kid", "kid", azPassword, "all", "*")
	keff := azV2 + "/accounts/capco-kid/users/kid/permissions"
	r = azAdmin(t, s, "GET", keff+"?depth=2", "", 200)
	if got := azTexts(r, "permission"); !slices.Equal(got, []string{"print:jobs:*"}) {
		t.Errorf("effective permissions of role * in a child with ceiling * under a parent with ceiling print:jobs:* = %v, want [print:jobs:*]; body:\n%s", got, r.Body)
	}
	azProblem(t, "GET child's effective auth:users:read", s.Admin("GET", keff+"/auth:users:read", ""), 404)
	azProblem(t, "GET child's effective print:ports:read", s.Admin("GET", keff+"/print:ports:read", ""), 404)
	azCheck(t, "GET child's effective print:jobs:read", s.Admin("GET", keff+"/print:jobs:read", ""), 200)

	kid := func(path string) *harness.Response { return s.As(`capco-kid\kid`, azPassword, "GET", path, "") }
	azProblem(t, `capco-kid\kid (role *, own ceiling *, parent's print:jobs:*) GET its users`,
		kid(azV2+"/accounts/capco-kid/users"), 403)
	azProblem(t, `capco-kid\kid GET its account`, kid(azV2+"/accounts/capco-kid"), 403)

	// Widening the parent's ceiling widens the child's at once; narrowing
	// it narrows at once.
	azAdmin(t, s, "PUT", azV2+"/accounts/capco/permissions/auth:users:read", "", 201)
	azCheck(t, "kid GET users after the parent's ceiling gained auth:users:read", kid(azV2+"/accounts/capco-kid/users"), 200)
	azAdmin(t, s, "DELETE", azV2+"/accounts/capco/permissions/auth:users:read", "", 204)
	azProblem(t, "kid GET users after the parent's ceiling lost auth:users:read", kid(azV2+"/accounts/capco-kid/users"), 403)
	// The child's own ceiling cuts too.
	azAdmin(t, s, "PUT", azV2+"/accounts/capco/permissions/auth:users:read", "", 201)
	azAdmin(t, s, "PUT", azV2+"/accounts/capco-kid/permissions", azPermsBody("print:*"), 204)
	azProblem(t, "kid GET users when only its own ceiling lacks auth:users:read", kid(azV2+"/accounts/capco-kid/users"), 403)
}

// azAccountsListed returns the account identifiers of a GET /accounts.
func azAccountsListed(r *harness.Response) []string { return azTexts(r, "account") }

// azParent returns the parent account named by GET /accounts/{a}.
func azParent(t *testing.T, s *harness.Server, a string) string {
	t.Helper()
	r := azAdmin(t, s, "GET", azV2+"/accounts/"+a, "", 200)
	if p := r.Root().SelectElement("parent"); p != nil {
		return p.SelectAttrValue("identifier", "")
	}
	return ""
}

// TestTenancyDescendants: a tenant acts on its account and its
// descendants, never on its parent, siblings or other tenants; foreign
// accounts answer like missing ones.
func TestTenancyDescendants(t *testing.T) {
	s := harness.Start(t)
	azCreateAccount(t, s, "acme", "system")
	azCreateAccount(t, s, "acme-eu", "acme")
	azCreateAccount(t, s, "acme-us", "acme")
	azCreateAccount(t, s, "beta", "system")
	azUserWithRole(t, s, "acme", "ta", azPassword, "tenant-admin", "*")
	azUserWithRole(t, s, "acme-eu", "eu", azPassword, "eu-admin", "*")
	azUserWithRole(t, s, "acme", "acme-secret-user", "", "acme-secret-role", "print:*")
	ta := func(method, path, body string) *harness.Response {
		return s.As(`acme\ta`, azPassword, method, path, body)
	}
	eu := func(method, path, body string) *harness.Response {
		return s.As(`acme-eu\eu`, azPassword, method, path, body)
	}
	// sameAsMissing checks that the answer for the foreign account a
	// equals the answer for a missing account, names swapped.
	sameAsMissing := func(what string, got, missing *harness.Response, a string) {
		t.Helper()
		want := strings.ReplaceAll(withoutRequestID(missing.Body), azMissing, a)
		if got.Status != missing.Status || withoutRequestID(got.Body) != want {
			t.Errorf("%s: answer differs from a missing account's:\nforeign (%d):\n%s\nmissing (%d, names swapped):\n%s",
				what, got.Status, got.Body, missing.Status, want)
		}
	}

	t.Run("parent-tenant-manages-descendant", func(t *testing.T) {
		azCheck(t, "acme admin GET /accounts/acme-eu", ta("GET", azV2+"/accounts/acme-eu", ""), 200)
		azCheck(t, "acme admin GET acme-eu users", ta("GET", azV2+"/accounts/acme-eu/users", ""), 200)
		azCheck(t, "acme admin creates a user in acme-eu",
			ta("POST", azV2+"/accounts/acme-eu/users", "<user><name>made-by-parent</name></user>"), 201)
		azCheck(t, "acme admin gives it acme-eu's role",
			ta("POST", azV2+"/accounts/acme-eu/users/made-by-parent/roles", `<role identifier="eu-admin"/>`), 201)
		azCheck(t, "acme admin reads its effective permissions",
			ta("GET", azV2+"/accounts/acme-eu/users/made-by-parent/permissions/auth:users:read", ""), 200)
		azCheck(t, "acme admin edits acme-eu's ceiling",
			ta("PUT", azV2+"/accounts/acme-eu/permissions/print:jobs:read", ""), 201, 204)
		azCheck(t, "acme admin deletes the user",
			ta("DELETE", azV2+"/accounts/acme-eu/users/made-by-parent", ""), 204)
	})

	t.Run("child-tenant-cannot-reach-parent-or-sibling", func(t *testing.T) {
		azCheck(t, "acme-eu admin GET its own account", eu("GET", azV2+"/accounts/acme-eu", ""), 200)
		for _, c := range []struct{ method, a, rest, body string }{
			{"GET", "acme", "", ""},
			{"GET", "acme", "/users", ""},
			{"GET", "acme", "/users/ta", ""},
			{"GET", "acme", "/roles/tenant-admin/permissions", ""},
			{"POST", "acme", "/users", "<user><name>intruder</name></user>"},
			{"PUT", "acme", "/users/ta", "<user><enabled>false</enabled></user>"},
			{"DELETE", "acme", "/users/ta", ""},
			{"PUT", "acme", "/permissions", azPermsBody("*")},
			{"GET", "acme-us", "", ""},
			{"DELETE", "acme-us", "", ""},
			{"GET", "beta", "/users", ""},
			{"GET", "system", "/users/admin", ""},
		} {
			what := fmt.Sprintf("acme-eu admin %s /accounts/%s%s", c.method, c.a, c.rest)
			got := eu(c.method, azV2+"/accounts/"+c.a+c.rest, c.body)
			if azProblem(t, what, got, 404) {
				sameAsMissing(what, got, eu(c.method, azV2+"/accounts/"+azMissing+c.rest, c.body), c.a)
			}
		}
		// Nothing changed.
		azCheck(t, "acme\\ta still signs in", ta("GET", azV2+"/accounts/acme", ""), 200)
		azAdmin(t, s, "GET", azV2+"/accounts/acme-us", "", 200)
		azAdmin(t, s, "GET", azV2+"/accounts/acme/users/intruder", "", 404)
	})

	t.Run("foreign-system-account-looks-missing", func(t *testing.T) {
		for _, c := range []struct{ method, body string }{
			{"GET", ""},
			{"PUT", "<account><description>mine now</description></account>"},
			{"DELETE", ""},
		} {
			what := fmt.Sprintf("acme admin %s /accounts/system", c.method)
			got := ta(c.method, azV2+"/accounts/system", c.body)
			if azProblem(t, what, got, 404) {
				missing := ta(c.method, azV2+"/accounts/"+azMissing, c.body)
				if missing.Status >= 200 && missing.Status < 300 { // PUT creates a missing account
					azAdmin(t, s, "DELETE", azV2+"/accounts/"+azMissing, "", 204)
					missing = ta("GET", azV2+"/accounts/"+azMissing, "")
				}
				sameAsMissing(what, got, missing, "system")
			}
		}
	})

	t.Run("accounts-list-shows-only-visible", func(t *testing.T) {
		r := ta("GET", azV2+"/accounts", "")
		if azCheck(t, "acme admin GET /accounts", r, 200) {
			if got := azAccountsListed(r); !slices.Equal(got, []string{"acme", "acme-eu", "acme-us"}) || azCount(r) != "3" {
				t.Errorf("acme admin sees accounts %v (count %s), want [acme acme-eu acme-us] (count 3); body:\n%s", got, azCount(r), r.Body)
			}
		}
		r = ta("GET", azV2+"/accounts?page-size=1", "")
		if azCheck(t, "acme admin GET /accounts?page-size=1", r, 200) {
			if got := azAccountsListed(r); len(got) != 1 || azCount(r) != "3" {
				t.Errorf("page 1 of size 1: accounts %v, count %s; want one account and count 3", got, azCount(r))
			}
		}
		r = eu("GET", azV2+"/accounts", "")
		if azCheck(t, "acme-eu admin GET /accounts", r, 200) {
			if got := azAccountsListed(r); !slices.Equal(got, []string{"acme-eu"}) || azCount(r) != "1" {
				t.Errorf("acme-eu admin sees accounts %v (count %s), want [acme-eu] (count 1); body:\n%s", got, azCount(r), r.Body)
			}
		}
		r = eu("GET", azV2+"/accounts?filter=acme*", "")
		if azCheck(t, "acme-eu admin GET /accounts?filter=acme*", r, 200) {
			if got := azAccountsListed(r); !slices.Equal(got, []string{"acme-eu"}) || azCount(r) != "1" {
				t.Errorf("acme-eu admin, filter acme*: accounts %v (count %s), want [acme-eu] (count 1)", got, azCount(r))
			}
		}
		r = azAdmin(t, s, "GET", azV2+"/accounts", "", 200)
		if got := azAccountsListed(r); !slices.Equal(got, []string{"acme", "acme-eu", "acme-us", "beta", "system"}) || azCount(r) != "5" {
			t.Errorf("system admin sees accounts %v (count %s), want all five", got, azCount(r))
		}
	})

	t.Run("expanding-own-account-does-not-reveal-the-parent-tenant", func(t *testing.T) {
		for _, p := range []string{"/accounts/acme-eu?depth=2", "/accounts/acme-eu?depth=3", "/accounts?depth=3"} {
			r := eu("GET", azV2+p, "")
			if !azCheck(t, "acme-eu admin GET "+p, r, 200) {
				continue
			}
			for _, leak := range []string{"acme-secret", "tenant-admin", `identifier="ta"`, "/auth/v2/accounts/acme/"} {
				if strings.Contains(r.Body, leak) {
					t.Errorf("acme-eu admin GET %s reveals %q of its parent tenant acme, which it cannot act on; body:\n%s", p, leak, r.Body)
					break
				}
			}
		}
	})

	t.Run("create-under-foreign-parent-is-404", func(t *testing.T) {
		mk := func(name, parent string) string {
			return "<account><name>" + name + "</name><parent>" + parent + "</parent></account>"
		}
		for _, c := range []struct {
			who    string
			do     func(method, path, body string) *harness.Response
			parent string
		}{
			{"acme admin", ta, "beta"},
			{"acme admin", ta, "system"},
			{"acme-eu admin", eu, "acme"},
			{"acme-eu admin", eu, "acme-us"},
		} {
			what := fmt.Sprintf("%s POST /accounts with parent %s", c.who, c.parent)
			got := c.do("POST", azV2+"/accounts", mk("sneaky", c.parent))
			if azProblem(t, what, got, 404) {
				missing := c.do("POST", azV2+"/accounts", mk("sneaky", azMissing))
				sameAsMissing(what, got, missing, c.parent)
			}
			azProblem(t, "the refused account was not created", s.Admin("GET", azV2+"/accounts/sneaky", ""), 404)
			// PUT on a new account path is a create too.
			what = fmt.Sprintf("%s PUT /accounts/sneaky with parent %s", c.who, c.parent)
			got = c.do("PUT", azV2+"/accounts/sneaky", "<account><parent>"+c.parent+"</parent></account>")
			if azProblem(t, what, got, 404) {
				missing := c.do("PUT", azV2+"/accounts/sneaky", "<account><parent>"+azMissing+"</parent></account>")
				sameAsMissing(what, got, missing, c.parent)
			}
			azProblem(t, "the refused account was not created", s.Admin("GET", azV2+"/accounts/sneaky", ""), 404)
		}
		// Under a descendant it may, and without a parent it lands in its own account.
		azCheck(t, "acme admin creates acme-eu-x under acme-eu", ta("POST", azV2+"/accounts", mk("acme-eu-x", "acme-eu")), 201)
		if p := azParent(t, s, "acme-eu-x"); p != "acme-eu" {
			t.Errorf("acme-eu-x has parent %q, want acme-eu", p)
		}
		azCheck(t, "acme admin creates acme-own without a parent",
			ta("POST", azV2+"/accounts", "<account><name>acme-own</name></account>"), 201)
		if p := azParent(t, s, "acme-own"); p != "acme" {
			t.Errorf("an account a tenant creates without a parent has parent %q, want the tenant's own acme", p)
		}
	})

	t.Run("cannot-move-an-account-out", func(t *testing.T) {
		for _, c := range []struct {
			who    string
			do     func(method, path, body string) *harness.Response
			a, to  string
			parent string // the parent it has and must keep
		}{
			{"acme admin", ta, "acme", "beta", "system"},
			{"acme admin", ta, "acme-eu", "beta", "acme"},
			{"acme admin", ta, "acme-eu", "system", "acme"},
			{"acme-eu admin", eu, "acme-eu", "system", "acme"},
			{"acme-eu admin", eu, "acme-eu", "acme-us", "acme"},
			{"acme-eu admin", eu, "acme-eu", "beta", "acme"},
		} {
			what := fmt.Sprintf("%s moves %s under %s", c.who, c.a, c.to)
			r := c.do("PUT", azV2+"/accounts/"+c.a, "<account><parent>"+c.to+"</parent></account>")
			azCheck(t, what, r, 403, 404)
			if p := azParent(t, s, c.a); p != c.parent {
				t.Errorf("%s: parent is now %q, want %q", what, p, c.parent)
			}
		}
		// Within its own subtree a tenant may move accounts.
		azCheck(t, "acme admin moves acme-eu-x from acme-eu to acme-us",
			ta("PUT", azV2+"/accounts/acme-eu-x", "<account><parent>acme-us</parent></account>"), 204)
		if p := azParent(t, s, "acme-eu-x"); p != "acme-us" {
			t.Errorf("after the move acme-eu-x has parent %q, want acme-us", p)
		}
		// A move never makes a cycle, even for system.
		r := s.Admin("PUT", azV2+"/accounts/acme", "<account><parent>acme-us</parent></account>")
		azCheck(t, "system admin moves acme under its own child acme-us", r, 400, 409)
		if p := azParent(t, s, "acme"); p != "system" {
			t.Errorf("after a refused cyclic move acme has parent %q, want system", p)
		}
	})

	t.Run("deleting-a-descendant-signs-its-users-out", func(t *testing.T) {
		azCheck(t, "acme-eu admin before", eu("GET", azV2+"/accounts/acme-eu", ""), 200)
		azCheck(t, "acme-eu admin creates a child acme-eu-y",
			eu("POST", azV2+"/accounts", "<account><name>acme-eu-y</name></account>"), 201)
		azCheck(t, "acme admin deletes acme-eu", ta("DELETE", azV2+"/accounts/acme-eu", ""), 204)
		azProblem(t, "acme-eu admin (cached credentials) after its account was deleted",
			eu("GET", azV2+"/accounts/acme-eu", ""), 401)
		azProblem(t, "acme-eu-y went with its parent", s.Admin("GET", azV2+"/accounts/acme-eu-y", ""), 404)
		azCheck(t, "acme-eu-x, moved out before, stays", s.Admin("GET", azV2+"/accounts/acme-eu-x", ""), 200)
	})
}

// TestAuthzGroupsAndRoleChanges: effective permissions include roles
// held through groups, and every change decides the very next request.
func TestAuthzGroupsAndRoleChanges(t *testing.T) {
	s := harness.Start(t)
	base := azV2 + "/accounts/gco"
	azCreateAccount(t, s, "gco", "system")
	azAdmin(t, s, "POST", base+"/roles", azRole("viewer", "auth:users:read"), 201)
	azAdmin(t, s, "POST", base+"/roles", azRole("editor", "auth:roles:read"), 201)
	azAdmin(t, s, "POST", base+"/groups", "<group><name>staff</name></group>", 201)
	azAdmin(t, s, "POST", base+"/groups/staff/roles", `<role identifier="viewer"/>`, 201)
	azAdmin(t, s, "POST", base+"/users", "<user><name>carol</name><password>"+azPassword+"</password></user>", 201)
	azAdmin(t, s, "POST", base+"/users/carol/groups", `<group identifier="staff"/>`, 201)

	carol := func(path string) *harness.Response { return s.As(`gco\carol`, azPassword, "GET", path, "") }
	users := base + "/users"
	effective := func() []string {
		t.Helper()
		return azTexts(azAdmin(t, s, "GET", base+"/users/carol/permissions?depth=2", "", 200), "permission")
	}
	expect := func(step string, wantUsers int, wantEff ...string) {
		t.Helper()
		if wantUsers == 403 {
			azProblem(t, step+": carol GET users", carol(users), 403)
		} else {
			azCheck(t, step+": carol GET users", carol(users), wantUsers)
		}
		if got := effective(); !slices.Equal(got, wantEff) {
			t.Errorf("%s: carol's effective permissions %v, want %v", step, got, wantEff)
		}
	}

	expect("role through a group", 200, "auth:users:read")
	r := azAdmin(t, s, "GET", base+"/users/carol/permissions/auth:users:read", "", 200)
	if !strings.Contains(r.Body, base+"/roles/viewer") {
		t.Errorf("the grant of auth:users:read does not name role viewer (held through group staff):\n%s", r.Body)
	}
	azProblem(t, "carol GET roles (not held)", carol(base+"/roles"), 403)

	azAdmin(t, s, "POST", base+"/users/carol/roles", `<role identifier="editor"/>`, 201)
	expect("direct role plus group role", 200, "auth:roles:read", "auth:users:read")
	azCheck(t, "carol GET roles (direct role)", carol(base+"/roles"), 200)

	azAdmin(t, s, "DELETE", base+"/roles/viewer/permissions/auth:users:read", "", 204)
	expect("after removing the permission from the role", 403, "auth:roles:read")
	azAdmin(t, s, "PUT", base+"/roles/viewer/permissions/auth:users:read", "", 201)
	expect("after adding it back", 200, "auth:roles:read", "auth:users:read")

	azAdmin(t, s, "DELETE", base+"/groups/staff/roles/viewer", "", 204)
	expect("after removing the role from the group", 403, "auth:roles:read")
	azAdmin(t, s, "PUT", base+"/groups/staff/roles/viewer", "", 201)
	expect("after giving the group the role again", 200, "auth:roles:read", "auth:users:read")

	azAdmin(t, s, "DELETE", base+"/groups/staff/users/carol", "", 204)
	expect("after removing carol from the group", 403, "auth:roles:read")
	azAdmin(t, s, "POST", base+"/groups/staff/users", `<user identifier="carol"/>`, 201)
	expect("after adding carol to the group again", 200, "auth:roles:read", "auth:users:read")

	azAdmin(t, s, "PUT", base+"/roles/viewer/permissions", azPermsBody("print:*"), 204)
	expect("after replacing the role's permissions", 403, "auth:roles:read", "print:*")
	azAdmin(t, s, "PUT", base+"/roles/viewer/permissions", azPermsBody("auth:users:*"), 204)
	expect("after replacing them with auth:users:*", 200, "auth:roles:read", "auth:users:*")

	azAdmin(t, s, "DELETE", base+"/roles/viewer", "", 204)
	expect("after deleting the role", 403, "auth:roles:read")
	azAdmin(t, s, "DELETE", base+"/users/carol/roles", "", 204)
	expect("after removing all direct roles", 403)
	azProblem(t, "carol GET roles with no roles", carol(base+"/roles"), 403)
}

func azRole(name string, perms ...string) string {
	return "<role><name>" + name + "</name>" + azPermsBody(perms...) + "</role>"
}
