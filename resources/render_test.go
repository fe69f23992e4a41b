package resources

import (
	"bytes"
	"strings"
	"testing"
)

// The streaming writer (render.go) must write exactly the bytes the etree
// renderer it replaced wrote (render_etree_test.go): the end-to-end tests
// pin whole documents. FuzzRender builds random node trees — names from
// an XML name alphabet, texts and attribute values cut from the fuzzer's
// strings (control characters, quotes, markup, non-ASCII, invalid UTF-8)
// — renders them both ways under a random query and requires the same
// bytes. Its seed corpus is in testdata/fuzz/FuzzRender.

// listSource is a fixed collection: it pages its items and ignores the
// filter, counting one fewer item when there is one (so the filtered
// count path is seen).
type listSource []Node

func (s listSource) Count() int { return len(s) }

func (s listSource) Page(filter string, offset, limit int) ([]Node, int) {
	n := len(s)
	if filter != "" && n > 0 {
		n--
	}
	if offset >= n {
		return nil, n
	}
	return s[offset:min(offset+limit, n)], n
}

// treeGen draws a node tree from shape (the choices) and texts (what
// values are cut from). When shape runs out every choice is 0.
type treeGen struct {
	shape []byte
	texts []string
	nodes int
}

func (g *treeGen) next() int {
	if len(g.shape) == 0 {
		return 0
	}
	b := g.shape[0]
	g.shape = g.shape[1:]
	return int(b)
}

const nameStart = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
const nameRest = nameStart + "0123456789-.:"

// name is a valid XML name, usually one of a few so that attribute names
// repeat (and so replace one another, as etree's CreateAttr does).
func (g *treeGen) name() string {
	common := []string{"href", "identifier", "count", "a", "x:y", "known"}
	c := g.next()
	if c%4 != 0 {
		return common[c%len(common)]
	}
	n := 1 + g.next()%8
	b := []byte{nameStart[g.next()%len(nameStart)]}
	for range n - 1 {
		b = append(b, nameRest[g.next()%len(nameRest)])
	}
	return string(b)
}

// text cuts a value (often empty) from one of the texts.
func (g *treeGen) text() string {
	c := g.next()
	if c%3 == 0 || len(g.texts) == 0 {
		return ""
	}
	s := g.texts[c%len(g.texts)]
	i, j := g.next(), g.next()
	if len(s) > 0 {
		i, j = i%(len(s)+1), j%(len(s)+1)
		if i > j {
			i, j = j, i
		}
		if c%5 == 0 {
			return s // whole, so long values are seen too
		}
		return s[i:j]
	}
	return s
}

func (g *treeGen) node(budget int) Node {
	g.nodes++
	if g.next()%3 == 0 {
		c := &Collection{Element: g.name(), Href: g.text()}
		var items listSource
		if budget > 0 {
			for range g.next() % 5 {
				if g.next()%7 == 6 {
					items = append(items, nil) // shows nothing
					continue
				}
				items = append(items, g.node(budget-1))
			}
			for range g.next() % 2 {
				c.Extra = append(c.Extra, g.node(budget-1))
			}
		}
		c.Items = items
		return c
	}
	e := &Entity{Element: g.name(), Identifier: g.text(), Href: g.text(), Text: g.text()}
	for range g.next() % 4 {
		e.Attrs = append(e.Attrs, [2]string{g.name(), g.text()})
	}
	if g.next()%4 != 0 {
		var fields []Field
		for range g.next() % 5 {
			switch c := g.next(); {
			case c%3 == 0 && budget > 0:
				fields = append(fields, Field{Node: g.node(budget - 1)})
			default:
				fields = append(fields, Field{Name: g.name(), Text: g.text(), Always: c%2 == 0})
			}
		}
		e.Fields = func(f []Field) []Field { return append(f, fields...) }
	}
	return e
}

// renderBoth renders n both ways and fails unless the bytes agree.
func renderBoth(t *testing.T, rd renderer, n Node) {
	t.Helper()
	want := etreeDocument(rd, n)
	out := rd.document(n)
	got := bytes.Clone(out.Bytes())
	out.release()
	if !bytes.Equal(got, want) {
		t.Fatalf("query %+v depthGiven=%v\nstreamed:\n%q\netree:\n%q", rd.q, rd.depthGiven, got, want)
	}
}

