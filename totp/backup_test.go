package totp

import (
	"strings"
	"testing"
)

func TestBackupCodes(t *testing.T) {
	key := serverKey(t)
	codes, hashes, err := NewBackupCodes(key, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 10 || len(hashes) != 10 {
		t.Fatalf("%d codes, %d hashes; want 10", len(codes), len(hashes))
	}
	seen := map[string]bool{}
	for i, c := range codes {
		if len(c) != 11 || c[5] != '-' {
			t.Errorf("code %q is not xxxxx-xxxxx", c)
		}
		for _, r := range strings.ReplaceAll(c, "-", "") {
			if !strings.ContainsRune(backupAlphabet, r) {
				t.Errorf("code %q holds %q", c, r)
			}
		}
		if seen[c] {
			t.Errorf("code %q twice", c)
		}
		seen[c] = true
		if hashes[i] == c || strings.Contains(hashes[i], strings.ReplaceAll(c, "-", "")) {
			t.Errorf("hash %d holds its code", i)
		}
		if idx, ok := MatchBackupCode(key, hashes, c); !ok || idx != i {
			t.Errorf("code %d matches %d, %v", i, idx, ok)
		}
	}
	if len(backupAlphabet) != 32 || BackupCodeLength*5 < 50 {
		t.Errorf("alphabet of %d symbols, %d symbols a code", len(backupAlphabet), BackupCodeLength)
	}

	// Normalisation: case, spaces, dashes, and i/l/o read as 1/1/0.
	c := codes[3]
	plain := strings.ReplaceAll(c, "-", "")
	variants := []string{
		strings.ToUpper(c), plain, " " + plain[:3] + " " + plain[3:7] + "-" + plain[7:] + "\t",
		strings.NewReplacer("1", "l", "0", "o").Replace(c), strings.NewReplacer("1", "I", "0", "O").Replace(c),
	}
	for _, v := range variants {
		if idx, ok := MatchBackupCode(key, hashes, v); !ok || idx != 3 {
			t.Errorf("variant %q matches %d, %v", v, idx, ok)
		}
	}

	// Each code once: the caller blanks a used hash.
	used := append([]string(nil), hashes...)
	used[3] = ""
	if _, ok := MatchBackupCode(key, used, c); ok {
		t.Error("used code matched again")
	}
	for i, c := range codes {
		if i == 3 {
			continue
		}
		if idx, ok := MatchBackupCode(key, used, c); !ok || idx != i {
			t.Errorf("after using code 3, code %d matches %d, %v", i, idx, ok)
		}
	}

	// Refusals.
	flip := []byte(plain)
	if flip[0] == 'a' {
		flip[0] = 'b'
	} else {
		flip[0] = 'a'
	}
	for _, wrong := range []string{"", "-", string(flip), plain[:9], plain + "a", plain[:9] + "u", "hashes[0]", hashes[0]} {
		if idx, ok := MatchBackupCode(key, hashes, wrong); ok {
			t.Errorf("wrong code %q matched %d", wrong, idx)
		}
	}
	if _, ok := MatchBackupCode(serverKey(t), hashes, c); ok {
		t.Error("code matched under another key")
	}
	if _, ok := MatchBackupCode(key, nil, c); ok {
		t.Error("code matched no hashes")
	}

	// Another set is different; n is honoured; a key is required.
	codes2, _, err := NewBackupCodes(key, 3)
	if err != nil || len(codes2) != 3 {
		t.Fatalf("NewBackupCodes(3) = %d codes, %v", len(codes2), err)
	}
	for _, c := range codes2 {
		if seen[c] {
			t.Errorf("code %q in two sets", c)
		}
	}
	if _, _, err := NewBackupCodes(nil, 10); err == nil {
		t.Error("NewBackupCodes without a key succeeded")
	}
}

func TestNormalizeBackupCode(t *testing.T) {
	for in, want := range map[string]string{
		"ABCDE-FGHJK":     "abcdefghjk",
		" ab cd\te-f ":    "abcdef",
		"iIlLoO":          "111100",
		"--":              "",
		"ü":               "ü",
		"01234-56789":     "0123456789",
		"Crockford-Base":  "cr0ckf0rdbase",
		"0o1il-IL0Oo":     "0011111000",
		"xyz\x00":         "xyz\x00",
		"abcde\u00a0fghj": "abcde\u00a0fghj",
	} {
		if got := string(normalizeBackupCode(in)); got != want {
			t.Errorf("normalize(%q) = %q, want %q", in, got, want)
		}
	}
}
