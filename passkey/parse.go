package passkey

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
)

// MaxResponseBytes is the largest registration or sign-in response
// accepted (a response with "none" attestation is a few hundred bytes;
// attestation certificates, when an authenticator sends them anyway,
// a few kilobytes).
const MaxResponseBytes = 64 << 10

// MaxNameLength is the longest passkey name, in characters.
const MaxNameLength = 64

// DefaultName is the name of a passkey registered without one.
const DefaultName = "passkey"

// Registration is a decoded registration response.
type Registration struct {
	Name       string
	Credential *protocol.ParsedCredentialCreationData
}

// ParseRegistration decodes the browser's registration response: the
// PublicKeyCredential JSON (PublicKeyCredential.toJSON(): id, rawId,
// type, response.clientDataJSON and attestationObject in base64url,
// response.transports) with an optional top-level "name" for the
// passkey. Everything malformed is ErrRefused.
func ParseRegistration(body []byte) (Registration, error) {
	if err := checkBody(body); err != nil {
		return Registration{}, err
	}
	var named struct {
		Name *string `json:"name"`
	}
	if err := json.Unmarshal(body, &named); err != nil {
		return Registration{}, refused("the body is not a JSON object: %v", err)
	}
	name := DefaultName
	if named.Name != nil {
		var err error
		if name, err = CheckName(*named.Name); err != nil {
			return Registration{}, err
		}
	}
	cred, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return Registration{}, refused("the registration response is malformed: %s", describe(err))
	}
	if cred.Response.CollectedClientData.Challenge == "" {
		return Registration{}, refused("the registration response has no challenge")
	}
	return Registration{Name: name, Credential: cred}, nil
}

// ParseAssertion decodes the browser's sign-in response: the
// PublicKeyCredential JSON of navigator.credentials.get (id, rawId, type,
// response.clientDataJSON, authenticatorData, signature and userHandle in
// base64url). Everything malformed is ErrRefused.
func ParseAssertion(body []byte) (*protocol.ParsedCredentialAssertionData, error) {
	if err := checkBody(body); err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return nil, refused("the sign-in response is malformed: %s", describe(err))
	}
	if parsed.Response.CollectedClientData.Challenge == "" {
		return nil, refused("the sign-in response has no challenge")
	}
	return parsed, nil
}

func checkBody(body []byte) error {
	if len(body) > MaxResponseBytes {
		return refused("the response is %d bytes; the limit is %d", len(body), MaxResponseBytes)
	}
	if t := bytes.TrimSpace(body); len(t) == 0 || t[0] != '{' {
		return refused("the body is not a JSON object")
	}
	return nil
}

// CheckName returns a passkey name as it is stored: trimmed, 1 to
// MaxNameLength characters of valid UTF-8 without control characters;
// empty means DefaultName.
func CheckName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return DefaultName, nil
	}
	if !utf8.ValidString(name) {
		return "", refused("the passkey name is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(name); n > MaxNameLength {
		return "", refused("the passkey name has %d characters; the limit is %d", n, MaxNameLength)
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return "", refused("the passkey name holds a control character")
		}
	}
	return name, nil
}
