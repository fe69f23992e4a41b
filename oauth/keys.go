package oauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// KeyStore keeps the signing keys: named values written once and never
// expiring (a signing key must not vanish with a lease). CreateOnly
// writes value under name unless name exists, reporting whether it did;
// of two concurrent creators exactly one gets created == true.
//
// storage has no create-only put by name that product code may use (its
// guarded writes take raw keys, which only storage may build: see
// storage/doc.go), so the adapter over *storage.Store belongs to a later
// step that adds a named record for keys to storage.
type KeyStore interface {
	Get(ctx context.Context, name string) ([]byte, bool, error)
	CreateOnly(ctx context.Context, name string, value []byte) (created bool, err error)
}

// AlgES256 is the signing algorithm of gatehouse's keys: ECDSA P-256
// with SHA-256.
const AlgES256 = "ES256"

// DefaultKeyRetention is how long a superseded key stays published
// after its successor took over: at least the longest access token
// lifetime, so every token it signed can still be verified.
const DefaultKeyRetention = 24 * time.Hour

// keyName is the KeyStore name of key generation gen.
func keyName(gen int) string { return "signing-" + strconv.Itoa(gen) }

// storedKey is a key's stored form.
type storedKey struct {
	Alg     string    `json:"alg"`
	PKCS8   []byte    `json:"pkcs8"` // the private key, PKCS #8 DER
	Created time.Time `json:"created"`
}

// signingKey is one generation of the key set.
type signingKey struct {
	gen     int
	kid     string // RFC 7638 thumbprint (SHA-256, base64url)
	priv    *ecdsa.PrivateKey
	created time.Time
	public  jose.JSONWebKey
}

// keyState is an immutable view of the key set, generations ascending
// from 1 without gaps.
type keyState struct {
	keys  []*signingKey
	byKid map[string]*signingKey
}

// KeyConfig configures a KeySet.
type KeyConfig struct {
	Store KeyStore
	// Retain is how long a superseded key stays published after its
	// successor became current; DefaultKeyRetention if zero.
	Retain time.Duration
	Now    func() time.Time // time.Now if nil
}

// KeySet is the installation's signing keys, kept in a KeyStore: key
// generation n is stored as "signing-n", created once (whoever creates a
// generation first wins; the others read it). The newest generation is
// the current signing key; older ones stay published in the JWKS until
// their retirement, Retain after their successor's creation.
type KeySet struct {
	store  KeyStore
	retain time.Duration
	now    func() time.Time

	mu       sync.Mutex // serialises loads and rotations
	state    atomic.Pointer[keyState]
	lastMiss atomic.Int64 // Unix nanoseconds of the last reload for an unknown kid
	verified verifiedTokens
}

