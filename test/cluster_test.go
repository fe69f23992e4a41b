package test

// Several gatehouse instances on one etcd (SPEC §2 "Several gatehouse
// instances may share one etcd cluster; they stay consistent through etcd
// watches", §5 "a change … is visible to checks on every instance within
// one etcd watch delivery"): propagation between instances, ETags, restarts
// and the one-time bootstrap.

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	clientv3 "go.etcd.io/etcd/client/v3"

	"gatehouse/conf"
	"gatehouse/instance"
	"gatehouse/storage"
	"gatehouse/test/harness"
)

// ghxPatience is how long a test waits for something that should happen
// within moments (a change reaching another instance over the etcd watch):
// generous, because a deadline is not a claim about speed on a busy
// machine. The delays themselves are logged, never compared.
const ghxPatience = 30 * time.Second

// ghxPoll calls cond every few milliseconds until it holds or limit has
// passed; it reports how long it took and whether cond held.
func ghxPoll(limit time.Duration, cond func() bool) (time.Duration, bool) {
	return harness.Poll(limit, cond)
}

// ghxPropagates polls s until the request answers want, failing the test
// when it never does within ghxPatience, and logs the delay.
func ghxPropagates(t *testing.T, what string, s *harness.Server, method, path string, want int) time.Duration {
	t.Helper()
	var last *harness.Response
	d, ok := ghxPoll(ghxPatience, func() bool {
		last = s.Admin(method, path, "")
		return last.Status == want
	})
	if !ok {
		t.Errorf("%s: %s %s on the other instance still answers %d after %v, want %d; body:\n%s",
			what, method, path, last.Status, d, want, last.Body)
		return d
	}
	t.Logf("%s: visible on the other instance after %v", what, d)
	return d
}

// ghxLoginRev is the etcd revision of user's last-login record in
// account (0 if none), read straight from etcd.
func ghxLoginRev(t testing.TB, s *harness.Server, account, user string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := s.Store.Client().Get(ctx, s.Store.Prefix()+storage.ItemKey(account, storage.KindLogin, user))
	if err != nil {
		t.Fatalf("reading %s\\%s's last login from etcd: %v", account, user, err)
	}
	if len(resp.Kvs) == 0 {
		return 0
	}
	return resp.Kvs[0].ModRevision
}

// ghxCaughtUp waits until s's cache has reached etcd revision rev.
func ghxCaughtUp(t testing.TB, s *harness.Server, rev int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ghxPatience)
	defer cancel()
	if err := s.Store.Read(ctx, rev, func(storage.View) error { return nil }); err != nil {
		t.Fatalf("waiting for the cache to reach revision %d: %v", rev, err)
	}
}

// ghxEtcdKeys returns every key under the store's prefix (relative to it)
// with its value, read straight from etcd.
func ghxEtcdKeys(t testing.TB, s *harness.Server) map[string]*ghxKV {
	t.Helper()
	return ghxEtcdKeysOf(t, s.Store.Client(), s.Store.Prefix())
}

type ghxKV struct {
	Value          string
	Version        int64
	CreateRevision int64
	ModRevision    int64
}

func ghxEtcdKeysOf(t testing.TB, cli *clientv3.Client, prefix string) map[string]*ghxKV {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatalf("reading etcd under %s: %v", prefix, err)
	}
	out := make(map[string]*ghxKV, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out[strings.TrimPrefix(string(kv.Key), prefix)] = &ghxKV{Value: string(kv.Value), Version: kv.Version,
			CreateRevision: kv.CreateRevision, ModRevision: kv.ModRevision}
	}
	return out
}

// ghxNamesUnder lists the keys with prefix p (the part after p), sorted.
func ghxNamesUnder(keys map[string]*ghxKV, p string) []string {
	var out []string
	for k := range keys {
		if strings.HasPrefix(k, p) {
			out = append(out, k[len(p):])
		}
	}
	sort.Strings(out)
	return out
}

