package resources

import (
	"net/http"

	"gatehouse/authz"
	"gatehouse/storage"
)

// permSet describes a stored permission set: an account's ceiling or a
// role's permissions.
type permSet struct {
	what    string
	ceiling bool // an account's ceiling: only ancestors change it
	// locate returns the owner key, the set's key range and its href.
	locate func(c *call) (owner, prefix, href string, err error)
}

var ceilingSet = &permSet{what: "account", ceiling: true, locate: func(c *call) (string, string, string, error) {
	a := c.vars["a"]
	return storage.AccountKey(a), storage.ItemRange(a, storage.KindCeiling), path("accounts", a, "permissions"), nil
}}

var rolePermSet = &permSet{what: "role", locate: func(c *call) (string, string, string, error) {
	a := c.vars["a"]
	r, err := c.name("r")
	if err != nil {
		return "", "", "", err
	}
	return storage.ItemKey(a, storage.KindRole, r), storage.SubRange(a, storage.KindRolePerm, r), path("accounts", a, "roles", r, "permissions"), nil
}}

// guard adds the escalation checks of a write that puts ps (nil for a
// removal) into the set at prefix: a ceiling changes only by an ancestor's
// principal, and what is added must be the caller's to grant.
func (s *permSet) guard(c *call, prefix string, ps []string) error {
	a := c.vars["a"]
	if s.ceiling {
		if err := c.checkCeilingChange(a); err != nil {
			return err
		}
	}
	if len(ps) == 0 {
		return nil
	}
	cut := authz.RoleGrant
	if s.ceiling {
		cut = authz.CeilingGrant
	}
	c.checkGrant(a, func(v storage.View) []string { return newPermissions(v, prefix, ps) }, cut)
	return nil
}

func (s *permSet) ownerMissing(c *call) error {
	if s == rolePermSet {
		return problem(http.StatusNotFound, "role %q not found in account %q", c.vars["r"], c.vars["a"])
	}
	return problem(http.StatusNotFound, "account %q not found", c.vars["a"])
}

func getPermissionSet(s *permSet) func(*call) error {
	return get(func(c *call, v nb) (Node, error) {
		owner, prefix, href, err := s.locate(c)
		if err != nil {
			return nil, err
		}
		if !v.Has(owner) {
			return nil, s.ownerMissing(c)
		}
		return v.permissionSetNode(href, prefix), nil
	})
}

func getPermission(s *permSet) func(*call) error {
	return get(func(c *call, v nb) (Node, error) {
		owner, prefix, href, err := s.locate(c)
		if err != nil {
			return nil, err
		}
		p, err := c.permission()
		if err != nil {
			return nil, err
		}
		if !v.Has(owner) {
			return nil, s.ownerMissing(c)
		}
		if !v.Has(prefix + p) {
			return nil, problem(http.StatusNotFound, "the %s does not hold permission %q", s.what, p)
		}
		return v.storedPermissionNode(href, p), nil
	})
}

func putPermissionSet(s *permSet) func(*call) error {
	return func(c *call) error {
		owner, prefix, _, err := s.locate(c)
		if err != nil {
			return err
		}
		if _, err := c.precheck(nil); err != nil {
			return err
		}
		el, err := c.body("permissions")
		if err != nil {
			return err
		}
		if p := onlyAttrs(el, "count", "href"); p != nil {
			return p
		}
		ps, p := decodeTextItems(el, "permission")
		if p != nil {
			return p
		}
		m, err := validPermissions(ps)
		if err != nil {
			return err
		}
		if err := s.guard(c, prefix, ps); err != nil {
			return err
		}
		if _, err := c.s.Store.SetReplace(c.r.Context(), owner, prefix, m); err != nil {
			return err
		}
		return c.noContent()
	}
}

func deletePermissionSet(s *permSet) func(*call) error {
	return func(c *call) error {
		owner, prefix, _, err := s.locate(c)
		if err != nil {
			return err
		}
		if _, err := c.precheck(nil); err != nil {
			return err
		}
		if err := s.guard(c, prefix, nil); err != nil {
			return err
		}
		if _, err := c.s.Store.SetReplace(c.r.Context(), owner, prefix, nil); err != nil {
			return err
		}
		return c.noContent()
	}
}

func putPermission(s *permSet) func(*call) error {
	return func(c *call) error {
		owner, prefix, href, err := s.locate(c)
		if err != nil {
			return err
		}
		p, err := c.permission()
		if err != nil {
			return err
		}
		if _, err := c.precheck(nil); err != nil {
			return err
		}
		if err := c.noBody(); err != nil {
			return err
		}
		if err := s.guard(c, prefix, []string{p}); err != nil {
			return err
		}
		created, rev, err := c.s.Store.SetAdd(c.r.Context(), owner, prefix, p, "", storage.Upsert)
		if err != nil {
			return err
		}
		if !created {
			return c.noContent()
		}
		loc := href + "/" + escapeSegment(p)
		return c.show(http.StatusCreated, rev, loc, func(v nb) (Node, error) { return v.storedPermissionNode(href, p), nil })
	}
}

func deletePermission(s *permSet) func(*call) error {
	return func(c *call) error {
		owner, prefix, _, err := s.locate(c)
		if err != nil {
			return err
		}
		p, err := c.permission()
		if err != nil {
			return err
		}
		if _, err := c.precheck(nil); err != nil {
			return err
		}
		if err := s.guard(c, prefix, nil); err != nil {
			return err
		}
		if _, err := c.s.Store.SetRemove(c.r.Context(), owner, prefix, p); err != nil {
			return err
		}
		return c.noContent()
	}
}
