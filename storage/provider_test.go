package storage_test

import (
	"bytes"
	"strings"
	"testing"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// TestProviderRecord: a provider and its sync status round-trip through
// their stored forms; the sync status is idle until written and goes
// with the provider.
func TestProviderRecord(t *testing.T) {
	p := storage.Provider{Type: storage.ProviderLDAP, Description: "d", URL: "ldaps://dir", StartTLS: false, CA: "pem",
		BindDN: "cn=x", BindPassword: "sealed", UserBase: "dc=x", UserFilter: "(a=b)", LoginAttribute: "uid",
		GroupBase: "ou=g", GroupFilter: "(c=d)", MetadataURL: "", Metadata: "", EntityID: "e", SignRequests: true,
		AllowIdPInitiated: true, LandingURL: "https://l", MapName: "uid", MapEmail: "mail", MapFullName: "cn", MapGroups: "memberOf", SyncInterval: "1h"}
	got, err := storage.DecodeProvider(p.Encode())
	if err != nil || got != p {
		t.Fatalf("provider round trip: %+v, %v; want %+v", got, err, p)
	}
	sy := storage.ProviderSync{State: storage.SyncRunning, Progress: 5, Total: 10, Users: 4, Groups: 1, Disabled: 2,
		Started: 1700000000, Finished: 0, Error: "e"}
	if got, err := storage.DecodeProviderSync(sy.Encode()); err != nil || got != sy {
		t.Fatalf("sync round trip: %+v, %v", got, err)
	}

	s := storagetest.Store(t)
	ctx := storagetest.Ctx(t)
	storagetest.MustAccount(t, s, "pa", "")
	if _, _, err := s.PutItem(ctx, "pa", storage.KindProvider, "corp", storage.CreateOnly, storagetest.SetTo(p.Encode()), nil); err != nil {
		t.Fatal(err)
	}
	view := func(fn func(storage.View)) {
		if err := s.Read(ctx, 0, func(v storage.View) error { fn(v); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	view(func(v storage.View) {
		if got, ok := v.Provider("pa", "corp"); !ok || got != p {
			t.Errorf("View.Provider = %+v, %v", got, ok)
		}
		if st := v.ProviderSyncState("pa", "corp"); st.State != storage.SyncIdle {
			t.Errorf("sync state before any sync: %+v", st)
		}
	})
	if err := storagetest.PutKey(ctx, s, storage.ItemKey("pa", storage.KindProviderSync, "corp"), sy.Encode()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteItem(ctx, "pa", storage.KindProvider, "corp"); err != nil {
		t.Fatal(err)
	}
	if storagetest.EtcdHas(t, s, storage.ItemKey("pa", storage.KindProviderSync, "corp")) {
		t.Error("the sync status outlived its provider")
	}
}

// TestProviderSecret: a sealed secret opens only with its key, for its
// provider, unmodified.
func TestProviderSecret(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	sealed, err := storage.SealProviderSecret(key, "a", "p", "bind-pw")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := storage.SealProviderSecret(key, "a", "p", "bind-pw")
	if sealed == again {
		t.Error("two seals of one secret are equal: the nonce is not fresh")
	}
	if got, err := storage.OpenProviderSecret(key, "a", "p", sealed); err != nil || got != "bind-pw" {
		t.Fatalf("open = %q, %v", got, err)
	}
	other := bytes.Repeat([]byte{8}, 32)
	tail := "AA" // another ending, whatever the sealed value ends with
	if strings.HasSuffix(sealed, tail) {
		tail = "BB"
	}
	for name, try := range map[string]func() (string, error){
		"another key":      func() (string, error) { return storage.OpenProviderSecret(other, "a", "p", sealed) },
		"another provider": func() (string, error) { return storage.OpenProviderSecret(key, "a", "q", sealed) },
		"another account":  func() (string, error) { return storage.OpenProviderSecret(key, "b", "p", sealed) },
		"modified":         func() (string, error) { return storage.OpenProviderSecret(key, "a", "p", sealed[:len(sealed)-2]+tail) },
		"garbage":          func() (string, error) { return storage.OpenProviderSecret(key, "a", "p", "!!") },
		"short key":        func() (string, error) { return storage.OpenProviderSecret(key[:16], "a", "p", sealed) },
	} {
		if got, err := try(); err == nil {
			t.Errorf("%s: opened to %q", name, got)
		}
	}
}