func FuzzRender(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, "plain text", `a"b'c<d>e&f`, "\t\r\n\x00\x01\x1f\x7f")
	f.Add([]byte{0, 4, 1, 9, 2, 200, 3, 17, 99, 4, 5, 6, 250, 7}, "caf\u00e9 \u2603 \U0001F600", "\xff\xfe\xc3\x28 \xed\xa0\x80", "\uFFFD\uFFFE\uFFFF\U0010FFFF")
	f.Add([]byte{3, 3, 3, 0, 0, 0, 2, 2, 2, 1, 1, 1, 255, 254, 253, 252, 251, 250}, "   ", "\n", "]]> <![CDATA[ x ]]>")
	f.Fuzz(func(t *testing.T, shape []byte, a, b, c string) {
		g := &treeGen{shape: shape, texts: []string{a, b, c}}
		q := query{
			Depth:       g.next() % 5,
			PageSize:    1 + g.next()%4,
			CurrentPage: 1 + g.next()%3,
			paged:       g.next()%2 == 0,
		}
		if g.next()%3 == 0 {
			q.Filter = g.text()
		}
		rd := renderer{q: q, depthGiven: g.next()%2 == 0}
		n := g.node(4)
		renderBoth(t, rd, n)
	})
}

// TestRenderDeepIndent covers indentation deeper than the writer's
// prepared run of spaces.
func TestRenderDeepIndent(t *testing.T) {
	var n Node = &Entity{Element: "leaf", Text: "x"}
	for i := range 45 {
		inner := n
		if i%2 == 0 {
			n = &Entity{Element: "e", Href: "/h", Fields: func(f []Field) []Field { return append(f, Field{Name: "v", Text: "t"}, Field{Node: inner}) }}
		} else {
			n = &Collection{Element: "c", Href: "/c", Items: listSource{inner}}
		}
	}
	renderBoth(t, renderer{q: query{Depth: 50, PageSize: 5, CurrentPage: 1}}, n)
}

// TestRenderReleased checks that a released buffer is reused without
// showing the previous document.
// TestRenderNil covers nil nodes, which show nothing: a document of
// nothing, and collections holding only nil items.
func TestRenderNil(t *testing.T) {
	rd := renderer{q: query{Depth: 2, PageSize: 5, CurrentPage: 1}}
	renderBoth(t, rd, nil)
	renderBoth(t, rd, &Collection{Element: "c", Href: "/c", Items: listSource{nil, nil}, Extra: []Node{nil}})
	renderBoth(t, rd, &Collection{Element: "c", Href: "/c", Items: listSource{nil, &Entity{Element: "e"}, nil}})
}

func TestRenderReleased(t *testing.T) {
	rd := renderer{q: query{Depth: 1, PageSize: 5, CurrentPage: 1}}
	long := &Entity{Element: "long", Text: string(bytes.Repeat([]byte("x"), 5000))}
	rd.document(long).release()
	renderBoth(t, rd, &Entity{Element: "short"})
}

// userLike is a document shaped like a user shown at depth 1: a dozen
// value fields and half a dozen collections shown as references.
func userLike() Node {
	base := "/auth/v2/accounts/load/users/user-0000042"
	coll := func(el, href string, n int) Field {
		items := make(listSource, n)
		for i := range items {
			items[i] = &Entity{Element: "permission", Href: href + "/p" + string(rune('a'+i)), Text: "print:jobs:read"}
		}
		return Field{Node: &Collection{Element: el, Href: href, Items: items}}
	}
	fields := []Field{
		{Name: "account", Text: "load"},
		coll("api-keys", base+"/api-keys", 0),
		coll("attributes", base+"/attributes", 0),
		coll("clients", base+"/clients", 0),
		{Name: "created", Text: "2026-12-04T14:00:00Z"},
		{Name: "email", Text: "user-0000042@load.example"},
		{Name: "enabled", Text: "true"},
		coll("federations", base+"/federated", 0),
		coll("groups", base+"/groups", 1),
		{Name: "password", Always: true},
		{Name: "password-expired", Text: "false"},
		coll("permissions", base+"/permissions", 1),
		coll("roles", base+"/roles", 0),
		{Name: "name", Text: "user-0000042"},
	}
	return &Entity{Element: "user", Identifier: "user-0000042", Href: base, Fields: func(f []Field) []Field { return append(f, fields...) }}
}

// BenchmarkRender renders a user-like document with the streaming writer
// and with the etree renderer it replaced: the cost of writing alone,
// without building nodes or serving a request.
func BenchmarkRender(b *testing.B) {
	n := userLike()
	rd := renderer{q: query{Depth: 1, PageSize: 50, CurrentPage: 1}}
	b.Run("stream", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rd.document(n).release()
		}
	})
	b.Run("etree", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = etreeDocument(rd, n)
		}
	})
}

// TestRenderNameQuirks covers how etree splits names at their first
// colon: a leading colon is dropped, and attributes are the same when
// their prefix and local name are (so ":b" repeats "b", while ":a:b" and
// "a:b" are different attributes written alike).
func TestRenderNameQuirks(t *testing.T) {
	rd := renderer{q: query{Depth: 1, PageSize: 5, CurrentPage: 1}}
	renderBoth(t, rd, &Entity{Element: ":e", Attrs: [][2]string{
		{"b", "1"}, {":b", "2"}, {"a:b", "3"}, {":a:b", "4"}, {"a:", "5"}, {"b", "6"}, {"a:b", "7"},
	}, Fields: func(f []Field) []Field {
		return append(f, Field{Name: ":f", Text: "x"}, Field{Name: "g:h:i", Always: true})
	}})
}

