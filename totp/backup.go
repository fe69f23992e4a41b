package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
)

// Backup code shape.
const (
	BackupCodes      = 10 // codes in a set
	BackupCodeLength = 10 // symbols of a code (5 bits each: 50 bits)
	backupGroup      = 5  // symbols shown between dashes
)

// backupAlphabet is Crockford's base32 in lower case: no i, l, o, u.
const backupAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// NewBackupCodes draws n codes (BackupCodes when n <= 0) and their
// hashes under key (the server key BackupKeyName); codes[i] matches
// hashes[i]. Only the hashes are to be stored.
func NewBackupCodes(key []byte, n int) (codes, hashes []string, err error) {
	if len(key) == 0 {
		return nil, nil, errors.New("totp: backup-code key is empty")
	}
	if n <= 0 {
		n = BackupCodes
	}
	seen := make(map[string]bool, n)
	raw := make([]byte, BackupCodeLength)
	for len(codes) < n {
		if _, err := rand.Read(raw); err != nil {
			return nil, nil, err
		}
		c := make([]byte, 0, BackupCodeLength+BackupCodeLength/backupGroup)
		for i, b := range raw {
			if i > 0 && i%backupGroup == 0 {
				c = append(c, '-')
			}
			c = append(c, backupAlphabet[b&31]) // 32 divides 256: uniform
		}
		norm := string(normalizeBackupCode(string(c)))
		if seen[norm] {
			continue
		}
		seen[norm] = true
		codes = append(codes, string(c))
		hashes = append(hashes, hashBackupCode(key, []byte(norm)))
	}
	return codes, hashes, nil
}

// MatchBackupCode returns the index of the hash code matches under key,
// comparing against every hash in constant time. Empty hashes (used
// codes) never match.
func MatchBackupCode(key []byte, hashes []string, code string) (index int, ok bool) {
	norm := normalizeBackupCode(code)
	valid := len(norm) == BackupCodeLength
	for _, c := range norm {
		if !validSymbol(c) {
			valid = false
		}
	}
	h := []byte(hashBackupCode(key, norm))
	index, found := 0, 0
	for i, s := range hashes {
		eq := subtle.ConstantTimeCompare(h, []byte(s))
		first := eq & (1 - found)
		index = subtle.ConstantTimeSelect(first, i, index)
		found |= eq
	}
	if !valid || found == 0 || len(key) == 0 {
		return -1, false
	}
	return index, true
}

// normalizeBackupCode lower-cases code, drops spaces, tabs and dashes,
// and reads i and l as 1, o as 0.
func normalizeBackupCode(code string) []byte {
	out := make([]byte, 0, BackupCodeLength)
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case c == ' ' || c == '\t' || c == '-':
			continue
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		switch c {
		case 'i', 'l':
			c = '1'
		case 'o':
			c = '0'
		}
		out = append(out, c)
	}
	return out
}

func validSymbol(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' && c != 'i' && c != 'l' && c != 'o' && c != 'u'
}

// hashBackupCode is base64url of HMAC-SHA-256 of a normalised code.
func hashBackupCode(key, norm []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("gatehouse-backup-code\x00"))
	m.Write(norm)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
