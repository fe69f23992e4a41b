package authz

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// maxParts is the largest number of ':'-separated parts a permission may have.
	maxParts = 16
	// maxLen is the largest length of a permission string, in bytes (all
	// valid permissions are ASCII, so bytes and characters coincide).
	maxLen = 256
)

// Validate reports whether s is a well-formed permission string. The error
// says exactly what is wrong, e.g. `permission "a::b": empty part 2`. Part
// and subpart numbers are 1-based; offsets are 0-based byte offsets.
func Validate(s string) error {
	if s == "" {
		return fmt.Errorf("permission %q: empty", s)
	}
	if len(s) > maxLen {
		return fmt.Errorf("permission %s: too long (%d characters, max %d)", quoteShort(s), len(s), maxLen)
	}
	if n := strings.Count(s, ":") + 1; n > maxParts {
		return fmt.Errorf("permission %q: too many parts (%d, max %d)", s, n, maxParts)
	}
	part, sub := 1, 1 // current part and subpart numbers (1-based)
	partStart, subStart := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ':':
			if msg := emptyCheck(s, i, part, sub, partStart, subStart); msg != "" {
				return fmt.Errorf("permission %q: %s", s, msg)
			}
			part++
			sub = 1
			partStart, subStart = i+1, i+1
		case c == ',':
			if msg := emptyCheck(s, i, part, sub, partStart, subStart); msg != "" {
				return fmt.Errorf("permission %q: %s", s, msg)
			}
			sub++
			subStart = i + 1
		case isPermByte(c):
		default:
			return fmt.Errorf("permission %q: %s", s, describeBad(s, i))
		}
	}
	if msg := emptyCheck(s, len(s), part, sub, partStart, subStart); msg != "" {
		return fmt.Errorf("permission %q: %s", s, msg)
	}
	return nil
}

// emptyCheck is called at a delimiter (or the end of s) at offset i and
// reports an empty part or subpart ending there, or "" when there is none.
func emptyCheck(s string, i, part, sub, partStart, subStart int) string {
	if i != subStart {
		return ""
	}
	if subStart == partStart && (i == len(s) || s[i] == ':') {
		return fmt.Sprintf("empty part %d", part)
	}
	return fmt.Sprintf("empty subpart %d of part %d", sub, part)
}

// describeBad describes the disallowed byte at offset i of s.
func describeBad(s string, i int) string {
	c := s[i]
	if c < utf8.RuneSelf {
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' {
			return fmt.Sprintf("white space %q at offset %d", rune(c), i)
		}
		return fmt.Sprintf("invalid character %q at offset %d", rune(c), i)
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && size <= 1 {
		return fmt.Sprintf("invalid byte 0x%02x at offset %d", c, i)
	}
	if unicode.IsSpace(r) {
		return fmt.Sprintf("white space %q at offset %d", r, i)
	}
	return fmt.Sprintf("invalid character %q at offset %d (only ASCII letters, digits and _ - . * are allowed)", r, i)
}

// quoteShort quotes s, shortened so that error messages stay small.
func quoteShort(s string) string {
	const keep = 32
	if len(s) <= keep {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q...", s[:keep])
}

// isPermByte reports whether c may appear inside a subpart.
func isPermByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '_' || c == '-' || c == '.' || c == '*'
}

// hasStar reports whether part contains the subpart "*".
func hasStar(part string) bool {
	if len(part) == 1 {
		return part[0] == '*'
	}
	for i := 0; i < len(part); i++ {
		// part[i] starts a subpart here.
		if part[i] == '*' && (i+1 == len(part) || part[i+1] == ',') {
			return true
		}
		for i < len(part) && part[i] != ',' {
			i++
		}
	}
	return false
}

// hasSub reports whether part has a subpart equal to sub.
func hasSub(part, sub string) bool {
	for {
		j := strings.IndexByte(part, ',')
		if j < 0 {
			return part == sub
		}
		if part[:j] == sub {
			return true
		}
		part = part[j+1:]
	}
}

// subset reports whether every subpart of want is a subpart of held.
func subset(held, want string) bool {
	if held == want {
		return true
	}
	for {
		j := strings.IndexByte(want, ',')
		if j < 0 {
			return hasSub(held, want)
		}
		if !hasSub(held, want[:j]) {
			return false
		}
		want = want[j+1:]
	}
}

