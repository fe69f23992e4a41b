package test

// Seed conformance: the data behind each example of the "Scriptura Engage
// Security Web API" seed (../shared/seeds/001_4149f654e158e803.txt) is
// built through the API as system\admin and every response document is
// compared structurally with the seed's example: element names, attribute
// names and values, nesting and child order. Where gatehouse adds fields
// (created, enabled, password-expired, e-mail, full-name, last-login,
// granted-by) the expected documents list them too, so each test pins the
// whole document. Values that vary are written as placeholders
// ({{rfc3339}}, {{int}}) and checked by format.
//
// The helpers in this file (e2e…) are shared by hypermedia_test.go and
// badinput_test.go.

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	clientv3 "go.etcd.io/etcd/client/v3"

	"gatehouse/storage"
	"gatehouse/test/harness"
)

// e2eXMLDecl starts every document gatehouse writes (SPEC §3).
const e2eXMLDecl = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`

// Placeholders for values that vary between runs.
const (
	e2eAnyRFC3339 = "{{rfc3339}}" // an RFC 3339 time in UTC
	e2eAnyInt     = "{{int}}"     // a non-negative decimal integer
)

var e2eIntRE = regexp.MustCompile(`^[0-9]+$`)

// e2eValueMatches reports whether got satisfies want (a literal or a
// placeholder) and describes want for messages.
func e2eValueMatches(want, got string) (bool, string) {
	switch want {
	case e2eAnyRFC3339:
		tm, err := time.Parse(time.RFC3339, got)
		return err == nil && tm.Location() == time.UTC && strings.HasSuffix(got, "Z"), "an RFC 3339 UTC time"
	case e2eAnyInt:
		return e2eIntRE.MatchString(got), "an integer"
	}
	return want == got, fmt.Sprintf("%q", want)
}

// e2eShapeDiff compares got with want and returns the first difference,
// prefixed by its path (/user/attributes[2]@count), or "" when they have
// the same shape. Attribute order is not significant; child order is.
func e2eShapeDiff(want, got *etree.Element) string {
	if want == nil || got == nil {
		if want == got {
			return ""
		}
		return fmt.Sprintf("/: want %v, got %v", want != nil, got != nil)
	}
	return e2eShapeDiffAt("/"+want.FullTag(), want, got)
}

func e2eShapeDiffAt(p string, want, got *etree.Element) string {
	if want.FullTag() != got.FullTag() {
		return fmt.Sprintf("%s: element <%s>, want <%s>", p, got.FullTag(), want.FullTag())
	}
	wa, ga := map[string]string{}, map[string]string{}
	var keys []string
	for _, a := range want.Attr {
		wa[a.FullKey()] = a.Value
		keys = append(keys, a.FullKey())
	}
	for _, a := range got.Attr {
		ga[a.FullKey()] = a.Value
	}
	for _, k := range keys {
		g, ok := ga[k]
		if !ok {
			return fmt.Sprintf("%s@%s: attribute missing (want %q)", p, k, wa[k])
		}
		if ok, desc := e2eValueMatches(wa[k], g); !ok {
			return fmt.Sprintf("%s@%s: %q, want %s", p, k, g, desc)
		}
	}
	var extra []string
	for _, a := range got.Attr {
		if _, ok := wa[a.FullKey()]; !ok {
			extra = append(extra, a.FullKey()+"="+fmt.Sprintf("%q", a.Value))
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return fmt.Sprintf("%s: unexpected attributes %s", p, strings.Join(extra, " "))
	}
	wc, gc := want.ChildElements(), got.ChildElements()
	if len(wc) == 0 && len(gc) == 0 {
		wt, gt := strings.TrimSpace(want.Text()), strings.TrimSpace(got.Text())
		if ok, desc := e2eValueMatches(wt, gt); !ok {
			return fmt.Sprintf("%s: text %q, want %s", p, gt, desc)
		}
	}
	for i := 0; i < len(wc) || i < len(gc); i++ {
		switch {
		case i >= len(gc):
			return fmt.Sprintf("%s: child %d <%s> missing (got %d children: %s)", p, i+1, wc[i].FullTag(), len(gc), e2eTags(gc))
		case i >= len(wc):
			return fmt.Sprintf("%s: unexpected child %d <%s %s> (want %d children: %s)", p, i+1, gc[i].FullTag(), e2eAttrText(gc[i]), len(wc), e2eTags(wc))
		}
		if d := e2eShapeDiffAt(fmt.Sprintf("%s/%s[%d]", p, wc[i].FullTag(), i+1), wc[i], gc[i]); d != "" {
			return d
		}
	}
	return ""
}

func e2eTags(els []*etree.Element) string {
	var s []string
	for _, e := range els {
		s = append(s, e.FullTag())
	}
	return strings.Join(s, ",")
}

func e2eAttrText(e *etree.Element) string {
	var s []string
	for _, a := range e.Attr {
		s = append(s, fmt.Sprintf("%s=%q", a.FullKey(), a.Value))
	}
	return strings.Join(s, " ")
}

// e2eParse parses an expected document.
func e2eParse(t testing.TB, s string) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(strings.TrimSpace(s)); err != nil {
		t.Fatalf("bad expected XML: %v\n%s", err, s)
	}
	return doc.Root()
}

// e2eMustShape fails the test when got does not have want's shape.
func e2eMustShape(t testing.TB, label, want string, got *harness.Response) {
	t.Helper()
	if got.Root() == nil {
		t.Errorf("%s: no XML document; status %d body:\n%s", label, got.Status, got.Body)
		return
	}
	if d := e2eShapeDiff(e2eParse(t, want), got.Root()); d != "" {
		t.Errorf("%s: %s\ngot:\n%s\nwant:\n%s", label, d, got.Body, strings.TrimSpace(want))
	}
}

// e2eGet GETs path as system\admin and checks what every 200 document
// must have: the media type, the XML declaration and an ETag.
func e2eGet(t testing.TB, s *harness.Server, path string) *harness.Response {
	t.Helper()
	r := s.Admin(http.MethodGet, path, "")
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200; body:\n%s", path, r.Status, r.Body)
	}
	e2eCheckDocument(t, "GET "+path, r)
	return r
}

// e2eCheckDocument checks the framing of an XML resource document.
func e2eCheckDocument(t testing.TB, label string, r *harness.Response) {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/xml; charset=utf-8" {
		t.Errorf("%s: Content-Type %q, want application/xml; charset=utf-8", label, ct)
	}
	if !strings.HasPrefix(r.Body, e2eXMLDecl) {
		t.Errorf("%s: body does not start with %s:\n%s", label, e2eXMLDecl, r.Body)
	}
	if r.Header.Get("ETag") == "" {
		t.Errorf("%s: no ETag", label)
	}
	if r.Root() == nil {
		t.Errorf("%s: body is not an XML document:\n%s", label, r.Body)
	}
}

// e2eDo performs a request as system\admin and fails unless the status
// is want.
func e2eDo(t testing.TB, s *harness.Server, method, path, body string, want int) *harness.Response {
	t.Helper()
	r := s.Admin(method, path, body)
	if r.Status != want {
		t.Fatalf("%s %s: status %d, want %d; body:\n%s", method, path, r.Status, want, r.Body)
	}
	return r
}

// e2eCheckProblem checks that r is an RFC 9457 problem document with
// status want and a non-empty detail, and returns the detail.
func e2eCheckProblem(t testing.TB, label string, r *harness.Response, want int) string {
	t.Helper()
	if r.Status != want {
		t.Errorf("%s: status %d, want %d; body:\n%s", label, r.Status, want, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+xml") {
		t.Errorf("%s: Content-Type %q, want application/problem+xml", label, ct)
		return ""
	}
	root := r.Root()
	if root == nil {
		t.Errorf("%s: problem body is not XML:\n%s", label, r.Body)
		return ""
	}
	if root.Tag != "problem" || root.SelectAttrValue("xmlns", "") != "urn:ietf:rfc:7807" {
		t.Errorf("%s: root <%s xmlns=%q>, want <problem xmlns=\"urn:ietf:rfc:7807\">", label, root.FullTag(), root.SelectAttrValue("xmlns", ""))
	}
	text := func(name string) string {
		if e := root.SelectElement(name); e != nil {
			return strings.TrimSpace(e.Text())
		}
		t.Errorf("%s: problem has no <%s>:\n%s", label, name, r.Body)
		return ""
	}
	if st := text("status"); st != fmt.Sprint(r.Status) {
		t.Errorf("%s: <status>%s</status> but the HTTP status is %d", label, st, r.Status)
	}
	if title := text("title"); title != http.StatusText(r.Status) {
		t.Errorf("%s: <title>%s</title>, want %q", label, title, http.StatusText(r.Status))
	}
	detail := text("detail")
	if detail == "" {
		t.Errorf("%s: empty <detail>:\n%s", label, r.Body)
	}
	return detail
}

// e2eSnapshot reads every key of the store with its value, leaving out
// last-login stamps (written in the background on a sign-in), and the
// store's revision.
func e2eSnapshot(t testing.TB, s *harness.Server) (map[string]string, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := s.Store.Client().Get(ctx, s.Store.Prefix(), clientv3.WithPrefix())
	if err != nil {
		t.Fatalf("etcd get: %v", err)
	}
	m := make(map[string]string, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		k := strings.TrimPrefix(string(kv.Key), s.Store.Prefix())
		if strings.Contains(k, "/login/") {
			continue
		}
		if strings.HasPrefix(k, storage.AuditRange) {
			// Sign-in entries come from the audit queue, asynchronously.
			if e, err := storage.DecodeAuditEntry(string(kv.Value)); err == nil && e.Action == "sign-in" {
				continue
			}
		}
		m[k] = string(kv.Value)
	}
	return m, resp.Header.Revision
}

// e2eQuiet waits until nothing more is written to etcd for a while: the
// background writes of a first sign-in (its last-login time, and its
// audit entry, which the audit queue writes within a second) must land
// before a test takes a snapshot to prove a request changed nothing.
func e2eQuiet(t testing.TB, s *harness.Server) {
	t.Helper()
	_, rev := e2eSnapshot(t, s)
	still := time.Now()
	deadline := time.Now().Add(30 * time.Second)
	for time.Since(still) < 2500*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatalf("etcd kept changing for 30s (revision %d)", rev)
		}
		time.Sleep(100 * time.Millisecond)
		if _, r := e2eSnapshot(t, s); r != rev {
			rev, still = r, time.Now()
		}
	}
}

// e2eSnapshotDiff describes how after differs from before ("" if not).
func e2eSnapshotDiff(before, after map[string]string) string {
	var d []string
	for k, v := range before {
		if w, ok := after[k]; !ok {
			d = append(d, "deleted "+k)
		} else if w != v {
			d = append(d, fmt.Sprintf("changed %s: %q → %q", k, v, w))
		}
	}
	for k, v := range after {
		if _, ok := before[k]; !ok {
			d = append(d, fmt.Sprintf("added %s=%q", k, v))
		}
	}
	sort.Strings(d)
	return strings.Join(d, "; ")
}

// e2eAwaitLogin waits until user a\u's last-login stamp is stored (it is
// written in the background after a sign-in) and the server's cache holds
// it, so later snapshots and revisions are stable. (etcd holding the key
// is not enough: a read that did not make the write does not wait for
// the cache to apply it.)
func e2eAwaitLogin(t testing.TB, s *harness.Server, a, u string) {
	t.Helper()
	key := s.Store.Prefix() + "t/" + a + "/login/" + u
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := s.Store.Client().Get(ctx, key)
		if err == nil && len(resp.Kvs) == 1 {
			err = s.Store.Read(ctx, resp.Kvs[0].ModRevision, func(storage.View) error { return nil })
			cancel()
			if err != nil {
				t.Fatalf("the cache did not reach the last-login write of %s\\%s: %v", a, u, err)
			}
			return
		}
		cancel()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("last-login of %s\\%s was never stored (key %s)", a, u, key)
}

// seedUsers are the users of the seed's users example besides admin.
var seedUsers = []string{"anonymous", "system.configuration", "system.discovery", "system.management",
	"system.resourceindexer", "system.scriptura", "system.server", "system.versioning", "test"}

// seedPermissions are example-user's permissions in the seed.
var seedPermissions = []string{"auth:accounts:read", "auth:me:*:read", "auth:me:attributes:update",
	"auth:me:password:create", "auth:me:read"}

func TestSeedExamples(t *testing.T) {
	s := harness.Start(t)
	const sys = "/auth/v2/accounts/system"

	// A fresh store: the accounts example and the account-permissions
	// example hold as they are (the seed's root rules count is 1; no API
	// creates root rules, so gatehouse shows 0).
	t.Run("accounts", func(t *testing.T) {
		e2eMustShape(t, "GET /accounts", `
