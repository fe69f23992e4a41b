// Package authn verifies who a caller is, independently of transport and
// storage: it hashes and verifies passwords with argon2id using the OWASP
// parameters (m=19 MiB, t=2, p=1, 16-byte salt, 32-byte key, stored as a PHC
// string; encoded hashes with absurd costs are rejected before argon2 runs,
// and DummyVerify equalises the cost of signing in as an unknown user),
// checks a minimal password policy, caches successful verifications the way
// Elasticsearch realms do (entries keyed by HMAC-SHA256 of principal and
// password under a random per-process key, never the password itself, each
// carrying a caller-supplied stamp such as the stored password hash so that
// a changed password misses, and Forget dropping all of a principal's
// entries on disable, delete or password change; failures are never
// cached), and throttles brute force the way Keycloak does, counting
// failures per user name as typed and per client address in sliding windows
// (a failure counts for exactly one window, so there is no boundary burst
// and Retry-After is exact). Time and randomness are injected (a clock func
// and an io.Reader). The package must not touch HTTP or storage: callers
// load user records, pass stamps and addresses in, and translate results
// into responses.
package authn
