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

func decodeFields(v string, want int) (fields, error) {
	if len(v) == 0 || v[0] != recordVersion {
		return nil, fmt.Errorf("record: unknown version")
	}
	out := make(fields, 0, want)
	b := []byte(v[1:])
	for len(b) > 0 {
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			return nil, fmt.Errorf("record: truncated field %d", len(out))
		}
		out = append(out, string(b[n:n+int(l)]))
		b = b[n+int(l):]
	}
	// Fields added by later versions are appended; missing trailing
	// fields read as empty so older records still decode.
	for len(out) < want {
		out = append(out, "")
	}
	return out, nil
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
	f, err := decodeFields(v, 2)
	if err != nil {
		return Account{}, err
	}
	return Account{Description: f[0], Parent: f[1]}, nil
}

// Encode returns the compact stored form.
func (u User) Encode() string {
	return encodeFields(fields{u.PasswordHash, u.Email, u.FullName, boolField(u.Enabled),
		boolField(u.PasswordExpired), strconv.FormatInt(u.Created, 10)})
}

// DecodeUser reads a User record.
func DecodeUser(v string) (User, error) {
	f, err := decodeFields(v, 6)
	if err != nil {
		return User{}, err
	}
	created, _ := strconv.ParseInt(f[5], 10, 64)
	return User{PasswordHash: f[0], Email: f[1], FullName: f[2], Enabled: f[3] == "1",
		PasswordExpired: f[4] == "1", Created: created}, nil
}

// Encode returns the compact stored form.
func (r Role) Encode() string { return encodeFields(fields{r.Description}) }

// DecodeRole reads a Role record.
func DecodeRole(v string) (Role, error) {
	f, err := decodeFields(v, 1)
	if err != nil {
		return Role{}, err
	}
	return Role{Description: f[0]}, nil
}

// Encode returns the compact stored form.
func (g Group) Encode() string { return encodeFields(fields{g.Description}) }

// DecodeGroup reads a Group record.
func DecodeGroup(v string) (Group, error) {
	f, err := decodeFields(v, 1)
	if err != nil {
		return Group{}, err
	}
	return Group{Description: f[0]}, nil
}
