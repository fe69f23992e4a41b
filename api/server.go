package api

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"gatehouse/audit"
	"gatehouse/authn"
	"gatehouse/authz"
	"gatehouse/storage"
)

// AuditRecorder takes audit entries that are not part of a change's own
// transaction (sign-ins, refusals); it must never block (audit.Queue).
type AuditRecorder interface {
	Record(e storage.AuditEntry)
}

// Options are the pipeline's dependencies.
type Options struct {
	Store         *storage.Store
	Authority     *authz.Authority
	Authenticator authn.Authenticator
	// BasicAuth says whether HTTP Basic is offered (the 401 challenge).
	BasicAuth      bool
	TrustedProxies []netip.Prefix
	Audit          AuditRecorder
	Logger         *slog.Logger
	Now            func() time.Time
	Registry       *prometheus.Registry
	// HTML renders documents and problems as pages for browsers that
	// prefer HTML (package console); nil: XML only.
	HTML Pages
	// SignInPath is where a browser's GET without credentials is sent
	// (303) to sign in, with the page as query parameter return; "":
	// such a GET answers 401 like any other request.
	SignInPath string
}

// Server serves every registered route through one pipeline, plus the
// operational endpoints /healthz, /readyz and /metrics.
type Server struct {
	Options
	router *mux.Router
	table  *http.ServeMux // the registered routes
	roots  []string       // the path roots they live under ("/auth/", …)
	// first holds the routes that would conflict in table because a
	// literal segment of theirs stands where another route has a
	// wildcard (frontLiteral); it is tried first for paths under
	// firstPrefixes.
	first         *http.ServeMux
	firstPrefixes []string
	requests      *prometheus.HistogramVec
	csrf          csrfCache // the CSRF server key, once read
}

// New builds the server from the registry.
func New(o Options, routes *Registry) *Server {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.Authority == nil {
		o.Authority = &authz.Authority{}
	}
	s := &Server{Options: o, router: mux.NewRouter()}
	s.requests = newRequestMetrics(o.Registry) // metrics.go

	s.router.HandleFunc("/healthz", s.healthz)
	s.router.HandleFunc("/readyz", s.readyz)
	s.router.Handle("/metrics", promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{}))
	// gorilla/mux routes the server; the registered routes are dispatched
	// by net/http's ServeMux, whose segment tree finds a route in a few
	// steps (gorilla tries each route's regexp in turn, which measured
	// 39% of a permission check's CPU).
	table := http.NewServeMux()
	roots := map[string]bool{}
	eps := routes.endpoints(s)
	var paths []string
	for _, ep := range eps {
		paths = append(paths, ep.path)
	}
	for _, ep := range eps {
		if prefix, ok := frontLiteral(ep.path, paths); ok {
			// ServeMux refuses two patterns neither of which is more
			// specific (/accounts/rules/{r} beside /accounts/{a}/roles):
			// the one whose literal comes first is served from a table
			// of its own, tried first for paths under its literal prefix.
			if s.first == nil {
				s.first = http.NewServeMux()
			}
			s.first.Handle(ep.path, ep)
			s.firstPrefixes = append(s.firstPrefixes, prefix)
			continue
		}
		table.Handle(ep.path, ep)
		if i := strings.IndexByte(ep.path[1:], '/'); i > 0 {
			roots[ep.path[:i+2]] = true // "/auth/", "/oauth2/", …
		} else {
			roots[ep.path] = true
		}
	}
	notFound := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.logged(w, r, Unmatched, slog.LevelInfo, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.writeProblem(w, r, Problemf(http.StatusNotFound, "no resource at %s", r.URL.Path))
		}))
	})
	for root := range roots {
		if strings.HasSuffix(root, "/") {
			table.Handle(root, notFound)
		}
		s.router.PathPrefix(root).Handler(table)
		s.roots = append(s.roots, root)
	}
	s.table = table
	s.router.NotFoundHandler = notFound
	return s
}

