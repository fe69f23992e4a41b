package samlsignin

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/crewjam/saml"

	"gatehouse/samlsp"
	"gatehouse/storage"
)

func init() {
	// crewjam refuses a Response whose IssueInstant is older than
	// MaxIssueDelay (90 s): with an IdP clock up to ClockSkew behind,
	// that must be the transit allowance plus the skew (SPEC §8a).
	saml.MaxIssueDelay = max(saml.MaxIssueDelay, samlsp.ClockSkew+90*time.Second)
}

const (
	// SPKeyName is the OAuth key record (storage.KeyRecord) holding the
	// installation's SP key and certificate (PEM).
	SPKeyName = "saml-sp"
	// SPKeyValidity is how long the SP certificate is valid.
	SPKeyValidity = 20 * 365 * 24 * time.Hour
	// StateLifetime is how long a started sign-in waits for the IdP.
	StateLifetime = 10 * time.Minute
	// DefaultMetadataRefresh is how old fetched IdP metadata may grow.
	DefaultMetadataRefresh = time.Hour
	// MetadataRetry is the least time between fetches after a failure.
	MetadataRetry = time.Minute
	// metadataTimeout bounds one metadata fetch.
	metadataTimeout = 10 * time.Second

	kindState     = "saml-state"
	kindAssertion = "saml-assertion"
)

// OAuth is what the sign-in needs of the OAuth provider (oauth.Provider):
// the external sign-in seam.
type OAuth interface {
	PendingKey(sealed string) (string, bool)
	CompleteExternal(ctx context.Context, sealed, account, user string) (string, error)
}

// Options configure a Service.
type Options struct {
	Store  *storage.Store
	Issuer string // oauth.issuer, no trailing slash
	OAuth  OAuth
	Now    func() time.Time // time.Now if nil
	Logger *slog.Logger
	// MetadataClient fetches metadata URLs; nil: samlsp's default (no
	// redirects followed).
	MetadataClient  *http.Client
	MetadataRefresh time.Duration // DefaultMetadataRefresh if 0
}

// Service is SAML sign-in for every saml provider of the store.
type Service struct {
	o Options

	keyMu sync.Mutex
	key   *rsa.PrivateKey
	cert  *x509.Certificate

	mu      sync.Mutex
	entries map[string]*entry // "a/p" →
}

// entry is one provider's cached SP.
type entry struct {
	mu      sync.Mutex
	rec     string // the provider's record (encoded) the SP was built from
	sp      *samlsp.SP
	fetched time.Time // last good metadata fetch (metadata-url)
	tried   time.Time // last fetch attempt
}

// New makes the service; the SP key is loaded (or created, once per
// installation) when first needed, so an installation without SAML
// never generates one.
func New(o Options) (*Service, error) {
	if o.Store == nil || o.Issuer == "" || o.OAuth == nil {
		return nil, errors.New("samlsignin: store, issuer and oauth are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MetadataRefresh <= 0 {
		o.MetadataRefresh = DefaultMetadataRefresh
	}
	o.Issuer = strings.TrimSuffix(o.Issuer, "/")
	return &Service{o: o, entries: map[string]*entry{}}, nil
}

// spKey is the installation's SP key and certificate.
func (s *Service) spKey(ctx context.Context) (*rsa.PrivateKey, *x509.Certificate, error) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if s.key == nil {
		key, cert, err := loadKey(ctx, s.o.Store, s.o.Now())
		if err != nil {
			return nil, nil, err
		}
		s.key, s.cert = key, cert
	}
	return s.key, s.cert, nil
}