<accounts count="1" href="/auth/v2/accounts">
  <account identifier="system" href="/auth/v2/accounts/system"/>
  <rules count="0" href="/auth/v2/accounts/rules"/>
</accounts>`, e2eGet(t, s, "/auth/v2/accounts"))
	})
	t.Run("account permissions", func(t *testing.T) {
		e2eMustShape(t, "GET account permissions", `
<permissions count="1" href="/auth/v2/accounts/system/permissions">
  <permission href="/auth/v2/accounts/system/permissions/*"/>
</permissions>`, e2eGet(t, s, sys+"/permissions"))
	})

	// The system account of the seed: 1 group, 12 roles, 10 users.
	userrole := "<role><name>userrole</name><permissions>"
	for _, p := range seedPermissions {
		userrole += "<permission>" + p + "</permission>"
	}
	userrole += "</permissions></role>"
	e2eDo(t, s, "POST", sys+"/roles", userrole, 201)
	for i := 1; i <= 10; i++ {
		e2eDo(t, s, "POST", sys+"/roles", fmt.Sprintf("<role><name>role%02d</name></role>", i), 201)
	}
	e2eDo(t, s, "POST", sys+"/groups", "<group><name>users</name></group>", 201)
	for _, u := range seedUsers {
		e2eDo(t, s, "POST", sys+"/users", "<user><name>"+u+"</name></user>", 201)
	}

	t.Run("account", func(t *testing.T) {
		// The seed shows rules count="6"; gatehouse has no API to create
		// rules yet, so the count is 0.
		e2eMustShape(t, "GET /accounts/system", `
