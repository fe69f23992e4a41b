package resources

import (
	"slices"
	"strconv"
	"sync"
	"time"

	"gatehouse/authn"
	"gatehouse/authz"
	"gatehouse/catalog"
	"gatehouse/storage"
)

// This file describes every resource as nodes; render.go shows them.

// nb builds nodes from one storage view for one caller. The view is a
// tracking one (its reads make the ETag); raw is the same snapshot
// untracked, for memoised holdings, whose content is folded in instead
// (Mix), so an ETag does not depend on whether the memo was warm, and
// for the existence checks of handlers (HasItem, HasMember, HasOwner).
type nb struct {
	storage.View
	raw storage.View
	au  *authz.Authority
	p   *authn.Principal // the caller, for what it may see
	cat *catalog.Catalog // to flag permissions no catalogue knows
	// keyUse is the instance's in-memory last use of API keys.
	keyUse *sync.Map
	// now is the server clock, for what expires (sign-in sessions).
	now func() time.Time
	// pwExpired is the password policy's expiry (passwordExpired).
	pwExpired func(rec storage.User, now time.Time) bool
}

// clock is the time now by the server clock (the wall clock if unset).
func (v *nb) clock() time.Time {
	if v.now == nil {
		return time.Now()
	}
	return v.now()
}

// storedColl is a collection of a stored source, both in one
// allocation: a user document shows eight of them.
func storedColl(c Collection, s storedSource) *Collection {
	b := &struct {
		c Collection
		s storedSource
	}{c, s}
	b.c.Items = &b.s
	return &b.c
}

// storedSource is a stored collection.
type storedSource struct {
	v    storage.View
	coll storage.Coll
	item func(name string) Node
	// links, when set, says that item builds plain links (itemLinks,
	// render.go): it is set only where item(x) is an Entity of
	// links.element, identifier x and href links describes (in the same
	// form), without Attrs, Text or Inline. One of the package's
	// descriptors below, so that it costs a storedColl nothing.
	links *itemLinks
}

// The item descriptors of the stored collections whose items are plain
// links (each next to its item func: usersNode, rolesNode …).
var (
	accountLinks   = &itemLinks{element: "account"}
	apiKeyLinks    = &itemLinks{element: "api-key"}
	attributeLinks = &itemLinks{element: "attribute"}
	clientLinks    = &itemLinks{element: "client"}
	groupLinks     = &itemLinks{element: "group"}
	providerLinks  = &itemLinks{element: "provider"}
	roleLinks      = &itemLinks{element: "role"}
	ruleLinks      = &itemLinks{element: "rule"}
	userLinks      = &itemLinks{element: "user"}
	userPageLinks  = &itemLinks{element: "user", split: true}
)

func (s storedSource) Count() int { return s.v.Count(s.coll) }

func (s storedSource) Page(filter string, offset, limit int) ([]Node, int) {
	names, n := s.pageNames(filter, offset, limit)
	return nodesOf(names, s.item), n
}

func (s storedSource) pageNames(filter string, offset, limit int) ([]string, int) {
	if filter == "" {
		return s.v.Page(s.coll, offset, limit)
	}
	return s.v.FilterPage(s.coll, filter, func(x string) bool { return authz.Glob(filter, x) }, offset, limit)
}

func (s storedSource) linkItems() *itemLinks { return s.links }

// sliceSource is a computed collection (effective permissions, the
// accounts a tenant can see).
type sliceSource struct {
	names []string
	item  func(name string) Node
}

func (s sliceSource) Count() int { return len(s.names) }

func (s sliceSource) Page(filter string, offset, limit int) ([]Node, int) {
	names := s.names
	if filter != "" {
		names = nil
		for _, x := range s.names {
			if authz.Glob(filter, x) {
				names = append(names, x)
			}
		}
	}
	n := len(names)
	if offset >= n {
		return nil, n
	}
	return nodesOf(names[offset:min(offset+limit, n)], s.item), n
}

// HasItem, HasMember and HasOwner read untracked: handlers check that
// what a path names exists and answer 404 otherwise, so a 200 document
// shows nothing of the check, and the revision of what was checked (its
// other fields) must not move the ETag.
func (v *nb) HasItem(a, kind, name string) bool { return v.raw.HasItem(a, kind, name) }

// HasMember is storage.View.HasMember, read untracked (see HasItem).
func (v *nb) HasMember(c storage.Coll, name string) bool { return v.raw.HasMember(c, name) }

