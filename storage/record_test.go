package storage_test

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"gatehouse/storage"
)

// rawRecord builds a record by hand: the version byte, then each field
// as a uvarint length and its bytes.
func rawRecord(version byte, fields ...string) string {
	b := []byte{version}
	for _, f := range fields {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return string(b)
}

// awkward strings that a naive separator-based encoding would break on.
var awkward = []string{
	"",
	"plain",
	"with/slash and space",
	"\x00\x01\xff",
	"ünïcødé ✓",
	strings.Repeat("x", 300), // length needs a two-byte uvarint
	"\x01",                   // looks like a version byte
}

func TestAccountRoundTrip(t *testing.T) {
	for _, d := range awkward {
		for _, p := range []string{"", "parent", d} {
			in := storage.Account{Description: d, Parent: p}
			enc := in.Encode()
			if enc[0] != 1 {
				t.Errorf("Encode(%+v) starts with version %d, want 1", in, enc[0])
			}
			out, err := storage.DecodeAccount(enc)
			if err != nil || out != in {
				t.Errorf("DecodeAccount(Encode(%q, %q)) = %+v, %v", d, p, out, err)
			}
		}
	}
}

func TestUserRoundTrip(t *testing.T) {
	users := []storage.User{
		{},
		{PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA", Email: "a@example.com", FullName: "Alice Liddell",
			Enabled: true, PasswordExpired: true, Created: 1_700_000_000},
		{Enabled: true},
		{PasswordExpired: true},
		{Created: -1},
		{Created: math.MaxInt64},
		{Created: math.MinInt64},
		{FullName: "1", Email: "1"}, // "1" is how true is stored; must stay a string here
	}
	for _, d := range awkward {
		users = append(users, storage.User{PasswordHash: d, Email: d, FullName: d, Enabled: d == "", Created: int64(len(d))})
	}
	for _, in := range users {
		out, err := storage.DecodeUser(in.Encode())
		if err != nil || out != in {
			t.Errorf("DecodeUser(Encode(%+v)) = %+v, %v", in, out, err)
		}
	}
}

func TestRoleGroupRoundTrip(t *testing.T) {
	for _, d := range awkward {
		r, err := storage.DecodeRole(storage.Role{Description: d}.Encode())
		if err != nil || r.Description != d {
			t.Errorf("role %q round trip = %+v, %v", d, r, err)
		}
		g, err := storage.DecodeGroup(storage.Group{Description: d}.Encode())
		if err != nil || g.Description != d {
			t.Errorf("group %q round trip = %+v, %v", d, g, err)
		}
	}
}

func TestDecodeGarbage(t *testing.T) {
	garbage := map[string]string{
		"empty":                 "",
		"unknown version 0":     "\x00",
		"unknown version 2":     rawRecord(2, "a", "b"),
		"text":                  "hello",
		"length past the end":   "\x01\x05ab",
		"second field too long": rawRecord(1, "a") + "\x7fxyz",
		"unfinished uvarint":    "\x01\x80",
		"uvarint overflow":      "\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
		"huge length":           "\x01\xff\xff\xff\xff\xff\xff\xff\xff\x7f",
		"max uint64 length":     "\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01x",
	}
	decoders := map[string]func(string) error{
		"Account": func(v string) error { _, err := storage.DecodeAccount(v); return err },
		"User":    func(v string) error { _, err := storage.DecodeUser(v); return err },
		"Role":    func(v string) error { _, err := storage.DecodeRole(v); return err },
		"Group":   func(v string) error { _, err := storage.DecodeGroup(v); return err },
	}
	for name, in := range garbage {
		for dn, dec := range decoders {
			t.Run(dn+"/"+name, func(t *testing.T) {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("Decode%s(%q) panicked: %v", dn, in, r)
					}
				}()
				if err := dec(in); err == nil {
					t.Errorf("Decode%s(%q) = nil error, want an error", dn, in)
				}
			})
		}
	}
}

