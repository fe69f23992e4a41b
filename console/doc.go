// Package console makes the /auth/v2 API browsable: the same URLs answer
// a browser (Accept preferring text/html, SPEC §3c) with a server-rendered
// page of the same document, so the API is its own administration
// console (what Keycloak's admin console is to Keycloak) and there is no
// second application to keep in step with it.
//
// # Pages
//
// Nothing is rendered twice. A GET goes through the api pipeline and the
// resources handler exactly as for XML (authentication, tenancy,
// permission, depth, paging, filter); resources' show renders the XML
// document as always and, when api.PrefersHTML holds, hands it to
// Console.Document instead of writing it. Document parses it (etree) and
// shows it generically with one html/template (templates/page.html):
// value fields as a definition list, every href (and every attribute
// holding a path, such as granted-by) as a link to the same URL, child
// collections and items as nested lists; on a collection (an element with
// count) a filter box, the paging links from its next/previous attributes
// with "page N of M", and on every page a depth switch (0–3) — all plain
// links and GET forms setting the query parameters the XML API takes.
// Problems (status ≥ 400, from the pipeline or a handler) are pages too
// (Console.Problem, called by the pipeline): title, detail, extensions.
// No ETag is sent for pages (they are another representation; Vary:
// Accept and Cache-Control no-store instead).
//
// # Forms
//
// A page offers a form for each write method of its path that the reader
// may use (api.Request.Permitted: the routes of the path whose permission
// the principal holds; the handler still decides, with every check the
// XML write has): Create (POST on a collection; a textarea with the
// request body to start from: SPEC §3's shapes, e.g. <user><name>…,
// or <role identifier=""/> on a membership collection), Update (PUT; the
// document itself as the body, less hrefs, counts, references to
// sub-collections and the always-empty password) and Delete. The forms
// are sent by the one small script (script.js, served at ScriptPath) with
// fetch() as the XML request they are — method, Content-Type
// application/xml, the body typed — so the handlers and their checks are
// exactly the XML ones; a 201 goes to its Location, a 204 reloads (a
// DELETE goes to the parent path), a problem is shown in the page
// (role=alert). Without JavaScript the pages still read and navigate.
// Every page carries a strict Content-Security-Policy: default-src
// 'none', the inline style sheet by its SHA-256 hash, script-src and
// connect-src 'self' (the one script file, no inline script),
// form-action 'self', base-uri and frame-ancestors 'none'; nosniff,
// X-Frame-Options DENY, no-store.
//
// # Sign-in and the session
//
// The console is an OAuth client of its own server: the built-in public,
// first-party client oauth.ConsoleClientID ("console"; never stored,
// like admin-cli; no consent step), authorization code with PKCE S256
// and refresh tokens, scope `*` (the token's power is the user's
// effective permissions), its only redirect URI the issuer's
// CallbackPath. A browser GET of an /auth/v2 page without credentials is
// answered by the pipeline with 303 to SignInPath?return=<the page>
// (api.Options.SignInPath) instead of 401; API clients (no HTML in
// Accept) still get 401. SignInPath draws state and a PKCE verifier,
// keeps them with the return page in a flow cookie (HttpOnly,
// SameSite=Lax, Path /auth/v2/console, ten minutes) and redirects to
// /oauth2/authorize, whose sign-in page (password, second factor,
// passkeys, SAML and LDAP — all of it) signs the user in. CallbackPath
// checks the state (constant time), exchanges the code with the
// verifier at /oauth2/token — in process, through Console.Handler (the
// api server), as the browser's request, so throttling and the token
// audit are the token endpoint's own — and returns to the page (only a
// path under /auth/v2 is followed: no open redirect).
//
// The session is the tokens themselves, nothing is stored for it: the
// access token (a JWT, ~10 minutes) in api.SessionCookie (HttpOnly,
// SameSite=Lax, Path /auth/v2, Secure when the issuer is https or the
// request came over TLS), the
// refresh token in RefreshCookie (same flags, Path /auth/v2/console, so
// it travels only to the sign-in routes). The pipeline takes the session
// cookie as a Bearer token when a request presents no credentials of its
// own (Basic, Bearer and API keys are unchanged), so revocation, a
// disabled user, expiry and scopes work as for any token. When the
// access token has expired the page GET is sent to SignInPath again,
// which renews the session from the refresh cookie (rotation as for any
// refresh) and returns without showing the sign-in page; when that fails
// too the OAuth sign-in follows. Sign-out (POST SignOutPath) revokes the
// refresh token's family — the access token with it — and clears both
// cookies.
//
// # CSRF
//
// A write authenticated by the session cookie must carry the session's
// CSRF token in the X-Csrf-Token header (api.CSRFHeader), or it is 403
// before anything else runs: the token is HMAC-SHA-256 of the session
// cookie's value under the server key api.CSRFKeyName (shared through
// etcd, so every instance accepts it; nothing stored), compared in
// constant time. Pages carry it in a meta element for the script. A
// cross-site page can neither read it nor, with SameSite=Lax, send the
// cookie with a POST; the header is the second wall. Reads need no token.
package console