// HasOwner is storage.View.HasOwner, read untracked (see HasItem).
func (v *nb) HasOwner(c storage.Coll) bool { return v.raw.HasOwner(c) }

// holding is user u's holding, read untracked and not memoised: a
// document shows some user's permissions (effectiveNode, effectiveOne),
// and rendering users must not pin memory after the response.
func (v *nb) holding(a, u string) *authz.Holding {
	return v.au.Holdings.Compute(v.raw, a, u)
}

// questioned is user u's holding for a permission question (GET
// …/permissions/{p}, like a /check question): read untracked and
// memoised, since services ask about the same principals again and again
// (the memo is bounded; see authz.Holdings).
func (v *nb) questioned(a, u string) *authz.Holding {
	return v.au.Holdings.Of(v.raw, a, u)
}

func nodesOf(names []string, item func(string) Node) []Node {
	out := make([]Node, len(names))
	for i, x := range names {
		out[i] = item(x)
	}
	return out
}

func boolText(b bool) string { return strconv.FormatBool(b) }

// accountsNode is /accounts: the accounts the caller can see, and the
// root rules collection.
func (v *nb) accountsNode(p authn.Principal) *Collection {
	var src Source
	if p.Account == authz.SystemAccount {
		src = storedSource{v: v.View, coll: storage.AllAccounts(), item: func(a string) Node { return v.accountNode(a) },
			links: accountLinks}
	} else {
		names := v.Subtree(p.Account)
		slices.Sort(names)
		src = sliceSource{names: names, item: func(a string) Node { return v.accountNode(a) }}
	}
	return &Collection{Element: "accounts", Href: path("accounts"), Items: src,
		Extra: []Node{v.rulesNode(path("accounts", "rules"), storage.RootRules())}}
}

func (v *nb) rulesNode(href string, rules storage.Coll) *Collection {
	scope := ruleScope{coll: rules, href: href}
	return storedColl(Collection{Element: "rules", Href: href}, storedSource{v: v.View, coll: rules,
		item: func(r string) Node { return v.ruleNode(scope, r) }, links: ruleLinks})
}

func (v *nb) accountNode(a string) *Entity {
	return &Entity{Element: "account", Identifier: a, Href: path("accounts", a), Fields: func(f []Field) []Field {
		acc, _ := v.Account(a)
		f = append(f, Field{Node: v.defaultRolesNode(a)}) // defaultroles.go
		if acc.Description != "" {
			f = append(f, Field{Name: "description", Text: acc.Description})
		}
		f = append(f,
			Field{Node: v.groupsNode(a)},
			Field{Name: "name", Text: a},
		)
		if acc.Parent != "" {
			// The parent expands only for callers who may act on it; to
			// anyone else it is a bare reference.
			parent := &Entity{Element: "parent", Identifier: acc.Parent, Href: path("accounts", acc.Parent)}
			if authz.Within(v.p.Account, acc.Parent, v.Parent) {
				parent.Fields = v.accountNode(acc.Parent).Fields
			}
			f = append(f, Field{Node: parent})
		}
		return append(f,
			Field{Node: v.permissionSetNode(path("accounts", a, "permissions"), storage.Coll{Account: a, Kind: storage.KindCeiling})},
			Field{Node: v.providersNode(a)},
			Field{Node: v.rolesNode(a)},
			Field{Node: v.rulesNode(path("accounts", a, "rules"), storage.Coll{Account: a, Kind: storage.KindRule})},
			Field{Node: v.usersNode(a)},
		)
	}}
}

// permissionSetNode is a stored permission set (ceiling, role).
func (v *nb) permissionSetNode(href string, set storage.Coll) *Collection {
	return storedColl(Collection{Element: "permissions", Href: href}, storedSource{v: v.View, coll: set,
		item: func(p string) Node { return v.storedPermissionNode(href, p) }})
}

// storedPermissionNode is an assigned permission (ceiling, role): one
// that no catalogue implies is flagged known="false", so consoles can
// warn about typos.
func (v *nb) storedPermissionNode(collectionHref, p string) *Entity {
	e := permissionNode(collectionHref, p)
	if v.cat != nil && !v.cat.Known(p) {
		e.Attrs = [][2]string{{"known", "false"}}
	}
	return e
}

