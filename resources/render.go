package resources

import (
	"net/url"
	"strconv"
	"strings"
	"sync"

	"gatehouse/authz"
	"gatehouse/xmltext"
)

// Node is anything the renderer shows: an *Entity or a *Collection.
// Handlers describe resources with nodes; only this file writes XML.
type Node interface{ element() string }

// Entity is one resource: an account, a user, a permission …
type Entity struct {
	Element    string
	Identifier string // rendered as identifier="…" when not empty
	Href       string
	// HrefTail, when set, is appended to Href: the items of a page share
	// their collection's href and add their own escaped name.
	HrefTail string
	// Attrs are extra attributes shown whenever the entity is shown
	// (granted-by, known).
	Attrs [][2]string
	// Text is the element's text when expanded (a permission's string).
	Text string
	// Inline marks a part of its parent's value (an attribute mapping, a
	// sync status): it has no href of its own and is expanded whenever
	// its parent is, whatever the depth.
	Inline bool
	// Fields appends the value fields and children, in document order,
	// to f and returns it; it is called only when the entity is expanded.
	// The renderer passes a slice it reuses for every entity at the same
	// nesting level, so Fields must not keep it.
	Fields func(f []Field) []Field
}

func (e *Entity) element() string { return e.Element }

// href is the entity's whole href.
func (e *Entity) href() string { return e.Href + e.HrefTail }

// Field is one child of an expanded entity: a text value or a node.
type Field struct {
	Name string
	Text string
	// Node, when set, is rendered instead of Text (at depth − 1).
	Node Node
	// Always renders an element even for empty Text, as <name></name>.
	Always bool
}

// Source pages a collection's items.
type Source interface {
	// Count is the number of items.
	Count() int
	// Page returns items [offset, offset+limit) among those whose
	// identifier matches filter ("" matches all) and how many match.
	Page(filter string, offset, limit int) (items []Node, count int)
}

// linkPager is what a Source may also do when its items are plain links
// (storedSource): a page shown collapsed is then rendered from its names,
// without building an item per name (see doc.go, Allocation budget).
type linkPager interface {
	// linkItems describes the items as links; nil when they are not.
	linkItems() *itemLinks
	// pageNames is Page's identifiers, without building the items.
	pageNames(filter string, offset, limit int) (names []string, count int)
}

// itemLinks describes items that are plain links: the item named x is an
// Entity of element with identifier x and href under its collection's,
// href+"/"+escapeSegment(x), without Attrs, Text or Inline. Its fields,
// if any, are not shown collapsed, so the renderer shows such an item as
// an Entity it builds on the stack.
type itemLinks struct {
	element string
	// split: the item's Href is the collection's whole href and "/", and
	// its HrefTail the escaped name (the linker decides the page's items
	// once per base); otherwise Href is the whole href and HrefTail empty.
	// The two are written alike but decided differently, so each source
	// says which form its items take.
	split bool
}

// Collection is a list resource.
type Collection struct {
	Element string
	Href    string
	// HrefTail, when set, is appended to Href: a user's collections are
	// its href and "/groups", "/roles" …, written without joining them.
	HrefTail string
	Items    Source
	// Extra are further children shown after the items when expanded
	// (the root rules collection inside <accounts>).
	Extra []Node
}

func (c *Collection) element() string { return c.Element }

// href is the collection's whole href.
func (c *Collection) href() string { return c.Href + c.HrefTail }

// renderer writes one document.
type renderer struct {
	q          query
	depthGiven bool
	// reader, when set, is the node builder of the request: its caller,
	// view and authority decide which links the document keeps (linker).
	// Without it every href is written.
	reader *nb
}

// output is a rendered document in a pooled buffer. Whoever writes it
// hands it back with release once it is written, and keeps no reference
// to Bytes after that.
type output struct {
	b []byte
	// fields are the renderer's reused Field slices, one per nesting
	// level, kept with the buffer.
	fields [][]Field
	// links are the renderer's link decisions for one document, kept
	// with the buffer so that deciding allocates nothing.
	links linker
}

