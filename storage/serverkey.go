package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// Server keys are random 32-byte keys the installation keeps in etcd
// (ServerKeyKey(name) → hex), shared by every instance: the HMAC key of
// client secrets (ClientSecretKeyName) and any later key that must be
// the same everywhere. A key is created by the first instance that asks
// for it, with a write guarded on the key being absent; an instance that
// loses the race rebuilds on the winner's revision and returns the
// winner's key, so every instance ends with the same one. Keys are never
// rotated here: rotating the client-secret key would invalidate every
// client secret.

// ServerKeyRange holds the server keys.
const ServerKeyRange = "serverkey/"

// ServerKeyKey is the key of server key name.
func ServerKeyKey(name string) string { return ServerKeyRange + name }

// ServerKeySize is the length of a server key in bytes.
const ServerKeySize = 32

// ServerKey returns the server key name, creating it on first use. It
// reads the watch-fed cache, so it is cheap, but callers on a hot path
// keep the key they got (it never changes).
func (s *Store) ServerKey(ctx context.Context, name string) ([]byte, error) {
	if err := ValidName(name); err != nil {
		return nil, fmt.Errorf("%w: server key name: %v", ErrInvalid, err)
	}
	key := ServerKeyKey(name)
	var stored string
	if err := s.Read(ctx, 0, func(v View) error {
		stored, _ = v.Get(key)
		return nil
	}); err != nil {
		return nil, err
	}
	if stored == "" {
		fresh := make([]byte, ServerKeySize)
		if _, err := rand.Read(fresh); err != nil {
			return nil, err
		}
		var err error
		if stored, _, err = s.putOnce(ctx, key, hex.EncodeToString(fresh)); err != nil {
			return nil, err
		}
	}
	b, err := hex.DecodeString(stored)
	if err != nil || len(b) != ServerKeySize {
		return nil, fmt.Errorf("server key %q: stored value is not %d hex-encoded bytes", name, ServerKeySize)
	}
	return b, nil
}

// putOnce writes value at key unless key exists, in one guarded
// transaction (of racing writers exactly one creates it), and returns
// the value that is stored: value when it created it, the winner's
// otherwise.
func (s *Store) putOnce(ctx context.Context, key, value string) (stored string, created bool, err error) {
	_, err = s.Update(ctx, func(v View, t *Txn) error {
		if cur, ok := v.Get(key); ok {
			stored, created = cur, false // another writer created it first
			return nil
		}
		stored, created = value, true
		t.Expect(key) // written only while still absent
		t.Put(key, value)
		return nil
	})
	if err != nil {
		return "", false, err
	}
	return stored, created, nil
}
