package resources

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/beevik/etree"

	"gatehouse/api"
	"gatehouse/authz"
	"gatehouse/storage"
)

// nodes returns the node builder for view v.
func (c *call) nodes(v storage.View) *nb {
	return &nb{View: v, raw: v, au: c.s.Authority, p: &c.p, cat: c.s.Catalog, keyUse: &c.s.keyUse, now: c.s.Now, pwExpired: c.s.pwExpiry}
}

// visible answers 404 unless the path's account exists and the caller may
// act on it (its own account or a descendant; system acts everywhere). A
// foreign account looks exactly like a missing one. The pipeline checks
// it before the route's permission; handlers check it again on the view
// they render from.
func (c *call) visible(v storage.View) error {
	a, ok := c.vars.Lookup("a")
	if !ok {
		return nil
	}
	if !authz.Visible(v, c.p, a) {
		return problem(http.StatusNotFound, "account %q not found", a)
	}
	return nil
}

// etagOf is the ETag of a document rendered through tracking view v: a
// digest of every key, mod revision, count and page it read (plus what
// the node builders folded in, such as a holding's content), so it
// changes exactly when what the document shows changes, and is the same
// on every instance (storage.View.Tracking).
func etagOf(v storage.View) string {
	return `"` + strconv.FormatUint(v.Digest(), 16) + `"`
}