<account identifier="system" href="/auth/v2/accounts/system">
  <default-roles count="0" href="/auth/v2/accounts/system/default-roles"/>
  <groups count="1" href="/auth/v2/accounts/system/groups"/>
  <name>system</name>
  <permissions count="1" href="/auth/v2/accounts/system/permissions"/>
  <providers count="0" href="/auth/v2/accounts/system/providers"/>
  <roles count="12" href="/auth/v2/accounts/system/roles"/>
  <rules count="0" href="/auth/v2/accounts/system/rules"/>
  <users count="10" href="/auth/v2/accounts/system/users"/>
</account>`, e2eGet(t, s, sys))
	})
	t.Run("users", func(t *testing.T) {
		// Exactly the seed's example.
		e2eMustShape(t, "GET /accounts/system/users", `
<users count="10" href="/auth/v2/accounts/system/users">
  <user identifier="admin" href="/auth/v2/accounts/system/users/admin"/>
  <user identifier="anonymous" href="/auth/v2/accounts/system/users/anonymous"/>
  <user identifier="system.configuration" href="/auth/v2/accounts/system/users/system.configuration"/>
  <user identifier="system.discovery" href="/auth/v2/accounts/system/users/system.discovery"/>
  <user identifier="system.management" href="/auth/v2/accounts/system/users/system.management"/>
  <user identifier="system.resourceindexer" href="/auth/v2/accounts/system/users/system.resourceindexer"/>
  <user identifier="system.scriptura" href="/auth/v2/accounts/system/users/system.scriptura"/>
  <user identifier="system.server" href="/auth/v2/accounts/system/users/system.server"/>
  <user identifier="system.versioning" href="/auth/v2/accounts/system/users/system.versioning"/>
  <user identifier="test" href="/auth/v2/accounts/system/users/test"/>
