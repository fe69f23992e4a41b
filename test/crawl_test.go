package test

// Every link is followable by the one who sees it (SPEC §3c): a crawl
// from the root document as three principals — system\admin, a tenant
// administrator (starter role administrators) and a plain user (starter
// role users) — follows every link of every document it meets, breadth
// first, each once, with GET only, and meets no 4xx or 5xx.

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"gatehouse/test/harness"
)

const (
	crawlAcct = azV2 + "/accounts/crawl"
	crawlPass = "walk-secret-94"
)

// crawlSetup builds tenant crawl (starter roles) with its child
// crawl-sub, and enough in them that every kind of link exists:
//
//	crawl:     role printer (print:jobs:*); groups team (role reporting; users pat, quinn), ops (role support)
//	           users boss (administrators), pat (users, printer; group team; attributes; an API key, a
//	           client, a sign-in session), quinn (attribute; an API key; group team), rae
//	           account rule staff (→ group ops, role printer)
//	crawl-sub: user sid (the default role users)
//	system:    root rule to-crawl (→ crawl)
func crawlSetup(t *testing.T, s *harness.Server) {
	t.Helper()
	do := func(method, path, body string, want ...int) { azAdmin(t, s, method, path, body, want...) }
	do("POST", azV2+"/accounts", "<account><name>crawl</name><description>Crawled</description></account>", 201)
	do("POST", azV2+"/accounts", "<account><name>crawl-sub</name><parent>crawl</parent></account>", 201)
	do("POST", crawlAcct+"/roles", "<role><name>printer</name><permissions><permission>print:jobs:*</permission></permissions></role>", 201)
	for _, u := range []string{"boss", "pat", "quinn", "rae"} {
		do("POST", crawlAcct+"/users", "<user><name>"+u+"</name><password>"+crawlPass+"</password><email>"+u+"@example.com</email></user>", 201)
	}
	do("PUT", crawlAcct+"/users/boss/roles", `<roles><role identifier="administrators"/></roles>`, 204)
	do("PUT", crawlAcct+"/users/pat/roles", `<roles><role identifier="users"/><role identifier="printer"/></roles>`, 204)
	do("POST", crawlAcct+"/groups", "<group><name>team</name><description>The team</description></group>", 201)
	do("POST", crawlAcct+"/groups", "<group><name>ops</name></group>", 201)
	do("POST", crawlAcct+"/groups/team/roles", `<role identifier="reporting"/>`, 201)
	do("POST", crawlAcct+"/groups/ops/roles", `<role identifier="support"/>`, 201)
	do("PUT", crawlAcct+"/groups/team/users", `<users><user identifier="pat"/><user identifier="quinn"/></users>`, 204)
	do("POST", crawlAcct+"/users/pat/attributes", "<attribute><name>color</name><value>blue</value></attribute>", 201)
	do("POST", crawlAcct+"/users/quinn/attributes", "<attribute><name>desk</name><value>4</value></attribute>", 201)
	do("POST", crawlAcct+"/users/quinn/api-keys", akBody("ci", "", "auth:me:read"), 201)
	do("POST", crawlAcct+"/users/pat/clients", "<client><description>Pat's app</description>"+
		clList("uris", "uri", "https://pat.example/cb")+clList("scopes", "scope", "print:jobs:read")+"</client>", 201)
	do("POST", crawlAcct+"/rules", `<rule><name>staff</name>
  <conditions><condition><type>ldap</type><attribute>groups</attribute><pattern>*staff*</pattern></condition></conditions>
  <groups><group identifier="ops"/></groups><roles><role identifier="printer"/></roles></rule>`, 201)
	do("POST", azV2+"/accounts/crawl-sub/users", "<user><name>sid</name></user>", 201)
	do("POST", azV2+"/accounts/rules", `<rule><name>to-crawl</name><priority>3</priority>
  <conditions><condition><type>ldap</type><attribute>c</attribute><pattern>XX</pattern></condition></conditions>
  <account>crawl</account></rule>`, 201)
	// pat's own writes: an API key and a sign-in session.
	azCheck(t, "pat creates an API key", s.As(`crawl\pat`, crawlPass, "POST", azV2+"/me/api-keys", akBody("mine", "", "auth:me:read")), 201)
	sesPassword(t, s, `crawl\pat`, crawlPass)
}

// crawlResult is what one crawl met.
type crawlResult struct {
	followed int             // links followed with a GET (documents read)
	actions  int             // links to paths that take no GET (POST /check)
	external int             // links outside /auth/v2 (not followed)
	hrefs    map[string]bool // every link met
	docs     map[string]*etree.Element
}

// crawl follows every link reachable from start as user, breadth first,
// each once, GET only: an attribute whose value is a path (href, next,
// previous, granted-by …) is a link. Every answer must be 2xx; a path
// that takes no GET (405 without GET in Allow) counts as an action link.
// Links to binary answers (the TOTP QR code) are not read.
func crawl(t *testing.T, s *harness.Server, user, pass, start string) crawlResult {
	t.Helper()
	res := crawlResult{hrefs: map[string]bool{start: true}, docs: map[string]*etree.Element{}}
	queue := []string{start}
	for len(queue) > 0 {
		href := queue[0]
		queue = queue[1:]
		if strings.HasSuffix(href, "/qr") {
			continue
		}
		r := s.Do(harness.Request{Method: "GET", Path: href, User: user, Pass: pass})
		if r.Status == http.StatusMethodNotAllowed && !strings.Contains(r.Header.Get("Allow"), "GET") {
			res.actions++
			continue
		}
		res.followed++
		if r.Status >= 400 {
			t.Errorf("%s: GET %s: status %d; body:\n%s", user, href, r.Status, r.Body)
			continue
		}
		if !strings.Contains(r.Header.Get("Content-Type"), "xml") {
			continue
		}
		root := r.Root()
		if root == nil {
			t.Errorf("%s: GET %s: not an XML document:\n%s", user, href, r.Body)
			continue
		}
		res.docs[href] = root
		if root.SelectAttr("href") == nil && href != azV2+"/schema.xsd" {
			t.Errorf("%s: GET %s: the document does not link itself:\n%s", user, href, r.Body)
		}
		for _, el := range append([]*etree.Element{root}, root.FindElements("//*")...) {
			for _, a := range el.Attr {
				if !strings.HasPrefix(a.Value, "/") {
					continue
				}
				if res.hrefs[a.Value] {
					continue
				}
				res.hrefs[a.Value] = true
				if a.Value != azV2 && !strings.HasPrefix(a.Value, azV2+"/") && !strings.HasPrefix(a.Value, azV2+"?") {
					res.external++
					continue
				}
				queue = append(queue, a.Value)
			}
		}
	}
	return res
}