// ghxNormalize parses an XML document and drops the admin's last-login,
// which every new instance's first Basic sign-in legitimately refreshes.
func ghxNormalize(t *testing.T, body string) string {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(body); err != nil {
		t.Fatalf("not XML: %v\n%s", err, body)
	}
	for _, u := range doc.FindElements("//user[@identifier='admin']") {
		if ll := u.SelectElement("last-login"); ll != nil {
			u.RemoveChild(ll)
		}
	}
	doc.Indent(2)
	s, _ := doc.WriteToString()
	return s
}

func TestClusterTwoInstancesOneEtcd(t *testing.T) {
	ep := harness.Etcd(t)
	a := harness.StartOn(t, ep)
	b := harness.StartOn(t, ep)
	// Pay each instance's one argon2id run up front so that polls measure
	// propagation, not password hashing.
	a.Admin("GET", "/auth/v2/accounts/system", "").Must(t, http.StatusOK)
	b.Admin("GET", "/auth/v2/accounts/system", "").Must(t, http.StatusOK)

	t.Run("UserCreatedOnAIsServedByB", func(t *testing.T) {
		b.Admin("GET", "/auth/v2/accounts/system/users/carol", "").Must(t, http.StatusNotFound)
		a.Admin("POST", "/auth/v2/accounts/system/users",
			`<user><name>carol</name><password>long-enough-1</password></user>`).Must(t, http.StatusCreated)
		ghxPropagates(t, "user carol created on A", b, "GET", "/auth/v2/accounts/system/users/carol", http.StatusOK)
		// The new user's password works against B (the hash travelled).
		r := b.As(`system\carol`, "long-enough-1", "GET", "/auth/v2/accounts/system/users/carol", "")
		if r.Status != http.StatusForbidden && r.Status != http.StatusOK {
			t.Errorf("carol signing in on B: status %d, want 403 (valid credentials, no permission); body:\n%s", r.Status, r.Body)
		}
		// A delete on A reaches B too.
		a.Admin("DELETE", "/auth/v2/accounts/system/users/carol", "").Must(t, http.StatusNoContent)
		ghxPropagates(t, "user carol deleted on A", b, "GET", "/auth/v2/accounts/system/users/carol", http.StatusNotFound)
	})

	t.Run("RoleChangesOnAChangeBsAnswer", func(t *testing.T) {
		const perm = "/auth/v2/accounts/system/users/dave/permissions/print:jobs:read"
		a.Admin("POST", "/auth/v2/accounts/system/users",
			`<user><name>dave</name><password>long-enough-1</password></user>`).Must(t, http.StatusCreated)
		a.Admin("POST", "/auth/v2/accounts/system/roles",
			`<role><name>printer</name><permissions><permission>print:jobs:read</permission></permissions></role>`).Must(t, http.StatusCreated)
		a.Admin("POST", "/auth/v2/accounts/system/users/dave/roles", `<role identifier="printer"/>`).Must(t, http.StatusCreated)
		ghxPropagates(t, "role printer given to dave", b, "GET", perm, http.StatusOK)

		// ETags are per document: dave's effective permissions show every
		// step, so their ETag on B must move with each.
		const daves = "/auth/v2/accounts/system/users/dave/permissions"
		etagOfB := func() string {
			r := b.Admin("GET", daves, "").Must(t, http.StatusOK)
			if r.Header.Get("ETag") == "" {
				t.Fatalf("B's GET %s has no ETag", daves)
			}
			return r.Header.Get("ETag")
		}
		steps := []struct {
			what         string
			method, path string
			body         string
			status       int // A's answer
			want         int // B's answer to the permission question afterwards
		}{
			{"permission removed from the role", "DELETE", "/auth/v2/accounts/system/roles/printer/permissions/print:jobs:read", "", http.StatusNoContent, http.StatusNotFound},
			{"permission added to the role", "PUT", "/auth/v2/accounts/system/roles/printer/permissions/print:jobs:read", "", http.StatusCreated, http.StatusOK},
			{"role permissions replaced without it", "PUT", "/auth/v2/accounts/system/roles/printer/permissions",
				`<permissions><permission>print:jobs:delete</permission></permissions>`, http.StatusNoContent, http.StatusNotFound},
			{"role permissions replaced with a wider one", "PUT", "/auth/v2/accounts/system/roles/printer/permissions",
				`<permissions><permission>print:*</permission></permissions>`, http.StatusNoContent, http.StatusOK},
			{"role taken from the user", "DELETE", "/auth/v2/accounts/system/users/dave/roles/printer", "", http.StatusNoContent, http.StatusNotFound},
			{"role given back to the user", "POST", "/auth/v2/accounts/system/users/dave/roles", `<role identifier="printer"/>`, http.StatusCreated, http.StatusOK},
			{"role deleted", "DELETE", "/auth/v2/accounts/system/roles/printer", "", http.StatusNoContent, http.StatusNotFound},
		}
		var worst time.Duration
		for _, st := range steps {
			before := etagOfB()
			a.Admin(st.method, st.path, st.body).Must(t, st.status)
			d := ghxPropagates(t, st.what, b, "GET", perm, st.want)
			worst = max(worst, d)
			after := etagOfB()
			if after == before {
				t.Errorf("%s: B's ETag for dave's permissions stayed %s after the change reached B", st.what, after)
			}
			// A client holding the old ETag must not get 304 from B.
			r := b.Do(harness.Request{Method: "GET", Path: daves, User: `system\admin`,
				Pass: harness.AdminPassword, Header: http.Header{"If-None-Match": {before}}})
			if r.Status != http.StatusOK {
				t.Errorf("%s: B answers %d to If-None-Match with the old ETag %s, want 200", st.what, r.Status, before)
			}
		}
		t.Logf("worst propagation delay of a role change: %v", worst)
	})

	t.Run("GroupRoleChangesOnAChangeBsAnswer", func(t *testing.T) {
		const perm = "/auth/v2/accounts/system/users/erin/permissions/filtering:policies:read"
		a.Admin("POST", "/auth/v2/accounts/system/users", `<user><name>erin</name></user>`).Must(t, http.StatusCreated)
		a.Admin("POST", "/auth/v2/accounts/system/roles",
			`<role><name>filter</name><permissions><permission>filtering:policies:read</permission></permissions></role>`).Must(t, http.StatusCreated)
		a.Admin("POST", "/auth/v2/accounts/system/groups", `<group><name>ops</name></group>`).Must(t, http.StatusCreated)
		a.Admin("POST", "/auth/v2/accounts/system/groups/ops/roles", `<role identifier="filter"/>`).Must(t, http.StatusCreated)
		ghxPropagates(t, "group ops created with role filter", b, "GET", "/auth/v2/accounts/system/groups/ops/roles/filter", http.StatusOK)
		b.Admin("GET", perm, "").Must(t, http.StatusNotFound)
		a.Admin("POST", "/auth/v2/accounts/system/groups/ops/users", `<user identifier="erin"/>`).Must(t, http.StatusCreated)
		ghxPropagates(t, "erin added to group ops", b, "GET", perm, http.StatusOK)
		a.Admin("DELETE", "/auth/v2/accounts/system/users/erin/groups/ops", "").Must(t, http.StatusNoContent)
		ghxPropagates(t, "erin removed from group ops", b, "GET", perm, http.StatusNotFound)
	})

	t.Run("UniquenessAcrossInstances", func(t *testing.T) {
		// 50 creates of one name, alternating between the instances: their
		// caches differ for a moment, etcd decides.
		clients := []*ghxHTTP{ghxClientFor(a), ghxClientFor(b)}
		var mu sync.Mutex
		counts := map[int]int{}
		ghxGo(50, func(i int) {
			st, _, err := clients[i%2].do("POST", "/auth/v2/accounts/system/users", `<user><name>twice</name></user>`)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				st = -1
			}
			counts[st]++
		})
		t.Logf("50 creates of one user name over two instances: %v", counts)
		if counts[http.StatusCreated] != 1 || counts[http.StatusConflict] != 49 {
			t.Errorf("statuses %v, want exactly one 201 and 49 × 409", counts)
		}
		keys := ghxEtcdKeys(t, a)
		if kv := keys["t/system/user/twice"]; kv == nil || kv.Version != 1 {
			t.Errorf("t/system/user/twice: %+v, want written exactly once", kv)
		}
	})

	t.Run("ETagsAgreeAcrossInstances", func(t *testing.T) {
		// An account written before a third instance starts, then some
		// unrelated write, then the new instance: all three show the same
		// state, so a client behind a load balancer must get the same
		// ETag from each, and an If-Match taken from one must hold on
		// another.
		a.Admin("POST", "/auth/v2/accounts", `<account><name>tagged</name><parent>system</parent></account>`).Must(t, http.StatusCreated)
		a.Admin("POST", "/auth/v2/accounts", `<account><name>sibling</name><parent>system</parent></account>`).Must(t, http.StatusCreated)
		a.Admin("POST", "/auth/v2/accounts/sibling/users", `<user><name>unrelated</name></user>`).Must(t, http.StatusCreated)
		c := harness.StartOn(t, ep)
		// C's first Basic sign-in records the admin's last login in the
		// background: a write to account system, an ancestor of tagged,
		// that may move tagged's ETag. Let it reach every instance before
		// comparing, or the comparison races it.
		login := ghxLoginRev(t, a, storage.SystemAccount, storage.AdminUser)
		c.Admin("GET", "/auth/v2/accounts/tagged", "").Must(t, http.StatusOK)
		harness.WaitFor(t, ghxPatience, "C records the admin's first sign-in there", func() bool {
			return ghxLoginRev(t, a, storage.SystemAccount, storage.AdminUser) > login
		})
		login = ghxLoginRev(t, a, storage.SystemAccount, storage.AdminUser)
		for _, s := range []*harness.Server{a, b, c} {
			ghxCaughtUp(t, s, login)
		}
		ghxPropagates(t, "account tagged", b, "GET", "/auth/v2/accounts/tagged", http.StatusOK)
		var ra, rb, rc *harness.Response
		var ea, eb, ec string
		d, ok := ghxPoll(ghxPatience, func() bool {
			ra = a.Admin("GET", "/auth/v2/accounts/tagged", "").Must(t, http.StatusOK)
			rb = b.Admin("GET", "/auth/v2/accounts/tagged", "").Must(t, http.StatusOK)
			rc = c.Admin("GET", "/auth/v2/accounts/tagged", "").Must(t, http.StatusOK)
			ea, eb, ec = ra.Header.Get("ETag"), rb.Header.Get("ETag"), rc.Header.Get("ETag")
			return ea == eb && ea == ec && ra.Body == rb.Body && ra.Body == rc.Body
		})
		if !ok {
			t.Errorf("after %v the instances still disagree on the unchanged account tagged: ETags A %s, B %s, C %s (C started later); bodies equal: %v",
				d, ea, eb, ec, ra.Body == rb.Body && ra.Body == rc.Body)
		} else {
			t.Logf("the three instances agree on account tagged after %v", d)
		}
		r := c.Do(harness.Request{Method: "PUT", Path: "/auth/v2/accounts/tagged", User: `system\admin`, Pass: harness.AdminPassword,
			Body: `<account><description>changed through C</description></account>`, Header: http.Header{"If-Match": {ea}}})
		if r.Status != http.StatusNoContent {
			t.Errorf("PUT on C with If-Match %s (A's current ETag of the unchanged account): status %d, want 204; body:\n%s", ea, r.Status, r.Body)
		}
	})

	t.Run("RestartLosesNothing", func(t *testing.T) {
		ghxSeedDataset(t, a)
		paths := []string{
			"/auth/v2/accounts?depth=3",
			"/auth/v2/accounts/system?depth=3",
			"/auth/v2/accounts/keep?depth=3",
			"/auth/v2/accounts/keep-child?depth=3",
			"/auth/v2/accounts/keep/users/kim?depth=3",
			"/auth/v2/accounts/keep/groups/staff?depth=3",
			"/auth/v2/accounts/keep/roles/viewer?depth=3",
			"/auth/v2/accounts/keep/users/kim/permissions?depth=3",
		}
		snapshot := func(s *harness.Server) map[string]string {
			out := map[string]string{}
			for _, p := range paths {
				out[p] = ghxNormalize(t, s.Admin("GET", p, "").Must(t, http.StatusOK).Body)
			}
			return out
		}
		ghxPropagates(t, "data set", b, "GET", "/auth/v2/accounts/keep/users/lee/roles/viewer", http.StatusOK)
		before := snapshot(a)
		onB := snapshot(b)
		for _, p := range paths {
			if before[p] != onB[p] {
				t.Errorf("before any restart, A and B disagree on %s:\nA:\n%s\nB:\n%s", p, before[p], onB[p])
			}
		}
		compare := func(who string, s *harness.Server) {
			t.Helper()
			after := snapshot(s)
			for _, p := range paths {
				if after[p] != before[p] {
					t.Errorf("%s: %s differs after the restart:\nbefore:\n%s\nafter:\n%s", who, p, before[p], after[p])
				}
			}
		}

		b.Close()
		b2 := harness.StartOn(t, ep)
		compare("B restarted", b2)
		a.Admin("GET", "/auth/v2/accounts/keep", "").Must(t, http.StatusOK) // A unaffected
		compare("A while B restarted", a)

		a.Close()
		a2 := harness.StartOn(t, ep)
		compare("A restarted", a2)
		compare("B after A restarted", b2)

		// Passwords survive (kim's sign-in updates her last-login, so this
		// comes after the comparisons): 403 means valid credentials
		// without an auth: permission.
		for who, s := range map[string]*harness.Server{"A restarted": a2, "B restarted": b2} {
			r := s.As(`keep\kim`, "tangerine-secret-1", "GET", "/auth/v2/accounts/keep", "")
			if r.Status != http.StatusForbidden {
				t.Errorf("%s: keep\\kim signing in after the restarts: status %d, want 403; body:\n%s", who, r.Status, r.Body)
			}
		}

		// And the restarted pair still propagates.
		a2.Admin("POST", "/auth/v2/accounts/keep/users", `<user><name>after-restart</name></user>`).Must(t, http.StatusCreated)
		b2.Admin("GET", "/auth/v2/accounts/system", "").Must(t, http.StatusOK)
		ghxPropagates(t, "user created on restarted A", b2, "GET", "/auth/v2/accounts/keep/users/after-restart", http.StatusOK)
	})
}

