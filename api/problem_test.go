package api

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/beevik/etree"
)

// etreeProblem is how problem documents were written before they were
// streamed: the reference the writer must match byte for byte.
func etreeProblem(p *Problem) []byte {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8" standalone="yes"`)
	root := doc.CreateElement("problem")
	root.CreateAttr("xmlns", "urn:ietf:rfc:7807")
	root.CreateElement("status").SetText(strconv.Itoa(p.Status))
	root.CreateElement("title").SetText(http.StatusText(p.Status))
	root.CreateElement("detail").SetText(p.Detail)
	doc.Indent(2)
	b, _ := doc.WriteToBytes()
	return b
}

// FuzzProblemDocument holds the streamed problem document to etree's
// bytes for any status and detail (quotes, markup, control characters,
// invalid UTF-8, characters XML does not allow).
func FuzzProblemDocument(f *testing.F) {
	f.Add(404, `account "acme" not found`)
	f.Add(400, "invalid permission \"a::b\": empty part 2 <&>'")
	f.Add(599, "")
	f.Add(429, "tab\tnewline\ncr\rnul\x00 bad \xff\xfe \uFFFE end")
	f.Fuzz(func(t *testing.T, status int, detail string) {
		p := &Problem{Status: status, Detail: detail}
		if status < 100 || status > 999 {
			return // WriteHeader refuses these; the documents would still match
		}
		want := etreeProblem(p)
		rec := httptest.NewRecorder()
		WriteProblem(rec, httptest.NewRequest("GET", "/", nil), p)
		if got := rec.Body.String(); got != string(want) {
			t.Fatalf("status %d detail %q:\ngot  %q\nwant %q", status, detail, got, want)
		}
		if rec.Header().Get("Content-Length") != strconv.Itoa(len(want)) {
			t.Fatalf("Content-Length %s for %d bytes", rec.Header().Get("Content-Length"), len(want))
		}
	})
}

func TestProblemHeadHasNoBody(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteProblem(rec, httptest.NewRequest("HEAD", "/", nil), &Problem{Status: 404, Detail: "x", Header: http.Header{"Allow": {"GET"}}})
	if rec.Body.Len() != 0 || rec.Code != 404 || rec.Header().Get("Allow") != "GET" || rec.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD: %d, %q, headers %v", rec.Code, rec.Body.String(), rec.Header())
	}
}
