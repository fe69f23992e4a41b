package storage

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// recordVersion is the first byte of every encoded record. A reader that
// meets another version refuses the record instead of misreading it.
const recordVersion = 1

// Account is the stored part of an account; its name is its key.
type Account struct {
	Description string
	Parent      string // "" for a root account
}

// User is the stored part of a user; its name and account are its key.
type User struct {
	PasswordHash    string // argon2id PHC string, "" when the user has no password
	Email           string
	FullName        string
	Enabled         bool
	PasswordExpired bool
	Created         int64 // Unix seconds
	// PasswordChanged is when the password was last set (Unix seconds);
	// 0 in records written before it was kept.
	PasswordChanged int64
	// PasswordHistory holds the hashes of the user's previous passwords,
	// newest first (the password policy trims it to auth.password.history).
	PasswordHistory HashList
}

// HashList is a list of password hashes in one string (each a uvarint
// length and its bytes), so that User stays comparable with ==. Build it
// with NewHashList, read it with Hashes.
type HashList string

// NewHashList returns the list of hashes, in order.
func NewHashList(hashes ...string) HashList {
	var b []byte
	for _, h := range hashes {
		b = binary.AppendUvarint(b, uint64(len(h)))
		b = append(b, h...)
	}
	return HashList(b)
}

// wellFormed reports whether every length in l fits what follows it
// (Hashes drops nothing).
func (l HashList) wellFormed() bool {
	rest := string(l)
	for len(rest) > 0 {
		n, w := uvarint(rest)
		if w <= 0 || uint64(len(rest)-w) < n {
			return false
		}
		rest = rest[w+int(n):]
	}
	return true
}

// Hashes returns the hashes in the list, in order. A malformed tail (a
// length running past the end) is dropped.
func (l HashList) Hashes() []string {
	var out []string
	rest := string(l)
	for len(rest) > 0 {
		n, w := uvarint(rest)
		if w <= 0 || uint64(len(rest)-w) < n {
			break
		}
		out = append(out, rest[w:w+int(n)])
		rest = rest[w+int(n):]
	}
	return out
}

// Role is the stored part of a role.
type Role struct{ Description string }

// Group is the stored part of a group.
type Group struct{ Description string }

// fields is the wire form of a record: ordered strings.
type fields []string

func encodeFields(f fields) string {
	n := 1
	for _, s := range f {
		n += binary.MaxVarintLen64 + len(s)
	}
	b := make([]byte, 1, n)
	b[0] = recordVersion
	for _, s := range f {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return string(b)
}

// decodeFields reads record v into f: its fields are substrings of v (no
// copies). Fields added by later versions beyond len(f) are ignored;
// missing trailing fields read as empty, so older records still decode.
func decodeFields(v string, f []string) error {
	if len(v) == 0 || v[0] != recordVersion {
		return fmt.Errorf("record: unknown version")
	}
	clear(f)
	rest := v[1:]
	for i := 0; len(rest) > 0; i++ {
		l, n := uvarint(rest)
		if n <= 0 || uint64(len(rest)-n) < l {
			return fmt.Errorf("record: truncated field %d", i)
		}
		if i < len(f) {
			f[i] = rest[n : n+int(l)]
		}
		rest = rest[n+int(l):]
	}
	return nil
}

// uvarint is binary.Uvarint over a string.
func uvarint(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		c := s[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				return 0, -(i + 1) // overflow
			}
			return x | uint64(c)<<shift, i + 1
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	return 0, 0
}

func boolField(b bool) string {
	if b {
		return "1"
	}
	return ""
}

// Encode returns the compact stored form.
func (a Account) Encode() string { return encodeFields(fields{a.Description, a.Parent}) }

// DecodeAccount reads an Account record.
func DecodeAccount(v string) (Account, error) {
	var f [2]string
	err := decodeFields(v, f[:])
	if err != nil {
		return Account{}, err
	}
	return Account{Description: f[0], Parent: f[1]}, nil
}

// Encode returns the compact stored form. The password's change time and
// history are fields 7 and 8, added after the first six: a record without
// them (written before) decodes with PasswordChanged 0 and no history, and
// a user that has neither is encoded without them, as before.
func (u User) Encode() string {
	f := fields{u.PasswordHash, u.Email, u.FullName, boolField(u.Enabled),
		boolField(u.PasswordExpired), strconv.FormatInt(u.Created, 10)}
	if u.PasswordChanged != 0 || u.PasswordHistory != "" {
		f = append(f, strconv.FormatInt(u.PasswordChanged, 10), string(u.PasswordHistory))
	}
	return encodeFields(f)
}

// DecodeUser reads a User record, of either length.
func DecodeUser(v string) (User, error) {
	var f [8]string
	err := decodeFields(v, f[:])
	if err != nil {
		return User{}, err
	}
	// Decoding is on the hot path of every sign-in and user document:
	// it allocates nothing for a well-formed record (an empty number is
	// not parsed, as its error would allocate; a well-formed history is
	// kept as stored).
	var created, changed int64
	if f[5] != "" {
		created, _ = strconv.ParseInt(f[5], 10, 64)
	}
	if f[6] != "" {
		changed, _ = strconv.ParseInt(f[6], 10, 64)
	}
	history := HashList(f[7])
	if !history.wellFormed() {
		history = NewHashList(history.Hashes()...)
	}
	return User{PasswordHash: f[0], Email: f[1], FullName: f[2], Enabled: f[3] == "1",
		PasswordExpired: f[4] == "1", Created: created, PasswordChanged: changed,
		PasswordHistory: history}, nil
}

// Encode returns the compact stored form.
func (r Role) Encode() string { return encodeFields(fields{r.Description}) }

// DecodeRole reads a Role record.
func DecodeRole(v string) (Role, error) {
	var f [1]string
	err := decodeFields(v, f[:])
	if err != nil {
		return Role{}, err
	}
	return Role{Description: f[0]}, nil
}

// Encode returns the compact stored form.
func (g Group) Encode() string { return encodeFields(fields{g.Description}) }

// DecodeGroup reads a Group record.
func DecodeGroup(v string) (Group, error) {
	var f [1]string
	err := decodeFields(v, f[:])
	if err != nil {
		return Group{}, err
	}
	return Group{Description: f[0]}, nil
}