</users>`, e2eGet(t, s, sys+"/users"))
	})

	// example-user: one attribute, role userrole, group users (which
	// holds userrole too), and a password so it can sign in later.
	const eu = sys + "/users/example-user"
	before := time.Now().Add(-time.Second).Truncate(time.Second)
	created := e2eDo(t, s, "POST", sys+"/users", "<user><name>example-user</name><password>example-password-1</password></user>", 201)
	after := time.Now().Add(time.Second)
	t.Run("user created", func(t *testing.T) {
		// The 201 carries Location and the created document.
		if loc := created.Header.Get("Location"); loc != eu {
			t.Errorf("Location %q, want %q", loc, eu)
		}
		e2eCheckDocument(t, "POST user", created)
		e2eMustShape(t, "POST user (201 document)", `
<user identifier="example-user" href="/auth/v2/accounts/system/users/example-user">
  <account>system</account>
  <api-keys count="0" href="/auth/v2/accounts/system/users/example-user/api-keys"/>
  <attributes count="0" href="/auth/v2/accounts/system/users/example-user/attributes"/>
  <clients count="0" href="/auth/v2/accounts/system/users/example-user/clients"/>
  <created>{{rfc3339}}</created>
  <enabled>true</enabled>
  <federations count="0" href="/auth/v2/accounts/system/users/example-user/federated"/>
  <groups count="0" href="/auth/v2/accounts/system/users/example-user/groups"/>
  <password></password>
  <password-expired>false</password-expired>
  <permissions count="0" href="/auth/v2/accounts/system/users/example-user/permissions"/>
  <roles count="0" href="/auth/v2/accounts/system/users/example-user/roles"/>
  <sessions count="0" href="/auth/v2/accounts/system/users/example-user/sessions"/>
  <totp href="/auth/v2/accounts/system/users/example-user/totp"/>
  <name>example-user</name>
