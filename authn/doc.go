// Package authn verifies who a caller is, independently of transport and
// storage, and is the one seam every way of signing in plugs into.
//
// The seam: the HTTP layer takes Credentials from a request (Basic name
// and password, a Bearer token, an X-API-Key, the client address) and
// asks an Authenticator; instance assembles a Chain of them (API keys,
// then HTTP Basic passwords; OAuth bearer tokens come from package oauth).
// External password directories (LDAP, package ldapsignin) plug into the
// PasswordFlow as Directories, asked only for a name without a local
// password; SAML sign-ins enter through the OAuth sign-in page. Each answers a Result — NotMine (the next one is
// asked), Accepted with a Principal, Refused, or Throttled with a
// Retry-After — and an error only when it cannot decide (storage
// unreachable): a wrong password is a normal result, as with dex's
// connectors. The Principal is the account and user acted as, how it
// signed in (Method), and its Scopes: permission patterns that cut its
// power (an API key's permissions now, a token's scopes later), which
// authz applies to every decision.
//
// A password sign-in is a PasswordFlow: the password (argon2id, OWASP
// parameters m=19 MiB, t=2, p=1, stored as a PHC string; hashes with
// absurd costs are rejected before argon2 runs, and DummyVerify equalises
// the cost of unknown users; at most GOMAXPROCS argon2id runs go at once,
// the others wait in line, so a burst of sign-ins neither holds its
// memory cost many times over nor finishes any later), then every further Step the user has (a
// TOTP code, later), with answers the sign-in page or the password grant
// pass in; HTTP Basic runs it with none. Verified credentials are cached
// the way Elasticsearch realms do (entries keyed by HMAC-SHA256 of
// principal and password under a random per-process key, never the
// password itself, each carrying the stored hash as a stamp so that a
// changed password misses, and Forget dropping a principal's entries;
// failures are never cached). Brute force is throttled the way Keycloak
// does, counting failures per user name as typed and per client address
// in sliding windows (a failure counts for exactly one window, so there
// is no boundary burst and Retry-After is exact). API key secrets (256
// bits, shown once) are stored as SHA-256 and compared in constant time.
//
// Users and API keys are found through small interfaces (Users, APIKeys)
// the caller adapts its storage to; time and randomness are injected. The
// package must not touch HTTP, storage or authorization decisions.
//
// Lockout holds across instances (Keycloak's brute-force detection is
// the anchor): the per-user count of sign-in names ("account\user") is
// also kept in a SharedCounts (instance plugs in storage.FailureCounts,
// leased keys in etcd that every instance's watch-fed cache holds), so N
// instances allow a user the limit of failures one instance allows. A
// failure is one compare-guarded increment in an etcd transaction,
// written before Fail returns; Allowed reads the shared count from the
// cache (no etcd round trip on the hot path), so an instance sees
// another's failures within the watch latency; a success clears it. The
// shared count is a fixed window from the user's first failure (its
// lease ends with it). A failure the shared count took is not also
// counted in the instance's own sliding window — only one etcd could not
// take (unreachable) is, so an unreachable etcd degrades to
// per-instance counting — and a user is refused when either reaches the
// limit. So a lockout cleared in etcd (a success, or an administrator's
// DELETE …/lockout, on any instance) stops every instance refusing the
// user as soon as its watch delivers the deletion, with no instance's
// own window still holding the failures. The price: the shared fixed
// window allows a burst of up to twice the limit around its end, where
// the sliding window allowed none. Per-address counts, and names that
// stand for an address (an API key's or a token's), stay per instance.
// Without a SharedCounts (unit tests, the load tool) the throttle is per
// instance as before.
//
// The permanent lockout (ThrottleLimits.UserDisableFailures) needs the
// user record, so it lives in the SharedCounts too: the same transaction
// as a failure counts the consecutive failures of an existing, enabled
// user, and the one reaching the threshold disables the user, audited,
// in that transaction (storage.FailureCounts); the Throttle then tells
// OnUserDisabled, which drops the user's cached credentials. A
// throttled attempt is no failure, so the threshold is reached only
// across temporary lockouts; a success, an administrator's clear, or any
// change of the user record (enabling it again) resets the count.
package authn
