package oauth

import (
	"context"
	"testing"

	"gatehouse/storage"
)

func TestPermissionScopeStrategy(t *testing.T) {
	held := []string{"print:*", "auth:users:read", "offline_access"}
	for _, c := range []struct {
		scope string
		want  bool
	}{
		{"print:jobs:release", true},
		{"print:*", true},
		{"auth:users:read", true},
		{"auth:users:write", false},
		{"auth:*", false},
		{"*", false},
		{"offline_access", true},
		{"openid", false},
		{"", false},
	} {
		if got := PermissionScopeStrategy(held, c.scope); got != c.want {
			t.Errorf("scope %q: %v, want %v", c.scope, got, c.want)
		}
	}
	if PermissionScopeStrategy([]string{"*"}, "openid") {
		t.Error("* implies the protocol scope openid")
	}
}

func TestSecretHasher(t *testing.T) {
	ctx := context.Background()
	h := SecretHasher{Key: []byte("0123456789abcdef0123456789abcdef")}
	hash, err := h.Hash(ctx, []byte("s3cret"))
	if err != nil || string(hash) != storage.ClientSecretHash(h.Key, "s3cret") {
		t.Fatalf("hash %q %v", hash, err)
	}
	if err := h.Compare(ctx, hash, []byte("s3cret")); err != nil {
		t.Errorf("right secret: %v", err)
	}
	if err := h.Compare(ctx, hash, []byte("s3cret!")); err == nil {
		t.Error("wrong secret accepted")
	}
	if err := h.Compare(ctx, nil, []byte("")); err == nil {
		t.Error("empty hash accepted")
	}
	if err := (SecretHasher{}).Compare(ctx, hash, []byte("s3cret")); err == nil {
		t.Error("no key accepted")
	}
}
