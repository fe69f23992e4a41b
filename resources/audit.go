package resources

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gatehouse/api"
	"gatehouse/authz"
	"gatehouse/storage"
)

// GET /audit (SPEC §3a, §10) reads etcd directly (audit entries are not
// in the cache); count is the number of matching entries, found by
// scanning at most storage.AuditScanCap entries (a truncated scan says so
// in the X-Audit-Truncated header). What is recorded, and when, is the
// api pipeline's audit policy; this file adds only how a POST that
// creates an item names it (createdTarget).

// createdKinds maps the POST collections whose new item the audit entry
// names to the stored collection the new item joins: its kind, and the
// path variable naming its owner for the collections an item owns
// (storage.CreatedIn names the item). Other POSTs record the collection's
// path.
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

// createdTarget returns, for a POST that creates an item, the function
// that names the created item (its Location) from the keys the write
// creates (storage.AuditEntry.TargetOf); nil for other routes.
func createdTarget(rt *Route) func(req *api.Request) func([]string) string {
	if rt.Method != http.MethodPost {
		return nil
	}
	k, listed := createdKinds[rt.Path]
	if rt.Path != "/accounts" && !listed {
		return nil
	}
	return func(req *api.Request) func([]string) string {
		coll := storage.AllAccounts()
		if rt.Path != "/accounts" {
			coll = storage.Coll{Account: req.Vars.Get("a"), Kind: k.kind}
			if k.parent != "" {
				coll.Owner = req.Vars.Get(k.parent)
			}
		}
		base := strings.TrimSuffix(req.R.URL.EscapedPath(), "/")
		return func(created []string) string {
			if name, ok := storage.CreatedIn(coll, created); ok {
				return base + "/" + escapeSegment(name)
			}
			return ""
		}
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
	return &Entity{Element: "entry", Identifier: id, Href: auditHref(id), Fields: func(f []Field) []Field {
		return append(f,
			Field{Name: "time", Text: time.Unix(0, e.Time).UTC().Format(time.RFC3339Nano)},
			Field{Name: "actor", Text: e.Actor},
			Field{Name: "account", Text: e.Account},
			Field{Name: "action", Text: e.Action},
			Field{Node: &Entity{Element: "target", Href: e.Target}},
			Field{Name: "address", Text: e.Address},
			Field{Name: "outcome", Text: e.Outcome},
			Field{Name: "detail", Text: e.Detail},
			Field{Name: "request-id", Text: e.RequestID},
		)
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
	id := c.vars.Get("id")
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
	defer body.release()
	h := c.w.Header()
	h.Set("Content-Type", "application/xml; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body.Bytes())))
	c.status = http.StatusOK
	c.w.WriteHeader(http.StatusOK)
	if c.r.Method != http.MethodHead {
		_, _ = c.w.Write(body.Bytes())
	}
	return nil
}
