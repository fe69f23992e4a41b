package resources

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"gatehouse/authn"
	"gatehouse/passwordpolicy"
	"gatehouse/storage"
)

// /me is the signed-in user's own document and subtree, governed by the
// auth:me:* permissions instead of auth:users:*. Its documents are the
// ones /accounts/{a}/users/{u} shows, built by the same node builders,
// with the hrefs of what /me serves (the user, api-keys, attributes,
// groups, permissions, roles, sessions, totp) moved under /auth/v2/me, so
// that a user who may read their own subtree through /me finds it linked
// there; a granted-by naming a role the user holds directly links
// /me/roles/{r}. Links to what /me does not serve (clients, federated
// principals, account roles and groups) keep their account paths, and
// the renderer shows them without href to a reader who may not follow
// them (render.go, linker). Other users (members of the user's groups, at
// depth 3 or more) show as references only. Writes reuse the
// account-path handlers: a /me handler names the signed-in user in the
// call's path variables and runs them.

// meHref is the root of the signed-in user's subtree.
const meHref = "/auth/v2/me"

// expiredMayCall reports whether a user whose password has expired may
// call rt: only to change that password (PUT /me/password).
func expiredMayCall(rt *Route) bool {
	return rt != nil && rt.Method == http.MethodPut && rt.Path == "/me/password"
}

// asMe names the signed-in user in the path variables, so the account
// handlers, tenancy check and ETag apply to them, and returns the names.
func (c *call) asMe() (a, u string) {
	c.vars.Set("a", c.p.Account)
	c.vars.Set("u", c.p.User)
	if c.req != nil {
		c.req.Vars = c.vars // what the audit entry names
	}
	return c.p.Account, c.p.User
}

// meRebase moves the hrefs of user u's own subtree under /auth/v2/me.
type meRebase struct {
	from string
	a, u string
	// v, when set, is the view of the document, to see which roles the
	// user holds directly (granted-by).
	v *nb
}

func rebaseFor(a, u string) meRebase {
	return meRebase{from: path("accounts", a, "users", u), a: a, u: u}
}

// meServed are the sub-resources of a user that /me serves.
var meServed = []string{"api-keys", "attributes", "groups", "permissions", "roles", "sessions", "totp"}

// href returns h moved under /auth/v2/me, and whether it moved.
func (rb meRebase) href(h string) (string, bool) {
	rest, ok := strings.CutPrefix(h, rb.from)
	if !ok {
		return h, false
	}
	if rest == "" {
		return meHref, true
	}
	if rest[0] != '/' {
		return h, false // another user whose name starts the same
	}
	seg, _, _ := strings.Cut(rest[1:], "/")
	if !contains(meServed, seg) {
		return h, false
	}
	return meHref + rest, true
}

// grantedBy moves a granted-by link to a role the user holds directly to
// /me/roles/{r}; a role held through a group keeps its account path.
func (rb meRebase) grantedBy(h string) string {
	if rb.v == nil {
		return h
	}
	esc, ok := strings.CutPrefix(h, path("accounts", rb.a, "roles")+"/")
	if !ok {
		return h
	}
	r, err := url.PathUnescape(esc)
	if err != nil || !rb.v.View.HasMember(storage.UserRoles.Of(rb.a, rb.u), r) {
		return h
	}
	return meHref + "/roles/" + esc
}

// node wraps n so that it and its children show at their /me hrefs.
// Another user met inside the tree (a member of one of the user's
// groups, expanded with depth) shows as a reference only: self-service
// never shows another user's document, which needs auth:users:read.
func (rb meRebase) node(n Node) Node {
	switch n := n.(type) {
	case *Entity:
		h, moved := rb.href(n.href())
		if !moved && n.Element == "user" {
			return &Entity{Element: n.Element, Identifier: n.Identifier, Href: n.Href, HrefTail: n.HrefTail}
		}
		e := *n
		e.Href, e.HrefTail = h, ""
		for i, at := range n.Attrs {
			if at[0] == "granted-by" {
				if g := rb.grantedBy(at[1]); g != at[1] {
					e.Attrs = slices.Clone(n.Attrs)
					e.Attrs[i][1] = g
				}
			}
		}
		if n.Fields != nil {
			fields := n.Fields
			e.Fields = func(f []Field) []Field {
				start := len(f)
				f = fields(f)
				for i := start; i < len(f); i++ {
					if f[i].Node != nil {
						f[i].Node = rb.node(f[i].Node)
					}
				}
				return f
			}
		}
		return &e
	case *Collection:
		col := *n
		col.Href, _ = rb.href(n.href())
		col.HrefTail = ""
		col.Items = rebasedSource{src: n.Items, rb: rb}
		col.Extra = nil
		for _, x := range n.Extra {
			col.Extra = append(col.Extra, rb.node(x))
		}
		return &col
	}
	return n
}

