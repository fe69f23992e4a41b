package test

// Strictness at the edges (SPEC §3, §3b): every rejected request answers
// application/problem+xml with the right status and a detail naming what
// was wrong, and leaves the store exactly as it was (checked on every key
// and value in etcd, and on etcd's revision).

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"gatehouse/test/harness"
)

const badMiB = 1 << 20

// badCase is one request that must be refused.
type badCase struct {
	name    string
	method  string
	path    string
	body    string
	ct      string      // Content-Type; "" sends application/xml with a body
	header  http.Header // further headers
	chunked bool        // send the body without Content-Length
	status  int
	mention string // the problem's detail must contain this (case-insensitive)
}

// badEndpoint is a request that takes a body, with a body it accepts.
type badEndpoint struct {
	method, path, root, valid string
}

const badAcme = "/auth/v2/accounts/acme"

// badEndpoints are every POST and PUT with a body, each with a valid body
// (checked at the end of TestBadInputBodies).
var badEndpoints = []badEndpoint{
	{"POST", "/auth/v2/accounts", "account", "<account><name>newacc</name></account>"},
	{"PUT", badAcme, "account", "<account><description>changed</description></account>"},
	{"PUT", "/auth/v2/accounts/newacc2", "account", "<account><name>newacc2</name></account>"},
	{"PUT", badAcme + "/permissions", "permissions", "<permissions><permission>print:*</permission></permissions>"},
	{"POST", badAcme + "/roles", "role", "<role><name>newrole</name></role>"},
	{"PUT", badAcme + "/roles/printing", "role", "<role><description>changed</description></role>"},
	{"PUT", badAcme + "/roles/printing/permissions", "permissions", "<permissions><permission>print:queues:read</permission></permissions>"},
	{"POST", badAcme + "/groups", "group", "<group><name>newgroup</name></group>"},
	{"PUT", badAcme + "/groups/ops", "group", "<group><description>changed</description></group>"},
	{"POST", badAcme + "/groups/ops/roles", "role", `<role identifier="auditor"/>`},
	{"PUT", badAcme + "/groups/ops/roles", "roles", `<roles><role identifier="auditor"/></roles>`},
	{"POST", badAcme + "/groups/ops/users", "user", `<user identifier="bob"/>`},
	{"PUT", badAcme + "/groups/ops/users", "users", `<users><user identifier="bob"/></users>`},
	{"POST", badAcme + "/users", "user", "<user><name>newuser</name></user>"},
	{"PUT", badAcme + "/users/alice", "user", "<user><full-name>Changed</full-name></user>"},
	{"PUT", badAcme + "/users/alice/password", "password", "<password>another-password-1</password>"},
	{"POST", badAcme + "/users/alice/attributes", "attribute", "<attribute><name>size</name><value>xl</value></attribute>"},
	{"PUT", badAcme + "/users/alice/attributes", "attributes", "<attributes><attribute><name>size</name><value>xl</value></attribute></attributes>"},
	{"PUT", badAcme + "/users/alice/attributes/color", "attribute", "<attribute><value>green</value></attribute>"},
	{"POST", badAcme + "/users/alice/roles", "role", `<role identifier="auditor"/>`},
	{"PUT", badAcme + "/users/alice/roles", "roles", `<roles><role identifier="auditor"/></roles>`},
	{"POST", badAcme + "/users/alice/groups", "group", `<group identifier="finance"/>`},
	{"PUT", badAcme + "/users/alice/groups", "groups", `<groups><group identifier="finance"/></groups>`},
}

// badInRoot inserts s just inside the root element of v.
func badInRoot(v, root, s string) string {
	i := strings.IndexByte(v, '>')
	if v[i-1] == '/' {
		return v[:i-1] + ">" + s + "</" + root + ">"
	}
	return v[:i+1] + s + v[i+1:]
}

// badRootAttr adds an attribute to the root element of v.
func badRootAttr(v, root, attr string) string {
	return "<" + root + " " + attr + v[len(root)+1:]
}

// badPrefixed puts the root element of v in a prefixed namespace.
func badPrefixed(v, root string) string {
	v = "<g:" + root + ` xmlns:g="urn:example"` + v[len(root)+1:]
	if i := strings.LastIndex(v, "</"+root+">"); i >= 0 {
		v = v[:i] + "</g:" + root + ">"
	}
	return v
}

func badGzip(s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return b.String()
}