// ServeHTTP serves every endpoint. A path under a registered root goes
// straight to the route table (gorilla/mux would copy the request twice
// to attach its variables, which the table does not use); the rest
// (/healthz, /readyz, /metrics, unknown paths) goes through gorilla.
// Every response carries X-Request-Id (setRequestID), and every request
// leaves one access line (accesslog.go): routes log their own, with
// their pattern; unknown paths as Unmatched.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setRequestID(w, r)
	p := r.URL.Path
	for _, prefix := range s.firstPrefixes {
		if strings.HasPrefix(p, prefix) {
			if _, pattern := s.first.Handler(r); pattern != "" {
				s.first.ServeHTTP(w, r) // sets the path values Handler does not
				return
			}
		}
	}
	for _, root := range s.roots {
		if p == root || strings.HasSuffix(root, "/") && strings.HasPrefix(p, root) {
			s.table.ServeHTTP(w, r)
			return
		}
	}
	if route := opsRoute(p); route != "" {
		s.logged(w, r, route, slog.LevelDebug, s.router)
		return
	}
	s.router.ServeHTTP(w, r) // the not-found handler logs
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok\n")
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !s.Store.Ready() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "not ready: the storage cache is not in step with etcd\n")
		return
	}
	if err := s.Store.Ping(r.Context()); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "not ready: etcd does not answer\n")
		return
	}
	_, _ = io.WriteString(w, "ready\n")
}

// Request is one request on its way through the pipeline.
type Request struct {
	W         http.ResponseWriter
	R         *http.Request
	Route     *Route
	Principal authn.Principal
	Vars      Vars
	// Status is the status the handler wrote, for metrics and the audit
	// of refusals; handlers that write set it.
	Status int
	Server *Server
	vars   [4]Var // Vars' storage for most routes
	// aw counts what is written for the access log (W is &aw).
	aw accessWriter
	// endpoint is the path's routes by method (Permitted).
	endpoint *endpoint
}

// RequestID is the request's id (X-Request-Id), as set on its response;
// a request with a context of its own (a write) also carries it in
// RequestID(ctx). It is a method, not a field, to keep Request in its
// allocation size class.
func (req *Request) RequestID() string { return ResponseRequestID(req.W) }

// Var is one variable of a route's path pattern and its value.
type Var struct{ Name, Value string }

// Vars are a request's path variables, in the pattern's order. A route
// has a handful, so a slice searched in order beats a map (and costs no
// allocation of its own).
type Vars []Var

// Get is the value of variable name, "" when the route has none.
func (vs Vars) Get(name string) string {
	x, _ := vs.Lookup(name)
	return x
}

// Set gives variable name the value, adding it if the route has none.
func (vs *Vars) Set(name, value string) {
	for i := range *vs {
		if (*vs)[i].Name == name {
			(*vs)[i].Value = value
			return
		}
	}
	*vs = append(*vs, Var{Name: name, Value: value})
}

// Lookup is the value of variable name and whether the route has it.
func (vs Vars) Lookup(name string) (string, bool) {
	for _, v := range vs {
		if v.Name == name {
			return v.Value, true
		}
	}
	return "", false
}

func (ep *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	req := &Request{R: r, Status: http.StatusOK, Server: ep.s, endpoint: ep}
	req.aw.ResponseWriter = w
	req.W = &req.aw
	if len(ep.vars) <= len(req.vars) {
		req.Vars = req.vars[:0]
	}
	for _, v := range ep.vars {
		req.Vars = append(req.Vars, Var{Name: v, Value: r.PathValue(v)})
	}
	if err := ep.serve(req); err != nil {
		p := ProblemFor(err, ep.s.Logger, r)
		req.Status = p.Status
		if p.Status == http.StatusForbidden && req.Route != nil {
			ep.s.auditDenied(req)
		}
		ep.s.writeProblem(req.W, r, p)
	}
	ep.observer(r.Method, req.Status).Observe(time.Since(start).Seconds())
	ep.s.logAccess(r.Context(), slog.LevelInfo, r, ep.path, &req.aw, start, req.Principal.Account, req.Principal.User, req.RequestID())
}

