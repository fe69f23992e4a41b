package storage

import "fmt"

// MaxNameLength is the longest name an account, user, role, group,
// attribute or rule may have.
const MaxNameLength = 128

// ValidName reports why name is not a valid entity name, or nil: 1–128
// ASCII letters, digits and ". _ - @ +", not "." or "..", not starting
// with ".". The key layout relies on names never holding "/".
func ValidName(name string) error {
	if len(name) == 0 {
		return fmt.Errorf("name is empty")
	}
	if len(name) > MaxNameLength {
		return fmt.Errorf("name %q is longer than %d characters", name, MaxNameLength)
	}
	if name[0] == '.' {
		return fmt.Errorf("name %q starts with '.'", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '_', c == '-', c == '@', c == '+':
		default:
			return fmt.Errorf("name %q holds %q: only letters, digits and . _ - @ + are allowed", name, c)
		}
	}
	return nil
}
