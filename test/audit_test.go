package test

// End-to-end tests of the audit log (SPEC §3a, §10).

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"gatehouse/storage"
	"gatehouse/test/harness"
)

func init() {
	// TestAuthzEveryRoute fills every path variable from azVars; an audit
	// id that does not exist answers 404, which that test accepts.
	azVars["id"] = "0000000000000000-00000000"
}

const (
	auPassAlice = "audit-first-secret-1"
	auPassBob   = "audit-second-secret-2"
	auPassNew   = "audit-changed-secret-3"
	auPassWrong = "audit-wrong-secret-4"
)

type auEntry struct {
	ID, Href, Time, Actor, Account, Action, Target, Address, Outcome, Detail string
}

// auList reads GET /auth/v2/audit?query at depth 2 as user.
func auList(t *testing.T, s *harness.Server, user, pass, query string) (entries []auEntry, count int, r *harness.Response) {
	t.Helper()
	q := query
	if !strings.Contains(q, "depth=") {
		q = "depth=2&" + q
	}
	r = s.As(user, pass, "GET", azV2+"/audit?"+q, "")
	if r.Status != 200 || r.Root() == nil {
		t.Fatalf("GET /audit?%s as %s: %d\n%s", q, user, r.Status, r.Body)
	}
	count, _ = strconv.Atoi(r.Root().SelectAttrValue("count", "-1"))
	for _, el := range r.Root().SelectElements("entry") {
		e := auEntry{ID: el.SelectAttrValue("identifier", ""), Href: el.SelectAttrValue("href", "")}
		text := func(n string) string {
			if c := el.SelectElement(n); c != nil {
				return c.Text()
			}
			return ""
		}
		e.Time, e.Actor, e.Account, e.Action = text("time"), text("actor"), text("account"), text("action")
		e.Address, e.Outcome, e.Detail = text("address"), text("outcome"), text("detail")
		if tg := el.SelectElement("target"); tg != nil {
			e.Target = tg.SelectAttrValue("href", "")
		}
		entries = append(entries, e)
	}
	return entries, count, r
}

func auAdminList(t *testing.T, s *harness.Server, query string) ([]auEntry, int) {
	t.Helper()
	es, n, _ := auList(t, s, `system\admin`, harness.AdminPassword, query)
	return es, n
}

// auFind returns the entries matching want's non-empty fields.
func auFind(es []auEntry, want auEntry) []auEntry {
	var out []auEntry
	for _, e := range es {
		if (want.Actor == "" || e.Actor == want.Actor) && (want.Account == "" || e.Account == want.Account) &&
			(want.Action == "" || e.Action == want.Action) && (want.Target == "" || e.Target == want.Target) &&
			(want.Outcome == "" || e.Outcome == want.Outcome) {
			out = append(out, e)
		}
	}
	return out
}

// auTime is the entry's time (the zero time, and an error, if it does not
// parse).
func auTime(t testing.TB, e auEntry) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, e.Time)
	if err != nil {
		t.Errorf("entry time %q: %v", e.Time, err)
	}
	return ts
}

// auOne expects exactly one entry like want (waiting for it: sign-in and
// denied entries are written in the background) with the right address.
func auOne(t *testing.T, s *harness.Server, what string, since time.Time, want auEntry) auEntry {
	t.Helper()
	var es, got []auEntry
	_, ok := harness.Poll(ghxPatience, func() bool {
		es, _ = auAdminList(t, s, "page-size=1000&since="+url.QueryEscape(since.Format(time.RFC3339Nano)))
		got = auFind(es, want)
		return len(got) > 0
	})
	if !ok || len(got) > 1 {
		t.Fatalf("%s: %d entries like %+v, want 1; all:\n%+v", what, len(got), want, es)
	}
	if got[0].Address != "127.0.0.1" {
		t.Errorf("%s: address %q, want 127.0.0.1", what, got[0].Address)
	}
	if got[0].Href != azV2+"/audit/"+got[0].ID {
		t.Errorf("%s: href %q does not name id %q", what, got[0].Href, got[0].ID)
	}
	return got[0]
}

