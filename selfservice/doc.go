// Package selfservice serves gatehouse's self-service HTML pages: pages
// for the signed-in user to manage their own sign-in, next to the XML
// API under /auth/v2/me. The first is the TOTP enrolment page; a page is
// one html/template file and a few handlers over the same shared logic
// the API uses (package totp's Enroller for TOTP), never a second copy
// of it.
//
// # Routes and authentication
//
// The pages are ordinary routes of the API registry (api.Registry), so
// the API pipeline authenticates them with the API's credentials (HTTP
// Basic, a Bearer OAuth access token, an API key) and authorises each
// with the permission of the XML API route doing the same thing:
//
//	GET  /auth/v2/me/totp/enrolment               auth:me:totp:read    the state, and the form that starts an enrolment
//	POST /auth/v2/me/totp/enrolment               auth:me:totp:create  start (or restart) an enrolment: the secret, otpauth:// URI and QR code, and the form that confirms it
//	POST /auth/v2/me/totp/enrolment/confirmation  auth:me:totp:update  confirm the pending enrolment with a code
//
// Each write is its own route (not one POST with an action field) so the
// pipeline's permission, audit action (create, update) and the route
// table say exactly what it does. A refusal before the handler (401,
// 403, 429) is the pipeline's problem document, as for the API; in a
// browser a 401 with HTTP Basic brings the browser's own sign-in dialog.
// A user whose TOTP is enabled can no longer use HTTP Basic (the second
// factor), so the page then needs a Bearer token or an API key.
//
// # Pages
//
// Server-rendered html/template, no JavaScript, no framework. Every
// answer carries a strict Content-Security-Policy: nothing but the
// page's inline style sheet (allowed by its SHA-256 hash), images from
// data: URIs only (the QR code is inlined as a data:image/png URI, so
// the page needs no second authenticated fetch), forms posting to this
// origin only, no framing; plus nosniff, no referrer and no-store, as
// on the sign-in page (package oauth).
//
// The TOTP secret is rendered in exactly one answer: the one to the POST
// that drew it (like the API's 201). A pending enrolment shown again
// (GET) offers the confirmation form and a restart, not the secret.
//
// # CSRF
//
// Browsers send HTTP Basic credentials by themselves, so every form
// carries a per-page nonce (16 random bytes and the time it was drawn)
// and a token: HMAC-SHA-256, under the server key CSRFKeyName (kept in
// etcd like every server key, so any instance accepts the post), of the
// page's name, the principal (its name and audit actor: the user, and
// the API key or OAuth client it came with) and the nonce. A post is
// accepted only with a token that matches (compared in constant time,
// hmac.Equal) and a nonce at most CSRFLifetime old. Nothing is stored.
// A failed check is 400 with the page and an error (not 403: the caller
// holds the permission; the request is malformed).
//
// # The passkey page
//
// /auth/v2/me/passkeys/enrolment lists the user's passkeys and registers
// a new one (passkeys.go; the ceremony is package passkey's, the same
// passkey.Service as the XML API's /auth/v2/me/passkeys/registration).
// navigator.credentials.create must run on a page, so this page alone
// loads a script: passkey.Script, served at
// /auth/v2/me/passkeys/enrolment/script, allowed by a per-page CSP
// (renderScript: "script-src 'self'; connect-src 'self'" added). The
// script posts the form's nonce and CSRF token to …/enrolment/options
// (CSRF-checked, answers the creation options JSON), runs the ceremony,
// and submits the form with the browser's response in "credential" and
// the name the user typed to …/enrolment (CSRF-checked, registers, shows
// the page with the new passkey). Without JavaScript the page still
// lists the passkeys.
//
// # Adding a page
//
// A page is a file pair: templates/<page>.html defining the block
// "content" (the frame, style sheet and CSP are base.html's), and a Go
// file with its handlers and data; parse it with newPage, list its
// routes in Pages.Routes with the XML API's permissions, render with
// Pages.render, protect each form with Pages.form (hidden fields nonce
// and csrf) and check posts with Pages.checkForm under the page's own
// name (so one page's token is no good on another).
package selfservice
