package resources

import (
	"strconv"
	"strings"

	"github.com/beevik/etree"
)

// Node is anything the renderer shows: an *Entity or a *Collection.
// Handlers describe resources with nodes; only this file writes XML.
type Node interface{ element() string }

// Entity is one resource: an account, a user, a permission …
type Entity struct {
	Element    string
	Identifier string // rendered as identifier="…" when not empty
	Href       string
	// Attrs are extra attributes shown whenever the entity is shown
	// (granted-by, known).
	Attrs [][2]string
	// Text is the element's text when expanded (a permission's string).
	Text string
	// Fields are the value fields and children, in document order,
	// computed only when the entity is expanded.
	Fields func() []Field
}

func (e *Entity) element() string { return e.Element }

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

// Collection is a list resource.
type Collection struct {
	Element string
	Href    string
	Items   Source
	// Extra are further children shown after the items when expanded
	// (the root rules collection inside <accounts>).
	Extra []Node
}

func (c *Collection) element() string { return c.Element }

// renderer writes one document.
type renderer struct {
	q          query
	depthGiven bool
}

// document renders n as a complete document for the request's query.
func (rd renderer) document(n Node) []byte {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8" standalone="yes"`)
	rd.node(&doc.Element, n, rd.q.Depth, true)
	doc.Indent(2)
	b, _ := doc.WriteToBytes()
	return b
}

func (rd renderer) node(parent *etree.Element, n Node, depth int, top bool) {
	switch n := n.(type) {
	case *Entity:
		rd.entity(parent, n, depth)
	case *Collection:
		rd.collection(parent, n, depth, top)
	}
}

func (rd renderer) entity(parent *etree.Element, e *Entity, depth int) {
	el := parent.CreateElement(e.Element)
	if e.Identifier != "" {
		el.CreateAttr("identifier", e.Identifier)
	}
	if e.Href != "" {
		el.CreateAttr("href", e.Href)
	}
	for _, a := range e.Attrs {
		el.CreateAttr(a[0], a[1])
	}
	if depth <= 0 {
		return
	}
	if e.Text != "" {
		el.SetText(e.Text)
	}
	if e.Fields == nil {
		return
	}
	for _, f := range e.Fields() {
		if f.Node != nil {
			rd.node(el, f.Node, depth-1, false)
			continue
		}
		c := el.CreateElement(f.Name)
		if f.Text != "" {
			c.SetText(f.Text)
		} else if f.Always {
			c.AddChild(etree.NewText(""))
		}
	}
}

func (rd renderer) collection(parent *etree.Element, c *Collection, depth int, top bool) {
	el := parent.CreateElement(c.Element)
	if depth <= 0 {
		count := 0
		if top && rd.q.Filter != "" {
			_, count = c.Items.Page(rd.q.Filter, 0, 0)
		} else {
			count = c.Items.Count()
		}
		el.CreateAttr("count", strconv.Itoa(count))
		el.CreateAttr("href", c.Href)
		return
	}
	filter, offset, limit := "", 0, rd.q.PageSize
	if top {
		filter = rd.q.Filter
		offset = (rd.q.CurrentPage - 1) * rd.q.PageSize
	}
	items, count := c.Items.Page(filter, offset, limit)
	el.CreateAttr("count", strconv.Itoa(count))
	el.CreateAttr("href", c.Href)
	// Paging attributes appear on the requested collection when the
	// client paged or when there is more than one page; a single default
	// page looks exactly like the seed's examples.
	if top && (rd.q.paged || count > limit || rd.q.CurrentPage > 1) {
		el.CreateAttr("page-size", strconv.Itoa(rd.q.PageSize))
		el.CreateAttr("current-page", strconv.Itoa(rd.q.CurrentPage))
		if offset+limit < count {
			el.CreateAttr("next", rd.q.pageHref(c.Href, rd.q.CurrentPage+1, rd.depthGiven))
		}
		if rd.q.CurrentPage > 1 {
			prev := min(rd.q.CurrentPage-1, max(1, (count+limit-1)/limit))
			el.CreateAttr("previous", rd.q.pageHref(c.Href, prev, rd.depthGiven))
		}
	}
	for _, it := range items {
		rd.node(el, it, depth-1, false)
	}
	for _, x := range c.Extra {
		rd.node(el, x, depth-1, false)
	}
}

// escapeSegment percent-escapes one path segment, keeping every
// character RFC 3986 allows in a segment (so "*", ":" and "," stay).
func escapeSegment(s string) string {
	const hex = "0123456789ABCDEF"
	clean := true
	for i := 0; i < len(s); i++ {
		if !segmentSafe(s[i]) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if segmentSafe(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

func segmentSafe(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@", c) >= 0
}

// path joins escaped segments under /auth/v2.
func path(segments ...string) string {
	var b strings.Builder
	b.WriteString("/auth/v2")
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(escapeSegment(s))
	}
	return b.String()
}