// loadKey returns the installation's SP key, creating it on first use
// (create-once: of racing instances one writes, all read the winner's).
func loadKey(ctx context.Context, store *storage.Store, now time.Time) (*rsa.PrivateKey, *x509.Certificate, error) {
	rec, ok, err := store.KeyRecord(ctx, SPKeyName)
	if err != nil {
		return nil, nil, fmt.Errorf("samlsignin: SP key: %w", err)
	}
	if !ok {
		key, cert, err := samlsp.NewSelfSignedKey("gatehouse SAML SP", now, SPKeyValidity)
		if err != nil {
			return nil, nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, nil, err
		}
		value := append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})...)
		if _, err := store.CreateKeyRecord(ctx, SPKeyName, value); err != nil {
			return nil, nil, fmt.Errorf("samlsignin: SP key: %w", err)
		}
		if rec, ok, err = store.KeyRecord(ctx, SPKeyName); err != nil || !ok {
			return nil, nil, fmt.Errorf("samlsignin: SP key: not readable after creation (%v)", err)
		}
	}
	return parseKey(rec)
}

// parseKey reads a stored SP key record: a PKCS#8 RSA key and its
// certificate, PEM.
func parseKey(rec []byte) (*rsa.PrivateKey, *x509.Certificate, error) {
	var (
		key  *rsa.PrivateKey
		cert *x509.Certificate
	)
	for {
		var b *pem.Block
		b, rec = pem.Decode(rec)
		if b == nil {
			break
		}
		switch b.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("samlsignin: SP key: %w", err)
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, nil, fmt.Errorf("samlsignin: SP key: %T is not RSA", k)
			}
			key = rk
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("samlsignin: SP certificate: %w", err)
			}
			cert = c
		}
	}
	if key == nil || cert == nil {
		return nil, nil, errors.New("samlsignin: SP key record lacks the key or the certificate")
	}
	return key, cert, nil
}

// Certificate is the SP certificate (the same on every instance).
func (s *Service) Certificate(ctx context.Context) (*x509.Certificate, error) {
	_, cert, err := s.spKey(ctx)
	return cert, err
}

// EntityID is the SP entity ID of provider p of account a: its metadata
// URL under the issuer.
func (s *Service) EntityID(a, p string) string {
	return s.o.Issuer + "/saml/" + a + "/" + p + "/metadata"
}

// ACSURL is the assertion consumer service URL of provider p of account a.
func (s *Service) ACSURL(a, p string) string { return s.o.Issuer + "/saml/" + a + "/" + p + "/acs" }

// errNoProvider: no saml provider of that name.
var errNoProvider = errors.New("samlsignin: no such SAML provider")

// provider reads provider p of account a and its encoded record.
func (s *Service) provider(ctx context.Context, a, p string) (storage.Provider, string, error) {
	if storage.ValidName(a) != nil || storage.ValidName(p) != nil {
		return storage.Provider{}, "", errNoProvider
	}
	var (
		rec   storage.Provider
		found bool
	)
	err := s.o.Store.Read(ctx, 0, func(v storage.View) error {
		rec, found = v.Provider(a, p)
		return nil
	})
	if err != nil {
		return storage.Provider{}, "", err
	}
	if !found || rec.Type != storage.ProviderSAML {
		return storage.Provider{}, "", errNoProvider
	}
	return rec, rec.Encode(), nil
}

