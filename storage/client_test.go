package storage_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// TestClientRecord: the compact form round-trips every field.
func TestClientRecord(t *testing.T) {
	c := storage.Client{ID: "abc", Description: "d\nx", SecretHash: "00ff",
		URIs:       []string{"https://a.example/cb", "http://localhost:8080/"},
		GrantTypes: []string{storage.GrantAuthorizationCode, storage.GrantRefreshToken},
		Scopes:     []string{"print:*"}, FirstParty: true}
	got, err := storage.DecodeClient(c.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != c.ID || got.Description != c.Description || got.SecretHash != c.SecretHash ||
		!slices.Equal(got.URIs, c.URIs) || !slices.Equal(got.GrantTypes, c.GrantTypes) ||
		!slices.Equal(got.Scopes, c.Scopes) || got.Public || !got.FirstParty {
		t.Errorf("round trip: got %+v, want %+v", got, c)
	}
	empty, err := storage.DecodeClient(storage.Client{Public: true}.Encode())
	if err != nil || empty.URIs != nil || empty.Scopes != nil || !empty.Public {
		t.Errorf("empty lists: %+v %v", empty, err)
	}
}

// TestClientSecretHash: the stored hash verifies the secret under the
// same key only, and a public client matches nothing.
func TestClientSecretHash(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	other := []byte("fedcba9876543210fedcba9876543210")
	c := storage.Client{SecretHash: storage.ClientSecretHash(key, "s3cret")}
	if len(c.SecretHash) != 64 {
		t.Errorf("hash %q is not hex SHA-256", c.SecretHash)
	}
	if !c.SecretMatches(key, "s3cret") {
		t.Error("the right secret does not match")
	}
	for _, tc := range []struct {
		key    []byte
		secret string
	}{{key, "s3cres"}, {key, ""}, {key, "s3cret "}, {other, "s3cret"}, {nil, "s3cret"}} {
		if c.SecretMatches(tc.key, tc.secret) {
			t.Errorf("secret %q under key %q matches", tc.secret, tc.key)
		}
	}
	if (storage.Client{Public: true}).SecretMatches(key, "") {
		t.Error("a public client (no hash) matches the empty secret")
	}
	if (storage.Client{SecretHash: "zz"}).SecretMatches(key, "") {
		t.Error("a malformed hash matches")
	}
}

// TestClientStore: a client and its index are written and deleted
// together; DeleteClients removes all of a user's; deleting the owner
// removes the records and leaves dangling index entries that
// ClientOwner does not resolve.
func TestClientStore(t *testing.T) {
	s := storagetest.Store(t)
	ctx := storagetest.Ctx(t)
	if _, err := s.Bootstrap(ctx, "h", time.Now()); err != nil {
		t.Fatal(err)
	}
	storagetest.MustAccount(t, s, "ca", "system", "*")
	for _, u := range []string{"u", "w"} {
		if _, _, err := s.PutItem(ctx, "ca", storage.KindUser, u, storage.CreateOnly,
			func(string, bool) (string, error) { return storage.User{Enabled: true}.Encode(), nil }, nil); err != nil {
			t.Fatal(err)
		}
	}
	c := storage.Client{ID: "c1aaaaaaaaaaaaaaaaaa", Description: "one", SecretHash: "ab", GrantTypes: []string{storage.GrantClientCredentials}}
	owner := func(id string) (string, string, storage.Client, bool) {
		var a, u string
		var got storage.Client
		var ok bool
		_ = s.Read(ctx, 0, func(v storage.View) error { a, u, got, ok = v.ClientOwner(id); return nil })
		return a, u, got, ok
	}
	if _, err := s.CreateClient(ctx, "ca", "nobody", c); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("client of a missing user: %v", err)
	}
	if _, err := s.CreateClient(ctx, "ca", "u", storage.Client{ID: "a/b"}); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("client id with a slash: %v", err)
	}
	if _, err := s.CreateClient(ctx, "ca", "u", c); err != nil {
		t.Fatal(err)
	}
	if a, u, got, ok := owner(c.ID); !ok || a != "ca" || u != "u" || got.Description != "one" {
		t.Errorf("owner %q %q %+v %v", a, u, got, ok)
	}
	if _, err := s.CreateClient(ctx, "ca", "w", c); !errors.Is(err, storage.ErrNameTaken) {
		t.Errorf("same id for another user: %v", err)
	}
	// UpdateClient keeps the id and the hash; a public client loses it.
	if _, err := s.UpdateClient(ctx, "ca", "u", c.ID, func(x *storage.Client) error {
		x.Description, x.ID, x.SecretHash = "two", "other", "cd"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, got, _ := owner(c.ID); got.Description != "two" || got.ID != c.ID || got.SecretHash != "ab" {
		t.Errorf("after update: %+v", got)
	}
	if _, err := s.UpdateClient(ctx, "ca", "u", c.ID, func(x *storage.Client) error { x.Public = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, _, got, _ := owner(c.ID); got.SecretHash != "" {
		t.Errorf("a public client keeps its hash: %+v", got)
	}
	if _, err := s.UpdateClient(ctx, "ca", "u", "missing", func(*storage.Client) error { return nil }); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("update of a missing client: %v", err)
	}
	if _, err := s.DeleteClient(ctx, "ca", "u", c.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok := owner(c.ID); ok || storagetest.EtcdHas(t, s, storage.ClientIndexKey(c.ID)) {
		t.Error("the deleted client or its index remains")
	}
	if _, err := s.DeleteClient(ctx, "ca", "u", c.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}

	// DeleteClients: all of u's, none of w's.
	ids := []string{"c2aaaaaaaaaaaaaaaaaa", "c3aaaaaaaaaaaaaaaaaa"}
	for _, id := range ids {
		if _, err := s.CreateClient(ctx, "ca", "u", storage.Client{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateClient(ctx, "ca", "w", storage.Client{ID: "c4aaaaaaaaaaaaaaaaaa"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteClients(ctx, "ca", "u"); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, _, _, ok := owner(id); ok || storagetest.EtcdHas(t, s, storage.ClientIndexKey(id)) ||
			storagetest.EtcdHas(t, s, storage.SubKey("ca", storage.KindClient, "u", id)) {
			t.Errorf("client %s survives DeleteClients", id)
		}
	}
	if _, _, _, ok := owner("c4aaaaaaaaaaaaaaaaaa"); !ok {
		t.Error("DeleteClients removed another user's client")
	}
	if _, err := s.DeleteClients(ctx, "ca", "nobody"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("DeleteClients of a missing user: %v", err)
	}

	// Deleting the owner removes the record, leaving the index dangling.
	if _, err := s.DeleteItem(ctx, "ca", storage.KindUser, "w"); err != nil {
		t.Fatal(err)
	}
	if storagetest.EtcdHas(t, s, storage.SubKey("ca", storage.KindClient, "w", "c4aaaaaaaaaaaaaaaaaa")) {
		t.Error("deleting the user left its client record")
	}
	if _, _, _, ok := owner("c4aaaaaaaaaaaaaaaaaa"); ok {
		t.Error("a client of a deleted user still resolves")
	}
}

// TestClientRecordAuth: the authentication method and key set round-trip;
// a record of the older 8-field form still decodes, with the default
// method (none for public, client_secret_basic for confidential).
func TestClientRecordAuth(t *testing.T) {
	c := storage.Client{ID: "abc", GrantTypes: []string{storage.GrantClientCredentials},
		AuthMethod: storage.AuthPrivateKeyJWT, JWKS: `{"keys":[{"kty":"EC"}]}`}
	got, err := storage.DecodeClient(c.Encode())
	if err != nil || got.AuthMethod != c.AuthMethod || got.JWKS != c.JWKS || got.TokenEndpointAuthMethod() != storage.AuthPrivateKeyJWT {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	// The 8-field form written before: version byte, then length-prefixed
	// fields id, description, secret hash, uris, grant types, scopes,
	// public, first-party.
	old := "\x01" + "\x03abc" + "\x00" + "\x02ab" + "\x00" + "\x12client_credentials" + "\x00" + "\x00" + "\x00"
	if c.Encode()[0] != old[0] {
		t.Fatalf("record version byte changed: %q", c.Encode()[:1])
	}
	got, err = storage.DecodeClient(old)
	if err != nil || got.ID != "abc" || got.SecretHash != "ab" || !got.HasGrant(storage.GrantClientCredentials) ||
		got.AuthMethod != "" || got.JWKS != "" || got.TokenEndpointAuthMethod() != storage.AuthClientSecretBasic {
		t.Fatalf("old record: %+v %v", got, err)
	}
	oldPublic := "\x01" + "\x03abc" + "\x00\x00\x00\x00\x00" + "\x011" + "\x00"
	got, err = storage.DecodeClient(oldPublic)
	if err != nil || !got.Public || got.TokenEndpointAuthMethod() != storage.AuthNone {
		t.Fatalf("old public record: %+v %v", got, err)
	}
	if m := (storage.Client{AuthMethod: storage.AuthClientSecretPost}).TokenEndpointAuthMethod(); m != storage.AuthClientSecretPost {
		t.Errorf("registered method %q", m)
	}
}
