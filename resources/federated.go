package resources

import (
	"net/http"
	"slices"
	"strconv"

	"gatehouse/authz"
	"gatehouse/federation"
	"gatehouse/storage"
)

// Federated principals (SPEC §4, §8a; seed 001's /federated): read-only
// documents of what federated sign-ins stored (federation.Resolve).
//
//	/federated                                   <federations>: the types
//	/federated/{type}                            <federation>
//	/federated/{type}/principals[/{principal}]   <federated-users>, <federated-user>
//	…/{principal}/attributes[/{n}]               the principal's attributes
//	…/{principal}/users                          the user it is linked to
//
// Decisions:
//   - The types are always the three of SPEC §8 (email, ldap, saml),
//     whether or not any principal of a type exists yet.
//   - Tenancy: a principal belongs to its provider's account; system
//     principals see every principal, others those of their account and
//     its descendants (a principal of another tenant is 404 like a
//     missing one, and lists leave it out). Non-system lists are
//     computed by a scan of the type's principals.
//   - An attribute shows one <value> per value (SPEC §8a); its
//     identifier is its name as stored (federation.Escape: "/" is
//     "%2F"), its <name> the name as the source spelled it.
//   - …/users lists the linked user while it exists (the link is left
//     dangling when the user or its account is deleted).

// visiblePrincipal reports whether the caller may see principal p.
func (v *nb) visiblePrincipal(p storage.Principal) bool {
	return authz.Within(v.p.Account, p.Account, v.raw.Parent)
}

func federationHref(typ string) string { return path("federated", typ) }

func principalsHref(typ string) string { return path("federated", typ, "principals") }

func principalHref(typ, id string) string { return path("federated", typ, "principals", id) }

func (v *nb) federationsNode() *Collection {
	return &Collection{Element: "federations", Href: path("federated"), Items: sliceSource{names: federation.Types,
		item: func(typ string) Node { return v.federationNode(typ) }}}
}

func (v *nb) federationNode(typ string) *Entity {
	return &Entity{Element: "federation", Identifier: typ, Href: federationHref(typ), Fields: func(f []Field) []Field {
		return append(f,
			Field{Node: v.principalsNode(typ)},
			Field{Name: "type", Text: typ},
		)
	}}
}

// principalSource pages the principals of one type the caller may see.
type principalSource struct {
	v   *nb
	typ string
}

func (s principalSource) all() bool { return s.v.p.Account == authz.SystemAccount }

// visible lists the ids of the principals the caller may see.
func (s principalSource) visible() []string {
	var ids []string
	s.v.EachPrincipal(s.typ, func(id string, p storage.Principal) bool {
		if s.v.visiblePrincipal(p) {
			ids = append(ids, id)
		}
		return true
	})
	return ids
}

func (s principalSource) item(id string) Node { return s.v.principalNode(s.typ, id) }

func (s principalSource) Count() int {
	if s.all() {
		return s.v.PrincipalCount(s.typ)
	}
	return len(s.visible())
}

func (s principalSource) Page(filter string, offset, limit int) ([]Node, int) {
	if !s.all() {
		return sliceSource{names: s.visible(), item: s.item}.Page(filter, offset, limit)
	}
	ids, n := s.v.PrincipalsPage(s.typ, filter, func(x string) bool { return authz.Glob(filter, x) }, offset, limit)
	return nodesOf(ids, s.item), n
}

func (v *nb) principalsNode(typ string) *Collection {
	return &Collection{Element: "federated-users", Href: principalsHref(typ), Items: principalSource{v: v, typ: typ}}
}

func (v *nb) principalNode(typ, id string) *Entity {
	href := principalHref(typ, id)
	return &Entity{Element: "federated-user", Identifier: id, Href: href, Fields: func(f []Field) []Field {
		return append(f,
			Field{Node: v.principalAttributesNode(typ, id)},
			Field{Name: "principal", Text: id},
			Field{Name: "type", Text: typ},
			Field{Node: v.principalUsersNode(typ, id)},
		)
	}}
}

// principalAttrSource pages a principal's attributes.
type principalAttrSource struct {
	v       *nb
	typ, id string
}

func (s principalAttrSource) Count() int { return s.v.PrincipalAttributeCount(s.typ, s.id) }

func (s principalAttrSource) Page(filter string, offset, limit int) ([]Node, int) {
	names, n := s.v.PrincipalAttributesPage(s.typ, s.id, filter, func(x string) bool { return authz.Glob(filter, x) }, offset, limit)
	return nodesOf(names, func(name string) Node { return s.v.principalAttributeNode(s.typ, s.id, name) }), n
}