// show renders what build returns, once the cache has reached minRev.
func (c *call) show(status int, minRev int64, location string, build func(v *nb) (Node, error)) error {
	var body *output
	var etag string
	render := func(v storage.View) error {
		body.release() // a render run again starts afresh
		body = nil
		if err := c.visible(v); err != nil {
			return err
		}
		tv := v.Tracking()
		b := c.nodes(tv)
		b.raw = v
		n, err := build(b)
		if err != nil {
			return err
		}
		body = renderer{q: c.q, depthGiven: c.depthGiven, reader: b}.document(n)
		etag = etagOf(tv)
		return nil
	}
	var err error
	if c.fixed != nil {
		err = render(*c.fixed)
	} else {
		err = c.s.Store.Read(c.r.Context(), minRev, render)
	}
	if err != nil {
		body.release()
		return err
	}
	// The body is written below or not at all (HEAD, 304); either way
	// its buffer goes back to the pool when show returns.
	defer body.release()
	if c.req != nil && c.req.Server != nil && c.req.Server.HTML != nil && api.PrefersHTML(c.r) {
		// A browser: the same document as a page (package console),
		// without the XML's ETag (the page is another representation).
		c.status = status
		c.w.Header().Add("Vary", "Accept")
		return c.req.Server.HTML.Document(c.req, status, body.Bytes())
	}
	h := c.w.Header()
	if c.req != nil && c.req.Server != nil && c.req.Server.HTML != nil {
		h["Vary"] = varyAccept // the page is another representation
	}
	h.Set("ETag", etag)
	if location != "" {
		h.Set("Location", location)
	}
	if status == http.StatusOK && matchesETag(c.r.Header.Get("If-None-Match"), etag) {
		c.status = http.StatusNotModified
		c.w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.Set("Content-Type", "application/xml; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body.Bytes())))
	c.status = status
	c.w.WriteHeader(status)
	if c.r.Method != http.MethodHead {
		_, _ = c.w.Write(body.Bytes())
	}
	return nil
}

// varyAccept is the Vary header of documents that are also pages (shared,
// never modified: no allocation per request).
var varyAccept = []string{"Accept"}

// get adapts a read handler.
func get(build func(c *call, v *nb) (Node, error)) func(*call) error {
	return func(c *call) error {
		return c.show(http.StatusOK, 0, "", func(v *nb) (Node, error) { return build(c, v) })
	}
}

func matchesETag(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// currentETag renders, on view v, the document a GET of the request's
// path (without query) shows, and returns its ETag; "" when the path
// shows nothing (404). Run on a write's guarded view, every read of the
// rendering becomes a guard, so If-Match holds on the revision the write
// commits on.
func (c *call) currentETag(v storage.View) (string, error) {
	getRt := c.s.gets[c.route.Path]
	if getRt == nil {
		return "", nil
	}
	vars := slices.Clone(c.vars)
	r := c.r.Clone(c.r.Context())
	r.Method = http.MethodGet
	r.Header.Del("If-None-Match")
	q, _ := parseQuery("", c.s.Limits)
	w := &heldResponse{header: http.Header{}}
	gc := &call{s: c.s, w: w, r: r, route: getRt, p: c.p, vars: vars, q: q, status: http.StatusOK, fixed: &v}
	if err := getRt.handle(gc); err != nil {
		var p *Problem
		if errors.As(err, &p) && p.Status == http.StatusNotFound {
			return "", nil
		}
		return "", err
	}
	return w.header.Get("ETag"), nil
}

// precheck runs before a write: the account must be visible, exists (if
// not nil) says whether the target exists, and If-Match must hold. It
// answers early from the cache, and puts the tenancy and If-Match checks
// into the request context so that they run again inside the write's
// guarded transaction (storage.WithCheck) and hold on the revision it
// commits on. It returns whether the target exists.
func (c *call) precheck(exists func(v storage.View) bool) (bool, error) {
	found := true
	im := c.r.Header.Get("If-Match")
	ifMatch := c.ifMatch(im)
	err := c.s.Store.Read(c.r.Context(), 0, func(v storage.View) error {
		if err := c.visible(v); err != nil {
			return err
		}
		if exists != nil {
			found = exists(v)
		}
		return ifMatch(v)
	})
	if err != nil {
		return found, err
	}
	if im != "" {
		c.check(ifMatch)
	}
	return found, nil
}

// ifMatch is the If-Match precondition im (nothing when empty): the
// document a GET of the path shows on view v must have an ETag im names.
func (c *call) ifMatch(im string) func(v storage.View) error {
	return func(v storage.View) error {
		if im == "" {
			return nil
		}
		etag, err := c.currentETag(v)
		if err != nil {
			return err
		}
		if etag == "" || !matchesETag(im, etag) {
			return problem(http.StatusPreconditionFailed, "If-Match %s does not match the current ETag %s", im, etag)
		}
		return nil
	}
}

// check adds a precondition that every later write of this request runs
// inside its guarded transaction.
func (c *call) check(fn func(v storage.View) error) {
	c.r = c.r.WithContext(storage.WithCheck(c.r.Context(), fn))
}

// noContent answers 204.
func (c *call) noContent() error {
	c.status = http.StatusNoContent
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// body reads and parses the request body, whose root must be root.
func (c *call) body(root string) (*etree.Element, error) {
	b, p := readBody(c.r)
	if p != nil {
		return nil, p
	}
	el, p := parseXML(b, root)
	if p != nil {
		return nil, p
	}
	return el, nil
}

// entity reads the request body as an entity of schema s.
func (c *call) entity(s Schema) (Fields, error) {
	el, err := c.body(s.Root)
	if err != nil {
		return Fields{}, err
	}
	f, p := decodeEntity(el, s)
	if p != nil {
		return f, p
	}
	return f, nil
}

// noBody refuses a body on requests that take none.
func (c *call) noBody() error {
	b, err := io.ReadAll(io.LimitReader(c.r.Body, MaxBodyBytes+1))
	if err != nil {
		return problem(http.StatusBadRequest, "reading the body failed: %v", err)
	}
	if strings.TrimSpace(string(b)) != "" {
		return problem(http.StatusBadRequest, "%s %s takes no body", c.r.Method, c.r.URL.Path)
	}
	return nil
}

// name returns path variable key, validated as a name.
func (c *call) name(key string) (string, error) {
	n := c.vars.Get(key)
	if err := storage.ValidName(n); err != nil {
		return "", problem(http.StatusBadRequest, "invalid name in the path: %v", err)
	}
	return n, nil
}

// names validates several path variables.
func (c *call) names(keys ...string) ([]string, error) {
	out := make([]string, len(keys))
	for i, k := range keys {
		n, err := c.name(k)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// permission returns path variable p, validated as a permission string.
func (c *call) permission() (string, error) {
	p := c.vars.Get("p")
	if err := authz.Validate(p); err != nil {
		return "", problem(http.StatusBadRequest, "invalid permission in the path: %v", err)
	}
	return p, nil
}

func validPermissions(ps []string) (map[string]string, error) {
	m := make(map[string]string, len(ps))
	for _, p := range ps {
		if err := authz.Validate(p); err != nil {
			return nil, problem(http.StatusBadRequest, "invalid permission: %v", err)
		}
		m[p] = ""
	}
	return m, nil
}

func validName(what, n string) error {
	if err := storage.ValidName(n); err != nil {
		return problem(http.StatusBadRequest, "invalid %s name: %v", what, err)
	}
	return nil
}
