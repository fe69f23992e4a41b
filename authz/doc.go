// Package authz is gatehouse's one authority: every "may this principal
// do that, there?" — route checks, POST /check, effective permissions,
// API keys, escalation checks and later token scopes — is answered by
// Authority.Decide (or a Batch of it, which memoises per request). It
// reads what decisions need through the small Directory interface, which
// the storage view satisfies (authz never imports storage); users'
// holdings are memoised until the Directory's DecisionRev of an account
// they read moves (see "Heap per user" below). It owns the permission-string grammar (Validate),
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
//
// # Heap per user
//
// Holdings are memoised only for principals that make requests or are
// asked about in POST /check (Holdings.Of, through Authority.Decide and
// Batch). A document that shows some user's effective permissions (a
// user, its permissions, one permission) computes the holding with
// Holdings.Compute, which reuses a valid memoised one but stores nothing:
// a rendered user costs nothing once the response is written, so listing
// or showing every stored user leaves the heap as it was.
//
// A memoised principal costs its holding (the struct, the permission and
// granting-role lists, the ceiling chain, the accounts it depends on and,
// once asked, its effective list and digest), a memo entry and the
// memo map slot, and its key's strings, which the memo owns (cloned, so
// an entry never pins the request line it was cut from). Holdings
// estimates this per entry (Holding.cost); measured on the benchmark
// fixture, a principal with no role costs about 670 bytes (estimated
// 777) and one with three roles, two groups, 21 permissions and a
// two-level ceiling about 1,850 bytes for the holding alone, some 2,100
// with its entry and key (estimated 2,528): the estimate errs high by
// 15-20 %, so the budget bounds the real size too.
//
// Holdings are shared by shape: users of one account that hold the same
// roles and groups directly hold the same, so Holdings keeps one holding
// per shape (account, roles, groups; at most ShapesBudget, 8 MiB,
// estimated) and the per-user memo's entries point to it. A user's
// holding then costs two range reads (its roles, its groups) and a map
// lookup, and the effective list and Sum are made once per shape; a
// memoised principal costs its entry, node and key (about 150 bytes),
// not a holding of its own. ComputeHolding, used inside guarded writes
// so every read becomes a guard, stays a full computation.
//
// The memo's total is bounded by Holdings.Budget, DefaultHoldingsBudget
// (64 MiB) unless set; when a new holding would not fit, entries are
// evicted by CLOCK (second chance), so principals that keep asking stay.
// There is no configuration key for the budget yet: a deployment that
// needs another sets Authority.Holdings.Budget before serving. So the
// memo's share of the live heap is at most 64 MiB whatever the number of
// stored users — about 67 bytes per stored user at 1M users, and zero
// for users that are stored but never sign in or are asked about.
package authz
