package test

// The XML Schema (SPEC §3c): served at /auth/v2/schema.xsd, public and
// cacheable, the same bytes as the embedded schema, with problem.xsd
// beside it. Every other test's documents are validated against it by
// the harness (test/harness/xmlcheck.go).

import (
	"net/http"
	"strings"
	"testing"

	"gatehouse/schema"
	"gatehouse/test/harness"
)

func TestSchemaServed(t *testing.T) {
	s := harness.Start(t)
	for _, f := range []struct{ path, file string }{
		{"/auth/v2/schema.xsd", schema.Main},
		{"/auth/v2/problem.xsd", "problem.xsd"},
	} {
		want, err := schema.Bytes(f.file)
		if err != nil {
			t.Fatal(err)
		}
		// Public: no credentials needed.
		r := s.Do(harness.Request{Method: "GET", Path: f.path}).Must(t, http.StatusOK)
		if r.Body != string(want) {
			t.Errorf("GET %s: the body differs from the embedded %s", f.path, f.file)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/xml") {
			t.Errorf("GET %s: Content-Type %q", f.path, ct)
		}
		if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "public") || !strings.Contains(cc, "max-age=") {
			t.Errorf("GET %s: Cache-Control %q", f.path, cc)
		}
		etag := r.Header.Get("ETag")
		if etag == "" {
			t.Fatalf("GET %s: no ETag", f.path)
		}
		again := s.Do(harness.Request{Method: "GET", Path: f.path, Header: http.Header{"If-None-Match": {etag}}})
		if again.Status != http.StatusNotModified || again.Body != "" {
			t.Errorf("GET %s with If-None-Match: %d, %d bytes", f.path, again.Status, len(again.Body))
		}
		head := s.Do(harness.Request{Method: "HEAD", Path: f.path})
		if head.Status != http.StatusOK || head.Body != "" || head.Header.Get("ETag") != etag {
			t.Errorf("HEAD %s: %d, %d bytes, ETag %q", f.path, head.Status, len(head.Body), head.Header.Get("ETag"))
		}
	}
	// The main schema imports the problem schema by the name it is
	// served under, beside it.
	main, _ := schema.Bytes(schema.Main)
	if !strings.Contains(string(main), `schemaLocation="problem.xsd"`) {
		t.Error("schema.xsd does not import problem.xsd from beside it")
	}
	// Writes are refused: the schema changes only with the binary.
	if r := s.Admin("PUT", "/auth/v2/schema.xsd", "<x/>"); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("PUT schema.xsd: %d, want 405", r.Status)
	}
}
