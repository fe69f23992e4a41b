package passkey_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/passkey"
	"gatehouse/passkey/passkeytest"
	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

const (
	rpID   = "id.example.com"
	origin = "https://id.example.com"
)

func setup(t *testing.T) (*storage.Store, *passkey.Service, context.Context) {
	t.Helper()
	s := storagetest.Store(t)
	ctx := storagetest.Ctx(t)
	if _, err := s.Bootstrap(ctx, "h", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAccount(ctx, "acme", storage.Account{Parent: "system"}, []string{"*"}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob"} {
		putUser(t, s, u, true)
	}
	cfg, err := passkey.Config{RPID: rpID, Origins: []string{origin}}.Resolve("https://ignored.example.org")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := passkey.New(s, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, svc, ctx
}

func putUser(t *testing.T, s *storage.Store, u string, enabled bool) {
	t.Helper()
	if _, _, err := s.PutItem(storagetest.Ctx(t), "acme", storage.KindUser, u, storage.Upsert,
		func(string, bool) (string, error) {
			return storage.User{Enabled: enabled, FullName: "Full " + u}.Encode(), nil
		}, nil); err != nil {
		t.Fatal(err)
	}
}

func register(t *testing.T, svc *passkey.Service, ctx context.Context, u string) (*passkeytest.Key, passkey.Registered) {
	t.Helper()
	opts, err := svc.BeginRegistration(ctx, "acme", u)
	if err != nil {
		t.Fatal(err)
	}
	k := passkeytest.NewKey(t, origin, rpID)
	reg, err := svc.FinishRegistration(ctx, "acme", u, k.Create(opts, map[string]any{"name": "  laptop  "}))
	if err != nil {
		t.Fatalf("finish registration: %v", err)
	}
	return k, reg
}

func stored(t *testing.T, s *storage.Store, u, id string) storage.Passkey {
	t.Helper()
	var p storage.Passkey
	var ok bool
	_ = s.Read(storagetest.Ctx(t), 0, func(v storage.View) error { p, ok = v.Passkey("acme", u, id); return nil })
	if !ok {
		t.Fatalf("passkey %s of %s not stored", id, u)
	}
	return p
}

// TestRegistration: the options ask for a discoverable credential under
// a random stored handle (not the user name); the response registers
// once; the ceremony cannot be finished twice, by another user, or with
// a credential already registered.
func TestRegistration(t *testing.T) {
	s, svc, ctx := setup(t)
	opts, err := svc.BeginRegistration(ctx, "acme", "alice")
	if err != nil {
		t.Fatal(err)
	}
	_, handle, raw := passkeytest.Options(t, opts)
	pk := raw["publicKey"].(map[string]any)
	if rp := pk["rp"].(map[string]any); rp["id"] != rpID || rp["name"] != "Gatehouse" {
		t.Errorf("rp = %v", rp)
	}
	if sel := pk["authenticatorSelection"].(map[string]any); sel["residentKey"] != "required" {
		t.Errorf("authenticatorSelection = %v", sel)
	}
	if len(handle) != 32 || bytes.Contains(handle, []byte("alice")) {
		t.Errorf("user handle %q is not 32 random bytes", handle)
	}
	if u := pk["user"].(map[string]any); u["name"] != `acme\alice` || u["displayName"] != "Full alice" {
		t.Errorf("user = %v", u)
	}
	// The handle is stable: a second ceremony uses the same one.
	opts2, err := svc.BeginRegistration(ctx, "acme", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, h2, _ := passkeytest.Options(t, opts2); !bytes.Equal(h2, handle) {
		t.Error("the user handle changed between ceremonies")
	}

	k := passkeytest.NewKey(t, origin, rpID)
	body := k.Create(opts, map[string]any{"name": "  my laptop "})
	if _, err := svc.FinishRegistration(ctx, "acme", "bob", body); !errors.Is(err, passkey.ErrRefused) {
		t.Errorf("bob finishing alice's ceremony: %v", err)
	}
	// That attempt consumed the ceremony: a ceremony is tried once.
	if _, err := svc.FinishRegistration(ctx, "acme", "alice", body); !errors.Is(err, passkey.ErrRefused) {
		t.Errorf("finishing a consumed ceremony: %v", err)
	}
	body = k.Create(opts2, map[string]any{"name": "  my laptop "})
	reg, err := svc.FinishRegistration(ctx, "acme", "alice", body)
	if err != nil {
		t.Fatal(err)
	}
	p := stored(t, s, "alice", reg.ID)
	if p.Name != "my laptop" || !bytes.Equal(p.CredentialID, k.ID) || p.Created == 0 || p.LastUsed != 0 ||
		len(p.Transports) != 1 || p.Transports[0] != "internal" || !p.Flags.UserVerified || len(p.AAGUID) != 16 {
		t.Errorf("stored passkey = %+v", p)
	}
	if _, err := svc.FinishRegistration(ctx, "acme", "alice", body); !errors.Is(err, passkey.ErrRefused) {
		t.Errorf("replayed registration: %v", err)
	}
	// The same credential again, in a new ceremony (another user): 409.
	opts3, err := svc.BeginRegistration(ctx, "acme", "bob")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.FinishRegistration(ctx, "acme", "bob", k.Create(opts3, nil)); !errors.Is(err, passkey.ErrRegistered) {
		t.Errorf("registering a registered credential: %v", err)
	}
	// A wrong origin does not verify.
	opts4, _ := svc.BeginRegistration(ctx, "acme", "bob")
	evil := passkeytest.NewKey(t, "https://evil.example.net", rpID)
	if _, err := svc.FinishRegistration(ctx, "acme", "bob", evil.Create(opts4, nil)); !errors.Is(err, passkey.ErrRefused) {
		t.Errorf("registration from another origin: %v", err)
	}
	// The existing credential is excluded in later ceremonies.
	opts5, _ := svc.BeginRegistration(ctx, "acme", "alice")
	if !strings.Contains(string(opts5), passkeytest.B64.EncodeToString(k.ID)) {
		t.Errorf("the registered credential is not excluded: %s", opts5)
	}
	if _, err := svc.BeginRegistration(ctx, "acme", "nobody"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("registration for a missing user: %v", err)
	}
}

// TestDiscoverableSignIn: a sign-in without a user name finds the owner
// by credential, needs user verification, is bound to its ticket, is
// single use, and refuses counters that do not advance and disabled
// users.
func TestDiscoverableSignIn(t *testing.T) {
	s, svc, ctx := setup(t)
	k, reg := register(t, svc, ctx, "alice")

	opts, err := svc.BeginLogin(ctx, "", "", "ticket-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, raw := passkeytest.Options(t, opts); raw["publicKey"].(map[string]any)["userVerification"] != "required" {
		t.Errorf("discoverable options do not require user verification: %s", opts)
	}
	body := k.Get(opts, 1, true)
	if _, err := svc.FinishLogin(ctx, "", "", "ticket-2", body); !errors.Is(err, passkey.ErrRefused) {
		t.Errorf("finish under another ticket: %v", err)
	}
	opts, _ = svc.BeginLogin(ctx, "", "", "ticket-1")
	body = k.Get(opts, 1, true)
	in, err := svc.FinishLogin(ctx, "", "", "ticket-1", body)
	if err != nil {
		t.Fatal(err)
	}
	if in.Account != "acme" || in.User != "alice" || in.Passkey != reg.ID || !in.UserVerified {
		t.Errorf("sign-in = %+v", in)
	}
	if p := stored(t, s, "alice", reg.ID); p.SignCount != 1 || p.LastUsed == 0 {
		t.Errorf("after sign-in: %+v", p)
	}
	if _, err := svc.FinishLogin(ctx, "", "", "ticket-1", body); !errors.Is(err, passkey.ErrRefused) {
		t.Errorf("replayed assertion: %v", err)
	}
	// Without user verification: refused.
	opts, _ = svc.BeginLogin(ctx, "", "", "t")
	if _, err := svc.FinishLogin(ctx, "", "", "t", k.Get(opts, 2, false)); !errors.Is(err, passkey.ErrRefused) {
		t.Errorf("discoverable sign-in without user verification: %v", err)
	}
	// A counter that went backwards (or stayed): refused, nothing written.
	for _, c := range []uint32{0, 1} {
		opts, _ = svc.BeginLogin(ctx, "", "", "t")
		if _, err := svc.FinishLogin(ctx, "", "", "t", k.Get(opts, c, true)); !errors.Is(err, passkey.ErrRefused) {
			t.Errorf("counter %d after 1: %v", c, err)
		}
	}
	if p := stored(t, s, "alice", reg.ID); p.SignCount != 1 {
		t.Errorf("a refused counter was written: %d", p.SignCount)
	}
	// A disabled user is refused.
	putUser(t, s, "alice", false)
	opts, _ = svc.BeginLogin(ctx, "", "", "t")
	if _, err := svc.FinishLogin(ctx, "", "", "t", k.Get(opts, 5, true)); !errors.Is(err, passkey.ErrRefused) {
		t.Errorf("disabled user: %v", err)
	}
	putUser(t, s, "alice", true)
	// A deleted passkey is refused.
	if _, err := s.DeletePasskey(ctx, "acme", "alice", reg.ID); err != nil {
		t.Fatal(err)
	}
	opts, _ = svc.BeginLogin(ctx, "", "", "t")
	if _, err := svc.FinishLogin(ctx, "", "", "t", k.Get(opts, 6, true)); !errors.Is(err, passkey.ErrRefused) {
		t.Errorf("deleted passkey: %v", err)
	}
}

// TestConcurrentFinish: of several finishes of one ceremony racing,
// exactly one signs in.
func TestConcurrentFinish(t *testing.T) {
	_, svc, ctx := setup(t)
	k, _ := register(t, svc, ctx, "alice")
	opts, err := svc.BeginLogin(ctx, "", "", "t")
	if err != nil {
		t.Fatal(err)
	}
	body := k.Get(opts, 1, true)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := svc.FinishLogin(ctx, "", "", "t", body)
			if err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			} else if !errors.Is(err, passkey.ErrRefused) {
				t.Errorf("finish: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 {
		t.Errorf("%d finishes of one ceremony succeeded, want 1", ok)
	}
}

// TestSecondFactor: a sign-in for a known user allows its passkeys only
// and does not need user verification; another user's passkey fails.
func TestSecondFactor(t *testing.T) {
	_, svc, ctx := setup(t)
	k, reg := register(t, svc, ctx, "alice")
	kb, _ := register(t, svc, ctx, "bob")
	if _, err := svc.BeginLogin(ctx, "acme", "nobody", ""); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("missing user: %v", err)
	}
	opts, err := svc.BeginLogin(ctx, "acme", "alice", "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(opts), passkeytest.B64.EncodeToString(k.ID)) || strings.Contains(string(opts), passkeytest.B64.EncodeToString(kb.ID)) {
		t.Errorf("allowed credentials wrong: %s", opts)
	}
	in, err := svc.FinishLogin(ctx, "acme", "alice", "", k.Get(opts, 1, false))
	if err != nil {
		t.Fatal(err)
	}
	if in.User != "alice" || in.Passkey != reg.ID || in.UserVerified {
		t.Errorf("sign-in = %+v", in)
	}
	opts, _ = svc.BeginLogin(ctx, "acme", "alice", "")
	if _, err := svc.FinishLogin(ctx, "acme", "alice", "", kb.Get(opts, 1, true)); !errors.Is(err, passkey.ErrRefused) {
		t.Errorf("bob's passkey for alice: %v", err)
	}
	// A discoverable ceremony cannot be finished as a second factor.
	opts, _ = svc.BeginLogin(ctx, "", "", "")
	if _, err := svc.FinishLogin(ctx, "acme", "alice", "", k.Get(opts, 2, true)); !errors.Is(err, passkey.ErrRefused) {
		t.Errorf("a discoverable ceremony finished as a second factor: %v", err)
	}
	on, err := svc.HasPasskey(ctx, "acme", "alice")
	if err != nil || !on {
		t.Errorf("HasPasskey = %v, %v", on, err)
	}
}

// TestResolve: defaults from the issuer; IP addresses refused.
func TestResolve(t *testing.T) {
	c, err := passkey.Config{}.Resolve("https://id.example.com:8443/")
	if err != nil || c.RPID != "id.example.com" || c.RPName != "Gatehouse" || len(c.Origins) != 1 || c.Origins[0] != "https://id.example.com:8443" {
		t.Errorf("Resolve = %+v, %v", c, err)
	}
	c, err = passkey.Config{RPID: "localhost", RPName: "X", Origins: []string{"http://localhost:1/"}}.Resolve("http://127.0.0.1:1")
	if err != nil || c.RPID != "localhost" || c.RPName != "X" || c.Origins[0] != "http://localhost:1" {
		t.Errorf("Resolve = %+v, %v", c, err)
	}
	if _, err := (passkey.Config{}).Resolve("http://127.0.0.1:8080"); err == nil || !strings.Contains(err.Error(), "rp-id") {
		t.Errorf("IP issuer: %v", err)
	}
	if _, err := (passkey.Config{}).Resolve("not a url"); err == nil {
		t.Error("bad issuer accepted")
	}
}

// TestCheckName: trimmed, bounded, no control characters.
func TestCheckName(t *testing.T) {
	for in, want := range map[string]string{"": passkey.DefaultName, "  a b ": "a b", "ключ 🔑": "ключ 🔑"} {
		if got, err := passkey.CheckName(in); err != nil || got != want {
			t.Errorf("CheckName(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{strings.Repeat("x", 65), "a\nb", "a\x00", "\xff"} {
		if _, err := passkey.CheckName(bad); !errors.Is(err, passkey.ErrRefused) {
			t.Errorf("CheckName(%q) accepted", bad)
		}
	}
}
