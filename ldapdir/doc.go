// Package ldapdir is gatehouse's LDAP client: it signs a user in against a
// directory by search-then-bind, reads the user's groups, and streams every
// user and group for a sync. It owns the LDAP wire (go-ldap), TLS, filters
// and the mapping of entries to Entry; it knows nothing of etcd, HTTP,
// accounts or rules — the federation layer turns an Entry into a principal.
// A Config mirrors the ldap provider document (SPEC §8a); the slapdtest
// subpackage runs a real slapd for tests.
//
// Security decisions:
//
//   - An empty password (or login) is refused before any network I/O, so
//     no unauthenticated or anonymous bind is ever sent on a user's behalf.
//     A service bind DN without a password is refused by Validate for the
//     same reason.
//   - The login is escaped with ldap.EscapeFilter and AND-ed with the user
//     filter; a fuzz test pins that no input changes the filter's shape.
//   - Exactly one entry must match; none, several, a wrong password and an
//     empty one all give ErrInvalidCredentials, indistinguishable. Failures
//     to ask the directory (network, TLS, timeout, service bind, a refused
//     search) give ErrUnavailable, so callers never blame the user for an
//     outage. No error carries a password.
//   - Plain ldap:// is refused unless StartTLS is on or the config
//     explicitly sets AllowInsecure. TLS is 1.2 or later and verifies the
//     server certificate against the URL's host; when CA is set its
//     certificates are the only roots trusted, else the system's.
//   - Group search runs as the service account again after the user bind
//     (the user may not be allowed to read groups), on the same connection.
//   - userPassword is never copied into an Entry.
//   - Each call dials its own connection, closed when the call ends or its
//     context is cancelled; a Directory holds no connection and is safe
//     for concurrent use.
package ldapdir
