package resources

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gatehouse/authz"
	"gatehouse/storage"
)

// The audit log (SPEC §3a, §10).
//
// Every write route (any method but GET whose permission is not a :read
// one) gets an entry put in its request context by endpoint.serve
// (storage.WithAudit); storage.Store.Update adds it to the same etcd
// transaction as the change, so only committed changes are recorded. The
// action comes from the method: POST create, PUT update (a PUT that
// creates is recorded as update: telling them apart would need every
// handler's help), DELETE delete; the target is the request path, or for
// a POST that creates an account, role, group, user, attribute or
// membership the new item's href, found from the keys the write creates
// (createdTarget; other POSTs record the collection's path). A write refused with 403 is a
// "denied" entry written on its own (Store.Audit, in the background). Argon2-verified
// sign-ins (not credential-cache hits) and throttled ones are written
// asynchronously so a sign-in never waits on etcd. Detail holds only fixed
// phrases: never a password, hash or key secret.
//
// GET /audit reads etcd directly (audit entries are not in the cache);
// count is the number of matching entries, found by scanning at most
// storage.AuditScanCap entries (a truncated scan says so in the
// X-Audit-Truncated header).

const (
	auditCreate = "create"
	auditUpdate = "update"
	auditDelete = "delete"
	auditSignIn = "sign-in"

	auditSuccess = "success"
	auditFailure = "failure"
	auditDenied  = "denied"
)

// auditAction is the action a route's request records, "" for reads.
func auditAction(rt *Route) string {
	if strings.HasSuffix(rt.Permission, ":read") {
		return ""
	}
	switch rt.Method {
	case http.MethodPost:
		return auditCreate
	case http.MethodPut, http.MethodPatch:
		return auditUpdate
	case http.MethodDelete:
		return auditDelete
	}
	return ""
}

