package resources

import (
	"strconv"

	"github.com/beevik/etree"
)

// The etree renderer that render.go's streaming writer replaced, kept as
// the reference the writer must match byte for byte (render_test.go):
// an etree tree built, indented by two spaces and written.

func etreeDocument(rd renderer, n Node) []byte {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8" standalone="yes"`)
	etreeNode(rd, &doc.Element, n, rd.q.Depth, true)
	doc.Indent(2)
	b, _ := doc.WriteToBytes()
	return b
}

func etreeNode(rd renderer, parent *etree.Element, n Node, depth int, top bool) {
	switch n := n.(type) {
	case *Entity:
		etreeEntity(rd, parent, n, depth)
	case *Collection:
		etreeCollection(rd, parent, n, depth, top)
	}
}

func etreeEntity(rd renderer, parent *etree.Element, e *Entity, depth int) {
	el := parent.CreateElement(e.Element)
	if e.Identifier != "" {
		el.CreateAttr("identifier", e.Identifier)
	}
	if e.href() != "" {
		el.CreateAttr("href", e.href())
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
	for _, f := range e.Fields(nil) {
		if f.Node != nil {
			etreeNode(rd, el, f.Node, depth-1, false)
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

func etreeCollection(rd renderer, parent *etree.Element, c *Collection, depth int, top bool) {
	el := parent.CreateElement(c.Element)
	if depth <= 0 {
		count := 0
		if top && rd.q.Filter != "" {
			_, count = c.Items.Page(rd.q.Filter, 0, 0)
		} else {
			count = c.Items.Count()
		}
		el.CreateAttr("count", strconv.Itoa(count))
		el.CreateAttr("href", c.href())
		return
	}
	filter, offset, limit := "", 0, rd.q.PageSize
	if top {
		filter = rd.q.Filter
		offset = (rd.q.CurrentPage - 1) * rd.q.PageSize
	}
	items, count := c.Items.Page(filter, offset, limit)
	el.CreateAttr("count", strconv.Itoa(count))
	el.CreateAttr("href", c.href())
	if top && (rd.q.paged || count > limit || rd.q.CurrentPage > 1) {
		el.CreateAttr("page-size", strconv.Itoa(rd.q.PageSize))
		el.CreateAttr("current-page", strconv.Itoa(rd.q.CurrentPage))
		if offset+limit < count {
			el.CreateAttr("next", rd.q.pageHref(c.href(), rd.q.CurrentPage+1, rd.depthGiven))
		}
		if rd.q.CurrentPage > 1 {
			prev := min(rd.q.CurrentPage-1, max(1, (count+limit-1)/limit))
			el.CreateAttr("previous", rd.q.pageHref(c.href(), prev, rd.depthGiven))
		}
	}
	for _, it := range items {
		etreeNode(rd, el, it, depth-1, false)
	}
	for _, x := range c.Extra {
		etreeNode(rd, el, x, depth-1, false)
	}
}