// rebasedSource pages a collection's items at their /me hrefs.
type rebasedSource struct {
	src Source
	rb  meRebase
}

func (s rebasedSource) Count() int { return s.src.Count() }

func (s rebasedSource) Page(filter string, offset, limit int) ([]Node, int) {
	items, n := s.src.Page(filter, offset, limit)
	for i := range items {
		items[i] = s.rb.node(items[i])
	}
	return items, n
}

// getMe adapts a read of the signed-in user's subtree: build describes
// it at its account paths, and the answer shows it at its /me paths.
func getMe(build func(c *call, v *nb, a, u string) (Node, error)) func(*call) error {
	return func(c *call) error {
		a, u := c.asMe()
		rb := rebaseFor(a, u)
		return c.show(http.StatusOK, 0, "", func(v *nb) (Node, error) {
			if !v.HasItem(a, storage.KindUser, u) {
				return nil, unauthorized("the signed-in user no longer exists")
			}
			n, err := build(c, v, a, u)
			if err != nil {
				return nil, err
			}
			rb := rb
			rb.v = v
			return rb.node(n), nil
		})
	}
}

var getMeUser = getMe(func(c *call, v *nb, a, u string) (Node, error) {
	return v.userNode(a, u), nil
})

var getMyAttributes = getMe(func(c *call, v *nb, a, u string) (Node, error) {
	return v.attributesNode(a, u), nil
})

var getMyAttribute = getMe(func(c *call, v *nb, a, u string) (Node, error) {
	n := c.vars.Get("n")
	if !v.HasMember(attributes(a, u), n) {
		return nil, problem(http.StatusNotFound, "attribute %q of user %q not found", n, u)
	}
	return v.attributeNode(a, u, n), nil
})

// getMyMembers and getMyMember show the user's side of a membership as
// getMembers and getMember do, a single member at its /me address.
func getMyMembers(m *memberKind) func(*call) error {
	return getMe(func(c *call, v *nb, a, u string) (Node, error) {
		return v.membersNode(a, m.link, u, m.element, m.href(a, u)), nil
	})
}

func getMyMember(m *memberKind) func(*call) error {
	return getMe(func(c *call, v *nb, a, u string) (Node, error) {
		to := c.vars.Get(m.toVar)
		if !v.HasMember(m.link.Of(a, u), to) {
			return nil, problem(http.StatusNotFound, "%s %q of user %q not found", m.item, to, u)
		}
		// At its membership path, which /me serves: the account role
		// document (what GET …/users/{u}/roles/{r} shows) is not the
		// user's to open.
		return v.memberNode(a, m.link.To, to, m.href(a, u)+"/"+escapeSegment(to)), nil
	})
}

var getMyPermissions = getMe(func(c *call, v *nb, a, u string) (Node, error) {
	return v.effectiveNode(a, u), nil
})

// getMyPermission answers like getEffectiveOne: 200 naming the granting
// role when the user holds p (by implication, within the ceiling), 404
// when not. Modules ask it with the user's own credentials.
var getMyPermission = getMe(effectiveOne)

// The attribute writes are the account handlers run for the signed-in
// user.

func putMyAttributes(c *call) error {
	c.asMe()
	return putAttributes(c)
}

func deleteMyAttribute(c *call) error {
	c.asMe()
	return deleteAttribute(c)
}

