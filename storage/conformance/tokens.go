package conformance

import (
	"errors"
	"sync"
	"testing"
	"time"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// testTokens: a token (storage.Tokens) can be created once, read until it
// is taken or deleted, taken once, and is absent afterwards.
func testTokens(t *testing.T, s *storage.Store) {
	var tokens storage.Tokens = s
	const kind, ttl = "code", time.Hour

	t.Run("create once", func(t *testing.T) {
		ctx := storagetest.Ctx(t)
		if err := tokens.CreateToken(ctx, kind, "c1", []byte("v1"), ttl); err != nil {
			t.Fatalf("CreateToken: %v", err)
		}
		if err := tokens.CreateToken(ctx, kind, "c1", []byte("v2"), ttl); !errors.Is(err, storage.ErrNameTaken) {
			t.Errorf("second CreateToken = %v, want ErrNameTaken", err)
		}
		if got, err := tokens.GetToken(ctx, kind, "c1"); err != nil || string(got) != "v1" {
			t.Errorf("GetToken = %q, %v; want the first value", got, err)
		}
		// Another kind is another namespace.
		if err := tokens.CreateToken(ctx, "session", "c1", []byte("s"), ttl); err != nil {
			t.Errorf("CreateToken of another kind, same id: %v", err)
		}
		if got, err := tokens.GetToken(ctx, kind, "c1"); err != nil || string(got) != "v1" {
			t.Errorf("GetToken after another kind's create = %q, %v", got, err)
		}
	})

	t.Run("take once", func(t *testing.T) {
		ctx := storagetest.Ctx(t)
		if err := tokens.CreateToken(ctx, kind, "t1", []byte("secret"), ttl); err != nil {
			t.Fatal(err)
		}
		got, err := tokens.TakeToken(ctx, kind, "t1")
		if err != nil || string(got) != "secret" {
			t.Fatalf("TakeToken = %q, %v; want the value", got, err)
		}
		if got, err := tokens.TakeToken(ctx, kind, "t1"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("second TakeToken = %q, %v; want ErrNotFound", got, err)
		}
		if got, err := tokens.GetToken(ctx, kind, "t1"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetToken after TakeToken = %q, %v; want ErrNotFound", got, err)
		}
		if err := tokens.DeleteToken(ctx, kind, "t1"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("DeleteToken after TakeToken = %v, want ErrNotFound", err)
		}
		if storagetest.EtcdHas(t, s, storage.TokenKey(kind, "t1")) {
			t.Errorf("a taken token is still in etcd")
		}
	})

	t.Run("concurrent takes", func(t *testing.T) {
		ctx := storagetest.Ctx(t)
		if err := tokens.CreateToken(ctx, kind, "race", []byte("once"), ttl); err != nil {
			t.Fatal(err)
		}
		const takers = 8
		var wg sync.WaitGroup
		errs := make([]error, takers)
		vals := make([][]byte, takers)
		for i := range takers {
			wg.Go(func() { vals[i], errs[i] = tokens.TakeToken(ctx, kind, "race") })
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
				if string(vals[i]) != "once" {
					t.Errorf("taker %d got %q", i, vals[i])
				}
			case !errors.Is(err, storage.ErrNotFound):
				t.Errorf("taker %d: %v, want the value or ErrNotFound", i, err)
			}
		}
		if won != 1 {
			t.Errorf("%d of %d concurrent takes got the token, want exactly 1", won, takers)
		}
	})

	t.Run("delete", func(t *testing.T) {
		ctx := storagetest.Ctx(t)
		if err := tokens.CreateToken(ctx, kind, "d1", []byte("v"), ttl); err != nil {
			t.Fatal(err)
		}
		if err := tokens.DeleteToken(ctx, kind, "d1"); err != nil {
			t.Fatalf("DeleteToken: %v", err)
		}
		if err := tokens.DeleteToken(ctx, kind, "d1"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("second DeleteToken = %v, want ErrNotFound", err)
		}
		if got, err := tokens.GetToken(ctx, kind, "d1"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetToken after DeleteToken = %q, %v; want ErrNotFound", got, err)
		}
		if got, err := tokens.TakeToken(ctx, kind, "d1"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("TakeToken after DeleteToken = %q, %v; want ErrNotFound", got, err)
		}
		if storagetest.EtcdHas(t, s, storage.TokenKey(kind, "d1")) {
			t.Errorf("a deleted token is still in etcd")
		}
		// The id is free again.
		if err := tokens.CreateToken(ctx, kind, "d1", []byte("again"), ttl); err != nil {
			t.Errorf("CreateToken after DeleteToken: %v", err)
		}
	})

	t.Run("absent", func(t *testing.T) {
		ctx := storagetest.Ctx(t)
		if _, err := tokens.GetToken(ctx, kind, "never"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetToken = %v, want ErrNotFound", err)
		}
		if _, err := tokens.TakeToken(ctx, kind, "never"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("TakeToken = %v, want ErrNotFound", err)
		}
		if err := tokens.DeleteToken(ctx, kind, "never"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("DeleteToken = %v, want ErrNotFound", err)
		}
	})

	t.Run("invalid", func(t *testing.T) {
		ctx := storagetest.Ctx(t)
		rev := storagetest.EtcdRev(t, s)
		for _, c := range []struct{ kind, id string }{{"", "x"}, {kind, ""}, {"a/b", "x"}, {kind, "x/y"}} {
			if err := tokens.CreateToken(ctx, c.kind, c.id, []byte("v"), ttl); !errors.Is(err, storage.ErrInvalid) {
				t.Errorf("CreateToken(%q, %q) = %v, want ErrInvalid", c.kind, c.id, err)
			}
		}
		if err := tokens.CreateToken(ctx, kind, "no-ttl", []byte("v"), 0); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("CreateToken with no TTL = %v, want ErrInvalid", err)
		}
		if r := storagetest.EtcdRev(t, s); r != rev {
			t.Errorf("refused creates moved etcd from revision %d to %d", rev, r)
		}
	})

	// Expiry goes by the token's TTL: poll until it is gone (never judge
	// how long that took); an expired id can then be created again.
	t.Run("expiry", func(t *testing.T) {
		ctx := storagetest.Ctx(t)
		if err := tokens.CreateToken(ctx, kind, "short", []byte("v"), 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, err := tokens.GetToken(ctx, kind, "short")
			if errors.Is(err, storage.ErrNotFound) {
				break
			}
			if err != nil {
				t.Fatalf("GetToken while waiting for expiry: %v", err)
			}
			if time.Now().After(deadline) {
				t.Fatal("the token did not expire within 30s of its 100ms TTL")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if _, err := tokens.TakeToken(ctx, kind, "short"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("TakeToken of an expired token = %v, want ErrNotFound", err)
		}
		if err := tokens.CreateToken(ctx, kind, "short", []byte("new"), ttl); err != nil {
			t.Fatalf("CreateToken over an expired token: %v", err)
		}
		if got, err := tokens.GetToken(ctx, kind, "short"); err != nil || string(got) != "new" {
			t.Errorf("GetToken = %q, %v; want the new value", got, err)
		}
	})
}
