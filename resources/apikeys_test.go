package resources

import (
	"net/http"
	"testing"

	"gatehouse/authz"
)

func TestKeyAllowsIsTheIntersection(t *testing.T) {
	h := &authz.Holding{Account: "acme", Perms: []string{"print:*", "auth:users:read"}, Roles: []string{"printing", "viewer"},
		Ceiling: authz.Ceiling{{"*"}}}
	password := principal{Account: "acme", User: "alice"}
	key := principal{Account: "acme", User: "alice", KeyID: "gh_abcdefgh", KeyPerms: []string{"print:jobs:*", "auth:roles:read"}}
	empty := principal{Account: "acme", User: "alice", KeyID: "gh_abcdefgh", KeyPerms: []string{}}
	for _, tc := range []struct {
		p    principal
		perm string
		want bool
	}{
		{password, "print:ports:read", true},
		{password, "auth:users:read", true},
		{key, "print:jobs:read", true},       // owner and key both imply it
		{key, "print:ports:read", false},     // the owner holds it, the key lacks it
		{key, "auth:users:read", false},      // likewise
		{key, "auth:roles:read", false},      // the key carries it, the owner lacks it
		{empty, "print:jobs:read", false},    // a key without permissions allows nothing
		{password, "auth:roles:read", false}, // the owner lacks it
	} {
		role, got := tc.p.allows(h, tc.perm)
		if got != tc.want {
			t.Errorf("keyPerms %v allows(%s) = %v, want %v", tc.p.KeyPerms, tc.perm, got, tc.want)
		}
		if got && role == "" {
			t.Errorf("allows(%s): no granting role", tc.perm)
		}
	}
}

func TestKeyID(t *testing.T) {
	for secret, want := range map[string]string{
		"gh_abcdefgh_secretpart": "gh_abcdefgh",
		"gh_abcdefgh":            "", // no secret part
		"gh__secret":             "",
		"xx_abcdefgh_secret":     "",
		"gh_a/b_secret":          "", // not a name: never a key path
		"":                       "",
	} {
		if got := keyID(secret); got != want {
			t.Errorf("keyID(%q) = %q, want %q", secret, got, want)
		}
	}
}

func TestPresentedKey(t *testing.T) {
	r, _ := http.NewRequest("GET", "/", nil)
	if _, ok := presentedKey(r); ok {
		t.Error("no header: a key")
	}
	r.Header.Set("Authorization", "Bearer eyJhbGciOi.jwt.token")
	if _, ok := presentedKey(r); ok {
		t.Error("a Bearer token without the key prefix is taken as a key")
	}
	r.Header.Set("Authorization", "bearer gh_abcdefgh_x")
	if k, ok := presentedKey(r); !ok || k != "gh_abcdefgh_x" {
		t.Errorf("Bearer key: %q %v", k, ok)
	}
	r.Header.Set("X-API-Key", "gh_zzzzzzzz_y")
	if k, ok := presentedKey(r); !ok || k != "gh_zzzzzzzz_y" {
		t.Errorf("X-API-Key wins: %q %v", k, ok)
	}
}
