// Package passkeytest is a software WebAuthn authenticator for tests: one
// ES256 credential that answers creation and request options as a browser
// serialises them (PublicKeyCredential.toJSON()), with "none"
// attestation, a chosen sign counter and user verification on or off.
// Test code only.
package passkeytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

// Key is a software authenticator holding one ES256 credential: it
// answers navigator.credentials.create and .get as a browser would
// serialise them (PublicKeyCredential.toJSON()).
type Key struct {
	t      testing.TB
	origin string
	rpID   string
	key    *ecdsa.PrivateKey
	ID     []byte // the credential ID
	Handle []byte // the user handle it was created for
}

// B64 is the encoding WebAuthn JSON uses for binary fields.
var B64 = base64.RawURLEncoding

const (
	flagUP = 0x01
	flagUV = 0x04
	flagAT = 0x40
)

// NewKey makes an authenticator whose responses come from origin for
// relying party rpID.
func NewKey(t testing.TB, origin, rpID string) *Key {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	return &Key{t: t, origin: origin, rpID: rpID, key: k, ID: id}
}

// Options reads the challenge and, for a creation, the user handle from
// options JSON ({"publicKey": …}).
func Options(t testing.TB, b []byte) (challenge string, userID []byte, raw map[string]any) {
	t.Helper()
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
			User      struct {
				ID string `json:"id"`
			} `json:"user"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatalf("options %s: %v", b, err)
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if o.PublicKey.User.ID != "" {
		var err error
		if userID, err = B64.DecodeString(o.PublicKey.User.ID); err != nil {
			t.Fatalf("user id %q: %v", o.PublicKey.User.ID, err)
		}
	}
	return o.PublicKey.Challenge, userID, raw
}

func (k *Key) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": k.origin, "crossOrigin": false})
	return b
}

func (k *Key) authData(flags byte, counter uint32, attested bool) []byte {
	h := sha256.Sum256([]byte(k.rpID))
	out := append([]byte(nil), h[:]...)
	if attested {
		flags |= flagAT
	}
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, counter)
	if attested {
		out = append(out, make([]byte, 16)...) // AAGUID: zero
		out = binary.BigEndian.AppendUint16(out, uint16(len(k.ID)))
		out = append(out, k.ID...)
		cose, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
			PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
			Curve:         int64(webauthncose.P256),
			XCoord:        k.key.X.FillBytes(make([]byte, 32)),
			YCoord:        k.key.Y.FillBytes(make([]byte, 32)),
		})
		if err != nil {
			k.t.Fatal(err)
		}
		out = append(out, cose...)
	}
	return out
}

// Create answers creation options with an attestation ("none" format).
func (k *Key) Create(opts []byte, extra map[string]any) []byte {
	challenge, handle, _ := Options(k.t, opts)
	k.Handle = handle
	authData := k.authData(flagUP|flagUV, 0, true)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": authData})
	if err != nil {
		k.t.Fatal(err)
	}
	body := map[string]any{
		"id": B64.EncodeToString(k.ID), "rawId": B64.EncodeToString(k.ID), "type": "public-key",
		"authenticatorAttachment": "platform",
		"response": map[string]any{
			"clientDataJSON":    B64.EncodeToString(k.clientData("webauthn.create", challenge)),
			"attestationObject": B64.EncodeToString(att),
			"transports":        []string{"internal"},
		},
		"clientExtensionResults": map[string]any{},
	}
	for n, v := range extra {
		body[n] = v
	}
	b, _ := json.Marshal(body)
	return b
}

// Get answers request options with an assertion signed at counter, with
// user verification when uv.
func (k *Key) Get(opts []byte, counter uint32, uv bool) []byte {
	challenge, _, _ := Options(k.t, opts)
	flags := byte(flagUP)
	if uv {
		flags |= flagUV
	}
	authData := k.authData(flags, counter, false)
	cd := k.clientData("webauthn.get", challenge)
	h := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte(nil), authData...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.key, digest[:])
	if err != nil {
		k.t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{
		"id": B64.EncodeToString(k.ID), "rawId": B64.EncodeToString(k.ID), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    B64.EncodeToString(cd),
			"authenticatorData": B64.EncodeToString(authData),
			"signature":         B64.EncodeToString(sig),
			"userHandle":        B64.EncodeToString(k.Handle),
		},
		"clientExtensionResults": map[string]any{},
	})
	return b
}
