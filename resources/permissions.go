package resources

import (
	"net/http"
	"sort"
	"strings"

	"gatehouse/api"
	"gatehouse/catalog"
)

// AuthCatalogItems are the auth: permissions of the registered routes,
// each described by the routes that need it.
func AuthCatalogItems(routes []api.RouteInfo) []catalog.Item {
	what := map[string][]string{}
	for _, r := range routes {
		if r.Permission == "" {
			continue // public routes need none
		}
		what[r.Permission] = append(what[r.Permission], r.Summary)
	}
	items := make([]catalog.Item, 0, len(what)+len(authBeyondRoutes))
	for p, summaries := range what {
		items = append(items, catalog.Item{Permission: p, Module: "auth", Description: strings.Join(summaries, "; ")})
	}
	items = append(items, authBeyondRoutes...)
	sort.Slice(items, func(i, j int) bool { return items[i].Permission < items[j].Permission })
	return items
}

// authBeyondRoutes are auth: permissions that endpoints outside the
// /auth/v2 route table check.
var authBeyondRoutes = []catalog.Item{
	{Permission: "auth:introspect:read", Module: "auth", Description: "introspect OAuth tokens at /oauth2/introspect with a bearer credential (RFC 7662)"},
}

// NewCatalog is the permission catalogue gatehouse serves: the auth: set
// generated from the registered routes, the shipped module catalogues,
// and the extra items loaded from configured files.
func NewCatalog(routes []api.RouteInfo, extra []catalog.Item) (*catalog.Catalog, error) {
	shipped, err := catalog.Shipped()
	if err != nil {
		return nil, err
	}
	return catalog.New(AuthCatalogItems(routes), shipped.Items(), extra)
}

// catalogNode is /permissions: every catalogued permission, sorted.
func catalogNode(cat *catalog.Catalog) *Collection {
	items := cat.Items()
	names := make([]string, len(items))
	for i, it := range items {
		names[i] = it.Permission
	}
	return &Collection{Element: "permissions", Href: path("permissions"),
		Items: sliceSource{names: names, item: func(p string) Node { return catalogItemNode(cat, p) }}}
}

func catalogItemNode(cat *catalog.Catalog, p string) *Entity {
	return &Entity{Element: "permission", Identifier: p, Href: path("permissions", p), Fields: func(f []Field) []Field {
		it, _ := cat.Get(p)
		return append(f, Field{Name: "module", Text: it.Module}, Field{Name: "description", Text: it.Description, Always: true})
	}}
}

var getCatalog = get(func(c *call, v *nb) (Node, error) {
	return catalogNode(c.s.Catalog), nil
})

var getCatalogItem = get(func(c *call, v *nb) (Node, error) {
	p, err := c.permission()
	if err != nil {
		return nil, err
	}
	if _, ok := c.s.Catalog.Get(p); !ok {
		return nil, problem(http.StatusNotFound, "permission %q is in no catalogue", p)
	}
	return catalogItemNode(c.s.Catalog, p), nil
})
