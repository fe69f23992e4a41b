package harness

import (
	"fmt"
	"strings"
	"testing"
)

// recorder is a testing.TB that records errors instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestXMLValidation(t *testing.T) {
	c := &xmlDocs{seen: map[[32]byte]bool{}}
	c.add("response to GET /auth/v2/accounts (200)", []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<accounts count="1" href="/auth/v2/accounts">
  <account identifier="system" href="/auth/v2/accounts/system"/>
</accounts>
`))
	c.add("response to GET /auth/v2/nothing (404)", []byte(`<problem xmlns="urn:ietf:rfc:7807"><status>404</status><title>Not Found</title><detail>no resource</detail></problem>`))
	c.add("request body of POST /auth/v2/accounts/acme/users (accepted with 201)", []byte(`<user><name>alice</name><colour>blue</colour></user>`))
	// A repeated document is collected once.
	c.add("again", []byte(`<user><name>alice</name><colour>blue</colour></user>`))
	if len(c.docs) != 3 {
		t.Fatalf("%d documents collected, want 3", len(c.docs))
	}
	r := &recorder{TB: t}
	c.validate(r)
	if len(r.errs) != 1 {
		t.Fatalf("%d errors, want 1: %q", len(r.errs), r.errs)
	}
	for _, want := range []string{"POST /auth/v2/accounts/acme/users", "colour", "This element is not expected", "<user><name>alice</name>"} {
		if !strings.Contains(r.errs[0], want) {
			t.Errorf("the error does not show %q:\n%s", want, r.errs[0])
		}
	}
}

func TestIsXML(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/xml; charset=utf-8":         true,
		"application/problem+xml; charset=utf-8": true,
		"text/xml":                               true,
		"text/html; charset=utf-8":               false,
		"application/json":                       false,
		"":                                       false,
	} {
		if isXML(ct) != want {
			t.Errorf("isXML(%q) = %v", ct, !want)
		}
	}
}