func TestDecodeFewerFields(t *testing.T) {
	// An older record with fewer fields reads the missing ones as empty.
	u, err := storage.DecodeUser(rawRecord(1, "hash", "a@x"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (storage.User{PasswordHash: "hash", Email: "a@x"}); u != want {
		t.Errorf("DecodeUser(2 fields) = %+v, want %+v", u, want)
	}
	u, err = storage.DecodeUser(rawRecord(1, "hash", "a@x", "Al", "1"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (storage.User{PasswordHash: "hash", Email: "a@x", FullName: "Al", Enabled: true}); u != want {
		t.Errorf("DecodeUser(4 fields) = %+v, want %+v", u, want)
	}
	u, err = storage.DecodeUser(rawRecord(1))
	if err != nil || u != (storage.User{}) {
		t.Errorf("DecodeUser(no fields) = %+v, %v", u, err)
	}
	a, err := storage.DecodeAccount(rawRecord(1, "desc"))
	if err != nil || a != (storage.Account{Description: "desc"}) {
		t.Errorf("DecodeAccount(1 field) = %+v, %v", a, err)
	}
	r, err := storage.DecodeRole(rawRecord(1))
	if err != nil || r.Description != "" {
		t.Errorf("DecodeRole(no fields) = %+v, %v", r, err)
	}
	g, err := storage.DecodeGroup(rawRecord(1))
	if err != nil || g.Description != "" {
		t.Errorf("DecodeGroup(no fields) = %+v, %v", g, err)
	}
	// A newer record with extra trailing fields still reads the known ones.
	r, err = storage.DecodeRole(rawRecord(1, "d", "future"))
	if err != nil || r.Description != "d" {
		t.Errorf("DecodeRole(extra field) = %+v, %v", r, err)
	}
	u, err = storage.DecodeUser(rawRecord(1, "h", "e", "f", "1", "1", "42", "future", "more"))
	if err != nil || u != (storage.User{PasswordHash: "h", Email: "e", FullName: "f", Enabled: true, PasswordExpired: true, Created: 42}) {
		t.Errorf("DecodeUser(extra fields) = %+v, %v", u, err)
	}
}

func TestValidName(t *testing.T) {
	valid := []string{
		"a",
		"alice",
		"Alice.Smith",
		"a_b-c.d@e+f",
		"user@example.com",
		"0123456789",
		"a.",
		"a..b",
		"-",
		"@",
		strings.Repeat("x", storage.MaxNameLength),
	}
	for _, n := range valid {
		if err := storage.ValidName(n); err != nil {
			t.Errorf("ValidName(%q) = %v, want nil", n, err)
		}
	}
	invalid := []struct {
		name, in string
		msg      string // the error message must contain this
	}{
		{"empty", "", "empty"},
		{"129 characters", strings.Repeat("x", storage.MaxNameLength+1), "longer than 128"},
		{"leading dot", ".hidden", "starts with '.'"},
		{"dot", ".", "starts with '.'"},
		{"dot dot", "..", "starts with '.'"},
		{"slash", "a/b", "only letters, digits"},
		{"only slash", "/", "only letters, digits"},
		{"space", "a b", "only letters, digits"},
		{"tab", "a\tb", "only letters, digits"},
		{"non-ASCII", "zoë", "only letters, digits"},
		{"NUL", "a\x00", "only letters, digits"},
		{"colon", "a:b", "only letters, digits"},
		{"star", "*", "only letters, digits"},
		{"backslash", `a\b`, "only letters, digits"},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			err := storage.ValidName(tc.in)
			if err == nil {
				t.Fatalf("ValidName(%q) = nil, want an error", tc.in)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("ValidName(%q) = %q, want a message containing %q", tc.in, err, tc.msg)
			}
		})
	}
}

func TestUserPasswordHistoryRoundTrip(t *testing.T) {
	hashes := []string{"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5", "", strings.Repeat("h", 300), "\x01"}
	for n := 0; n <= len(hashes); n++ {
		in := storage.User{PasswordHash: "cur", Enabled: true, Created: 1_700_000_000,
			PasswordChanged: 1_700_000_500, PasswordHistory: storage.NewHashList(hashes[:n]...)}
		out, err := storage.DecodeUser(in.Encode())
		if err != nil || out != in {
			t.Fatalf("DecodeUser(Encode(%+v)) = %+v, %v", in, out, err)
		}
		got := out.PasswordHistory.Hashes()
		if len(got) != n {
			t.Fatalf("history of %d hashes reads back %d: %q", n, len(got), got)
		}
		for i := range got {
			if got[i] != hashes[i] {
				t.Errorf("hash %d = %q, want %q", i, got[i], hashes[i])
			}
		}
	}
}

func TestUserOldRecordStillReads(t *testing.T) {
	// A record written before the password's change time and history
	// were kept: six fields. It reads with PasswordChanged 0 and no
	// history, and a user without them encodes to those same six fields.
	old := rawRecord(1, "hash", "a@x", "Al", "1", "", "1700000000")
	u, err := storage.DecodeUser(old)
	if err != nil {
		t.Fatal(err)
	}
	want := storage.User{PasswordHash: "hash", Email: "a@x", FullName: "Al", Enabled: true, Created: 1_700_000_000}
	if u != want {
		t.Errorf("DecodeUser(six fields) = %+v, want %+v", u, want)
	}
	if u.PasswordChanged != 0 || u.PasswordHistory.Hashes() != nil {
		t.Errorf("old record has change time %d and history %q", u.PasswordChanged, u.PasswordHistory.Hashes())
	}
	if enc := u.Encode(); enc != old {
		t.Errorf("Encode of a user without history = %q, want the old form %q", enc, old)
	}
	// A new record: eight fields.
	u.PasswordChanged = 1_700_000_001
	u.PasswordHistory = storage.NewHashList("old")
	if enc, want := u.Encode(), rawRecord(1, "hash", "a@x", "Al", "1", "", "1700000000", "1700000001", "\x03old"); enc != want {
		t.Errorf("Encode with history = %q, want %q", enc, want)
	}
}

func TestHashListMalformedTail(t *testing.T) {
	// A length running past the end drops the tail; DecodeUser keeps the
	// well-formed head, so a second round trip is stable.
	l := storage.NewHashList("a", "bc") + "\x05x"
	if got := l.Hashes(); len(got) != 2 || got[0] != "a" || got[1] != "bc" {
		t.Errorf("Hashes() = %q, want [a bc]", got)
	}
	u, err := storage.DecodeUser(rawRecord(1, "h", "", "", "", "", "0", "5", string(l)))
	if err != nil {
		t.Fatal(err)
	}
	if u.PasswordHistory != storage.NewHashList("a", "bc") || u.PasswordChanged != 5 {
		t.Errorf("DecodeUser kept history %q, changed %d", u.PasswordHistory, u.PasswordChanged)
	}
	if storage.NewHashList() != "" {
		t.Errorf("NewHashList() = %q, want empty", storage.NewHashList())
	}
}