// auditEntry is the entry of a write by the signed-in caller.
func (c *call) auditEntry(action, outcome string) *storage.AuditEntry {
	account := c.vars["a"]
	if account == "" {
		account = c.p.Account
	}
	actor := c.p.Account + `\` + c.p.User
	if c.p.KeyID != "" {
		// Signed in with an API key: the principal form of SPEC §3a
		// (the key id is public; the secret is never recorded).
		actor = "api-key:" + c.p.KeyID
	}
	var targetOf func([]string) string
	if action == auditCreate && outcome == auditSuccess {
		targetOf = c.createdTarget()
	}
	return &storage.AuditEntry{
		TargetOf: targetOf,
		Time:     c.s.Now().UnixNano(),
		Actor:    actor,
		Account:  account,
		Action:   action,
		Target:   c.r.URL.Path,
		Address:  c.s.clientAddr(c.r),
		Outcome:  outcome,
	}
}

// createdKinds maps the POST collections whose new item the audit entry
// names to the kind of key the new item is stored under; the item's name
// is that key's last segment (see storage/doc.go). Other POSTs record the
// collection's path.
var createdKinds = map[string]struct{ kind, parent string }{
	"/accounts/{a}/roles":                {storage.KindRole, ""},
	"/accounts/{a}/groups":               {storage.KindGroup, ""},
	"/accounts/{a}/users":                {storage.KindUser, ""},
	"/accounts/{a}/users/{u}/roles":      {storage.KindUserRole, "u"},
	"/accounts/{a}/users/{u}/groups":     {storage.KindUserGrp, "u"},
	"/accounts/{a}/users/{u}/attributes": {storage.KindAttr, "u"},
	"/accounts/{a}/groups/{g}/roles":     {storage.KindGrpRole, "g"},
	"/accounts/{a}/groups/{g}/users":     {storage.KindGrpUser, "g"},
}

// createdTarget returns, for a POST, the function that names the created
// item (its Location) from the keys the write creates; nil for others.
func (c *call) createdTarget() func([]string) string {
	var prefix string
	if c.route.Path == "/accounts" {
		prefix = storage.AccountsRange
	} else if k, ok := createdKinds[c.route.Path]; ok {
		prefix = "t/" + c.vars["a"] + "/" + k.kind + "/"
		if k.parent != "" {
			prefix += c.vars[k.parent] + "/"
		}
	} else {
		return nil
	}
	base := strings.TrimSuffix(c.r.URL.EscapedPath(), "/")
	return func(created []string) string {
		for _, key := range created {
			if name, ok := strings.CutPrefix(key, prefix); ok && name != "" && !strings.Contains(name, "/") {
				return base + "/" + escapeSegment(name)
			}
		}
		return ""
	}
}

// auditDenied records a write refused with 403. Like sign-ins it is
// written in the background, so a refusal never waits on etcd.
func (c *call) auditDenied() {
	action := auditAction(c.route)
	if action == "" || c.p.User == "" {
		return
	}
	e := *c.auditEntry(action, auditDenied)
	e.Detail = "permission denied"
	c.s.background(func(ctx context.Context) {
		if err := c.s.Store.Audit(ctx, e); err != nil {
			c.s.Logger.Warn("writing an audit entry failed", "action", e.Action, "target", e.Target, "err", err)
		}
	})
}

// auditSignIn records a sign-in attempt in the background. name is the
// principal as typed; it is kept only when it is a well-formed
// account\user, so a password typed into the name field is never stored.
func (s *Server) auditSignIn(r *http.Request, name, addr, outcome, detail string) {
	e := storage.AuditEntry{Time: s.Now().UnixNano(), Action: auditSignIn, Target: r.URL.Path,
		Address: addr, Outcome: outcome, Detail: detail}
	if a, u, ok := strings.Cut(name, `\`); ok && storage.ValidName(a) == nil && storage.ValidName(u) == nil {
		e.Actor, e.Account = name, a
	}
	s.background(func(ctx context.Context) {
		if err := s.Store.Audit(ctx, e); err != nil {
			s.Logger.Warn("writing a sign-in audit entry failed", "outcome", outcome, "address", addr, "err", err)
		}
	})
}

// auditAuthFailure records a refused sign-in: a 401 to a request that
// presented credentials is a sign-in failure ("bad credentials", never
// saying whether the user exists), a 429 is denied (throttled). It is
// called by endpoint.serve on authenticate's error so that auth.go needs
// no audit code.
func (s *Server) auditAuthFailure(r *http.Request, err error) {
	var p *Problem
	if !errors.As(err, &p) || r.Header.Get("Authorization") == "" {
		return
	}
	name, _, _ := r.BasicAuth()
	addr := s.clientAddr(r)
	switch p.Status {
	case http.StatusUnauthorized:
		detail := "bad credentials"
		if strings.Contains(p.Detail, "password has expired") {
			detail = "password expired"
		}
		s.auditSignIn(r, name, addr, auditFailure, detail)
	case http.StatusTooManyRequests:
		s.auditSignIn(r, name, addr, auditDenied, "throttled")
	}
}

// auditVisible returns a memoised test of whether the caller may see
// entries of an account: system sees all, others their own account and
// its descendants.
func (c *call) auditVisible() func(string) bool {
	if c.p.Account == storage.SystemAccount {
		return func(string) bool { return true }
	}
	memo := map[string]bool{}
	return func(a string) bool {
		if ok, seen := memo[a]; seen {
			return ok
		}
		ok := false
		_ = c.s.Store.Read(c.r.Context(), 0, func(v storage.View) error {
			ok = authz.Within(c.p.Account, a, v.Parent)
			return nil
		})
		memo[a] = ok
		return ok
	}
}

func auditHref(id string) string { return path("audit", id) }

func auditNode(id string, e storage.AuditEntry) Node {
	return &Entity{Element: "entry", Identifier: id, Href: auditHref(id), Fields: func() []Field {
		return []Field{
			{Name: "time", Text: time.Unix(0, e.Time).UTC().Format(time.RFC3339Nano)},
			{Name: "actor", Text: e.Actor},
			{Name: "account", Text: e.Account},
			{Name: "action", Text: e.Action},
			{Node: &Entity{Element: "target", Href: e.Target}},
			{Name: "address", Text: e.Address},
			{Name: "outcome", Text: e.Outcome},
			{Name: "detail", Text: e.Detail},
		}
	}}
}

// pageSource is a collection page computed before rendering.
type pageSource struct {
	items []Node
	count int
}

func (p pageSource) Count() int { return p.count }
func (p pageSource) Page(string, int, int) ([]Node, int) {
	return p.items, p.count
}

// auditTime parses an RFC 3339 query parameter (0 when absent; present
// but empty or malformed is a 400).
func auditTime(vals url.Values, name string) (int64, error) {
	if !vals.Has(name) {
		return 0, nil
	}
	v := vals.Get(name)
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return 0, problem(http.StatusBadRequest, "query parameter %s=%q is not an RFC 3339 time", name, v)
	}
	return t.UnixNano(), nil
}

func getAudit(c *call) error {
	vals := c.r.URL.Query()
	since, err := auditTime(vals, "since")
	if err != nil {
		return err
	}
	until, err := auditTime(vals, "until")
	if err != nil {
		return err
	}
	if vals.Has("until") && until <= 0 {
		until = 1 // before any entry (0 would mean no bound)
	}
	want := map[string]string{}
	for _, k := range []string{"actor", "account", "action", "outcome"} {
		if vals.Has(k) {
			want[k] = vals.Get(k)
		}
	}
	visible := c.auditVisible()
	match := func(e storage.AuditEntry) bool {
		for k, v := range want {
			var got string
			switch k {
			case "actor":
				got = e.Actor
			case "account":
				got = e.Account
			case "action":
				got = e.Action
			case "outcome":
				got = e.Outcome
			}
			if got != v {
				return false
			}
		}
		return visible(e.Account)
	}
	offset, limit := (c.q.CurrentPage-1)*c.q.PageSize, c.q.PageSize
	if c.q.Depth <= 0 {
		limit = 0
	}
	var src pageSource
	truncated, err := c.s.Store.AuditScan(c.r.Context(), storage.AuditFilter{Since: since, Until: until, Match: match},
		func(id string, e storage.AuditEntry) bool {
			if c.q.Filter != "" && !authz.Glob(c.q.Filter, id) {
				return true
			}
			if src.count >= offset && src.count < offset+limit {
				src.items = append(src.items, auditNode(id, e))
			}
			src.count++
			return true
		})
	if err != nil {
		return err
	}
	if truncated {
		c.w.Header().Set("X-Audit-Truncated", "scanned "+strconv.Itoa(storage.AuditScanCap)+" entries")
	}
	// The collection's href keeps the audit filters, so its next and
	// previous links page the same selection.
	href := path("audit")
	kept := url.Values{}
	for _, k := range []string{"actor", "account", "action", "outcome", "since", "until"} {
		if vals.Has(k) {
			kept.Set(k, vals.Get(k))
		}
	}
	if len(kept) > 0 {
		href += "?" + kept.Encode()
	}
	return c.render(c.q, &Collection{Element: "audit", Href: href, Items: src})
}

func getAuditEntry(c *call) error {
	id := c.vars["id"]
	e, ok, err := c.s.Store.AuditGet(c.r.Context(), id)
	if err != nil {
		return err
	}
	if !ok || !c.auditVisible()(e.Account) {
		return problem(http.StatusNotFound, "audit entry %q not found", id)
	}
	return c.render(c.q, auditNode(id, e))
}

// render writes n with status 200 and no ETag: the audit log is read from
// etcd, not the cache, so the cache's revisions say nothing about it.
func (c *call) render(q query, n Node) error {
	body := renderer{q: q, depthGiven: c.depthGiven}.document(n)
	h := c.w.Header()
	h.Set("Content-Type", "application/xml; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.status = http.StatusOK
	c.w.WriteHeader(http.StatusOK)
	if c.r.Method != http.MethodHead {
		_, _ = c.w.Write(body)
	}
	return nil
}
