package storage

import (
	"context"
	"fmt"
)

// OAuth signing keys. The oauth package keeps its signing keys as named
// records that never expire (a key must not vanish with a lease) and are
// written once: CreateKeyRecord puts a record only while its name is
// absent, with a write guarded on that absence, so of concurrent
// creators exactly one writes and every other one sees created == false
// and reads the winner's record. Records are in the watch-fed cache (a
// handful of small values, read rarely: the oauth key set keeps the keys
// in memory); like server keys they hold private keys, and an export or
// backup that leaves etcd must treat OAuthKeyRange as a secret.

// OAuthKeyRange holds the OAuth key records.
const OAuthKeyRange = "oauthkey/"

// OAuthKeyKey is the key of the OAuth key record name.
func OAuthKeyKey(name string) string { return OAuthKeyRange + name }

// KeyRecord returns the OAuth key record name; ok is false when there is
// none.
func (s *Store) KeyRecord(ctx context.Context, name string) ([]byte, bool, error) {
	if err := ValidName(name); err != nil {
		return nil, false, fmt.Errorf("%w: key record name: %v", ErrInvalid, err)
	}
	var (
		val string
		ok  bool
	)
	err := s.Read(ctx, 0, func(v View) error {
		val, ok = v.Get(OAuthKeyKey(name))
		return nil
	})
	if err != nil || !ok {
		return nil, false, err
	}
	return []byte(val), true, nil
}

// CreateKeyRecord stores value as the OAuth key record name unless one
// exists, reporting whether it wrote. The write is guarded on the
// record's absence: of concurrent creators exactly one gets created ==
// true. When it returns, KeyRecord on this store sees the record
// (whoever wrote it): Update waits for the cache to reach its write, and
// a loser's rebuild read the winner's record from the cache.
func (s *Store) CreateKeyRecord(ctx context.Context, name string, value []byte) (created bool, err error) {
	if err := ValidName(name); err != nil {
		return false, fmt.Errorf("%w: key record name: %v", ErrInvalid, err)
	}
	if len(value) == 0 {
		return false, fmt.Errorf("%w: key record %q is empty", ErrInvalid, name)
	}
	_, created, err = s.putOnce(ctx, OAuthKeyKey(name), string(value))
	return created, err
}
