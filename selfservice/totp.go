package selfservice

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"strings"

	"gatehouse/api"
	"gatehouse/storage"
	"gatehouse/totp"
)

// The TOTP enrolment page: the user's TOTP state; a form that starts an
// enrolment, answered with the secret, its otpauth:// URI and QR code;
// a form that confirms it with a code. The enrolment is totp.Enroller,
// the same as the XML API's /auth/v2/me/totp.

const (
	totpPath        = "/auth/v2/me/totp/enrolment"
	totpConfirmPath = totpPath + "/confirmation"
	totpPageName    = "totp-enrolment" // the CSRF tokens' page
	totpTitle       = "Authenticator app (TOTP)"
)

var totpPage = newPage("totp.html")

// totpData is what templates/totp.html shows.
type totpData struct {
	Enabled   bool              // the TOTP is the user's second factor
	Pending   bool              // an enrolment waits for its confirmation
	Started   *startedEnrolment // the enrolment this very answer drew
	Confirmed bool              // this answer confirmed it
	Error     string
	Form      form
	// The forms' actions.
	StartPath, ConfirmPath string
}

// startedEnrolment is a new enrolment, shown once.
type startedEnrolment struct {
	Secret, URI string
	QR          template.URL // data:image/png;base64,…
}

func (p *Pages) enroller() totp.Enroller { return totp.Enroller{Store: p.Store, Now: p.Now} }

// totpState reads the signed-in user's state into d, with a fresh form.
func (p *Pages) totpState(req *api.Request, d *totpData) error {
	a, u := req.Principal.Account, req.Principal.User
	err := p.Store.Read(req.R.Context(), 0, func(v storage.View) error {
		rec, found := v.TOTP(a, u)
		d.Enabled = found && rec.Enabled && rec.Secret != ""
		d.Pending = found && !rec.Enabled && rec.Secret != ""
		return nil
	})
	if err != nil {
		return err
	}
	d.StartPath, d.ConfirmPath = totpPath, totpConfirmPath
	d.Form, err = p.form(req, totpPageName)
	return err
}

// showTOTP renders the page with the user's state and d's message.
func (p *Pages) showTOTP(req *api.Request, status int, d totpData) error {
	if err := p.totpState(req, &d); err != nil {
		return err
	}
	return p.render(req, totpPage, status, totpTitle, d)
}

const badForm = "The form has expired or was not sent from this page. Try again."

// getTOTP is GET: the state and the forms.
func (p *Pages) getTOTP(req *api.Request) error {
	return p.showTOTP(req, http.StatusOK, totpData{})
}

// startTOTP is POST: a new enrolment, shown once.
func (p *Pages) startTOTP(req *api.Request) error {
	ok, err := p.checkForm(req, totpPageName)
	if err != nil {
		return err
	}
	if !ok {
		return p.showTOTP(req, http.StatusBadRequest, totpData{Error: badForm})
	}
	e, _, err := p.enroller().Start(req.R.Context(), req.Principal.Account, req.Principal.User)
	switch {
	case errors.Is(err, storage.ErrConflict):
		return p.showTOTP(req, http.StatusConflict, totpData{Error: "Your authenticator app is already set up. " +
			"To set up another, an administrator must reset your second factor first."})
	case errors.Is(err, storage.ErrNotFound):
		return api.Problemf(http.StatusUnauthorized, "the signed-in user no longer exists")
	case err != nil:
		return err
	}
	return p.showTOTP(req, http.StatusOK, totpData{Started: &startedEnrolment{Secret: e.Secret, URI: e.URI,
		QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(e.PNG))}})
}

// confirmTOTP is POST …/confirmation: the code confirms the pending
// enrolment.
func (p *Pages) confirmTOTP(req *api.Request) error {
	ok, err := p.checkForm(req, totpPageName)
	if err != nil {
		return err
	}
	if !ok {
		return p.showTOTP(req, http.StatusBadRequest, totpData{Error: badForm})
	}
	code := strings.TrimSpace(req.R.PostForm.Get("code"))
	if code == "" {
		return p.showTOTP(req, http.StatusBadRequest, totpData{Error: "Enter the code your authenticator app shows."})
	}
	ok, err = p.enroller().Confirm(req.R.Context(), req.Principal.Account, req.Principal.User, code)
	switch {
	case errors.Is(err, totp.ErrNotPending):
		return p.showTOTP(req, http.StatusConflict, totpData{Error: "No enrolment is waiting for a code. Start one first."})
	case errors.Is(err, storage.ErrConflict):
		return p.showTOTP(req, http.StatusConflict, totpData{Error: "The enrolment changed meanwhile (another tab?). Confirm the newest one."})
	case err != nil:
		return err
	case !ok:
		return p.showTOTP(req, http.StatusBadRequest, totpData{Error: "The code is not correct, or was already used. " +
			"Enter the current code your authenticator app shows."})
	}
	return p.showTOTP(req, http.StatusOK, totpData{Confirmed: true})
}
