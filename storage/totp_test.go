package storage_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// TestTOTPStore: enrol, confirm, backup codes used once (also under
// concurrent use), reset, and the record deleted with its user.
func TestTOTPStore(t *testing.T) {
	s := storagetest.Store(t)
	ctx := storagetest.Ctx(t)
	if _, err := s.Bootstrap(ctx, "h", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAccount(ctx, "ta", storage.Account{Parent: "system"}, []string{"*"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PutItem(ctx, "ta", storage.KindUser, "u", storage.CreateOnly,
		func(string, bool) (string, error) { return storage.User{Enabled: true}.Encode(), nil }, nil); err != nil {
		t.Fatal(err)
	}
	rec := func() (storage.TOTP, bool) {
		var r storage.TOTP
		var ok bool
		_ = s.Read(ctx, 0, func(v storage.View) error { r, ok = v.TOTP("ta", "u"); return nil })
		return r, ok
	}
	enabled := func() bool {
		var ok bool
		_ = s.Read(ctx, 0, func(v storage.View) error { ok = v.TOTPEnabled("ta", "u"); return nil })
		return ok
	}
	if _, err := s.EnrolTOTP(ctx, "ta", "nobody", "x"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("enrol a missing user: %v", err)
	}
	if _, err := s.ConfirmTOTP(ctx, "ta", "u", "s1"); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("confirm without enrolment: %v", err)
	}
	if _, err := s.EnrolTOTP(ctx, "ta", "u", "s1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnrolTOTP(ctx, "ta", "u", "s2"); err != nil {
		t.Fatal(err)
	}
	if enabled() {
		t.Error("pending TOTP reads as enabled")
	}
	if _, err := s.ConfirmTOTP(ctx, "ta", "u", "s1"); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("confirm a replaced secret: %v", err)
	}
	if _, err := s.ConfirmTOTP(ctx, "ta", "u", "s2"); err != nil {
		t.Fatal(err)
	}
	if !enabled() {
		t.Error("confirmed TOTP not enabled")
	}
	if _, err := s.EnrolTOTP(ctx, "ta", "u", "s3"); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("enrol over an enabled TOTP: %v", err)
	}
	if _, err := s.SetBackupCodes(ctx, "ta", "u", []string{"h0", "h1", "h2"}); err != nil {
		t.Fatal(err)
	}
	matchH1 := func(hs []string) (int, bool) {
		for i, h := range hs {
			if h == "h1" {
				return i, true
			}
		}
		return -1, false
	}
	// Eight concurrent uses of one code: exactly one consumes it.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.UseBackupCode(ctx, "ta", "u", matchH1)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("backup code consumed %d times, want 1", wins)
	}
	r, _ := rec()
	if r.Secret != "s2" || !r.Enabled || len(r.Backup) != 3 || r.Backup[1] != "" || r.BackupRemaining() != 2 {
		t.Errorf("record after use: %+v", r)
	}
	if _, err := s.ResetTOTP(ctx, "ta", "u"); err != nil {
		t.Fatal(err)
	}
	if _, ok := rec(); ok || enabled() {
		t.Error("record survives reset")
	}
	if _, err := s.EnrolTOTP(ctx, "ta", "u", "s4"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteItem(ctx, "ta", storage.KindUser, "u"); err != nil {
		t.Fatal(err)
	}
	var left bool
	_ = s.Read(ctx, 0, func(v storage.View) error { left = v.Has(storage.ItemKey("ta", storage.KindTOTP, "u")); return nil })
	if left {
		t.Error("TOTP record survives its user")
	}
}

func TestTOTPRecordRoundTrip(t *testing.T) {
	in := storage.TOTP{Secret: "sealed", Enabled: true, Backup: []string{"a", "", "c"}}
	out, err := storage.DecodeTOTP(in.Encode())
	if err != nil || out.Secret != in.Secret || !out.Enabled || len(out.Backup) != 3 || out.Backup[1] != "" {
		t.Errorf("round trip: %+v %v", out, err)
	}
}
