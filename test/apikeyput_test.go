package test

// Concurrent changes of one API key (SPEC §3a): every PUT applies its
// fields to the record as its own transaction reads it, so concurrent
// PUTs keep both changes — or, under If-Match, one wins and the other is
// 412 — and a removed permission never comes back.

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"gatehouse/test/harness"
)

type keyDoc struct {
	Name        string `xml:"name"`
	Description string `xml:"description"`
	Perms       []struct {
		Text string `xml:",chardata"`
	} `xml:"permissions>permission"`
}

func (k keyDoc) permissions() []string {
	var out []string
	for _, p := range k.Perms {
		out = append(out, strings.TrimSpace(p.Text))
	}
	return out
}

func TestAPIKeyConcurrentPUT(t *testing.T) {
	s := harness.Start(t)
	s.Admin("POST", "/auth/v2/accounts", `<account><name>keys-acme</name></account>`).Must(t, http.StatusCreated)
	s.Admin("POST", "/auth/v2/accounts/keys-acme/roles", `<role><name>p</name><permissions><permission>print:jobs:read</permission><permission>print:jobs:create</permission></permissions></role>`).Must(t, http.StatusCreated)
	s.Admin("POST", "/auth/v2/accounts/keys-acme/users", `<user><name>kate</name></user>`).Must(t, http.StatusCreated)
	s.Admin("POST", "/auth/v2/accounts/keys-acme/users/kate/roles", `<role identifier="p"/>`).Must(t, http.StatusCreated)
	base := "/auth/v2/accounts/keys-acme/users/kate/api-keys"
	newKey := func() string {
		t.Helper()
		r := s.Admin("POST", base, `<api-key><name>k0</name><permissions><permission>print:jobs:read</permission><permission>print:jobs:create</permission></permissions></api-key>`).Must(t, http.StatusCreated)
		return r.Root().SelectAttrValue("identifier", "")
	}
	read := func(id string) keyDoc {
		t.Helper()
		var k keyDoc
		if err := xml.Unmarshal([]byte(s.Admin("GET", base+"/"+id+"?depth=3", "").Must(t, http.StatusOK).Body), &k); err != nil {
			t.Fatal(err)
		}
		return k
	}
	both := func(a, b func() int) (int, int) {
		var wg sync.WaitGroup
		var x, y int
		wg.Add(2)
		go func() { defer wg.Done(); x = a() }()
		go func() { defer wg.Done(); y = b() }()
		wg.Wait()
		return x, y
	}
	put := func(id, body string, h http.Header) func() int {
		return func() int {
			return s.Do(harness.Request{Method: "PUT", Path: base + "/" + id, User: `system\admin`, Pass: harness.AdminPassword, Body: body, Header: h}).Status
		}
	}

	for i := range 10 {
		id := newKey()
		name, desc := fmt.Sprintf("name-%d", i), fmt.Sprintf("desc-%d", i)
		x, y := both(
			put(id, `<api-key><name>`+name+`</name></api-key>`, nil),
			put(id, `<api-key><description>`+desc+`</description><permissions><permission>print:jobs:read</permission></permissions></api-key>`, nil))
		if x != http.StatusNoContent || y != http.StatusNoContent {
			t.Fatalf("round %d: statuses %d and %d, want 204 and 204", i, x, y)
		}
		k := read(id)
		if k.Name != name || k.Description != desc || !slices.Equal(k.permissions(), []string{"print:jobs:read"}) {
			t.Fatalf("round %d: key is %+v; want name %q, description %q and only print:jobs:read (both changes kept)", i, k, name, desc)
		}
	}

	// Under If-Match with the same ETag, one PUT wins and the other is 412.
	for i := range 5 {
		id := newKey()
		tag := s.Admin("GET", base+"/"+id, "").Must(t, http.StatusOK).Header.Get("ETag")
		h := http.Header{"If-Match": {tag}}
		x, y := both(
			put(id, `<api-key><name>first</name></api-key>`, h),
			put(id, `<api-key><name>second</name></api-key>`, h))
		statuses := []int{x, y}
		slices.Sort(statuses)
		if !slices.Equal(statuses, []int{http.StatusNoContent, http.StatusPreconditionFailed}) {
			t.Fatalf("round %d: statuses %v, want one 204 and one 412", i, statuses)
		}
		k := read(id)
		winner := "first"
		if y == http.StatusNoContent {
			winner = "second"
		}
		if k.Name != winner {
			t.Fatalf("round %d: name %q, want the winner's %q", i, k.Name, winner)
		}
	}
}
