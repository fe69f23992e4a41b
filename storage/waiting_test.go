package storage_test

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"gatehouse/storage"
)

// Helpers of the snapshot, tracking, check and token tests. They wait
// for conditions under a generous deadline and never judge elapsed time.

// patience bounds every wait for a condition: long enough for a loaded
// machine, short enough that a hang fails the test rather than the run.
const patience = 30 * time.Second

// patientCtx is a context that ends after patience plus a margin.
func patientCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*patience)
	t.Cleanup(cancel)
	return ctx
}

// receive waits for a value on ch, failing the test if none arrives
// within patience.
func receive[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(patience)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("%s: nothing within %s", what, patience)
		panic("unreachable")
	}
}

// eventually polls cond until it holds, failing the test if it does not
// within patience.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not so within %s", what, patience)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rawGet reads key (relative to the prefix) straight from etcd.
func rawGet(t testing.TB, s *storage.Store, key string) (value string, mod int64, ok bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	resp, err := s.Client().Get(ctx, s.Prefix()+key)
	if err != nil {
		t.Fatalf("etcd get %q: %v", key, err)
	}
	if len(resp.Kvs) == 0 {
		return "", 0, false
	}
	return string(resp.Kvs[0].Value), resp.Kvs[0].ModRevision, true
}

// rawRev is etcd's current revision.
func rawRev(t testing.TB, s *storage.Store) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	resp, err := s.Client().Get(ctx, s.Prefix()+"rev-probe", clientv3.WithCountOnly())
	if err != nil {
		t.Fatalf("etcd get: %v", err)
	}
	return resp.Header.Revision
}

// putRecord creates or overwrites item name of kind in account a.
func putRecord(t testing.TB, s *storage.Store, a, kind, name, value string) int64 {
	t.Helper()
	_, rev, err := s.PutItem(patientCtx(t), a, kind, name, storage.Upsert,
		func(string, bool) (string, error) { return value, nil }, nil)
	if err != nil {
		t.Fatalf("PutItem(%s, %s, %s): %v", a, kind, name, err)
	}
	return rev
}
