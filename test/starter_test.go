package test

import (
	"strings"
	"testing"

	"gatehouse/test/harness"
)

// starterRoleNames are the roles every new account starts with.
var starterRoleNames = []string{"administrators", "reporting", "support", "users"}

// dropStarterRoles deletes a new account's starter roles, for fixtures
// that reproduce documents of an account without them.
func dropStarterRoles(t testing.TB, s *harness.Server, account string) {
	t.Helper()
	for _, r := range starterRoleNames {
		s.Admin("DELETE", "/auth/v2/accounts/"+account+"/roles/"+r, "").Must(t, 204)
	}
}

// A new account starts with the starter roles, editable like any role,
// and their grants are cut by the account's ceiling.
func TestStarterRoles(t *testing.T) {
	s := harness.Start(t)
	s.Admin("POST", "/auth/v2/accounts", "<account><name>fresh</name><permissions><permission>auth:*</permission><permission>print:jobs:*</permission></permissions></account>").Must(t, 201)
	roles := s.Admin("GET", "/auth/v2/accounts/fresh/roles", "").Must(t, 200)
	var got []string
	for _, el := range roles.Root().ChildElements() {
		got = append(got, el.SelectAttrValue("identifier", ""))
	}
	if strings.Join(got, ",") != strings.Join(starterRoleNames, ",") {
		t.Fatalf("starter roles %v, want %v", got, starterRoleNames)
	}
	users := s.Admin("GET", "/auth/v2/accounts/fresh/roles/users/permissions?depth=2", "").Must(t, 200)
	var perms []string
	for _, el := range users.Root().ChildElements() {
		perms = append(perms, el.Text())
	}
	for _, want := range []string{"auth:me:read", "auth:me:*:read", "auth:me:attributes:update", "auth:me:password:create"} {
		if !strings.Contains(","+strings.Join(perms, ",")+",", ","+want+",") {
			t.Errorf("role users lacks %s: %v", want, perms)
		}
	}
	// A member of users holds its self-service permissions, within the
	// ceiling; users is the account's default role, so a new user has it.
	s.Admin("POST", "/auth/v2/accounts/fresh/users", "<user><name>ann</name></user>").Must(t, 201)
	s.Admin("GET", "/auth/v2/accounts/fresh/users/ann/roles/users", "").Must(t, 200)
	s.Admin("GET", "/auth/v2/accounts/fresh/users/ann/permissions/auth:me:read", "").Must(t, 200)
	s.Admin("GET", "/auth/v2/accounts/fresh/users/ann/permissions/print:jobs:release", "").Must(t, 200)
	// administrators holds *, but the ceiling (auth:*, print:jobs:*) cuts it.
	s.Admin("POST", "/auth/v2/accounts/fresh/users/ann/roles", `<role identifier="administrators"/>`).Must(t, 201)
	s.Admin("GET", "/auth/v2/accounts/fresh/users/ann/permissions/auth:users:create", "").Must(t, 200)
	s.Admin("GET", "/auth/v2/accounts/fresh/users/ann/permissions/filtering:policies:read", "").Must(t, 404)
	// Starter roles are ordinary roles.
	s.Admin("PUT", "/auth/v2/accounts/fresh/roles/support/permissions", "<permissions><permission>auth:users:read</permission></permissions>").Must(t, 204)
	s.Admin("DELETE", "/auth/v2/accounts/fresh/roles/reporting", "").Must(t, 204)
}
