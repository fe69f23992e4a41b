package samlsp

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/crewjam/saml"
)

const (
	// MaxFormBytes bounds the ACS request body.
	MaxFormBytes = 1 << 20
	// MaxResponseBytes bounds the decoded SAMLResponse.
	MaxResponseBytes = 512 << 10
)

// bearerMethod is the SubjectConfirmation Method of the web browser SSO
// profile.
const bearerMethod = "urn:oasis:names:tc:SAML:2.0:cm:bearer"

// Identity is what a verified assertion says about the user.
type Identity struct {
	// Subject is the NameID value; SubjectFormat its Format.
	Subject       string
	SubjectFormat string
	// SessionIndex is the IdP session of the first AuthnStatement.
	SessionIndex string
	// Attributes holds every attribute by its raw Name, values in order.
	Attributes map[string][]string
	// Name, Email, FullName and Groups come from the attributes that
	// Config.Mapping names; empty (nil) when the assertion lacks them.
	Name     string
	Email    string
	FullName string
	Groups   []string
}

// ParseResponse validates the Response the IdP posted to the ACS (HTTP-POST
// binding) and returns the Identity its assertion carries.
// possibleRequestIDs are the IDs of the AuthnRequests this browser may be
// answering (from AuthnRequest); with none, only an IdP-initiated response
// can be accepted, and only when Config.AllowIdPInitiated. Refusals wrap
// ErrInvalidResponse or ErrReplay; an error wrapping neither is a
// ReplayGuard failure (the sign-in is refused all the same). The
// RelayState stays in r.PostForm: deciding where it may lead (a registered
// redirect URI only) is the caller's job.
func (s *SP) ParseResponse(ctx context.Context, r *http.Request, possibleRequestIDs []string) (Identity, error) {
	if r.Method != http.MethodPost {
		return Identity{}, invalid(fmt.Errorf("method %s, want POST", r.Method))
	}
	if r.PostForm == nil {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(nil, r.Body, MaxFormBytes)
		}
		if err := r.ParseForm(); err != nil {
			return Identity{}, invalid(fmt.Errorf("form: %w", err))
		}
	}
	for _, field := range []string{"SAMLart", "SigAlg", "Signature"} {
		if r.PostForm.Has(field) {
			return Identity{}, invalid(fmt.Errorf("form field %s: only the HTTP-POST binding is accepted", field))
		}
	}
	raw, err := decodeResponse(r.PostForm.Get("SAMLResponse"))
	if err != nil {
		return Identity{}, invalid(err)
	}
	return s.parseXML(ctx, raw, possibleRequestIDs)
}

// decodeResponse decodes the SAMLResponse form value of outside input.
func decodeResponse(value string) ([]byte, error) {
	if value == "" {
		return nil, errors.New("no SAMLResponse")
	}
	// Line breaks inside the base64 are common (some IdPs wrap at 76).
	value = strings.Map(func(r rune) rune {
		switch r {
		case '\r', '\n', ' ', '\t':
			return -1
		}
		return r
	}, value)
	if base64.StdEncoding.DecodedLen(len(value)) > MaxResponseBytes+3 {
		return nil, fmt.Errorf("SAMLResponse over %d bytes", MaxResponseBytes)
	}
	raw, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		return nil, errors.New("SAMLResponse is not base64")
	}
	if len(raw) > MaxResponseBytes {
		return nil, fmt.Errorf("SAMLResponse over %d bytes", MaxResponseBytes)
	}
	return raw, nil
}

