package passkey

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"gatehouse/storage"
)

// ErrRefused wraps every failure the client caused: a malformed
// response, an unknown, expired or used ceremony, a failed verification,
// an unknown credential, a disabled user, a counter that did not advance.
var ErrRefused = errors.New("passkey refused")

// ErrRegistered is returned by FinishRegistration when the credential is
// already registered (to this user or another).
var ErrRegistered = errors.New("passkey already registered")

// CeremonyTTL is how long a begun ceremony can be finished.
const CeremonyTTL = 5 * time.Minute

// Token kinds of the ceremonies (storage tokens).
const (
	tokenRegistration = "passkey-reg"
	tokenLogin        = "passkey-login"
)

// Config is the relying party as auth.passkeys.* gives it.
type Config struct {
	RPID    string
	RPName  string
	Origins []string
}

// Resolve fills what the configuration left empty from the OAuth issuer
// (an absolute http(s) URL): the RP ID is its host, the origins its
// origin; the name defaults to "Gatehouse". It fails when the RP ID
// would be an IP address, which WebAuthn refuses.
func (c Config) Resolve(issuer string) (Config, error) {
	out := Config{RPID: c.RPID, RPName: c.RPName, Origins: append([]string(nil), c.Origins...)}
	if out.RPName == "" {
		out.RPName = "Gatehouse"
	}
	if out.RPID == "" || len(out.Origins) == 0 {
		u, err := url.Parse(issuer)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Config{}, fmt.Errorf("the OAuth issuer %q is not an http(s) URL to take the passkey relying party from", issuer)
		}
		if out.RPID == "" {
			out.RPID = u.Hostname()
		}
		if len(out.Origins) == 0 {
			out.Origins = []string{u.Scheme + "://" + u.Host}
		}
	}
	for i, o := range out.Origins {
		out.Origins[i] = strings.TrimSuffix(o, "/")
	}
	if net.ParseIP(out.RPID) != nil {
		return Config{}, fmt.Errorf("the passkey relying party ID %q is an IP address, which WebAuthn refuses: set auth.passkeys.rp-id (and auth.passkeys.origins) to a host name", out.RPID)
	}
	return out, nil
}

// Service runs the ceremonies against the store.
type Service struct {
	store  *storage.Store
	wa     *webauthn.WebAuthn
	cfg    Config
	now    func() time.Time
	random io.Reader
}

// New builds the relying party for c (resolved: see Config.Resolve).
// now may be nil (time.Now).
func New(store *storage.Store, c Config, now func() time.Time) (*Service, error) {
	if now == nil {
		now = time.Now
	}
	yes := true
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          c.RPID,
		RPDisplayName: c.RPName,
		RPOrigins:     c.Origins,
		// Passkeys: discoverable credentials; user verification asked for
		// (required for a sign-in without the password, see BeginLogin).
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			RequireResidentKey: &yes,
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			UserVerification:   protocol.VerificationPreferred,
		},
		AttestationPreference: protocol.PreferNoAttestation,
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: CeremonyTTL, TimeoutUVD: CeremonyTTL},
			Registration: webauthn.TimeoutConfig{Timeout: CeremonyTTL, TimeoutUVD: CeremonyTTL},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("passkey relying party %q: %w", c.RPID, err)
	}
	return &Service{store: store, wa: wa, cfg: c, now: now, random: rand.Reader}, nil
}

// RPID is the relying party ID in use.
func (s *Service) RPID() string { return s.cfg.RPID }

// refused wraps a client failure.
func refused(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))
}

// user is a gatehouse user as go-webauthn sees it.
type user struct {
	account, name string
	handle        []byte
	display       string
	enabled       bool
	creds         []webauthn.Credential
	ids           []string // passkey ids, parallel to creds
}

var _ webauthn.User = (*user)(nil)

