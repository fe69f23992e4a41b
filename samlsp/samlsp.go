package samlsp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/crewjam/saml"
	crewjamsp "github.com/crewjam/saml/samlsp"
	"github.com/jonboulle/clockwork"
	dsig "github.com/russellhaering/goxmldsig"
)

// ClockSkew is the clock difference allowed between the IdP and gatehouse
// when checking an assertion's time bounds.
const ClockSkew = 2 * time.Minute

var (
	// ErrInvalidResponse is wrapped by every refusal of a SAML response
	// except a replay. The wrapped detail is for logs only.
	ErrInvalidResponse = errors.New("samlsp: invalid SAML response")
	// ErrReplay is wrapped when an assertion was already used. A
	// ReplayGuard returns an error wrapping it for an ID it has seen.
	ErrReplay = errors.New("samlsp: assertion already used")
)

// ReplayGuard remembers assertion IDs. Remember records assertionID until
// until and returns an error wrapping ErrReplay when it was recorded
// before; any other error refuses the assertion too. It must be atomic
// across every server that accepts assertions for the same provider.
type ReplayGuard interface {
	Remember(ctx context.Context, assertionID string, until time.Time) error
}

// Mapping names the SAML attributes (by Name, or else by FriendlyName) that
// give the mapped identity fields.
type Mapping struct {
	Name     string
	Email    string
	FullName string
	Groups   string
}

// Config is one SAML provider as the SP sees it.
type Config struct {
	// EntityID is the SP entity ID, which is also its metadata URL
	// (…/saml/{a}/{p}/metadata under oauth.issuer).
	EntityID string
	// ACSURL is the assertion consumer service URL (…/saml/{a}/{p}/acs).
	ACSURL string
	// Key signs AuthnRequests and, when it is an *rsa.PrivateKey, decrypts
	// encrypted assertions. Certificate is its public half.
	Key         crypto.Signer
	Certificate *x509.Certificate
	// IDPMetadata is the IdP metadata document: an EntityDescriptor or an
	// EntitiesDescriptor. IDPEntityID picks one entity out of the latter
	// and, when set, must match the former.
	IDPMetadata []byte
	IDPEntityID string
	// SignRequests signs AuthnRequests (HTTP-Redirect query signature).
	SignRequests bool
	// AllowIdPInitiated accepts responses without InResponseTo.
	AllowIdPInitiated bool
	Mapping           Mapping
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Replay remembers accepted assertion IDs. Required.
	Replay ReplayGuard
}

// Validate reports every problem of c, naming the field of each.
func (c Config) Validate() error {
	var errs []error
	if err := checkAbsoluteURL(c.EntityID); err != nil {
		errs = append(errs, fmt.Errorf("entity-id: %w", err))
	}
	if err := checkAbsoluteURL(c.ACSURL); err != nil {
		errs = append(errs, fmt.Errorf("acs-url: %w", err))
	}
	switch {
	case c.Key == nil:
		errs = append(errs, errors.New("key: missing"))
	case c.Certificate == nil:
		errs = append(errs, errors.New("certificate: missing"))
	default:
		if !publicKeysEqual(c.Key.Public(), c.Certificate.PublicKey) {
			errs = append(errs, errors.New("certificate: does not match key"))
		}
		if _, err := signatureMethod(c.Key); err != nil {
			errs = append(errs, fmt.Errorf("key: %w", err))
		}
	}
	if len(c.IDPMetadata) == 0 {
		errs = append(errs, errors.New("metadata: missing"))
	} else if _, err := parseIDPMetadata(c.IDPMetadata, c.IDPEntityID); err != nil {
		errs = append(errs, fmt.Errorf("metadata: %w", err))
	}
	if c.Replay == nil {
		errs = append(errs, errors.New("replay: missing replay guard"))
	}
	return errors.Join(errs...)
}

// SP is a SAML service provider for one IdP. It is safe for concurrent use.
type SP struct {
	sp         saml.ServiceProvider
	acsURL     url.URL
	canDecrypt bool
	allowIdPI  bool
	mapping    Mapping
	now        func() time.Time
	replay     ReplayGuard
}

