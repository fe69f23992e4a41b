package authz

import (
	"strings"
	"unicode/utf8"
)

// Glob reports whether name matches the console filter pattern. Matching is
// case-insensitive for ASCII letters only. '*' matches any run of
// characters (including none) and '?' exactly one character (one UTF-8
// encoded rune); a pattern containing a wildcard must match the whole name.
// A pattern without any wildcard is a case-insensitive substring match, so
// the empty pattern matches every name. It does not allocate.
func Glob(pattern, name string) bool {
	if !strings.ContainsAny(pattern, "*?") {
		return containsFold(name, pattern)
	}
	p, n := 0, 0
	starP, starN := -1, 0 // pattern offset of the last '*' and where its run ends in name
	for n < len(name) {
		if p < len(pattern) {
			switch c := pattern[p]; c {
			case '*':
				starP, starN = p, n
				p++
				continue
			case '?':
				p++
				n += runeLen(name[n:])
				continue
			default:
				if lower(c) == lower(name[n]) {
					p++
					n++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last '*' absorb one more character and retry after it.
		starN += runeLen(name[starN:])
		p, n = starP+1, starN
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// runeLen returns the byte length of the first rune of s (1 for invalid
// UTF-8); s must not be empty.
func runeLen(s string) int {
	if s[0] < utf8.RuneSelf {
		return 1
	}
	_, w := utf8.DecodeRuneInString(s)
	return w
}

// lower folds ASCII upper-case letters to lower case.
func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// containsFold reports whether sub occurs in s, ASCII case-insensitively.
func containsFold(s, sub string) bool {
	if len(sub) == 0 {
		return true
	}
	first := lower(sub[0])
outer:
	for i := 0; i+len(sub) <= len(s); i++ {
		if lower(s[i]) != first {
			continue
		}
		for j := 1; j < len(sub); j++ {
			if lower(s[i+j]) != lower(sub[j]) {
				continue outer
			}
		}
		return true
	}
	return false
}
