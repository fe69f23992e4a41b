package totp

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// Enroller: start draws and stores a sealed pending secret; Pending
// rebuilds its URI; a wrong code leaves it pending; the right code
// enables it (and its step is claimed, as at sign-in); then Start is
// storage.ErrConflict and Confirm ErrNotPending; a missing user is
// storage.ErrNotFound.
func TestEnroller(t *testing.T) {
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
	now := time.Unix(1_800_000_000, 0)
	e := Enroller{Store: s, Now: func() time.Time { return now }}

	if _, err := e.Confirm(ctx, "ta", "u", "123456"); !errors.Is(err, ErrNotPending) {
		t.Fatalf("confirm with nothing pending: %v", err)
	}
	if _, err := e.Pending(ctx, "ta", "u"); !errors.Is(err, ErrNotPending) {
		t.Fatalf("pending with nothing pending: %v", err)
	}
	en, rev, err := e.Start(ctx, "ta", "u")
	if err != nil || rev == 0 || en.Secret == "" || len(en.PNG) == 0 || !strings.Contains(en.URI, "issuer="+Issuer) {
		t.Fatalf("start: %+v %d %v", en, rev, err)
	}
	var rec storage.TOTP
	_ = s.Read(ctx, 0, func(v storage.View) error { rec, _ = v.TOTP("ta", "u"); return nil })
	if rec.Enabled || rec.Secret == "" || strings.Contains(rec.Secret, en.Secret) {
		t.Fatalf("stored record %+v: want pending and sealed", rec)
	}
	again, err := e.Pending(ctx, "ta", "u")
	if err != nil || again.URI != en.URI {
		t.Fatalf("pending: %q %v, want %q", again.URI, err, en.URI)
	}
	code := func(at time.Time) string {
		c, err := hotp.GenerateCodeCustom(en.Secret, uint64(at.Unix()/int64(Period/time.Second)),
			hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	wrong := "000000"
	if wrong == code(now) || wrong == code(now.Add(-Period)) || wrong == code(now.Add(Period)) {
		wrong = "111111"
	}
	if ok, err := e.Confirm(ctx, "ta", "u", wrong); ok || err != nil {
		t.Fatalf("wrong code: %v %v", ok, err)
	}
	if ok, err := e.Confirm(ctx, "ta", "u", code(now)); !ok || err != nil {
		t.Fatalf("right code: %v %v", ok, err)
	}
	// The confirming code's step is taken: it does not sign in.
	if ok, _ := (Step{Store: s, Now: e.Now}).Verify(ctx, "ta", "u", map[string]string{AnswerField: code(now)}); ok {
		t.Error("the confirming code signs in too")
	}
	if ok, _ := (Step{Store: s, Now: e.Now}).Verify(ctx, "ta", "u", map[string]string{AnswerField: code(now.Add(Period))}); !ok {
		t.Error("the next code does not sign in")
	}
	if _, _, err := e.Start(ctx, "ta", "u"); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("start once enabled: %v", err)
	}
	if _, err := e.Confirm(ctx, "ta", "u", code(now)); !errors.Is(err, ErrNotPending) {
		t.Fatalf("confirm once enabled: %v", err)
	}
	if _, _, err := e.Start(ctx, "ta", "nobody"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("start for a missing user: %v", err)
	}
}
