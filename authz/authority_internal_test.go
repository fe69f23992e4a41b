package authz

import (
	"testing"

	"gatehouse/authn"
)

// A scoped principal (an API key) gets the intersection of its owner's
// holding and its scopes.
func TestScopesCutTheHolding(t *testing.T) {
	h := &Holding{Account: "acme", Perms: []string{"print:*", "auth:users:read"}, Roles: []string{"printing", "viewer"},
		Ceiling: Ceiling{{"*"}}}
	password := authn.Principal{Account: "acme", User: "alice", Method: authn.MethodPassword}
	key := authn.Principal{Account: "acme", User: "alice", Method: authn.MethodAPIKey, KeyID: "gh_abcdefgh", Scopes: []string{"print:jobs:*", "auth:roles:read"}}
	empty := authn.Principal{Account: "acme", User: "alice", Method: authn.MethodAPIKey, KeyID: "gh_abcdefgh", Scopes: []string{}}
	var au Authority
	for _, tc := range []struct {
		p    authn.Principal
		perm string
		want Denial
	}{
		{password, "print:ports:read", Granted},
		{password, "auth:users:read", Granted},
		{key, "print:jobs:read", Granted},      // owner and key both imply it
		{key, "print:ports:read", OutOfScope},  // the owner holds it, the key lacks it
		{key, "auth:users:read", OutOfScope},   // likewise
		{key, "auth:roles:read", NotHeld},      // the key carries it, the owner lacks it
		{empty, "print:jobs:read", OutOfScope}, // a key without permissions allows nothing
		{password, "auth:roles:read", NotHeld}, // the owner lacks it
	} {
		d := au.decideHeld(h, tc.p, tc.perm)
		if d.Denial != tc.want {
			t.Errorf("scopes %v decide(%s) = %v, want %v", tc.p.Scopes, tc.perm, d.Denial, tc.want)
		}
		if d.Granted() && d.Role == "" {
			t.Errorf("decide(%s): no granting role", tc.perm)
		}
	}
}