func TestAudit(t *testing.T) {
	endpoint := harness.Etcd(t) // shared with a second instance (relist)
	cfg := harness.Config(t)
	cfg.Storage.Etcd.Endpoints = []string{endpoint}
	cfg.Auth.Basic.CacheTTL = 0 // every sign-in is argon2-verified
	cfg.Auth.Throttle.UserFailures = 2
	s, logs := harness.StartLogged(t, cfg)
	admin := `system\admin`
	base := azV2 + "/accounts/acme"

	// Fixtures: acme (with child acme-c) and a sibling beta; alice in acme
	// may read the audit log, bob in acme may read roles only.
	azCreateAccount(t, s, "acme", "system")
	azCreateAccount(t, s, "acme-c", "acme")
	azCreateAccount(t, s, "beta", "system")
	azAdmin(t, s, "PUT", base+"/permissions", azPermsBody("*"), 204)
	azUserWithRole(t, s, "acme", "alice", auPassAlice, "auditor", "auth:audit:read")
	azUserWithRole(t, s, "acme", "bob", auPassBob, "reader", "auth:roles:read")
	azAdmin(t, s, "PUT", base+"/users/bob/password", "<password>"+auPassNew+"</password>", 204)
	azAdmin(t, s, "PUT", azV2+"/accounts/beta/groups/gb", "<group><name>gb</name></group>", 201)

	// A create, an update and a delete.
	mark := time.Now()
	azAdmin(t, s, "POST", base+"/roles", "<role><name>printing</name></role>", 201)
	azAdmin(t, s, "PUT", base+"/roles/printing", "<role><description>print</description></role>", 204)
	azAdmin(t, s, "DELETE", base+"/roles/printing", "", 204)

	created := auOne(t, s, "create", mark, auEntry{Actor: admin, Account: "acme", Action: "create",
		Target: base + "/roles/printing", Outcome: "success"})
	updated := auOne(t, s, "update", mark, auEntry{Actor: admin, Account: "acme", Action: "update",
		Target: base + "/roles/printing", Outcome: "success"})
	deleted := auOne(t, s, "delete", mark, auEntry{Actor: admin, Account: "acme", Action: "delete",
		Target: base + "/roles/printing", Outcome: "success"})
	// The filters below cut between the update and the delete, just after
	// the update's own time (the entries carry nanoseconds).
	if !auTime(t, created).Before(auTime(t, updated)) || !auTime(t, updated).Before(auTime(t, deleted)) {
		t.Fatalf("entry times out of order: create %s, update %s, delete %s", created.Time, updated.Time, deleted.Time)
	}
	between := auTime(t, updated).Add(time.Nanosecond).UTC()

	// A failed sign-in (wrong password of a real user), and one of an
	// unknown user: the same detail, never the password.
	azCheck(t, "wrong password", s.As(`acme\alice`, auPassWrong, "GET", azV2+"/me", ""), 401)
	azCheck(t, "unknown user", s.As(`acme\nobody`, auPassWrong, "GET", azV2+"/me", ""), 401)
	for _, u := range []string{`acme\alice`, `acme\nobody`} {
		e := auOne(t, s, "failed sign-in of "+u, mark, auEntry{Actor: u, Account: "acme", Action: "sign-in",
			Target: azV2 + "/me", Outcome: "failure"})
		if e.Detail != "bad credentials" {
			t.Errorf("failed sign-in of %s: detail %q, want \"bad credentials\"", u, e.Detail)
		}
	}

	// A throttled sign-in is a denied one.
	for i := 0; i < 2; i++ {
		azCheck(t, "carol fails", s.As(`acme\carol`, auPassWrong, "GET", azV2+"/me", ""), 401)
	}
	azCheck(t, "carol is throttled", s.As(`acme\carol`, auPassWrong, "GET", azV2+"/me", ""), 429)
	if e := auOne(t, s, "throttled sign-in", mark, auEntry{Actor: `acme\carol`, Action: "sign-in", Outcome: "denied"}); e.Detail != "throttled" {
		t.Errorf("throttled sign-in: detail %q", e.Detail)
	}

	// A write refused with 403 is a denied entry.
	azCheck(t, "bob creates a role", s.As(`acme\bob`, auPassNew, "POST", base+"/roles", "<role><name>x</name></role>"), 403)
	auOne(t, s, "denied write", mark, auEntry{Actor: `acme\bob`, Account: "acme", Action: "create",
		Target: base + "/roles", Outcome: "denied"})

	// A rejected write (400) and a conflicting one (409) record nothing.
	azCheck(t, "bad group", s.Admin("POST", azV2+"/accounts/acme-c/groups", "<group><name>a b/c</name></group>"), 400)
	azCheck(t, "bad user", s.Admin("PUT", azV2+"/accounts/acme-c/users/bad", "<user><nonsense/></user>"), 400)
	azAdmin(t, s, "POST", azV2+"/accounts/acme-c/groups", "<group><name>g</name></group>", 201)
	azCheck(t, "duplicate group", s.Admin("POST", azV2+"/accounts/acme-c/groups", "<group><name>g</name></group>"), 409)
	es, _ := auAdminList(t, s, "page-size=1000&since="+url.QueryEscape(mark.Format(time.RFC3339Nano)))
	if n := len(auFind(es, auEntry{Target: azV2 + "/accounts/acme-c/groups/g"})); n != 1 {
		t.Errorf("POST acme-c/groups: %d entries of the new group, want 1 (only the committed create)", n)
	}
	// (A sign-in entry may name the same path; only changes count here.)
	if n := len(auFind(es, auEntry{Target: azV2 + "/accounts/acme-c/groups", Action: "create"})); n != 0 {
		t.Errorf("POST acme-c/groups: %d entries of the collection, want none", n)
	}
	// A POST names what it created: an account, a membership.
	azAdmin(t, s, "POST", azV2+"/accounts", "<account><name>delta</name><parent>acme</parent></account>", 201)
	auOne(t, s, "POST /accounts", mark, auEntry{Actor: admin, Account: "", Action: "create",
		Target: azV2 + "/accounts/delta", Outcome: "success"})
	all, _ := auAdminList(t, s, "page-size=1000")
	if n := len(auFind(all, auEntry{Action: "create", Target: base + "/users/alice/roles/auditor"})); n != 1 {
		t.Errorf("POST users/alice/roles: %d entries naming the new membership, want 1", n)
	}
	if n := len(auFind(es, auEntry{Target: azV2 + "/accounts/acme-c/users/bad", Action: "update"})); n != 0 {
		t.Errorf("rejected PUT: %d entries, want none", n)
	}

	t.Run("one-entry", func(t *testing.T) {
		r := s.Admin("GET", created.Href, "")
		azCheck(t, "GET "+created.Href, r, 200)
		if r.Root() == nil || r.Root().Tag != "entry" || r.Root().SelectAttrValue("identifier", "") != created.ID {
			t.Fatalf("GET %s:\n%s", created.Href, r.Body)
		}
		for _, n := range []string{"time", "actor", "account", "action", "target", "address", "outcome", "detail"} {
			if r.Root().SelectElement(n) == nil {
				t.Errorf("entry lacks <%s>:\n%s", n, r.Body)
			}
		}
		azCheck(t, "missing entry", s.Admin("GET", azV2+"/audit/0000000000000000-00000000", ""), 404)
	})

	t.Run("filters", func(t *testing.T) {
		check := func(query string, ok func(auEntry) bool, wantMin int) []auEntry {
			t.Helper()
			es, n := auAdminList(t, s, "page-size=1000&"+query)
			if n != len(es) || n < wantMin {
				t.Errorf("?%s: count %d, %d entries, want at least %d", query, n, len(es), wantMin)
			}
			for _, e := range es {
				if !ok(e) {
					t.Errorf("?%s: unexpected entry %+v", query, e)
				}
			}
			return es
		}
		check("actor="+url.QueryEscape(`acme\bob`), func(e auEntry) bool { return e.Actor == `acme\bob` }, 1)
		check("account=acme-c", func(e auEntry) bool { return e.Account == "acme-c" }, 2)
		check("action=delete", func(e auEntry) bool { return e.Action == "delete" }, 1)
		check("outcome=failure", func(e auEntry) bool { return e.Outcome == "failure" && e.Action == "sign-in" }, 2)
		check("action=create&outcome=denied", func(e auEntry) bool { return e.Action == "create" && e.Outcome == "denied" }, 1)
		cut := between.Format(time.RFC3339Nano)
		after := check("since="+url.QueryEscape(cut), func(e auEntry) bool { return !auTime(t, e).Before(between) }, 1)
		before := check("until="+url.QueryEscape(cut), func(e auEntry) bool { return !auTime(t, e).After(between) }, 1)
		has := func(es []auEntry, id string) bool {
			for _, e := range es {
				if e.ID == id {
					return true
				}
			}
			return false
		}
		if !has(after, deleted.ID) || has(after, created.ID) {
			t.Errorf("since=%s: wrong selection", cut)
		}
		if has(before, deleted.ID) || !has(before, created.ID) {
			t.Errorf("until=%s: wrong selection", cut)
		}
		azCheck(t, "bad since", s.Admin("GET", azV2+"/audit?since=yesterday", ""), 400)
	})

	t.Run("paging", func(t *testing.T) {
		all, total := auAdminList(t, s, "page-size=1000")
		if total < 6 || len(all) != total {
			t.Fatalf("count %d, %d entries", total, len(all))
		}
		for i := 1; i < len(all); i++ {
			if all[i-1].ID >= all[i].ID {
				t.Errorf("entries out of time order: %s then %s", all[i-1].ID, all[i].ID)
			}
		}
		p1, n1, r := auList(t, s, admin, harness.AdminPassword, "page-size=2&current-page=1&account=acme")
		p2, n2, _ := auList(t, s, admin, harness.AdminPassword, "page-size=2&current-page=2&account=acme")
		if n1 != n2 || n1 < 5 || len(p1) != 2 || len(p2) != 2 || p1[1].ID >= p2[0].ID {
			t.Errorf("pages: counts %d %d, lengths %d %d", n1, n2, len(p1), len(p2))
		}
		next := r.Root().SelectAttrValue("next", "")
		if !strings.Contains(next, "account=acme") || !strings.Contains(next, "current-page=2") {
			t.Errorf("next link %q does not keep the filter", next)
		}
		_, n0, _ := auList(t, s, admin, harness.AdminPassword, "account=acme&depth=0")
		if n0 != n1 {
			t.Errorf("depth=0 count %d, want %d", n0, n1)
		}
	})

	t.Run("tenancy", func(t *testing.T) {
		es, n, _ := auList(t, s, `acme\alice`, auPassAlice, "page-size=1000")
		if n != len(es) || n == 0 {
			t.Fatalf("alice sees count %d, %d entries", n, len(es))
		}
		sawChild := false
		for _, e := range es {
			if e.Account != "acme" && e.Account != "acme-c" {
				t.Errorf("alice (acme) sees an entry of %q: %+v", e.Account, e)
			}
			sawChild = sawChild || e.Account == "acme-c"
		}
		if !sawChild {
			t.Error("alice does not see her child account's entries")
		}
		all, _ := auAdminList(t, s, "page-size=1000&account=beta")
		if len(all) == 0 {
			t.Fatal("no entries of beta")
		}
		azCheck(t, "alice reads beta's entry", s.As(`acme\alice`, auPassAlice, "GET", all[0].Href, ""), 404)
		azCheck(t, "admin reads beta's entry", s.Admin("GET", all[0].Href, ""), 200)
		azCheck(t, "bob lacks auth:audit:read", s.As(`acme\bob`, auPassNew, "GET", azV2+"/audit", ""), 403)
	})

	t.Run("leases", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cl := s.Store.Client()
		resp, err := cl.Get(ctx, s.Store.Prefix()+"audit/", clientv3.WithPrefix())
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Kvs) < 6 {
			t.Fatalf("%d audit keys", len(resp.Kvs))
		}
		// Entries share hour-wide expiry buckets: a lease ends between
		// retention and retention + 1h after its entries were written.
		least := int64(cfg.Audit.Retention / time.Second)
		most := int64((cfg.Audit.Retention + time.Hour) / time.Second)
		leases := map[clientv3.LeaseID]bool{}
		for _, kv := range resp.Kvs {
			if kv.Lease == 0 {
				t.Errorf("audit key %s has no lease", kv.Key)
			}
			leases[clientv3.LeaseID(kv.Lease)] = true
		}
		for id := range leases {
			ttl, err := cl.TimeToLive(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if ttl.GrantedTTL < least || ttl.GrantedTTL > most || ttl.TTL < least-600 {
				t.Errorf("lease %x: granted %ds, left %ds; want between %ds and %ds", id, ttl.GrantedTTL, ttl.TTL, least, most)
			}
		}
		// Neither the watch-fed cache nor a fresh instance's initial list
		// holds an audit entry; the fresh instance still serves them.
		s2 := harness.StartOn(t, endpoint)
		for i, st := range []*storage.Store{s.Store, s2.Store} {
			_ = st.Read(ctx, 0, func(v storage.View) error {
				for _, kv := range resp.Kvs {
					if k := strings.TrimPrefix(string(kv.Key), st.Prefix()); v.Has(k) {
						t.Errorf("instance %d: the cache holds audit key %s", i+1, k)
					}
				}
				return nil
			})
		}
		if _, n, _ := auList(t, s2, admin, harness.AdminPassword, "depth=0"); n < len(resp.Kvs) {
			t.Errorf("the second instance counts %d entries, want at least %d", n, len(resp.Kvs))
		}
		if len(leases) > 2 {
			t.Errorf("%d leases for one test's entries; want one per hour", len(leases))
		}
	})

	t.Run("no-secrets", func(t *testing.T) {
		// An API key's secret, used right and wrong, joins the passwords.
		mark := time.Now()
		created := s.Admin("POST", azV2+"/accounts/system/users/admin/api-keys",
			"<api-key><name>audited</name><permissions><permission>auth:users:read</permission></permissions></api-key>").Must(t, 201)
		keySecret := created.Root().SelectElement("secret").Text()
		s.Do(harness.Request{Method: "GET", Path: azV2 + "/accounts/system/users", Header: map[string][]string{"X-API-Key": {keySecret}}}).Must(t, 200)
		s.Do(harness.Request{Method: "GET", Path: azV2 + "/accounts/system/users", Header: map[string][]string{"X-API-Key": {keySecret + "x"}}}).Must(t, 401)
		s.Do(harness.Request{Method: "POST", Path: azV2 + "/accounts/system/users", Body: "<user><name>via-key</name></user>",
			Header: map[string][]string{"Authorization": {"Bearer " + keySecret}}}).Must(t, 403)
		// Sign-in and denied entries are written in the background: wait
		// for this subtest's (the admin's sign-in to create the key, the
		// key's refused write) before reading etcd.
		auOne(t, s, "the admin's sign-in to create the key", mark, auEntry{Actor: admin, Action: "sign-in",
			Target: azV2 + "/accounts/system/users/admin/api-keys", Outcome: "success"})
		auOne(t, s, "the key's refused write", mark, auEntry{Action: "create",
			Target: azV2 + "/accounts/system/users", Outcome: "denied"})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := s.Store.Client().Get(ctx, s.Store.Prefix()+"audit/", clientv3.WithPrefix())
		if err != nil {
			t.Fatal(err)
		}
		var haystack []string
		for _, kv := range resp.Kvs {
			haystack = append(haystack, "etcd "+string(kv.Key)+": "+string(kv.Value))
		}
		_, _, r := auList(t, s, admin, harness.AdminPassword, "page-size=1000")
		haystack = append(haystack, strings.Split(r.Body, "\n")...)
		lines := strings.Split(logs.String(), "\n")
		if !strings.Contains(logs.String(), "sign-in failed") {
			t.Errorf("the captured log lacks the failed sign-ins; is it captured?")
		}
		haystack = append(haystack, lines...)
		for _, line := range haystack {
			for _, secret := range []string{harness.AdminPassword, auPassAlice, auPassBob, auPassNew, auPassWrong, "$argon2", keySecret} {
				if strings.Contains(line, secret) {
					t.Errorf("secret %q appears in: %s", secret, line)
				}
			}
		}
	})
}
