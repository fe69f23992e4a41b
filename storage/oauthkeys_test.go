package storage_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// TestKeyRecordRace: creators on instances sharing one etcd race to
// create the same key record: exactly one writes, every one then reads
// the winner's value, and a second create changes nothing.
func TestKeyRecordRace(t *testing.T) {
	ep := storagetest.Etcd(t)
	ctx := storagetest.Ctx(t)
	stores := []*storage.Store{storagetest.Open(t, ep), storagetest.Open(t, ep), storagetest.Open(t, ep)}
	if _, ok, err := stores[0].KeyRecord(ctx, "signing-1"); ok || err != nil {
		t.Fatalf("before creation: ok %v, err %v", ok, err)
	}
	const callers = 12
	created := make([]bool, callers)
	errs := make([]error, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			created[i], errs[i] = stores[i%len(stores)].CreateKeyRecord(ctx, "signing-1", fmt.Appendf(nil, "value %d", i))
		}()
	}
	close(start)
	wg.Wait()
	winner := -1
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if created[i] {
			if winner >= 0 {
				t.Fatalf("callers %d and %d both created the record", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("nobody created the record")
	}
	want := fmt.Sprintf("value %d", winner)
	for i := range callers {
		// Every creator's own store sees the winner's record on return.
		v, ok, err := stores[i%len(stores)].KeyRecord(ctx, "signing-1")
		if err != nil || !ok || string(v) != want {
			t.Fatalf("store %d reads %q %v %v; want %q", i%len(stores), v, ok, err, want)
		}
	}
	if again, err := stores[1].CreateKeyRecord(ctx, "signing-1", []byte("late")); err != nil || again {
		t.Errorf("second create: created %v, err %v", again, err)
	}
	if _, err := stores[0].CreateKeyRecord(ctx, "a/b", []byte("x")); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("invalid name: %v", err)
	}
	if _, _, err := stores[0].KeyRecord(ctx, "a/b"); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("invalid name read: %v", err)
	}
	if !storagetest.EtcdHas(t, stores[0], storage.OAuthKeyKey("signing-1")) {
		t.Error("the record is not in etcd")
	}
}
