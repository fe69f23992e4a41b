package totp

import (
	"bytes"
	"testing"
)

// FuzzMatchBackupCode checks MatchBackupCode against a plain oracle: an
// input matches exactly when its normalised form is a valid code equal
// to a code's normalised form, and then at that code's index.
// Normalisation is idempotent.
func FuzzMatchBackupCode(f *testing.F) {
	key := bytes.Repeat([]byte{7}, 32)
	codes := []string{"abcde-fghjk", "01234-56789", "mnpqr-stvwx", "yz01a-bcdef"}
	hashes := make([]string, len(codes))
	for i, c := range codes {
		hashes[i] = hashBackupCode(key, normalizeBackupCode(c))
	}
	for _, c := range codes {
		f.Add(c)
	}
	f.Add("ABCDE FGHJK")
	f.Add("oi234-56789")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		norm := normalizeBackupCode(in)
		if again := normalizeBackupCode(string(norm)); !bytes.Equal(again, norm) {
			t.Fatalf("normalize not idempotent: %q → %q → %q", in, norm, again)
		}
		if bytes.ContainsAny(norm, " \t-ABCDEFGHIJKLMNOPQRSTUVWXYZilo") {
			t.Fatalf("normalize(%q) = %q keeps a separator, capital or ambiguous letter", in, norm)
		}
		want := -1
		for i, c := range codes {
			if string(norm) == string(normalizeBackupCode(c)) {
				want = i
				break
			}
		}
		idx, ok := MatchBackupCode(key, hashes, in)
		if ok != (want >= 0) || (ok && idx != want) {
			t.Fatalf("MatchBackupCode(%q) = %d, %v; want %d", in, idx, ok, want)
		}
		if !ok && idx != -1 {
			t.Fatalf("no match but index %d", idx)
		}
	})
}
