package resources

import (
	"net/http"

	"gatehouse/storage"
)

// memberKind describes one side of a membership for the generic handlers:
// /users/{u}/roles, /users/{u}/groups, /groups/{g}/roles, /groups/{g}/users.
type memberKind struct {
	link     storage.Link
	fromVar  string // path variable of the owner
	fromPath string // "users" or "groups"
	toVar    string // path variable of the member
	element  string // collection element: "roles"
	item     string // item element: "role"
	// single renders GET of one member: the seed shows a user's role as
	// the account role, and a user's group at its membership path.
	single func(v *nb, a, to, href string) Node
}

var (
	userRoles = &memberKind{link: storage.UserRoles, fromVar: "u", fromPath: "users", toVar: "r", element: "roles", item: "role",
		single: func(v *nb, a, to, _ string) Node { return v.roleNode(a, to) }}
	userGroups = &memberKind{link: storage.UserGroups, fromVar: "u", fromPath: "users", toVar: "g", element: "groups", item: "group",
		single: func(v *nb, a, to, href string) Node { return v.groupAt(a, to, href) }}
	groupRoles = &memberKind{link: storage.GroupRoles, fromVar: "g", fromPath: "groups", toVar: "r", element: "roles", item: "role",
		single: func(v *nb, a, to, _ string) Node { return v.roleNode(a, to) }}
	groupUsers = &memberKind{link: storage.GroupUsers, fromVar: "g", fromPath: "groups", toVar: "u", element: "users", item: "user",
		single: func(v *nb, a, to, _ string) Node { return v.userNode(a, to) }}
)

func (m *memberKind) href(a, from string) string {
	return path("accounts", a, m.fromPath, from, m.element)
}

// owner returns the validated owner name, answering 404 if it is absent.
func (m *memberKind) owner(c *call, v storage.View) (string, error) {
	a, from := c.vars.Get("a"), c.vars.Get(m.fromVar)
	if !v.HasItem(a, m.link.From, from) {
		return "", problem(http.StatusNotFound, "%s %q not found in account %q", m.link.From, from, a)
	}
	return from, nil
}

func getMembers(m *memberKind) func(*call) error {
	return get(func(c *call, v *nb) (Node, error) {
		from, err := m.owner(c, v.raw)
		if err != nil {
			return nil, err
		}
		a := c.vars.Get("a")
		return v.membersNode(a, m.link, from, m.element, m.href(a, from)), nil
	})
}

func getMember(m *memberKind) func(*call) error {
	return get(func(c *call, v *nb) (Node, error) {
		from, err := m.owner(c, v.raw)
		if err != nil {
			return nil, err
		}
		a, to := c.vars.Get("a"), c.vars.Get(m.toVar)
		if !v.HasMember(m.link.Of(a, from), to) {
			return nil, problem(http.StatusNotFound, "%s %q of %s %q not found", m.item, to, m.link.From, from)
		}
		return m.single(v, a, to, m.href(a, from)+"/"+escapeSegment(to)), nil
	})
}

func (m *memberKind) showCreated(c *call, rev int64, from, to string) error {
	a := c.vars.Get("a")
	href := m.href(a, from) + "/" + escapeSegment(to)
	return c.show(http.StatusCreated, rev, href, func(v *nb) (Node, error) { return m.single(v, a, to, href), nil })
}

func postMember(m *memberKind) func(*call) error {
	return func(c *call) error {
		from, err := c.name(m.fromVar)
		if err != nil {
			return err
		}
		if _, err := c.precheck(nil); err != nil {
			return err
		}
		el, err := c.body(m.item)
		if err != nil {
			return err
		}
		to, p := decodeRef(el)
		if p != nil {
			return p
		}
		if err := validName(m.item, to); err != nil {
			return err
		}
		c.checkMembershipGrant(m, from, []string{to})
		_, rev, err := c.s.Store.LinkAdd(c.r.Context(), c.vars.Get("a"), m.link, from, to, storage.CreateOnly)
		if err != nil {
			return err
		}
		return m.showCreated(c, rev, from, to)
	}
}

func putMember(m *memberKind) func(*call) error {
	return func(c *call) error {
		ns, err := c.names(m.fromVar, m.toVar)
		if err != nil {
			return err
		}
		if _, err := c.precheck(nil); err != nil {
			return err
		}
		if err := c.noBody(); err != nil {
			return err
		}
		c.checkMembershipGrant(m, ns[0], ns[1:])
		created, rev, err := c.s.Store.LinkAdd(c.r.Context(), c.vars.Get("a"), m.link, ns[0], ns[1], storage.Upsert)
		if err != nil {
			return err
		}
		if created {
			return m.showCreated(c, rev, ns[0], ns[1])
		}
		return c.noContent()
	}
}

func putMembers(m *memberKind) func(*call) error {
	return func(c *call) error {
		from, err := c.name(m.fromVar)
		if err != nil {
			return err
		}
		if _, err := c.precheck(nil); err != nil {
			return err
		}
		el, err := c.body(m.element)
		if err != nil {
			return err
		}
		tos, p := decodeRefList(el, m.item)
		if p != nil {
			return p
		}
		for _, to := range tos {
			if err := validName(m.item, to); err != nil {
				return err
			}
		}
		c.checkMembershipGrant(m, from, tos)
		if _, err := c.s.Store.LinkReplace(c.r.Context(), c.vars.Get("a"), m.link, from, tos); err != nil {
			return err
		}
		return c.noContent()
	}
}

func deleteMembers(m *memberKind) func(*call) error {
	return func(c *call) error {
		from, err := c.name(m.fromVar)
		if err != nil {
			return err
		}
		if _, err := c.precheck(nil); err != nil {
			return err
		}
		if _, err := c.s.Store.LinkReplace(c.r.Context(), c.vars.Get("a"), m.link, from, nil); err != nil {
			return err
		}
		return c.noContent()
	}
}

func deleteMember(m *memberKind) func(*call) error {
	return func(c *call) error {
		ns, err := c.names(m.fromVar, m.toVar)
		if err != nil {
			return err
		}
		if _, err := c.precheck(nil); err != nil {
			return err
		}
		if _, err := c.s.Store.LinkRemove(c.r.Context(), c.vars.Get("a"), m.link, ns[0], ns[1]); err != nil {
			return err
		}
		return c.noContent()
	}
}
