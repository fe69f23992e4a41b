package authz

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// refSplit splits a permission into parts of subparts.
func refSplit(s string) [][]string {
	var out [][]string
	for _, p := range strings.Split(s, ":") {
		out = append(out, strings.Split(p, ","))
	}
	return out
}

// refImplies is a slow, literal transcription of the implication rules.
func refImplies(held, wanted string) bool {
	h, w := refSplit(held), refSplit(wanted)
	for i, wp := range w {
		if i >= len(h) {
			return true
		}
		if slices.Contains(h[i], "*") {
			continue
		}
		for _, ws := range wp {
			if !slices.Contains(h[i], ws) {
				return false
			}
		}
	}
	for i := len(w); i < len(h); i++ {
		if !slices.Contains(h[i], "*") {
			return false
		}
	}
	return true
}

var refGrammar = regexp.MustCompile(`^[A-Za-z0-9_.*-]+(,[A-Za-z0-9_.*-]+)*(:[A-Za-z0-9_.*-]+(,[A-Za-z0-9_.*-]+)*)*$`)

// refValid is an independent statement of the grammar.
func refValid(s string) bool {
	return len(s) <= 256 && strings.Count(s, ":") < 16 && refGrammar.MatchString(s)
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func utf8Valid(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

// refGlob is a dynamic-programming glob over runes (valid UTF-8 only).
func refGlob(pattern, name string) bool {
	n := []rune(asciiLower(name))
	// m[j] reports whether p[:i] matches n[:j] for the current i.
	m := make([]bool, len(n)+1)
	m[0] = true
	for _, pc := range asciiLower(pattern) {
		next := make([]bool, len(n)+1)
		if pc == '*' {
			next[0] = m[0]
		}
		for j := 1; j <= len(n); j++ {
			switch pc {
			case '*':
				next[j] = m[j] || next[j-1]
			case '?':
				next[j] = m[j-1]
			default:
				next[j] = m[j-1] && n[j-1] == pc
			}
		}
		m = next
	}
	return m[len(n)]
}

func FuzzValidate(f *testing.F) {
	for _, s := range []string{"a:b:c", "*", "a::b", "print:jobs,ports:read", " a", "a,", "café"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := Validate(s)
		if (err == nil) != refValid(s) {
			t.Fatalf("Validate(%q) = %v, reference validity %v", s, err, refValid(s))
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "permission ") {
				t.Fatalf("Validate(%q) error %q lacks the permission prefix", s, err)
			}
			return
		}
		if !Implies(s, s) {
			t.Fatalf("Implies(%q, %q) = false", s, s)
		}
		if !Implies("*", s) {
			t.Fatalf("Implies(\"*\", %q) = false", s)
		}
		if Decide([]string{s}, Ceiling{{"*"}}, s) != 0 {
			t.Fatalf("Decide([%q], [[*]], %q) != 0", s, s)
		}
	})
}

func FuzzImplies(f *testing.F) {
	f.Add("a:b", "a:b:c")
	f.Add("a:b:*", "a:b")
	f.Fuzz(func(t *testing.T, held, wanted string) {
		got := Implies(held, wanted) // must not panic on any input
		if Validate(held) != nil || Validate(wanted) != nil {
			return
		}
		if ref := refImplies(held, wanted); got != ref {
			t.Fatalf("Implies(%q, %q) = %v, reference says %v", held, wanted, got, ref)
		}
		if got2 := Implies(wanted, held); got2 != refImplies(wanted, held) {
			t.Fatalf("Implies(%q, %q) = %v, reference says %v", wanted, held, got2, !got2)
		}
		for _, s := range []string{held, wanted} {
			if !Implies(s, s) {
				t.Fatalf("Implies(%q, %q) = false", s, s)
			}
			if !Implies("*", s) {
				t.Fatalf("Implies(\"*\", %q) = false", s)
			}
		}
		// Extending the wanted permission keeps it implied (shorter implies longer).
		if got && !Implies(held, wanted+":x") {
			t.Fatalf("Implies(%q, %q) but not Implies(%q, %q)", held, wanted, held, wanted+":x")
		}
		// Decide and Intersect agree with Implies.
		if (Decide([]string{held}, Ceiling{{"*"}}, wanted) == 0) != got {
			t.Fatalf("Decide disagrees with Implies(%q, %q) = %v", held, wanted, got)
		}
		in := Intersect([]string{held}, []string{wanted})
		if got != slices.Contains(in, wanted) {
			t.Fatalf("Intersect([%q], [%q]) = %q disagrees with Implies = %v", held, wanted, in, got)
		}
	})
}

func FuzzGlob(f *testing.F) {
	f.Add("print*", "Printer")
	f.Add("p?int", "print")
	f.Fuzz(func(t *testing.T, pattern, name string) {
		got := Glob(pattern, name) // must not panic
		if !Glob("*", name) {
			t.Fatalf("Glob(\"*\", %q) = false", name)
		}
		if !strings.ContainsAny(pattern, "*?") {
			want := strings.Contains(asciiLower(name), asciiLower(pattern))
			if got != want {
				t.Fatalf("Glob(%q, %q) = %v, case-insensitive Contains says %v", pattern, name, got, want)
			}
			return
		}
		if utf8Valid(pattern, name) && len(pattern) <= 64 && len(name) <= 256 {
			if want := refGlob(pattern, name); got != want {
				t.Fatalf("Glob(%q, %q) = %v, reference says %v", pattern, name, got, want)
			}
		}
		if strings.Trim(pattern, "*") == "" && !got {
			t.Fatalf("Glob(%q, %q) = false for an all-star pattern", pattern, name)
		}
	})
}