// Implies reports whether held implies wanted, following the rules in the
// package documentation (Shiro WildcardPermission, case-sensitive). Both are
// assumed valid; invalid input never panics but gives an unspecified answer.
// It does not allocate.
func Implies(held, wanted string) bool {
	if held == wanted || held == "*" {
		return true
	}
	// hi and wi are the offsets of the next part; an offset past the end of
	// the string means that string's parts are exhausted.
	hi, wi := 0, 0
	for wi <= len(wanted) {
		if hi > len(held) {
			return true // held is shorter: it implies everything below it
		}
		hs, plain := hi, true
		for ; hi < len(held) && held[hi] != ':'; hi++ {
			if c := held[hi]; c == ',' || c == '*' {
				plain = false
			}
		}
		ws := wi
		for wi < len(wanted) && wanted[wi] != ':' {
			wi++
		}
		hp, wp := held[hs:hi], wanted[ws:wi]
		hi++
		wi++
		if hp == wp {
			continue
		}
		if plain {
			// A held part without ',' or '*' is a single literal subpart: it
			// implies only wanted parts listing just that subpart, possibly
			// repeated ("a" implies "a,a").
			if len(wp) <= len(hp) || wp[len(hp)] != ',' || !subset(hp, wp) {
				return false
			}
			continue
		}
		if !hasStar(hp) && !subset(hp, wp) {
			return false
		}
	}
	for hi <= len(held) {
		hs := hi
		for hi < len(held) && held[hi] != ':' {
			hi++
		}
		if !hasStar(held[hs:hi]) {
			return false
		}
		hi++
	}
	return true
}

// FirstImplying returns the index of the first element of held that implies
// wanted, or -1. It does not allocate.
func FirstImplying(held []string, wanted string) int {
	for i, h := range held {
		if Implies(h, wanted) {
			return i
		}
	}
	return -1
}

// Ceiling is an account's effective ceiling: the account's own permission
// set followed by each ancestor's set (own first). A permission is within
// the ceiling when EVERY level has some permission implying it. An empty
// Ceiling (no levels) allows nothing.
type Ceiling [][]string

// Allows reports whether p is within the ceiling: every level has a
// permission implying p. An empty Ceiling allows nothing. It does not
// allocate.
func (c Ceiling) Allows(p string) bool {
	if len(c) == 0 {
		return false
	}
	for _, level := range c {
		if FirstImplying(level, p) < 0 {
			return false
		}
	}
	return true
}

// Decide answers whether a principal holding held permissions, under
// ceiling c, is granted wanted: some held permission implies wanted AND
// c.Allows(wanted). It returns the index into held of the first granting
// permission, or -1. It does not allocate.
func Decide(held []string, c Ceiling, wanted string) int {
	i := FirstImplying(held, wanted)
	if i < 0 || !c.Allows(wanted) {
		return -1
	}
	return i
}

// Effective lists the effective permissions of a principal holding held
// under ceiling c: starting with H = held, for each level L of c,
// H = {h in H : some l in L implies h} ∪ {l in L : some h in H implies l}.
// The result is sorted byte-wise, without duplicates, and never nil (an
// empty slice when nothing is effective). Because an empty Ceiling allows
// nothing (see Ceiling.Allows), an empty c gives an empty result, so that
// every listed permission is one Decide grants. Permissions that are
// equivalent but spelled differently (e.g. "a:b" and "a:b:*") are both
// listed when both qualify.
func Effective(held []string, c Ceiling) []string {
	if len(c) == 0 {
		return []string{}
	}
	h := held
	for _, level := range c {
		h = Intersect(h, level)
		if len(h) == 0 {
			break
		}
	}
	return h
}

// Intersect returns the permissions of a that are implied by some
// permission of b, plus those of b implied by some permission of a (the
// rule of one level of Effective), sorted byte-wise, without duplicates and
// never nil. It is meant for down-scoping API keys and tokens.
func Intersect(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	for _, x := range a {
		if FirstImplying(b, x) >= 0 {
			out = append(out, x)
		}
	}
	for _, y := range b {
		if FirstImplying(a, y) >= 0 {
			out = append(out, y)
		}
	}
	return sortDedup(out)
}

// sortDedup sorts s in place and removes duplicates.
func sortDedup(s []string) []string {
	slices.Sort(s)
	n := 0
	for i, x := range s {
		if i > 0 && x == s[n-1] {
			continue
		}
		s[n] = x
		n++
	}
	return s[:n]
}
