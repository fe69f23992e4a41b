package storage

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
)

// Identity providers of an account (SPEC §8, §8a): an LDAP directory or a
// SAML identity provider, stored as the account item
// ItemKey(a, KindProvider, name), deleted with the account. Its sync
// status is a single key of its own, ItemKey(a, KindProviderSync,
// name), written by the directory sync while it runs and deleted with
// the provider, so progress writes never conflict with edits of the
// provider.
//
// The LDAP bind password must be usable, so it cannot be hashed: it is
// sealed with AES-256-GCM under the server key ProviderSecretKeyName
// (Store.ServerKey; the provider's account and name are the additional
// data, so a sealed value copied to another provider does not open).
// A copy of etcd without that key does not reveal it; it is never
// rendered.

// Provider kinds.
const (
	KindProvider     = "provider"
	KindProviderSync = "provsync"
)

// The provider types.
const (
	ProviderLDAP = "ldap"
	ProviderSAML = "saml"
)

// ProviderSecretKeyName names the server key provider secrets are sealed
// under.
const ProviderSecretKeyName = "provider-secret"

// Provider is the stored part of an identity provider.
type Provider struct {
	Type        string // ProviderLDAP or ProviderSAML
	Description string
	// LDAP.
	URL            string
	StartTLS       bool
	CA             string // PEM
	BindDN         string
	BindPassword   string // sealed (SealProviderSecret); "" for none
	UserBase       string
	UserFilter     string
	LoginAttribute string
	GroupBase      string
	GroupFilter    string
	// SAML.
	MetadataURL       string
	Metadata          string // the IdP's metadata XML
	EntityID          string
	SignRequests      bool
	AllowIdPInitiated bool
	LandingURL        string
	// Attribute mapping: the source attribute of each local field.
	MapName, MapEmail, MapFullName, MapGroups string
	// SyncInterval is how often the directory is synced by itself (a Go
	// duration); "" syncs only on request.
	SyncInterval string
}

// Encode returns the compact stored form.
func (p Provider) Encode() string {
	return encodeFields(fields{p.Type, p.Description, p.URL, flag(p.StartTLS), p.CA, p.BindDN, p.BindPassword,
		p.UserBase, p.UserFilter, p.LoginAttribute, p.GroupBase, p.GroupFilter,
		p.MetadataURL, p.Metadata, p.EntityID, flag(p.SignRequests), flag(p.AllowIdPInitiated), p.LandingURL,
		p.MapName, p.MapEmail, p.MapFullName, p.MapGroups, p.SyncInterval})
}

// DecodeProvider reads a Provider record.
func DecodeProvider(v string) (Provider, error) {
	var f [23]string
	if err := decodeFields(v, f[:]); err != nil {
		return Provider{}, err
	}
	return Provider{Type: f[0], Description: f[1], URL: f[2], StartTLS: f[3] != "", CA: f[4], BindDN: f[5],
		BindPassword: f[6], UserBase: f[7], UserFilter: f[8], LoginAttribute: f[9], GroupBase: f[10], GroupFilter: f[11],
		MetadataURL: f[12], Metadata: f[13], EntityID: f[14], SignRequests: f[15] != "", AllowIdPInitiated: f[16] != "",
		LandingURL: f[17], MapName: f[18], MapEmail: f[19], MapFullName: f[20], MapGroups: f[21], SyncInterval: f[22]}, nil
}

// Provider returns provider p of account a.
func (v View) Provider(a, p string) (Provider, bool) {
	val, ok := v.Get(ItemKey(a, KindProvider, p))
	if !ok {
		return Provider{}, false
	}
	rec, err := DecodeProvider(val)
	return rec, err == nil
}

// Providers is the collection of account a's identity providers.
func Providers(a string) Coll { return Coll{Account: a, Kind: KindProvider} }

// ProviderSync is the state of a provider's directory sync.
type ProviderSync struct {
	State    string // SyncIdle, SyncRunning, SyncDone, SyncFailed
	Progress int64  // entries handled so far
	Total    int64  // entries to handle, when known (0: not yet)
	Users    int64  // users created or updated
	Groups   int64  // groups created or updated
	Disabled int64  // users disabled because their entry is gone
	Started  int64  // Unix seconds
	Finished int64  // Unix seconds
	Error    string // the last error
}

// The sync states.
const (
	SyncIdle    = "idle"
	SyncRunning = "running"
	SyncDone    = "done"
	SyncFailed  = "failed"
)

// Encode returns the compact stored form.
func (s ProviderSync) Encode() string {
	n := func(i int64) string { return strconv.FormatInt(i, 10) }
	return encodeFields(fields{s.State, n(s.Progress), n(s.Total), n(s.Users), n(s.Groups), n(s.Disabled),
		n(s.Started), n(s.Finished), s.Error})
}

// DecodeProviderSync reads a ProviderSync record.
func DecodeProviderSync(v string) (ProviderSync, error) {
	var f [9]string
	if err := decodeFields(v, f[:]); err != nil {
		return ProviderSync{}, err
	}
	n := func(s string) int64 { i, _ := strconv.ParseInt(s, 10, 64); return i }
	return ProviderSync{State: f[0], Progress: n(f[1]), Total: n(f[2]), Users: n(f[3]), Groups: n(f[4]),
		Disabled: n(f[5]), Started: n(f[6]), Finished: n(f[7]), Error: f[8]}, nil
}

// ProviderSyncState returns the sync state of provider p of account a:
// idle when no sync ever ran.
func (v View) ProviderSyncState(a, p string) ProviderSync {
	val, ok := v.Get(ItemKey(a, KindProviderSync, p))
	if !ok {
		return ProviderSync{State: SyncIdle}
	}
	s, err := DecodeProviderSync(val)
	if err != nil || s.State == "" {
		return ProviderSync{State: SyncIdle}
	}
	return s
}

// ProviderSecretUnset stands, in a provider's BindPassword, for a bind
// password an import left out (a sealed value opens only under the
// server key of the store that sealed it, so an export does not carry
// it): the provider has one, but it must be set again. It is no sealed
// value ('!' is not base64url), and OpenProviderSecret refuses it with
// ErrProviderSecretUnset.
const ProviderSecretUnset = "!unset-by-import"

// ErrProviderSecretUnset is OpenProviderSecret's error for
// ProviderSecretUnset.
var ErrProviderSecretUnset = errors.New("the bind password was not carried by the import that created this provider: set it again (PUT the provider with <bind-password>)")

// errSealed is every failure to open a sealed secret.
var errSealed = errors.New("storage: the sealed secret does not open under this key")

func providerAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("storage: provider secret key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// SealProviderSecret seals secret for provider p of account a under key
// (the server key ProviderSecretKeyName): base64url of nonce ‖ ciphertext.
func SealProviderSecret(key []byte, a, p, secret string) (string, error) {
	aead, err := providerAEAD(key)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(secret)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := aead.Seal(nonce, nonce, []byte(secret), []byte(a+"\x00"+p))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// OpenProviderSecret opens a secret SealProviderSecret sealed for
// provider p of account a.
func OpenProviderSecret(key []byte, a, p, sealed string) (string, error) {
	if sealed == ProviderSecretUnset {
		return "", ErrProviderSecretUnset
	}
	aead, err := providerAEAD(key)
	if err != nil {
		return "", err
	}
	b, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(b) < aead.NonceSize() {
		return "", errSealed
	}
	plain, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], []byte(a+"\x00"+p))
	if err != nil {
		return "", errSealed
	}
	return string(plain), nil
}