// badVariants are the malformed forms of an endpoint's valid body.
func badVariants(e badEndpoint) []badCase {
	v, r := e.valid, e.root
	c := func(name, body string, status int, mention string) badCase {
		return badCase{name: name, method: e.method, path: e.path, body: body, status: status, mention: mention}
	}
	laughs := `<?xml version="1.0"?><!DOCTYPE ` + r + ` [<!ENTITY lol "lol">` +
		`<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">` +
		`<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">` +
		`<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>` +
		`<` + r + `>&lol4;</` + r + `>`
	cases := []badCase{
		c("malformed: truncated", v[:len(v)-1], 400, ""),
		c("malformed: unclosed root", strings.TrimSuffix(strings.TrimSuffix(v, "</"+r+">"), "/>")+">", 400, ""),
		c("malformed: stray end tag", v+"</"+r+">", 400, ""),
		c("malformed: not XML", "name=x", 400, ""),
		c("malformed: invalid UTF-8", badInRoot(v, r, "<!-- \xff\xfe -->"), 400, ""),
		c("wrong root element", "<wrong/>", 400, "wrong"),
		c("wrong root element with the right children", "<wrong>"+v+"</wrong>", 400, "wrong"),
		c("DOCTYPE", "<!DOCTYPE "+r+">"+v, 400, "DOCTYPE"),
		c("DOCTYPE with internal subset", `<!DOCTYPE `+r+` [<!ELEMENT `+r+` ANY>]>`+v, 400, "DOCTYPE"),
		c("entity declaration (billion laughs)", laughs, 400, ""),
		c("external entity", `<?xml version="1.0"?><!DOCTYPE `+r+` [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><`+r+`>&xxe;</`+r+`>`, 400, ""),
		c("external DTD", `<!DOCTYPE `+r+` SYSTEM "http://127.0.0.1:1/evil.dtd">`+v, 400, "DOCTYPE"),
		c("undeclared entity", badInRoot(v, r, "&xxe;"), 400, ""),
		c("processing instruction before the root", `<?xml-stylesheet type="text/xsl" href="x.xsl"?>`+v, 400, "xml-stylesheet"),
		c("processing instruction after the root", v+`<?evil x?>`, 400, "evil"),
		c("processing instruction inside the root", badInRoot(v, r, "<?evil x?>"), 400, "evil"),
		c("declaration inside the root", badInRoot(v, r, "<!ELEMENT x ANY>"), 400, "ELEMENT"),
		c("XML declaration not first", "<!-- c -->"+`<?xml version="1.0"?>`+v, 400, ""),
		c("default namespace on the root", badRootAttr(v, r, `xmlns="urn:example"`), 400, "namespace"),
		c("prefixed root", badPrefixed(v, r), 400, ""),
		c("prefixed attribute", badRootAttr(v, r, `xmlns:g="urn:example" g:x="1"`), 400, ""),
		c("text before the root", "junk"+v, 400, ""),
		c("text after the root", v+"junk", 400, "text outside"),
		c("two roots", v+v, 400, "more than one root"),
		c("empty body with a Content-Type", "", 400, "empty"),
		c("whitespace only", "  \n ", 400, "empty"),
	}
	cases[len(cases)-2].header = http.Header{"Content-Type": {"application/xml"}}
	if r != "password" { // a password's text is the field itself
		cases = append(cases, c("stray text in the root", badInRoot(v, r, "stray"), 400, "stray"))
	}
	for _, ct := range []string{"text/plain", "application/json", "application/problem+xml", "application/x-www-form-urlencoded", "xml", "application/xml; charset"} {
		x := c("Content-Type "+ct, v, 415, "")
		x.ct = ct
		cases = append(cases, x)
	}
	for _, cs := range []string{"iso-8859-1", "utf-16", "us-ascii"} {
		x := c("charset "+cs, v, 415, cs)
		x.ct = "application/xml; charset=" + cs
		cases = append(cases, x)
	}
	x := c("no Content-Type", v, 415, "")
	x.ct = "-"
	cases = append(cases, x)
	for _, enc := range []string{"gzip", "deflate", "br"} {
		body := v
		if enc == "gzip" {
			body = badGzip(v)
		}
		x := c("Content-Encoding "+enc, body, 415, enc)
		x.header = http.Header{"Content-Encoding": {enc}}
		cases = append(cases, x)
	}
	big := badInRoot(v, r, strings.Repeat(" ", badMiB+1-len(v)))
	cases = append(cases, c("body over 1 MiB", big, 413, ""))
	x = c("body over 1 MiB, chunked", big, 413, "")
	x.chunked = true
	cases = append(cases, x)
	if strings.Contains(v, ` identifier="`) {
		cases = append(cases, c("duplicated attribute", strings.Replace(v, ` identifier="`, ` identifier="printing" identifier="`, 1), 400, "identifier"),
			c("unknown attribute", strings.Replace(v, ` identifier="`, ` role="x" identifier="`, 1), 400, ""))
	}
	return cases
}

