package authz

import "gatehouse/authn"

// Escalation prevention (SPEC §5, after Kubernetes RBAC): a principal
// grants only what it holds. These checks read the directory afresh (no
// memo), so that run on a write's guarded view every read becomes a guard
// of the write and the check holds on the revision it commits on.

// MayChangeCeiling reports whether principal p may change account a's
// ceiling: only principals of a strict ancestor of a may; for an account
// without a parent (a root, system itself included), system principals.
// An account's own principals never may: a ceiling its own principals
// can raise is no ceiling.
func MayChangeCeiling(d Directory, p authn.Principal, a string) bool {
	parent, ok := d.Parent(a)
	if !ok {
		return p.Account == SystemAccount
	}
	return p.Account != a && Within(p.Account, parent, d.Parent)
}

// RoleGrant is the ceiling that cuts what a role of account a grants: a's
// effective ceiling.
func RoleGrant(d Directory, a string) Ceiling {
	c, _ := CeilingOf(d, a)
	return c
}

// CeilingGrant is the ceiling that cuts what account a's own ceiling
// lets through: its parent's effective ceiling, or nil (uncut) for a
// root.
func CeilingGrant(d Directory, a string) Ceiling {
	parent, ok := d.Parent(a)
	if !ok {
		return nil
	}
	c, _ := CeilingOf(d, parent)
	return c
}

// FirstUngrantable returns the first of grants that principal p may not
// give where cut applies, and false; or "", true when p may give them
// all. A grant g gives, in effect, Effective([g], cut) (all of g when cut
// is nil); p must be granted every one of those by its own effective
// permissions (its roles and groups within its account's ceiling, cut by
// its scopes). So a tenant administrator holding auth:* cannot put
// print:* into a role, and one holding the starter administrators role
// (* within its ceiling) may assign that role inside its tenant, since
// the role gives no more than the tenant's ceiling, which it holds.
func FirstUngrantable(d Directory, p authn.Principal, grants []string, cut Ceiling) (string, bool) {
	if len(grants) == 0 {
		return "", true
	}
	exists, enabled := d.UserState(p.Account, p.User)
	if !exists || !enabled {
		return grants[0], false
	}
	h := ComputeHolding(d, p.Account, p.User)
	var au Authority
	for _, g := range grants {
		given := []string{g}
		if cut != nil {
			given = Effective(given, cut)
		}
		for _, x := range given {
			if !au.decideHeld(h, p, x).Granted() {
				return g, false
			}
		}
	}
	return "", true
}
