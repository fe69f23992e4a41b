// Package oauth is gatehouse's OAuth 2.0 and OpenID Connect core, built
// on ory/fosite: the token state fosite keeps between requests, the
// signing keys, and the JWT access tokens (RFC 9068) that modules verify
// offline; the Provider composing fosite over them; its endpoints
// (Provider.Routes: /oauth2/authorize with the sign-in page,
// /oauth2/token, par, introspect, revoke, userinfo, jwks and the two
// discovery documents), which instance mounts through the api registry;
// OpenID Connect ID tokens (oidc.go); and the bearer token authenticator
// of /auth/v2. The sessions resource comes later.
//
// Design decisions:
//
//   - Token state lives in etcd only, through storage's leased token API
//     (Store.CreateToken/GetToken/DeleteToken/TakeToken): every code,
//     PKCE and OpenID Connect session, access and refresh token is one
//     key whose TTL is the token's lifetime (Lifetimes; defaults access
//     10 min, refresh 30 days, code 1 min), so it expires by itself,
//     survives restarts, and any instance sharing the etcd can finish a
//     flow another started. Nothing is cached in memory. Each record also
//     carries its expiry, judged by the TokenStore's clock.
//   - Storage ids are the base64url SHA-256 of fosite's signatures and
//     codes: always valid storage token ids whatever a client sends, and
//     the keys in etcd do not reveal the signatures.
//   - A requester is stored as JSON: request id, requested-at, client id,
//     requested and granted scopes and audience, form values (PKCE
//     challenge and method, redirect URI), the session (Session: OpenID
//     Connect's default session plus account and user; subject
//     `account\user`), when it was stored and when it expires. The client
//     is not stored: on every read it is resolved again through
//     ClientSource, so a deleted client's tokens stop working at once.
//   - Single use by TakeToken: redeeming a code takes its record in one
//     etcd transaction (of two concurrent redemptions exactly one wins)
//     and puts it back marked used, so a replay is reported with its
//     request and fosite revokes what the first redemption issued.
//   - Refresh rotation is one guarded write: within a token request
//     (WithTokenRequest) the refresh token and its family's revocation
//     marker are read without etcd's linearizability wait
//     (storage.PeekTokens; a token not found is read again
//     linearizably), and the rotation waits for the new refresh token so
//     that one etcd transaction (storage.SwapTokens) marks the old token
//     used until its own expiry (a later use is reuse) and writes the new
//     one, guarded on the old token's revision as read and on the family
//     marker's absence. Of two concurrent refreshes with one token exactly
//     one commits (the other gets fosite's "retry"); a stale read can
//     only cost a conflict. So a refresh costs one disk sync. The access
//     token issued with the old refresh token lives on until it expires
//     (RFC 6749 §6 does not ask otherwise); reuse revokes the family.
//   - Token families: fosite keeps a grant's request id through every
//     refresh, so the request id is the family id (one per sign-in
//     session). Revocation writes a leased marker per family. Refresh
//     tokens are revoked for good by a token-range marker every refresh
//     reads and its rotation guards on, so a rotation racing the
//     revocation on another instance cannot commit. Access tokens issued
//     up to a moment are revoked by a marker in storage's cached marker
//     range (storage.PutMarker, kind oauth-fam-at, living an access token
//     lifetime plus a minute): every instance's watch-fed cache holds it,
//     so checking a token costs no etcd round trip. The revoking instance
//     refuses the tokens when the revocation returns; the others as soon
//     as their watch delivers the marker (milliseconds). Nothing lists
//     a family's tokens.
//   - Access tokens are stateless JWTs (typ at+jwt; iss, sub =
//     `account\user`, aud, exp, iat, jti, client_id, scope, account, and
//     sid — the family — for a signed-in user's grant) signed ES256.
//     Nothing is written when one is issued; its "signature" for fosite
//     is the token itself, and TokenStore.AccessToken reads one back by
//     verifying it (KeySet keeps the claims of verified tokens in a
//     bounded cache keyed by the SHA-256 of the token, so a token checked
//     again costs no ECDSA verification; expiry, issuer and audience are
//     checked again on every hit) and consulting the watch-fed cache
//     only: its family's revocation marker, its user (gone, disabled, or
//     created after the token: a namesake) and its client. The jti is
//     the nanosecond of issue plus 64 random bits, so a revocation covers
//     exactly the tokens issued before it even within one second.
//   - Signing keys are ECDSA P-256, kid = RFC 7638 thumbprint, kept in a
//     KeyStore that never expires values (not the leased token API: a
//     key must not vanish silently). Generation n is the name
//     "signing-n", written create-only, so of concurrent creators exactly
//     one key is made and everybody reads it. The newest generation signs;
//     older ones stay in the JWKS until Retain after their successor's
//     creation. StorageKeys is the KeyStore over storage's OAuth key
//     records (Store.KeyRecord, Store.CreateKeyRecord: key range
//     oauthkey/, cached, create-only under a write guarded on absence).
//     instance rotates on a timer when the key is older than
//     oauth.key-rotation (every instance tries; one creates, the others
//     read); a superseded key stays published for at least the access
//     token lifetime plus a minute.
//
// The provider (NewProvider, provider.go):
//
//   - fosite is composed with the authorization code grant, client
//     credentials, refresh token (with the TokenStore's rotation), the
//     password grant (for admin-cli and flagged clients, below),
//     introspection, revocation, PKCE (S256 only: plain is off;
//     required of public clients) and OpenID Connect for the code grant
//     and its refreshes. Token state is the TokenStore;
//     clients come from StorageClients, which resolves an id through
//     the client index (View.ClientOwner) on every call, so a deleted
//     client (or one whose user or account went) is unknown at once.
//   - Client authentication stays fosite's (the client's registered
//     method: client_secret_basic, client_secret_post or private_key_jwt,
//     see below), but its Hasher is SecretHasher: the client's
//     "hashed secret" is the stored hex HMAC-SHA-256 under the server key
//     "client-secret" (storage.Client.SecretMatches, constant time), not
//     bcrypt — generated secrets carry 256 bits, and bcrypt would cap
//     client credentials near 10 grants per second (SPEC §12). The hash
//     never leaves the process.
//   - Scopes are permission patterns: fosite's ScopeStrategy is
//     PermissionScopeStrategy, under which a requested scope is allowed
//     when one of the client's scopes implies it (authz.Implies, Shiro
//     wildcards); the protocol scopes openid, offline_access, email,
//     profile match only themselves. A token's power on /auth/v2 is the user's effective
//     permissions ∩ its scopes, decided by the one authority, so a
//     client's scopes never exceed its owner's permissions at use.
//   - Access tokens come from accessStrategy: KeySet.IssueAccessToken
//     signs the JWT (fosite's HMAC strategy keeps refresh tokens and
//     codes, under the shared server key "oauth-hmac", so any instance
//     verifies what another issued); the "signature" fosite hands the
//     store is the token itself (nothing stored; a forged or expired
//     token is simply unknown when the store verifies it).
//   - Client credentials: the client acts for its owning user — the
//     session is the owner's (sub `account\user`, claim account), who
//     must exist and be enabled — with client_id and scope claims; a
//     request without scope gets all the client's scopes. No refresh
//     token is issued for this grant (RFC 6749 §4.4.3).
//   - Introspection (RFC 7662) admits a confidential client with its own
//     credentials, or any bearer credential the /auth/v2 chain accepts
//     (access token or API key) whose principal holds
//     auth:introspect:read. Revocation (RFC 7009) is fosite's: only the
//     client the token was issued to revokes it, and it revokes the
//     token's family (for client credentials, that one token).
//   - The issuer is oauth.issuer, by default "http://" + the address the
//     instance listens on.
//   - A client with the refresh_token grant may ask for offline_access
//     without registering it (NewClient adds it to the client's scopes);
//     a refresh token is issued exactly when offline_access is granted
//     (fosite's RefreshTokenScopes). Client credentials without a scope
//     get the client's permission scopes, never offline_access.
//
// OpenID Connect (oidc.go):
//
//   - fosite's OpenIDConnectExplicitFactory and OpenIDConnectRefreshFactory
//     are composed after the code grant: a code granted openid gets an
//     OpenID Connect session (TokenStore, kind oauth-oidc, code
//     lifetime) and its exchange returns an id_token; a refresh of a
//     grant holding openid returns a new one. Implicit and hybrid flows
//     are not offered (response type code only).
//   - ID tokens are signed ES256 by the KeySet's current key with its kid
//     in the header (idTokenSigner, fosite's jwt.Signer over go-jose v4,
//     typ JWT), so relying parties verify them against /oauth2/jwks like
//     access tokens; an id_token_hint verifies against any published key.
//     fosite's openid.DefaultStrategy is embedded in accessStrategy, the
//     one strategy compose hands every factory.
//   - Claims: iss (the issuer), sub `account\user`, aud the client id,
//     exp (ID token lifetime = access token lifetime), iat, auth_time,
//     nonce when the authorize request had one, at_hash, jti, rat, and
//     account; email under the email scope and name (the user's full
//     name) under profile, left out when empty. fosite stamps iat and exp
//     with the wall clock and refuses an auth_time ahead of it, so
//     auth_time is the wall clock too (not ProviderConfig.Now).
//   - The claims are filled from the user record when the code is issued,
//     by idClaimsHandler, an authorize handler composed before the code
//     handler so both the code's session (inherited by access and refresh
//     tokens) and the OpenID Connect session carry them; a refresh reads
//     the user record again (refreshIDClaims), so a new ID token has the
//     current email and name, and a deleted user's refresh fails.
//   - openid, email and profile are protocol scopes (matching only
//     themselves, never implied by a permission pattern). Like
//     offline_access for refresh_token clients, NewClient adds them to the
//     scopes of every client with the authorization_code grant, so such a
//     client may ask for them without registering them; client
//     credentials without a scope get only the client's permission
//     scopes, never these.
//   - GET and POST /oauth2/userinfo take the access token as bearer (or
//     access_token in a posted form), introspected like everywhere else
//     (signature, family revocation, user, the client still existing); a token
//     without openid is refused with 403 insufficient_scope, an invalid
//     one or one whose user is disabled or gone with 401 invalid_token
//     (RFC 6750 WWW-Authenticate). The answer is sub, account and, per
//     scope, email and name, read from the user record now.
//   - Discovery lists userinfo_endpoint, scopes_supported (openid,
//     offline_access, email, profile), id_token_signing_alg_values ES256,
//     subject_types public and claims_supported.
//
// The authorization endpoint and the sign-in page (authorize.go,
// signin.go, csrf.go, templates/):
//
//   - GET /oauth2/authorize: fosite validates the request
//     (NewAuthorizeRequest: client, response_type code, scopes under
//     PermissionScopeStrategy, state of 8+ characters, redirect URI);
//     then gatehouse adds exact redirect URI matching — fosite lets any
//     port through for a registered http loopback URI (RFC 8252 §7.3);
//     gatehouse does not — and refuses PKCE other than S256 and public
//     clients without PKCE before anybody types a password (fosite's
//     PKCE handler checks again when it issues the code). A request
//     whose client or redirect URI is not established gets an error page
//     (400), never a redirect; later errors redirect to the client
//     (RFC 6749 §4.1.2.1).
//   - The page is one html/template (embedded) showing the current step.
//     Its only script is the passkey ceremony's (passkey.Script, served
//     at /oauth2/passkey.js, loaded only where a passkey can be used;
//     every step works without it). Each answer carries
//     Content-Security-Policy "default-src 'none'; style-src
//     'sha256-…'" (the inline style sheet by hash), "script-src 'self';
//     connect-src 'self'" (that script and its request for the passkey
//     options), base-uri and frame-ancestors 'none', X-Frame-Options DENY,
//     nosniff, no-referrer and Cache-Control no-store. form-action is
//     not set: browsers apply it to the redirect that follows the post,
//     which goes to the client.
//   - State between steps lives in the browser, MACed under the server
//     key "oauth-signin" (SignInKeyName), so nothing is stored and any
//     instance can take the next post: a nonce cookie (32 random bytes,
//     HttpOnly, SameSite=Lax, Path /oauth2/authorize, Secure for an
//     https issuer); the form's hidden fields carry the authorize
//     request's raw query ("request", from which the POST rebuilds the
//     fosite request and validates it all again), the CSRF token
//     (HMAC of nonce and request: a post without it, from another
//     browser, or for another request is 403) and the ticket (the steps
//     passed and the signed-in user, expiring after 10 minutes, MACed
//     with nonce and request).
//   - Steps are a sequence (pageStep: name, needed, fill, submit): the
//     first step not done and needed is shown; when none is left, the
//     signed-in user (still existing and enabled) becomes the session
//     (sub `account\user`), every requested scope is granted, and fosite
//     issues the code (303 to the redirect URI). Now: password, then
//     consent for clients not flagged first-party (Deny →
//     access_denied).
//   - The password step is authn.PasswordFlow.SignIn — the same flow
//     value as HTTP Basic (instance passes it as ProviderConfig.SignIn),
//     so throttling, the credential cache and last-login are shared; a
//     throttled attempt shows a friendly message with 429 and
//     Retry-After. Wrong password, unknown user or account and disabled
//     user all read "The user name or password is not correct." (the
//     flow costs one argon2id run either way). Sign-ins are audited
//     like Basic ones (sign-in success/failure/denied).
//   - The seam for second factors: the second-factor step
//     (secondFactorStep) shows one form per method the user has
//     (factorMethod: TOTP, passkey; templates/factor-<method>.html), and
//     its answer goes to PasswordFlow.Continue, which checks it with the
//     method's authn.Step. An external provider (SAML, LDAP) needing its
//     own page is one more pageStep between password and consent in
//     Provider.steps, recording itself in the ticket's Done list.
//   - Passkeys (passkey.go): "Sign in with a passkey" on the password step
//     signs in without the password (a discoverable credential, user
//     verification required, throttled and audited like a password, the
//     second-factor step then done); on the second-factor step a passkey
//     is one of the methods. POST /oauth2/authorize/passkey answers the
//     WebAuthn options for the page's request, CSRF token and ticket.
//
// The password grant (password.go; RFC 6749 §4.3), only for clients
// flagged for it (SPEC §7):
//
//   - The built-in client admin-cli (AdminCLIClientID; the Keycloak
//     pattern for admin CLIs): public (no secret), first-party, grant
//     types password and refresh_token, scopes `*` plus the protocol
//     scopes openid, offline_access, email and profile, like the code-flow
//     clients; the token's power is still the user's effective permissions
//     ∩ its scopes. It exists on every installation without being stored:
//     StorageClients.GetClient resolves the id before looking in storage.
//     No stored client can have that id (stored ids are 20 random
//     base64url characters, resources/clients.go). A stored client gets
//     the grant only with grant type password, which the clients resource
//     allows only for first-party clients; fosite answers any other
//     client unauthorized_client.
//   - fosite's ResourceOwnerPasswordCredentialsFactory is composed with
//     passwordAuth as its Authenticate: authn.PasswordFlow.SignIn, the
//     same flow value as HTTP Basic and the sign-in page, so throttling
//     (per name as typed and per client address), the credential cache
//     and last-login are shared. The form's fields other than the
//     grant's own are the flow's step answers, so a TOTP step reads
//     `totp`. The token endpoint puts a passwordAttempt in the request
//     context (client address in, outcome out), since fosite's storage
//     call passes only name and password.
//   - Any refusal (wrong password, unknown user or account, disabled user,
//     a further step missing or wrong) is invalid_grant with one
//     description; a throttled attempt is invalid_grant with 429 and
//     Retry-After (the throttle counts names as typed, so this tells
//     nothing about the user existing); an expired password is
//     invalid_grant saying so. Sign-ins are audited like the page's.
//   - The session is the signed-in user's (sub `account\user`, checked
//     enabled once more), every requested scope is granted; a request
//     without scope gets the client's permission scopes (admin-cli: `*`).
//     A refresh token is issued exactly when offline_access is granted;
//     under openid the session carries the ID token claims, so refreshes
//     return an id_token (the password grant's own answer has none: fosite
//     has no OpenID Connect handler for it).
//
// The token endpoint's audit and throttling (tokenaudit.go):
//
//   - Every /oauth2/token answer queues one audit entry, action token
//     (audit.ActionToken), through the server's bounded audit queue like
//     sign-ins: success with actor client:<id>, the token owner's account,
//     target the stored client's href
//     (/auth/v2/accounts/{a}/users/{u}/clients/{id}; /oauth2/token for
//     admin-cli) and detail the grant type and granted scopes; failure
//     with the OAuth error code as detail and actor client:<id> as
//     presented (Basic user name or client_id, kept only when shaped like
//     a client id) or else the client address; denied (detail
//     "throttled", or the error code of a throttled password grant) for a
//     429. Never a token or secret. A password grant still records its
//     sign-in entry as well.
//   - An invalid_client from fosite's request validation (unknown client,
//     bad secret) counts as a failure of the client address in the shared
//     authn.Throttle (the PasswordFlow's; throttle name
//     "client@{address}", like an API key's "api-key@{address}"). While
//     the address is throttled (by these or by bad passwords, API keys or
//     tokens) the endpoint answers 429 with Retry-After (invalid_client)
//     before parsing the request.
//   - A refresh re-checks the grant's user: disabled or deleted is
//     invalid_grant before anything is rotated or issued.
//
// The bearer authenticator (BearerAuthenticator) claims only bearer
// tokens shaped like a JWT (three dot-separated parts, not gh_…), so API
// keys sent as bearer tokens keep reaching the API key authenticator
// before it. It asks TokenStore.AccessToken (signature, typ, iss and exp
// by the KeySet; the family not revoked, the user there and enabled) and
// refuses a token whose client is gone; the
// principal is Method oauth with the token's scopes and client id (the
// audit actor is "client:<id>"). A refused token counts as a failed
// sign-in of the client address.
//
// Pushed authorization requests (RFC 9126; par.go):
//
//   - POST /oauth2/par is fosite's PAR handler
//     (compose.PushedAuthorizeHandlerFactory; not enforced:
//     require_pushed_authorization_requests is false). The client
//     authenticates exactly as at the token endpoint, with its registered
//     method (a public client sends its client_id); failures count
//     against the client address in the token endpoint's throttle, which
//     also answers 429 here. The body is bounded like the other
//     endpoints' (limitBody); parameters in the URL query are refused.
//     fosite validates the pushed parameters as an authorization
//     request, then gatehouse adds the authorize endpoint's own checks
//     (checkAuthorizeParams: exact redirect URI, PKCE S256 only, PKCE for
//     public clients) and refuses request objects. The answer is 201
//     {request_uri, expires_in}.
//   - The pushed request lives in the leased token store, kind oauth-par,
//     keyed by tokenID(request_uri) (the key does not reveal it), without
//     the client's credentials (client_secret, client_assertion are
//     dropped from the stored form), for PARLifetime = 90 s (RFC 9126
//     asks for a short life; the lease and the record's expiry, judged by
//     the TokenStore's clock, are the same). request_uris are
//     "urn:ietf:params:oauth:request_uri:" + 32 random bytes.
//   - Single use: GetPARSession takes the record (TakeToken, one etcd
//     transaction), so of two uses, concurrent or not, exactly one gets
//     it; DeletePARSession after it finds nothing, which is success.
//   - The sign-in page and the consumed record: the authorize GET with a
//     request_uri resolves it once (pushedRequest: fosite takes the
//     record and checks the client_id), and from then on the page
//     carries the pushed parameters (without request_uri and
//     credentials) as the run's "request" query — the same hidden field,
//     CSRF token and MACed ticket as any run, so the parameters cannot be
//     changed in the browser — and every step re-validates them as an
//     ordinary authorization request. Decided over re-issuing a new
//     request_uri per step (one etcd write per step, and a page reload
//     would fail) and over a store-side "peek" (a request_uri would then
//     be good more than once). A posted step whose request holds a
//     request_uri is refused (400), so a form can never consume one; an
//     unknown, used, expired or foreign request_uri gets the error page
//     (400), never a redirect. Since pushing is not required, carrying
//     the parameters in the page grants nothing a plain authorize
//     request could not.
//
// private_key_jwt client authentication (RFC 7523; clients.go):
//
//   - A client registers token-endpoint-auth-method (storage.Client
//     AuthMethod: client_secret_basic, client_secret_post,
//     private_key_jwt, or none, which public clients and only they have)
//     and, for private_key_jwt, a JSON Web Key Set (storage.Client JWKS,
//     the JSON text). Client implements fosite.OpenIDConnectClient, so
//     fosite enforces a registered method at the token, PAR,
//     introspection and revocation endpoints. A confidential client
//     without a registered method (left out at creation, and every
//     record written before the field existed) shows the default
//     client_secret_basic but keeps accepting client_secret_post too, as
//     all clients did before (and as OAuth libraries that try Basic,
//     then the form, expect): the provider's ClientAuthenticationStrategy
//     wraps fosite's default with a context noting a form secret
//     (secretMethodContext), and StorageClients.GetClient then reports
//     client_secret_post for that request (clientFor).
//   - ParseClientJWKS checks a set when the clients resource writes it:
//     at most 16 KiB and 8 keys; public keys only (any private or
//     symmetric member, in any case, is refused); use sig or absent;
//     RSA of 2048+ bits (RS256, or PS256 by its alg) or EC P-256
//     (ES256). fosite v0.49 verifies client assertions with RSA and
//     ECDSA keys only, so EdDSA keys are refused with a message saying
//     so. fosite compares an assertion's alg with one per-client
//     algorithm (GetTokenEndpointAuthSigningAlgorithm), so the keys of a
//     set must share one algorithm; in a set of several keys each needs
//     a distinct kid. Resolving a client parses its stored set again
//     (cached by text), every key marked use sig.
//   - fosite verifies the assertion (signature with the client's key,
//     iss = sub = client id, exp, jti present, aud = Config.TokenURL,
//     the issuer's /oauth2/token); the jti is refused if seen before
//     (StorageClients.ClientAssertionJWTValid) and recorded, create-only
//     so two concurrent uses of one assertion cannot both pass, in the
//     leased token store (kind oauth-jti) until the assertion's exp. An
//     assertion whose exp is more than MaxAssertionLifetime (1 h) away
//     is refused, so a jti never has to be kept longer.
//   - A private_key_jwt client is created without a secret (the
//     resource's 201 shows no client-secret) and so can never switch to a
//     secret method; a secret client may switch to private_key_jwt (its
//     secret then stops working) and back.
//   - Discovery lists private_key_jwt among the token endpoint's
//     methods, token_endpoint_auth_signing_alg_values_supported (RS256,
//     PS256, ES256), pushed_authorization_request_endpoint and
//     require_pushed_authorization_requests false.
//
// External sign-in steps (external.go; SAML through samlsignin):
//
//   - The seam is "an external step signed user a\u in for this pending
//     authorize request": ExternalMethods (installed with SetExternal)
//     lists buttons for an account and names each method's start URL;
//     CompleteExternal is what a method calls once it has a user. The
//     run then goes on exactly as after the password step (proceed:
//     consent unless first-party, then issueCode, which re-checks the
//     user exists and is enabled). The external step replaces the
//     password step and its further authn steps (TOTP): the IdP
//     authenticates.
//   - The password step shows a single sign-on section: a form choosing
//     the account (sso-account; re-shows the step, nothing is signed in)
//     and, for the chosen account — or the authorize request's
//     "account" parameter, a gatehouse extension — a button per method.
//     A button is a form of its own posting the request, CSRF token and
//     ticket with external=<key>; after the CSRF and ticket checks the
//     answer is a 303 to the method's start URL with pending=<sealed>:
//     the raw request, the binding MAC(nonce, request) and the key,
//     MACed under the page key, good for ticketLifetime. The nonce
//     itself never leaves its cookie.
//   - CompleteExternal stores the request, the binding and the user as
//     a leased token (kind oauth-external, 32 random bytes, 2 minutes)
//     and returns /oauth2/authorize?external=<id>. That GET (the id the
//     only parameter) takes the record — single use — and goes on only
//     when the browser's nonce cookie gives the same binding (the
//     cookie is SameSite=Lax: sent on this top-level GET even after the
//     IdP's cross-site POST to the ACS), so a response carried into
//     another browser signs nobody in. The request is validated again
//     as an ordinary authorization request.
//   - ErrorPage lets a method answer with the page's error page and
//     security headers. The ExternalMethods are kept beside the Provider
//     (a sync.Map keyed by it) rather than in a field while the seam is
//     new; provider.go is unchanged.
package oauth