</user>`, created)
	})
	e2eDo(t, s, "POST", eu+"/attributes", "<attribute><name>example-attribute-name</name><value>example-attribute-value</value></attribute>", 201)
	e2eDo(t, s, "POST", eu+"/roles", `<role identifier="userrole"/>`, 201)
	e2eDo(t, s, "POST", eu+"/groups", `<group identifier="users"/>`, 201)
	e2eDo(t, s, "PUT", sys+"/groups/users/roles/userrole", "", 201)

	t.Run("user", func(t *testing.T) {
		// The seed's example plus gatehouse's created, enabled and
		// password-expired in their alphabetical places. The seed shows
		// federations count="1"; no API links federated principals yet.
		r := e2eGet(t, s, eu)
		e2eMustShape(t, "GET user", `
<user identifier="example-user" href="/auth/v2/accounts/system/users/example-user">
  <account>system</account>
  <api-keys count="0" href="/auth/v2/accounts/system/users/example-user/api-keys"/>
  <attributes count="1" href="/auth/v2/accounts/system/users/example-user/attributes"/>
  <clients count="0" href="/auth/v2/accounts/system/users/example-user/clients"/>
  <created>{{rfc3339}}</created>
  <enabled>true</enabled>
  <federations count="0" href="/auth/v2/accounts/system/users/example-user/federated"/>
  <groups count="1" href="/auth/v2/accounts/system/users/example-user/groups"/>
  <password></password>
  <password-expired>false</password-expired>
  <permissions count="5" href="/auth/v2/accounts/system/users/example-user/permissions"/>
  <roles count="1" href="/auth/v2/accounts/system/users/example-user/roles"/>
  <sessions count="0" href="/auth/v2/accounts/system/users/example-user/sessions"/>
  <totp href="/auth/v2/accounts/system/users/example-user/totp"/>
  <name>example-user</name>
</user>`, r)
		if !strings.Contains(r.Body, "<password></password>") {
			t.Errorf("the password is not rendered as <password></password>:\n%s", r.Body)
		}
		if c := r.Root().SelectElement("created"); c != nil {
			tm, err := time.Parse(time.RFC3339, c.Text())
			if err != nil || tm.Before(before) || tm.After(after) {
				t.Errorf("created %q is not the creation time (between %s and %s)", c.Text(), before.Format(time.RFC3339), after.Format(time.RFC3339))
			}
		}
	})
	t.Run("attributes", func(t *testing.T) {
		e2eMustShape(t, "GET attributes", `
