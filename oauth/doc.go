// Package oauth is gatehouse's OAuth 2.0 and OpenID Connect core, built
// on ory/fosite: the token state fosite keeps between requests, the
// signing keys, and the JWT access tokens (RFC 9068) that modules verify
// offline. Later steps mount its endpoints (/oauth2/authorize, token,
// introspect, revoke, userinfo, jwks, discovery) and put a bearer token
// authenticator on /auth/v2; this package has no HTTP handlers.
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
//     Refresh rotation works the same way: the old token is taken, put
//     back marked used until its own expiry (a later use is reuse), and
//     the access token issued with it is deleted.
//   - Token families: fosite keeps a grant's request id through every
//     refresh, so the request id is the family id (one per sign-in
//     session). Revocation writes a leased marker per family — refresh
//     tokens revoked for good, access tokens issued up to a time — which
//     every read of a family's token checks; so revocation takes effect at
//     once on every instance, also for a token a concurrent rotation
//     writes just after it, without listing the family's tokens.
//   - Access tokens are JWTs (typ at+jwt; iss, sub = `account\user`, aud,
//     exp, iat, jti, client_id, scope, account) signed ES256. Their
//     "signature" in the token store is the jti, so introspection and the
//     API check revocation by jti after verifying the signature offline.
//   - Signing keys are ECDSA P-256, kid = RFC 7638 thumbprint, kept in a
//     KeyStore that never expires values (not the leased token API: a
//     key must not vanish silently). Generation n is the name
//     "signing-n", written create-only, so of concurrent creators exactly
//     one key is made and everybody reads it. The newest generation signs;
//     older ones stay in the JWKS until Retain after their successor's
//     creation. storage offers no create-only put by name that product
//     code may use (only storage builds keys), so the KeyStore adapter
//     over storage comes with the step that adds one; tests use etcd
//     directly.
package oauth
