package totp

import (
	"context"
	"encoding/base32"
	"errors"
	"strings"
	"time"

	otptotp "github.com/pquerna/otp/totp"

	"gatehouse/storage"
)

// Step is the second-factor sign-in step (an authn.Step, SPEC §3c) over
// the per-user record storage keeps (storage.TOTP, Store.EnrolTOTP …):
// it is required of a user whose TOTP is enabled, and its answer is the
// field "totp" (the sign-in page's field, the password grant's form
// field): either the current TOTP code, accepted once per user and time
// step (Verify with a TokenGuard over the store's tokens), or an unused
// backup code, consumed in a guarded write (Store.UseBackupCode) so it
// works once. HTTP Basic has no answers, so a user with a second factor
// is refused there; the refusal reason names the step, "the second
// factor step is missing or wrong".
//
// It lives here rather than in authn so that authn stays free of
// storage; instance wires it into the PasswordFlow.
type Step struct {
	Store *storage.Store
	Now   func() time.Time // nil: time.Now
}

// AnswerField is the answers key the step reads.
const AnswerField = "totp"

// StepName is the step's name, shown in the refusal reason.
const StepName = "second factor"

// MethodName is the step's method (authn.StepMethod): other second
// factors (passkeys) are further methods of the step StepName.
const MethodName = "totp"

// Name implements authn.Step.
func (s Step) Name() string { return StepName }

// Method implements authn.StepMethod.
func (s Step) Method() string { return MethodName }

// Required implements authn.Step: the user has an enabled TOTP.
func (s Step) Required(ctx context.Context, account, user string) (bool, error) {
	var on bool
	err := s.Store.Read(ctx, 0, func(v storage.View) error {
		on = v.TOTPEnabled(account, user)
		return nil
	})
	return on, err
}

// detached runs fn on a context that has ctx's cancellation but none of
// its values (a request's write checks or audit entry): the step's own
// writes (a time step claimed, a backup code consumed, a server key
// created on first use) are not the request's write.
func detached(ctx context.Context, fn func(ctx context.Context) error) error {
	dctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	return fn(dctx)
}

// Verify implements authn.Step: answers["totp"] is a valid TOTP code or
// an unused backup code (consumed). A missing or wrong answer is
// (false, nil).
func (s Step) Verify(ctx context.Context, account, user string, answers map[string]string) (bool, error) {
	code := strings.TrimSpace(answers[AnswerField])
	if code == "" || len(code) > 64 {
		return false, nil
	}
	var rec storage.TOTP
	var found bool
	if err := s.Store.Read(ctx, 0, func(v storage.View) error {
		rec, found = v.TOTP(account, user)
		return nil
	}); err != nil {
		return false, err
	}
	if !found {
		return false, nil
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	var ok bool
	err := detached(ctx, func(dctx context.Context) error {
		if isTOTPCode(code) {
			if !rec.Enabled || rec.Secret == "" {
				return nil
			}
			key, err := s.Store.ServerKey(dctx, SecretKeyName)
			if err != nil {
				return err
			}
			secret, err := Open(key, account, user, rec.Secret)
			if err != nil {
				return err
			}
			ok, err = Verify(dctx, TokenGuard{Tokens: s.Store}, account, user, secret, code, now())
			return err
		}
		if rec.BackupRemaining() == 0 {
			return nil
		}
		key, err := s.Store.ServerKey(dctx, BackupKeyName)
		if err != nil {
			return err
		}
		ok, err = s.Store.UseBackupCode(dctx, account, user, func(hashes []string) (int, bool) {
			return MatchBackupCode(key, hashes, code)
		})
		return err
	})
	return ok, err
}

// isTOTPCode reports whether code (spaces ignored) has the shape of a
// TOTP code: Digits digits. Anything else is tried as a backup code.
func isTOTPCode(code string) bool {
	n := 0
	for i := 0; i < len(code); i++ {
		switch c := code[i]; {
		case c == ' ':
		case c >= '0' && c <= '9':
			n++
		default:
			return false
		}
	}
	return n == Digits
}

// EnrolmentOf rebuilds the Enrolment (URI and QR code) of an existing
// secret, for showing the QR code of a pending enrolment again.
func EnrolmentOf(issuer, accountName, secret string) (Enrolment, error) {
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(secret))
	if err != nil {
		return Enrolment{}, errors.New("totp: the secret is not base32")
	}
	return enrolment(otptotp.GenerateOpts{Issuer: issuer, AccountName: accountName, Secret: raw})
}
