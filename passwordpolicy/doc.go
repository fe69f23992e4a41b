// Package passwordpolicy decides whether a new password may be set, in
// the manner of NIST SP 800-63B (§5.1.1.2, memorized secrets), and when a
// password counts as expired. It owns the rules and their names; it does
// not hash, store or render anything: resources calls Check before it
// hashes a new password, runs the history rule (Reuse) inside the storage
// transaction that writes the new hash, records the change with
// SetPassword, and asks Expired when it shows a user; instance asks
// Expired when a user signs in. Settings come from auth.password.*.
//
// # Rules
//
// Every refusal is a *Violation naming one rule, which the API shows as
// the <rule> element of a 400 problem document (SPEC §3c):
//
//   - min-length: fewer characters than auth.password.min-length (8).
//     Characters are Unicode code points (runes), not bytes, so a
//     password of emoji or CJK counts what the user typed.
//   - max-length: more characters than auth.password.max-length (256).
//     At least 64 characters are always allowed, whatever the setting.
//   - common: the password, compared case-insensitively, is one of the
//     30,000 most frequent passwords of breach corpora: Dropbox's zxcvbn
//     list (MIT licence), used from github.com/trustelem/zxcvbn/frequency
//     rather than copied. The list is sorted once, on first use, into a
//     slice that shares the package's strings (about half a megabyte),
//     and searched by bisection. A password of white space alone is
//     refused under this rule too: it is as guessable as the listed ones,
//     and "choose a less predictable password" is the right advice for
//     it, where "make it longer" would not be.
//   - contains-name: the password contains, case-insensitively, the
//     user's name or the name of the user's account. Names shorter than
//     three characters are ignored: a user "al" or an account "hr" would
//     otherwise refuse every password with those two letters anywhere.
//   - history: the password is the current one or one of the last
//     auth.password.history (5) previous ones. Previous hashes are kept on
//     the user record (newest first, trimmed to the setting) and compared
//     with argon2id verification (authn.VerifyPassword), never by
//     re-hashing. The check runs inside the guarded, retried update of
//     the user record, so it holds on the revision the new hash is
//     written on; Reuse remembers each hash's answer, so a retry does not
//     pay argon2id twice. With history 0 nothing is remembered and the
//     rule is off, except that a user changing their own password must
//     still choose one that differs from the old one they just typed.
//     Removing a password (DELETE …/password) remembers it too, so
//     removing and setting again does not get around the rule.
//
// As NIST asks, there are no composition rules (no required digits,
// capitals or symbols), any Unicode is allowed, and nothing is
// normalised or trimmed: the password is hashed as sent.
//
// # Expiry
//
// Expiry is opt-in (auth.password.max-age, default 0 = never), as NIST
// advises against periodic changes. With a max age, a password set that
// long ago or longer counts as expired: the user document shows
// <password-expired>true</password-expired> and a sign-in is refused
// until the user changes it (PUT /auth/v2/me/password, the one call an
// expired password may make). The time a password was set is kept on the
// user record; a record written before it was kept counts from the
// user's creation, since its password cannot be older than its user, so
// turning max-age on applies to existing passwords too. Setting a new
// password clears expiry; an administrator's password-expired flag
// forces it regardless of age.
//
// # Where the policy does not apply
//
// The bootstrap administrator's password (admin.password, or a generated
// one) is set before any policy-checked route exists: conf checks its
// length only, since the operator chose it deliberately (and a generated
// one is 26 random characters). Change it after the first start; with a
// max age it expires like any other. Passwords of directory (LDAP) users
// are the directory's business.
package passwordpolicy