func permissionNode(collectionHref, p string) *Entity {
	return &Entity{Element: "permission", Href: collectionHref + "/" + escapeSegment(p), Text: p}
}

func (v *nb) rolesNode(a string) *Collection {
	return storedColl(Collection{Element: "roles", Href: path("accounts", a, "roles")}, storedSource{v: v.View,
		coll: storage.Coll{Account: a, Kind: storage.KindRole}, item: func(r string) Node { return v.roleNode(a, r) },
		links: roleLinks})
}

func (v *nb) roleNode(a, r string) *Entity {
	return v.roleAt(a, r, path("accounts", a, "roles", r))
}

// roleAt is role r of account a shown at href (its own path, or a
// membership path).
func (v *nb) roleAt(a, r, href string) *Entity {
	return &Entity{Element: "role", Identifier: r, Href: href, Fields: func(f []Field) []Field {
		rec, _ := v.Role(a, r)
		if rec.Description != "" {
			f = append(f, Field{Name: "description", Text: rec.Description})
		}
		return append(f,
			Field{Name: "name", Text: r},
			Field{Node: v.permissionSetNode(path("accounts", a, "roles", r, "permissions"),
				storage.Coll{Account: a, Kind: storage.KindRolePerm, Owner: r})},
		)
	}}
}

func (v *nb) groupsNode(a string) *Collection {
	return storedColl(Collection{Element: "groups", Href: path("accounts", a, "groups")}, storedSource{v: v.View,
		coll: storage.Coll{Account: a, Kind: storage.KindGroup}, item: func(g string) Node { return v.groupNode(a, g) },
		links: groupLinks})
}

func (v *nb) groupNode(a, g string) *Entity {
	return v.groupAt(a, g, path("accounts", a, "groups", g))
}

func (v *nb) groupAt(a, g, href string) *Entity {
	return &Entity{Element: "group", Identifier: g, Href: href, Fields: func(f []Field) []Field {
		rec, _ := v.Group(a, g)
		if rec.Description != "" {
			f = append(f, Field{Name: "description", Text: rec.Description})
		}
		return append(f,
			Field{Name: "name", Text: g},
			Field{Node: v.membersNode(a, storage.GroupRoles, g, "roles", path("accounts", a, "groups", g, "roles"))},
			Field{Node: v.membersNode(a, storage.GroupUsers, g, "users", path("accounts", a, "groups", g, "users"))},
		)
	}}
}

// membersNode lists the items `from` holds through link l, each shown at
// its membership path with the target's fields.
func (v *nb) membersNode(a string, l storage.Link, from, element, href string) *Collection {
	return v.membersUnder(a, l, from, element, href, "")
}

// membersUnder is membersNode at href base+tail.
func (v *nb) membersUnder(a string, l storage.Link, from, element, base, tail string) *Collection {
	return storedColl(Collection{Element: element, Href: base, HrefTail: tail}, storedSource{v: v.View, coll: l.Of(a, from),
		item:  func(to string) Node { return v.memberNode(a, l.To, to, base+tail+"/"+escapeSegment(to)) },
		links: memberLinks(l.To)})
}

// memberLinks describes what memberNode builds for kind.
func memberLinks(kind string) *itemLinks {
	switch kind {
	case storage.KindRole:
		return roleLinks
	case storage.KindGroup:
		return groupLinks
	default:
		return userLinks
	}
}

func (v *nb) memberNode(a, kind, name, href string) *Entity {
	switch kind {
	case storage.KindRole:
		return v.roleAt(a, name, href)
	case storage.KindGroup:
		return v.groupAt(a, name, href)
	default:
		return v.userAt(a, name, href, "")
	}
}

func (v *nb) usersNode(a string) *Collection {
	href := path("accounts", a, "users")
	prefix := href + "/" // each user's href is prefix + its escaped name
	return storedColl(Collection{Element: "users", Href: href}, storedSource{v: v.View,
		coll: storage.Coll{Account: a, Kind: storage.KindUser}, item: func(u string) Node {
			e := v.userAt(a, u, prefix, "")
			e.HrefTail = escapeSegment(u)
			return e
		}, links: userPageLinks})
}

func (v *nb) userNode(a, u string) *Entity {
	href := userHref(a, u)
	return v.userAt(a, u, href, href)
}

// userHref is user u's own href.
func userHref(a, u string) string { return path("accounts", a, "users", u) }