// sp returns the SP of provider p of account a, built from the stored
// record and cached until the record changes; metadata by URL is
// refreshed after MetadataRefresh.
func (s *Service) sp(ctx context.Context, a, p string) (*samlsp.SP, storage.Provider, error) {
	rec, enc, err := s.provider(ctx, a, p)
	if err != nil {
		return nil, rec, err
	}
	s.mu.Lock()
	e := s.entries[a+"/"+p]
	if e == nil {
		e = &entry{}
		s.entries[a+"/"+p] = e
	}
	s.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rec != enc {
		e.rec, e.sp, e.fetched, e.tried = enc, nil, time.Time{}, time.Time{}
	}
	now := s.o.Now()
	if rec.MetadataURL == "" {
		if e.sp == nil {
			if e.sp, err = s.build(ctx, a, p, rec, []byte(rec.Metadata)); err != nil {
				return nil, rec, err
			}
		}
		return e.sp, rec, nil
	}
	stale := e.sp == nil || now.Sub(e.fetched) >= s.o.MetadataRefresh
	if stale && (e.tried.IsZero() || now.Sub(e.tried) >= MetadataRetry || e.sp == nil && now.Sub(e.tried) >= time.Second) {
		e.tried = now
		md, err := samlsp.FetchMetadata(ctx, s.o.MetadataClient, rec.MetadataURL, metadataTimeout, 0)
		var sp *samlsp.SP
		if err == nil {
			sp, err = s.build(ctx, a, p, rec, md)
		}
		if err != nil {
			s.o.Logger.Warn("SAML IdP metadata fetch failed", "account", a, "provider", p, "url", rec.MetadataURL, "err", err)
			if e.sp == nil {
				return nil, rec, err
			}
		} else {
			e.sp, e.fetched = sp, now
		}
	}
	if e.sp == nil {
		return nil, rec, errors.New("samlsignin: IdP metadata not available yet")
	}
	return e.sp, rec, nil
}

func (s *Service) build(ctx context.Context, a, p string, rec storage.Provider, metadata []byte) (*samlsp.SP, error) {
	key, cert, err := s.spKey(ctx)
	if err != nil {
		return nil, err
	}
	return samlsp.New(samlsp.Config{
		EntityID:          s.EntityID(a, p),
		ACSURL:            s.ACSURL(a, p),
		Key:               key,
		Certificate:       cert,
		IDPMetadata:       metadata,
		IDPEntityID:       rec.EntityID,
		SignRequests:      rec.SignRequests,
		AllowIdPInitiated: rec.AllowIdPInitiated,
		Mapping:           samlsp.Mapping{Name: rec.MapName, Email: rec.MapEmail, FullName: rec.MapFullName, Groups: rec.MapGroups},
		Now:               s.o.Now,
		Replay:            replayGuard{store: s.o.Store, a: a, p: p, now: s.o.Now},
	})
}

// replayGuard remembers assertion IDs in the leased token store.
type replayGuard struct {
	store *storage.Store
	a, p  string
	now   func() time.Time
}

// Remember implements samlsp.ReplayGuard: create-only, so of two uses
// of one assertion on any instances exactly one passes.
func (g replayGuard) Remember(ctx context.Context, assertionID string, until time.Time) error {
	ttl := max(until.Sub(g.now()), time.Second)
	sum := sha256.Sum256([]byte(g.a + "\x00" + g.p + "\x00" + assertionID))
	err := g.store.CreateToken(ctx, kindAssertion, base64.RawURLEncoding.EncodeToString(sum[:]), []byte("1"), ttl)
	if errors.Is(err, storage.ErrNameTaken) {
		return fmt.Errorf("assertion of %s/%s: %w", g.a, g.p, samlsp.ErrReplay)
	}
	return err
}

// state is a started SP-initiated sign-in (kindState, by RelayState).
type state struct {
	Account   string `json:"a"`
	Provider  string `json:"p"`
	RequestID string `json:"i"`
	Pending   string `json:"r"`
}

func (st state) encode() []byte { b, _ := json.Marshal(st); return b }

// registeredRedirect reports whether uri is exactly a redirect URI some
// OAuth client registered.
func (s *Service) registeredRedirect(ctx context.Context, uri string) bool {
	if uri == "" {
		return false
	}
	var ok bool
	_ = s.o.Store.Read(ctx, 0, func(v storage.View) error {
		for _, a := range v.Names(storage.AllAccounts()) {
			for _, u := range v.Names(storage.Coll{Account: a, Kind: storage.KindUser}) {
				v.Each(storage.Coll{Account: a, Kind: storage.KindClient, Owner: u}, func(_, value string) bool {
					if c, err := storage.DecodeClient(value); err == nil && slices.Contains(c.URIs, uri) {
						ok = true
					}
					return !ok
				})
				if ok {
					return nil
				}
			}
		}
		return nil
	})
	return ok
}
