package resources

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gatehouse/api"
	"gatehouse/authz"
)

// routeVarRE matches a gorilla/mux path variable such as {a} or {p}.
var routeVarRE = regexp.MustCompile(`\{[^}]*\}`)

// routePermRE is the permission form §5 demands of every /auth/v2 route:
// auth:<collection>[:<sub>]:<action>.
var routePermRE = regexp.MustCompile(`^auth:[a-z][a-z-]*(:[a-z][a-z-]*)?:(read|create|update|delete)$`)

// routeAction is the action a route's permission must end in, by method.
var routeAction = map[string]string{
	http.MethodGet:    "read",
	http.MethodPost:   "create",
	http.MethodPut:    "update",
	http.MethodDelete: "delete",
}

// routeActionExceptions are the routes whose permission names are pinned
// by the issue and the seed rather than derived from the method: the
// /check decision batch is a read though it is POSTed, and the seed's
// self-service permissions are auth:me:attributes:update (also for
// removing one's own attribute) and auth:me:password:create.
var routeActionExceptions = map[string]string{
	"POST /check":               "auth:check:read",
	"DELETE /me/attributes/{n}": "auth:me:attributes:update",
	"PUT /me/password":          "auth:me:password:create",
	// Finishing a passkey registration creates the passkey (issue 11).
	"PUT /me/passkeys/registration": "auth:me:passkeys:create",
}

func TestRoutePermissionsWellFormed(t *testing.T) {
	rs := routes()
	if len(rs) == 0 {
		t.Fatal("the route table is empty")
	}
	for _, rt := range rs {
		name := rt.Method + " " + rt.Path
		if rt.handle == nil {
			t.Errorf("%s has no handler", name)
		}
		if err := authz.Validate(rt.Permission); err != nil {
			t.Errorf("%s: permission %q is invalid: %v", name, rt.Permission, err)
		}
		if !routePermRE.MatchString(rt.Permission) {
			t.Errorf("%s: permission %q is not of the form auth:<collection>[:<sub>]:<action> with action read|create|update|delete", name, rt.Permission)
			continue
		}
		want, ok := routeAction[rt.Method]
		if !ok {
			t.Errorf("%s: unexpected method %q in the route table", name, rt.Method)
			continue
		}
		if exc, ok := routeActionExceptions[name]; ok {
			if rt.Permission != exc {
				t.Errorf("%s: permission %q, want the pinned %q", name, rt.Permission, exc)
			}
		} else if got := rt.Permission[strings.LastIndexByte(rt.Permission, ':')+1:]; got != want {
			t.Errorf("%s: permission %q ends in %q; a %s route needs a %q permission", name, rt.Permission, got, rt.Method, want)
		}
		if strings.Contains(rt.Permission, "*") {
			t.Errorf("%s: permission %q holds a wildcard", name, rt.Permission)
		}
		// "" is /auth/v2 itself, the root document.
		if rt.Path != "" && (!strings.HasPrefix(rt.Path, "/") || strings.HasPrefix(rt.Path, "/auth/v2")) {
			t.Errorf("%s: path must be relative to /auth/v2 and start with /", name)
		}
	}
	for name := range routeActionExceptions {
		found := false
		for _, rt := range rs {
			found = found || rt.Method+" "+rt.Path == name
		}
		if !found {
			t.Errorf("routeActionExceptions lists %s, which is not in the route table", name)
		}
	}
}

func TestRouteMethodPathUnique(t *testing.T) {
	seen := map[string]string{}
	for _, rt := range routes() {
		// {a} and {x} in the same place are the same pattern to the router.
		norm := rt.Method + " " + routeVarRE.ReplaceAllString(rt.Path, "{}")
		if prev, dup := seen[norm]; dup {
			t.Errorf("%s %s duplicates %s", rt.Method, rt.Path, prev)
			continue
		}
		seen[norm] = rt.Method + " " + rt.Path
	}
}

// routeConcrete fills a path pattern with values that match no literal
// sibling (so /accounts/{a} never lands on /accounts/rules).
func routeConcrete(pattern string) string {
	vals := map[string]string{"a": "acme", "u": "alice", "r": "printing", "g": "ops",
		"p": "print:jobs:read", "n": "color", "id": "client-1", "type": "saml"}
	return routeVarRE.ReplaceAllStringFunc(pattern, func(v string) string {
		if x, ok := vals[v[1:len(v)-1]]; ok {
			return x
		}
		return "x-" + v[1:len(v)-1]
	})
}

func TestRouteOptionsAllow(t *testing.T) {
	// OPTIONS and 405 are answered before authentication, so the server
	// needs no store for them.
	reg := api.NewRegistry()
	reg.Mount(New(Options{}).Routes()...)
	s := api.New(api.Options{}, reg)
	byPath := map[string]map[string]bool{}
	var paths []string
	for _, r := range reg.Routes() {
		if byPath[r.Path] == nil {
			byPath[r.Path] = map[string]bool{}
			paths = append(paths, r.Path)
		}
		byPath[r.Path][r.Method] = true
	}
	for _, p := range paths {
		want := map[string]bool{http.MethodOptions: true}
		for m := range byPath[p] {
			want[m] = true
		}
		if want[http.MethodGet] {
			want[http.MethodHead] = true
		}
		url := routeConcrete(p)

		req := httptest.NewRequest(http.MethodOptions, url, nil)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent {
			t.Errorf("OPTIONS %s (pattern %s): status %d, want 204; body %s", url, p, rec.Code, rec.Body.String())
			continue
		}
		allow := rec.Header().Get("Allow")
		got := map[string]bool{}
		for _, m := range strings.Split(allow, ",") {
			m = strings.TrimSpace(m)
			if got[m] {
				t.Errorf("OPTIONS %s: Allow %q lists %s twice", url, allow, m)
			}
			got[m] = true
		}
		if !routeSameSet(got, want) {
			t.Errorf("OPTIONS %s (pattern %s): Allow %q, want exactly %s", url, p, allow, routeSetString(want))
		}

		// A method outside the set answers 405 with the same Allow.
		for _, m := range []string{http.MethodPatch, http.MethodPost, http.MethodPut, http.MethodDelete} {
			if want[m] {
				continue
			}
			req := httptest.NewRequest(m, url, nil)
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: status %d, want 405", m, url, rec.Code)
			} else if a := rec.Header().Get("Allow"); a != allow {
				t.Errorf("%s %s: 405 Allow %q, OPTIONS Allow %q", m, url, a, allow)
			}
			break
		}
	}
}

func routeSameSet(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func routeSetString(m map[string]bool) string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}
