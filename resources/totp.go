package resources

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"gatehouse/storage"
	"gatehouse/totp"
)

// The second factor (SPEC §3c): a user's TOTP and backup codes. The
// record is storage's (storage.TOTP, one key the user owns); the
// primitives are package totp's; the enrolment itself is totp.Enroller
// (shared with the self-service page, package selfservice); the sign-in
// step is totp.Step.
//
// Decisions:
//   - POST /me/totp draws a new pending secret (replacing a pending one)
//     and shows it, its otpauth:// URI and a link to its QR code in the
//     201 answer only; a user whose TOTP is enabled gets 409 (reset it
//     first, DELETE …/users/{u}/totp). The QR code (image/png) is served
//     while the enrolment is pending, 404 otherwise.
//   - PUT /me/totp with <code> confirms: the code is checked like a
//     sign-in code (its time step is claimed), then the pending secret is
//     enabled in a write guarded on that very secret (a new enrolment
//     meanwhile is 409). A wrong code is 400.
//   - Backup codes can be drawn with or without a TOTP; they are only
//     asked for at sign-in when the TOTP is enabled. A new set replaces
//     the old; a reset removes both.
//   - The documents show <enabled> only (and, at /me, nothing else but
//     the one-time secret of the 201): the secret is never shown again.

func totpHref(a, u string) string { return path("accounts", a, "users", u, "totp") }

const (
	myTOTPHref   = meHref + "/totp"
	myBackupHref = meHref + "/backup-codes"
)

// totpNode shows user u's TOTP at href; e, when its secret is set, is
// the new enrolment (only the 201 answer passes it).
func (v *nb) totpNode(a, u, href string, e totp.Enrolment) *Entity {
	if e.Secret == "" {
		return v.totpLink(a, u, href, "")
	}
	return &Entity{Element: "totp", Href: href, Fields: func(f []Field) []Field {
		return append(f, Field{Name: "enabled", Text: strconv.FormatBool(v.TOTPEnabled(a, u)), Always: true},
			Field{Name: "secret", Text: e.Secret},
			Field{Name: "uri", Text: e.URI},
			Field{Node: &Entity{Element: "qr", Href: href + "/qr"}})
	}}
}

// totpLink shows user u's TOTP (enabled only) at href + tail: the user
// document passes its own href and "/totp", so that the link costs no
// string of its own (it is on the path of every user document).
func (v *nb) totpLink(a, u, href, tail string) *Entity {
	return &Entity{Element: "totp", Href: href, HrefTail: tail, Fields: func(f []Field) []Field {
		return append(f, Field{Name: "enabled", Text: boolText(v.TOTPEnabled(a, u)), Always: true})
	}}
}

// serverKey returns server key name on a context without the request's
// checks and audit entry (see clientSecretKey).
func (c *call) serverKey(name string) ([]byte, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := context.AfterFunc(c.r.Context(), cancel)
	defer stop()
	return c.s.Store.ServerKey(ctx, name)
}

// myTOTP reads the signed-in user's record (401 when the user is gone).
func (c *call) myTOTP(a, u string) (storage.TOTP, bool, error) {
	var rec storage.TOTP
	var found bool
	err := c.s.Store.Read(c.r.Context(), 0, func(v storage.View) error {
		if !v.HasItem(a, storage.KindUser, u) {
			return unauthorized("the signed-in user no longer exists")
		}
		rec, found = v.TOTP(a, u)
		return nil
	})
	return rec, found, err
}

var getMyTOTP = getMe(func(c *call, v *nb, a, u string) (Node, error) {
	return v.totpNode(a, u, myTOTPHref, totp.Enrolment{}), nil
})

// enroller is the shared TOTP enrolment (package totp).
func (c *call) enroller() totp.Enroller { return totp.Enroller{Store: c.s.Store, Now: c.s.Now} }

func postMyTOTP(c *call) error {
	a, u := c.asMe()
	if _, err := c.precheck(nil); err != nil {
		return err
	}
	if err := c.noBody(); err != nil {
		return err
	}
	e, rev, err := c.enroller().Start(c.r.Context(), a, u)
	if errors.Is(err, storage.ErrConflict) {
		return problem(http.StatusConflict, "the second factor of user %q is already enabled; it must be reset first", u)
	}
	if errors.Is(err, storage.ErrNotFound) {
		return unauthorized("the signed-in user no longer exists")
	}
	if err != nil {
		return err
	}
	c.w.Header().Set("Cache-Control", "no-store")
	return c.show(http.StatusCreated, rev, myTOTPHref, func(v *nb) (Node, error) {
		return v.totpNode(a, u, myTOTPHref, e), nil
	})
}