// badSend performs c as system\admin.
func badSend(t *testing.T, s *harness.Server, c badCase) *harness.Response {
	t.Helper()
	if !c.chunked && c.ct != "-" {
		h := http.Header{}
		for k, vs := range c.header {
			h[k] = vs
		}
		return s.Do(harness.Request{Method: c.method, Path: c.path, User: `system\admin`, Pass: harness.AdminPassword,
			Body: c.body, ContentType: c.ct, Header: h})
	}
	// A body without Content-Length, or without Content-Type.
	var body io.Reader = strings.NewReader(c.body)
	if c.chunked {
		body = io.NopCloser(io.MultiReader(strings.NewReader(c.body)))
	}
	req, err := http.NewRequest(c.method, s.URL()+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.ct != "-" {
		req.Header.Set("Content-Type", "application/xml")
	}
	for k, vs := range c.header {
		req.Header[k] = vs
	}
	req.SetBasicAuth(`system\admin`, harness.AdminPassword)
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := &harness.Response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
	doc := etree.NewDocument()
	if doc.ReadFromBytes(b) == nil {
		out.Doc = doc
	}
	return out
}

// badSetup builds what the bad requests aim at and waits for the
// admin's last-login stamp, so that nothing but the requests under test
// writes to the store afterwards.
func badSetup(t *testing.T) *harness.Server {
	s := harness.Start(t)
	do := func(method, path, body string, want int) { e2eDo(t, s, method, path, body, want) }
	do("POST", "/auth/v2/accounts", "<account><name>acme</name><description>Acme</description></account>", 201)
	do("POST", "/auth/v2/accounts", "<account><name>acme-eu</name><parent>acme</parent></account>", 201)
	do("POST", badAcme+"/roles", "<role><name>printing</name><permissions><permission>print:jobs:*</permission></permissions></role>", 201)
	do("POST", badAcme+"/roles", "<role><name>auditor</name></role>", 201)
	do("POST", badAcme+"/groups", "<group><name>ops</name></group>", 201)
	do("POST", badAcme+"/groups", "<group><name>finance</name></group>", 201)
	do("POST", badAcme+"/users", "<user><name>alice</name><email>alice@example.com</email></user>", 201)
	do("POST", badAcme+"/users", "<user><name>bob</name></user>", 201)
	do("POST", badAcme+"/users/alice/attributes", "<attribute><name>color</name><value>blue</value></attribute>", 201)
	do("POST", badAcme+"/users/alice/roles", `<role identifier="printing"/>`, 201)
	do("POST", badAcme+"/users/alice/groups", `<group identifier="ops"/>`, 201)
	do("POST", badAcme+"/groups/ops/roles", `<role identifier="printing"/>`, 201)
	e2eAwaitLogin(t, s, "system", "admin")
	return s
}

// badRun sends every case and checks the problem and the store.
func badRun(t *testing.T, s *harness.Server, cases []badCase) {
	t.Helper()
	e2eQuiet(t, s)
	before, rev := e2eSnapshot(t, s)
	for _, c := range cases {
		label := fmt.Sprintf("%s %s [%s]", c.method, c.path, c.name)
		r := badSend(t, s, c)
		detail := e2eCheckProblem(t, label, r, c.status)
		if c.mention != "" && r.Status == c.status && !strings.Contains(strings.ToLower(detail), strings.ToLower(c.mention)) {
			t.Errorf("%s: detail %q does not mention %q", label, detail, c.mention)
		}
		after, rev2 := e2eSnapshot(t, s)
		if d := e2eSnapshotDiff(before, after); d != "" {
			t.Errorf("%s: the rejected request changed the store: %s", label, d)
			before = after
		} else if rev2 != rev {
			t.Errorf("%s: the rejected request wrote to etcd (revision %d → %d)", label, rev, rev2)
		}
		rev = rev2
	}
}

func TestBadInputBodies(t *testing.T) {
	s := badSetup(t)
	var cases []badCase
	for _, e := range badEndpoints {
		cases = append(cases, badVariants(e)...)
	}
	badRun(t, s, cases)
	t.Logf("sent %d malformed bodies to %d endpoints", len(cases), len(badEndpoints))

	// Each valid body is accepted (on a fresh store, in case a refusal
	// above failed), so the refusals were about the malformation and
	// nothing else.
	s = badSetup(t)
	for _, e := range badEndpoints {
		r := s.Admin(e.method, e.path, e.valid)
		if r.Status != 201 && r.Status != 204 {
			t.Errorf("%s %s with a valid body: status %d; %s", e.method, e.path, r.Status, r.Body)
		}
	}
}

func TestBadInputFields(t *testing.T) {
	s := badSetup(t)
	long := strings.Repeat("a", 129)
	c := func(name, method, path, body string, status int, mention string) badCase {
		return badCase{name: name, method: method, path: path, body: body, status: status, mention: mention}
	}
	cases := []badCase{
		// unknown, duplicated and misplaced fields
		c("unknown field", "POST", "/auth/v2/accounts", "<account><name>x1</name><colour>red</colour></account>", 400, "colour"),
		c("unknown field", "POST", badAcme+"/users", "<user><name>x1</name><nickname>x</nickname></user>", 400, "nickname"),
		c("unknown field", "PUT", badAcme+"/users/alice", "<user><admin>true</admin></user>", 400, "admin"),
		c("unknown field", "POST", badAcme+"/roles", "<role><name>x1</name><owner>bob</owner></role>", 400, "owner"),
		c("unknown field", "POST", badAcme+"/groups", "<group><name>x1</name><permissions/></group>", 400, "permissions"),
		c("unknown field", "POST", badAcme+"/users/alice/attributes", "<attribute><name>x1</name><value>v</value><type>s</type></attribute>", 400, "type"),
		c("unknown field", "PUT", badAcme+"/users/alice/attributes", "<attributes><attribute><name>x1</name><kind>v</kind></attribute></attributes>", 400, "kind"),
		c("duplicated field", "POST", badAcme+"/users", "<user><name>x1</name><name>x1</name></user>", 400, "name"),
		c("duplicated field", "PUT", badAcme, "<account><description>a</description><description>b</description></account>", 400, "description"),
		c("duplicated field", "PUT", badAcme+"/users/alice", "<user><email>a@example.com</email><email>b@example.com</email></user>", 400, "email"),
		c("duplicated field", "POST", badAcme+"/roles", "<role><name>x1</name><permissions/><permissions/></role>", 400, "permissions"),
		c("duplicated field", "PUT", badAcme+"/users/alice/attributes/color", "<attribute><value>a</value><value>b</value></attribute>", 400, "value"),
		c("duplicated attribute", "PUT", badAcme+"/users/alice/attributes", "<attributes><attribute><name>a1</name></attribute><attribute><name>a1</name></attribute></attributes>", 400, "a1"),
		c("misplaced field", "POST", badAcme+"/users", "<user><name><name>x1</name></name></user>", 400, "name"),
		c("misplaced field", "POST", badAcme+"/users", "<user><name>x1</name><email><full-name>X</full-name></email></user>", 400, "email"),
		c("misplaced field", "PUT", badAcme+"/permissions", "<permissions><role>print:*</role></permissions>", 400, "role"),
		c("misplaced field", "PUT", badAcme+"/permissions", "<permissions><permission><permission>print:*</permission></permission></permissions>", 400, "permission"),
		c("misplaced field", "POST", badAcme+"/roles", "<role><name>x1</name><permissions><name>print:*</name></permissions></role>", 400, "name"),
		c("misplaced field", "PUT", badAcme+"/users/alice/roles", `<roles><group identifier="ops"/></roles>`, 400, "group"),
		c("misplaced field", "PUT", badAcme+"/users/alice/roles", `<roles><role identifier="auditor"><name>x</name></role></roles>`, 400, "role"),
		c("misplaced field", "PUT", badAcme+"/users/alice/attributes", "<attributes><name>x1</name></attributes>", 400, "name"),
		c("misplaced field", "PUT", badAcme+"/users/alice/attributes", "<attributes><attribute><name>x1</name><value>v</value></attribute><value>w</value></attributes>", 400, "value"),
		c("misplaced field", "PUT", badAcme+"/users/alice/password", "<password><new-password>long-enough-1</new-password></password>", 400, ""),
		c("membership without identifier", "POST", badAcme+"/users/alice/roles", `<role/>`, 400, "identifier"),
		c("membership with text", "POST", badAcme+"/users/alice/roles", `<role>auditor</role>`, 400, ""),
		c("empty permission", "PUT", badAcme+"/permissions", "<permissions><permission></permission></permissions>", 400, "empty"),

		// booleans, e-mail, password policy, free text
		c("enabled=maybe", "POST", badAcme+"/users", "<user><name>x1</name><enabled>maybe</enabled></user>", 400, "maybe"),
		c("enabled=1", "PUT", badAcme+"/users/alice", "<user><enabled>1</enabled></user>", 400, "enabled"),
		c("enabled=TRUE", "PUT", badAcme+"/users/alice", "<user><enabled>TRUE</enabled></user>", 400, "enabled"),
		c("enabled empty", "PUT", badAcme+"/users/alice", "<user><enabled></enabled></user>", 400, "enabled"),
		c("password-expired=yes", "PUT", badAcme+"/users/alice", "<user><password-expired>yes</password-expired></user>", 400, "password-expired"),
		c("bad e-mail", "POST", badAcme+"/users", "<user><name>x1</name><email>not-an-email</email></user>", 400, "not-an-email"),
		c("bad e-mail", "PUT", badAcme+"/users/alice", "<user><email>Alice &lt;alice@example.com&gt;</email></user>", 400, "email"),
		c("bad e-mail", "PUT", badAcme+"/users/alice", "<user><email>alice@</email></user>", 400, "email"),
		c("bad e-mail", "PUT", badAcme+"/users/alice", "<user><email>@example.com</email></user>", 400, "email"),
		c("short password", "POST", badAcme+"/users", "<user><name>x1</name><password>short</password></user>", 400, "too short"),
		c("short password", "PUT", badAcme+"/users/alice", "<user><password>1234567</password></user>", 400, "minimum 8"),
		c("short password", "PUT", badAcme+"/users/alice/password", "<password>short</password>", 400, "too short"),
		c("blank password", "PUT", badAcme+"/users/alice/password", "<password>            </password>", 400, "blank"),
		c("long password", "PUT", badAcme+"/users/alice/password", "<password>"+strings.Repeat("p", 1025)+"</password>", 400, "too long"),
		c("empty password", "PUT", badAcme+"/users/alice/password", "<password></password>", 400, ""),
		c("attribute on password", "PUT", badAcme+"/users/alice/password", `<password hash="x">long-enough-1</password>`, 400, "hash"),
		c("description over 1024 bytes", "PUT", badAcme, "<account><description>"+strings.Repeat("d", 1025)+"</description></account>", 400, "description"),
		c("full-name over 1024 bytes", "PUT", badAcme+"/users/alice", "<user><full-name>"+strings.Repeat("f", 1025)+"</full-name></user>", 400, "full-name"),
		c("attribute value over 8192 bytes", "PUT", badAcme+"/users/alice/attributes/color", "<attribute><value>"+strings.Repeat("v", 8193)+"</value></attribute>", 400, "8192"),

		// name in the body differs from the path
		c("name differs from the path", "PUT", badAcme, "<account><name>other</name></account>", 400, "other"),
		c("name differs from the path", "PUT", "/auth/v2/accounts/newacc", "<account><name>other</name></account>", 400, "other"),
		c("name differs from the path", "PUT", badAcme+"/roles/printing", "<role><name>other</name></role>", 400, "other"),
		c("name differs from the path", "PUT", badAcme+"/roles/newrole", "<role><name>other</name></role>", 400, "other"),
		c("name differs from the path", "PUT", badAcme+"/groups/ops", "<group><name>other</name></group>", 400, "other"),
		c("name differs from the path", "PUT", badAcme+"/users/alice", "<user><name>other</name></user>", 400, "other"),
		c("name differs from the path", "PUT", badAcme+"/users/newuser", "<user><name>other</name></user>", 400, "other"),
		c("name differs from the path", "PUT", badAcme+"/users/alice/attributes/color", "<attribute><name>other</name><value>v</value></attribute>", 400, "other"),

		// tenancy: moves that would make a cycle, or move a root
		c("account moved under its child", "PUT", badAcme, "<account><parent>acme-eu</parent></account>", 400, "cycle"),
		c("account moved under itself", "PUT", badAcme, "<account><parent>acme</parent></account>", 400, ""),
		c("root account moved", "PUT", "/auth/v2/accounts/system", "<account><parent>acme</parent></account>", 400, "system"),
		c("system deleted", "DELETE", "/auth/v2/accounts/system", "", 400, "system"),
		c("account named rules", "POST", "/auth/v2/accounts", "<account><name>rules</name></account>", 400, "rules"),

		// bodies on requests that take none
		c("body on PUT of a permission", "PUT", badAcme+"/permissions/print:x", "<permission>print:x</permission>", 400, "no body"),
		c("body on PUT of a membership", "PUT", badAcme+"/users/alice/roles/auditor", `<role identifier="auditor"/>`, 400, "no body"),
	}
	// invalid names in bodies
	for _, n := range []string{"", long, "..", ".", ".x", "a b", "é", "a/b", `a\b`, "a:b", "a\tb", " a", "a*"} {
		q := strings.NewReplacer("&", "&amp;", "<", "&lt;").Replace(n)
		cases = append(cases,
			c("account name "+fmt.Sprintf("%q", n), "POST", "/auth/v2/accounts", "<account><name>"+q+"</name></account>", 400, "name"),
			c("user name "+fmt.Sprintf("%q", n), "POST", badAcme+"/users", "<user><name>"+q+"</name></user>", 400, "name"),
			c("role name "+fmt.Sprintf("%q", n), "POST", badAcme+"/roles", "<role><name>"+q+"</name></role>", 400, "name"),
			c("group name "+fmt.Sprintf("%q", n), "POST", badAcme+"/groups", "<group><name>"+q+"</name></group>", 400, "name"),
			c("attribute name "+fmt.Sprintf("%q", n), "POST", badAcme+"/users/alice/attributes", "<attribute><name>"+q+"</name><value>v</value></attribute>", 400, "name"),
			c("attribute name in a list "+fmt.Sprintf("%q", n), "PUT", badAcme+"/users/alice/attributes", "<attributes><attribute><name>"+q+"</name></attribute></attributes>", 400, "name"),
		)
		if n != "" {
			cases = append(cases,
				c("membership "+fmt.Sprintf("%q", n), "POST", badAcme+"/users/alice/roles", `<role identifier="`+q+`"/>`, 400, "name"),
				c("membership list "+fmt.Sprintf("%q", n), "PUT", badAcme+"/groups/ops/users", `<users><user identifier="`+q+`"/></users>`, 400, "name"),
				c("parent "+fmt.Sprintf("%q", n), "POST", "/auth/v2/accounts", "<account><name>x1</name><parent>"+q+"</parent></account>", 400, ""),
			)
		}
	}
	// invalid names in paths
	for _, seg := range []string{".x", "a%20b", "%C3%A9", long, "a:b", "a%5Cb", "%2Ex"} {
		cases = append(cases,
			c("account name in the path "+seg, "PUT", "/auth/v2/accounts/"+seg, "<account/>", 400, "name"),
			c("user name in the path "+seg, "PUT", badAcme+"/users/"+seg, "<user/>", 400, "name"),
			c("role name in the path "+seg, "PUT", badAcme+"/roles/"+seg, "<role/>", 400, "name"),
			c("group name in the path "+seg, "PUT", badAcme+"/groups/"+seg, "<group/>", 400, "name"),
			c("attribute name in the path "+seg, "PUT", badAcme+"/users/alice/attributes/"+seg, "<attribute><value>v</value></attribute>", 400, "name"),
			c("membership in the path "+seg, "PUT", badAcme+"/users/alice/groups/"+seg, "", 400, "name"),
			c("user name in the path "+seg, "DELETE", badAcme+"/users/"+seg, "", 400, "name"),
		)
	}
	// invalid permission strings
	seventeen := strings.TrimSuffix(strings.Repeat("a:", 17), ":")
	for _, p := range []string{"a::b", " ", "a b", seventeen, ":a", "a:", "a,,b", "é", "a:b/c", strings.Repeat("p", 257), "a;b"} {
		q := fmt.Sprintf("%q", p)
		cases = append(cases,
			c("ceiling permission "+q, "PUT", badAcme+"/permissions", "<permissions><permission>"+p+"</permission></permissions>", 400, "permission"),
			c("role permission "+q, "PUT", badAcme+"/roles/printing/permissions", "<permissions><permission>print:x</permission><permission>"+p+"</permission></permissions>", 400, "permission"),
			c("new role's permission "+q, "POST", badAcme+"/roles", "<role><name>x1</name><permissions><permission>"+p+"</permission></permissions></role>", 400, "permission"),
			c("new account's ceiling "+q, "POST", "/auth/v2/accounts", "<account><name>x1</name><permissions><permission>"+p+"</permission></permissions></account>", 400, "permission"),
		)
	}
	for _, seg := range []string{"a::b", "a%20b", seventeen, "a:", "%C3%A9"} {
		cases = append(cases,
			c("permission in the path "+seg, "PUT", badAcme+"/permissions/"+seg, "", 400, "permission"),
			c("permission in the path "+seg, "PUT", badAcme+"/roles/printing/permissions/"+seg, "", 400, "permission"),
			c("permission in the path "+seg, "DELETE", badAcme+"/roles/printing/permissions/"+seg, "", 400, "permission"),
			c("permission in the path "+seg, "GET", badAcme+"/users/alice/permissions/"+seg, "", 400, "permission"),
		)
	}
	badRun(t, s, cases)
	t.Logf("sent %d requests with invalid fields, names and permissions", len(cases))
}

func TestBadInputMissingAndTaken(t *testing.T) {
	s := badSetup(t)
	c := func(method, path, body string, status int, mention string) badCase {
		return badCase{name: fmt.Sprint(status), method: method, path: path, body: body, status: status, mention: mention}
	}
	cases := []badCase{
		// missing account
		c("GET", "/auth/v2/accounts/nope", "", 404, "nope"),
		c("PUT", "/auth/v2/accounts/nope/permissions/print:x", "", 404, "nope"),
		c("DELETE", "/auth/v2/accounts/nope", "", 404, "nope"),
		c("GET", "/auth/v2/accounts/nope/users", "", 404, "nope"),
		c("POST", "/auth/v2/accounts/nope/users", "<user><name>x1</name></user>", 404, "nope"),
		c("PUT", "/auth/v2/accounts/nope/users/x1", "<user/>", 404, "nope"),
		c("POST", "/auth/v2/accounts", "<account><name>x1</name><parent>nope</parent></account>", 404, "nope"),
		c("PUT", "/auth/v2/accounts/x1", "<account><parent>nope</parent></account>", 404, "nope"),
		// missing user
		c("GET", badAcme+"/users/nope", "", 404, "nope"),
		c("DELETE", badAcme+"/users/nope", "", 404, "nope"),
		c("GET", badAcme+"/users/nope/attributes", "", 404, "nope"),
		c("POST", badAcme+"/users/nope/attributes", "<attribute><name>a1</name><value>v</value></attribute>", 404, "nope"),
		c("PUT", badAcme+"/users/nope/attributes/a1", "<attribute><value>v</value></attribute>", 404, "nope"),
		c("PUT", badAcme+"/users/nope/attributes", "<attributes/>", 404, "nope"),
		c("DELETE", badAcme+"/users/nope/attributes", "", 404, "nope"),
		c("PUT", badAcme+"/users/nope/password", "<password>long-enough-1</password>", 404, "nope"),
		c("DELETE", badAcme+"/users/nope/password", "", 404, "nope"),
		c("GET", badAcme+"/users/nope/roles", "", 404, "nope"),
		c("POST", badAcme+"/users/nope/roles", `<role identifier="printing"/>`, 404, "nope"),
		c("PUT", badAcme+"/users/nope/roles/printing", "", 404, "nope"),
		c("GET", badAcme+"/users/nope/groups", "", 404, "nope"),
		c("GET", badAcme+"/users/nope/permissions", "", 404, "nope"),
		c("GET", badAcme+"/users/nope/permissions/print:jobs:read", "", 404, "nope"),
		c("GET", badAcme+"/users/nope/clients", "", 404, "nope"),
		c("GET", badAcme+"/users/nope/federated", "", 404, "nope"),
		c("POST", badAcme+"/groups/ops/users", `<user identifier="nope"/>`, 404, "nope"),
		c("PUT", badAcme+"/groups/ops/users", `<users><user identifier="bob"/><user identifier="nope"/></users>`, 404, "nope"),
		c("GET", "/auth/v2/accounts/acme-eu/users/alice", "", 404, "alice"),
		// missing role
		c("GET", badAcme+"/roles/nope", "", 404, "nope"),
		c("DELETE", badAcme+"/roles/nope", "", 404, "nope"),
		c("GET", badAcme+"/roles/nope/permissions", "", 404, "nope"),
		c("PUT", badAcme+"/roles/nope/permissions", "<permissions/>", 404, "nope"),
		c("PUT", badAcme+"/roles/nope/permissions/print:x", "", 404, "nope"),
		c("DELETE", badAcme+"/roles/nope/permissions", "", 404, "nope"),
		c("POST", badAcme+"/users/alice/roles", `<role identifier="nope"/>`, 404, "nope"),
		c("PUT", badAcme+"/users/alice/roles/nope", "", 404, "nope"),
		c("PUT", badAcme+"/users/alice/roles", `<roles><role identifier="auditor"/><role identifier="nope"/></roles>`, 404, "nope"),
		c("POST", badAcme+"/groups/ops/roles", `<role identifier="nope"/>`, 404, "nope"),
		// missing group
		c("GET", badAcme+"/groups/nope", "", 404, "nope"),
		c("DELETE", badAcme+"/groups/nope", "", 404, "nope"),
		c("GET", badAcme+"/groups/nope/users", "", 404, "nope"),
		c("POST", badAcme+"/groups/nope/roles", `<role identifier="printing"/>`, 404, "nope"),
		c("POST", badAcme+"/users/alice/groups", `<group identifier="nope"/>`, 404, "nope"),
		c("PUT", badAcme+"/users/alice/groups", `<groups><group identifier="nope"/></groups>`, 404, "nope"),
		// missing attribute
		c("GET", badAcme+"/users/alice/attributes/nope", "", 404, "nope"),
		c("DELETE", badAcme+"/users/alice/attributes/nope", "", 404, "nope"),
		c("GET", badAcme+"/users/bob/attributes/color", "", 404, "color"),
		// missing membership
		c("GET", badAcme+"/users/alice/roles/auditor", "", 404, "auditor"),
		c("DELETE", badAcme+"/users/alice/roles/auditor", "", 404, "auditor"),
		c("GET", badAcme+"/users/alice/groups/finance", "", 404, "finance"),
		c("DELETE", badAcme+"/users/alice/groups/finance", "", 404, "finance"),
		c("GET", badAcme+"/groups/finance/users/alice", "", 404, "alice"),
		c("DELETE", badAcme+"/groups/ops/roles/auditor", "", 404, "auditor"),
		c("GET", badAcme+"/users/bob/roles/printing", "", 404, "printing"),
		// missing permission
		c("GET", badAcme+"/permissions/nope:perm", "", 404, "nope:perm"),
		c("DELETE", badAcme+"/permissions/nope:perm", "", 404, "nope:perm"),
		c("GET", badAcme+"/roles/printing/permissions/print:queues:read", "", 404, "print:queues:read"),
		c("DELETE", badAcme+"/roles/printing/permissions/print:queues:read", "", 404, "print:queues:read"),
		c("GET", badAcme+"/roles/auditor/permissions/*", "", 404, "*"),
		c("GET", badAcme+"/users/alice/permissions/admin:everything", "", 404, "admin:everything"),
		c("GET", badAcme+"/users/alice/permissions/print:*", "", 404, "print:*"),
		c("GET", badAcme+"/users/bob/permissions/print:queues:read", "", 404, "print:queues:read"), // not in bob's default role users
		// names taken
		c("POST", "/auth/v2/accounts", "<account><name>acme</name></account>", 409, "acme"),
		c("POST", "/auth/v2/accounts", "<account><name>system</name></account>", 409, "system"),
		c("POST", "/auth/v2/accounts", "<account><name>acme-eu</name><parent>system</parent></account>", 409, "acme-eu"),
		c("POST", badAcme+"/users", "<user><name>alice</name></user>", 409, "alice"),
		c("POST", badAcme+"/users", "<user><name>alice</name><password>long-enough-1</password></user>", 409, "alice"),
		c("POST", badAcme+"/roles", "<role><name>printing</name><permissions><permission>x:y</permission></permissions></role>", 409, "printing"),
		c("POST", badAcme+"/groups", "<group><name>ops</name></group>", 409, "ops"),
		c("POST", badAcme+"/users/alice/attributes", "<attribute><name>color</name><value>red</value></attribute>", 409, "color"),
		// memberships present
		c("POST", badAcme+"/users/alice/roles", `<role identifier="printing"/>`, 409, "printing"),
		c("POST", badAcme+"/users/alice/groups", `<group identifier="ops"/>`, 409, "ops"),
		c("POST", badAcme+"/groups/ops/users", `<user identifier="alice"/>`, 409, "alice"),
		c("POST", badAcme+"/groups/ops/roles", `<role identifier="printing"/>`, 409, "printing"),
	}
	badRun(t, s, cases)
	t.Logf("sent %d requests for missing or taken names", len(cases))
}

func TestBadInputAccepted(t *testing.T) {
	// The edges of what is accepted: exactly 1 MiB, 128-character names,
	// the accepted media types, and GET documents PUT back unchanged.
	s := badSetup(t)
	long := strings.Repeat("n", 128)

	v := "<user><name>big</name></user>"
	exact := badInRoot(v, "user", strings.Repeat(" ", badMiB-len(v)))
	if len(exact) != badMiB {
		t.Fatalf("test body is %d bytes", len(exact))
	}
	e2eDo(t, s, "POST", badAcme+"/users", exact, 201)
	v2 := "<user><name>big2</name></user>"
	r := badSend(t, s, badCase{method: "POST", path: badAcme + "/users", body: badInRoot(v2, "user", strings.Repeat(" ", badMiB-len(v2))), chunked: true})
	if r.Status != 201 {
		t.Errorf("a chunked body of exactly 1 MiB: status %d; %s", r.Status, r.Body)
	}

	for _, p := range []string{"/auth/v2/accounts", badAcme + "/users", badAcme + "/roles", badAcme + "/groups"} {
		el := map[string]string{"/auth/v2/accounts": "account", badAcme + "/users": "user", badAcme + "/roles": "role", badAcme + "/groups": "group"}[p]
		e2eDo(t, s, "POST", p, "<"+el+"><name>"+long+"</name></"+el+">", 201)
		e2eGet(t, s, p+"/"+long)
	}
	e2eDo(t, s, "POST", badAcme+"/users", "<user><name>A.b_c-d@e+f</name></user>", 201)
	e2eGet(t, s, badAcme+"/users/A.b_c-d@e+f")
	e2eDo(t, s, "PUT", badAcme+"/permissions/"+strings.TrimSuffix(strings.Repeat("a:", 16), ":"), "", 201)

	for i, h := range []http.Header{
		{"Content-Type": {"text/xml"}},
		{"Content-Type": {"application/xml; charset=utf-8"}},
		{"Content-Type": {"application/xml; charset=UTF-8"}},
		{"Content-Type": {`application/xml; charset="utf-8"`}},
		{"Content-Type": {"application/xml"}, "Content-Encoding": {"identity"}},
	} {
		r := s.Do(harness.Request{Method: "POST", Path: badAcme + "/groups", User: `system\admin`, Pass: harness.AdminPassword,
			Body:        fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><!-- ok --><group><name>media%d</name></group>`, i),
			ContentType: h.Get("Content-Type"), Header: http.Header{"Content-Encoding": h["Content-Encoding"]}})
		if r.Status != 201 {
			t.Errorf("POST with %v: status %d; %s", h, r.Status, r.Body)
		}
	}

	// A GET document PUT back changes nothing: child references, counts,
	// hrefs and read-only fields are ignored.
	e2eDo(t, s, "PUT", badAcme+"/users/alice", "<user><full-name>Alice</full-name></user>", 204)
	for _, p := range []string{badAcme, "/auth/v2/accounts/acme-eu", badAcme + "/users/alice", badAcme + "/roles/printing",
		badAcme + "/groups/ops", badAcme + "/users/alice/attributes/color"} {
		for _, depth := range []string{"", "?depth=0"} {
			before, _ := e2eSnapshot(t, s)
			doc := e2eGet(t, s, p+depth)
			r := s.Admin("PUT", p, doc.Body)
			if r.Status != 204 {
				t.Errorf("PUT %s with its own GET%s document: status %d; %s", p, depth, r.Status, r.Body)
				continue
			}
			if after, _ := e2eSnapshot(t, s); e2eSnapshotDiff(before, after) != "" {
				t.Errorf("PUT %s with its own GET%s document changed the store: %s", p, depth, e2eSnapshotDiff(before, after))
			}
		}
	}
	// A collection document PUT back replaces the set with itself.
	for _, p := range []string{badAcme + "/permissions", badAcme + "/roles/printing/permissions", badAcme + "/users/alice/roles",
		badAcme + "/users/alice/groups", badAcme + "/groups/ops/roles", badAcme + "/groups/ops/users"} {
		depth := "?depth=3"
		if strings.HasSuffix(p, "/roles") || strings.HasSuffix(p, "/groups") || strings.HasSuffix(p, "/users") {
			depth = ""
		}
		before, _ := e2eSnapshot(t, s)
		doc := e2eGet(t, s, p+depth)
		if r := s.Admin("PUT", p, doc.Body); r.Status != 204 {
			t.Errorf("PUT %s with its own GET%s document: status %d; %s", p, depth, r.Status, r.Body)
		}
		if after, _ := e2eSnapshot(t, s); e2eSnapshotDiff(before, after) != "" {
			t.Errorf("PUT %s with its own GET%s document changed the store: %s", p, depth, e2eSnapshotDiff(before, after))
		}
	}
}
