package resources

// Unit tests of the strict body decoder (body.go) against SPEC §3 and
// §3b: what readBody, parseXML, decodeEntity, decodeRef, decodeRefList
// and decodeTextItems refuse, and the shapes they accept — including
// GET documents PUT back as they were read.

import (
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// btRequest builds a POST with body, Content-Type ct and further headers;
// length -1 sends it without Content-Length.
func btRequest(body io.Reader, length int64, ct string, hdr ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/auth/v2/accounts", body)
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	if length != 0 {
		r.ContentLength = length
	}
	return r
}

// btProblem fails unless p is a problem with status want and a detail
// that mentions each of mention (case-insensitive).
func btProblem(t *testing.T, label string, p *Problem, want int, mention ...string) {
	t.Helper()
	if p == nil {
		t.Errorf("%s: accepted, want %d", label, want)
		return
	}
	if p.Status != want {
		t.Errorf("%s: status %d (%s), want %d", label, p.Status, p.Detail, want)
	}
	if strings.TrimSpace(p.Detail) == "" {
		t.Errorf("%s: empty detail", label)
	}
	for _, m := range mention {
		if !strings.Contains(strings.ToLower(p.Detail), strings.ToLower(m)) {
			t.Errorf("%s: detail %q does not mention %q", label, p.Detail, m)
		}
	}
}

func TestBodyReadBodyMediaType(t *testing.T) {
	const body = "<user><name>a</name></user>"
	for _, ct := range []string{"application/xml", "text/xml", "application/xml; charset=utf-8", "application/xml; charset=UTF-8",
		`application/xml; charset="utf-8"`, "Application/XML", "text/xml;charset=utf-8"} {
		b, p := readBody(btRequest(strings.NewReader(body), 0, ct))
		if p != nil || string(b) != body {
			t.Errorf("Content-Type %q: %v, body %q", ct, p, b)
		}
	}
	for _, enc := range []string{"identity", "IDENTITY"} {
		if _, p := readBody(btRequest(strings.NewReader(body), 0, "application/xml", "Content-Encoding", enc)); p != nil {
			t.Errorf("Content-Encoding %s: %v", enc, p)
		}
	}
	for _, ct := range []string{"", "text/plain", "application/json", "application/problem+xml", "application/xhtml+xml",
		"application/x-www-form-urlencoded", "xml", "application/xml; charset", "multipart/form-data; boundary=x"} {
		_, p := readBody(btRequest(strings.NewReader(body), 0, ct))
		btProblem(t, "Content-Type "+ct, p, http.StatusUnsupportedMediaType)
	}
	for _, cs := range []string{"iso-8859-1", "utf-16", "us-ascii", "latin1", "utf8"} {
		_, p := readBody(btRequest(strings.NewReader(body), 0, "application/xml; charset="+cs))
		btProblem(t, "charset "+cs, p, http.StatusUnsupportedMediaType, cs)
	}
	for _, enc := range []string{"gzip", "deflate", "br", "compress", "gzip, identity"} {
		_, p := readBody(btRequest(strings.NewReader(body), 0, "application/xml", "Content-Encoding", enc))
		btProblem(t, "Content-Encoding "+enc, p, http.StatusUnsupportedMediaType, enc)
	}
}

func TestBodyReadBodySize(t *testing.T) {
	exact := strings.Repeat("x", MaxBodyBytes)
	over := exact + "x"
	// Exactly the limit is accepted, with and without Content-Length.
	for _, l := range []int64{MaxBodyBytes, -1} {
		b, p := readBody(btRequest(strings.NewReader(exact), l, "application/xml"))
		if p != nil || len(b) != MaxBodyBytes {
			t.Errorf("a body of exactly %d bytes (Content-Length %d): %v, %d bytes", MaxBodyBytes, l, p, len(b))
		}
	}
	// One byte over is refused, whether announced or not.
	for _, l := range []int64{MaxBodyBytes + 1, -1} {
		_, p := readBody(btRequest(strings.NewReader(over), l, "application/xml"))
		btProblem(t, "a body one byte over the limit", p, http.StatusRequestEntityTooLarge)
	}
	// An announced length over the limit is refused before reading.
	rd := &btCountingReader{r: strings.NewReader(over)}
	_, p := readBody(btRequest(rd, 5<<20, "application/xml"))
	btProblem(t, "Content-Length 5 MiB", p, http.StatusRequestEntityTooLarge)
	if rd.n > 0 {
		t.Errorf("Content-Length over the limit: %d bytes were read anyway", rd.n)
	}
	// The media type is checked before the size.
	_, p = readBody(btRequest(strings.NewReader(over), 0, "text/plain"))
	btProblem(t, "over the limit and text/plain", p, http.StatusUnsupportedMediaType)
	// A failing read is a 400.
	_, p = readBody(btRequest(iotest.ErrReader(io.ErrUnexpectedEOF), -1, "application/xml"))
	btProblem(t, "a failing body", p, http.StatusBadRequest)
}

type btCountingReader struct {
	r io.Reader
	n int
}

func (c *btCountingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestBodyParseXMLAccepts(t *testing.T) {
	for _, b := range []string{
		`<user><name>alice</name></user>`,
		`<user/>`,
		`<?xml version="1.0"?><user/>`,
		`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n<user>\n  <name>alice</name>\n</user>\n",
		`<?xml version="1.0" encoding="utf-8"?><user/>`,
		`<!-- before --><user><!-- inside --><name>alice</name></user><!-- after -->`,
		"  \n<user/>\n\n",
		`<user><name><![CDATA[alice]]></name></user>`,
		`<user><full-name>Tom &amp; Jerry &lt;&gt;&quot;&apos;&#65;&#x42;</full-name></user>`,
		`<user identifier="alice" href="/auth/v2/accounts/system/users/alice"><name>alice</name></user>`,
		"<user><full-name>Zoë Ångström</full-name></user>",
	} {
		el, p := parseXML([]byte(b), "user")
		if p != nil {
			t.Errorf("parseXML(%q): %v", b, p)
			continue
		}
		if el == nil || el.Tag != "user" {
			t.Errorf("parseXML(%q): root %v", b, el)
		}
	}
	el, _ := parseXML([]byte(`<user><full-name>Tom &amp; Jerry &#65;</full-name></user>`), "user")
	if got := el.SelectElement("full-name").Text(); got != "Tom & Jerry A" {
		t.Errorf("predefined entities and character references: %q", got)
	}
}

func TestBodyParseXMLRejects(t *testing.T) {
	laughs := `<?xml version="1.0"?><!DOCTYPE user [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">` +
		`<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><user><name>&lol3;</name></user>`
	deep := "<user>" + strings.Repeat("<a>", 2000) + strings.Repeat("</a>", 2000) + "</user>"
	cases := []struct {
		name, body string
		mention    []string
	}{
		{"empty", "", []string{"empty"}},
		{"white space only", " \n\t ", []string{"empty"}},
		{"comment only", "<!-- nothing -->", []string{"empty"}},
		{"unclosed root", "<user>", nil},
		{"truncated", "<user><name>al", nil},
		{"mismatched end tag", "<user></users>", nil},
		{"mismatched field end tag", "<user><name>a</email></user>", nil},
		{"stray end tag", "<user/></user>", nil},
		{"unquoted attribute", "<user a=1/>", nil},
		{"attribute without value", "<user a/>", nil},
		{"not XML", "name=alice", nil},
		{"JSON", `{"name":"alice"}`, nil},
		{"wrong root", "<account><name>a</name></account>", []string{"account", "user"}},
		{"root case differs", "<User/>", []string{"User"}},
		{"plural root", "<users/>", []string{"users"}},
		{"DOCTYPE", "<!DOCTYPE user><user/>", []string{"DOCTYPE"}},
		{"DOCTYPE with internal subset", `<!DOCTYPE user [<!ELEMENT user ANY>]><user/>`, []string{"DOCTYPE"}},
		{"entity declaration", `<!DOCTYPE user [<!ENTITY a "b">]><user><name>&a;</name></user>`, nil},
		{"billion laughs", laughs, nil},
		{"external entity", `<!DOCTYPE user [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><user><name>&xxe;</name></user>`, nil},
		{"parameter entity", `<!DOCTYPE user [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x.dtd"> %p;]><user/>`, nil},
		{"external DTD", `<!DOCTYPE user SYSTEM "http://127.0.0.1:1/user.dtd"><user/>`, []string{"DOCTYPE"}},
		{"public DTD", `<!DOCTYPE user PUBLIC "-//X//EN" "http://127.0.0.1:1/user.dtd"><user/>`, []string{"DOCTYPE"}},
		{"entity declaration without DOCTYPE", `<!ENTITY a "b"><user/>`, nil},
		{"lower-case doctype directive", "<!doctype user><user/>", nil},
		{"undeclared entity", "<user><name>&xxe;</name></user>", nil},
		{"undeclared entity in an attribute", `<user identifier="&xxe;"/>`, nil},
		{"HTML entity", "<user><name>&nbsp;</name></user>", nil},
		{"processing instruction before the root", `<?xml-stylesheet href="x"?><user/>`, []string{"xml-stylesheet"}},
		{"processing instruction after the root", `<user/><?evil?>`, []string{"evil"}},
		{"processing instruction inside the root", `<user><?evil?><name>a</name></user>`, []string{"evil"}},
		{"processing instruction inside a field", `<user><name>a<?evil?></name></user>`, []string{"evil"}},
		{"declaration inside the root", `<user><!ELEMENT x ANY><name>a</name></user>`, []string{"ELEMENT"}},
		{"doctype directive inside the root", `<user><!doctype user><name>a</name></user>`, nil},
		{"XML declaration after a comment", `<!-- c --><?xml version="1.0"?><user/>`, nil},
		{"XML declaration after white space", ` <?xml version="1.0"?><user/>`, nil},
		{"second XML declaration", `<?xml version="1.0"?><?xml version="1.0"?><user/>`, nil},
		{"XML 1.1", `<?xml version="1.1"?><user/>`, nil},
		{"default namespace", `<user xmlns="urn:x"/>`, []string{"namespace"}},
		{"prefixed root", `<g:user xmlns:g="urn:x"/>`, nil},
		{"undeclared prefix", `<g:user/>`, nil},
		{"namespace declaration", `<user xmlns:g="urn:x"/>`, []string{"namespace"}},
		{"prefixed field", `<user><g:name xmlns:g="urn:x">a</g:name></user>`, nil},
		{"default namespace on a field", `<user><name xmlns="urn:x">a</name></user>`, nil},
		{"prefixed attribute", `<user><name g:x="1" xmlns:g="urn:x">a</name></user>`, nil},
		{"xml:lang attribute", `<user xml:lang="en"/>`, nil},
		{"text before the root", "junk<user/>", []string{"text outside"}},
		{"text after the root", "<user/>junk", []string{"text outside"}},
		{"two roots", "<user/><user/>", []string{"more than one root"}},
		{"invalid UTF-8 in a field", "<user><name>\xff</name></user>", nil},
		{"invalid UTF-8 in an attribute", "<user identifier=\"\xc3\x28\"/>", nil},
		{"invalid UTF-8 in a comment", "<user><!-- \xff\xfe --><name>a</name></user>", nil},
		{"invalid UTF-8 outside the root", "<user/><!-- \xff -->", nil},
		{"NUL character reference", "<user><name>&#0;</name></user>", nil},
		{"control character", "<user><name>a\x01b</name></user>", nil},
		{"declared ISO-8859-1", `<?xml version="1.0" encoding="ISO-8859-1"?><user><full-name>caf` + "\xc3\xa9" + `</full-name></user>`, nil},
		{"declared UTF-16", `<?xml version="1.0" encoding="UTF-16"?><user/>`, nil},
		{"duplicated attribute", `<user identifier="a" identifier="b"/>`, []string{"identifier"}},
		{"nesting 2000 deep", deep, nil},
	}
	for _, c := range cases {
		el, p := parseXML([]byte(c.body), "user")
		btProblem(t, c.name+": parseXML("+btClip(c.body)+")", p, http.StatusBadRequest, c.mention...)
		if p != nil && el != nil {
			t.Errorf("%s: a refused body still returns a root element", c.name)
		}
	}
}

func btClip(s string) string {
	if len(s) > 60 {
		return strings.ToValidUTF8(s[:60], "?") + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// btDecode parses body with root schema.Root and decodes it.
func btDecode(t *testing.T, body string, s Schema) (Fields, *Problem) {
	t.Helper()
	el, p := parseXML([]byte(body), s.Root)
	if p != nil {
		t.Fatalf("parseXML(%s): %v", btClip(body), p)
	}
	return decodeEntity(el, s)
}

func TestBodyDecodeEntityAccepts(t *testing.T) {
	cases := []struct {
		name   string
		schema Schema
		body   string
		text   map[string]string
		lists  map[string][]string
	}{
		{"minimal user", userKind.schema, "<user><name>alice</name></user>", map[string]string{"name": "alice"}, nil},
		{"full user", userKind.schema, `<user><name>alice</name><password>pass-word-1</password><email>a@example.com</email>
			<full-name>Alice L.</full-name><enabled>false</enabled><password-expired>true</password-expired></user>`,
			map[string]string{"name": "alice", "password": "pass-word-1", "email": "a@example.com", "full-name": "Alice L.",
				"enabled": "false", "password-expired": "true"}, nil},
		{"fields in any order, comments between", userKind.schema, "<user><!-- c --><enabled>true</enabled>\n  <name>bob</name><!-- d --></user>",
			map[string]string{"name": "bob", "enabled": "true"}, nil},
		{"empty user", userKind.schema, "<user/>", map[string]string{}, nil},
		{"empty field", userKind.schema, "<user><full-name></full-name><email/></user>", map[string]string{"full-name": "", "email": ""}, nil},
		{"text keeps its spaces", userKind.schema, "<user><full-name> A  B </full-name></user>", map[string]string{"full-name": " A  B "}, nil},
		{"account with parent and ceiling", accountSchema, `<account><name>acme</name><description>Acme</description><parent>system</parent>
			<permissions><permission>print:*</permission><permission>report:*:read</permission></permissions></account>`,
			map[string]string{"name": "acme", "description": "Acme", "parent": "system"},
			map[string][]string{"permissions": {"print:*", "report:*:read"}}},
		{"role with permissions", roleKind.schema, `<role><name>printing</name><permissions>
			<permission>print:jobs:*</permission></permissions></role>`,
			map[string]string{"name": "printing"}, map[string][]string{"permissions": {"print:jobs:*"}}},
		{"attribute", attributeSchema, "<attribute><name>color</name><value>blue</value></attribute>",
			map[string]string{"name": "color", "value": "blue"}, nil},
		{"group with description", groupKind.schema, "<group><name>ops</name><description>Operations</description></group>",
			map[string]string{"name": "ops", "description": "Operations"}, nil},
	}
	for _, c := range cases {
		f, p := btDecode(t, c.body, c.schema)
		if p != nil {
			t.Errorf("%s: %v", c.name, p)
			continue
		}
		if !reflect.DeepEqual(f.Text, c.text) {
			t.Errorf("%s: text fields %v, want %v", c.name, f.Text, c.text)
		}
		if c.lists == nil {
			c.lists = map[string][]string{}
		}
		if !reflect.DeepEqual(f.Lists, c.lists) {
			t.Errorf("%s: lists %v, want %v", c.name, f.Lists, c.lists)
		}
	}
}

// The documents a console reads (SPEC §3: "the server ignores href,
// count and read-only fields") decode to their writable fields only.
func TestBodyDecodeGetDocuments(t *testing.T) {
	cases := []struct {
		name   string
		schema Schema
		body   string
		text   map[string]string
	}{
		{"user (seed shape with gatehouse's fields)", userKind.schema, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<user identifier="example-user" href="/auth/v2/accounts/system/users/example-user">
  <account>system</account>
  <attributes count="1" href="/auth/v2/accounts/system/users/example-user/attributes"/>
  <clients count="0" href="/auth/v2/accounts/system/users/example-user/clients"/>
  <created>2024-05-01T10:00:00Z</created>
  <email>example-user@example.com</email>
  <enabled>true</enabled>
  <federations count="1" href="/auth/v2/accounts/system/users/example-user/federated"/>
  <full-name>Example User</full-name>
  <groups count="1" href="/auth/v2/accounts/system/users/example-user/groups"/>
  <last-login>2024-05-02T10:00:00Z</last-login>
  <password></password>
  <password-expired>false</password-expired>
  <permissions count="5" href="/auth/v2/accounts/system/users/example-user/permissions"/>
  <roles count="1" href="/auth/v2/accounts/system/users/example-user/roles"/>
  <name>example-user</name>
</user>`, map[string]string{"email": "example-user@example.com", "enabled": "true", "full-name": "Example User",
			"password": "", "password-expired": "false", "name": "example-user"}},
		{"user at depth 2", userKind.schema, `<user identifier="u" href="/auth/v2/accounts/a/users/u">
  <account>a</account>
  <attributes count="1" href="/auth/v2/accounts/a/users/u/attributes"><attribute identifier="x" href="/auth/v2/accounts/a/users/u/attributes/x"/></attributes>
  <groups count="1" href="/auth/v2/accounts/a/users/u/groups"><group identifier="g" href="/auth/v2/accounts/a/users/u/groups/g"/></groups>
  <password></password>
  <permissions count="1" href="/auth/v2/accounts/a/users/u/permissions"><permission href="/auth/v2/accounts/a/users/u/permissions/x:y"/></permissions>
  <roles count="1" href="/auth/v2/accounts/a/users/u/roles"><role identifier="r" href="/auth/v2/accounts/a/users/u/roles/r"/></roles>
  <name>u</name>
</user>`, map[string]string{"password": "", "name": "u"}},
		{"account (seed shape)", accountSchema, `<account identifier="acme" href="/auth/v2/accounts/acme">
  <description>Acme</description>
  <groups count="1" href="/auth/v2/accounts/acme/groups"/>
  <name>acme</name>
  <parent identifier="system" href="/auth/v2/accounts/system"/>
  <permissions count="1" href="/auth/v2/accounts/acme/permissions"/>
  <roles count="12" href="/auth/v2/accounts/acme/roles"/>
  <rules count="6" href="/auth/v2/accounts/acme/rules"/>
  <users count="10" href="/auth/v2/accounts/acme/users"/>
</account>`, map[string]string{"description": "Acme", "name": "acme", "parent": "system"}},
		{"role (seed shape)", roleKind.schema, `<role identifier="userrole" href="/auth/v2/accounts/system/roles/userrole">
  <name>userrole</name>
  <permissions count="5" href="/auth/v2/accounts/system/roles/userrole/permissions"/>
</role>`, map[string]string{"name": "userrole"}},
		{"group (seed shape)", groupKind.schema, `<group identifier="users" href="/auth/v2/accounts/system/users/example-user/groups/users">
  <name>users</name>
  <roles count="1" href="/auth/v2/accounts/system/groups/users/roles"/>
  <users count="1" href="/auth/v2/accounts/system/groups/users/users"/>
</group>`, map[string]string{"name": "users"}},
		{"attribute (seed shape)", attributeSchema, `<attribute identifier="example-attribute-name" href="/auth/v2/accounts/system/users/example-user/attributes/example-attribute-name">
  <id>356</id>
  <name>example-attribute-name</name>
  <value>example-attribute-value</value>
</attribute>`, map[string]string{"name": "example-attribute-name", "value": "example-attribute-value"}},
		{"reference at depth 0", userKind.schema, `<user identifier="u" href="/auth/v2/accounts/a/users/u"/>`, map[string]string{}},
	}
	for _, c := range cases {
		f, p := btDecode(t, c.body, c.schema)
		if p != nil {
			t.Errorf("%s: %v", c.name, p)
			continue
		}
		if !reflect.DeepEqual(f.Text, c.text) {
			t.Errorf("%s: text fields %v, want %v", c.name, f.Text, c.text)
		}
		for name, items := range f.Lists {
			if len(items) != 0 {
				t.Errorf("%s: the child reference <%s count=… href=…/> decodes to items %v", c.name, name, items)
			}
		}
	}
}

func TestBodyDecodeEntityRejects(t *testing.T) {
	cases := []struct {
		name    string
		schema  Schema
		body    string
		mention string
	}{
		{"unknown field", userKind.schema, "<user><name>a</name><nickname>x</nickname></user>", "nickname"},
		{"unknown field in an account", accountSchema, "<account><colour>red</colour></account>", "colour"},
		{"unknown field in an attribute", attributeSchema, "<attribute><name>a</name><type>s</type></attribute>", "type"},
		{"list on a group", groupKind.schema, "<group><permissions/></group>", "permissions"},
		{"duplicated field", userKind.schema, "<user><name>a</name><name>a</name></user>", "name"},
		{"duplicated empty field", userKind.schema, "<user><email/><email/></user>", "email"},
		{"duplicated ignored field", userKind.schema, `<user><roles count="1"/><roles count="2"/></user>`, "roles"},
		{"duplicated list", roleKind.schema, "<role><permissions/><permissions/></role>", "permissions"},
		{"field holding an element", userKind.schema, "<user><name><first>a</first></name></user>", "name"},
		{"field holding its own kind", userKind.schema, "<user><name><name>a</name></name></user>", "name"},
		{"parent holding an element", accountSchema, "<account><parent><name>system</name></parent></account>", "parent"},
		{"stray text in the root", userKind.schema, "<user>hello<name>a</name></user>", "hello"},
		{"stray text after a field", userKind.schema, "<user><name>a</name>tail</user>", "tail"},
		{"attribute on the root", userKind.schema, `<user admin="true"><name>a</name></user>`, "admin"},
		{"count on an entity root", userKind.schema, `<user count="1"><name>a</name></user>`, "count"},
		{"misplaced list item", roleKind.schema, "<role><permissions><role>x:y</role></permissions></role>", "role"},
		{"empty list item", roleKind.schema, "<role><permissions><permission/></permissions></role>", "empty"},
		{"list item holding an element", accountSchema, "<account><permissions><permission><x/></permission></permissions></account>", "permission"},
		{"stray text in a list", roleKind.schema, "<role><permissions>print:*</permissions></role>", "print"},
		{"attribute on a list item", roleKind.schema, `<role><permissions><permission granted-by="x">a:b</permission></permissions></role>`, "granted-by"},
	}
	for _, c := range cases {
		_, p := btDecode(t, c.body, c.schema)
		btProblem(t, c.name+": "+c.body, p, http.StatusBadRequest, c.mention)
	}
}

func TestBodyDecodeRef(t *testing.T) {
	for _, b := range []string{`<role identifier="printing"/>`, `<role identifier="printing" href="/auth/v2/accounts/a/roles/printing"/>`,
		`<role identifier="printing"></role>`, "<role identifier=\"printing\">\n  </role>", `<role identifier="printing"><!-- c --></role>`} {
		el, p := parseXML([]byte(b), "role")
		if p != nil {
			t.Fatalf("parseXML(%s): %v", b, p)
		}
		id, p := decodeRef(el)
		if p != nil || id != "printing" {
			t.Errorf("decodeRef(%s) = %q, %v", b, id, p)
		}
	}
	for _, c := range []struct{ body, mention string }{
		{`<role/>`, "identifier"},
		{`<role identifier=""/>`, "identifier"},
		{`<role href="/auth/v2/accounts/a/roles/printing"/>`, "identifier"},
		{`<role name="printing"/>`, "name"},
		{`<role identifier="printing" count="1"/>`, "count"},
		{`<role identifier="printing"><name>printing</name></role>`, "role"},
		{`<role identifier="printing">printing</role>`, "printing"},
		{`<role>printing</role>`, ""},
	} {
		el, p := parseXML([]byte(c.body), "role")
		if p != nil {
			t.Fatalf("parseXML(%s): %v", c.body, p)
		}
		_, p = decodeRef(el)
		btProblem(t, "decodeRef("+c.body+")", p, http.StatusBadRequest, c.mention)
	}
}

func TestBodyDecodeRefList(t *testing.T) {
	for _, c := range []struct {
		body string
		want []string
	}{
		{`<roles/>`, []string{}},
		{`<roles></roles>`, []string{}},
		{`<roles><role identifier="b"/><role identifier="a"/></roles>`, []string{"b", "a"}},
		{`<roles count="2" href="/auth/v2/accounts/a/users/u/roles">
  <role identifier="a" href="/auth/v2/accounts/a/users/u/roles/a"/>
  <!-- comment -->
  <role identifier="b" href="/auth/v2/accounts/a/users/u/roles/b"/>
</roles>`, []string{"a", "b"}},
	} {
		el, p := parseXML([]byte(c.body), "roles")
		if p != nil {
			t.Fatalf("parseXML(%s): %v", c.body, p)
		}
		ids, p := decodeRefList(el, "role")
		if p != nil || ids == nil || !reflect.DeepEqual(ids, c.want) {
			t.Errorf("decodeRefList(%s) = %#v, %v; want %#v", c.body, ids, p, c.want)
		}
	}
	for _, c := range []struct{ body, mention string }{
		{`<roles><group identifier="a"/></roles>`, "group"},
		{`<roles><role identifier="a"/><user identifier="b"/></roles>`, "user"},
		{`<roles><role/></roles>`, "identifier"},
		{`<roles><role identifier=""/></roles>`, "identifier"},
		{`<roles><role identifier="a" extra="1"/></roles>`, "extra"},
		{`<roles><role identifier="a"><role identifier="b"/></role></roles>`, "role"},
		{`<roles><role identifier="a">a</role></roles>`, "a"},
		{`<roles>a<role identifier="a"/></roles>`, "a"},
		{`<roles identifier="x"><role identifier="a"/></roles>`, "identifier"},
		{`<roles count="1" page-size="1" current-page="1"><role identifier="a"/></roles>`, "page-size"},
	} {
		el, p := parseXML([]byte(c.body), "roles")
		if p != nil {
			t.Fatalf("parseXML(%s): %v", c.body, p)
		}
		_, p = decodeRefList(el, "role")
		btProblem(t, "decodeRefList("+c.body+")", p, http.StatusBadRequest, c.mention)
	}
}

func TestBodyDecodeTextItems(t *testing.T) {
	for _, c := range []struct {
		body string
		want []string
	}{
		{`<permissions/>`, []string{}},
		{`<permissions><permission>print:*</permission><permission>a:b</permission></permissions>`, []string{"print:*", "a:b"}},
		// The GET shape at depth 3: items carry href (and known) and text.
		{`<permissions count="2" href="/auth/v2/accounts/a/permissions">
  <permission href="/auth/v2/accounts/a/permissions/print:*">print:*</permission>
  <permission href="/auth/v2/accounts/a/permissions/x:y" known="false">x:y</permission>
</permissions>`, []string{"print:*", "x:y"}},
		{`<permissions><permission identifier="a:b"/></permissions>`, []string{"a:b"}},
		{`<permissions><permission><![CDATA[a:*]]></permission></permissions>`, []string{"a:*"}},
	} {
		el, p := parseXML([]byte(c.body), "permissions")
		if p != nil {
			t.Fatalf("parseXML(%s): %v", c.body, p)
		}
		items, p := decodeTextItems(el, "permission")
		if p != nil || items == nil || !reflect.DeepEqual(items, c.want) {
			t.Errorf("decodeTextItems(%s) = %#v, %v; want %#v", c.body, items, p, c.want)
		}
	}
	for _, c := range []struct{ body, mention string }{
		{`<permissions><role>a:b</role></permissions>`, "role"},
		{`<permissions><permission/></permissions>`, "empty"},
		{`<permissions><permission></permission></permissions>`, "empty"},
		{`<permissions><permission><permission>a:b</permission></permission></permissions>`, "permission"},
		{`<permissions>a:b</permissions>`, "a:b"},
		{`<permissions><permission>a:b</permission>tail</permissions>`, "tail"},
		{`<permissions><permission granted-by="/x">a:b</permission></permissions>`, "granted-by"},
	} {
		el, p := parseXML([]byte(c.body), "permissions")
		if p != nil {
			t.Fatalf("parseXML(%s): %v", c.body, p)
		}
		_, p = decodeTextItems(el, "permission")
		btProblem(t, "decodeTextItems("+c.body+")", p, http.StatusBadRequest, c.mention)
	}
}

// A body that is not well-formed says where, by line and column, and
// what — never etree's bare "invalid XML format".
func TestBodyMalformedSaysWhere(t *testing.T) {
	for _, c := range []struct{ body, where, what string }{
		{"<user><name>a</name></usr>", "line 1, column 26", "closed by </usr>"},
		{"<user>\n  <name>a</nam>\n</user>", "line 2, column 15", "closed by </nam>"},
		{"<user>\n  <name>a</name>\n", "line 3, column 1", "unexpected EOF"},
		{"<user>\n  <näme>ä</näme>\n  <name>a<name>\n</user>", "line 4, column 7", "closed by </user>"},
		{"<user><name a=1/></user>", "line 1, column 15", "unquoted or missing attribute value"},
		{"<user>&nbsp;</user>", "line 1, column 12", "invalid character entity &nbsp;"},
		{"<user></user></user>", "line 1, column 20", "unexpected end element </user>"},
		{"<user", "line 1, column 5", "unexpected EOF"},
	} {
		_, p := parseXML([]byte(c.body), "user")
		if p == nil {
			t.Errorf("%q: accepted", c.body)
			continue
		}
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Detail, c.where) || !strings.Contains(p.Detail, c.what) ||
			strings.Contains(p.Detail, "etree") {
			t.Errorf("%q: %d %q, want 400 naming %q and %q", c.body, p.Status, p.Detail, c.where, c.what)
		}
	}
}