var totpSchema = Schema{Root: "totp", Text: []string{"code"}, Ignored: []string{"enabled"}}

func putMyTOTP(c *call) error {
	a, u := c.asMe()
	if _, err := c.precheck(nil); err != nil {
		return err
	}
	f, err := c.entity(totpSchema)
	if err != nil {
		return err
	}
	code := f.Text["code"]
	if code == "" {
		return problem(http.StatusBadRequest, "<code> is missing or empty")
	}
	if _, _, err := c.myTOTP(a, u); err != nil {
		return err
	}
	ok, err := c.enroller().Confirm(c.r.Context(), a, u, code)
	switch {
	case errors.Is(err, totp.ErrNotPending):
		return problem(http.StatusConflict, "no TOTP enrolment is pending: POST %s starts one", myTOTPHref)
	case errors.Is(err, storage.ErrConflict):
		return problem(http.StatusConflict, "the enrolment changed meanwhile: confirm the new one")
	case err != nil:
		return err
	case !ok:
		return problem(http.StatusBadRequest, "the code is wrong (or already used); the TOTP stays pending")
	}
	return c.noContent()
}

// getMyTOTPQR serves the QR code of a pending enrolment.
func getMyTOTPQR(c *call) error {
	a, u := c.asMe()
	if _, _, err := c.myTOTP(a, u); err != nil {
		return err
	}
	e, err := c.enroller().Pending(c.r.Context(), a, u)
	if errors.Is(err, totp.ErrNotPending) {
		return problem(http.StatusNotFound, "no TOTP enrolment is pending")
	}
	if err != nil {
		return err
	}
	h := c.w.Header()
	h.Set("Content-Type", "image/png")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(e.PNG)))
	c.status = http.StatusOK
	c.w.WriteHeader(http.StatusOK)
	if c.r.Method != http.MethodHead {
		_, _ = c.w.Write(e.PNG)
	}
	return nil
}

// backupCodesNode shows the remaining count, or the new codes (the 201
// answer only).
func (v *nb) backupCodesNode(a, u string, codes []string) *Entity {
	if codes != nil {
		return &Entity{Element: "backup-codes", Href: myBackupHref, Attrs: [][2]string{{"count", strconv.Itoa(len(codes))}},
			Fields: func(f []Field) []Field {
				for _, code := range codes {
					f = append(f, Field{Name: "code", Text: code})
				}
				return f
			}}
	}
	rec, _ := v.TOTP(a, u)
	return &Entity{Element: "backup-codes", Href: myBackupHref, Attrs: [][2]string{{"remaining", strconv.Itoa(rec.BackupRemaining())}}}
}

var getMyBackupCodes = getMe(func(c *call, v *nb, a, u string) (Node, error) {
	return v.backupCodesNode(a, u, nil), nil
})

func postMyBackupCodes(c *call) error {
	a, u := c.asMe()
	if _, err := c.precheck(nil); err != nil {
		return err
	}
	if err := c.noBody(); err != nil {
		return err
	}
	key, err := c.serverKey(totp.BackupKeyName)
	if err != nil {
		return err
	}
	codes, hashes, err := totp.NewBackupCodes(key, 0)
	if err != nil {
		return err
	}
	rev, err := c.s.Store.SetBackupCodes(c.r.Context(), a, u, hashes)
	if errors.Is(err, storage.ErrNotFound) {
		return unauthorized("the signed-in user no longer exists")
	}
	if err != nil {
		return err
	}
	c.w.Header().Set("Cache-Control", "no-store")
	return c.show(http.StatusCreated, rev, myBackupHref, func(v *nb) (Node, error) {
		return v.backupCodesNode(a, u, codes), nil
	})
}

var getUserTOTP = getUserPart(func(c *call, v *nb, a, u string) (Node, error) {
	return v.totpNode(a, u, totpHref(a, u), totp.Enrolment{}), nil
})

// deleteUserTOTP resets a user's second factor (TOTP and backup codes).
var deleteUserTOTP = resetUserPart(func(s *storage.Store, ctx context.Context, a, u string) error {
	_, err := s.ResetTOTP(ctx, a, u)
	return err
}, nil)