func (u *user) WebAuthnID() []byte                         { return u.handle }
func (u *user) WebAuthnName() string                       { return u.account + `\` + u.name }
func (u *user) WebAuthnDisplayName() string                { return u.display }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// loadUser reads user u of account a with its handle and passkeys; ok
// is false when the user does not exist.
func loadUser(v storage.View, a, u string) (*user, bool) {
	rec, ok := v.User(a, u)
	if !ok {
		return nil, false
	}
	out := &user{account: a, name: u, enabled: rec.Enabled, display: rec.FullName}
	if out.display == "" {
		out.display = out.WebAuthnName()
	}
	out.handle, _ = v.PasskeyHandle(a, u)
	for _, id := range v.PasskeyIDs(a, u) {
		if p, ok := v.Passkey(a, u, id); ok {
			out.creds = append(out.creds, credentialOf(p))
			out.ids = append(out.ids, id)
		}
	}
	return out, true
}

func (s *Service) readUser(ctx context.Context, a, u string) (*user, error) {
	var out *user
	var ok bool
	err := s.store.Read(ctx, 0, func(v storage.View) error {
		out, ok = loadUser(v, a, u)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("user %q in account %q: %w", u, a, storage.ErrNotFound)
	}
	return out, nil
}

// credentialOf is the go-webauthn credential of a stored passkey.
func credentialOf(p storage.Passkey) webauthn.Credential {
	transports := make([]protocol.AuthenticatorTransport, len(p.Transports))
	for i, t := range p.Transports {
		transports[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{
		ID:              p.CredentialID,
		PublicKey:       p.PublicKey,
		AttestationType: p.AttestationType,
		Transport:       transports,
		Flags: webauthn.CredentialFlags{UserPresent: p.Flags.UserPresent, UserVerified: p.Flags.UserVerified,
			BackupEligible: p.Flags.BackupEligible, BackupState: p.Flags.BackupState},
		Authenticator: webauthn.Authenticator{AAGUID: p.AAGUID, SignCount: p.SignCount,
			Attachment: protocol.AuthenticatorAttachment(p.Attachment)},
	}
}

func flagsOf(f webauthn.CredentialFlags) storage.PasskeyFlags {
	return storage.PasskeyFlags{UserPresent: f.UserPresent, UserVerified: f.UserVerified,
		BackupEligible: f.BackupEligible, BackupState: f.BackupState}
}

// ceremony is what a begun ceremony stores under its challenge.
type ceremony struct {
	Account string               `json:"a,omitempty"`
	User    string               `json:"u,omitempty"`
	Bind    string               `json:"b,omitempty"`
	Session webauthn.SessionData `json:"s"`
}

// detached runs fn on a context with ctx's cancellation but none of its
// values: a ceremony's own writes (its token, a handle, the sign-in
// record) are not the request's write (no audit entry, no checks).
func detached(ctx context.Context, fn func(ctx context.Context) error) error {
	dctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	return fn(dctx)
}

func (s *Service) begin(ctx context.Context, kind string, c ceremony, options any) ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	if err := detached(ctx, func(ctx context.Context) error {
		return s.store.CreateToken(ctx, kind, c.Session.Challenge, b, CeremonyTTL)
	}); err != nil {
		return nil, err
	}
	return json.Marshal(options)
}

// take consumes the ceremony begun with challenge.
func (s *Service) take(ctx context.Context, kind, challenge string) (ceremony, error) {
	var b []byte
	err := detached(ctx, func(ctx context.Context) error {
		var err error
		b, err = s.store.TakeToken(ctx, kind, challenge)
		return err
	})
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalid) {
		return ceremony{}, refused("no such ceremony is pending (it expired, was used, or was never begun)")
	}
	if err != nil {
		return ceremony{}, err
	}
	var c ceremony
	if err := json.Unmarshal(b, &c); err != nil {
		return ceremony{}, fmt.Errorf("passkey ceremony record: %w", err)
	}
	return c, nil
}

// newHandle draws a user handle.
func (s *Service) newHandle() ([]byte, error) {
	h := make([]byte, 32)
	if _, err := io.ReadFull(s.random, h); err != nil {
		return nil, err
	}
	return h, nil
}

// BeginRegistration starts registering a passkey for user u of account
// a and returns the creation options JSON ({"publicKey": …}). A missing
// user is storage.ErrNotFound.
func (s *Service) BeginRegistration(ctx context.Context, a, u string) ([]byte, error) {
	usr, err := s.readUser(ctx, a, u)
	if err != nil {
		return nil, err
	}
	if len(usr.handle) == 0 {
		h, err := s.newHandle()
		if err != nil {
			return nil, err
		}
		if err := detached(ctx, func(ctx context.Context) error {
			usr.handle, err = s.store.EnsurePasskeyHandle(ctx, a, u, h)
			return err
		}); err != nil {
			return nil, err
		}
	}
	exclude := make([]protocol.CredentialDescriptor, len(usr.creds))
	for i, c := range usr.creds {
		exclude[i] = c.Descriptor()
	}
	creation, session, err := s.wa.BeginRegistration(usr, webauthn.WithExclusions(exclude))
	if err != nil {
		return nil, err
	}
	return s.begin(ctx, tokenRegistration, ceremony{Account: a, User: u, Session: *session}, creation)
}

// Registered is a passkey FinishRegistration stored.
type Registered struct {
	ID  string // the passkey's id (storage.PasskeyID)
	Rev int64  // the revision of the write
}

// FinishRegistration verifies the browser's registration response
// (body: the PublicKeyCredential JSON, with an optional "name") for the
// ceremony it answers, which must have been begun for user u of account
// a, and stores the passkey.
func (s *Service) FinishRegistration(ctx context.Context, a, u string, body []byte) (Registered, error) {
	reg, err := ParseRegistration(body)
	if err != nil {
		return Registered{}, err
	}
	return s.finishRegistration(ctx, a, u, reg)
}

// FinishRegistrationNamed is FinishRegistration with the passkey's name
// given apart from the response (a form's field; CheckName).
func (s *Service) FinishRegistrationNamed(ctx context.Context, a, u string, body []byte, name string) (Registered, error) {
	reg, err := ParseRegistration(body)
	if err != nil {
		return Registered{}, err
	}
	if reg.Name, err = CheckName(name); err != nil {
		return Registered{}, err
	}
	return s.finishRegistration(ctx, a, u, reg)
}

func (s *Service) finishRegistration(ctx context.Context, a, u string, reg Registration) (Registered, error) {
	c, err := s.take(ctx, tokenRegistration, reg.Credential.Response.CollectedClientData.Challenge)
	if err != nil {
		return Registered{}, err
	}
	if c.Account != a || c.User != u {
		return Registered{}, refused("the registration was begun by another user")
	}
	usr, err := s.readUser(ctx, a, u)
	if err != nil {
		return Registered{}, err
	}
	cred, err := s.wa.CreateCredential(usr, c.Session, reg.Credential)
	if err != nil {
		return Registered{}, refused("the registration response does not verify: %s", describe(err))
	}
	transports := make([]string, len(cred.Transport))
	for i, t := range cred.Transport {
		transports[i] = string(t)
	}
	p := storage.Passkey{CredentialID: cred.ID, PublicKey: cred.PublicKey, SignCount: cred.Authenticator.SignCount,
		AAGUID: cred.Authenticator.AAGUID, Transports: transports, Flags: flagsOf(cred.Flags),
		AttestationType: cred.AttestationType, Attachment: string(cred.Authenticator.Attachment),
		Name: reg.Name, Created: s.now().Unix()}
	id := storage.PasskeyID(cred.ID)
	rev, err := s.store.CreatePasskey(ctx, a, u, id, usr.handle, p)
	switch {
	case errors.Is(err, storage.ErrNameTaken):
		return Registered{}, fmt.Errorf("%w: %v", ErrRegistered, err)
	case errors.Is(err, storage.ErrConflict):
		return Registered{}, refused("the user changed during the registration: begin again")
	case err != nil:
		return Registered{}, err
	}
	return Registered{ID: id, Rev: rev}, nil
}

// describe is a go-webauthn error's message with its details.
func describe(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Details != "" {
		return pe.Details
	}
	return err.Error()
}

// BeginLogin starts a sign-in and returns the request options JSON
// ({"publicKey": …}). With a == "" it is a discoverable sign-in instead
// of the password (any user's passkey, user verification required);
// otherwise a second factor for user u of account a (its passkeys
// allowed; storage.ErrNotFound when the user is missing, ErrRefused when
// it has no passkey). bind, when not empty, must be given again to
// FinishLogin (the sign-in page's ticket).
func (s *Service) BeginLogin(ctx context.Context, a, u, bind string) ([]byte, error) {
	var assertion *protocol.CredentialAssertion
	var session *webauthn.SessionData
	var err error
	if a == "" {
		assertion, session, err = s.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	} else {
		var usr *user
		if usr, err = s.readUser(ctx, a, u); err != nil {
			return nil, err
		}
		if len(usr.creds) == 0 || len(usr.handle) == 0 {
			return nil, refused("user %q has no passkey", u)
		}
		assertion, session, err = s.wa.BeginLogin(usr, webauthn.WithUserVerification(protocol.VerificationPreferred))
	}
	if err != nil {
		return nil, err
	}
	return s.begin(ctx, tokenLogin, ceremony{Account: a, User: u, Bind: bind, Session: *session}, assertion)
}

// SignIn is a verified passkey sign-in.
type SignIn struct {
	Account, User string
	Passkey       string // the passkey's id
	UserVerified  bool   // the authenticator verified the user (PIN, biometrics)
}

// FinishLogin verifies the browser's assertion (body: the
// PublicKeyCredential JSON) for the ceremony it answers, which must have
// been begun with the same a, u (both "" for a discoverable sign-in) and
// bind. The user must exist and be enabled. It records the use on the
// passkey (counter, flags, time).
func (s *Service) FinishLogin(ctx context.Context, a, u, bind string, body []byte) (SignIn, error) {
	parsed, err := ParseAssertion(body)
	if err != nil {
		return SignIn{}, err
	}
	c, err := s.take(ctx, tokenLogin, parsed.Response.CollectedClientData.Challenge)
	if err != nil {
		return SignIn{}, err
	}
	if c.Account != a || c.User != u || subtle.ConstantTimeCompare([]byte(c.Bind), []byte(bind)) != 1 {
		return SignIn{}, refused("the sign-in ceremony was begun for another sign-in")
	}
	var usr *user
	var cred *webauthn.Credential
	if a == "" {
		var lookupErr error
		handler := func(rawID, handle []byte) (webauthn.User, error) {
			var found *user
			lookupErr = s.store.Read(ctx, 0, func(v storage.View) error {
				oa, ou, _, ok := v.PasskeyOwner(storage.PasskeyID(rawID))
				if !ok {
					return nil
				}
				found, _ = loadUser(v, oa, ou)
				return nil
			})
			if lookupErr != nil {
				return nil, lookupErr
			}
			if found == nil || len(found.handle) == 0 || subtle.ConstantTimeCompare(found.handle, handle) != 1 {
				return nil, errors.New("unknown credential")
			}
			usr = found
			return found, nil
		}
		_, cred, err = s.wa.ValidatePasskeyLogin(handler, c.Session, parsed)
		if lookupErr != nil {
			return SignIn{}, lookupErr
		}
	} else {
		if usr, err = s.readUser(ctx, a, u); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return SignIn{}, refused("user %q does not exist", u)
			}
			return SignIn{}, err
		}
		cred, err = s.wa.ValidateLogin(usr, c.Session, parsed)
	}
	if err != nil {
		return SignIn{}, refused("the passkey does not verify: %s", describe(err))
	}
	if !usr.enabled {
		return SignIn{}, refused("user %q is disabled", usr.name)
	}
	if cred.Authenticator.CloneWarning {
		return SignIn{}, refused("the passkey's sign counter did not advance: the authenticator may be cloned")
	}
	id := storage.PasskeyID(cred.ID)
	err = detached(ctx, func(ctx context.Context) error {
		_, err := s.store.UsePasskey(ctx, usr.account, usr.name, id, cred.Authenticator.SignCount, flagsOf(cred.Flags), s.now().Unix())
		return err
	})
	switch {
	case errors.Is(err, storage.ErrCounter):
		return SignIn{}, refused("the passkey's sign counter did not advance: the authenticator may be cloned")
	case errors.Is(err, storage.ErrNotFound):
		return SignIn{}, refused("the passkey or its user was deleted")
	case err != nil:
		return SignIn{}, err
	}
	return SignIn{Account: usr.account, User: usr.name, Passkey: id,
		UserVerified: parsed.Response.AuthenticatorData.Flags.HasUserVerified()}, nil
}

// HasPasskey reports whether user u of account a has a passkey.
func (s *Service) HasPasskey(ctx context.Context, a, u string) (bool, error) {
	var on bool
	err := s.store.Read(ctx, 0, func(v storage.View) error {
		on = v.HasPasskey(a, u)
		return nil
	})
	return on, err
}
