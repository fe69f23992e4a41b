// Package ldapsignin joins gatehouse's LDAP directories (ldapdir) to its
// sign-in seam and to federation: SignIn is the authn.DirectorySignIn of
// the password flow (HTTP Basic, the OAuth sign-in page, admin-cli's
// password grant), and Syncer runs the directory sync behind
// POST /auth/v2/accounts/{a}/providers/{pv}/sync (SPEC §8, §8a).
//
// Sign-in. A name account\login without a local password is tried
// against every ldap provider of the account, in name order (read from
// the store's watch-fed view): the ldapdir.Config is built from the
// stored provider (Config: the sealed bind password opened under the
// server key storage.ProviderSecretKeyName, the mapping copied), the
// directory signs the login in by search-then-bind, and the first
// directory that verifies the password wins. Its entry becomes a
// federation.Identity (Identity: type ldap, the provider's account and
// name, subject = the value of the login attribute as the directory
// holds it; attributes = the mapped name, email, full-name, groups, plus
// every raw attribute and dn) that federation.Resolve upserts and
// resolves: an existing link, else the rules and a user created just in
// time, with rule grants recomputed at every sign-in, so a directory
// group change shows at the next one.
//
// Decisions:
//
//   - Plain ldap:// without start-tls is refused: the provider document
//     has no "allow insecure" field, and a password must not cross the
//     network in the clear. Such a provider (like any provider whose
//     configuration ldapdir refuses, or whose bind password does not
//     open) is treated as unavailable, with an error naming what to fix
//     (use ldaps:// or set start-tls).
//   - A wrong password and an unknown login are the same result
//     (not ok, nil error) whatever the directory; an empty password never
//     reaches here (authn refuses it first, and ldapdir refuses it again
//     before any I/O).
//   - A directory that cannot be asked (network, TLS — a wrong CA —,
//     timeout, service bind) is an *UnavailableError when no other
//     directory of the account verified the password: it unwraps to
//     ldapdir.ErrUnavailable and to an api.Problem 503 "the directory …
//     is unavailable", so the pipeline answers 503 and the sign-in page
//     shows that instead of "wrong password"; it is logged with its cause.
//   - federation.ErrNoRule and ErrNameClash (and ErrInvalidIdentity)
//     refuse the sign-in although the password was right: SignIn returns
//     not ok with a Refusal the flow shows as the reason, and logs a
//     warning naming the principal, provider and cause; the caller (the
//     pipeline, the sign-in page, the password grant) audits the refusal
//     as every failed sign-in (sign-in/failure under the name as typed).
//     The principal and its attributes are stored all the same
//     (federation's choice), so administrators see who tried.
//   - Verified directory credentials are not cached (see
//     authn.PasswordFlow): a password change, a disabled or removed
//     entry, and a group change take effect at the next sign-in.
//
// Sync. Syncer.Start takes a single-flight lock per provider across
// instances — a create-only etcd token (storage.CreateToken) that lives
// LockTTL and is renewed with every progress write, so a sync whose
// instance died is stale once the token expires and a new one may start
// (the status then still says running until it does) — then writes the
// running status (storage.ProviderSync) in the request's transaction and
// runs the sync in the background:
//
//  1. groups under group-base, when set, are read first (their member
//     lists give each user's groups; counted as groups); without
//     group-base, groups are the distinct values of the users' mapped
//     groups attribute;
//  2. a counting pass over the users gives the total (LDAP has no cheap
//     count; a paged search of names is cheap next to the resolutions);
//  3. every user (paged, PageSize entries a page) is resolved with
//     federation.ResolveWith and JITWithoutRule by Workers goroutines:
//     the principal is created or updated, the user created just in time
//     in the provider's account (or a root rule's) and the account rules
//     applied; an entry federation refuses (a name clash) is skipped and
//     named in last-error;
//  4. only when the whole listing succeeded: every user linked to a
//     principal of this provider whose entry was not seen is disabled
//     (never deleted; users linked to other providers and local users are
//     never touched; re-enabling is an administrator's decision).
//
// The status (state, progress, total, users, groups, disabled, started,
// finished, last-error) is written about every ProgressEvery while the
// sync runs, each write guarded on the status still being this sync's
// and the provider still existing: a deleted provider, or a lost lock,
// stops the sync. It ends done, or failed with the error.
//
// A provider's sync-interval makes its directory sync by itself:
// Schedule (every instance runs it) looks each minute for ldap providers
// whose last sync started at least that long ago, or never ran, and
// starts them; the cross-instance lock lets one instance run each.
package ldapsignin
