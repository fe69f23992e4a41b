package resources

import "net/http"

// The root document (SPEC §3c) is where a console starts: GET /auth/v2
// answers
//
//	<auth href="/auth/v2"><accounts href="/auth/v2/accounts"/>…</auth>
//
// with one child per entry point, each present only when the caller may
// follow it: the child's permission is the one the target's route needs
// (rootLinks), decided by the same authority, on the same view, as the
// api pipeline decides a route (the principal's user, the account's
// ceiling, an API key's or token's scopes). The schema and the OpenID
// discovery document are public and always linked. The root itself
// needs a signed-in principal like every /auth/v2 document, and the
// permission auth:me:read (the starter role "users" holds it; the
// registry has no route without a permission). Its ETag folds in the
// links shown, so it changes when what the caller may follow changes.

// rootLink is one child of the root document.
type rootLink struct {
	element, href string
	// permission is what the target's route needs; "" for public targets.
	permission string
}

// rootLinks are the root document's children in document order.
var rootLinks = []rootLink{
	{"accounts", "/auth/v2/accounts", "auth:accounts:read"},
	{"me", "/auth/v2/me", "auth:me:read"},
	{"check", "/auth/v2/check", "auth:check:read"},
	{"permissions", "/auth/v2/permissions", "auth:permissions:read"},
	{"audit", "/auth/v2/audit", "auth:audit:read"},
	{"federated", "/auth/v2/federated", "auth:federated:read"},
	{"schema", "/auth/v2/schema.xsd", ""},
	{"openid-configuration", "/.well-known/openid-configuration", ""},
}

// getRoot serves GET /auth/v2.
var getRoot = get(func(c *call, v *nb) (Node, error) {
	return &Entity{Element: "auth", Href: "/auth/v2", Fields: func(f []Field) []Field {
		for _, l := range rootLinks {
			if l.permission != "" && !c.s.Authority.Decide(v.raw, c.p, l.permission, "").Granted() {
				continue
			}
			v.Mix(l.element) // the ETag changes with the links shown
			f = append(f, Field{Node: &Entity{Element: l.element, Href: l.href}})
		}
		return f
	}}, nil
})

// RootRedirect serves, in front of next, the two paths that lead to the
// root document: GET (or HEAD) of "/" and of "/auth/v2/" answer 308
// Permanent Redirect to /auth/v2, keeping the query. 308 rather than 301
// so that a client never turns the request into another method; the
// target needs credentials as usual. Everything else goes to next.
func RootRedirect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.URL.Path == "/" || r.URL.Path == "/auth/v2/") && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			target := "/auth/v2"
			if r.URL.RawQuery != "" {
				target += "?" + r.URL.RawQuery
			}
			w.Header().Set("Location", target)
			w.WriteHeader(http.StatusPermanentRedirect)
			return
		}
		next.ServeHTTP(w, r)
	})
}
