// Package xmltext escapes text and attribute values for XML exactly as
// beevik/etree writes them, so the documents gatehouse streams (the
// resources' renderer, the pipeline's problem documents) are byte for
// byte what an etree document would have been: & < > ' " as entities;
// tab, newline and carriage return as they are; every character XML does
// not allow, and every byte of invalid UTF-8, as U+FFFD. It allocates
// nothing beyond growing the caller's buffer.
package xmltext

import "unicode/utf8"

// escaped marks the ASCII bytes text and attribute values escape or
// replace: markup characters, and control characters XML does not allow.
var escaped = func() (t [utf8.RuneSelf]bool) {
	for c := range 0x20 {
		t[c] = c != '\t' && c != '\n' && c != '\r'
	}
	for _, c := range `&<>'"` {
		t[c] = true
	}
	return t
}()

// Append appends s to b escaped, and returns the extended buffer.
func Append(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			if !escaped[c] {
				continue
			}
			b = append(b, s[last:i-1]...)
			switch c {
			case '&':
				b = append(b, "&amp;"...)
			case '<':
				b = append(b, "&lt;"...)
			case '>':
				b = append(b, "&gt;"...)
			case '\'':
				b = append(b, "&apos;"...)
			case '"':
				b = append(b, "&quot;"...)
			default:
				b = append(b, "\uFFFD"...)
			}
			last = i
			continue
		}
		r, width := utf8.DecodeRuneInString(s[i:])
		i += width
		if (r == utf8.RuneError && width == 1) || !allowed(r) {
			b = append(b, s[last:i-width]...)
			b = append(b, "\uFFFD"...)
			last = i
		}
	}
	return append(b, s[last:]...)
}

// allowed reports whether XML allows r (beyond ASCII).
func allowed(r rune) bool {
	return r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}
