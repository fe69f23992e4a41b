package resources

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"gatehouse/api"
	"gatehouse/authn"
	"gatehouse/authz"
	"gatehouse/catalog"
	"gatehouse/passkey"
	"gatehouse/passwordpolicy"
	"gatehouse/storage"
)

// Options are the resources' dependencies and settings.
type Options struct {
	Store          *storage.Store
	Authority      *authz.Authority
	Limits         Limits
	Credentials    *authn.CredentialCache // dropped entries on password change, disable, delete
	Throttle       *authn.Throttle        // a wrong old password on PUT /me/password counts as a failure
	PasswordPolicy passwordpolicy.Policy  // the zero Policy has the defaults
	HashParams     authn.Params
	Logger         *slog.Logger
	Now            func() time.Time
	Random         io.Reader // nil: crypto/rand
	// Catalog lists known permissions (NewCatalog); set before serving.
	Catalog *catalog.Catalog
	// RevokeSession revokes the token family of a sign-in session (its
	// id): the OAuth provider's, set by instance. Nil: DELETE of a
	// session only removes its record (its refresh tokens are refused
	// all the same).
	RevokeSession func(ctx context.Context, family string) error
	// SyncProvider starts a directory sync of ldap provider pv of account
	// a in the background (ldapsignin.Syncer.Start, set by instance):
	// storage.ErrNameTaken when one is running, storage.ErrNotFound when
	// the provider is gone, storage.ErrInvalid when it is not ldap. Nil:
	// POST …/providers/{pv}/sync answers 503.
	SyncProvider func(ctx context.Context, a, pv string) error
	// Passkeys is the WebAuthn relying party (set by instance). Nil: the
	// passkey registration routes answer 503.
	Passkeys *passkey.Service
	// CheckDecisions is told the granted and denied answers of each
	// POST /check (metrics; set by instance). Nil: not told.
	CheckDecisions func(granted, denied int)
}

// Server holds the /auth/v2 resources: their route table (Routes, which
// instance mounts on the api registry) and what handlers share.
type Server struct {
	Options
	keyUse sync.Map          // API key id → time.Time of its last use here
	gets   map[string]*Route // the GET route of each path, for currentETag
}

// New builds the resources.
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
	if o.Throttle == nil {
		o.Throttle = authn.NewThrottle(authn.ThrottleLimits{}, o.Now)
	}
	if o.Authority == nil {
		o.Authority = &authz.Authority{}
	}
	s := &Server{Options: o, gets: map[string]*Route{}}
	for _, rt := range routes() {
		if rt.Method == http.MethodGet {
			s.gets[rt.Path] = rt
		}
	}
	return s
}

// Routes is the /auth/v2 route table, ready to mount.
func (s *Server) Routes() []api.Route {
	var out []api.Route
	for _, rt := range routes() {
		if rt.Method == http.MethodGet {
			rt = s.gets[rt.Path] // the same value currentETag runs
		}
		out = append(out, api.Route{Method: rt.Method, Path: "/auth/v2" + rt.Path, Permission: rt.Permission,
			Summary: rt.Summary, Handler: s.adapt(rt), AllowExpiredPassword: expiredMayCall(rt),
			CreatesAccount: rt.Method == http.MethodPut && rt.Path == "/accounts/{a}",
			CreatedTarget:  createdTarget(rt)})
	}
	return out
}

// NoteKeyUse records, in memory on this instance only, that API key id
// was used now (no storage write per request).
func (s *Server) NoteKeyUse(id string) {
	s.keyUse.Store(id, s.Now().UTC())
}

// call is one request on its way through a handler.
type call struct {
	s          *Server
	w          http.ResponseWriter
	r          *http.Request
	route      *Route
	p          authn.Principal
	vars       api.Vars
	q          query
	depthGiven bool
	status     int
	// fixed, when set, is the view show renders from instead of a fresh
	// read (currentETag inside a write's transaction).
	fixed *storage.View
	req   *api.Request // the pipeline's request (nil inside currentETag)
}

// adapt turns a resources handler into an api.Handler: the pipeline has
// authenticated the caller, checked tenancy and the route's permission;
// the query is parsed here (400).
func (s *Server) adapt(rt *Route) api.Handler {
	return func(req *api.Request) error {
		c := &call{s: s, w: req.W, r: req.R, route: rt, p: req.Principal, vars: req.Vars, status: http.StatusOK, req: req}
		q, p := parseQuery(req.R.URL.RawQuery, s.Limits, routeParams[rt.Path]...)
		if p != nil {
			return p
		}
		c.q = q
		c.depthGiven = req.R.URL.Query().Has("depth")
		err := rt.handle(c)
		req.Status = c.status
		return err
	}
}

// require answers 403 unless the caller holds perm (beyond the route's
// own permission, e.g. :create for a PUT that creates).
func (c *call) require(perm string) error {
	ok, err := c.holds(perm)
	if err != nil {
		return err
	}
	if !ok {
		return problem(http.StatusForbidden, "%s lacks permission %s for %s %s", c.p.Name(), perm, c.r.Method, c.r.URL.Path)
	}
	return nil
}

// holds reports whether the caller holds perm.
func (c *call) holds(perm string) (bool, error) {
	var ok bool
	err := c.s.Store.Read(c.r.Context(), 0, func(v storage.View) error {
		ok = c.s.Authority.Decide(v, c.p, perm, "").Granted()
		return nil
	})
	return ok, err
}

// Problem is the pipeline's error with a status (api.Problem).
type Problem = api.Problem

func problem(status int, format string, args ...any) *Problem {
	return api.Problemf(status, format, args...)
}

func unauthorized(detail string) *Problem {
	return &Problem{Status: http.StatusUnauthorized, Detail: detail,
		Header: http.Header{"WWW-Authenticate": {`Basic realm="gatehouse", charset="UTF-8"`}}}
}