// serve runs the pipeline in its fixed order: 405/OPTIONS by the table →
// authenticate (401/429) → tenancy (a foreign account is 404, whatever
// the caller's permissions) → the route's permission (403) → the handler
// (which adds escalation checks, 403, inside its write).
func (ep *endpoint) serve(req *Request) error {
	r := req.R
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	if method == http.MethodOptions {
		req.W.Header().Set("Allow", ep.allow)
		req.Status = http.StatusNoContent
		req.W.WriteHeader(http.StatusNoContent)
		return nil
	}
	rt := ep.methods[method]
	if rt == nil {
		return &Problem{Status: http.StatusMethodNotAllowed,
			Detail: r.Method + " is not allowed on " + r.URL.Path + "; allowed: " + ep.allow,
			Header: http.Header{"Allow": {ep.allow}}}
	}
	req.Route = rt
	if rt.Public {
		return rt.Handler(req)
	}
	s := ep.s
	if err := s.authenticate(req); err != nil {
		return err
	}
	var decision authz.Decision
	err := s.Store.Read(r.Context(), 0, func(v storage.View) error {
		if err := req.tenancy(v); err != nil {
			return err
		}
		// Tenancy is settled: the permission is decided in the caller's
		// own account.
		decision = s.Authority.Decide(v, req.Principal, rt.Permission, "")
		return nil
	})
	if err != nil {
		return err
	}
	switch decision.Denial {
	case authz.Granted:
	case authz.NoUser:
		return s.unauthorized("the signed-in user no longer exists")
	case authz.Disabled:
		return s.unauthorized("the signed-in user is disabled")
	default:
		return Problemf(http.StatusForbidden, "%s lacks permission %s for %s %s", req.Principal.Name(), rt.Permission, r.Method, r.URL.Path)
	}
	ctx := r.Context()
	if action := audit.ActionOf(rt.Method, rt.Permission); action != "" {
		// The write's storage.Update commits this entry with the change.
		ctx = storage.WithAudit(WithRequestID(ctx, req.RequestID()), s.auditEntry(req, action))
	}
	if _, scoped := req.Vars.Lookup("a"); scoped && isWrite(rt) {
		// Tenancy holds on the revision the write commits on.
		ctx = storage.WithCheck(ctx, req.tenancy)
	}
	if ctx != r.Context() {
		// A read keeps the request as it came (a copy costs 250 bytes).
		req.R = r.WithContext(ctx)
	} else {
		req.R = r
	}
	return rt.Handler(req)
}

// tenancy answers 404 unless the caller may act on the account the path
// names (a route creating an account may name one that does not exist
// yet). A foreign account looks exactly like a missing one.
func (req *Request) tenancy(v storage.View) error {
	a, scoped := req.Vars.Lookup("a")
	if scoped && !authz.Visible(v, req.Principal, a) && !(req.Route.CreatesAccount && !v.AccountExists(a)) {
		return Problemf(http.StatusNotFound, "account %q not found", a)
	}
	return nil
}

func isWrite(rt *Route) bool {
	return rt.Method != http.MethodGet && !strings.HasSuffix(rt.Permission, ":read")
}

// ClientAddr is the connection's peer, or the first untrusted hop of
// X-Forwarded-For when the peer is a trusted proxy.
func (s *Server) ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(s.TrustedProxies) == 0 || !s.trusted(host) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		if h != "" && !s.trusted(h) {
			return h
		}
	}
	return host
}

func (s *Server) trusted(host string) bool {
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	for _, p := range s.TrustedProxies {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// frontLiteral reports whether pattern p must be served before the
// table: some other pattern q of the same length overlaps it (each
// segment equal or a wildcard on either side), neither is more specific
// than the other (ServeMux would refuse them together), and at the
// first segment where they differ p has the literal. It returns p's
// literal prefix, up to its first wildcard.
func frontLiteral(p string, all []string) (string, bool) {
	ps := strings.Split(p, "/")
	wild := func(seg string) bool { return strings.HasPrefix(seg, "{") }
	for _, q := range all {
		qs := strings.Split(q, "/")
		if q == p || len(qs) != len(ps) {
			continue
		}
		overlap, pLit, qLit, pFirst := true, false, false, false
		decided := false
		for i := range ps {
			pw, qw := wild(ps[i]), wild(qs[i])
			switch {
			case !pw && !qw && ps[i] != qs[i]:
				overlap = false
			case !pw && qw:
				pLit = true
				if !decided {
					pFirst, decided = true, true
				}
			case pw && !qw:
				qLit = true
				if !decided {
					decided = true
				}
			}
		}
		if overlap && pLit && qLit && pFirst {
			i := strings.IndexByte(p, '{')
			return p[:i], true
		}
	}
	return "", false
}
