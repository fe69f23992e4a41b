package resources

import (
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/beevik/etree"

	"gatehouse/authz"
	"gatehouse/storage"
)

// nodes returns the node builder for view v.
func (c *call) nodes(v storage.View) nb {
	return nb{View: v, h: &c.s.holdings, p: c.p, cat: c.s.Catalog, keyUse: &c.s.keyUse}
}

// visible answers 404 unless the path's account exists and the caller may
// act on it (its own account or a descendant; system acts everywhere). A
// foreign account looks exactly like a missing one.
func (c *call) visible(v storage.View) error {
	a, ok := c.vars["a"]
	if !ok {
		return nil
	}
	if !v.Has(storage.AccountKey(a)) || !authz.Within(c.p.Account, a, v.Parent) {
		return problem(http.StatusNotFound, "account %q not found", a)
	}
	return nil
}

// etag is the revision of what a response under this path shows: the
// last change to the path's account or any of its ancestors (whose
// ceilings shape effective permissions); for the account list, the last
// change to any account record, or to anything when the list is
// expanded deeper.
func (c *call) etag(v storage.View) string {
	var rev int64
	if a, ok := c.vars["a"]; ok {
		for x, more := a, true; more; x, more = v.Parent(x) {
			rev = max(rev, v.VersionRev(x))
		}
	} else if c.q.Depth <= 1 {
		rev = v.AccountsRev()
	} else {
		rev = v.Rev()
	}
	return `"` + strconv.FormatInt(rev, 10) + `"`
}

// show renders what build returns, once the cache has reached minRev.
func (c *call) show(status int, minRev int64, location string, build func(v nb) (Node, error)) error {
	var body []byte
	var etag string
	err := c.s.Store.Read(c.r.Context(), minRev, func(v storage.View) error {
		if err := c.visible(v); err != nil {
			return err
		}
		n, err := build(c.nodes(v))
		if err != nil {
			return err
		}
		etag = c.etag(v)
		body = renderer{q: c.q, depthGiven: c.depthGiven}.document(n)
		return nil
	})
	if err != nil {
		return err
	}
	h := c.w.Header()
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
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.status = status
	c.w.WriteHeader(status)
	if c.r.Method != http.MethodHead {
		_, _ = c.w.Write(body)
	}
	return nil
}

// get adapts a read handler.
func get(build func(c *call, v nb) (Node, error)) func(*call) error {
	return func(c *call) error {
		return c.show(http.StatusOK, 0, "", func(v nb) (Node, error) { return build(c, v) })
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

// precheck runs before a write: the account must be visible, exists (if
// not nil) says whether the target exists, and If-Match must hold.
// It returns whether the target exists.
func (c *call) precheck(exists func(v storage.View) bool) (bool, error) {
	found := true
	err := c.s.Store.Read(c.r.Context(), 0, func(v storage.View) error {
		if err := c.visible(v); err != nil {
			return err
		}
		if exists != nil {
			found = exists(v)
		}
		if im := c.r.Header.Get("If-Match"); im != "" {
			if !found || !matchesETag(im, c.etag(v)) {
				return problem(http.StatusPreconditionFailed, "If-Match %s does not match the current ETag %s", im, c.etag(v))
			}
		}
		return nil
	})
	return found, err
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
	n := c.vars[key]
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
	p := c.vars["p"]
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

func exists(key string) func(v storage.View) bool {
	return func(v storage.View) bool { return v.Has(key) }
}
