// Package resources is the /auth/v2 XML hypermedia API: its route table
// (routes.go, mounted on the api registry by instance), its handlers, one
// renderer and one strict body decoder. The api pipeline has already
// authenticated the caller, checked tenancy and the route's permission
// when a handler runs.
//
// Handlers describe resources as nodes (nodes.go: an Entity with value
// fields and child nodes, a Collection with a paged Source); one renderer
// (render.go, beevik/etree) applies depth, paging, filter and hrefs, and
// call.show adds the ETag — a digest of everything the document read
// through a tracking storage view, so it changes exactly when what the
// document shows changes and is the same on every instance — conditional
// requests and HEAD. Request bodies go through one strict decoder
// (body.go): media type and charset (415), size (413),
// DOCTYPE/entities/processing instructions/namespaces, unknown,
// duplicated or misplaced fields (400). Handlers return errors; the api
// pipeline maps them to problem documents.
//
// Writes go through storage in one guarded etcd transaction each. Their
// preconditions — If-Match (the ETag rendered again on the write's
// guarded view), tenancy, escalation (escalation.go: a principal grants
// only what it holds) and the API key rule — ride in the request context
// (storage.WithCheck) and run inside that transaction, so they hold on
// the revision it commits on. The response is rendered from the cache
// once it has the write (read your own writes). This package never talks
// to etcd directly and holds no state beyond the in-memory last use of
// API keys.
package resources
