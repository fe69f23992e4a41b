// Package resources serves the /auth/v2 XML hypermedia API.
//
// One route table (routes.go) lists every method, path pattern, the
// permission a caller needs and the handler; the router, the
// authorization check, the README's table and (later) the permission
// catalogue are generated from it. A request goes: 405/OPTIONS by the
// table → query parsing (400) → HTTP Basic authentication with the
// verified-credential cache and throttling (401/429) → the route's
// permission through authz (403) → the handler, which first checks
// tenancy (a foreign account answers 404 exactly like a missing one).
//
// Handlers describe resources as nodes (nodes.go: an Entity with value
// fields and child nodes, a Collection with a paged Source); one renderer
// (render.go, beevik/etree) applies depth, paging, filter and hrefs, and
// call.show adds ETag, conditional requests and HEAD. Request bodies go
// through one strict decoder (body.go): media type and charset (415),
// size (413), DOCTYPE/entities/processing instructions/namespaces,
// unknown, duplicated or misplaced fields (400). Handlers return errors;
// problem.go maps them, and storage's sentinels, to status codes and
// application/problem+xml in one place.
//
// Writes go through storage in one guarded etcd transaction each and the
// response is rendered from the cache once it has the write (read your
// own writes). This package never talks to etcd directly and holds no
// state beyond memoised holdings.
package resources
