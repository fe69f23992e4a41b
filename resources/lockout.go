package resources

import "net/http"

// deleteUserLockout clears a user's sign-in lockout.
func deleteUserLockout(c *call) error {
	return problem(http.StatusNotImplemented, "not built yet")
}
