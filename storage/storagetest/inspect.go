package storagetest

// Helpers that look at a store the way its tests do: straight at etcd
// (bypassing the cache), at the cache without waiting, and small write
// shortcuts. The conformance suite and the storage package's own tests
// share them.

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

// Ctx is a context for one test's calls to the store, cancelled when
// the test ends.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// KV is one key read straight from etcd.
type KV struct {
	Value string
	Mod   int64
}

// EtcdSnapshot reads every key under rel (relative to the store prefix)
// straight from etcd, bypassing the cache, with its mod revision.
func EtcdSnapshot(t testing.TB, s *storage.Store, rel string) map[string]KV {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := s.Client().Get(ctx, s.Prefix()+rel, clientv3.WithPrefix())
	if err != nil {
		t.Fatalf("etcd get %q: %v", rel, err)
	}
	out := make(map[string]KV, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		k := strings.TrimPrefix(string(kv.Key), s.Prefix())
		out[k] = KV{string(kv.Value), kv.ModRevision}
	}
	return out
}

// EtcdKeys reads every key under rel straight from etcd: key → value.
func EtcdKeys(t testing.TB, s *storage.Store, rel string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, kv := range EtcdSnapshot(t, s, rel) {
		out[k] = kv.Value
	}
	return out
}

// EtcdHas reports whether key exists in etcd (not the cache).
func EtcdHas(t testing.TB, s *storage.Store, key string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := s.Client().Get(ctx, s.Prefix()+key)
	if err != nil {
		t.Fatalf("etcd get %q: %v", key, err)
	}
	return len(resp.Kvs) == 1
}

// EtcdRev is etcd's current revision.
func EtcdRev(t testing.TB, s *storage.Store) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := s.Client().Get(ctx, s.Prefix()+"rev-probe", clientv3.WithCountOnly())
	if err != nil {
		t.Fatalf("etcd get: %v", err)
	}
	return resp.Header.Revision
}

// CacheKeys lists every key under rel as the cache shows it now.
func CacheKeys(t testing.TB, s *storage.Store, rel string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := s.Read(context.Background(), 0, func(v storage.View) error {
		v.EachRange(rel, func(name, value string) bool {
			out[rel+name] = value
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return out
}

// CacheGet reads one key from the cache without waiting for anything.
func CacheGet(t testing.TB, s *storage.Store, key string) (string, bool) {
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

func SetTo(v string) func(string, bool) (string, error) {
	return func(string, bool) (string, error) { return v, nil }
}

func MustAccount(t testing.TB, s *storage.Store, name, parent string, ceiling ...string) {
	t.Helper()
	// No ceiling arguments pass a nil ceiling: copy the parent's.
	if _, err := s.CreateAccount(Ctx(t), name, storage.Account{Description: "account " + name, Parent: parent}, ceiling); err != nil {
		t.Fatalf("CreateAccount(%q under %q): %v", name, parent, err)
	}
}

func RecordFor(kind, name string) string {
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

func MustItem(t testing.TB, s *storage.Store, a, kind, name string) {
	t.Helper()
	created, _, err := s.PutItem(Ctx(t), a, kind, name, storage.CreateOnly, SetTo(RecordFor(kind, name)), nil)
	if err != nil || !created {
		t.Fatalf("PutItem(%s, %s, %s) = %v, %v; want created", a, kind, name, created, err)
	}
}

func MustLink(t testing.TB, s *storage.Store, a string, l storage.Link, from, to string) {
	t.Helper()
	created, _, err := s.LinkAdd(Ctx(t), a, l, from, to, storage.CreateOnly)
	if err != nil || !created {
		t.Fatalf("LinkAdd(%s, %s→%s %s→%s) = %v, %v; want created", a, l.From, l.To, from, to, created, err)
	}
}

func MustSetAdd(t testing.TB, s *storage.Store, c storage.Coll, name, value string) {
	t.Helper()
	if _, _, err := s.SetAdd(Ctx(t), c, name, value, storage.CreateOnly); err != nil {
		t.Fatalf("SetAdd(%+v, %s): %v", c, name, err)
	}
}

func SortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// DiffKeySets returns a readable difference between two key sets, "" if equal.
func DiffKeySets[V1, V2 any](got map[string]V1, want map[string]V2) string {
	var b strings.Builder
	for _, k := range SortedKeys(got) {
		if _, ok := want[k]; !ok {
			fmt.Fprintf(&b, "  unexpected %s\n", k)
		}
	}
	for _, k := range SortedKeys(want) {
		if _, ok := got[k]; !ok {
			fmt.Fprintf(&b, "  missing    %s\n", k)
		}
	}
	return b.String()
}

func KeySet(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

func CeilingOf(t testing.TB, s *storage.Store, a string) []string {
	t.Helper()
	var out []string
	for k := range EtcdKeys(t, s, storage.ItemRange(a, storage.KindCeiling)) {
		out = append(out, strings.TrimPrefix(k, storage.ItemRange(a, storage.KindCeiling)))
	}
	sort.Strings(out)
	return out
}

// PutKey writes one key through a guarded update, as the server does for
// a user's last sign-in.
func PutKey(ctx context.Context, s *storage.Store, key, val string) error {
	_, err := s.Update(ctx, func(v storage.View, t *storage.Txn) error {
		t.Put(key, val)
		return nil
	})
	return err
}

// Memberships returns the pairs (from, to) stored on the forward side and,
// separately, those stored on the reverse side, straight from etcd.
func Memberships(t testing.TB, s *storage.Store, a string, l storage.Link) (fwd, rev map[[2]string]bool) {
	fwd, rev = map[[2]string]bool{}, map[[2]string]bool{}
	for k := range EtcdKeys(t, s, storage.ItemRange(a, l.Fwd)) {
		parts := strings.Split(strings.TrimPrefix(k, storage.ItemRange(a, l.Fwd)), "/")
		fwd[[2]string{parts[0], parts[1]}] = true
	}
	for k := range EtcdKeys(t, s, storage.ItemRange(a, l.Rev)) {
		parts := strings.Split(strings.TrimPrefix(k, storage.ItemRange(a, l.Rev)), "/")
		rev[[2]string{parts[1], parts[0]}] = true
	}
	return fwd, rev
}