// maxPooled bounds the buffers kept for reuse, so that one huge page does
// not stay in the pool.
const maxPooled = 256 << 10

var outputs = sync.Pool{New: func() any { return &output{b: make([]byte, 0, 4096)} }}

// Bytes is the document.
func (o *output) Bytes() []byte { return o.b }

// release returns the buffer to the pool; o must not be used after.
func (o *output) release() {
	if o == nil || cap(o.b) > maxPooled {
		return
	}
	o.b = o.b[:0]
	outputs.Put(o)
}

// The document is written as a stream, straight into the buffer, in the
// form the etree renderer it replaced produced (render_etree_test.go
// keeps that renderer, and a fuzz test holds the two to the same bytes):
// the XML declaration on its own line, each element on its own line
// indented by two spaces per level, a text value inline with its element
// (<name>text</name>), an element without content self-closed (<x/>),
// and a newline at the end.

const xmlDecl = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`

// document renders n as a complete document for the request's query into
// a pooled buffer; the caller releases it once written.
func (rd renderer) document(n Node) *output {
	o := outputs.Get().(*output)
	w := xmlWriter{b: o.b[:0], fields: o.fields}
	if rd.reader != nil {
		o.links = linker{reader: rd.reader}
		w.links = &o.links
	}
	w.b = append(w.b, xmlDecl...)
	w.b = append(w.b, '\n')
	if n != nil {
		rd.node(&w, n, rd.q.Depth, true, 1)
		w.b = append(w.b, '\n')
	}
	o.b, o.fields = w.b, w.fields
	o.links = linker{} // holds on to nothing of the request
	return o
}

// node writes n as an element at nesting level (the root element is
// level 1).
func (rd renderer) node(w *xmlWriter, n Node, depth int, top bool, level int) {
	switch n := n.(type) {
	case *Entity:
		rd.entity(w, n, depth, level)
	case *Collection:
		rd.collection(w, n, depth, top, level)
	}
}

func (rd renderer) entity(w *xmlWriter, e *Entity, depth, level int) {
	w.open(e.Element)
	// unlinked: the entity has an href its reader may not follow, so it
	// is shown without one (see linker).
	unlinked := (e.Href != "" || e.HrefTail != "") && !w.links.follows(e.Href, e.HrefTail)
	if len(e.Attrs) == 0 {
		// identifier and href only: no repeated names to resolve.
		if e.Identifier != "" {
			w.attr("identifier", e.Identifier)
		}
		if (e.Href != "" || e.HrefTail != "") && !unlinked {
			w.attr2("href", e.Href, e.HrefTail)
		}
	} else {
		var attrs [8][2]string
		as := attrs[:0]
		if e.Identifier != "" {
			as = append(as, [2]string{"identifier", e.Identifier})
		}
		if h := e.href(); h != "" && !unlinked {
			as = append(as, [2]string{"href", h})
		}
		if w.links == nil {
			as = append(as, e.Attrs...)
		} else {
			for _, a := range e.Attrs {
				as = w.links.attr(as, a)
			}
		}
		w.attrs(as)
	}
	if (depth <= 0 && !e.Inline) || (e.Text == "" && e.Fields == nil) {
		if unlinked && depth <= 0 && e.Identifier == "" && e.Text != "" {
			// Without href or identifier, a reference shows what it
			// names as its text (a permission).
			w.b = append(w.b, '>')
			w.text(e.Text)
			w.close(e.Element)
			return
		}
		w.selfClose()
		return
	}
	var fields []Field
	if e.Fields != nil {
		fields = e.Fields(w.fieldsAt(level))
		defer w.keepFields(level, fields)
	}
	if e.Text == "" && len(fields) == 0 {
		w.selfClose()
		return
	}
	w.b = append(w.b, '>')
	w.text(e.Text)
	for _, f := range fields {
		w.indent(level)
		if f.Node != nil {
			rd.node(w, f.Node, depth-1, false, level+1)
			continue
		}
		w.open(f.Name)
		if f.Text == "" && !f.Always {
			w.selfClose()
			continue
		}
		w.b = append(w.b, '>')
		w.text(f.Text)
		w.close(f.Name)
	}
	if len(fields) > 0 {
		w.indent(level - 1)
	}
	w.close(e.Element)
}

func (rd renderer) collection(w *xmlWriter, c *Collection, depth int, top bool, level int) {
	w.open(c.Element)
	if depth <= 0 {
		count := 0
		if top && rd.q.Filter != "" {
			_, count = c.Items.Page(rd.q.Filter, 0, 0)
		} else {
			count = c.Items.Count()
		}
		w.intAttr("count", count)
		if w.links.follows(c.Href, c.HrefTail) {
			w.attr2("href", c.Href, c.HrefTail)
		}
		w.selfClose()
		return
	}
	filter, offset, limit := "", 0, rd.q.PageSize
	if top {
		filter = rd.q.Filter
		offset = (rd.q.CurrentPage - 1) * rd.q.PageSize
	}
	// Items shown collapsed need no more than their names when they are
	// plain links.
	var links *itemLinks
	lp, _ := c.Items.(linkPager)
	if lp != nil && depth-1 <= 0 {
		links = lp.linkItems()
	}
	var items []Node
	var names []string
	var count int
	if links != nil {
		names, count = lp.pageNames(filter, offset, limit)
	} else {
		items, count = c.Items.Page(filter, offset, limit)
	}
	w.intAttr("count", count)
	linked := w.links.follows(c.Href, c.HrefTail)
	if linked {
		w.attr2("href", c.Href, c.HrefTail)
	}
	// Paging attributes appear on the requested collection when the
	// client paged or when there is more than one page; a single default
	// page looks exactly like the seed's examples.
	if top && (rd.q.paged || count > limit || rd.q.CurrentPage > 1) {
		w.intAttr("page-size", rd.q.PageSize)
		w.intAttr("current-page", rd.q.CurrentPage)
		if offset+limit < count && linked {
			w.attr("next", rd.q.pageHref(c.href(), rd.q.CurrentPage+1, rd.depthGiven))
		}
		if rd.q.CurrentPage > 1 && linked {
			prev := min(rd.q.CurrentPage-1, max(1, (count+limit-1)/limit))
			w.attr("previous", rd.q.pageHref(c.href(), prev, rd.depthGiven))
		}
	}
	if !anyNode(items) && len(names) == 0 && !anyNode(c.Extra) {
		w.selfClose()
		return
	}
	w.b = append(w.b, '>')
	if len(names) > 0 {
		rd.linkItems(w, c, links, names, depth-1, level)
	}
	for _, it := range items {
		if it != nil {
			w.indent(level)
			rd.node(w, it, depth-1, false, level+1)
		}
	}
	for _, x := range c.Extra {
		if x != nil {
			w.indent(level)
			rd.node(w, x, depth-1, false, level+1)
		}
	}
	w.indent(level - 1)
	w.close(c.Element)
}

// linkItems writes the items names of collection c, plain links (l),
// shown collapsed at depth: each is the Entity its source would build,
// without fields, on the stack, written by entity as any item is.
func (rd renderer) linkItems(w *xmlWriter, c *Collection, l *itemLinks, names []string, depth, level int) {
	var base string // the items' shared Href, when split
	if l.split {
		base = joinHref(c.Href, c.HrefTail, "")
	}
	for _, x := range names {
		e := Entity{Element: l.element, Identifier: x}
		if l.split {
			e.Href, e.HrefTail = base, escapeSegment(x)
		} else {
			e.Href = joinHref(c.Href, c.HrefTail, x)
		}
		w.indent(level)
		rd.entity(w, &e, depth, level+1)
	}
}

// joinHref is href+tail+"/"+escapeSegment(name), built at its exact size.
func joinHref(href, tail, name string) string {
	var b strings.Builder
	b.Grow(len(href) + len(tail) + 1 + escapedLen(name))
	b.WriteString(href)
	b.WriteString(tail)
	b.WriteByte('/')
	writeSegment(&b, name)
	return b.String()
}

// anyNode reports whether ns has a node to show (a nil one shows nothing).
func anyNode(ns []Node) bool {
	for _, n := range ns {
		if n != nil {
			return true
		}
	}
	return false
}

// xmlWriter appends XML to b.
type xmlWriter struct {
	b      []byte
	fields [][]Field // reused per nesting level (see Entity.Fields)
	links  *linker   // nil: every href is written
}

// maxKeptFields bounds a kept Field slice, so one entity with very many
// fields does not stay in the pool.
const maxKeptFields = 64

// fieldsAt is an empty slice to build the fields of an entity at level
// in, reused from the last entity expanded at that level.
func (w *xmlWriter) fieldsAt(level int) []Field {
	for len(w.fields) <= level {
		w.fields = append(w.fields, nil)
	}
	return w.fields[level][:0]
}

// keepFields takes f back for the next entity at level, cleared so that
// it holds on to nothing the document showed.
func (w *xmlWriter) keepFields(level int, f []Field) {
	if cap(f) > maxKeptFields {
		return
	}
	clear(f)
	w.fields[level] = f[:0]
}

// indentation is a newline and enough spaces for most documents; deeper
// levels repeat spaces.
var indentation = "\n" + strings.Repeat(" ", 64)

// indent starts a new line indented for a child of an element at level.
func (w *xmlWriter) indent(level int) {
	n := 2 * level
	if n < len(indentation) {
		w.b = append(w.b, indentation[:n+1]...)
		return
	}
	w.b = append(w.b, indentation...)
	for n -= len(indentation) - 1; n > 0; n-- {
		w.b = append(w.b, ' ')
	}
}

// open writes the start of a start tag.
func (w *xmlWriter) open(name string) {
	w.b = append(w.b, '<')
	w.name(name)
}

func (w *xmlWriter) selfClose() { w.b = append(w.b, '/', '>') }

func (w *xmlWriter) close(name string) {
	w.b = append(w.b, '<', '/')
	w.name(name)
	w.b = append(w.b, '>')
}

// name writes an element or attribute name as etree does: split at the
// first colon into a prefix and a local name, and joined again only when
// the prefix is not empty (so a leading colon is dropped).
func (w *xmlWriter) name(s string) {
	if s != "" && s[0] == ':' {
		s = s[1:]
	}
	w.b = append(w.b, s...)
}

// attrs writes attributes in order; a repeated name keeps its first
// place and takes its last value, as etree's CreateAttr does.
func (w *xmlWriter) attrs(as [][2]string) {
	for i, a := range as {
		seen := false
		for j := 0; j < i && !seen; j++ {
			seen = sameName(as[j][0], a[0])
		}
		if seen {
			continue
		}
		v := a[1]
		for _, b := range as[i+1:] {
			if sameName(a[0], b[0]) {
				v = b[1]
			}
		}
		w.attr(a[0], v)
	}
}

// sameName compares names as etree does: by prefix and local name.
func sameName(a, b string) bool {
	as, al := splitName(a)
	bs, bl := splitName(b)
	return as == bs && al == bl
}

// splitName splits a name at its first colon, as etree does.
func splitName(s string) (prefix, local string) {
	if i := strings.IndexByte(s, ':'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return "", s
}

func (w *xmlWriter) attr(name, value string) {
	w.b = append(w.b, ' ')
	w.name(name)
	w.b = append(w.b, '=', '"')
	w.text(value)
	w.b = append(w.b, '"')
}

// attr2 writes an attribute whose value is v1+v2.
func (w *xmlWriter) attr2(name, v1, v2 string) {
	w.b = append(w.b, ' ')
	w.name(name)
	w.b = append(w.b, '=', '"')
	w.text(v1)
	w.text(v2)
	w.b = append(w.b, '"')
}

func (w *xmlWriter) intAttr(name string, v int) {
	w.b = append(w.b, ' ')
	w.name(name)
	w.b = append(w.b, '=', '"')
	w.b = strconv.AppendInt(w.b, int64(v), 10)
	w.b = append(w.b, '"')
}

// text writes s escaped as etree writes both text and attribute values
// (package xmltext).
func (w *xmlWriter) text(s string) { w.b = xmltext.Append(w.b, s) }

// escapeSegment percent-escapes one path segment, keeping every
// character RFC 3986 allows in a segment (so "*", ":" and "," stay).
func escapeSegment(s string) string {
	n := escapedLen(s)
	if n == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(n)
	writeSegment(&b, s)
	return b.String()
}

func segmentSafe(c byte) bool { return segmentSafeBytes[c] }

// segmentSafeBytes marks the bytes a path segment keeps as they are.
var segmentSafeBytes = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			t[c] = true
		default:
			t[c] = strings.IndexByte("-._~!$&'()*+,;=:@", byte(c)) >= 0
		}
	}
	return t
}()

// path joins escaped segments under /auth/v2.
func path(segments ...string) string {
	const root = "/auth/v2"
	n := len(root)
	for _, s := range segments {
		n += 1 + escapedLen(s)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(root)
	for _, s := range segments {
		b.WriteByte('/')
		writeSegment(&b, s)
	}
	return b.String()
}

// escapedLen is len(escapeSegment(s)).
func escapedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if !segmentSafe(s[i]) {
			n += 2
		}
	}
	return n
}

// writeSegment writes escapeSegment(s) to b, the safe runs whole.
func writeSegment(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if segmentSafe(c) {
			continue
		}
		b.WriteString(s[start:i])
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
		start = i + 1
	}
	b.WriteString(s[start:])
}

// A document links only what its reader may follow (SPEC §3c; decisions
// in doc.go). The linker decides each href as the api pipeline would
// decide a GET of it: the href is matched against the route table
// (linkRoutes; the GET route of its path), the account it names must be
// visible to the reader (authz.Visible, tenancy), and the reader must
// hold the route's permission (Authority.Decide, in the reader's own
// account, as the pipeline asks it). Decisions are memoised per
// document, by permission and by account, and folded into the ETag (the
// digest of the tracking view), so a document whose links change for its
// reader changes its ETag too. Deciding allocates nothing (but for an
// account name that needs escaping): hrefs are matched segment by segment
// in place, and the memo lives in the pooled output.

// apiRoot is the prefix of every /auth/v2 href.
const apiRoot = "/auth/v2"

// linkMemo is one memoised decision.
type linkMemo struct {
	key string
	ok  bool
}

// linker decides the links of one document for its reader.
type linker struct {
	reader *nb
	held   *authz.Holding // the reader's, taken at the first decision
	heldOK bool
	perms  [16]linkMemo
	nperms int
	accts  [4]linkMemo
	naccts int

	// The decision for the items of one collection: every href base+name
	// whose name is no literal segment there leads to the same route, so
	// it is decided once per base (see itemFollows).
	base       string
	baseParent *linkNode
	baseOK     bool
}

// follows reports whether the reader may follow href h1+h2. A nil linker
// (a document rendered without a reader) and an href outside the route
// table (another endpoint's) follow. A path the table serves without a
// GET (POST /check) is an action link: it follows when the reader may
// call the first route there.
func (l *linker) follows(h1, h2 string) bool {
	if l == nil {
		return true
	}
	if ok, decided := l.itemFollows(h1, h2); decided {
		return ok
	}
	return l.decide(h1, h2)
}

// itemFollows decides href h1+h2 from the memo of base h1 when h2 adds
// one segment that is no literal route segment under h1 (a collection's
// item: /users/{u}); decided is false when it cannot. The route table is
// matched literal-first, depth-first, so when the node h1 leads to
// (taking literal segments first) has a variable child with a GET route
// and no literal child named like the segment, every such href matches
// that child's route in the same account: one decision serves them all.
// A variable child that is the {a} segment is decided per href (the
// account is the segment itself).
func (l *linker) itemFollows(h1, h2 string) (ok, decided bool) {
	if h2 == "" || strings.IndexByte(h1, '?') >= 0 {
		return false, false
	}
	seg := h2
	if strings.HasSuffix(h1, "/") {
		if seg[0] == '/' {
			return false, false
		}
	} else if seg = h2[1:]; h2[0] != '/' {
		return false, false
	}
	if seg == "" || strings.IndexByte(seg, '/') >= 0 || strings.IndexByte(seg, '?') >= 0 {
		return false, false
	}
	if l.baseParent != nil && l.base == h1 {
		if l.baseParent.lit[seg] == nil {
			return l.baseOK, true
		}
		return false, false
	}
	rest, found := strings.CutPrefix(h1, apiRoot)
	if !found || rest == "" || rest[0] != '/' {
		return false, false
	}
	parent := linkRoutes().prefer(segments{a: rest})
	if parent == nil || parent.variable == nil || parent.variable.route == nil || parent.variable.account || parent.lit[seg] != nil {
		return false, false
	}
	ok = l.decide(h1, h2)
	l.base, l.baseParent, l.baseOK = h1, parent, ok
	return ok, true
}

// decide is follows without the collection memo.
func (l *linker) decide(h1, h2 string) bool {
	rest, ok := strings.CutPrefix(h1, apiRoot)
	if !ok {
		return true
	}
	if rest != "" && rest[0] != '/' && rest[0] != '?' {
		return true // /auth/v2x…: not under the API
	}
	if h2 != "" && h2[0] != '/' && !strings.HasSuffix(rest, "/") {
		rest, h2 = rest+h2, "" // a segment across both parts: not built so
	}
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest, h2 = rest[:i], ""
	} else if i := strings.IndexByte(h2, '?'); i >= 0 {
		h2 = h2[:i]
	}
	n, acct := linkRoutes().match(segments{a: rest, b: h2}, "")
	if n == nil {
		return true
	}
	if n.systemOnly && l.reader.p.Account != authz.SystemAccount {
		return false
	}
	if acct != "" && !l.visible(acct) {
		return false
	}
	return l.may(n.route.Permission)
}

// visible is authz.Visible for the account whose escaped path segment is
// seg, memoised.
func (l *linker) visible(seg string) bool {
	for _, m := range l.accts[:l.naccts] {
		if m.key == seg {
			return m.ok
		}
	}
	a := seg
	if strings.IndexByte(seg, '%') >= 0 {
		var err error
		if a, err = url.PathUnescape(seg); err != nil {
			return false
		}
	}
	v := l.reader
	ok := authz.Visible(v.raw, *v.p, a)
	v.Mix(seg)
	v.Mix(boolText(ok))
	if l.naccts < len(l.accts) {
		l.accts[l.naccts] = linkMemo{seg, ok}
		l.naccts++
	}
	return ok
}

// may reports whether the reader holds perm, memoised.
func (l *linker) may(perm string) bool {
	for _, m := range l.perms[:l.nperms] {
		if m.key == perm {
			return m.ok
		}
	}
	v := l.reader
	if !l.heldOK {
		l.held, l.heldOK = v.au.HeldBy(v.raw, *v.p), true
	}
	ok := v.au.DecideHeld(l.held, *v.p, perm).Granted()
	v.Mix(perm)
	v.Mix(boolText(ok))
	if l.nperms < len(l.perms) {
		l.perms[l.nperms] = linkMemo{perm, ok}
		l.nperms++
	}
	return ok
}

// linkAttrs are the attributes whose values are links, and whether the
// attribute stays, naming the target, when the reader may not follow it
// (granted-by="/auth/v2/accounts/a/roles/r" becomes granted-by="r": a
// name never holds a "/", a link always starts with one) or is left out
// (href: the element's identifier names the target).
var linkAttrs = [...]struct {
	name  string
	keeps bool
}{{"href", false}, {"granted-by", true}}

// attr appends attribute a to as: as it is, unless it is a link the
// reader may not follow (see linkAttrs).
func (l *linker) attr(as [][2]string, a [2]string) [][2]string {
	for _, la := range linkAttrs {
		if a[0] != la.name || l.follows(a[1], "") {
			continue
		}
		if !la.keeps {
			return as
		}
		name := a[1][strings.LastIndexByte(a[1], '/')+1:]
		if n, err := url.PathUnescape(name); err == nil {
			name = n
		}
		return append(as, [2]string{a[0], name})
	}
	return append(as, a)
}

// segments iterates the path segments of a+b (b continues a at a segment
// boundary), skipping empty ones.
type segments struct{ a, b string }

func (s *segments) next() (string, bool) {
	for {
		if s.a == "" {
			if s.b == "" {
				return "", false
			}
			s.a, s.b = s.b, ""
		}
		if s.a[0] == '/' {
			s.a = s.a[1:]
			continue
		}
		i := strings.IndexByte(s.a, '/')
		if i < 0 {
			seg := s.a
			s.a = ""
			return seg, true
		}
		seg := s.a[:i]
		s.a = s.a[i:]
		return seg, true
	}
}

// linkNode is a node of the route table's segment tree.
type linkNode struct {
	lit        map[string]*linkNode // literal segments
	variable   *linkNode            // a {name} segment
	account    bool                 // this node is the {a} segment
	route      *Route               // the GET route ending here, else the first route
	systemOnly bool                 // the routes serve system principals only (root rules)
}

// linkRoutes is the segment tree of the route table, built once. It is
// set by init: the handlers in the table render through the linker, so
// a variable initialiser naming routes would be a cycle.
var linkRoutes func() *linkNode

func init() { linkRoutes = sync.OnceValue(buildLinkRoutes) }

func buildLinkRoutes() *linkNode {
	root := &linkNode{}
	for _, rt := range routes() {
		n := root
		s := segments{a: rt.Path}
		for seg, ok := s.next(); ok; seg, ok = s.next() {
			if strings.HasPrefix(seg, "{") {
				if n.variable == nil {
					n.variable = &linkNode{}
				}
				n = n.variable
				n.account = n.account || seg == "{a}"
				continue
			}
			if n.lit == nil {
				n.lit = map[string]*linkNode{}
			}
			c := n.lit[seg]
			if c == nil {
				c = &linkNode{}
				n.lit[seg] = c
			}
			n = c
		}
		if n.route == nil || rt.Method == "GET" {
			n.route = rt
		}
		n.systemOnly = strings.HasPrefix(rt.Path, "/accounts/rules")
	}
	return root
}

// match finds the node the rest of s leads to from n (a literal segment
// before a variable one, as the router prefers it), and the account
// segment it passed.
// prefer walks s down the tree taking the literal segment where there is
// one and the variable one otherwise (the first path match tries), and
// returns the node it ends at (nil when a segment has neither).
func (n *linkNode) prefer(s segments) *linkNode {
	for seg, ok := s.next(); ok; seg, ok = s.next() {
		if c := n.lit[seg]; c != nil {
			n = c
		} else if n.variable != nil {
			n = n.variable
		} else {
			return nil
		}
	}
	return n
}

func (n *linkNode) match(s segments, acct string) (*linkNode, string) {
	seg, ok := s.next()
	if !ok {
		if n.route != nil {
			return n, acct
		}
		return nil, ""
	}
	if c := n.lit[seg]; c != nil {
		if m, a := c.match(s, acct); m != nil {
			return m, a
		}
	}
	if n.variable != nil {
		if n.variable.account {
			acct = seg
		}
		return n.variable.match(s, acct)
	}
	return nil, ""
}