<attributes count="1" href="/auth/v2/accounts/system/users/example-user/attributes">
  <attribute identifier="example-attribute-name" href="/auth/v2/accounts/system/users/example-user/attributes/example-attribute-name"/>
</attributes>`, e2eGet(t, s, eu+"/attributes"))
	})
	t.Run("attribute", func(t *testing.T) {
		e2eMustShape(t, "GET attribute", `
<attribute identifier="example-attribute-name" href="/auth/v2/accounts/system/users/example-user/attributes/example-attribute-name">
  <id>{{int}}</id>
  <name>example-attribute-name</name>
  <value>example-attribute-value</value>
</attribute>`, e2eGet(t, s, eu+"/attributes/example-attribute-name"))
	})
	t.Run("roles", func(t *testing.T) {
		e2eMustShape(t, "GET user roles", `
<roles count="1" href="/auth/v2/accounts/system/users/example-user/roles">
  <role identifier="userrole" href="/auth/v2/accounts/system/users/example-user/roles/userrole"/>
</roles>`, e2eGet(t, s, eu+"/roles"))
	})
	t.Run("role", func(t *testing.T) {
		// A user's role is the account role, at the account role's href.
		const want = `
<role identifier="userrole" href="/auth/v2/accounts/system/roles/userrole">
  <name>userrole</name>
  <permissions count="5" href="/auth/v2/accounts/system/roles/userrole/permissions"/>
</role>`
		e2eMustShape(t, "GET user role", want, e2eGet(t, s, eu+"/roles/userrole"))
		e2eMustShape(t, "GET account role", want, e2eGet(t, s, sys+"/roles/userrole"))
	})
	t.Run("groups", func(t *testing.T) {
		e2eMustShape(t, "GET user groups", `
<groups count="1" href="/auth/v2/accounts/system/users/example-user/groups">
  <group identifier="users" href="/auth/v2/accounts/system/users/example-user/groups/users"/>
</groups>`, e2eGet(t, s, eu+"/groups"))
	})
	t.Run("group", func(t *testing.T) {
		// A user's group keeps its membership href; its children link to
		// the account group.
		e2eMustShape(t, "GET user group", `
<group identifier="users" href="/auth/v2/accounts/system/users/example-user/groups/users">
  <name>users</name>
  <roles count="1" href="/auth/v2/accounts/system/groups/users/roles"/>
  <users count="1" href="/auth/v2/accounts/system/groups/users/users"/>
</group>`, e2eGet(t, s, eu+"/groups/users"))
	})
	t.Run("permissions", func(t *testing.T) {
		e2eMustShape(t, "GET user permissions", `
<permissions count="5" href="/auth/v2/accounts/system/users/example-user/permissions">
  <permission href="/auth/v2/accounts/system/users/example-user/permissions/auth:accounts:read"/>
  <permission href="/auth/v2/accounts/system/users/example-user/permissions/auth:me:*:read"/>
  <permission href="/auth/v2/accounts/system/users/example-user/permissions/auth:me:attributes:update"/>
  <permission href="/auth/v2/accounts/system/users/example-user/permissions/auth:me:password:create"/>
  <permission href="/auth/v2/accounts/system/users/example-user/permissions/auth:me:read"/>
</permissions>`, e2eGet(t, s, eu+"/permissions"))
		// The account's ceiling is unchanged by all this.
		e2eMustShape(t, "GET account permissions", `
<permissions count="1" href="/auth/v2/accounts/system/permissions">
  <permission href="/auth/v2/accounts/system/permissions/*"/>
</permissions>`, e2eGet(t, s, sys+"/permissions"))
	})
	t.Run("permission", func(t *testing.T) {
		// The user's: the seed's example plus granted-by.
		e2eMustShape(t, "GET user permission", `
<permission href="/auth/v2/accounts/system/users/example-user/permissions/auth:accounts:read" granted-by="/auth/v2/accounts/system/roles/userrole">auth:accounts:read</permission>`,
			e2eGet(t, s, eu+"/permissions/auth:accounts:read"))
		// By implication: auth:me:*:read grants auth:me:attributes:read.
		e2eMustShape(t, "GET implied user permission", `
