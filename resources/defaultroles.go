package resources

import (
	"net/http"

	"gatehouse/authz"
	"gatehouse/storage"
)

// Default roles (SPEC §3c, Keycloak's default roles): an account's
// …/default-roles is a collection of role references, like a user's
// roles; every user created in the account — through the API, just in
// time by federation, by a directory sync — is given them in the
// transaction that creates it (storage.Txn.GrantDefaultRoles). A new
// account starts with "users" (starterRoles).
//
// Who could use this to give themselves more? A default role is granted
// to users created later, so:
//   - making a role a default role grants it: the caller must be able to
//     grant the role's permissions, like giving the role to a user
//     (authz.FirstUngrantable, cut by the account's ceiling), checked
//     inside the write's guarded transaction;
//   - creating a user through the API grants it the default roles: the
//     creator must be able to grant their permissions too (checked the
//     same way in the transaction that creates the user), otherwise a
//     principal allowed only to create users could create one with a
//     password and sign in with the default roles' power.
// Federation and directory syncs act on rules and providers that
// administrators set up; they grant the default roles unconditionally.

// defaultRolesHref is the href of account a's default roles.
func defaultRolesHref(a string) string { return path("accounts", a, "default-roles") }

// defaultRolesNode is account a's default roles: each role shown at its
// membership path with the role's fields.
func (v *nb) defaultRolesNode(a string) *Collection {
	href := defaultRolesHref(a)
	return storedColl(Collection{Element: "default-roles", Href: href}, storedSource{v: v.View,
		coll: storage.DefaultRoles(a), item: func(r string) Node { return v.roleAt(a, r, href+"/"+escapeSegment(r)) },
		links: roleLinks})
}

var getDefaultRoles = get(func(c *call, v *nb) (Node, error) {
	return v.defaultRolesNode(c.vars.Get("a")), nil
})

var getDefaultRole = get(func(c *call, v *nb) (Node, error) {
	a, r := c.vars.Get("a"), c.vars.Get("r")
	if !v.HasMember(storage.DefaultRoles(a), r) {
		return nil, problem(http.StatusNotFound, "role %q is not a default role of account %q", r, a)
	}
	return v.roleAt(a, r, defaultRolesHref(a)+"/"+escapeSegment(r)), nil
})

// putDefaultRole makes role {r} a default role: 201 with the role when
// it was not one, 204 when it was.
func putDefaultRole(c *call) error {
	r, err := c.name("r")
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
	c.checkGrant(a, func(v storage.View) []string {
		if v.HasMember(storage.DefaultRoles(a), r) {
			return nil // already one: grants nothing new
		}
		return rolePermissions(v, a, r)
	}, authz.RoleGrant)
	created, rev, err := c.s.Store.AddDefaultRole(c.r.Context(), a, r, storage.Upsert)
	if err != nil {
		return err
	}
	if !created {
		return c.noContent()
	}
	href := defaultRolesHref(a) + "/" + escapeSegment(r)
	return c.show(http.StatusCreated, rev, href, func(v *nb) (Node, error) { return v.roleAt(a, r, href), nil })
}

// deleteDefaultRole ends role {r} being a default role; users who have
// it keep it.
func deleteDefaultRole(c *call) error {
	r, err := c.name("r")
	if err != nil {
		return err
	}
	if _, err := c.precheck(nil); err != nil {
		return err
	}
	if _, err := c.s.Store.RemoveDefaultRole(c.r.Context(), c.vars.Get("a"), r); err != nil {
		return err
	}
	return c.noContent()
}

// rolePermissions lists role r's permissions in account a.
func rolePermissions(v storage.View, a, r string) []string {
	var out []string
	v.EachRolePermission(a, r, func(p string) bool {
		out = append(out, p)
		return true
	})
	return out
}

// checkDefaultRolesGrant is the user kind's extra on writes (items.go):
// creating a user gives it the account's default roles, so the creator
// must be able to grant their permissions. It adds the check, inside
// the write's guarded transaction, and no writes of its own.
func checkDefaultRolesGrant(c *call, a, u string, _ Fields) (func(storage.View, *storage.Txn, bool) error, error) {
	c.check(func(v storage.View) error {
		if v.HasItem(a, storage.KindUser, u) {
			return nil // an update creates nothing
		}
		var grants []string
		for _, r := range v.Names(storage.DefaultRoles(a)) {
			grants = append(grants, rolePermissions(v, a, r)...)
		}
		if len(grants) == 0 {
			return nil
		}
		if p, ok := authz.FirstUngrantable(v, c.p, grants, authz.RoleGrant(v, a)); !ok {
			return problem(http.StatusForbidden, "%s may not create a user in account %q: a new user gets the account's default roles, which grant %s, and a principal grants only what it holds", c.p.Name(), a, p)
		}
		return nil
	})
	return nil, nil
}