func (v *nb) principalAttributesNode(typ, id string) *Collection {
	return &Collection{Element: "attributes", Href: principalHref(typ, id) + "/attributes",
		Items: principalAttrSource{v: v, typ: typ, id: id}}
}

func (v *nb) principalAttributeNode(typ, id, name string) *Entity {
	href := principalHref(typ, id) + "/attributes/" + escapeSegment(name)
	return &Entity{Element: "attribute", Identifier: name, Href: href, Fields: func(f []Field) []Field {
		attr, num, _ := v.PrincipalAttribute(typ, id, name)
		f = append(f,
			Field{Name: "id", Text: strconv.FormatInt(num, 10)},
			Field{Name: "name", Text: attr.Name},
		)
		if len(attr.Values) == 0 {
			return append(f, Field{Name: "value", Always: true})
		}
		for _, val := range attr.Values {
			f = append(f, Field{Name: "value", Text: val, Always: true})
		}
		return f
	}}
}

// linkedUser is the user principal id is linked to, if it still exists.
func (v *nb) linkedUser(typ, id string) (a, u string, ok bool) {
	p, found := v.Principal(typ, id)
	if !found || p.LinkUser == "" {
		return "", "", false
	}
	if !v.HasItem(p.LinkAccount, storage.KindUser, p.LinkUser) || !authz.Within(v.p.Account, p.LinkAccount, v.raw.Parent) {
		return "", "", false
	}
	return p.LinkAccount, p.LinkUser, true
}

func (v *nb) principalUsersNode(typ, id string) *Collection {
	var names []string
	a, u, ok := v.linkedUser(typ, id)
	if ok {
		names = []string{u}
		v.Mix("user:" + a + `\` + u)
	}
	return &Collection{Element: "users", Href: principalHref(typ, id) + "/users", Items: sliceSource{names: names,
		item: func(u string) Node { return v.userAt(a, u, userHref(a, u), "") }}}
}

// Handlers.

// federationType is the path's type, 404 unless it is one.
func (c *call) federationType() (string, error) {
	typ := c.vars.Get("type")
	if !slices.Contains(federation.Types, typ) {
		return "", problem(http.StatusNotFound, "no federation type %q; the types are email, ldap and saml", typ)
	}
	return typ, nil
}

// thePrincipal is the path's type and principal, 404 unless the
// principal exists and the caller may see it.
func (c *call) thePrincipal(v *nb) (typ, id string, err error) {
	if typ, err = c.federationType(); err != nil {
		return "", "", err
	}
	id = c.vars.Get("principal")
	p, ok := v.raw.Principal(typ, id)
	if !ok || !v.visiblePrincipal(p) {
		return "", "", problem(http.StatusNotFound, "no %s principal %q", typ, id)
	}
	// The document depends on the principal's record (its account and
	// link): fold it in.
	v.Principal(typ, id)
	return typ, id, nil
}

var getFederations = get(func(c *call, v *nb) (Node, error) { return v.federationsNode(), nil })

var getFederation = get(func(c *call, v *nb) (Node, error) {
	typ, err := c.federationType()
	if err != nil {
		return nil, err
	}
	return v.federationNode(typ), nil
})

var getPrincipals = get(func(c *call, v *nb) (Node, error) {
	typ, err := c.federationType()
	if err != nil {
		return nil, err
	}
	return v.principalsNode(typ), nil
})

var getPrincipal = get(func(c *call, v *nb) (Node, error) {
	typ, id, err := c.thePrincipal(v)
	if err != nil {
		return nil, err
	}
	return v.principalNode(typ, id), nil
})

var getPrincipalAttributes = get(func(c *call, v *nb) (Node, error) {
	typ, id, err := c.thePrincipal(v)
	if err != nil {
		return nil, err
	}
	return v.principalAttributesNode(typ, id), nil
})

var getPrincipalAttribute = get(func(c *call, v *nb) (Node, error) {
	typ, id, err := c.thePrincipal(v)
	if err != nil {
		return nil, err
	}
	n := c.vars.Get("n")
	if _, _, ok := v.raw.PrincipalAttribute(typ, id, n); !ok {
		return nil, problem(http.StatusNotFound, "%s principal %q has no attribute %q", typ, id, n)
	}
	return v.principalAttributeNode(typ, id, n), nil
})

var getPrincipalUsers = get(func(c *call, v *nb) (Node, error) {
	typ, id, err := c.thePrincipal(v)
	if err != nil {
		return nil, err
	}
	return v.principalUsersNode(typ, id), nil
})
