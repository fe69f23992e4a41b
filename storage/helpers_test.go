package storage_test

// Helpers for the external tests of this package (concurrency, API keys);
// the conformance suite in storage/conformance has its own copies.

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"gatehouse/storage"
)

// testCtx is a context for one test's calls to the store, cancelled when
// the test ends.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// etcdKV is one key read straight from etcd.
type etcdKV struct {
	value string
	mod   int64
}

// etcdSnapshot reads every key under rel (relative to the store prefix)
// straight from etcd, bypassing the cache, with its mod revision.
func etcdSnapshot(t testing.TB, s *storage.Store, rel string) map[string]etcdKV {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := s.Client().Get(ctx, s.Prefix()+rel, clientv3.WithPrefix())
	if err != nil {
		t.Fatalf("etcd get %q: %v", rel, err)
	}
	out := make(map[string]etcdKV, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		k := strings.TrimPrefix(string(kv.Key), s.Prefix())
		out[k] = etcdKV{string(kv.Value), kv.ModRevision}
	}
	return out
}

// etcdKeys reads every key under rel straight from etcd: key → value.
func etcdKeys(t testing.TB, s *storage.Store, rel string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, kv := range etcdSnapshot(t, s, rel) {
		out[k] = kv.value
	}
	return out
}

// etcdHas reports whether key exists in etcd (not the cache).
func etcdHas(t testing.TB, s *storage.Store, key string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := s.Client().Get(ctx, s.Prefix()+key)
	if err != nil {
		t.Fatalf("etcd get %q: %v", key, err)
	}
	return len(resp.Kvs) == 1
}

// etcdRev is etcd's current revision.
func etcdRev(t testing.TB, s *storage.Store) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := s.Client().Get(ctx, s.Prefix()+"rev-probe", clientv3.WithCountOnly())
	if err != nil {
		t.Fatalf("etcd get: %v", err)
	}
	return resp.Header.Revision
}

// cacheGet reads one key from the cache without waiting for anything.
func cacheGet(t testing.TB, s *storage.Store, key string) (string, bool) {
	t.Helper()
	var val string
	var ok bool
	if err := s.Read(context.Background(), 0, func(v storage.View) error {
		val, ok = v.Get(key)
		return nil
	}); err != nil {
		t.Fatalf("read: %v", err)
	}
	return val, ok
}

func setTo(v string) func(string, bool) (string, error) {
	return func(string, bool) (string, error) { return v, nil }
}

func mustAccount(t testing.TB, s *storage.Store, name, parent string, ceiling ...string) {
	t.Helper()
	// No ceiling arguments pass a nil ceiling: copy the parent's.
	if _, err := s.CreateAccount(testCtx(t), name, storage.Account{Description: "account " + name, Parent: parent}, ceiling); err != nil {
		t.Fatalf("CreateAccount(%q under %q): %v", name, parent, err)
	}
}

func recordFor(kind, name string) string {
	switch kind {
	case storage.KindUser:
		return storage.User{Email: name + "@example.com", Enabled: true, Created: 1700000000}.Encode()
	case storage.KindRole:
		return storage.Role{Description: "role " + name}.Encode()
	case storage.KindGroup:
		return storage.Group{Description: "group " + name}.Encode()
	}
	return name
}

func mustItem(t testing.TB, s *storage.Store, a, kind, name string) {
	t.Helper()
	created, _, err := s.PutItem(testCtx(t), a, kind, name, storage.CreateOnly, setTo(recordFor(kind, name)), nil)
	if err != nil || !created {
		t.Fatalf("PutItem(%s, %s, %s) = %v, %v; want created", a, kind, name, created, err)
	}
}

func mustLink(t testing.TB, s *storage.Store, a string, l storage.Link, from, to string) {
	t.Helper()
	created, _, err := s.LinkAdd(testCtx(t), a, l, from, to, storage.CreateOnly)
	if err != nil || !created {
		t.Fatalf("LinkAdd(%s, %s→%s %s→%s) = %v, %v; want created", a, l.From, l.To, from, to, created, err)
	}
}

func mustSetAdd(t testing.TB, s *storage.Store, c storage.Coll, name, value string) {
	t.Helper()
	if _, _, err := s.SetAdd(testCtx(t), c, name, value, storage.CreateOnly); err != nil {
		t.Fatalf("SetAdd(%+v, %s): %v", c, name, err)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// diffKeySets returns a readable difference between two key sets, "" if equal.
func diffKeySets[V1, V2 any](got map[string]V1, want map[string]V2) string {
	var b strings.Builder
	for _, k := range sortedKeys(got) {
		if _, ok := want[k]; !ok {
			fmt.Fprintf(&b, "  unexpected %s\n", k)
		}
	}
	for _, k := range sortedKeys(want) {
		if _, ok := got[k]; !ok {
			fmt.Fprintf(&b, "  missing    %s\n", k)
		}
	}
	return b.String()
}

func ceilingOf(t testing.TB, s *storage.Store, a string) []string {
	t.Helper()
	var out []string
	for k := range etcdKeys(t, s, storage.ItemRange(a, storage.KindCeiling)) {
		out = append(out, strings.TrimPrefix(k, storage.ItemRange(a, storage.KindCeiling)))
	}
	sort.Strings(out)
	return out
}

// memberships returns the pairs (from, to) stored on the forward side and,
// separately, those stored on the reverse side, straight from etcd.
func memberships(t testing.TB, s *storage.Store, a string, l storage.Link) (fwd, rev map[[2]string]bool) {
	fwd, rev = map[[2]string]bool{}, map[[2]string]bool{}
	for k := range etcdKeys(t, s, storage.ItemRange(a, l.Fwd)) {
		parts := strings.Split(strings.TrimPrefix(k, storage.ItemRange(a, l.Fwd)), "/")
		fwd[[2]string{parts[0], parts[1]}] = true
	}
	for k := range etcdKeys(t, s, storage.ItemRange(a, l.Rev)) {
		parts := strings.Split(strings.TrimPrefix(k, storage.ItemRange(a, l.Rev)), "/")
		rev[[2]string{parts[1], parts[0]}] = true
	}
	return fwd, rev
}
