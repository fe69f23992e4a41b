package api

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/authz"
)

// Route is one row of the route table: method, path pattern (absolute,
// net/http ServeMux syntax: "/auth/v2/accounts/{a}"), the permission a
// caller needs, a summary for documentation, and the handler.
type Route struct {
	Method     string
	Path       string
	Permission string
	Summary    string
	Handler    Handler
	// Public routes need no authentication and no permission (discovery
	// documents, key sets, sign-in pages); Permission stays empty.
	Public bool
	// CreatesAccount marks a PUT whose path's {a} may name an account that
	// does not exist yet (it creates it): the pipeline's tenancy check
	// then passes a missing account, and the handler checks the new
	// account's parent instead. An existing foreign account is still 404.
	CreatesAccount bool
	// AllowExpiredPassword admits a principal whose password has expired
	// (only the route that changes it).
	AllowExpiredPassword bool
	// FormCSRF marks a write whose handler checks a CSRF token of its own
	// form (the self-service pages): with the console's session cookie it
	// needs no X-Csrf-Token header.
	FormCSRF bool
	// CreatedTarget, for a POST that creates an item, returns the function
	// that names the new item (for the audit log) from the keys its write
	// creates; nil: the entry names the request path.
	CreatedTarget func(req *Request) func(created []string) string
}

// Handler serves one request that has passed authentication, tenancy and
// the route's permission. It returns an error (a *Problem, or a storage
// sentinel) instead of writing one; the pipeline maps it.
type Handler func(req *Request) error

// RouteInfo is a route without its handler, for documentation and the
// permission catalogue.
type RouteInfo struct{ Method, Path, Permission, Summary string }

// Registry collects the routes that packages contribute (resources' /auth/v2
// table now; oauth's /oauth2 and /.well-known and federation's /saml
// later); instance assembles it and New serves it. The README's route
// table and the auth: permission catalogue are generated from it.
type Registry struct {
	routes []*Route
	seen   map[string]bool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{seen: map[string]bool{}} }

// Handle adds one route. A route without a valid permission (unless
// Public), or a second route for the same method and path, is a
// programming error and panics: authorization fails closed at start-up.
func (g *Registry) Handle(rt Route) {
	if !rt.Public && (rt.Permission == "" || authz.Validate(rt.Permission) != nil) {
		panic("api: route " + rt.Method + " " + rt.Path + " has no valid permission")
	}
	if rt.Public && rt.Permission != "" {
		panic("api: public route " + rt.Method + " " + rt.Path + " names a permission")
	}
	if rt.Handler == nil || !strings.HasPrefix(rt.Path, "/") {
		panic("api: route " + rt.Method + " " + rt.Path + " has no handler or a relative path")
	}
	k := rt.Method + " " + rt.Path
	if g.seen[k] {
		panic("api: route " + k + " registered twice")
	}
	g.seen[k] = true
	r := rt
	g.routes = append(g.routes, &r)
}

// Mount adds a package's routes.
func (g *Registry) Mount(routes ...Route) {
	for _, rt := range routes {
		g.Handle(rt)
	}
}

// Routes lists the registered routes in registration order.
func (g *Registry) Routes() []RouteInfo {
	out := make([]RouteInfo, 0, len(g.routes))
	for _, r := range g.routes {
		out = append(out, RouteInfo{r.Method, r.Path, r.Permission, r.Summary})
	}
	return out
}

// Markdown is the route table as the README shows it.
func (g *Registry) Markdown() string {
	var b strings.Builder
	b.WriteString("| method | path | permission | what it does |\n| --- | --- | --- | --- |\n")
	for _, r := range g.Routes() {
		perm := "`" + r.Permission + "`"
		if r.Permission == "" {
			perm = "(public)"
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", r.Method, r.Path, perm, r.Summary)
	}
	return b.String()
}

// endpoint is one path pattern with its routes by method.
type endpoint struct {
	s       *Server
	path    string
	vars    []string // names of the path's variables
	methods map[string]*Route
	allow   string
	// observers memoises the request histogram's child per method and
	// status: WithLabelValues hashes its labels on every call.
	observers sync.Map // observerKey → prometheus.Observer
}

type observerKey struct {
	method string
	status int
}

// observer is the request histogram's child for method and status.
func (ep *endpoint) observer(method string, status int) prometheus.Observer {
	k := observerKey{method, status}
	if o, ok := ep.observers.Load(k); ok {
		return o.(prometheus.Observer)
	}
	o := ep.s.requests.WithLabelValues(ep.path, method, strconv.Itoa(status))
	ep.observers.Store(observerKey{strings.Clone(method), status}, o)
	return o
}

func (g *Registry) endpoints(s *Server) []*endpoint {
	var out []*endpoint
	byPath := map[string]*endpoint{}
	for _, rt := range g.routes {
		ep := byPath[rt.Path]
		if ep == nil {
			ep = &endpoint{s: s, path: rt.Path, methods: map[string]*Route{}}
			for _, seg := range strings.Split(rt.Path, "/") {
				if strings.HasPrefix(seg, "{") {
					ep.vars = append(ep.vars, strings.Trim(seg, "{}."))
				}
			}
			byPath[rt.Path] = ep
			out = append(out, ep)
		}
		ep.methods[rt.Method] = rt
	}
	for _, ep := range out {
		var m []string
		for k := range ep.methods {
			m = append(m, k)
		}
		if ep.methods[http.MethodGet] != nil {
			m = append(m, http.MethodHead)
		}
		m = append(m, http.MethodOptions)
		sort.Strings(m)
		ep.allow = strings.Join(m, ", ")
	}
	return out
}
