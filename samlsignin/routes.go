package samlsignin

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"gatehouse/api"
	"gatehouse/audit"
	"gatehouse/federation"
	"gatehouse/oauth"
	"gatehouse/samlsp"
	"gatehouse/storage"
)

// Routes are the SAML endpoints, all public. A zero Service gives the
// table for documentation.
func (s *Service) Routes() []api.Route {
	return []api.Route{
		{Method: http.MethodGet, Path: "/saml/{a}/{p}/metadata", Public: true, Handler: s.metadata,
			Summary: "SAML SP metadata of a saml provider (its URL is the SP entity ID)"},
		{Method: http.MethodGet, Path: "/saml/{a}/{p}/login", Public: true, Handler: s.login,
			Summary: "starts an SP-initiated SAML sign-in for the sign-in page's pending authorize request (redirect to the IdP)"},
		{Method: http.MethodPost, Path: "/saml/{a}/{p}/acs", Public: true, Handler: s.acs,
			Summary: "SAML assertion consumer service (HTTP-POST): validates the response, resolves the user, continues the authorize flow"},
	}
}

// buttonKey is the sign-in page's key of provider p of account a.
func buttonKey(a, p string) string { return "saml:" + a + "/" + p }

// Buttons implements oauth.ExternalMethods: one button per saml provider
// of account a.
func (s *Service) Buttons(ctx context.Context, a string) ([]oauth.ExternalButton, error) {
	if storage.ValidName(a) != nil {
		return nil, nil
	}
	var out []oauth.ExternalButton
	err := s.o.Store.Read(ctx, 0, func(v storage.View) error {
		v.Each(storage.Providers(a), func(name, value string) bool {
			rec, err := storage.DecodeProvider(value)
			if err != nil || rec.Type != storage.ProviderSAML {
				return true
			}
			label := rec.Description
			if label == "" {
				label = name
			}
			out = append(out, oauth.ExternalButton{Key: buttonKey(a, name), Label: "Sign in with " + label})
			return true
		})
		return nil
	})
	return out, err
}

// StartURL implements oauth.ExternalMethods.
func (s *Service) StartURL(ctx context.Context, key string) (string, bool) {
	a, p, ok := splitKey(key)
	if !ok {
		return "", false
	}
	if _, _, err := s.provider(ctx, a, p); err != nil {
		return "", false
	}
	return "/saml/" + a + "/" + p + "/login", true
}

func splitKey(key string) (a, p string, ok bool) {
	rest, ok := strings.CutPrefix(key, "saml:")
	if !ok {
		return "", "", false
	}
	a, p, ok = strings.Cut(rest, "/")
	return a, p, ok && storage.ValidName(a) == nil && storage.ValidName(p) == nil
}

// metadata is GET /saml/{a}/{p}/metadata.
func (s *Service) metadata(req *api.Request) error {
	a, p := req.Vars.Get("a"), req.Vars.Get("p")
	sp, _, err := s.sp(req.R.Context(), a, p)
	if err != nil {
		return s.spError(req, err)
	}
	md, err := sp.Metadata()
	if err != nil {
		return err
	}
	h := req.W.Header()
	h.Set("Content-Type", "application/samlmetadata+xml")
	h.Set("Cache-Control", "public, max-age=300")
	req.Status = http.StatusOK
	_, _ = req.W.Write(md)
	return nil
}

// spError answers a request for a provider whose SP is not available.
func (s *Service) spError(req *api.Request, err error) error {
	if errors.Is(err, errNoProvider) {
		return &api.Problem{Status: http.StatusNotFound, Detail: "no SAML provider " + req.Vars.Get("p") + " in account " + req.Vars.Get("a")}
	}
	s.o.Logger.Warn("SAML provider not usable", "account", req.Vars.Get("a"), "provider", req.Vars.Get("p"), "err", err)
	return &api.Problem{Status: http.StatusServiceUnavailable, Detail: "the SAML provider's metadata is not usable; see the server log"}
}

