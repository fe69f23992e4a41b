package resources

// Fuzz targets for the strict body decoder. Seed corpora live in
// testdata/fuzz/FuzzParseXML and testdata/fuzz/FuzzDecodeRefList (valid
// bodies, GET documents, DOCTYPE, entities, namespaces, deep nesting,
// truncated input). Run with
//
//	go test ./resources/ -run '^$' -fuzz '^FuzzParseXML$' -fuzztime 15s -fuzzminimizetime 1s
//
// (-fuzzminimizetime keeps a short run fuzzing: minimising each new
// interesting input takes up to 60 s by default, during which the status
// line shows 0 execs/s.)

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/beevik/etree"
)

// fzCheckProblem fails unless a refusal is a 400 with a detail.
func fzCheckProblem(t *testing.T, what string, p *Problem) {
	t.Helper()
	if p.Status != http.StatusBadRequest || p.Detail == "" {
		t.Fatalf("%s refused with status %d and detail %q; want 400 with a detail", what, p.Status, p.Detail)
	}
}

// fzTopLevel checks what may stand beside the root element of an
// accepted document: the XML declaration first, comments, white space.
func fzTopLevel(t *testing.T, el *etree.Element) {
	t.Helper()
	doc := el.Parent()
	if doc == nil {
		t.Fatalf("the root element has no document")
	}
	roots := 0
	for i, tok := range doc.Child {
		switch x := tok.(type) {
		case *etree.Element:
			roots++
		case *etree.Directive:
			t.Fatalf("accepted a document with the declaration <!%s>", x.Data)
		case *etree.ProcInst:
			if x.Target != "xml" || i != 0 {
				t.Fatalf("accepted a document with the processing instruction <?%s?> at %d", x.Target, i)
			}
		case *etree.CharData:
			if len(bytes.TrimSpace([]byte(x.Data))) != 0 {
				t.Fatalf("accepted text %q outside the root", x.Data)
			}
		}
	}
	if roots != 1 {
		t.Fatalf("accepted a document with %d root elements", roots)
	}
}

// fzNoNamespaces checks that no element or attribute of an accepted
// document is in a namespace.
func fzNoNamespaces(t *testing.T, el *etree.Element) {
	t.Helper()
	if el.Space != "" {
		t.Fatalf("accepted the namespaced element <%s>", el.FullTag())
	}
	for _, a := range el.Attr {
		if a.Space != "" || a.Key == "xmlns" {
			t.Fatalf("accepted the attribute %s on <%s>", a.FullKey(), el.Tag)
		}
	}
	for _, c := range el.ChildElements() {
		fzNoNamespaces(t, c)
	}
}

func FuzzParseXML(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		el, p := parseXML(b, "user")
		if p != nil {
			if el != nil {
				t.Fatalf("refused (%s) but returned a root element", p.Detail)
			}
			fzCheckProblem(t, "parseXML", p)
			return
		}
		if el == nil || el.Tag != "user" || el.Space != "" {
			t.Fatalf("accepted with root %v, want <user>", el)
		}
		if bytes.Contains(b, []byte("<!DOCTYPE")) || bytes.Contains(b, []byte("<!ENTITY")) {
			t.Fatalf("accepted a body with a DOCTYPE or entity declaration: %q", b)
		}
		fzTopLevel(t, el)
		fzNoNamespaces(t, el)

		f, p := decodeEntity(el, userKind.schema)
		if p != nil {
			fzCheckProblem(t, "decodeEntity", p)
			return
		}
		// Only the schema's writable fields come out, each once, and
		// each was a child of the root.
		for name, v := range f.Text {
			if !contains(userKind.schema.Text, name) {
				t.Fatalf("decodeEntity returned the field %q, which the user schema does not have", name)
			}
			if len(el.SelectElements(name)) != 1 {
				t.Fatalf("decodeEntity returned %q=%q but <user> has %d <%s> children", name, v, len(el.SelectElements(name)), name)
			}
		}
		if len(f.Lists) != 0 {
			t.Fatalf("decodeEntity returned lists %v for a user", f.Lists)
		}
		for _, c := range el.ChildElements() {
			if !contains(userKind.schema.Text, c.Tag) && !contains(userKind.schema.Ignored, c.Tag) {
				t.Fatalf("decodeEntity accepted the unknown field <%s>", c.Tag)
			}
		}
	})
}

func FuzzDecodeRefList(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		el, p := parseXML(b, "roles")
		if p != nil {
			fzCheckProblem(t, "parseXML", p)
			return
		}
		ids, p := decodeRefList(el, "role")
		if p != nil {
			if ids != nil {
				t.Fatalf("refused (%s) but returned %v", p.Detail, ids)
			}
			fzCheckProblem(t, "decodeRefList", p)
			return
		}
		if ids == nil {
			t.Fatalf("accepted with a nil list")
		}
		items := el.ChildElements()
		if len(ids) != len(items) {
			t.Fatalf("%d identifiers from %d items", len(ids), len(items))
		}
		for i, c := range items {
			if c.Tag != "role" || c.Space != "" {
				t.Fatalf("accepted the item <%s> in <roles>", c.FullTag())
			}
			if ids[i] == "" || ids[i] != c.SelectAttrValue("identifier", "") {
				t.Fatalf("item %d: identifier %q, decoded %q", i, c.SelectAttrValue("identifier", ""), ids[i])
			}
			if len(c.ChildElements()) != 0 {
				t.Fatalf("accepted the item %d with children", i)
			}
		}
		for _, a := range el.Attr {
			if a.Key != "count" && a.Key != "href" {
				t.Fatalf("accepted the attribute %s on <roles>", a.FullKey())
			}
		}
	})
}
