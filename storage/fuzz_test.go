package storage_test

import (
	"strings"
	"testing"

	"gatehouse/storage"
)

// FuzzDecodeUser: DecodeUser never panics on any bytes, and whatever it
// accepts survives Encode → Decode unchanged (the first decode may
// normalise, e.g. an unparsable Created reads as 0, but only once).
func FuzzDecodeUser(f *testing.F) {
	f.Add([]byte(storage.User{PasswordHash: "h", Email: "a@x", FullName: "A", Enabled: true, Created: 1700000000}.Encode()))
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add([]byte("\x01\x05ab"))
	f.Add([]byte(rawRecord(1, "h", "e", "f", "yes", "1", "not a number")))
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := storage.DecodeUser(string(b))
		if err != nil {
			return
		}
		enc := u.Encode()
		u2, err := storage.DecodeUser(enc)
		if err != nil {
			t.Fatalf("DecodeUser(%q) = %+v, but its encoding %q does not decode: %v", b, u, enc, err)
		}
		if u2 != u {
			t.Fatalf("round trip changed the user: %+v → %+v", u, u2)
		}
		if enc2 := u2.Encode(); enc2 != enc {
			t.Fatalf("encoding is not stable: %q → %q", enc, enc2)
		}
	})
}

// FuzzValidName: ValidName never panics; a name it accepts is 1–128
// characters of the allowed set, never holds '/' and never starts with
// '.'; a name it refuses gets a message.
func FuzzValidName(f *testing.F) {
	for _, s := range []string{"alice", "", ".x", "a/b", "..", "zoë", strings.Repeat("y", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := storage.ValidName(name)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("ValidName(%q) refused without a message", name)
			}
			return
		}
		if strings.Contains(name, "/") {
			t.Fatalf("ValidName accepted %q, which holds '/'", name)
		}
		if len(name) == 0 || len(name) > storage.MaxNameLength || name[0] == '.' {
			t.Fatalf("ValidName accepted %q", name)
		}
		for i := 0; i < len(name); i++ {
			c := name[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._-@+", c) >= 0) {
				t.Fatalf("ValidName accepted %q, which holds %q", name, c)
			}
		}
	})
}
