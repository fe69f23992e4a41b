package selfservice

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"gatehouse/api"
	"gatehouse/passkey"
	"gatehouse/storage"
)

// The passkey page: the signed-in user's passkeys, and a form that
// registers a new one. navigator.credentials.create must run on a page,
// so this page loads the passkey script (passkey.Script, served at
// passkeyScriptPath; the page's CSP allows scripts and their requests
// from this origin only). The ceremony is the same passkey.Service the
// XML API's /auth/v2/me/passkeys/registration uses:
//
//	GET  /auth/v2/me/passkeys/enrolment          auth:me:passkeys:read    the list and the form
//	POST /auth/v2/me/passkeys/enrolment/options  auth:me:passkeys:create  the form's nonce and CSRF token → the creation options JSON
//	POST /auth/v2/me/passkeys/enrolment          auth:me:passkeys:create  the form with the browser's response ("credential") and a name → the page, with the new passkey
//	GET  /auth/v2/me/passkeys/enrolment/script   auth:me:passkeys:read    the script
//
// Both posts are CSRF-checked like every form here (page name
// "passkey-enrolment"); a bad form is 400. Without a relying party the
// page lists the passkeys and says they cannot be added.

const (
	passkeysPath       = "/auth/v2/me/passkeys/enrolment"
	passkeyOptionsPath = passkeysPath + "/options"
	passkeyScriptPath  = passkeysPath + "/script"
	passkeysPageName   = "passkey-enrolment"
	passkeysTitle      = "Passkeys"
)

var passkeysPage = newPage("passkeys.html")

func (p *Pages) passkeyRoutes() []api.Route {
	return []api.Route{
		{Method: http.MethodGet, Path: passkeysPath, Permission: "auth:me:passkeys:read", Handler: p.getPasskeys,
			Summary: "self-service page (HTML): one's own passkeys, and the form that registers one"},
		{Method: http.MethodPost, Path: passkeysPath, Permission: "auth:me:passkeys:create", Handler: p.registerPasskey, FormCSRF: true,
			Summary: "self-service page (HTML form, CSRF-checked): register a passkey with the browser's response and a name"},
		{Method: http.MethodPost, Path: passkeyOptionsPath, Permission: "auth:me:passkeys:create", Handler: p.passkeyOptions, FormCSRF: true,
			Summary: "self-service page (CSRF-checked form → application/json): the creation options of a passkey registration"},
		{Method: http.MethodGet, Path: passkeyScriptPath, Permission: "auth:me:passkeys:read", Handler: servePasskeyScript,
			Summary: "self-service page: the passkey script (text/javascript)"},
	}
}

// passkeyRow is one passkey on the page.
type passkeyRow struct {
	ID, Name, Created, LastUsed string
}

// passkeysData is what templates/passkeys.html shows.
type passkeysData struct {
	Passkeys   []passkeyRow
	Available  bool   // a passkey can be added (there is a relying party)
	Registered string // the name of the passkey this answer registered
	Error      string
	Form       form
	// The form's action and its options route.
	RegisterPath, OptionsPath string
}

func dateText(t int64) string {
	if t == 0 {
		return "never"
	}
	return time.Unix(t, 0).UTC().Format("2006-01-02 15:04 UTC")
}

// showPasskeys renders the page with the user's passkeys and d's message.
func (p *Pages) showPasskeys(req *api.Request, status int, d passkeysData) error {
	a, u := req.Principal.Account, req.Principal.User
	d.Passkeys = nil
	err := p.Store.Read(req.R.Context(), 0, func(v storage.View) error {
		for _, id := range v.PasskeyIDs(a, u) {
			if pk, ok := v.Passkey(a, u, id); ok {
				d.Passkeys = append(d.Passkeys, passkeyRow{ID: id, Name: pk.Name, Created: dateText(pk.Created),
					LastUsed: dateText(pk.LastUsed)})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	d.Available = p.Passkeys != nil
	d.RegisterPath, d.OptionsPath = passkeysPath, passkeyOptionsPath
	if d.Form, err = p.form(req, passkeysPageName); err != nil {
		return err
	}
	return p.renderScript(req, passkeysPage, status, passkeysTitle, d, passkeyScriptPath)
}

func (p *Pages) getPasskeys(req *api.Request) error {
	return p.showPasskeys(req, http.StatusOK, passkeysData{})
}

// passkeyOptions begins a registration for the page's script.
func (p *Pages) passkeyOptions(req *api.Request) error {
	ok, err := p.checkForm(req, passkeysPageName)
	if err != nil {
		return err
	}
	if !ok {
		return api.Problemf(http.StatusBadRequest, "the form has expired or was not sent from the passkey page")
	}
	if p.Passkeys == nil {
		return api.Problemf(http.StatusNotFound, "passkeys are not available on this server: set auth.passkeys.rp-id")
	}
	opts, err := p.Passkeys.BeginRegistration(req.R.Context(), req.Principal.Account, req.Principal.User)
	if errors.Is(err, storage.ErrNotFound) {
		return api.Problemf(http.StatusUnauthorized, "the signed-in user no longer exists")
	}
	if err != nil {
		return err
	}
	h := req.W.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(opts)))
	req.Status = http.StatusOK
	req.W.WriteHeader(http.StatusOK)
	_, _ = req.W.Write(opts)
	return nil
}

// registerPasskey finishes a registration with the form's response.
func (p *Pages) registerPasskey(req *api.Request) error {
	ok, err := p.checkForm(req, passkeysPageName)
	if err != nil {
		return err
	}
	if !ok {
		return p.showPasskeys(req, http.StatusBadRequest, passkeysData{Error: badForm})
	}
	if p.Passkeys == nil {
		return p.showPasskeys(req, http.StatusNotFound, passkeysData{Error: "Passkeys are not available on this server."})
	}
	cred := strings.TrimSpace(req.R.PostForm.Get("credential"))
	if cred == "" {
		return p.showPasskeys(req, http.StatusBadRequest, passkeysData{Error: "Press “Add a passkey” and follow your browser."})
	}
	reg, err := p.Passkeys.FinishRegistrationNamed(req.R.Context(), req.Principal.Account, req.Principal.User,
		[]byte(cred), req.R.PostForm.Get("name"))
	switch {
	case errors.Is(err, passkey.ErrRefused):
		return p.showPasskeys(req, http.StatusBadRequest, passkeysData{Error: "The passkey could not be registered: " +
			strings.TrimPrefix(err.Error(), passkey.ErrRefused.Error()+": ") + ". Try again."})
	case errors.Is(err, passkey.ErrRegistered):
		return p.showPasskeys(req, http.StatusConflict, passkeysData{Error: "This passkey is already registered."})
	case errors.Is(err, storage.ErrNotFound):
		return api.Problemf(http.StatusUnauthorized, "the signed-in user no longer exists")
	case err != nil:
		return err
	}
	var name string
	_ = p.Store.Read(req.R.Context(), reg.Rev, func(v storage.View) error {
		pk, _ := v.Passkey(req.Principal.Account, req.Principal.User, reg.ID)
		name = pk.Name
		return nil
	})
	return p.showPasskeys(req, http.StatusOK, passkeysData{Registered: name})
}

func servePasskeyScript(req *api.Request) error {
	req.Status = http.StatusOK
	passkey.ServeScript(req.W, req.R)
	return nil
}