// NewKeySet loads the key set, creating the first key if there is none.
func NewKeySet(ctx context.Context, c KeyConfig) (*KeySet, error) {
	if c.Retain <= 0 {
		c.Retain = DefaultKeyRetention
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	k := &KeySet{store: c.Store, retain: c.Retain, now: c.Now}
	k.state.Store(&keyState{byKid: map[string]*signingKey{}})
	if err := k.Refresh(ctx); err != nil {
		return nil, err
	}
	if len(k.state.Load().keys) == 0 {
		if err := k.create(ctx, 1); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// Refresh reads generations newer than the ones known (another instance
// may have rotated).
func (k *KeySet) Refresh(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.refreshLocked(ctx)
}

func (k *KeySet) refreshLocked(ctx context.Context) error {
	old := k.state.Load()
	keys := old.keys
	for gen := len(keys) + 1; ; gen++ {
		b, ok, err := k.store.Get(ctx, keyName(gen))
		if err != nil {
			return fmt.Errorf("oauth: reading signing key %d: %w", gen, err)
		}
		if !ok {
			break
		}
		sk, err := decodeKey(gen, b)
		if err != nil {
			return err
		}
		keys = append(keys[:len(keys):len(keys)], sk)
	}
	if len(keys) == len(old.keys) {
		return nil
	}
	next := &keyState{keys: keys, byKid: make(map[string]*signingKey, len(keys))}
	for _, sk := range keys {
		next.byKid[sk.kid] = sk
	}
	k.state.Store(next)
	return nil
}

// create makes generation gen (if no one else has) and reloads.
func (k *KeySet) create(ctx context.Context, gen int) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.state.Load().keys) >= gen {
		return nil
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	b, err := json.Marshal(storedKey{Alg: AlgES256, PKCS8: der, Created: k.now().UTC()})
	if err != nil {
		return err
	}
	if _, err := k.store.CreateOnly(ctx, keyName(gen), b); err != nil {
		return fmt.Errorf("oauth: creating signing key %d: %w", gen, err)
	}
	// Created or not, the stored generation is the one everybody uses.
	if err := k.refreshLocked(ctx); err != nil {
		return err
	}
	if len(k.state.Load().keys) < gen {
		return fmt.Errorf("oauth: signing key %d was not stored", gen)
	}
	return nil
}

func decodeKey(gen int, b []byte) (*signingKey, error) {
	var sk storedKey
	if err := json.Unmarshal(b, &sk); err != nil {
		return nil, fmt.Errorf("oauth: signing key %d: %w", gen, err)
	}
	if sk.Alg != AlgES256 {
		return nil, fmt.Errorf("oauth: signing key %d: unsupported algorithm %q", gen, sk.Alg)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(sk.PKCS8)
	if err != nil {
		return nil, fmt.Errorf("oauth: signing key %d: %w", gen, err)
	}
	priv, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		return nil, fmt.Errorf("oauth: signing key %d is not an ECDSA P-256 key", gen)
	}
	pub := jose.JSONWebKey{Key: &priv.PublicKey, Algorithm: AlgES256, Use: "sig"}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("oauth: signing key %d: %w", gen, err)
	}
	kid := base64.RawURLEncoding.EncodeToString(tp)
	pub.KeyID = kid
	return &signingKey{gen: gen, kid: kid, priv: priv, created: sk.Created, public: pub}, nil
}

// Rotate makes a new key current: the next generation is created (or,
// if another instance created it first, read). The previous key stays
// published until Retain after now.
func (k *KeySet) Rotate(ctx context.Context) error {
	if err := k.Refresh(ctx); err != nil {
		return err
	}
	return k.create(ctx, len(k.state.Load().keys)+1)
}

// RotateIfOlder rotates when the current key is at least age old (after
// reading what other instances did); it reports whether the current key
// changed. Every instance may call it on a timer: one creates the
// successor, the others read it.
func (k *KeySet) RotateIfOlder(ctx context.Context, age time.Duration) (bool, error) {
	if err := k.Refresh(ctx); err != nil {
		return false, err
	}
	before := k.current()
	if k.now().Sub(before.created) < age {
		return false, nil
	}
	if err := k.create(ctx, before.gen+1); err != nil {
		return false, err
	}
	return k.current() != before, nil
}

// current is the newest key.
func (k *KeySet) current() *signingKey {
	keys := k.state.Load().keys
	return keys[len(keys)-1]
}

// CurrentKeyID is the kid of the current signing key.
func (k *KeySet) CurrentKeyID() string { return k.current().kid }

// Signer returns the current signing key: its kid, algorithm and private
// key.
func (k *KeySet) Signer() (kid, alg string, key crypto.Signer) {
	c := k.current()
	return c.kid, AlgES256, c.priv
}

// retired reports whether sk is past its retirement at now.
func (k *KeySet) retired(st *keyState, sk *signingKey, now time.Time) bool {
	if sk.gen >= len(st.keys) {
		return false // current
	}
	next := st.keys[sk.gen] // generation gen+1
	return !now.Before(next.created.Add(k.retain))
}

// published returns the keys that verify tokens at now.
func (k *KeySet) published(now time.Time) []*signingKey {
	st := k.state.Load()
	var out []*signingKey
	for i := len(st.keys) - 1; i >= 0; i-- { // newest first
		if !k.retired(st, st.keys[i], now) {
			out = append(out, st.keys[i])
		}
	}
	return out
}

// PublicKeys is the published key set (public parts only), newest first.
func (k *KeySet) PublicKeys() jose.JSONWebKeySet {
	var set jose.JSONWebKeySet
	for _, sk := range k.published(k.now()) {
		set.Keys = append(set.Keys, sk.public)
	}
	return set
}

// JWKS is the JSON Web Key Set document (RFC 7517) of the published
// keys: public parts only.
func (k *KeySet) JWKS() ([]byte, error) {
	set := k.PublicKeys()
	if set.Keys == nil {
		set.Keys = []jose.JSONWebKey{}
	}
	return json.Marshal(set)
}

// errUnknownKey is a kid that is not (or no longer) published.
var errUnknownKey = errors.New("oauth: unknown or retired signing key")

// verificationKey returns the public key kid names if it is published.
// An unknown kid reloads the set (another instance may have rotated) at
// most once a second, so forged kids cannot drive reads of the store.
func (k *KeySet) verificationKey(ctx context.Context, kid string) (*ecdsa.PublicKey, error) {
	now := k.now()
	sk, ok := k.state.Load().byKid[kid]
	if !ok {
		last := k.lastMiss.Load()
		if now.UnixNano()-last < int64(time.Second) || !k.lastMiss.CompareAndSwap(last, now.UnixNano()) {
			return nil, errUnknownKey
		}
		if err := k.Refresh(ctx); err != nil {
			return nil, err
		}
		if sk, ok = k.state.Load().byKid[kid]; !ok {
			return nil, errUnknownKey
		}
	}
	if k.retired(k.state.Load(), sk, now) {
		return nil, errUnknownKey
	}
	return &sk.priv.PublicKey, nil
}