func TestCrawl(t *testing.T) {
	s := harness.Start(t)
	crawlSetup(t, s)
	principals := []struct {
		name, user, pass string
		min              int // links the crawl must at least follow
	}{
		{"system admin", `system\admin`, harness.AdminPassword, 100},
		{"tenant administrator", `crawl\boss`, crawlPass, 60},
		{"plain user", `crawl\pat`, crawlPass, 15},
	}
	results := map[string]crawlResult{}
	for _, p := range principals {
		t.Run(p.name, func(t *testing.T) {
			res := crawl(t, s, p.user, p.pass, azV2)
			t.Logf("crawl as %s from %s: %d links followed, %d action links, %d external links",
				p.user, azV2, res.followed, res.actions, res.external)
			if res.followed < p.min {
				t.Errorf("the crawl as %s followed %d links; the graph has at least %d", p.user, res.followed, p.min)
			}
			results[p.name] = res
		})
	}

	t.Run("plain user through /me", func(t *testing.T) {
		res := results["plain user"]
		for _, want := range []string{azV2 + "/me", azV2 + "/me/api-keys", azV2 + "/me/attributes", azV2 + "/me/groups",
			azV2 + "/me/roles", azV2 + "/me/permissions", azV2 + "/me/sessions", azV2 + "/me/totp", azV2 + "/me/roles/users"} {
			if !res.hrefs[want] {
				t.Errorf("the plain user's crawl never met %s", want)
			}
		}
		for h := range res.hrefs {
			if strings.HasPrefix(h, crawlAcct+"/") || h == crawlAcct {
				t.Errorf("the plain user met a link into the account: %s", h)
			}
		}
		me := res.docs[azV2+"/me"]
		if me == nil {
			t.Fatal("the plain user's crawl did not read /me")
		}
		// What the user may not open stays, without href.
		for _, tag := range []string{"clients", "federations"} {
			el := me.FindElement(tag)
			if el == nil || el.SelectAttr("href") != nil || el.SelectAttr("count") == nil {
				t.Errorf("/me shows <%s> %v, want it with count and without href", tag, el)
			}
		}
		// A grant through a group names its role without linking it.
		r := s.As(`crawl\pat`, crawlPass, "GET", azV2+"/me/permissions/reporting:tasks:read", "")
		if azCheck(t, "GET /me/permissions/reporting:tasks:read", r, 200) {
			if got := r.Root().SelectAttrValue("granted-by", ""); got != "reporting" {
				t.Errorf("a grant through group team: granted-by %q, want the plain name \"reporting\":\n%s", got, r.Body)
			}
		}
		// A grant by a role the user holds directly links it under /me.
		r = s.As(`crawl\pat`, crawlPass, "GET", azV2+"/me/permissions/print:jobs:release", "")
		if azCheck(t, "GET /me/permissions/print:jobs:release", r, 200) {
			if got := r.Root().SelectAttrValue("granted-by", ""); !slices.Contains([]string{azV2 + "/me/roles/users", azV2 + "/me/roles/printer"}, got) {
				t.Errorf("a direct grant: granted-by %q, want /me/roles/…:\n%s", got, r.Body)
			}
		}
	})

	t.Run("tenant administrator sees no parent it cannot open", func(t *testing.T) {
		res := results["tenant administrator"]
		acc := res.docs[crawlAcct]
		if acc == nil {
			t.Fatal("the tenant administrator's crawl did not read its account")
		}
		parent := acc.FindElement("parent")
		if parent == nil || parent.SelectAttrValue("identifier", "") != "system" || parent.SelectAttr("href") != nil {
			t.Errorf("account crawl shows parent %v, want identifier system without href", parent)
		}
		for h := range res.hrefs {
			if strings.HasPrefix(h, azV2+"/accounts/system") || h == azV2+"/accounts/rules" {
				t.Errorf("the tenant administrator met a link outside its tenancy: %s", h)
			}
		}
		if !res.hrefs[azV2+"/accounts/crawl-sub"] {
			t.Error("the tenant administrator's crawl never met its child account")
		}
	})

	t.Run("system admin sees everything linked", func(t *testing.T) {
		res := results["system admin"]
		for _, want := range []string{crawlAcct, azV2 + "/accounts/rules", crawlAcct + "/users/pat/api-keys", crawlAcct + "/users/pat/clients"} {
			if !res.hrefs[want] {
				t.Errorf("the system admin's crawl never met %s", want)
			}
		}
		if p := res.docs[crawlAcct].FindElement("parent"); p == nil || p.SelectAttrValue("href", "") != azV2+"/accounts/system" {
			t.Errorf("the system admin sees crawl's parent as %v, want a link to system", p)
		}
	})
}
