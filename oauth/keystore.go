package oauth

import (
	"context"

	"gatehouse/storage"
)

// StorageKeys is the KeyStore over storage's OAuth key records
// (Store.KeyRecord, Store.CreateKeyRecord): never expiring, created
// once under a write guarded on absence.
type StorageKeys struct{ Store *storage.Store }

var _ KeyStore = StorageKeys{}

// Get implements KeyStore.
func (k StorageKeys) Get(ctx context.Context, name string) ([]byte, bool, error) {
	return k.Store.KeyRecord(ctx, name)
}

// CreateOnly implements KeyStore.
func (k StorageKeys) CreateOnly(ctx context.Context, name string, value []byte) (bool, error) {
	return k.Store.CreateKeyRecord(ctx, name, value)
}
