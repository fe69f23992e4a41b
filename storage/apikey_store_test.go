package storage_test

import (
	"errors"
	"testing"
	"time"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// TestAPIKeyStore: a key and its index are written and deleted together;
// deleting the owner removes the record and leaves a dangling index that
// APIKeyOwner does not resolve.
func TestAPIKeyStore(t *testing.T) {
	s := storagetest.Store(t)
	ctx := storagetest.Ctx(t)
	if _, err := s.Bootstrap(ctx, "h", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAccount(ctx, "ka", storage.Account{Parent: "system"}, []string{"*"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PutItem(ctx, "ka", storage.KindUser, "u", storage.CreateOnly,
		func(string, bool) (string, error) { return storage.User{Enabled: true}.Encode(), nil }, nil); err != nil {
		t.Fatal(err)
	}
	k := storage.APIKey{Name: "n", Prefix: "gh_aaaaaaaa", SecretHash: "ab", Permissions: []string{"x:y"}}
	owner := func() (string, string, bool) {
		var a, u string
		var ok bool
		_ = s.Read(ctx, 0, func(v storage.View) error { a, u, _, ok = v.APIKeyOwner(k.Prefix); return nil })
		return a, u, ok
	}
	if _, err := s.CreateAPIKey(ctx, "ka", "nobody", k); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("key of a missing user: %v", err)
	}
	if _, err := s.CreateAPIKey(ctx, "ka", "u", k); err != nil {
		t.Fatal(err)
	}
	if a, u, ok := owner(); !ok || a != "ka" || u != "u" {
		t.Errorf("owner %q %q %v", a, u, ok)
	}
	if _, err := s.CreateAPIKey(ctx, "ka", "u", k); !errors.Is(err, storage.ErrNameTaken) {
		t.Errorf("same prefix twice: %v", err)
	}
	if _, err := s.DeleteAPIKey(ctx, "ka", "u", k.Prefix); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := owner(); ok || storagetest.EtcdHas(t, s, storage.APIKeyIndexKey(k.Prefix)) {
		t.Error("the deleted key or its index remains")
	}
	if _, err := s.CreateAPIKey(ctx, "ka", "u", k); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteItem(ctx, "ka", storage.KindUser, "u"); err != nil {
		t.Fatal(err)
	}
	if storagetest.EtcdHas(t, s, storage.SubKey("ka", storage.KindAPIKey, "u", k.Prefix)) {
		t.Error("deleting the user left its key record")
	}
	if _, _, ok := owner(); ok {
		t.Error("a key of a deleted user still resolves")
	}
}
