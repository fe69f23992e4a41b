// Package resources is the /auth/v2 XML hypermedia API: its route table
// (routes.go, mounted on the api registry by instance), its handlers, one
// renderer and one strict body decoder. The api pipeline has already
// authenticated the caller, checked tenancy and the route's permission
// when a handler runs.
//
// Handlers describe resources as nodes (nodes.go: an Entity with value
// fields and child nodes, a Collection with a paged Source); one renderer
// (render.go) applies depth, paging, filter and hrefs, writing the XML
// as a stream into a pooled buffer, byte for byte what beevik/etree
// would write (render_etree_test.go keeps etree as the reference), and
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
//
// Sign-in sessions (sessions.go; SPEC §3a, §6): …/users/{u}/sessions
// and /me/sessions list a user's live OAuth sign-ins (code and password
// grants, recorded by package oauth) and DELETE one. This package does
// not import oauth: revoking a session's token family goes through the
// Options.RevokeSession seam, which instance sets to the provider's.
// Expired sessions are filtered by the server's clock (etcd drops their
// records by lease), and the ETag folds in the ids shown.
//
// Links (SPEC §3c): a document links only what its reader may open. The
// renderer decides each href as the api pipeline would decide a GET of
// it (render.go, linker): the href is matched against the route table,
// the account it names must be visible to the reader (authz.Visible) and
// the reader must hold the route's permission (Authority.Decide over the
// same view, memoised per document by permission and by account, folded
// into the ETag). A link the reader may not follow keeps its element and
// loses only its href: an entity keeps its identifier, a collection its
// count (and its items, each decided on its own), a reference without an
// identifier (a permission) shows its permission string as text, and
// granted-by names the role (granted-by="r" instead of its path; a name
// never holds a "/"). An href outside the route table (another
// endpoint's, the schema) is written as it is; a path served without a
// GET (POST /check) is linked when the reader may call it. /me documents
// link their /me addresses (api-keys, attributes, groups, permissions,
// roles, sessions, totp; granted-by of a role held directly), so a user
// with the starter users role follows every link /me shows; the audit
// log and /check answers are rendered without a reader and keep every
// href.
//
// Allocation budget (BenchmarkServed, go test -bench Served -benchmem):
// at most 4 KB per one-user GET and 40 KB per page of 50, counted from
// the pipeline's entry (net/http's own request and connection objects
// are not ours). What keeps it there: the node builder is passed by
// pointer, an entity's fields are appended to a slice the renderer
// reuses per nesting level, hrefs are built once at their exact size and
// a collection's (or a page item's) href is written as a shared base
// plus a tail instead of being joined, and the holdings a document shows
// are computed without being memoised; a permission question's holding
// is memoised (bounded), like a /check question's.
//
// A page whose items are shown collapsed (at depth − 1 = 0) builds no
// item. A stored collection whose items are plain links — element,
// identifier the stored name, href under the collection's, no other
// attribute, no text: users, roles, groups, memberships, default roles,
// providers, rules, accounts, API keys, clients, attributes — says so
// with an unexported descriptor (itemLinks, asked for through linkPager
// beside the Source contract). The renderer then pages its names and
// writes each item as an Entity on the stack through the same entity
// code, so link decisions and bytes are those of the built item
// (render_links_test.go renders both ways). Permission sets (text,
// known="false") and federations (an href read from the link) build
// their items.
package resources
