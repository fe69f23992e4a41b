package resources

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/beevik/etree"
)

// MaxBodyBytes is the largest request body accepted, counted on the wire.
const MaxBodyBytes = 1 << 20

// readBody checks the request's media type and encoding and returns the
// raw body, refusing anything over MaxBodyBytes.
func readBody(r *http.Request) ([]byte, *Problem) {
	if enc := r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return nil, problem(http.StatusUnsupportedMediaType, "Content-Encoding %q is not supported; send the body uncompressed", enc)
	}
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/xml" && mt != "text/xml") {
		return nil, problem(http.StatusUnsupportedMediaType, "Content-Type %q is not supported; send application/xml", ct)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, problem(http.StatusUnsupportedMediaType, "charset %q is not supported; send UTF-8", cs)
	}
	if r.ContentLength > MaxBodyBytes {
		return nil, problem(http.StatusRequestEntityTooLarge, "the body is %d bytes; the limit is %d", r.ContentLength, MaxBodyBytes)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, problem(http.StatusBadRequest, "reading the body failed: %v", err)
	}
	if len(b) > MaxBodyBytes {
		return nil, problem(http.StatusRequestEntityTooLarge, "the body is over the limit of %d bytes", MaxBodyBytes)
	}
	return b, nil
}

// parseXML parses b strictly and returns its one root element, which must
// be named root. DOCTYPE and other declarations, processing instructions
// beyond the XML declaration, namespaces, undeclared entities and text
// outside the root are refused.
func parseXML(b []byte, root string) (*etree.Element, *Problem) {
	if !utf8.Valid(b) {
		return nil, problem(http.StatusBadRequest, "the body is not valid UTF-8")
	}
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{
		Permissive:             false,
		PreserveDuplicateAttrs: true, // so that a repeated attribute is refused below
		CharsetReader: func(charset string, _ io.Reader) (io.Reader, error) {
			return nil, fmt.Errorf("encoding %q is not supported; send UTF-8", charset)
		},
	}
	if bytes.Contains(b, []byte("<!")) {
		// Comments and CDATA are fine; declarations are not. etree keeps
		// a DOCTYPE as a directive token, which is checked below, but a
		// DOCTYPE with an internal subset must never reach the parser.
		if bytes.Contains(b, []byte("<!DOCTYPE")) || bytes.Contains(b, []byte("<!ENTITY")) {
			return nil, problem(http.StatusBadRequest, "the body holds a DOCTYPE or entity declaration; these are not allowed")
		}
	}
	if _, err := doc.ReadFrom(bytes.NewReader(b)); err != nil {
		return nil, malformed(b, err)
	}
	var el *etree.Element
	for i, tok := range doc.Child {
		switch t := tok.(type) {
		case *etree.ProcInst:
			if t.Target != "xml" || i != 0 {
				return nil, problem(http.StatusBadRequest, "processing instruction <?%s?> is not allowed", t.Target)
			}
		case *etree.Directive:
			return nil, problem(http.StatusBadRequest, "declarations (<!%s…>) are not allowed", firstWord(t.Data))
		case *etree.Comment:
		case *etree.CharData:
			if strings.TrimSpace(t.Data) != "" {
				return nil, problem(http.StatusBadRequest, "text outside the root element is not allowed")
			}
		case *etree.Element:
			if el != nil {
				return nil, problem(http.StatusBadRequest, "the body has more than one root element")
			}
			el = t
		}
	}
	if el == nil {
		return nil, problem(http.StatusBadRequest, "the body is empty; expected a <%s> document", root)
	}
	if el.Space != "" || el.Tag != root {
		return nil, problem(http.StatusBadRequest, "the root element is <%s>; expected <%s>", el.FullTag(), root)
	}
	if p := checkTree(el); p != nil {
		return nil, p
	}
	return el, nil
}