// login is GET /saml/{a}/{p}/login?pending=…: the AuthnRequest, its id
// kept under a random state sent as RelayState.
func (s *Service) login(req *api.Request) error {
	ctx := req.R.Context()
	a, p := req.Vars.Get("a"), req.Vars.Get("p")
	pending := req.R.URL.Query().Get("pending")
	if key, ok := s.o.OAuth.PendingKey(pending); !ok || key != buttonKey(a, p) {
		return oauth.ErrorPage(req, http.StatusBadRequest,
			"This sign-in link has expired or is not valid. Go back to the application and start again.")
	}
	sp, _, err := s.sp(ctx, a, p)
	if err != nil {
		if errors.Is(err, errNoProvider) {
			return oauth.ErrorPage(req, http.StatusNotFound, "That sign-in provider does not exist (any more).")
		}
		s.o.Logger.Warn("SAML provider not usable", "account", a, "provider", p, "err", err)
		return oauth.ErrorPage(req, http.StatusServiceUnavailable, "The sign-in provider cannot be reached now. Try again later.")
	}
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	relay := base64.RawURLEncoding.EncodeToString(raw[:])
	redirect, requestID, err := sp.AuthnRequest(relay)
	if err != nil {
		s.o.Logger.Warn("SAML AuthnRequest failed", "account", a, "provider", p, "err", err)
		return oauth.ErrorPage(req, http.StatusServiceUnavailable, "The sign-in provider cannot be used now. Try again later.")
	}
	st := state{Account: a, Provider: p, RequestID: requestID, Pending: pending}
	if err := s.o.Store.CreateToken(ctx, kindState, relay, st.encode(), StateLifetime); err != nil {
		return err
	}
	h := req.W.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	req.Status = http.StatusSeeOther
	http.Redirect(req.W, req.R, redirect, http.StatusSeeOther)
	return nil
}

// isState reports whether relay has the shape of a state (43 base64url
// characters).
func isState(relay string) bool {
	if len(relay) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(relay)
	return err == nil
}

