package resources

import (
	"net/http"

	"gatehouse/authz"
	"gatehouse/storage"
)

// Escalation prevention (SPEC §5): every write that grants power checks,
// inside its own guarded transaction (storage.WithCheck), that the caller
// may grant what it adds — authz.FirstUngrantable for permissions put
// into a role or a ceiling and for the permissions a new membership
// brings (a role's, or every role's of a group a user joins), and
// authz.MayChangeCeiling for any change of a ceiling. Only additions
// count: what a set already holds, or what is removed, grants nothing.
// A refusal is 403 and nothing is stored.

// checkGrant adds the escalation check of one write in account a: added
// lists, on the write's view, the permissions the write adds; cut is the
// ceiling that applies to them there.
func (c *call) checkGrant(a string, added func(v storage.View) []string, cut func(d authz.Directory, a string) authz.Ceiling) {
	c.check(func(v storage.View) error {
		grants := added(v)
		if len(grants) == 0 {
			return nil
		}
		if p, ok := authz.FirstUngrantable(v, c.p, grants, cut(v, a)); !ok {
			return problem(http.StatusForbidden, "%s may not grant %s in account %q: a principal grants only what it holds", c.p.Name(), p, a)
		}
		return nil
	})
}

// checkCeilingChange adds the rule that only principals of a strict
// ancestor change an account's ceiling.
func (c *call) checkCeilingChange(a string) error {
	check := func(v storage.View) error {
		if !authz.MayChangeCeiling(v, c.p, a) {
			return problem(http.StatusForbidden, "%s may not change the ceiling of account %q: only principals of an ancestor account may", c.p.Name(), a)
		}
		return nil
	}
	if err := c.s.Store.Read(c.r.Context(), 0, check); err != nil {
		return err
	}
	c.check(check)
	return nil
}

// newPermissions lists the permissions of ps that set does not hold yet.
func newPermissions(v storage.View, set storage.Coll, ps []string) []string {
	var out []string
	for _, p := range ps {
		if !v.HasMember(set, p) {
			out = append(out, p)
		}
	}
	return out
}

// membershipGrants lists the permissions that new memberships of from
// in tos (of link l, in account a) bring: a role's permissions, or those
// of every role of a group a user joins. Existing memberships bring
// nothing new.
func membershipGrants(v storage.View, a string, l storage.Link, from string, tos []string) []string {
	var out []string
	addRole := func(r string) bool {
		v.EachRolePermission(a, r, func(p string) bool {
			out = append(out, p)
			return true
		})
		return true
	}
	held := l.Of(a, from)
	for _, to := range tos {
		if v.HasMember(held, to) {
			continue
		}
		switch {
		case l.To == storage.KindRole:
			addRole(to)
		case l.To == storage.KindGroup: // a user joins group to
			v.EachGroupRole(a, to, addRole)
		case l.From == storage.KindGroup && l.To == storage.KindUser: // user to joins group from
			v.EachGroupRole(a, from, addRole)
		}
	}
	return out
}

// checkMembershipGrant adds the escalation check of a membership write.
func (c *call) checkMembershipGrant(m *memberKind, from string, tos []string) {
	a := c.vars.Get("a")
	c.checkGrant(a, func(v storage.View) []string {
		return membershipGrants(v, a, m.link, from, tos)
	}, authz.RoleGrant)
}

// checkTakeover adds the rule that setting or removing the password of
// another user needs the caller to hold everything that user holds:
// otherwise a caller could sign in as a stronger user and act with its
// power. A user that does not exist (yet) holds nothing.
func (c *call) checkTakeover(a, u string) {
	if c.p.Account == a && c.p.User == u {
		return
	}
	c.check(func(v storage.View) error {
		if exists, _ := v.UserState(a, u); !exists {
			return nil
		}
		held := authz.ComputeHolding(v, a, u).Effective()
		if p, ok := authz.FirstUngrantable(v, c.p, held, nil); !ok {
			return problem(http.StatusForbidden, "%s may not set the password of %s\\%s, who holds %s: a principal grants only what it holds", c.p.Name(), a, u, p)
		}
		return nil
	})
}