<permission href="/auth/v2/accounts/system/users/example-user/permissions/auth:me:attributes:read" granted-by="/auth/v2/accounts/system/roles/userrole">auth:me:attributes:read</permission>`,
			e2eGet(t, s, eu+"/permissions/auth:me:attributes:read"))
		e2eCheckProblem(t, "GET a permission the user lacks", s.Admin("GET", eu+"/permissions/auth:accounts:delete", ""), 404)

		// The account's: exactly the seed's example-account example.
		e2eDo(t, s, "POST", "/auth/v2/accounts", "<account><name>example-account</name></account>", 201)
		dropStarterRoles(t, s, "example-account")
		r := e2eDo(t, s, "PUT", "/auth/v2/accounts/example-account/permissions/example:permission", "", 201)
		const want = `
<permission href="/auth/v2/accounts/example-account/permissions/example:permission" known="false">example:permission</permission>`
		e2eMustShape(t, "PUT account permission (201 document)", want, r)
		e2eMustShape(t, "GET account permission", want, e2eGet(t, s, "/auth/v2/accounts/example-account/permissions/example:permission"))
		e2eDo(t, s, "PUT", "/auth/v2/accounts/example-account/permissions/example:permission", "", 204)
	})
	t.Run("account with description and parent", func(t *testing.T) {
		e2eDo(t, s, "PUT", "/auth/v2/accounts/example-account", "<account><description>An example</description></account>", 204)
		// The ceiling is a copy of system's plus example:permission.
		e2eMustShape(t, "GET /accounts/example-account", `
<account identifier="example-account" href="/auth/v2/accounts/example-account">
  <default-roles count="0" href="/auth/v2/accounts/example-account/default-roles"/>
  <description>An example</description>
  <groups count="0" href="/auth/v2/accounts/example-account/groups"/>
  <name>example-account</name>
  <parent identifier="system" href="/auth/v2/accounts/system"/>
  <permissions count="2" href="/auth/v2/accounts/example-account/permissions"/>
  <providers count="0" href="/auth/v2/accounts/example-account/providers"/>
  <roles count="0" href="/auth/v2/accounts/example-account/roles"/>
  <rules count="0" href="/auth/v2/accounts/example-account/rules"/>
  <users count="0" href="/auth/v2/accounts/example-account/users"/>
</account>`, e2eGet(t, s, "/auth/v2/accounts/example-account"))
		e2eMustShape(t, "GET /accounts", `
<accounts count="2" href="/auth/v2/accounts">
  <account identifier="example-account" href="/auth/v2/accounts/example-account"/>
  <account identifier="system" href="/auth/v2/accounts/system"/>
  <rules count="0" href="/auth/v2/accounts/rules"/>
</accounts>`, e2eGet(t, s, "/auth/v2/accounts"))
	})
	t.Run("user with every field", func(t *testing.T) {
		// e-mail, full name and, after a sign-in, last-login.
		e2eDo(t, s, "PUT", eu, "<user><email>example-user@example.com</email><full-name>Example User</full-name></user>", 204)
		// The sign-in succeeds; example-user may not read users (403).
		r := s.As(`system\example-user`, "example-password-1", "GET", eu, "")
		e2eCheckProblem(t, "GET as example-user", r, 403)
		e2eAwaitLogin(t, s, "system", "example-user")
		e2eMustShape(t, "GET user", `
<user identifier="example-user" href="/auth/v2/accounts/system/users/example-user">
  <account>system</account>
  <api-keys count="0" href="/auth/v2/accounts/system/users/example-user/api-keys"/>
  <attributes count="1" href="/auth/v2/accounts/system/users/example-user/attributes"/>
  <clients count="0" href="/auth/v2/accounts/system/users/example-user/clients"/>
  <created>{{rfc3339}}</created>
  <email>example-user@example.com</email>
  <enabled>true</enabled>
  <federations count="0" href="/auth/v2/accounts/system/users/example-user/federated"/>
  <full-name>Example User</full-name>
  <groups count="1" href="/auth/v2/accounts/system/users/example-user/groups"/>
  <last-login>{{rfc3339}}</last-login>
  <password></password>
  <password-expired>false</password-expired>
  <permissions count="5" href="/auth/v2/accounts/system/users/example-user/permissions"/>
  <roles count="1" href="/auth/v2/accounts/system/users/example-user/roles"/>
  <sessions count="0" href="/auth/v2/accounts/system/users/example-user/sessions"/>
  <totp href="/auth/v2/accounts/system/users/example-user/totp"/>
  <name>example-user</name>
