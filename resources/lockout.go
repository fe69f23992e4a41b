package resources

import (
	"context"
	"fmt"
	"time"

	"gatehouse/audit"
	"gatehouse/storage"
)

// Lockout (SPEC §3c): what an administrator sees and clears of the
// sign-in throttle's shared per-user count (storage.FailureCounts,
// authn.Throttle).
//
// Decisions:
//   - The user document shows <locked-until> (RFC 3339, rounded up to
//     the second, so it never claims an end before the real one) while
//     the user's shared failure count has reached the limit it was
//     written with, until its window ends — in its alphabetical place
//     among the user's fields (after last-login), like the other
//     optional fields. It is read from the watch-fed cache
//     (View.LockedUntil: no etcd round trip, no allocation unless
//     locked), untracked, and folded into the ETag only while shown, so
//     failures below the limit do not change the document's ETag. The
//     user schema ignores it in a PUT body (read-only).
//   - DELETE …/users/{u}/lockout (auth:users:lockout:delete) deletes the
//     user's failure count and consecutive failures in one transaction
//     guarded on the user's existence and on the caller's tenancy (the
//     request's checks), audited in it like every write; it answers 204
//     whether or not there was anything to clear (nothing to clear
//     writes nothing, hence no audit entry, as for other writes that
//     change nothing). Every instance stops refusing the user as soon as
//     its watch delivers the deletion: instances do not count a failure
//     the shared count took in their own windows (authn.Throttle), and
//     this one also drops what its own window holds.
//   - A permanent lockout (auth.throttle.user-disable-failures) disables
//     the user in the failure's own transaction; its audit entry is
//     DisabledEntry's. An administrator lifts it with a PUT of
//     enabled=true, which, being a change of the user record, also
//     starts the consecutive count afresh; a DELETE of the lockout
//     resets that count too but does not enable the user.

// lockedUntil is user u's lockout end as the document shows it, if the
// user is locked out now.
func (v *nb) lockedUntil(a, u string) (string, bool) {
	until, ok := v.raw.LockedUntil(a, u, v.clock())
	if !ok {
		return "", false
	}
	s := until.UTC().Add(time.Second - 1).Truncate(time.Second).Format(time.RFC3339)
	v.Mix("locked-until " + s)
	return s, true
}

// deleteUserLockout clears a user's sign-in lockout on every instance.
var deleteUserLockout = resetUserPart(func(s *storage.Store, ctx context.Context, a, u string) error {
	_, err := s.ClearLockout(ctx, a, u)
	return err
}, func(c *call, a, u string) { c.s.Throttle.Forget(a + `\` + u) })

// DisabledEntry is the audit entry of a permanent lockout
// (storage.FailureCounts.DisabledEntry): an update of the user, whose
// actor is the sign-in name whose failures disabled it (as in its
// sign-in entries), from the address of the last failure, with a fixed
// phrase and the count.
func DisabledEntry(a, u, address string, failures int) storage.AuditEntry {
	return storage.AuditEntry{Actor: a + `\` + u, Account: a, Action: audit.ActionUpdate,
		Target: userHref(a, u), Address: address, Outcome: audit.Success,
		Detail: fmt.Sprintf("permanent lockout: disabled after %d consecutive failed sign-ins", failures)}
}
