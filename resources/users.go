package resources

import (
	"context"
	"errors"
	"net/http"
	"time"

	"gatehouse/authn"
	"gatehouse/passwordpolicy"
	"gatehouse/storage"
)

// userMissing is the 404 for a user path whose user does not exist.
func userMissing(c *call) error {
	return problem(http.StatusNotFound, "user %q not found in account %q", c.vars.Get("u"), c.vars.Get("a"))
}

// resetUserPart adapts a DELETE (no body) that resets a part of the
// path's user with reset (a second factor, a lockout); a missing user
// is 404, and after reset succeeds after is called (nil: nothing).
func resetUserPart(reset func(s *storage.Store, ctx context.Context, a, u string) error, after func(c *call, a, u string)) func(*call) error {
	return func(c *call) error {
		u, err := c.name("u")
		if err != nil {
			return err
		}
		a := c.vars.Get("a")
		if _, err := c.precheck(nil); err != nil {
			return err
		}
		if err := c.noBody(); err != nil {
			return err
		}
		if err := reset(c.s.Store, c.r.Context(), a, u); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return userMissing(c)
			}
			return err
		}
		if after != nil {
			after(c, a, u)
		}
		return c.noContent()
	}
}

// getUserPart adapts a read handler of a user's sub-resource.
func getUserPart(build func(c *call, v *nb, a, u string) (Node, error)) func(*call) error {
	return get(func(c *call, v *nb) (Node, error) {
		a, u := c.vars.Get("a"), c.vars.Get("u")
		if !v.HasItem(a, storage.KindUser, u) {
			return nil, userMissing(c)
		}
		return build(c, v, a, u)
	})
}

func putPassword(c *call) error {
	u, err := c.name("u")
	if err != nil {
		return err
	}
	if _, err := c.precheck(nil); err != nil {
		return err
	}
	el, err := c.body("password")
	if err != nil {
		return err
	}
	pw, p := textOf(el)
	if p != nil {
		return p
	}
	if p := onlyAttrs(el); p != nil {
		return p
	}
	if err := c.s.PasswordPolicy.Check(pw, u, c.vars.Get("a")); err != nil {
		return passwordRefused("the password", err)
	}
	hash, err := authn.HashPassword(pw, c.s.HashParams, c.s.Random)
	if err != nil {
		return err
	}
	return c.setPassword(u, hash, c.s.PasswordPolicy.Reuse(pw))
}

// passwordRefused is the 400 of a password the policy refuses: the
// detail names the rule and what failed, and the problem's <rule>
// element holds the rule's name (SPEC §3c). Other errors pass through.
func passwordRefused(what string, err error) error {
	var v *passwordpolicy.Violation
	if !errors.As(err, &v) {
		return err
	}
	return problem(http.StatusBadRequest, "%s does not meet the password policy (rule %s): %s", what, v.Rule, v.Detail).
		With("rule", v.Rule)
}

// passwordExpired is the password-expired a user document shows: the
// stored flag, or a password older than auth.password.max-age. The
// answer depends on the clock as well as on the record, so an answer
// that differs from the stored flag is folded into the ETag.
func (v *nb) passwordExpired(rec storage.User) bool {
	if v.pwExpired == nil {
		return rec.PasswordExpired
	}
	expired := v.pwExpired(rec, v.clock())
	if expired != rec.PasswordExpired {
		v.Mix("password-expired:aged")
	}
	return expired
}

// pwExpiry is what nb asks for password-expired: the server's policy.
func (s *Server) pwExpiry(rec storage.User, now time.Time) bool {
	return s.PasswordPolicy.Expired(rec, now)
}

func deletePassword(c *call) error {
	u, err := c.name("u")
	if err != nil {
		return err
	}
	if _, err := c.precheck(nil); err != nil {
		return err
	}
	return c.setPassword(u, "", nil)
}