// malformed is the 400 for a body etree could not read (err): it says
// where, by line and column (counted in characters from 1), and what.
// etree reports some faults (an end tag that does not match, a body that
// ends inside an element) without a position, so the body is read again
// with encoding/xml's strict decoder, which finds the first fault and
// stops there; the column is computed from the decoder's input offset.
func malformed(b []byte, err error) *Problem {
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.CharsetReader = func(charset string, _ io.Reader) (io.Reader, error) {
		return nil, fmt.Errorf("encoding %q is not supported; send UTF-8", charset)
	}
	for {
		_, terr := dec.Token()
		if terr == nil {
			continue
		}
		if terr != io.EOF {
			line, col := lineColumn(b, dec.InputOffset())
			msg := terr.Error()
			var se *xml.SyntaxError
			if errors.As(terr, &se) {
				msg = se.Msg
			}
			return problem(http.StatusBadRequest, "the body is not well-formed XML: line %d, column %d: %s", line, col, msg)
		}
		break
	}
	return problem(http.StatusBadRequest, "the body is not well-formed XML: %s", strings.TrimPrefix(err.Error(), "etree: "))
}

// lineColumn is the line and column (both from 1, the column in
// characters) of byte offset off in b.
func lineColumn(b []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(b)))
	before := b[:off]
	line = 1 + bytes.Count(before, []byte("\n"))
	start := bytes.LastIndexByte(before, '\n') + 1
	col = max(utf8.RuneCount(before[start:]), 1)
	return line, col
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

// checkTree refuses, anywhere below the root: namespaces, repeated
// attributes, processing instructions and declarations.
func checkTree(el *etree.Element) *Problem {
	if el.Space != "" {
		return problem(http.StatusBadRequest, "element <%s> has a namespace; namespaces are not allowed", el.FullTag())
	}
	seen := make(map[string]bool, len(el.Attr))
	for _, a := range el.Attr {
		if a.Space != "" || a.Key == "xmlns" {
			return problem(http.StatusBadRequest, "attribute %q on <%s> is a namespace declaration or prefixed; not allowed", a.FullKey(), el.Tag)
		}
		if seen[a.Key] {
			return problem(http.StatusBadRequest, "attribute %q appears more than once on <%s>", a.Key, el.Tag)
		}
		seen[a.Key] = true
	}
	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.ProcInst:
			return problem(http.StatusBadRequest, "processing instruction <?%s?> is not allowed", t.Target)
		case *etree.Directive:
			return problem(http.StatusBadRequest, "declarations (<!%s…>) are not allowed", firstWord(t.Data))
		case *etree.Element:
			if p := checkTree(t); p != nil {
				return p
			}
		}
	}
	return nil
}

// Schema says which children a body element may have.
type Schema struct {
	Root string
	// Text fields hold a value.
	Text []string
	// Lists hold items of the given element with text values
	// (<permissions><permission>…</permission></permissions>).
	Lists map[string]string
	// Ignored are read-only fields of the GET shape, accepted and dropped
	// so a console can PUT back what it read.
	Ignored []string
	// Nested are elements grouping text fields
	// (<attribute-mapping><name>uid</name>…</attribute-mapping>): each
	// child present lands in Text as "element/child".
	Nested map[string][]string
}

// Fields is a decoded entity body: the text fields present and the lists.
type Fields struct {
	Text  map[string]string
	Lists map[string][]string
}

// Has reports whether the text field was present.
func (f Fields) Has(name string) bool { _, ok := f.Text[name]; return ok }

// decodeEntity reads an entity body against s.
func decodeEntity(el *etree.Element, s Schema) (Fields, *Problem) {
	f := Fields{Text: map[string]string{}, Lists: map[string][]string{}}
	if p := onlyAttrs(el, "identifier", "href"); p != nil {
		return f, p
	}
	if p := noText(el); p != nil {
		return f, p
	}
	seen := map[string]bool{}
	for _, c := range el.ChildElements() {
		name := c.Tag
		if seen[name] {
			return f, problem(http.StatusBadRequest, "field <%s> appears more than once in <%s>", name, s.Root)
		}
		seen[name] = true
		switch {
		case contains(s.Text, name):
			if id := c.SelectAttrValue("identifier", ""); id != "" {
				// <parent identifier="x" href="…">…</parent> as rendered
				// by GET, at any depth.
				f.Text[name] = id
				continue
			}
			v, p := textOf(c)
			if p != nil {
				return f, p
			}
			f.Text[name] = v
		case s.Lists[name] != "" && (c.SelectAttr("href") != nil || c.SelectAttr("count") != nil):
			// A sub-collection as GET renders it: read-only here, it
			// changes through its own resource.
		case s.Lists[name] != "":
			items, p := decodeTextItems(c, s.Lists[name])
			if p != nil {
				return f, p
			}
			f.Lists[name] = items
		case s.Nested[name] != nil:
			if p := decodeNested(c, s.Nested[name], f.Text); p != nil {
				return f, p
			}
		case contains(s.Ignored, name):
		default:
			return f, problem(http.StatusBadRequest, "unknown field <%s> in <%s>", name, s.Root)
		}
	}
	return f, nil
}

