package storage

import (
	"context"
	"fmt"
	"strings"
)

// A user's second factor (SPEC §3c) is one single key the user owns,
// ItemKey(a, KindTOTP, u), deleted with the user (singles). It holds the
// TOTP secret sealed by the caller (package totp's Seal, under the server
// key totp.SecretKeyName; storage never sees it in the clear), whether
// the secret is confirmed (enabled) or still pending, and the backup-code
// hashes (totp.NewBackupCodes); a used code's hash is blanked in place,
// so the count of the set and the remaining codes both show.
//
// Every write is a guarded transaction on the user's key and on the
// record's own key: a write racing another (a confirm against a new
// enrolment, two sign-ins using one backup code) rebuilds on the newer
// record, so a backup code is consumed at most once and a confirmation
// never enables a secret other than the one it checked.

// TOTP is the stored second factor of a user.
type TOTP struct {
	Secret  string   // sealed; "" when no TOTP was enrolled
	Enabled bool     // the secret was confirmed with a code
	Backup  []string // backup-code hashes; "" for a used code
}

// Encode returns the compact stored form.
func (r TOTP) Encode() string {
	return encodeFields(fields{r.Secret, flag(r.Enabled), strings.Join(r.Backup, ",")})
}

// DecodeTOTP reads a TOTP record.
func DecodeTOTP(v string) (TOTP, error) {
	var f [3]string
	if err := decodeFields(v, f[:]); err != nil {
		return TOTP{}, err
	}
	r := TOTP{Secret: f[0], Enabled: f[1] != ""}
	if f[2] != "" {
		r.Backup = strings.Split(f[2], ",")
	}
	return r, nil
}

// BackupRemaining is the number of unused backup codes.
func (r TOTP) BackupRemaining() int {
	n := 0
	for _, h := range r.Backup {
		if h != "" {
			n++
		}
	}
	return n
}

// TOTP returns user u's second-factor record.
func (v View) TOTP(a, u string) (TOTP, bool) {
	val, ok := v.getItem(a, KindTOTP, u)
	if !ok {
		return TOTP{}, false
	}
	r, err := DecodeTOTP(val)
	return r, err == nil
}

// TOTPEnabled reports whether user u has a confirmed TOTP secret.
func (v View) TOTPEnabled(a, u string) bool {
	r, ok := v.TOTP(a, u)
	return ok && r.Enabled && r.Secret != ""
}

// updateTOTP rewrites user u's record with change, guarded on the user
// and on the record. change returns false to write nothing.
func (s *Store) updateTOTP(ctx context.Context, a, u string, change func(r *TOTP, found bool) (bool, error)) (int64, error) {
	key := ItemKey(a, KindTOTP, u)
	return s.Update(ctx, func(v View, t *Txn) error {
		if err := expectItem(v, t, a, KindUser, u); err != nil {
			return err
		}
		r, found := v.TOTP(a, u)
		write, err := change(&r, found)
		if err != nil || !write {
			return err
		}
		t.Expect(key)
		t.Put(key, r.Encode())
		return nil
	})
}

// EnrolTOTP stores sealed as user u's pending secret, replacing a
// pending one and keeping the backup codes. A user whose TOTP is enabled
// is ErrConflict: it must be reset first.
func (s *Store) EnrolTOTP(ctx context.Context, a, u, sealed string) (int64, error) {
	return s.updateTOTP(ctx, a, u, func(r *TOTP, _ bool) (bool, error) {
		if r.Enabled {
			return false, fmt.Errorf("TOTP of user %q is already enabled: %w", u, ErrConflict)
		}
		r.Secret = sealed
		return true, nil
	})
}

// ConfirmTOTP enables user u's pending secret, which must still be
// sealed (the one the caller checked the code against): another
// enrolment meanwhile, or none pending, is ErrConflict.
func (s *Store) ConfirmTOTP(ctx context.Context, a, u, sealed string) (int64, error) {
	return s.updateTOTP(ctx, a, u, func(r *TOTP, found bool) (bool, error) {
		if !found || r.Enabled || r.Secret == "" || r.Secret != sealed {
			return false, fmt.Errorf("no pending TOTP enrolment of user %q: %w", u, ErrConflict)
		}
		r.Enabled = true
		return true, nil
	})
}

// SetBackupCodes replaces user u's backup codes with hashes.
func (s *Store) SetBackupCodes(ctx context.Context, a, u string, hashes []string) (int64, error) {
	return s.updateTOTP(ctx, a, u, func(r *TOTP, _ bool) (bool, error) {
		r.Backup = append([]string(nil), hashes...)
		return true, nil
	})
}

// UseBackupCode consumes one of user u's backup codes: match returns
// the index of the hash the code matches. The write is guarded on the
// record, so a code is consumed at most once: a racing use rebuilds on
// the newer record, where the hash is blank and no longer matches. It
// reports whether a code was consumed; a missing user is (false, nil).
func (s *Store) UseBackupCode(ctx context.Context, a, u string, match func(hashes []string) (int, bool)) (bool, error) {
	key := ItemKey(a, KindTOTP, u)
	var used bool
	_, err := s.Update(ctx, func(v View, t *Txn) error {
		used = false
		r, ok := v.TOTP(a, u)
		if !ok || !v.HasItem(a, KindUser, u) {
			return nil
		}
		i, ok := match(r.Backup)
		if !ok || i < 0 || i >= len(r.Backup) || r.Backup[i] == "" {
			return nil
		}
		r.Backup = append([]string(nil), r.Backup...)
		r.Backup[i] = ""
		t.Expect(key)
		t.Put(key, r.Encode())
		used = true
		return nil
	})
	if err != nil {
		return false, err
	}
	return used, nil
}

// ResetTOTP removes user u's second factor: the secret and the backup
// codes. Nothing to remove is no error.
func (s *Store) ResetTOTP(ctx context.Context, a, u string) (int64, error) {
	key := ItemKey(a, KindTOTP, u)
	return s.Update(ctx, func(v View, t *Txn) error {
		if err := expectItem(v, t, a, KindUser, u); err != nil {
			return err
		}
		if !v.Has(key) {
			return nil
		}
		t.Expect(key)
		t.Delete(key)
		return nil
	})
}
