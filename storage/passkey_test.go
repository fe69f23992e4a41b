package storage_test

import (
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// TestPasskeyStore: the user handle is drawn once, a credential belongs
// to one user (across accounts), counters only advance (also under
// concurrent use), delete removes the index entry, and deleting the
// user removes records, handle and index entries in the same write.
func TestPasskeyStore(t *testing.T) {
	s := storagetest.Store(t)
	ctx := storagetest.Ctx(t)
	if _, err := s.Bootstrap(ctx, "h", time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"pa", "pb"} {
		if _, err := s.CreateAccount(ctx, a, storage.Account{Parent: "system"}, []string{"*"}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.PutItem(ctx, a, storage.KindUser, "u", storage.CreateOnly,
			func(string, bool) (string, error) { return storage.User{Enabled: true}.Encode(), nil }, nil); err != nil {
			t.Fatal(err)
		}
	}
	read := func(fn func(v storage.View)) {
		t.Helper()
		if err := s.Read(ctx, 0, func(v storage.View) error { fn(v); return nil }); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := s.EnsurePasskeyHandle(ctx, "pa", "nobody", []byte("h")); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("handle of a missing user: %v", err)
	}
	h1, err := s.EnsurePasskeyHandle(ctx, "pa", "u", []byte("handle-one"))
	if err != nil || string(h1) != "handle-one" {
		t.Fatalf("first handle = %q, %v", h1, err)
	}
	h2, err := s.EnsurePasskeyHandle(ctx, "pa", "u", []byte("handle-two"))
	if err != nil || string(h2) != "handle-one" {
		t.Fatalf("second handle = %q, %v; want the stored one", h2, err)
	}
	hb, err := s.EnsurePasskeyHandle(ctx, "pb", "u", []byte("handle-b"))
	if err != nil {
		t.Fatal(err)
	}

	p := storage.Passkey{CredentialID: []byte("cred-1"), PublicKey: []byte{1, 2, 3}, SignCount: 5,
		AAGUID: []byte("0123456789abcdef"), Transports: []string{"internal", "hybrid"},
		Flags: storage.PasskeyFlags{UserPresent: true, UserVerified: true}, AttestationType: "none",
		Name: "laptop", Created: 1700000000}
	id := storage.PasskeyID(p.CredentialID)
	if err := storage.ValidName(id); err != nil {
		t.Fatalf("PasskeyID %q is not a name: %v", id, err)
	}
	if _, err := s.CreatePasskey(ctx, "pa", "u", id, []byte("other"), p); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("create under a stale handle: %v", err)
	}
	if _, err := s.CreatePasskey(ctx, "pa", "u", id, h1, p); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreatePasskey(ctx, "pa", "u", id, h1, p); !errors.Is(err, storage.ErrNameTaken) {
		t.Errorf("same credential twice: %v", err)
	}
	if _, err := s.CreatePasskey(ctx, "pb", "u", id, hb, p); !errors.Is(err, storage.ErrNameTaken) {
		t.Errorf("same credential in another account: %v", err)
	}
	read(func(v storage.View) {
		got, ok := v.Passkey("pa", "u", id)
		if !ok || !reflect.DeepEqual(got, p) {
			t.Errorf("stored passkey = %+v, %v; want %+v", got, ok, p)
		}
		a, u, _, ok := v.PasskeyOwner(id)
		if !ok || a != "pa" || u != "u" {
			t.Errorf("owner = %s\\%s %v", a, u, ok)
		}
		if !v.HasPasskey("pa", "u") || v.HasPasskey("pb", "u") {
			t.Error("HasPasskey wrong")
		}
		if ids := v.PasskeyIDs("pa", "u"); len(ids) != 1 || ids[0] != id {
			t.Errorf("ids = %v", ids)
		}
	})

	// Counters: backwards or equal is refused; forward lands.
	flags := storage.PasskeyFlags{UserPresent: true, UserVerified: true}
	if _, err := s.UsePasskey(ctx, "pa", "u", id, 5, flags, 1700000100); !errors.Is(err, storage.ErrCounter) {
		t.Errorf("equal counter: %v", err)
	}
	if _, err := s.UsePasskey(ctx, "pa", "u", id, 3, flags, 1700000100); !errors.Is(err, storage.ErrCounter) {
		t.Errorf("counter backwards: %v", err)
	}
	// Concurrent uses with the same next counter: exactly one lands.
	var wg sync.WaitGroup
	var mu sync.Mutex
	landed := 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.UsePasskey(ctx, "pa", "u", id, 6, flags, 1700000200); err == nil {
				mu.Lock()
				landed++
				mu.Unlock()
			} else if !errors.Is(err, storage.ErrCounter) {
				t.Errorf("concurrent use: %v", err)
			}
		}()
	}
	wg.Wait()
	if landed != 1 {
		t.Errorf("%d concurrent uses with counter 6 landed, want 1", landed)
	}
	read(func(v storage.View) {
		got, _ := v.Passkey("pa", "u", id)
		if got.SignCount != 6 || got.LastUsed != 1700000200 {
			t.Errorf("after use: count %d, last used %d", got.SignCount, got.LastUsed)
		}
	})

	// A counterless authenticator (zero both sides) is accepted each time.
	z := p
	z.CredentialID, z.SignCount = []byte("cred-zero"), 0
	zid := storage.PasskeyID(z.CredentialID)
	if _, err := s.CreatePasskey(ctx, "pa", "u", zid, h1, z); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := s.UsePasskey(ctx, "pa", "u", zid, 0, flags, 1700000300); err != nil {
			t.Errorf("zero counter use: %v", err)
		}
	}

	// Delete one: record and index entry go; then registering it
	// elsewhere works.
	if _, err := s.DeletePasskey(ctx, "pa", "u", zid); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeletePasskey(ctx, "pa", "u", zid); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("delete twice: %v", err)
	}
	read(func(v storage.View) {
		if v.Has(storage.PasskeyIndexKey(zid)) {
			t.Error("index entry left after DeletePasskey")
		}
	})
	if _, err := s.CreatePasskey(ctx, "pb", "u", zid, hb, z); err != nil {
		t.Errorf("re-register a deleted credential elsewhere: %v", err)
	}

	// Deleting the user removes its passkeys, handle and index entries,
	// and leaves the other account's alone.
	if _, err := s.DeleteItem(ctx, "pa", storage.KindUser, "u"); err != nil {
		t.Fatal(err)
	}
	read(func(v storage.View) {
		if v.Has(storage.PasskeyIndexKey(id)) || v.HasPasskey("pa", "u") || v.Has(storage.ItemKey("pa", storage.KindPasskeyUser, "u")) {
			t.Error("passkey keys left after the user was deleted")
		}
		if _, _, _, ok := v.PasskeyOwner(zid); !ok {
			t.Error("the other account's passkey went with the user")
		}
	})
	// A dangling index entry (account deleted) does not block a new
	// registration of the same credential.
	if _, err := s.DeleteAccount(ctx, "pb"); err != nil {
		t.Fatal(err)
	}
	read(func(v storage.View) {
		if _, _, _, ok := v.PasskeyOwner(zid); ok {
			t.Error("a deleted account's passkey still has an owner")
		}
	})
	if _, _, err := s.PutItem(ctx, "pa", storage.KindUser, "u", storage.CreateOnly,
		func(string, bool) (string, error) { return storage.User{Enabled: true}.Encode(), nil }, nil); err != nil {
		t.Fatal(err)
	}
	h3, err := s.EnsurePasskeyHandle(ctx, "pa", "u", []byte("handle-three"))
	if err != nil || string(h3) != "handle-three" {
		t.Fatalf("handle of the new user = %q, %v", h3, err)
	}
	if _, err := s.CreatePasskey(ctx, "pa", "u", zid, h3, z); err != nil {
		t.Errorf("register over a dangling index entry: %v", err)
	}
}