// ghxSeedDataset writes an account tree with every kind of record.
func ghxSeedDataset(t *testing.T, s *harness.Server) {
	t.Helper()
	steps := []struct{ method, path, body string }{
		{"POST", "/auth/v2/accounts", `<account><name>keep</name><description>kept across restarts</description><parent>system</parent></account>`},
		{"POST", "/auth/v2/accounts", `<account><name>keep-child</name><parent>keep</parent></account>`},
		{"PUT", "/auth/v2/accounts/keep/permissions", `<permissions><permission>print:*</permission><permission>reporting:*</permission><permission>auth:me:*</permission></permissions>`},
		{"POST", "/auth/v2/accounts/keep/users", `<user><name>kim</name><password>tangerine-secret-1</password><email>kim@example.com</email><full-name>Kim K</full-name></user>`},
		{"POST", "/auth/v2/accounts/keep/users", `<user><name>lee</name><enabled>false</enabled></user>`},
		{"POST", "/auth/v2/accounts/keep/users/kim/attributes", `<attribute><name>color</name><value>blue</value></attribute>`},
		{"POST", "/auth/v2/accounts/keep/roles", `<role><name>viewer</name><description>reads</description><permissions><permission>print:jobs:read</permission><permission>reporting:reports:read</permission></permissions></role>`},
		{"POST", "/auth/v2/accounts/keep/roles", `<role><name>editor</name><permissions><permission>print:jobs:*</permission></permissions></role>`},
		{"POST", "/auth/v2/accounts/keep/groups", `<group><name>staff</name><description>everyone</description></group>`},
		{"POST", "/auth/v2/accounts/keep/groups/staff/roles", `<role identifier="editor"/>`},
		{"POST", "/auth/v2/accounts/keep/groups/staff/users", `<user identifier="kim"/>`},
		{"POST", "/auth/v2/accounts/keep/users/kim/roles", `<role identifier="viewer"/>`},
		{"POST", "/auth/v2/accounts/keep/users/lee/roles", `<role identifier="viewer"/>`},
		{"POST", "/auth/v2/accounts/keep-child/users", `<user><name>kid</name></user>`},
	}
	for _, st := range steps {
		r := s.Admin(st.method, st.path, st.body)
		if r.Status != http.StatusCreated && r.Status != http.StatusNoContent {
			t.Fatalf("seeding: %s %s: status %d; body:\n%s", st.method, st.path, r.Status, r.Body)
		}
	}
}

