package schema

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse/api"
)

// xmllint is the path of xmllint; the test fails without it.
func xmllint(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("xmllint")
	if err != nil {
		t.Fatal("xmllint not found: install libxml2-utils (apt-get install libxml2-utils)")
	}
	return p
}

func TestSchemaParses(t *testing.T) {
	lint := xmllint(t)
	dir := t.TempDir()
	main, err := WriteDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Well-formed XML, and a schema xmllint compiles (with its import).
	out, err := exec.Command(lint, "--noout", main, filepath.Join(dir, "problem.xsd")).CombinedOutput()
	if err != nil {
		t.Fatalf("xmllint --noout: %v\n%s", err, out)
	}
	empty := filepath.Join(dir, "empty.xml")
	if err := os.WriteFile(empty, []byte("<accounts/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(lint, "--noout", "--schema", main, empty).CombinedOutput()
	if err != nil {
		t.Fatalf("schema does not compile: %v\n%s", err, out)
	}
}

func TestSamplesValidate(t *testing.T) {
	lint := xmllint(t)
	main, err := WriteDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	valid, _ := filepath.Glob("testdata/valid/*.xml")
	if len(valid) < 20 {
		t.Fatalf("only %d valid samples", len(valid))
	}
	out, err := exec.Command(lint, append([]string{"--noout", "--schema", main}, valid...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("valid samples do not validate: %v\n%s", err, out)
	}
	invalid, _ := filepath.Glob("testdata/invalid/*.xml")
	if len(invalid) == 0 {
		t.Fatal("no invalid samples")
	}
	for _, f := range invalid {
		out, err := exec.Command(lint, "--noout", "--schema", main, f).CombinedOutput()
		if err == nil {
			t.Errorf("%s validates, want a failure:\n%s", f, out)
			continue
		}
		if !strings.Contains(string(out), "fails to validate") {
			t.Errorf("%s: xmllint failed otherwise: %v\n%s", f, err, out)
		}
	}
}

func TestRoutes(t *testing.T) {
	routes := Routes()
	if len(routes) != 2 || routes[0].Path != Path || !routes[0].Public {
		t.Fatalf("routes: %+v", routes)
	}
	serve := func(rt api.Route, method string, h http.Header) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(method, rt.Path, nil)
		for k, v := range h {
			r.Header[k] = v
		}
		req := &api.Request{W: rec, R: r, Status: http.StatusOK}
		if err := rt.Handler(req); err != nil {
			t.Fatal(err)
		}
		if req.Status != rec.Code {
			t.Errorf("req.Status %d, wrote %d", req.Status, rec.Code)
		}
		return rec
	}
	want, _ := Bytes(Main)
	rec := serve(routes[0], http.MethodGet, nil)
	etag := rec.Header().Get("ETag")
	if rec.Code != http.StatusOK || rec.Body.String() != string(want) ||
		!strings.HasPrefix(rec.Header().Get("Content-Type"), "application/xml") ||
		!strings.Contains(rec.Header().Get("Cache-Control"), "public") || etag == "" {
		t.Fatalf("GET: %d %v", rec.Code, rec.Header())
	}
	if rec := serve(routes[0], http.MethodGet, http.Header{"If-None-Match": {etag}}); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("If-None-Match: %d, %d bytes", rec.Code, rec.Body.Len())
	}
	if rec := serve(routes[0], http.MethodHead, nil); rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("HEAD: %d, %d bytes", rec.Code, rec.Body.Len())
	}
	// The import resolves next to schema.xsd.
	if !strings.Contains(string(want), `schemaLocation="problem.xsd"`) || routes[1].Path != "/auth/v2/problem.xsd" {
		t.Errorf("the import and its route disagree: %s", routes[1].Path)
	}
	problem, _ := Bytes("problem.xsd")
	if rec := serve(routes[1], http.MethodGet, nil); rec.Body.String() != string(problem) || rec.Header().Get("ETag") == etag {
		t.Errorf("problem.xsd: %d %v", rec.Code, rec.Header())
	}
}
