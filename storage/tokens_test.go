package storage_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// TestTokens: create, get, take and delete, with their refusals.
func TestTokens(t *testing.T) {
	s := storagetest.Store(t)
	ctx := patientCtx(t)
	var tokens storage.Tokens = s
	const kind = "code"
	id := strings.Repeat("aZ09-_.~", 64) // 512 characters
	if err := tokens.CreateToken(ctx, kind, id, []byte("v1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if got, err := tokens.GetToken(ctx, kind, id); err != nil || string(got) != "v1" {
		t.Errorf("GetToken = %q, %v", got, err)
	}
	if err := tokens.CreateToken(ctx, kind, id, []byte("v2"), time.Hour); !errors.Is(err, storage.ErrNameTaken) {
		t.Errorf("CreateToken over a live token = %v, want ErrNameTaken", err)
	}
	if err := tokens.CreateToken(ctx, "other", id, []byte("v3"), time.Hour); err != nil {
		t.Errorf("the same id of another kind: %v", err)
	}
	if got, err := tokens.TakeToken(ctx, kind, id); err != nil || string(got) != "v1" {
		t.Errorf("TakeToken = %q, %v", got, err)
	}
	if _, err := tokens.TakeToken(ctx, kind, id); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("TakeToken twice = %v, want ErrNotFound", err)
	}
	if _, err := tokens.GetToken(ctx, kind, id); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetToken after TakeToken = %v, want ErrNotFound", err)
	}
	if got, err := tokens.GetToken(ctx, "other", id); err != nil || string(got) != "v3" {
		t.Errorf("the other kind's token = %q, %v", got, err)
	}
	if err := tokens.DeleteToken(ctx, "other", id); err != nil {
		t.Errorf("DeleteToken: %v", err)
	}
	if err := tokens.DeleteToken(ctx, "other", id); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("DeleteToken twice = %v, want ErrNotFound", err)
	}
	if _, err := tokens.GetToken(ctx, "other", id); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetToken after DeleteToken = %v, want ErrNotFound", err)
	}
	if err := tokens.CreateToken(ctx, kind, id, nil, time.Hour); err != nil {
		t.Errorf("creating a taken token's id again: %v", err)
	}
	if got, err := tokens.GetToken(ctx, kind, id); err != nil || len(got) != 0 {
		t.Errorf("an empty token = %q, %v", got, err)
	}

	for _, bad := range [][2]string{{"", "x"}, {"k", ""}, {"k/j", "x"}, {"k", "a/b"}, {"k", ".x"},
		{"k", strings.Repeat("a", 513)}, {"k", "a b"}, {"k", "a+b"}} {
		if err := tokens.CreateToken(ctx, bad[0], bad[1], nil, time.Hour); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("CreateToken(%q, %q) = %v, want ErrInvalid", bad[0], bad[1], err)
		}
		if _, err := tokens.GetToken(ctx, bad[0], bad[1]); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("GetToken(%q, %q) = %v, want ErrInvalid", bad[0], bad[1], err)
		}
	}
	if err := tokens.CreateToken(ctx, kind, "nottl", nil, 0); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("CreateToken with no TTL = %v, want ErrInvalid", err)
	}
}

// TestTakeTokenOnce: of many concurrent takes of one code, exactly one
// gets it.
func TestTakeTokenOnce(t *testing.T) {
	s := storagetest.Store(t)
	ctx := patientCtx(t)
	if err := s.CreateToken(ctx, "code", "once", []byte("secret"), time.Hour); err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	got := make([][]byte, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = s.TakeToken(ctx, "code", "once")
		}()
	}
	wg.Wait()
	winners := 0
	for i := range n {
		switch {
		case errs[i] == nil && bytes.Equal(got[i], []byte("secret")):
			winners++
		case errors.Is(errs[i], storage.ErrNotFound):
		default:
			t.Errorf("take %d = %q, %v", i, got[i], errs[i])
		}
	}
	if winners != 1 {
		t.Errorf("%d takes got the code, want 1", winners)
	}
}