// putMyAttribute runs putAttribute for the signed-in user. Its 204 passes
// through; its 201 (a new attribute) is shown again at the /me address.
func putMyAttribute(c *call) error {
	a, u := c.asMe()
	w := c.w
	cw := &heldResponse{header: http.Header{}}
	c.w = cw
	err := putAttribute(c)
	c.w = w
	if err != nil {
		return err
	}
	if cw.status != http.StatusCreated {
		for k, vs := range cw.header {
			w.Header()[k] = vs
		}
		w.WriteHeader(cw.status)
		if len(cw.body) > 0 {
			_, _ = w.Write(cw.body)
		}
		return nil
	}
	// The cache already shows the write (putAttribute rendered it), and
	// it only moves forward, so a read at any revision sees it.
	n := c.vars.Get("n")
	rb := rebaseFor(a, u)
	href, _ := rb.href(path("accounts", a, "users", u, "attributes", n))
	return c.show(http.StatusCreated, 0, href, func(v *nb) (Node, error) {
		return rb.node(v.attributeNode(a, u, n)), nil
	})
}

// heldResponse holds a handler's response instead of sending it.
type heldResponse struct {
	header http.Header
	status int
	body   []byte
}

func (h *heldResponse) Header() http.Header { return h.header }

func (h *heldResponse) WriteHeader(status int) {
	if h.status == 0 {
		h.status = status
	}
}

func (h *heldResponse) Write(b []byte) (int, error) {
	h.WriteHeader(http.StatusOK)
	h.body = append(h.body, b...)
	return len(b), nil
}

var myPasswordSchema = Schema{Root: "password", Text: []string{"old-password", "new-password"}}

// putMyPassword changes the signed-in user's own password. The old one
// must verify (a wrong one is 403 and counts as a failed sign-in for the
// throttle); the new one must meet the password policy, history
// included (checked inside the guarded write). It clears
// password-expired — this is the one route a user whose password has
// expired may call — and drops cached credentials at once.
func putMyPassword(c *call) error {
	a, u := c.asMe()
	if _, err := c.precheck(nil); err != nil {
		return err
	}
	f, err := c.entity(myPasswordSchema)
	if err != nil {
		return err
	}
	old, hasOld := f.Text["old-password"]
	pw, hasNew := f.Text["new-password"]
	if !hasOld {
		return problem(http.StatusBadRequest, "<old-password> is missing: changing one's own password needs the current one")
	}
	if !hasNew {
		return problem(http.StatusBadRequest, "<new-password> is missing")
	}
	if err := c.s.PasswordPolicy.Check(pw, u, a); err != nil {
		return passwordRefused("the new password", err)
	}
	var rec storage.User
	var found bool
	if err := c.s.Store.Read(c.r.Context(), 0, func(v storage.View) error {
		rec, found = v.User(a, u)
		return nil
	}); err != nil {
		return err
	}
	if !found {
		return unauthorized("the signed-in user no longer exists")
	}
	stamp := rec.PasswordHash
	ok := false
	if stamp != "" {
		ok, _ = authn.VerifyPassword(old, stamp)
	} else {
		authn.DummyVerify(old)
	}
	if !ok {
		addr := c.req.Server.ClientAddr(c.r)
		c.s.Throttle.Fail(a+`\`+u, addr)
		c.s.Logger.Info("own password change refused: wrong old password", "principal", a+`\`+u, "address", addr)
		return problem(http.StatusForbidden, "the old password is not correct")
	}
	if pw == old {
		// The history rule's first case, even with history 0: no
		// argon2id is needed to see it.
		return passwordRefused("the new password", &passwordpolicy.Violation{Rule: passwordpolicy.RuleHistory,
			Detail: "the new password must differ from the old one"})
	}
	reuse := c.s.PasswordPolicy.Reuse(pw)
	hash, err := authn.HashPassword(pw, c.s.HashParams, c.s.Random)
	if err != nil {
		return err
	}
	// Guarded on the hash that was verified: a password changed meanwhile
	// (by an administrator or a parallel request) is not overwritten.
	_, _, err = c.s.Store.PutItem(c.r.Context(), a, storage.KindUser, u, storage.UpdateOnly, func(val string, _ bool) (string, error) {
		cur, err := storage.DecodeUser(val)
		if err != nil {
			return "", err
		}
		if cur.PasswordHash != stamp {
			return "", problem(http.StatusConflict, "the password was changed while this request ran; sign in with the current one and retry")
		}
		if err := reuse.Check(cur); err != nil {
			return "", passwordRefused("the new password", err)
		}
		c.s.PasswordPolicy.SetPassword(&cur, hash, c.s.Now())
		return cur.Encode(), nil
	}, nil)
	if err != nil {
		return err
	}
	if c.s.Credentials != nil {
		c.s.Credentials.Forget(a + `\` + u)
	}
	return c.noContent()
}