</user>`, e2eGet(t, s, eu))
		// enabled and password-expired render what was stored.
		e2eDo(t, s, "PUT", eu, "<user><enabled>false</enabled><password-expired>true</password-expired></user>", 204)
		doc := e2eGet(t, s, eu).Root()
		if v := doc.SelectElement("enabled"); v == nil || v.Text() != "false" {
			t.Errorf("enabled after PUT false: %v", v)
		}
		if v := doc.SelectElement("password-expired"); v == nil || v.Text() != "true" {
			t.Errorf("password-expired after PUT true: %v", v)
		}
	})
	t.Run("role with description", func(t *testing.T) {
		e2eDo(t, s, "PUT", sys+"/roles/userrole", "<role><description>Every user</description></role>", 204)
		e2eMustShape(t, "GET user role", `
<role identifier="userrole" href="/auth/v2/accounts/system/roles/userrole">
  <description>Every user</description>
  <name>userrole</name>
  <permissions count="5" href="/auth/v2/accounts/system/roles/userrole/permissions"/>
</role>`, e2eGet(t, s, eu+"/roles/userrole"))
	})
}

// TestSeedShapeDiff pins the comparison helper itself: every kind of
// difference is reported, with the path of the first one.
func TestSeedShapeDiff(t *testing.T) {
	const base = `<a x="1" y="2"><b>t</b><c n="3"/><d>{{int}}</d></a>`
	cases := []struct{ got, want string }{
		{`<a y="2" x="1"><b>t</b><c n="3"/><d>7</d></a>`, ""},
		{`<z x="1" y="2"><b>t</b><c n="3"/><d>7</d></z>`, "/a: element <z>, want <a>"},
		{`<a x="1"><b>t</b><c n="3"/><d>7</d></a>`, "/a@y: attribute missing"},
		{`<a x="1" y="9"><b>t</b><c n="3"/><d>7</d></a>`, `/a@y: "9", want "2"`},
		{`<a x="1" y="2" q="0"><b>t</b><c n="3"/><d>7</d></a>`, "/a: unexpected attributes q="},
		{`<a x="1" y="2"><b>u</b><c n="3"/><d>7</d></a>`, `/a/b[1]: text "u", want "t"`},
		{`<a x="1" y="2"><c n="3"/><b>t</b><d>7</d></a>`, "/a/b[1]: element <c>, want <b>"},
		{`<a x="1" y="2"><b>t</b><c n="3"/></a>`, "/a: child 3 <d> missing"},
		{`<a x="1" y="2"><b>t</b><c n="3"/><d>7</d><e/></a>`, "/a: unexpected child 4 <e"},
		{`<a x="1" y="2"><b>t</b><c n="4"/><d>7</d></a>`, `/a/c[2]@n: "4", want "3"`},
		{`<a x="1" y="2"><b>t</b><c n="3"/><d>seven</d></a>`, `/a/d[3]: text "seven", want an integer`},
		{`<a x="1" y="2"><b>t</b><c n="3"><k/></c><d>7</d></a>`, "/a/c[2]: unexpected child 1 <k"},
	}
	for _, c := range cases {
		d := e2eShapeDiff(e2eParse(t, base), e2eParse(t, c.got))
		if (c.want == "") != (d == "") || !strings.HasPrefix(d, c.want) {
			t.Errorf("diff of %s:\n got %q\nwant prefix %q", c.got, d, c.want)
		}
	}
	for _, tc := range []struct {
		v  string
		ok bool
	}{{"2024-05-01T10:00:00Z", true}, {"2024-05-01T10:00:00+02:00", false}, {"yesterday", false}, {"", false}} {
		if ok, _ := e2eValueMatches(e2eAnyRFC3339, tc.v); ok != tc.ok {
			t.Errorf("rfc3339 placeholder on %q: %v, want %v", tc.v, ok, tc.ok)
		}
	}
}
