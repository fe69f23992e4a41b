package resources

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"gatehouse/authn"
	"gatehouse/authz"
	"gatehouse/catalog"
	"gatehouse/storage"
)

// Options are the server's dependencies and settings.
type Options struct {
	Store             *storage.Store
	Limits            Limits
	BasicAuth         bool
	Credentials       *authn.CredentialCache // nil: every request pays argon2id
	Throttle          *authn.Throttle
	MinPasswordLength int
	HashParams        authn.Params
	TrustedProxies    []netip.Prefix
	Logger            *slog.Logger
	Now               func() time.Time
	Random            io.Reader // nil: crypto/rand
	Registry          *prometheus.Registry
	Version           string
	// Catalog lists known permissions (NewCatalog); nil: the auth: set
	// and the shipped module catalogues.
	Catalog *catalog.Catalog
}

// Server serves /auth/v2 and the operational endpoints.
type Server struct {
	Options
	holdings authz.Holdings
	keyUse   sync.Map // API key id → time.Time of its last use here
	router   *mux.Router
	requests *prometheus.HistogramVec
}

// New builds the server and its router from the route table.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Limits == (Limits{}) {
		o.Limits = Limits{MaxDepth: 5, DefaultPageSize: 50, MaxPageSize: 1000}
	}
	if o.HashParams == (authn.Params{}) {
		o.HashParams = authn.DefaultParams
	}
	if o.MinPasswordLength == 0 {
		o.MinPasswordLength = authn.DefaultMinPasswordLength
	}
	if o.Throttle == nil {
		o.Throttle = authn.NewThrottle(authn.ThrottleLimits{}, o.Now)
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.Catalog == nil {
		cat, err := NewCatalog(nil)
		if err != nil {
			panic("resources: the shipped catalogues do not load: " + err.Error())
		}
		o.Catalog = cat
	}
	s := &Server{Options: o, router: mux.NewRouter()}
	s.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "gatehouse_http_request_duration_seconds",
		Help:    "Duration of /auth/v2 requests by route pattern, method and status.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5},
	}, []string{"route", "method", "status"})
	o.Registry.MustRegister(s.requests)

	s.router.HandleFunc("/healthz", s.healthz)
	s.router.HandleFunc("/readyz", s.readyz)
	s.router.Handle("/metrics", promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{}))
	// gorilla/mux routes the server; inside /auth/v2 the route table is
	// dispatched by net/http's ServeMux, whose segment tree finds a route
	// in a few steps (gorilla tries each route's regexp in turn, which
	// measured 39% of a permission check's CPU).
	api := http.NewServeMux()
	for _, ep := range endpoints(s, routes()) {
		api.Handle("/auth/v2"+ep.path, ep)
	}
	notFound := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, problem(http.StatusNotFound, "no resource at %s", r.URL.Path))
	})
	api.Handle("/auth/v2/", notFound)
	s.router.PathPrefix("/auth/v2/").Handler(api)
	s.router.NotFoundHandler = notFound
	return s
}

// ServeHTTP serves every endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

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

// endpoint is one path pattern with its routes by method.
type endpoint struct {
	s       *Server
	path    string
	vars    []string // names of the path's variables
	methods map[string]*Route
	allow   string
}

func endpoints(s *Server, routes []*Route) []*endpoint {
	var out []*endpoint
	byPath := map[string]*endpoint{}
	for _, rt := range routes {
		if rt.Permission == "" || authz.Validate(rt.Permission) != nil {
			// Authorization fails closed: a route without a valid
			// permission is a programming error caught at start-up.
			panic("resources: route " + rt.Method + " " + rt.Path + " has no valid permission")
		}
		ep := byPath[rt.Path]
		if ep == nil {
			ep = &endpoint{s: s, path: rt.Path, methods: map[string]*Route{}}
			for _, seg := range strings.Split(rt.Path, "/") {
				if strings.HasPrefix(seg, "{") {
					ep.vars = append(ep.vars, strings.Trim(seg, "{}"))
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

// call is one request on its way through a handler.
type call struct {
	s          *Server
	w          http.ResponseWriter
	r          *http.Request
	route      *Route
	p          principal
	vars       map[string]string
	q          query
	depthGiven bool
	status     int
}

func (ep *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	vars := make(map[string]string, len(ep.vars))
	for _, v := range ep.vars {
		vars[v] = r.PathValue(v)
	}
	c := &call{s: ep.s, w: w, r: r, vars: vars, status: http.StatusOK}
	err := ep.serve(c)
	if err != nil {
		p := problemFor(err, c.s.Logger, r)
		c.status = p.Status
		if p.Status == http.StatusForbidden && c.route != nil {
			c.auditDenied()
		}
		writeProblem(w, r, p)
	}
	ep.s.requests.WithLabelValues(ep.path, r.Method, strconv.Itoa(c.status)).Observe(time.Since(start).Seconds())
}

func (ep *endpoint) serve(c *call) error {
	r := c.r
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	if method == http.MethodOptions {
		c.w.Header().Set("Allow", ep.allow)
		c.status = http.StatusNoContent
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	rt := ep.methods[method]
	if rt == nil {
		return &Problem{Status: http.StatusMethodNotAllowed,
			Detail: r.Method + " is not allowed on " + r.URL.Path + "; allowed: " + ep.allow,
			Header: http.Header{"Allow": {ep.allow}}}
	}
	c.route = rt
	if err := c.s.authenticate(c); err != nil {
		c.s.auditAuthFailure(r, err)
		return err
	}
	q, p := parseQuery(r.URL.RawQuery, c.s.Limits)
	if p != nil {
		return p
	}
	c.q = q
	c.depthGiven = r.URL.Query().Has("depth")
	if action := auditAction(rt); action != "" {
		// Audit: the write's storage.Update commits this entry with the
		// change (see audit.go).
		c.r = r.WithContext(storage.WithAudit(r.Context(), c.auditEntry(action, auditSuccess)))
	}
	if err := c.require(rt.Permission); err != nil {
		return err
	}
	return rt.handle(c)
}

// require answers 403 unless the caller holds perm.
func (c *call) require(perm string) error {
	ok, err := c.holds(perm)
	if err != nil {
		return err
	}
	if !ok {
		return problem(http.StatusForbidden, "%s\\%s lacks permission %s for %s %s", c.p.Account, c.p.User, perm, c.r.Method, c.r.URL.Path)
	}
	return nil
}

// holds reports whether the caller holds perm.
func (c *call) holds(perm string) (bool, error) {
	var ok bool
	err := c.s.Store.Read(c.r.Context(), 0, func(v storage.View) error {
		if !v.Has(storage.ItemKey(c.p.Account, storage.KindUser, c.p.User)) {
			return problem(http.StatusUnauthorized, "the signed-in user no longer exists")
		}
		_, ok = c.p.allows(c.s.holdings.Of(v, c.p.Account, c.p.User), perm)
		return nil
	})
	return ok, err
}

// clientAddr is the connection's peer, or the first untrusted hop of
// X-Forwarded-For when the peer is a trusted proxy.
func (s *Server) clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(s.TrustedProxies) == 0 {
		return host
	}
	if !s.trusted(host) {
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

// background runs fn detached from the request with the storage timeout.
func (s *Server) background(fn func(ctx context.Context)) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		fn(ctx)
	}()
}
