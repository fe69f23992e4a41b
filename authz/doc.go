// Package authz is gatehouse's one authority: every "may this principal
// do that, there?" — route checks, POST /check, effective permissions,
// API keys, escalation checks and later token scopes — is answered by
// Authority.Decide (or a Batch of it, which memoises per request). It
// reads what decisions need through the small Directory interface, which
// the storage view satisfies (authz never imports storage); users'
// holdings are memoised until the Directory's DecisionRev of an account
// they read moves. It owns the permission-string grammar (Validate),
// permission implication (Implies, FirstImplying), account ceilings
// (Ceiling, CeilingOf), effective-permission listing and down-scoping
// (Effective, Intersect), the console name filter (Glob), the tenancy
// rule (Within, Visible) and escalation prevention (MayChangeCeiling,
// FirstUngrantable: a principal grants only what it holds; a ceiling
// changes only by a strict ancestor's principals). It must not touch
// storage, HTTP, clocks or logging, and the decision functions (Implies,
// FirstImplying, Ceiling.Allows, Decide, Glob, Within, and
// Authority.Decide once a holding is memoised) allocate nothing. Permissions follow Apache Shiro's WildcardPermission with case
// sensitivity ON (Shiro's default lower-cases; gatehouse does not, so
// "Print:jobs" and "print:jobs" are different permissions): a permission is
// 1 to 16 parts separated by ':', each part 1 or more subparts separated by
// ',', built only from ASCII letters, digits and "_ - . *", without empty
// parts, empty subparts or white space, at most 256 characters long; a
// subpart that is exactly "*" is a wildcard, while '*' inside a longer
// subpart such as "job*" is an ordinary literal character. Held permission
// H implies wanted permission W iff, for every part index i of W: if H has
// no part i, it is satisfied (a shorter H implies everything below it, so
// "a:b" implies "a:b:c"); otherwise, if H's part i contains the subpart "*"
// it is satisfied; otherwise every subpart of W's part i must be one of the
// subparts of H's part i (so a wanted "*" is implied only by a held "*",
// and "a:b" does not imply "a:*"); and once W's parts are exhausted, every
// remaining part of H must contain "*" ("a:b:*" implies "a:b", "a:b:c" does
// not). Consequently "*" implies everything, "auth:me:*:read" implies
// "auth:me:attributes:read", "print:jobs,ports:read" implies
// "print:jobs:read" but not the reverse, and implication is reflexive and
// transitive.
package authz