// setPassword stores a new hash (or none) through the password policy:
// the replaced one joins the history, the change time is now, and
// password-expired is cleared; cached credentials are dropped at once.
// reuse, when not nil, is the history rule, checked inside the guarded
// update so that it holds on the revision the new hash is written on.
func (c *call) setPassword(u, hash string, reuse *passwordpolicy.Reuse) error {
	a := c.vars.Get("a")
	c.checkTakeover(a, u)
	_, _, err := c.s.Store.PutItem(c.r.Context(), a, storage.KindUser, u, storage.UpdateOnly, func(old string, _ bool) (string, error) {
		rec, err := storage.DecodeUser(old)
		if err != nil {
			return "", err
		}
		if reuse != nil {
			if err := reuse.Check(rec); err != nil {
				return "", passwordRefused("the password", err)
			}
		}
		c.s.PasswordPolicy.SetPassword(&rec, hash, c.s.Now())
		return rec.Encode(), nil
	}, nil)
	if err != nil {
		return err
	}
	if c.s.Credentials != nil {
		c.s.Credentials.Forget(a + `\` + u)
	}
	return c.noContent()
}

var attributeSchema = Schema{Root: "attribute", Text: []string{"name", "value"}, Ignored: []string{"id"}}

// maxAttributeValue bounds one attribute's value.
const maxAttributeValue = 8192

func decodeAttribute(f Fields) (string, string, error) {
	name, value := f.Text["name"], f.Text["value"]
	if len(value) > maxAttributeValue {
		return "", "", problem(http.StatusBadRequest, "attribute %q: value is longer than %d bytes", name, maxAttributeValue)
	}
	return name, value, nil
}

// attrSet is the attributes of the path's user.
func attrSet(c *call) (storage.Coll, error) {
	ns, err := c.names("u")
	if err != nil {
		return storage.Coll{}, err
	}
	return attributes(c.vars.Get("a"), ns[0]), nil
}

var getAttributes = getUserPart(func(c *call, v *nb, a, u string) (Node, error) {
	return v.attributesNode(a, u), nil
})

var getAttribute = getUserPart(func(c *call, v *nb, a, u string) (Node, error) {
	n := c.vars.Get("n")
	if !v.HasMember(attributes(a, u), n) {
		return nil, problem(http.StatusNotFound, "attribute %q of user %q not found", n, u)
	}
	return v.attributeNode(a, u, n), nil
})

func (c *call) showAttribute(rev int64, name string) error {
	a, u := c.vars.Get("a"), c.vars.Get("u")
	return c.show(http.StatusCreated, rev, path("accounts", a, "users", u, "attributes", name), func(v *nb) (Node, error) {
		return v.attributeNode(a, u, name), nil
	})
}

// attributeBody checks the account and reads an <attribute> body.
func (c *call) attributeBody() (f Fields, name, value string, err error) {
	if _, err = c.precheck(nil); err != nil {
		return
	}
	if f, err = c.entity(attributeSchema); err != nil {
		return
	}
	name, value, err = decodeAttribute(f)
	return
}

func postAttribute(c *call) error {
	attrs, err := attrSet(c)
	if err != nil {
		return err
	}
	_, name, value, err := c.attributeBody()
	if err != nil {
		return err
	}
	if err := validName("attribute", name); err != nil {
		return err
	}
	_, rev, err := c.s.Store.SetAdd(c.r.Context(), attrs, name, value, storage.CreateOnly)
	if err != nil {
		return err
	}
	return c.showAttribute(rev, name)
}

func putAttribute(c *call) error {
	attrs, err := attrSet(c)
	if err != nil {
		return err
	}
	n, err := c.name("n")
	if err != nil {
		return err
	}
	f, name, value, err := c.attributeBody()
	if err != nil {
		return err
	}
	if name != "" && name != n {
		return problem(http.StatusBadRequest, "the body names attribute %q but the path names %q", name, n)
	}
	// PUT updates the fields present: without <value> an existing
	// attribute keeps its value.
	created, rev, err := c.s.Store.SetUpdate(c.r.Context(), attrs, n, storage.Upsert, func(old string, ok bool) string {
		if ok && !f.Has("value") {
			return old
		}
		return value
	})
	if err != nil {
		return err
	}
	if created {
		return c.showAttribute(rev, n)
	}
	return c.noContent()
}

func putAttributes(c *call) error {
	attrs, err := attrSet(c)
	if err != nil {
		return err
	}
	if _, err := c.precheck(nil); err != nil {
		return err
	}
	el, err := c.body("attributes")
	if err != nil {
		return err
	}
	if p := onlyAttrs(el, "count", "href"); p != nil {
		return p
	}
	if p := noText(el); p != nil {
		return p
	}
	m := map[string]string{}
	for _, it := range el.ChildElements() {
		if it.Tag != "attribute" {
			return problem(http.StatusBadRequest, "element <%s> is misplaced in <attributes>; expected <attribute>", it.Tag)
		}
		f, p := decodeEntity(it, attributeSchema)
		if p != nil {
			return p
		}
		name, value, err := decodeAttribute(f)
		if err != nil {
			return err
		}
		if err := validName("attribute", name); err != nil {
			return err
		}
		if _, dup := m[name]; dup {
			return problem(http.StatusBadRequest, "attribute %q appears more than once", name)
		}
		m[name] = value
	}
	if _, err := c.s.Store.SetReplace(c.r.Context(), attrs, m); err != nil {
		return err
	}
	return c.noContent()
}

func deleteAttributes(c *call) error {
	attrs, err := attrSet(c)
	if err != nil {
		return err
	}
	if _, err := c.precheck(nil); err != nil {
		return err
	}
	if _, err := c.s.Store.SetReplace(c.r.Context(), attrs, nil); err != nil {
		return err
	}
	return c.noContent()
}

func deleteAttribute(c *call) error {
	attrs, err := attrSet(c)
	if err != nil {
		return err
	}
	n, err := c.name("n")
	if err != nil {
		return err
	}
	if _, err := c.precheck(nil); err != nil {
		return err
	}
	if _, err := c.s.Store.SetRemove(c.r.Context(), attrs, n); err != nil {
		return err
	}
	return c.noContent()
}

var getEffective = getUserPart(func(c *call, v *nb, a, u string) (Node, error) {
	return v.effectiveNode(a, u), nil
})

// getEffectiveOne answers by implication: 200 naming the granting role
// when the user holds p, 404 when not.
var getEffectiveOne = getUserPart(effectiveOne)

// effectiveOne answers whether user u of account a holds the path's
// permission: its document names the granting role, or 404.
func effectiveOne(c *call, v *nb, a, u string) (Node, error) {
	p, err := c.permission()
	if err != nil {
		return nil, err
	}
	role, ok := v.questioned(a, u).Decide(p)
	v.Mix("granted-by:" + role)
	if !ok {
		return nil, problem(http.StatusNotFound, "user %q does not hold permission %q", u, p)
	}
	n := permissionNode(path("accounts", a, "users", u, "permissions"), p)
	n.Attrs = [][2]string{{"granted-by", path("accounts", a, "roles", role)}}
	return n, nil
}

var getClients = getUserPart(func(c *call, v *nb, a, u string) (Node, error) {
	return findField(v.userNode(a, u), "clients"), nil
})

var getUserFederated = getUserPart(func(c *call, v *nb, a, u string) (Node, error) {
	return findField(v.userNode(a, u), "federations"), nil
})

// findField returns the child node of e whose element is name.
func findField(e *Entity, name string) Node {
	for _, f := range e.Fields(nil) {
		if f.Node != nil && f.Node.element() == name {
			return f.Node
		}
	}
	return nil
}
