package storage_test

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// TestServerKeyRace: instances sharing one etcd that ask for the same
// server key at once all get the same key, created once; a later call
// and another name behave as expected.
func TestServerKeyRace(t *testing.T) {
	ep := storagetest.Etcd(t)
	ctx := storagetest.Ctx(t)
	stores := []*storage.Store{storagetest.Open(t, ep), storagetest.Open(t, ep), storagetest.Open(t, ep)}
	const callers = 12
	keys := make([][]byte, callers)
	errs := make([]error, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			keys[i], errs[i] = stores[i%len(stores)].ServerKey(ctx, storage.ClientSecretKeyName)
		}()
	}
	close(start)
	wg.Wait()
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if len(keys[i]) != storage.ServerKeySize {
			t.Fatalf("caller %d: key of %d bytes", i, len(keys[i]))
		}
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("caller %d got another key than caller 0", i)
		}
	}
	again, err := stores[1].ServerKey(ctx, storage.ClientSecretKeyName)
	if err != nil || !bytes.Equal(again, keys[0]) {
		t.Errorf("second call: %x %v", again, err)
	}
	other, err := stores[2].ServerKey(ctx, "other")
	if err != nil || bytes.Equal(other, keys[0]) || len(other) != storage.ServerKeySize {
		t.Errorf("another name: %x %v", other, err)
	}
	if _, err := stores[0].ServerKey(ctx, "a/b"); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("invalid name: %v", err)
	}
	if !storagetest.EtcdHas(t, stores[0], storage.ServerKeyKey(storage.ClientSecretKeyName)) {
		t.Error("the key is not in etcd")
	}
}