// TestTokenExpires: a token is gone once its TTL has passed, for
// readers at once and from etcd when its lease ends; its id is free
// again.
func TestTokenExpires(t *testing.T) {
	s := storagetest.Store(t)
	ctx := patientCtx(t)
	if err := s.CreateToken(ctx, "code", "short", []byte("v"), time.Second); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateToken(ctx, "code", "long", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	key := storage.TokenKey("code", "short")
	if _, _, ok := rawGet(t, s, key); !ok {
		t.Fatalf("the token is not in etcd")
	}
	eventually(t, "GetToken answers ErrNotFound", func() bool {
		_, err := s.GetToken(ctx, "code", "short")
		return errors.Is(err, storage.ErrNotFound)
	})
	eventually(t, "etcd deletes the expired token", func() bool {
		_, _, ok := rawGet(t, s, key)
		return !ok
	})
	if _, err := s.GetToken(ctx, "code", "long"); err != nil {
		t.Errorf("a token with an hour to live: %v", err)
	}
	if err := s.CreateToken(ctx, "code", "short", []byte("again"), time.Hour); err != nil {
		t.Errorf("creating an expired token's id again: %v", err)
	}
}

// TestUncachedRanges: tokens and audit entries never enter the cache,
// yet their revisions advance it; a list skips them and still loads
// what comes after.
func TestUncachedRanges(t *testing.T) {
	endpoint := storagetest.Etcd(t)
	s := storagetest.Open(t, endpoint)
	ctx := patientCtx(t)
	if _, err := s.CreateAccount(ctx, "uc", storage.Account{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateToken(ctx, "refresh", "r1", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Audit(ctx, storage.AuditEntry{Action: "test"}); err != nil {
		t.Fatal(err)
	}
	// A key after both ranges, written through etcd directly.
	resp, err := s.Client().Put(ctx, s.Prefix()+"zz/after", "z")
	if err != nil {
		t.Fatal(err)
	}
	_, tokMod, _ := rawGet(t, s, storage.TokenKey("refresh", "r1"))
	// An expiring put through Update waits for the cache like any write.
	rev, err := s.Update(ctx, func(v storage.View, tx *storage.Txn) error {
		tx.PutWithTTL(storage.TokenKey("state", "s1"), "x", time.Hour)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := rawGet(t, s, storage.TokenKey("state", "s1")); !ok {
		t.Errorf("the expiring put is not in etcd")
	}

	check := func(name string, st *storage.Store) {
		if err := st.Read(ctx, max(tokMod, rev, resp.Header.Revision), func(v storage.View) error {
			if v.Has(storage.TokenKey("refresh", "r1")) || v.CountRange(storage.TokenRange) != 0 || v.CountRange(storage.AuditRange) != 0 {
				t.Errorf("%s: the view shows tokens or audit entries", name)
			}
			v.EachRange("", func(k, _ string) bool {
				if strings.HasPrefix(k, storage.TokenRange) || strings.HasPrefix(k, storage.AuditRange) {
					t.Errorf("%s: the cache holds %s", name, k)
				}
				return true
			})
			if !v.Has("zz/after") || !v.Has(storage.AccountKey("uc")) {
				t.Errorf("%s: the cache lacks keys outside the uncached ranges", name)
			}
			return nil
		}); err != nil {
			t.Errorf("%s: reading at the token's revision: %v", name, err)
		}
	}
	check("watching store", s)
	check("listing store", storagetest.Open(t, endpoint))
}

// TestPutWithTTLLeases: expiring puts share a lease per expiry bucket,
// the lease lasts at least the TTL, and a lease etcd has lost is granted
// afresh.
func TestPutWithTTLLeases(t *testing.T) {
	s := storagetest.Store(t)
	ctx := patientCtx(t)
	leaseOf := func(key string) clientv3.LeaseID {
		t.Helper()
		resp, err := s.Client().Get(ctx, s.Prefix()+key)
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("get %s: %v (%d keys)", key, err, len(resp.Kvs))
		}
		return clientv3.LeaseID(resp.Kvs[0].Lease)
	}
	put := func(keys ...string) {
		t.Helper()
		if _, err := s.Update(ctx, func(v storage.View, tx *storage.Txn) error {
			for _, k := range keys {
				tx.PutWithTTL(k, "v", time.Hour)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	a, b := storage.TokenKey("t", "a"), storage.TokenKey("t", "b")
	put(a, b)
	la, lb := leaseOf(a), leaseOf(b)
	if la == 0 || la != lb {
		t.Fatalf("leases %x and %x: want one shared lease", la, lb)
	}
	ttl, err := s.Client().TimeToLive(ctx, la)
	if err != nil {
		t.Fatal(err)
	}
	if ttl.GrantedTTL < int64(time.Hour/time.Second) {
		t.Errorf("lease granted for %ds, want at least the TTL", ttl.GrantedTTL)
	}

	// The lease disappears (as after a restore from an older snapshot):
	// the next puts get a new one.
	if _, err := s.Client().Revoke(ctx, la); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := rawGet(t, s, a); ok {
		t.Fatalf("revoking the lease left its key")
	}
	put(a)
	if l := leaseOf(a); l == 0 || l == la {
		t.Errorf("after its lease was revoked the key has lease %x (old %x)", l, la)
	}
	if err := s.CreateToken(ctx, "t", "c", nil, time.Hour); err != nil {
		t.Errorf("CreateToken after a lost lease: %v", err)
	}
	if _, err := s.GetToken(context.Background(), "t", "c"); err != nil {
		t.Errorf("GetToken: %v", err)
	}
}

// TestSwapTokens: GetTokens reads several tokens at one revision;
// SwapTokens writes only while its guards hold, so of two swaps guarded
// on the same read exactly one succeeds, and an absence guard fails once
// the token exists.
func TestSwapTokens(t *testing.T) {
	s := storagetest.Store(t)
	ctx := patientCtx(t)
	if err := s.CreateToken(ctx, "rt", "old", []byte("v0"), time.Hour); err != nil {
		t.Fatal(err)
	}
	reads, err := s.GetTokens(ctx, storage.TokenRef{Kind: "rt", ID: "old"}, storage.TokenRef{Kind: "mark", ID: "fam"})
	if err != nil || len(reads) != 2 || !reads[0].Found || string(reads[0].Value) != "v0" || reads[0].Rev == 0 || reads[1].Found {
		t.Fatalf("GetTokens = %+v, %v", reads, err)
	}
	guards := []storage.TokenGuard{{TokenRef: storage.TokenRef{Kind: "rt", ID: "old"}, Rev: reads[0].Rev},
		{TokenRef: storage.TokenRef{Kind: "mark", ID: "fam"}}}
	swap := func(newID string) error {
		return s.SwapTokens(ctx, guards, []storage.TokenPut{
			{TokenRef: storage.TokenRef{Kind: "rt", ID: "old"}, Value: []byte("used"), TTL: time.Hour},
			{TokenRef: storage.TokenRef{Kind: "rt", ID: newID}, Value: []byte("v1"), TTL: time.Hour}})
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = swap("new-" + string(rune('a'+i))) }()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, storage.ErrConflict):
			t.Errorf("losing swap: %v, want ErrConflict", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d swaps guarded on one read succeeded, want 1", wins)
	}
	if got, err := s.GetToken(ctx, "rt", "old"); err != nil || string(got) != "used" {
		t.Errorf("the guarded token after the swap = %q, %v; want used", got, err)
	}
	// An absence guard fails once the token exists.
	reads, _ = s.GetTokens(ctx, storage.TokenRef{Kind: "rt", ID: "old"})
	guards[0].Rev = reads[0].Rev
	if err := s.CreateToken(ctx, "mark", "fam", []byte("x"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := swap("new-z"); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("swap with a present token guarded absent = %v, want ErrConflict", err)
	}
	if _, err := s.GetToken(ctx, "rt", "new-z"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a failed swap wrote: %v", err)
	}
	if err := s.SwapTokens(ctx, nil, []storage.TokenPut{{TokenRef: storage.TokenRef{Kind: "rt", ID: "x/y"}, TTL: time.Hour}}); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("an invalid id = %v, want ErrInvalid", err)
	}
}
