package storage

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// API keys. A key's record lives in its owner's per-user set
// SubKey(a, KindAPIKey, u, id), so deleting the user (DeleteItem, via
// owned) or the account (DeleteAccount, the tenant range) removes it.
// Its id is its public prefix. A global index APIKeyIndexKey(prefix) →
// "a\u" finds the record from a presented secret in one lookup; it is
// written and deleted in the same transaction as the record. When the
// user or account is deleted the index entry is left dangling on
// purpose: authentication always loads the record through it and a
// missing record is an invalid key, so deletes need not know about keys.

// APIKeyIndexRange holds the prefix → owner index of API keys.
const APIKeyIndexRange = "apikeyidx/"

// APIKeyIndexKey is the index entry of the key with prefix id.
func APIKeyIndexKey(id string) string { return APIKeyIndexRange + id }

// APIKey is the stored part of an API key; its id and owner are its key.
type APIKey struct {
	Name        string
	Description string
	Expires     int64  // Unix seconds; 0: never
	Prefix      string // the public part, also the key's id
	SecretHash  string // hex SHA-256 of the whole secret
	Permissions []string
}

// Encode returns the compact stored form.
func (k APIKey) Encode() string {
	return encodeFields(fields{k.Name, k.Description, strconv.FormatInt(k.Expires, 10), k.Prefix,
		k.SecretHash, strings.Join(k.Permissions, "\n")})
}

// DecodeAPIKey reads an APIKey record.
func DecodeAPIKey(v string) (APIKey, error) {
	var f [6]string
	err := decodeFields(v, f[:])
	if err != nil {
		return APIKey{}, err
	}
	exp, _ := strconv.ParseInt(f[2], 10, 64)
	var perms []string
	if f[5] != "" {
		perms = strings.Split(f[5], "\n")
	}
	return APIKey{Name: f[0], Description: f[1], Expires: exp, Prefix: f[3], SecretHash: f[4], Permissions: perms}, nil
}

// APIKey returns the key id of user u in account a.
func (v View) APIKey(a, u, id string) (APIKey, bool) {
	val, ok := v.Get(SubKey(a, KindAPIKey, u, id))
	if !ok {
		return APIKey{}, false
	}
	k, err := DecodeAPIKey(val)
	return k, err == nil
}

// APIKeyOwner finds the owner of the key with prefix id through the
// index; ok is false when the index or the record is missing (a deleted
// key, or one whose user or account was deleted).
func (v View) APIKeyOwner(id string) (a, u string, k APIKey, ok bool) {
	owner, found := v.Get(APIKeyIndexKey(id))
	if !found {
		return "", "", APIKey{}, false
	}
	a, u, split := strings.Cut(owner, `\`)
	if !split {
		return "", "", APIKey{}, false
	}
	k, ok = v.APIKey(a, u, id)
	return a, u, k, ok
}

// CreateAPIKey stores a new key of user u with its index entry, in one
// transaction guarded on the user existing and the prefix being unused
// (ErrNameTaken: the caller draws another prefix).
func (s *Store) CreateAPIKey(ctx context.Context, a, u string, k APIKey) (int64, error) {
	return s.Update(ctx, func(v View, t *Txn) error {
		if err := expectItem(v, t, a, KindUser, u); err != nil {
			return err
		}
		idx := APIKeyIndexKey(k.Prefix)
		key := SubKey(a, KindAPIKey, u, k.Prefix)
		if v.Has(idx) || v.Has(key) {
			return fmt.Errorf("api key %q: %w", k.Prefix, ErrNameTaken)
		}
		t.Expect(idx)
		t.Expect(key)
		t.Put(key, k.Encode())
		t.Put(idx, a+`\`+u)
		return nil
	})
}

// UpdateAPIKey rewrites key id of user u; update may refuse with an error.
func (s *Store) UpdateAPIKey(ctx context.Context, a, u, id string, update func(*APIKey) error) (int64, error) {
	return s.Update(ctx, func(v View, t *Txn) error {
		if err := expectItem(v, t, a, KindUser, u); err != nil {
			return err
		}
		key := SubKey(a, KindAPIKey, u, id)
		k, ok := v.APIKey(a, u, id)
		if !ok {
			return notFound(fmt.Sprintf("api key %q of user %q", id, u))
		}
		if err := update(&k); err != nil {
			return err
		}
		t.Expect(key)
		t.Put(key, k.Encode())
		return nil
	})
}

// DeleteAPIKey removes key id of user u and its index entry.
func (s *Store) DeleteAPIKey(ctx context.Context, a, u, id string) (int64, error) {
	return s.Update(ctx, func(v View, t *Txn) error {
		key := SubKey(a, KindAPIKey, u, id)
		if !v.Has(key) {
			return notFound(fmt.Sprintf("api key %q of user %q", id, u))
		}
		t.Expect(key)
		t.Delete(key)
		t.Delete(APIKeyIndexKey(id))
		return nil
	})
}