// TestLinkRoutes: an href (in one or two parts) finds the route the
// router would serve it with, and the account segment it names, without
// joining the parts.
func TestLinkRoutes(t *testing.T) {
	cases := []struct {
		h1, h2      string
		path, acct  string // "" path: no route of the table
		method, why string
	}{
		{"/accounts", "", "/accounts", "", "GET", "a collection"},
		{"/accounts/rules", "", "/accounts/rules", "", "GET", "a literal before {a}"},
		{"/accounts/rules/r1", "", "/accounts/rules/{r}", "", "GET", "a root rule"},
		{"/accounts/acme", "", "/accounts/{a}", "acme", "GET", "an account"},
		{"/accounts/acme/users/", "bob", "/accounts/{a}/users/{u}", "acme", "GET", "a page item: prefix + name"},
		{"/accounts/a%2Fb/users/bob", "/api-keys", "/accounts/{a}/users/{u}/api-keys", "a%2Fb", "GET", "a user's collection: href + tail"},
		{"/accounts/acme/users/bob/permissions/print:jobs:*", "", "/accounts/{a}/users/{u}/permissions/{p}", "acme", "GET", "a permission"},
		{"/me/roles/users", "", "/me/roles/{r}", "", "GET", "/me"},
		{"/check", "", "/check", "", "POST", "a path without GET"},
		{"/audit?actor=x", "", "/audit", "", "GET", "a query"},
		{"/schema.xsd", "", "", "", "", "another endpoint"},
		{"/accounts/acme/nope", "", "", "", "", "no such path"},
	}
	for _, c := range cases {
		n, acct := linkRoutes().match(segments{a: c.h1, b: c.h2}, "")
		if c.path == "" {
			if n != nil {
				t.Errorf("%s (%s%s): matched %s %s, want no route", c.why, c.h1, c.h2, n.route.Method, n.route.Path)
			}
			continue
		}
		if strings.Contains(c.h1, "?") {
			n, acct = linkRoutes().match(segments{a: c.h1[:strings.IndexByte(c.h1, '?')]}, "")
		}
		if n == nil {
			t.Errorf("%s (%s%s): no route, want %s", c.why, c.h1, c.h2, c.path)
			continue
		}
		if n.route.Path != c.path || n.route.Method != c.method || acct != c.acct {
			t.Errorf("%s (%s%s): %s %s account %q, want %s %s account %q", c.why, c.h1, c.h2,
				n.route.Method, n.route.Path, acct, c.method, c.path, c.acct)
		}
	}
	if !linkRoutes().lit["accounts"].lit["rules"].systemOnly {
		t.Error("the root rules are not marked as system principals' only")
	}
	// A nil linker (a document rendered without a reader) follows all.
	var l *linker
	if !l.follows("/auth/v2/accounts/x", "") {
		t.Error("a nil linker refused a link")
	}
	if got := allocsOfMatch(); got != 0 {
		t.Errorf("matching an href allocates %v times", got)
	}
}

func allocsOfMatch() float64 {
	return testing.AllocsPerRun(100, func() {
		linkRoutes().match(segments{a: "/accounts/acme/users/", b: "bob"}, "")
	})
}

// TestItemFollowsPremise: the linker decides a collection's items once
// per base (linker.itemFollows) because, in the route table, an href
// base+name whose name is no literal segment under the node base leads to
// (taking literal segments first) always matches that node's variable
// child. Checked for every prefix of every route, with its variables
// filled in, and a name no route spells.
func TestItemFollowsPremise(t *testing.T) {
	checked := 0
	for _, rt := range routes() {
		segs := strings.Split(strings.Trim(rt.Path, "/"), "/")
		for i := range segs {
			if strings.HasPrefix(segs[i], "{") {
				segs[i] = "x1"
			}
		}
		for n := 1; n <= len(segs); n++ {
			base := "/" + strings.Join(segs[:n], "/") + "/"
			parent := linkRoutes().prefer(segments{a: base})
			if parent == nil || parent.variable == nil || parent.variable.route == nil || parent.variable.account {
				continue
			}
			for _, name := range []string{"zz9", "a%2Fb", "x1"} {
				if parent.lit[name] != nil {
					continue
				}
				got, _ := linkRoutes().match(segments{a: base, b: name}, "")
				if got != parent.variable {
					t.Errorf("%s%s matches %v, not the variable child of %s", base, name, got, base)
				}
				checked++
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d hrefs checked", checked)
	}
}