// TestPasskeyDeleteRacesRegistration: a registration committed between
// a user delete's view and its commit fails the delete's guard; the
// rebuilt delete removes it too, so no index entry outlives the user.
func TestPasskeyDeleteRacesRegistration(t *testing.T) {
	s := storagetest.Store(t)
	ctx := storagetest.Ctx(t)
	if _, err := s.Bootstrap(ctx, "h", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAccount(ctx, "pr", storage.Account{Parent: "system"}, []string{"*"}); err != nil {
		t.Fatal(err)
	}
	for round := range 5 {
		if _, _, err := s.PutItem(ctx, "pr", storage.KindUser, "u", storage.CreateOnly,
			func(string, bool) (string, error) { return storage.User{Enabled: true}.Encode(), nil }, nil); err != nil {
			t.Fatal(err)
		}
		h, err := s.EnsurePasskeyHandle(ctx, "pr", "u", []byte{byte(round + 1)})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		ids := make([]string, 8)
		for i := range ids {
			cred := []byte{byte(round), byte(i), 'c'}
			ids[i] = storage.PasskeyID(cred)
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = s.CreatePasskey(ctx, "pr", "u", ids[i], h, storage.Passkey{CredentialID: cred, PublicKey: []byte{1}})
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.DeleteItem(ctx, "pr", storage.KindUser, "u"); err != nil {
				t.Errorf("delete: %v", err)
			}
		}()
		wg.Wait()
		if err := s.Read(ctx, 0, func(v storage.View) error {
			userThere := v.HasItem("pr", storage.KindUser, "u")
			for _, id := range ids {
				if v.Has(storage.PasskeyIndexKey(id)) {
					t.Errorf("round %d: index entry %s outlived the user delete", round, id)
				}
			}
			if userThere || v.HasPasskey("pr", "u") {
				t.Errorf("round %d: user or passkeys left", round)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPasskeyRecordRoundTrip: Encode → DecodePasskey is the identity;
// damaged records are refused.
func TestPasskeyRecordRoundTrip(t *testing.T) {
	p := storage.Passkey{CredentialID: []byte{0, 1, 255}, PublicKey: []byte("k"), SignCount: 4294967295,
		Transports: []string{"usb"}, Flags: storage.PasskeyFlags{BackupEligible: true, BackupState: true},
		Name: "key, with comma", Created: 1, LastUsed: 2}
	got, err := storage.DecodePasskey(p.Encode())
	if err != nil || !reflect.DeepEqual(got, p) {
		t.Fatalf("round trip = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "\x02", storage.Passkey{}.Encode()} {
		if _, err := storage.DecodePasskey(bad); err == nil {
			t.Errorf("DecodePasskey(%q) accepted", bad)
		}
	}
}

// FuzzDecodePasskey: DecodePasskey never panics, and what it accepts
// survives Encode → Decode unchanged.
func FuzzDecodePasskey(f *testing.F) {
	f.Add([]byte(storage.Passkey{CredentialID: []byte("c"), PublicKey: []byte("k"), SignCount: 7,
		Transports: []string{"usb", "nfc"}, Flags: storage.PasskeyFlags{UserPresent: true}, Name: "n", Created: 1}.Encode()))
	f.Add([]byte{})
	f.Add([]byte{1, 1, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := storage.DecodePasskey(string(b))
		if err != nil {
			return
		}
		enc := p.Encode()
		p2, err := storage.DecodePasskey(enc)
		if err != nil {
			t.Fatalf("DecodePasskey(%q) = %+v, but its encoding does not decode: %v", b, p, err)
		}
		if !reflect.DeepEqual(p, p2) {
			t.Fatalf("round trip changed the passkey: %+v → %+v", p, p2)
		}
	})
}