func (s *SP) parseXML(ctx context.Context, raw []byte, possibleRequestIDs []string) (Identity, error) {
	ids := make([]string, 0, len(possibleRequestIDs))
	for _, id := range possibleRequestIDs {
		if id != "" {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 && !s.allowIdPI {
		return Identity{}, invalid(errors.New("no pending request and IdP-initiated sign-in is not allowed"))
	}
	assertion, err := s.sp.ParseXMLResponse(raw, ids, s.acsURL)
	if err != nil {
		// crewjam's InvalidResponseError carries the whole response XML;
		// keep only its reason.
		var ire *saml.InvalidResponseError
		if errors.As(err, &ire) && ire.PrivateErr != nil {
			err = ire.PrivateErr
		}
		return Identity{}, invalid(err)
	}
	now := s.now()
	if err := s.checkTimes(assertion, now); err != nil {
		return Identity{}, invalid(err)
	}
	id, err := s.identity(assertion)
	if err != nil {
		return Identity{}, invalid(err)
	}
	if err := s.replay.Remember(ctx, assertion.ID, replayUntil(assertion)); err != nil {
		if errors.Is(err, ErrReplay) {
			return Identity{}, err
		}
		return Identity{}, fmt.Errorf("samlsp: remember assertion: %w", err)
	}
	return id, nil
}

// checkTimes applies ClockSkew to the time bounds of the verified
// assertion; crewjam has checked them with its own, wider skew.
func (s *SP) checkTimes(a *saml.Assertion, now time.Time) error {
	if a.IssueInstant.After(now.Add(ClockSkew)) {
		return fmt.Errorf("%w: assertion issued in the future", saml.ErrNotYetValid)
	}
	if c := a.Conditions; c != nil {
		if !c.NotBefore.IsZero() && now.Before(c.NotBefore.Add(-ClockSkew)) {
			return fmt.Errorf("%w: assertion not yet valid", saml.ErrNotYetValid)
		}
		if !c.NotOnOrAfter.IsZero() && !now.Before(c.NotOnOrAfter.Add(ClockSkew)) {
			return fmt.Errorf("%w: assertion expired", saml.ErrExpired)
		}
	}
	if a.Subject == nil {
		return errors.New("assertion has no subject")
	}
	for _, sc := range a.Subject.SubjectConfirmations {
		d := sc.SubjectConfirmationData
		if sc.Method != bearerMethod || d == nil || d.Recipient != s.acsURL.String() {
			continue
		}
		if !d.NotBefore.IsZero() && now.Before(d.NotBefore.Add(-ClockSkew)) {
			continue
		}
		if !now.Before(d.NotOnOrAfter.Add(ClockSkew)) {
			continue
		}
		return nil
	}
	return fmt.Errorf("%w: no bearer subject confirmation valid now", saml.ErrExpired)
}

// replayUntil is how long the assertion ID must be remembered: until the
// latest NotOnOrAfter plus ClockSkew, after which checkTimes refuses it.
func replayUntil(a *saml.Assertion) time.Time {
	var until time.Time
	if a.Conditions != nil && a.Conditions.NotOnOrAfter.After(until) {
		until = a.Conditions.NotOnOrAfter
	}
	if a.Subject != nil {
		for _, sc := range a.Subject.SubjectConfirmations {
			if d := sc.SubjectConfirmationData; d != nil && d.NotOnOrAfter.After(until) {
				until = d.NotOnOrAfter
			}
		}
	}
	if until.IsZero() {
		until = a.IssueInstant.Add(saml.MaxIssueDelay)
	}
	return until.Add(ClockSkew)
}

func (s *SP) identity(a *saml.Assertion) (Identity, error) {
	if a.ID == "" {
		return Identity{}, errors.New("assertion has no ID")
	}
	if a.Subject == nil || a.Subject.NameID == nil || a.Subject.NameID.Value == "" {
		return Identity{}, errors.New("assertion has no NameID")
	}
	id := Identity{
		Subject:       a.Subject.NameID.Value,
		SubjectFormat: a.Subject.NameID.Format,
		Attributes:    map[string][]string{},
	}
	if len(a.AuthnStatements) > 0 {
		id.SessionIndex = a.AuthnStatements[0].SessionIndex
	}
	friendly := map[string][]string{}
	for _, st := range a.AttributeStatements {
		for _, attr := range st.Attributes {
			if attr.Name == "" {
				continue
			}
			for _, v := range attr.Values {
				id.Attributes[attr.Name] = append(id.Attributes[attr.Name], v.Value)
				if attr.FriendlyName != "" {
					friendly[attr.FriendlyName] = append(friendly[attr.FriendlyName], v.Value)
				}
			}
		}
	}
	lookup := func(name string) []string {
		if name == "" {
			return nil
		}
		if v, ok := id.Attributes[name]; ok {
			return v
		}
		return friendly[name]
	}
	first := func(name string) string {
		if v := lookup(name); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	id.Name = first(s.mapping.Name)
	id.Email = first(s.mapping.Email)
	id.FullName = first(s.mapping.FullName)
	if g := lookup(s.mapping.Groups); len(g) > 0 {
		id.Groups = append([]string(nil), g...)
	}
	return id, nil
}

func invalid(err error) error {
	return fmt.Errorf("%w: %w", ErrInvalidResponse, err)
}