// decodeNested reads <group><child>value</child>…</group> into text as
// "group/child", each child at most once and among children.
func decodeNested(group *etree.Element, children []string, text map[string]string) *Problem {
	if p := onlyAttrs(group); p != nil {
		return p
	}
	if p := noText(group); p != nil {
		return p
	}
	for _, c := range group.ChildElements() {
		if !contains(children, c.Tag) {
			return problem(http.StatusBadRequest, "unknown field <%s> in <%s>", c.Tag, group.Tag)
		}
		key := group.Tag + "/" + c.Tag
		if _, dup := text[key]; dup {
			return problem(http.StatusBadRequest, "field <%s> appears more than once in <%s>", c.Tag, group.Tag)
		}
		v, p := textOf(c)
		if p != nil {
			return p
		}
		text[key] = v
	}
	return nil
}

// decodeTextItems reads <list><item>value</item>…</list>.
func decodeTextItems(list *etree.Element, item string) ([]string, *Problem) {
	if p := noText(list); p != nil {
		return nil, p
	}
	out := []string{}
	for _, c := range list.ChildElements() {
		if c.Tag != item {
			return nil, problem(http.StatusBadRequest, "element <%s> is misplaced in <%s>; expected <%s>", c.Tag, list.Tag, item)
		}
		if p := onlyAttrs(c, "href", "identifier", "known"); p != nil {
			return nil, p
		}
		v, p := textOf(c)
		if p != nil {
			return nil, p
		}
		if v == "" {
			v = c.SelectAttrValue("identifier", "")
		}
		if v == "" {
			return nil, problem(http.StatusBadRequest, "<%s> in <%s> is empty", item, list.Tag)
		}
		out = append(out, v)
	}
	return out, nil
}

// decodeRef reads <item identifier="name"/>.
func decodeRef(el *etree.Element) (string, *Problem) {
	if p := onlyAttrs(el, "identifier", "href"); p != nil {
		return "", p
	}
	if len(el.ChildElements()) > 0 {
		return "", problem(http.StatusBadRequest, "<%s> must be empty: <%s identifier=\"…\"/>", el.Tag, el.Tag)
	}
	if p := noText(el); p != nil {
		return "", p
	}
	id := el.SelectAttrValue("identifier", "")
	if id == "" {
		return "", problem(http.StatusBadRequest, "<%s> needs an identifier attribute", el.Tag)
	}
	return id, nil
}

// decodeRefList reads <list><item identifier="…"/>…</list>.
func decodeRefList(el *etree.Element, item string) ([]string, *Problem) {
	if p := onlyAttrs(el, "count", "href"); p != nil {
		return nil, p
	}
	if p := noText(el); p != nil {
		return nil, p
	}
	out := []string{}
	for _, c := range el.ChildElements() {
		if c.Tag != item {
			return nil, problem(http.StatusBadRequest, "element <%s> is misplaced in <%s>; expected <%s>", c.Tag, el.Tag, item)
		}
		id, p := decodeRef(c)
		if p != nil {
			return nil, p
		}
		out = append(out, id)
	}
	return out, nil
}

// textOf returns an element's text, refusing child elements.
func textOf(el *etree.Element) (string, *Problem) {
	if len(el.ChildElements()) > 0 {
		return "", problem(http.StatusBadRequest, "field <%s> must hold text, not elements", el.Tag)
	}
	return el.Text(), nil
}

// noText refuses non-blank text directly inside an element that holds
// elements.
func noText(el *etree.Element) *Problem {
	for _, tok := range el.Child {
		if cd, ok := tok.(*etree.CharData); ok && strings.TrimSpace(cd.Data) != "" {
			return problem(http.StatusBadRequest, "<%s> holds stray text %q", el.Tag, clip(cd.Data))
		}
	}
	return nil
}

func onlyAttrs(el *etree.Element, allowed ...string) *Problem {
	for _, a := range el.Attr {
		if !contains(allowed, a.Key) {
			return problem(http.StatusBadRequest, "attribute %q is not allowed on <%s>", a.Key, el.Tag)
		}
	}
	return nil
}

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