// New checks cfg and builds its SP.
func New(cfg Config) (*SP, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("samlsp: config: %w", err)
	}
	idp, err := parseIDPMetadata(cfg.IDPMetadata, cfg.IDPEntityID)
	if err != nil {
		return nil, fmt.Errorf("samlsp: config: metadata: %w", err)
	}
	entityURL, _ := url.Parse(cfg.EntityID)
	acsURL, _ := url.Parse(cfg.ACSURL)
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	s := &SP{
		acsURL:    *acsURL,
		allowIdPI: cfg.AllowIdPInitiated,
		mapping:   cfg.Mapping,
		now:       now,
		replay:    cfg.Replay,
	}
	s.sp = saml.ServiceProvider{
		EntityID:                         cfg.EntityID,
		MetadataURL:                      *entityURL,
		AcsURL:                           *acsURL,
		Key:                              cfg.Key,
		Certificate:                      cfg.Certificate,
		IDPMetadata:                      idp,
		AuthnNameIDFormat:                saml.UnspecifiedNameIDFormat,
		AllowIDPInitiated:                cfg.AllowIdPInitiated,
		AssertionConsumerServiceBindings: []string{saml.HTTPPostBinding},
		RejectSHA1Signatures:             true,
		RejectUnknownConditions:          true,
		LimitRelayStateLength:            true,
		Clock:                            dsig.NewFakeClock(funcClock{Clock: clockwork.NewRealClock(), now: now}),
	}
	if rsaKey, ok := cfg.Key.(*rsa.PrivateKey); ok {
		s.canDecrypt = true
		s.sp.EncryptionKey = rsaKey
		s.sp.EncryptionCertificate = cfg.Certificate
	}
	if cfg.SignRequests {
		s.sp.SignatureMethod, _ = signatureMethod(cfg.Key)
	}
	return s, nil
}

// Metadata returns the SP metadata document.
func (s *SP) Metadata() ([]byte, error) {
	ed := s.sp.Metadata()
	if !s.canDecrypt {
		// crewjam offers an RSA certificate for encryption even when the
		// key is a signer it cannot decrypt with.
		for i := range ed.SPSSODescriptors {
			kds := ed.SPSSODescriptors[i].KeyDescriptors[:0]
			for _, kd := range ed.SPSSODescriptors[i].KeyDescriptors {
				if kd.Use != "encryption" {
					kds = append(kds, kd)
				}
			}
			ed.SPSSODescriptors[i].KeyDescriptors = kds
		}
	}
	out, err := xml.MarshalIndent(ed, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("samlsp: metadata: %w", err)
	}
	return append([]byte(xml.Header), out...), nil
}

// AuthnRequest starts an SP-initiated sign-in: it returns the IdP URL to
// redirect the browser to (HTTP-Redirect binding, signed when
// Config.SignRequests) and the request ID the caller must keep (bound to
// the browser) and pass to ParseResponse. relayState is at most 80 bytes,
// as the binding requires: an opaque key, not a URL.
func (s *SP) AuthnRequest(relayState string) (redirectURL string, requestID string, err error) {
	dest := s.sp.GetSSOBindingLocation(saml.HTTPRedirectBinding)
	if dest == "" {
		return "", "", errors.New("samlsp: IdP metadata has no HTTP-Redirect SingleSignOnService")
	}
	req, err := s.sp.MakeAuthenticationRequest(dest, saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		return "", "", fmt.Errorf("samlsp: authn request: %w", err)
	}
	u, err := req.Redirect(relayState, &s.sp)
	if err != nil {
		return "", "", fmt.Errorf("samlsp: authn request: %w", err)
	}
	return u.String(), req.ID, nil
}

// parseIDPMetadata returns the IdP's EntityDescriptor out of data.
func parseIDPMetadata(data []byte, entityID string) (*saml.EntityDescriptor, error) {
	var (
		ed  *saml.EntityDescriptor
		err error
	)
	if entityID != "" {
		ed, err = crewjamsp.ParseMetadataByEntityID(data, entityID)
	} else {
		ed, err = crewjamsp.ParseMetadata(data)
	}
	if err != nil {
		return nil, err
	}
	if len(ed.IDPSSODescriptors) == 0 {
		return nil, fmt.Errorf("entity %q has no IDPSSODescriptor", ed.EntityID)
	}
	if ed.EntityID == "" {
		return nil, errors.New("entity has no entityID")
	}
	return ed, nil
}

func checkAbsoluteURL(s string) error {
	if s == "" {
		return errors.New("missing")
	}
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("not an absolute http(s) URL")
	}
	return nil
}

func signatureMethod(key crypto.Signer) (string, error) {
	switch key.Public().(type) {
	case *rsa.PublicKey:
		return dsig.RSASHA256SignatureMethod, nil
	case *ecdsa.PublicKey:
		return dsig.ECDSASHA256SignatureMethod, nil
	default:
		return "", fmt.Errorf("unsupported key type %T (RSA or ECDSA)", key.Public())
	}
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ka, err := x509.MarshalPKIXPublicKey(a)
	if err != nil {
		return false
	}
	kb, err := x509.MarshalPKIXPublicKey(b)
	if err != nil {
		return false
	}
	return bytes.Equal(ka, kb)
}

// funcClock is a clockwork.Clock whose time is an injected function, so
// signature certificate checks use the same clock as everything else.
type funcClock struct {
	clockwork.Clock
	now func() time.Time
}

func (c funcClock) Now() time.Time                  { return c.now() }
func (c funcClock) Since(t time.Time) time.Duration { return c.now().Sub(t) }
func (c funcClock) Until(t time.Time) time.Duration { return t.Sub(c.now()) }
