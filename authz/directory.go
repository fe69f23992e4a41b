package authz

// Directory is what decisions read: the account tree, users, memberships,
// role permissions and ceilings. The storage view satisfies it (and a
// transaction's guarded view, so a check made inside a write holds on the
// revision the write commits on); authz never imports storage.
//
// The Each methods call fn for each member in order until fn returns
// false.
type Directory interface {
	AccountExists(a string) bool
	// Parent returns the parent of account a, if it has one.
	Parent(a string) (string, bool)
	// UserState reports whether user u of account a exists and is enabled.
	UserState(a, u string) (exists, enabled bool)
	EachUserRole(a, u string, fn func(role string) bool)
	EachUserGroup(a, u string, fn func(group string) bool)
	EachGroupRole(a, g string, fn func(role string) bool)
	EachRolePermission(a, r string, fn func(perm string) bool)
	EachCeiling(a string, fn func(perm string) bool)
	// DecisionRev changes whenever anything a decision reads from account
	// a changes (its record, ceiling, memberships, role permissions);
	// memoised holdings compare it.
	DecisionRev(a string) int64
}
