package passwordpolicy

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzCheck: Check never panics on any password and names; a refusal is
// a *Violation naming one of the pinned rules, and the one the password
// earns: too long before too short before blank or common before a name;
// an accepted password is within the lengths, not blank, not listed and
// free of every name of three or more characters.
func FuzzCheck(f *testing.F) {
	f.Add("gatehouse-otter-7319", "bob", "acme", 8, 64)
	f.Add("password123", "bob", "acme", 8, 256)
	f.Add("the-bobcat-otter", "BobCat", "acme", 8, 256)
	f.Add("\t\n     \u3000", "", "", 1, 64)
	f.Add(strings.Repeat("🦊", 65), "", "", 8, 10)
	f.Add("\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", "\xff", "ab", 8, 64)
	f.Fuzz(func(t *testing.T, pw, user, account string, minLen, maxLen int) {
		p := Policy{MinLength: minLen % 2048, MaxLength: maxLen % 2048}
		err := p.Check(pw, user, account)
		n := utf8.RuneCountInString(pw)
		if err == nil {
			if n < p.minLength() || n > p.maxLength() {
				t.Fatalf("accepted %d characters outside [%d,%d]", n, p.minLength(), p.maxLength())
			}
			if strings.TrimFunc(pw, unicode.IsSpace) == "" || IsCommon(pw) {
				t.Fatalf("accepted blank or common %q", pw)
			}
			for _, name := range []string{user, account} {
				if utf8.RuneCountInString(name) >= MinNameLength && strings.Contains(strings.ToLower(pw), strings.ToLower(name)) {
					t.Fatalf("accepted %q containing the name %q", pw, name)
				}
			}
			return
		}
		var v *Violation
		if !errors.As(err, &v) {
			t.Fatalf("error %v is not a *Violation", err)
		}
		if !slices.Contains([]string{RuleMinLength, RuleMaxLength, RuleCommon, RuleContainsName, RuleHistory}, v.Rule) {
			t.Fatalf("rule %q is not a pinned one", v.Rule)
		}
		want := ""
		switch {
		case n > p.maxLength():
			want = RuleMaxLength
		case n < p.minLength():
			want = RuleMinLength
		case strings.TrimFunc(pw, unicode.IsSpace) == "" || IsCommon(pw):
			want = RuleCommon
		default:
			want = RuleContainsName
		}
		if v.Rule != want {
			t.Fatalf("Check(%q, %q, %q) under %+v: rule %q, want %q", pw, user, account, p, v.Rule, want)
		}
	})
}
