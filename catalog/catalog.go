package catalog

import (
	"fmt"
	"slices"
	"strings"

	"gatehouse/authz"
)

// Item is one catalogue entry: a permission a module understands, the
// module it belongs to (always the permission's first part) and a one-line
// description for consoles.
type Item struct {
	// Permission is the permission string, e.g. "print:jobs:release".
	Permission string
	// Module is the permission's first part, e.g. "print".
	Module string
	// Description says in one sentence what the permission allows.
	Description string
}

// Catalog is an immutable set of items, sorted by permission, with fast
// lookups. The zero value and a nil *Catalog are empty catalogues. A Catalog
// is safe for concurrent use.
type Catalog struct {
	items   []Item          // sorted by Permission
	byPerm  map[string]int  // permission → index in items
	mods    map[string]*mod // module → its index
	modules []string        // sorted module names
}

// mod indexes one module's permissions by their second part, so that Known
// compares a wanted permission with a handful of candidates only.
type mod struct {
	all   []string            // every permission of the module
	byRes map[string][]string // plain second part → permissions
	wild  []string            // permissions with one part or a non-plain second part
}

// New builds a catalogue from one or more lists of items (e.g. Shipped's,
// the auth: items generated from the route table, and loaded files). Every
// permission must be valid (authz.Validate), every Module a single literal
// subpart (no ',' and no '*') equal to the permission's first part; a
// permission appearing twice is an error naming both positions. Descriptions
// are taken as given. The lists are not retained.
func New(items ...[]Item) (*Catalog, error) {
	n := 0
	for _, list := range items {
		n += len(list)
	}
	c := &Catalog{
		items:  make([]Item, 0, n),
		byPerm: make(map[string]int, n),
		mods:   make(map[string]*mod),
	}
	type pos struct{ list, item int }
	seen := make(map[string]pos, n)
	for li, list := range items {
		for ii, it := range list {
			if err := checkItem(it); err != nil {
				return nil, fmt.Errorf("catalog: list %d item %d: %w", li+1, ii+1, err)
			}
			if p, dup := seen[it.Permission]; dup {
				return nil, fmt.Errorf("catalog: duplicate permission %q (list %d item %d and list %d item %d)",
					it.Permission, p.list, p.item, li+1, ii+1)
			}
			seen[it.Permission] = pos{li + 1, ii + 1}
			c.items = append(c.items, it)
		}
	}
	slices.SortFunc(c.items, func(a, b Item) int { return strings.Compare(a.Permission, b.Permission) })
	for i, it := range c.items {
		c.byPerm[it.Permission] = i
		m := c.mods[it.Module]
		if m == nil {
			m = &mod{byRes: make(map[string][]string)}
			c.mods[it.Module] = m
			c.modules = append(c.modules, it.Module)
		}
		m.all = append(m.all, it.Permission)
		_, rest, _ := strings.Cut(it.Permission, ":")
		second, _, _ := strings.Cut(rest, ":")
		if rest != "" && plain(second) {
			m.byRes[second] = append(m.byRes[second], it.Permission)
		} else {
			m.wild = append(m.wild, it.Permission)
		}
	}
	slices.Sort(c.modules)
	return c, nil
}

// checkItem checks one item's permission and module.
func checkItem(it Item) error {
	if err := authz.Validate(it.Permission); err != nil {
		return err
	}
	if err := checkModule(it.Module); err != nil {
		return err
	}
	if first, _, _ := strings.Cut(it.Permission, ":"); first != it.Module {
		return fmt.Errorf("permission %q does not belong to module %q (its first part is %q)", it.Permission, it.Module, first)
	}
	return nil
}

// checkModule checks a module name: one literal subpart of a permission.
func checkModule(m string) error {
	if m == "" {
		return fmt.Errorf("empty module name")
	}
	if strings.ContainsAny(m, ":,*") || authz.Validate(m) != nil {
		return fmt.Errorf("module %q: a module name is one permission part of ASCII letters, digits, '_', '-' and '.'", m)
	}
	return nil
}

// plain reports whether a permission part is a single literal subpart: no
// ',' and not the wildcard "*" (a '*' inside a longer subpart is literal).
func plain(part string) bool {
	return part != "*" && strings.IndexByte(part, ',') < 0
}

// Items returns a copy of the catalogue's items, sorted by permission.
func (c *Catalog) Items() []Item {
	if c == nil {
		return []Item{}
	}
	return slices.Clone(c.items)
}

// Get returns the item whose permission is exactly p (no implication).
func (c *Catalog) Get(p string) (Item, bool) {
	if c == nil {
		return Item{}, false
	}
	i, ok := c.byPerm[p]
	if !ok {
		return Item{}, false
	}
	return c.items[i], true
}

// Modules returns the sorted names of the modules that have items.
func (c *Catalog) Modules() []string {
	if c == nil {
		return []string{}
	}
	return slices.Clone(c.modules)
}

// Len returns the number of items.
func (c *Catalog) Len() int {
	if c == nil {
		return 0
	}
	return len(c.items)
}

// Known reports whether p names something that exists: p is valid
// (authz.Validate) and some catalogue permission is implied by p or implies
// p (authz.Implies, either way round). So "*", "print" and "print:*" are
// known because they imply catalogued permissions; "print:jobs:release" is
// known because it is catalogued; "print:jobs:read,release" is known because
// it implies print:jobs:read; "print:jobs:release:extra" is known because the
// catalogued print:jobs:release implies it; "print:jbos:release" (a typo) and
// "foo:bar" (an unknown module) are not known, nor is any invalid string.
// Known does not allocate: a catalogued p is found by one map lookup, and
// otherwise p is compared (both ways, with authz.Implies) only with the
// items of the modules its first part names whose second part equals p's,
// unless p's second part is itself a wildcard or a list.
func (c *Catalog) Known(p string) bool {
	if c == nil || len(c.items) == 0 || authz.Validate(p) != nil {
		return false
	}
	if _, ok := c.byPerm[p]; ok {
		return true // catalogued: the common case
	}
	first, rest, more := strings.Cut(p, ":")
	if plain(first) {
		m := c.mods[first]
		return m != nil && m.known(p, rest, more)
	}
	// "*" or a list of subparts: only the modules it names (all of them for
	// "*") can hold a related item, since every item's first part is its
	// module, a single literal.
	star := hasSubpart(first, "*")
	for _, name := range c.modules {
		if (star || hasSubpart(first, name)) && c.mods[name].known(p, rest, more) {
			return true
		}
	}
	return false
}

// known reports whether some permission of the module is related to p,
// whose first part names the module (or a wildcard or list covering it);
// rest is p after its first ':' and more whether there was one.
func (m *mod) known(p, rest string, more bool) bool {
	if !more {
		return true // p is one part: it implies every item of the module
	}
	second, _, _ := strings.Cut(rest, ":")
	if !plain(second) {
		return related(m.all, p)
	}
	// Only items whose second part is exactly second, or is not a single
	// literal (or absent), can be related to p: a literal part implies and
	// is implied only by the same literal, a wildcard or a list holding it.
	return related(m.byRes[second], p) || related(m.wild, p)
}

// hasSubpart reports whether the ','-separated part has the subpart sub.
func hasSubpart(part, sub string) bool {
	for {
		head, tail, more := strings.Cut(part, ",")
		if head == sub {
			return true
		}
		if !more {
			return false
		}
		part = tail
	}
}

// related reports whether some permission in list implies p or is implied
// by it.
func related(list []string, p string) bool {
	for _, q := range list {
		if authz.Implies(p, q) || authz.Implies(q, p) {
			return true
		}
	}
	return false
}
