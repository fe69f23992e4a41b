package federation_test

import (
	"slices"
	"testing"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// A user created just in time gets its account's default roles in the
// same transaction; a default role a rule grants too is put once and is
// not recorded as the rule's, so the rule ceasing to match leaves it; a
// user already linked gets nothing new from default roles added later.
func TestJITDefaultRoles(t *testing.T) {
	s := fx(t)
	ctx := storagetest.Ctx(t)
	for _, r := range []string{"r1", "r2"} {
		if _, _, err := s.AddDefaultRole(ctx, "corp", r, storage.CreateOnly); err != nil {
			t.Fatal(err)
		}
	}
	// A rule of corp grants r1 (also a default role) to printadmins.
	putRule(t, s, storage.Coll{Account: "corp", Kind: storage.KindRule}, "pa",
		storage.Rule{Conditions: cond("ldap", "groups", "*printadmins*"), Roles: []string{"r1"}})
	// and a rule admits everyone else of corp, granting nothing.
	putRule(t, s, storage.Coll{Account: "corp", Kind: storage.KindRule}, "all", storage.Rule{})

	res := resolve(t, s, ldap("u-ann", "ann", "cn=printadmins"))
	if !res.Created || res.Account != "corp" || res.User != "ann" {
		t.Fatalf("result %+v", res)
	}
	if got := members(t, s, "corp", "ann", storage.UserRoles); !slices.Equal(got, []string{"r1", "r2"}) {
		t.Errorf("ann's roles %v, want the default roles r1, r2", got)
	}
	// ann leaves printadmins: the rule no longer grants r1, but r1 is a
	// default role she got at creation and stays.
	resolve(t, s, ldap("u-ann", "ann"))
	if got := members(t, s, "corp", "ann", storage.UserRoles); !slices.Equal(got, []string{"r1", "r2"}) {
		t.Errorf("after the rule stopped matching ann holds %v, want r1, r2", got)
	}

	// Default roles changed later reach only users created later.
	if _, err := s.RemoveDefaultRole(ctx, "corp", "r2"); err != nil {
		t.Fatal(err)
	}
	resolve(t, s, ldap("u-ann", "ann"))
	if got := members(t, s, "corp", "ann", storage.UserRoles); !slices.Equal(got, []string{"r1", "r2"}) {
		t.Errorf("a later sign-in changed ann's roles to %v", got)
	}
	resolve(t, s, ldap("u-bo", "bo"))
	if got := members(t, s, "corp", "bo", storage.UserRoles); !slices.Equal(got, []string{"r1"}) {
		t.Errorf("bo's roles %v, want [r1]", got)
	}
	// Another account's default roles are its own.
	if got := members(t, s, "other", "bo", storage.UserRoles); len(got) != 0 {
		t.Errorf("bo holds roles in other: %v", got)
	}
}
