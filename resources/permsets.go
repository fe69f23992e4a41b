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
	// locate returns the stored set (owned by the account or the role)
	// and its href.
	locate func(c *call) (set storage.Coll, href string, err error)
}

var ceilingSet = &permSet{what: "account", ceiling: true, locate: func(c *call) (storage.Coll, string, error) {
	a := c.vars.Get("a")
	return storage.Coll{Account: a, Kind: storage.KindCeiling}, path("accounts", a, "permissions"), nil
}}

var rolePermSet = &permSet{what: "role", locate: func(c *call) (storage.Coll, string, error) {
	a := c.vars.Get("a")
	r, err := c.name("r")
	if err != nil {
		return storage.Coll{}, "", err
	}
	return storage.Coll{Account: a, Kind: storage.KindRolePerm, Owner: r}, path("accounts", a, "roles", r, "permissions"), nil
}}

// guard adds the escalation checks of a write that puts ps (nil for a
// removal) into set: a ceiling changes only by an ancestor's principal,
// and what is added must be the caller's to grant.
func (s *permSet) guard(c *call, set storage.Coll, ps []string) error {
	a := c.vars.Get("a")
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
	c.checkGrant(a, func(v storage.View) []string { return newPermissions(v, set, ps) }, cut)
	return nil
}

func (s *permSet) ownerMissing(c *call) error {
	if s == rolePermSet {
		return problem(http.StatusNotFound, "role %q not found in account %q", c.vars.Get("r"), c.vars.Get("a"))
	}
	return problem(http.StatusNotFound, "account %q not found", c.vars.Get("a"))
}

func getPermissionSet(s *permSet) func(*call) error {
	return get(func(c *call, v *nb) (Node, error) {
		set, href, err := s.locate(c)
		if err != nil {
			return nil, err
		}
		if !v.HasOwner(set) {
			return nil, s.ownerMissing(c)
		}
		return v.permissionSetNode(href, set), nil
	})
}

func getPermission(s *permSet) func(*call) error {
	return get(func(c *call, v *nb) (Node, error) {
		set, href, err := s.locate(c)
		if err != nil {
			return nil, err
		}
		p, err := c.permission()
		if err != nil {
			return nil, err
		}
		if !v.HasOwner(set) {
			return nil, s.ownerMissing(c)
		}
		if !v.HasMember(set, p) {
			return nil, problem(http.StatusNotFound, "the %s does not hold permission %q", s.what, p)
		}
		return v.storedPermissionNode(href, p), nil
	})
}

func putPermissionSet(s *permSet) func(*call) error {
	return func(c *call) error {
		set, _, err := s.locate(c)
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
		if err := s.guard(c, set, ps); err != nil {
			return err
		}
		if _, err := c.s.Store.SetReplace(c.r.Context(), set, m); err != nil {
			return err
		}
		return c.noContent()
	}
}

func deletePermissionSet(s *permSet) func(*call) error {
	return func(c *call) error {
		set, _, err := s.locate(c)
		if err != nil {
			return err
		}
		if _, err := c.precheck(nil); err != nil {
			return err
		}
		if err := s.guard(c, set, nil); err != nil {
			return err
		}
		if _, err := c.s.Store.SetReplace(c.r.Context(), set, nil); err != nil {
			return err
		}
		return c.noContent()
	}
}

func putPermission(s *permSet) func(*call) error {
	return func(c *call) error {
		set, href, err := s.locate(c)
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
		if err := s.guard(c, set, []string{p}); err != nil {
			return err
		}
		created, rev, err := c.s.Store.SetAdd(c.r.Context(), set, p, "", storage.Upsert)
		if err != nil {
			return err
		}
		if !created {
			return c.noContent()
		}
		loc := href + "/" + escapeSegment(p)
		return c.show(http.StatusCreated, rev, loc, func(v *nb) (Node, error) { return v.storedPermissionNode(href, p), nil })
	}
}

func deletePermission(s *permSet) func(*call) error {
	return func(c *call) error {
		set, _, err := s.locate(c)
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
		if err := s.guard(c, set, nil); err != nil {
			return err
		}
		if _, err := c.s.Store.SetRemove(c.r.Context(), set, p); err != nil {
			return err
		}
		return c.noContent()
	}
}