// ghxSyncBuffer is a bytes.Buffer safe for concurrent writers.
type ghxSyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *ghxSyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *ghxSyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var ghxGeneratedPassword = regexp.MustCompile(`generated password: (\S+)`)

// TestClusterBootstrapOnce starts two instances at the same moment on an
// empty etcd, each ready to generate its own admin password: exactly one
// bootstraps, and both serve that one admin.
func TestClusterBootstrapOnce(t *testing.T) {
	for round := range 3 {
		ep := harness.Etcd(t)
		var cfgs [2]conf.Config
		for i := range cfgs {
			cfgs[i] = harness.Config(t)
			cfgs[i].Storage.Etcd.Endpoints = []string{ep}
			cfgs[i].Admin.Password = "" // generate, and print on the console
		}
		var (
			consoles [2]ghxSyncBuffer
			ins      [2]*instance.Instance
			errs     [2]error
			wg       sync.WaitGroup
			gate     = make(chan struct{})
		)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				ins[i], errs[i] = instance.Start(ctx, cfgs[i], slog.New(slog.NewTextHandler(io.Discard, nil)), &consoles[i])
			}()
		}
		close(gate)
		wg.Wait()
		for i := range 2 {
			if ins[i] != nil {
				t.Cleanup(ins[i].Close)
			}
			if errs[i] != nil {
				t.Fatalf("round %d: instance %d failed to start: %v", round, i, errs[i])
			}
		}

		var printed []string
		for i := range 2 {
			ms := ghxGeneratedPassword.FindAllStringSubmatch(consoles[i].String(), -1)
			for _, m := range ms {
				printed = append(printed, m[1])
			}
		}
		if len(printed) != 1 {
			t.Fatalf("round %d: %d generated admin passwords printed, want exactly 1; consoles:\n0: %q\n1: %q",
				round, len(printed), consoles[0].String(), consoles[1].String())
		}
		for i, in := range ins {
			req, _ := http.NewRequest("GET", in.URL()+"/auth/v2/accounts/system", nil)
			req.SetBasicAuth(`system\admin`, printed[0])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("round %d: instance %d: %v", round, i, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("round %d: the printed admin password answers %d on instance %d, want 200", round, resp.StatusCode, i)
			}
		}

		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		keys := ghxEtcdKeysOf(t, cli, "/gatehouse/")
		cli.Close()
		want := map[string][]string{
			"acct/":           {"system"},
			"t/system/user/":  {"admin"},
			"t/system/role/":  {"administrator"},
			"t/system/ceil/":  {"*"},
			"t/system/rperm/": {"administrator/*"},
			"t/system/ur/":    {"admin/administrator"},
			"t/system/ru/":    {"administrator/admin"},
			"t/system/group/": nil,
			"t/system/child/": nil,
			"t/system/attr/":  nil,
			"t/system/gu/":    nil,
			"t/system/ug/":    nil,
		}
		for p, w := range want {
			if got := ghxNamesUnder(keys, p); strings.Join(got, ",") != strings.Join(w, ",") {
				t.Errorf("round %d: keys under %s: %q, want %q", round, p, got, w)
			}
		}
		for _, k := range []string{"acct/system", "t/system/user/admin", "t/system/role/administrator"} {
			if kv := keys[k]; kv == nil || kv.Version != 1 {
				v := int64(0)
				if kv != nil {
					v = kv.Version
				}
				t.Errorf("round %d: key %s has version %d, want 1 (written by exactly one bootstrap)", round, k, v)
			}
		}
		for _, in := range ins {
			in.Close()
		}
	}
}
