// Package api is gatehouse's HTTP pipeline and route registry. Packages
// contribute routes (Route: method, path, permission, summary, handler)
// to a Registry — resources its /auth/v2 table now, oauth and federation
// their /oauth2, /.well-known and /saml routes later — and instance
// assembles it; the README's route table and the auth: permission
// catalogue are generated from the registry, and a route without a valid
// permission (unless Public) panics at start-up, so authorization fails
// closed.
//
// Every request goes one way, in a fixed order: 405/OPTIONS by the table
// → authentication through the authn.Authenticator chain (401 with the
// challenge, 429 with Retry-After, sign-ins audited through the bounded
// AuditRecorder) → tenancy (a path's {a} outside the caller's tenancy is
// 404, exactly like a missing account, whatever the caller's permissions)
// → the route's permission through authz.Authority.Decide (403) → the
// handler. For writes the pipeline puts the audit entry and the tenancy
// check into the request context (storage.WithAudit, storage.WithCheck),
// so both join the write's own guarded transaction; handlers add their
// own checks (If-Match, escalation) the same way. Handlers return errors;
// ProblemFor maps them, and storage's sentinels, to status codes and
// application/problem+xml in one place. What the audit log records is
// package audit's policy; the pipeline only applies it. Request durations are exported
// per route as Prometheus histograms, next to /healthz, /readyz and
// /metrics.
//
// Browsers (html.go): a request whose Accept prefers text/html
// (PrefersHTML) gets its problem as a page from Options.HTML (package
// console), which resources also hands its documents to; a browser's GET
// without credentials is sent (303) to Options.SignInPath instead of
// 401. The console's session cookie (SessionCookie, an OAuth access
// token) counts as a Bearer token when the request presents no
// credentials of its own; a write with it needs the session's CSRF token
// in CSRFHeader — HMAC-SHA-256 of the cookie's value under the server key
// CSRFKeyName, compared in constant time — unless its route checks a form
// token of its own (Route.FormCSRF). Request.Permitted lists the write
// methods of a path the principal holds the permission for (the forms a
// page offers). Basic, Bearer and API keys are unchanged.
//
// The package knows nothing of XML resources or rendering (resources) and
// holds no business rules of its own.
package api
