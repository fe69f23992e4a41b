// Package federation resolves a federated identity — what a SAML
// assertion, an LDAP bind or an e-mail sign-in proved — to a local user
// (SPEC §8, §8a). The sign-in flows (samlsp, ldapdir, the sign-in page)
// authenticate; this package only decides who the identity is here.
//
// Resolve upserts the principal and its attributes, then: a principal
// already linked to a user that still exists → that user; else the root
// rules (lowest priority first, then by name) pick the account — the
// first matching rule whose account lies in the provider's account
// subtree wins, rules naming an account outside it are skipped — or the
// provider's account when none does; the user is created just in time
// with the mapped name, and given its account's default roles in the
// same transaction (storage.Txn.GrantDefaultRoles; they are ordinary
// memberships, never recorded as rule grants, so a rule that stops
// matching does not take them back). Then every matching account rule of the user's
// account grants its groups and roles (the union). Grants are recomputed
// at every sign-in: what rules granted through this principal and no
// longer match is taken back (storage.FederatedLink records which
// memberships came from rules; a membership the user already had is
// never recorded, so never taken back). A user whose name is taken by a
// local user not linked to the principal is refused (ErrNameClash),
// never linked by name; a principal no rule admits gets no user
// (ErrNoRule) unless Options.JITWithoutRule. The principal and its
// attributes are stored in both refusals, so administrators see who
// tried; auditing the refusal is the caller's.
//
// Everything one resolution writes is one etcd transaction built by
// storage.Update, whose every read goes through the transaction's guarded
// view: a rule, group, role, user or link changed concurrently fails the
// guards and the resolution is rebuilt on the new state.
//
// Principal ids are "{account}:{provider}:{subject}" for saml and ldap
// (SPEC §8a) and the address for email; in ids and attribute names "%"
// and "/" are written "%25" and "%2F" (storage keys cannot hold "/";
// SAML attribute names are often URIs). Conditions match attribute names
// case-insensitively and values with case-insensitive globs ('*', '?';
// ASCII letters only), a pattern without a wildcard matching the whole
// value; a multi-valued attribute matches when any value does, and all
// conditions of a rule must match (a rule without conditions matches
// every principal of its scope).
//
// The package knows nothing of HTTP or XML and builds no storage keys.
package federation
