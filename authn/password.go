package authn

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Sentinel errors. Functions wrap them with detail via fmt.Errorf("%w"),
// so test with errors.Is.
var (
	// ErrMalformedHash: an encoded hash is not a well-formed, supported
	// argon2id PHC string, or its cost parameters are outside the accepted
	// bounds.
	ErrMalformedHash = errors.New("authn: malformed password hash")
	// ErrInvalidParams: Params passed to HashPassword are outside the
	// accepted bounds.
	ErrInvalidParams = errors.New("authn: invalid argon2id parameters")
)

// Params are argon2id parameters.
type Params struct {
	Memory  uint32 // memory cost in KiB
	Time    uint32 // number of passes
	Threads uint8  // degree of parallelism
	SaltLen uint32 // salt length in bytes
	KeyLen  uint32 // derived key length in bytes
}

// DefaultParams are the OWASP Password Storage Cheat Sheet argon2id
// parameters: m=19 MiB (19456 KiB), t=2, p=1, with a 16-byte salt and a
// 32-byte key.
var DefaultParams = Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Parameter bounds. (Which passwords may be set is the password
// policy's business: package passwordpolicy.)
const (
	// Bounds applied both to Params given to HashPassword and to the
	// parameters read from an encoded hash, before argon2 runs, so that a
	// hostile or corrupt hash cannot make VerifyPassword allocate gigabytes
	// or loop for minutes.
	maxMemoryKiB  = 1 << 20 // 1 GiB
	maxTime       = 100
	maxThreads    = 64
	minSaltLen    = 8
	maxSaltLen    = 1024
	minKeyLen     = 16
	maxKeyLen     = 1024
	maxEncodedLen = 4096
)

const phcPrefix = "$argon2id$v=19$"

var b64 = base64.RawStdEncoding.Strict()

// validate checks p against the accepted bounds.
func (p Params) validate() error {
	switch {
	case p.Threads < 1 || p.Threads > maxThreads:
		return fmt.Errorf("%w: threads %d not in [1,%d]", ErrInvalidParams, p.Threads, maxThreads)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("%w: time %d not in [1,%d]", ErrInvalidParams, p.Time, maxTime)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemoryKiB:
		return fmt.Errorf("%w: memory %d KiB not in [8*threads,%d]", ErrInvalidParams, p.Memory, maxMemoryKiB)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("%w: salt length %d not in [%d,%d]", ErrInvalidParams, p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("%w: key length %d not in [%d,%d]", ErrInvalidParams, p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

// HashPassword returns a PHC-format string
//
//	$argon2id$v=19$m=19456,t=2,p=1$<b64 salt>$<b64 key>
//
// (salt and key in unpadded standard base64). The salt is read from random;
// a nil random means crypto/rand.Reader.
func HashPassword(password string, p Params, random io.Reader) (string, error) {
	if err := p.validate(); err != nil {
		return "", err
	}
	if random == nil {
		random = rand.Reader
	}
	salt := make([]byte, p.SaltLen)
	if _, err := io.ReadFull(random, salt); err != nil {
		return "", fmt.Errorf("authn: reading salt: %w", err)
	}
	key := idKey([]byte(password), salt, p)
	return encodeHash(p, salt, key), nil
}

// hashSlots bounds the argon2id runs in progress to the number of CPUs Go
// runs on; the others wait their turn. Each run holds its memory cost
// (19 MiB by default) for its whole time: sixteen sign-ins at once on two
// cores would hold 300 MiB and thrash the caches without finishing a
// single one sooner, and a flood of sign-ins could exhaust memory. In
// line they finish at the machine's full hash rate, and the memory
// argon2id holds stays at GOMAXPROCS × m.
var hashSlots = make(chan struct{}, runtime.GOMAXPROCS(0))

// idKey is argon2.IDKey within a hash slot.
func idKey(password, salt []byte, p Params) []byte {
	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()
	return argon2.IDKey(password, salt, p.Time, p.Memory, p.Threads, p.KeyLen)
}

func encodeHash(p Params, salt, key []byte) string {
	return fmt.Sprintf("%sm=%d,t=%d,p=%d$%s$%s", phcPrefix,
		p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decodeHash parses a PHC argon2id string strictly: exactly the canonical
// form HashPassword produces (version 19, parameters in the order m,t,p,
// decimal numbers without sign or leading zeros, unpadded base64 with zero
// trailing bits, no extra fields). Parameters are bounds-checked, so a
// successful decode is safe to hand to argon2. It never runs argon2.
func decodeHash(encoded string) (p Params, salt, key []byte, err error) {
	if len(encoded) > maxEncodedLen {
		return p, nil, nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformedHash, maxEncodedLen)
	}
	rest, ok := strings.CutPrefix(encoded, phcPrefix)
	if !ok {
		return p, nil, nil, fmt.Errorf("%w: want prefix %q", ErrMalformedHash, phcPrefix)
	}
	fields := strings.Split(rest, "$")
	if len(fields) != 3 {
		return p, nil, nil, fmt.Errorf("%w: want parameters, salt and key fields", ErrMalformedHash)
	}
	params := strings.Split(fields[0], ",")
	if len(params) != 3 {
		return p, nil, nil, fmt.Errorf("%w: want parameters m,t,p", ErrMalformedHash)
	}
	var vals [3]uint64
	for i, name := range [3]string{"m=", "t=", "p="} {
		digits, ok := strings.CutPrefix(params[i], name)
		if !ok {
			return p, nil, nil, fmt.Errorf("%w: parameter %d: want %q", ErrMalformedHash, i+1, name)
		}
		if vals[i], err = parseDecimal(digits); err != nil {
			return p, nil, nil, fmt.Errorf("%w: parameter %s %v", ErrMalformedHash, name, err)
		}
	}
	m, t, th := vals[0], vals[1], vals[2]
	// Check bounds here, in uint64, before narrowing to the Params types.
	switch {
	case th < 1 || th > maxThreads:
		return p, nil, nil, fmt.Errorf("%w: p=%d not in [1,%d]", ErrMalformedHash, th, maxThreads)
	case t < 1 || t > maxTime:
		return p, nil, nil, fmt.Errorf("%w: t=%d not in [1,%d]", ErrMalformedHash, t, maxTime)
	case m < 8*th || m > maxMemoryKiB:
		return p, nil, nil, fmt.Errorf("%w: m=%d not in [8*p,%d]", ErrMalformedHash, m, maxMemoryKiB)
	}
	if salt, err = decodeB64(fields[1]); err != nil {
		return p, nil, nil, fmt.Errorf("%w: salt: %v", ErrMalformedHash, err)
	}
	if key, err = decodeB64(fields[2]); err != nil {
		return p, nil, nil, fmt.Errorf("%w: key: %v", ErrMalformedHash, err)
	}
	if len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return p, nil, nil, fmt.Errorf("%w: salt length %d not in [%d,%d]", ErrMalformedHash, len(salt), minSaltLen, maxSaltLen)
	}
	// An empty key would match every password; a short one is a weak tag.
	if len(key) < minKeyLen || len(key) > maxKeyLen {
		return p, nil, nil, fmt.Errorf("%w: key length %d not in [%d,%d]", ErrMalformedHash, len(key), minKeyLen, maxKeyLen)
	}
	p = Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(th), SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	return p, salt, key, nil
}

// parseDecimal accepts 1 to 10 ASCII digits without a leading zero.
func parseDecimal(s string) (uint64, error) {
	if s == "" || len(s) > 10 {
		return 0, errors.New("is not a 1 to 10 digit number")
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, errors.New("has a leading zero")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("is not a decimal number")
		}
	}
	return strconv.ParseUint(s, 10, 64)
}

// decodeB64 decodes unpadded standard base64, rejecting any byte outside
// the alphabet (the base64 package would otherwise skip CR and LF).
func decodeB64(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return nil, errors.New("invalid base64 character")
		}
	}
	return b64.DecodeString(s)
}

// VerifyPassword reports whether password matches the PHC-encoded argon2id
// hash, comparing the derived key in constant time (crypto/subtle). A
// malformed hash, including one whose cost parameters exceed the bounds
// (m > 1 GiB, t > 100, p not in [1,64]), yields false and an error wrapping
// ErrMalformedHash; argon2 is not run in that case.
func VerifyPassword(password, encoded string) (bool, error) {
	p, salt, want, err := decodeHash(encoded)
	if err != nil {
		return false, err
	}
	got := idKey([]byte(password), salt, p)
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummySaltPattern is repeated to form the fixed salt of the dummy hash.
const dummySaltPattern = "gatehouse/authn!"

// dummyHash is the fixed hash DummyVerify verifies against: DefaultParams'
// cost with a fixed salt and an all-zero key. It is rebuilt from the
// current DefaultParams on each call (formatting is negligible next to
// argon2), so the dummy always costs what a real default hash costs.
func dummyHash() string {
	p := DefaultParams
	if p.validate() != nil {
		p = Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
	}
	salt := make([]byte, p.SaltLen)
	for i := range salt {
		salt[i] = dummySaltPattern[i%len(dummySaltPattern)]
	}
	return encodeHash(p, salt, make([]byte, p.KeyLen))
}

// DummyVerify runs one argon2id verification with DefaultParams against a
// fixed dummy hash and discards the result, so that a sign-in for an
// unknown user costs the same time as one for a known user.
func DummyVerify(password string) {
	_, _ = VerifyPassword(password, dummyHash())
}