// userAt shows user u at href; base is the user's own href, or "" to
// compute it when the fields are shown (href is then a membership path).
// The field order is the seed's (alphabetical, with name last), with
// gatehouse's further fields in alphabetical place.
func (v *nb) userAt(a, u, href, base string) *Entity {
	return &Entity{Element: "user", Identifier: u, Href: href, Fields: func(f []Field) []Field {
		rec, _ := v.User(a, u)
		if base == "" {
			base = userHref(a, u)
		}
		f = append(f,
			Field{Name: "account", Text: a},
			Field{Node: v.apiKeysUnder(a, u, base)},
			Field{Node: v.attributesUnder(a, u, base)},
			Field{Node: v.clientsUnder(a, u, base)},
			Field{Name: "created", Text: time.Unix(rec.Created, 0).UTC().Format(time.RFC3339)},
		)
		if rec.Email != "" {
			f = append(f, Field{Name: "email", Text: rec.Email})
		}
		f = append(f, Field{Name: "enabled", Text: boolText(rec.Enabled)},
			Field{Node: storedColl(Collection{Element: "federations", Href: base, HrefTail: "/federated"}, storedSource{v: v.View,
				coll: storage.UserFederated(a, u),
				item: func(id string) Node {
					link, _ := v.FederatedLink(a, u, id)
					return &Entity{Element: "federated-user", Identifier: id, Href: principalHref(link.Type, id)}
				}})})
		if rec.FullName != "" {
			f = append(f, Field{Name: "full-name", Text: rec.FullName})
		}
		f = append(f, Field{Node: v.membersUnder(a, storage.UserGroups, u, "groups", base, "/groups")})
		if last, ok := v.LastLogin(a, u); ok {
			f = append(f, Field{Name: "last-login", Text: last})
		}
		if until, ok := v.lockedUntil(a, u); ok {
			f = append(f, Field{Name: "locked-until", Text: until})
		}
		return append(f,
			Field{Name: "password", Always: true},
			Field{Name: "password-expired", Text: boolText(v.passwordExpired(rec))},
			Field{Node: v.effectiveUnder(a, u, base)},
			Field{Node: v.membersUnder(a, storage.UserRoles, u, "roles", base, "/roles")},
			Field{Node: v.sessionsUnder(a, u, base, v.clock())},
			Field{Node: v.totpLink(a, u, base, "/totp")},
			Field{Name: "name", Text: u},
		)
	}}
}

func (v *nb) attributesNode(a, u string) *Collection { return v.attributesUnder(a, u, userHref(a, u)) }

// attributesUnder is attributesNode for a user whose href is base.
func (v *nb) attributesUnder(a, u, base string) *Collection {
	return storedColl(Collection{Element: "attributes", Href: base, HrefTail: "/attributes"}, storedSource{v: v.View,
		coll: attributes(a, u), item: func(n string) Node { return v.attributeNode(a, u, n) },
		// base is user u's own href, the prefix of attributeNode's href.
		links: attributeLinks})
}

// attributes is the collection of user u's attributes.
func attributes(a, u string) storage.Coll {
	return storage.Coll{Account: a, Kind: storage.KindAttr, Owner: u}
}

func (v *nb) attributeNode(a, u, n string) *Entity {
	attrs := attributes(a, u)
	return &Entity{Element: "attribute", Identifier: n, Href: path("accounts", a, "users", u, "attributes", n), Fields: func(f []Field) []Field {
		val, _ := v.Member(attrs, n)
		return append(f,
			Field{Name: "id", Text: strconv.FormatInt(v.MemberID(attrs, n), 10)},
			Field{Name: "name", Text: n},
			Field{Name: "value", Text: val, Always: true},
		)
	}}
}

// effectiveNode is a user's effective permissions.
func (v *nb) effectiveNode(a, u string) *Collection { return v.effectiveUnder(a, u, userHref(a, u)) }

// effectiveUnder is effectiveNode for a user whose href is base.
func (v *nb) effectiveUnder(a, u, base string) *Collection {
	var eff []string
	if v.HasItem(a, storage.KindUser, u) {
		h := v.holding(a, u)
		v.Mix(h.Sum())
		eff = h.Effective()
	}
	return &Collection{Element: "permissions", Href: base, HrefTail: "/permissions", Items: sliceSource{names: eff,
		item: func(p string) Node { return permissionNode(base+"/permissions", p) }}}
}