// acs is POST /saml/{a}/{p}/acs.
func (s *Service) acs(req *api.Request) error {
	ctx := req.R.Context()
	a, p := req.Vars.Get("a"), req.Vars.Get("p")
	req.R.Body = http.MaxBytesReader(req.W, req.R.Body, samlsp.MaxFormBytes)
	if err := req.R.ParseForm(); err != nil {
		return s.refuse(req, "", "saml: unreadable form", http.StatusBadRequest, "The sign-in response could not be read.")
	}
	sp, rec, err := s.sp(ctx, a, p)
	if err != nil {
		if errors.Is(err, errNoProvider) {
			return oauth.ErrorPage(req, http.StatusNotFound, "That sign-in provider does not exist (any more).")
		}
		s.o.Logger.Warn("SAML provider not usable", "account", a, "provider", p, "err", err)
		return oauth.ErrorPage(req, http.StatusServiceUnavailable, "The sign-in provider cannot be used now. Try again later.")
	}
	relay := req.R.PostForm.Get("RelayState")
	var (
		ids     []string
		pending string
	)
	if isState(relay) {
		b, err := s.o.Store.TakeToken(ctx, kindState, relay)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			return s.refuse(req, "", "saml: unknown or expired state", http.StatusForbidden,
				"This sign-in has expired or was already used. Go back to the application and start again.")
		case err != nil:
			return err
		}
		var st state
		if json.Unmarshal(b, &st) != nil || st.Account != a || st.Provider != p || st.RequestID == "" {
			return s.refuse(req, "", "saml: state of another provider", http.StatusForbidden,
				"This sign-in response does not belong here. Go back to the application and start again.")
		}
		ids, pending = []string{st.RequestID}, st.Pending
		relay = ""
	}
	id, err := sp.ParseResponse(ctx, req.R, ids)
	if err != nil {
		s.o.Logger.Info("SAML response refused", "account", a, "provider", p, "err", err)
		detail := "saml: invalid response"
		if errors.Is(err, samlsp.ErrReplay) {
			detail = "saml: replayed assertion"
		} else if !errors.Is(err, samlsp.ErrInvalidResponse) {
			detail = "saml: replay guard failed"
		}
		return s.refuse(req, "", detail, http.StatusForbidden,
			"The identity provider's answer could not be accepted. Go back to the application and start again.")
	}
	res, err := federation.ResolveWith(ctx, s.o.Store, federation.Identity{Type: federation.TypeSAML, Account: a,
		Provider: p, Subject: id.Subject, Attributes: attributes(id)}, federation.Options{Now: s.o.Now})
	switch {
	case errors.Is(err, federation.ErrNoRule):
		return s.refuse(req, "", "saml: no rule", http.StatusForbidden,
			"Your identity provider signed you in, but no rule of this account admits you. Ask your administrator for access.")
	case errors.Is(err, federation.ErrNameClash):
		return s.refuse(req, "", "saml: name clash", http.StatusForbidden,
			"Your identity provider signed you in, but a local user of your name exists and is not linked to you. Ask your administrator.")
	case errors.Is(err, federation.ErrInvalidIdentity):
		s.o.Logger.Info("SAML identity refused", "account", a, "provider", p, "err", err)
		return s.refuse(req, "", "saml: invalid identity", http.StatusForbidden,
			"Your identity provider's answer lacks a usable user name. Ask your administrator.")
	case err != nil:
		return err
	}
	s.audit(req, res.Account+`\`+res.User, audit.Success, "saml "+a+"/"+p)
	h := req.W.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	if pending != "" {
		next, err := s.o.OAuth.CompleteExternal(ctx, pending, res.Account, res.User)
		if errors.Is(err, oauth.ErrPendingExpired) {
			return oauth.ErrorPage(req, http.StatusForbidden, "The sign-in has expired. Go back to the application and start again.")
		}
		if err != nil {
			return err
		}
		req.Status = http.StatusSeeOther
		http.Redirect(req.W, req.R, next, http.StatusSeeOther)
		return nil
	}
	// IdP-initiated: RelayState only when it is a registered redirect URI.
	target := rec.LandingURL
	if relay != "" && s.registeredRedirect(ctx, relay) {
		target = relay
	}
	if target == "" {
		return oauth.ErrorPage(req, http.StatusOK,
			"You are signed in as "+res.Account+`\`+res.User+". Open your application to continue.")
	}
	req.Status = http.StatusSeeOther
	http.Redirect(req.W, req.R, target, http.StatusSeeOther)
	return nil
}

// attributes are the identity's attributes for federation: the raw ones
// and the mapped names.
func attributes(id samlsp.Identity) map[string][]string {
	out := make(map[string][]string, len(id.Attributes)+4)
	for k, v := range id.Attributes {
		out[k] = v
	}
	set := func(name, value string) {
		if value != "" {
			out[name] = []string{value}
		}
	}
	set(federation.AttrName, id.Name)
	set(federation.AttrEmail, id.Email)
	set(federation.AttrFullName, id.FullName)
	if len(id.Groups) > 0 {
		out[federation.AttrGroups] = id.Groups
	}
	return out
}

// refuse audits a refused sign-in and shows the error page.
func (s *Service) refuse(req *api.Request, name, detail string, status int, msg string) error {
	s.audit(req, name, audit.Failure, detail)
	return oauth.ErrorPage(req, status, msg)
}

// audit queues the sign-in entry of the request (the provider's account
// when the entry names no user).
func (s *Service) audit(req *api.Request, name, outcome, detail string) {
	srv := req.Server
	if srv == nil || srv.Audit == nil {
		return
	}
	e := audit.SignInEntry(audit.Request{Path: req.R.URL.Path, Address: srv.ClientAddr(req.R),
		Time: srv.Now().UnixNano()}, name, outcome, detail)
	if e.Account == "" {
		e.Account = req.Vars.Get("a")
	}
	srv.Audit.Record(e)
}
