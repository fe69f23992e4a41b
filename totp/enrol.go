package totp

import (
	"context"
	"errors"
	"time"

	"gatehouse/storage"
)

// Issuer is the otpauth:// issuer of gatehouse's enrolments.
const Issuer = "gatehouse"

// ErrNotPending is Confirm's error when the user has no pending
// enrolment (none, or the TOTP is already enabled).
var ErrNotPending = errors.New("totp: no enrolment is pending")

// Enroller runs a user's TOTP enrolment over the store: the one
// implementation behind the XML API (/auth/v2/me/totp) and the
// self-service page. The request's context is used for the record's own
// writes (so they carry the request's audit entry and checks); server
// keys and the replay guard's time-step claim are written on a context
// without its values (detached), as in Step.
type Enroller struct {
	Store *storage.Store
	Now   func() time.Time // nil: time.Now
}

func (e Enroller) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// serverKey is server key name, read (or created) on a detached context.
func (e Enroller) serverKey(ctx context.Context, name string) ([]byte, error) {
	var key []byte
	err := detached(ctx, func(dctx context.Context) error {
		var err error
		key, err = e.Store.ServerKey(dctx, name)
		return err
	})
	return key, err
}

// Start draws a new secret for user of account and stores it sealed as
// the pending enrolment (replacing a pending one). The Enrolment (secret,
// URI, QR code) is for the answer to this request only: it is never
// shown again. rev is the write's revision. A user whose TOTP is enabled
// is storage.ErrConflict (an administrator resets it first); a missing
// user is storage.ErrNotFound.
func (e Enroller) Start(ctx context.Context, account, user string) (en Enrolment, rev int64, err error) {
	en, err = NewEnrolment(Issuer, account+`\`+user)
	if err != nil {
		return Enrolment{}, 0, err
	}
	key, err := e.serverKey(ctx, SecretKeyName)
	if err != nil {
		return Enrolment{}, 0, err
	}
	sealed, err := Seal(key, account, user, en.Secret)
	if err != nil {
		return Enrolment{}, 0, err
	}
	rev, err = e.Store.EnrolTOTP(ctx, account, user, sealed)
	if err != nil {
		return Enrolment{}, 0, err
	}
	return en, rev, nil
}

// pending reads the pending enrolment's sealed and open secret.
func (e Enroller) pending(ctx context.Context, account, user string) (sealed, secret string, err error) {
	var rec storage.TOTP
	var found bool
	if err := e.Store.Read(ctx, 0, func(v storage.View) error {
		rec, found = v.TOTP(account, user)
		return nil
	}); err != nil {
		return "", "", err
	}
	if !found || rec.Enabled || rec.Secret == "" {
		return "", "", ErrNotPending
	}
	key, err := e.serverKey(ctx, SecretKeyName)
	if err != nil {
		return "", "", err
	}
	secret, err = Open(key, account, user, rec.Secret)
	if err != nil {
		return "", "", err
	}
	return rec.Secret, secret, nil
}

// Pending rebuilds the pending enrolment's URI and QR code (not for
// showing its secret again); ErrNotPending when there is none.
func (e Enroller) Pending(ctx context.Context, account, user string) (Enrolment, error) {
	_, secret, err := e.pending(ctx, account, user)
	if err != nil {
		return Enrolment{}, err
	}
	return EnrolmentOf(Issuer, account+`\`+user, secret)
}

// Confirm enables the pending enrolment of user of account when code is
// its current code: the code is checked like a sign-in code (its time
// step is claimed, so it cannot also sign in), then the secret is
// enabled in a write guarded on that very secret. A wrong (or used) code
// is (false, nil) and the enrolment stays pending; no pending enrolment
// is ErrNotPending; a new enrolment meanwhile is storage.ErrConflict.
func (e Enroller) Confirm(ctx context.Context, account, user, code string) (bool, error) {
	sealed, secret, err := e.pending(ctx, account, user)
	if err != nil {
		return false, err
	}
	var ok bool
	if err := detached(ctx, func(dctx context.Context) error {
		var err error
		ok, err = Verify(dctx, TokenGuard{Tokens: e.Store}, account, user, secret, code, e.now())
		return err
	}); err != nil || !ok {
		return false, err
	}
	if _, err := e.Store.ConfirmTOTP(ctx, account, user, sealed); err != nil {
		return false, err
	}
	return true, nil
}
