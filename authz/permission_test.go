package authz

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestValidateAccepts(t *testing.T) {
	valid := []string{
		"*",
		"a",
		"print",
		"print:jobs:read",
		"print:jobs,ports:read",
		"auth:me:*:read",
		"a:*",
		"*:*:*",
		"a,*:b",
		"Print:Jobs",
		"a_b-c.d:0123456789",
		"job*", // '*' inside a subpart is a literal character, still valid
		"a:b,c,d:e",
		strings.Repeat("a:", 15) + "a", // exactly 16 parts
		strings.Repeat("x", 256),       // exactly 256 characters
		strings.Repeat("ab:", 15) + strings.Repeat("c", 211), // 16 parts, 256 characters
	}
	for _, s := range valid {
		if err := Validate(s); err != nil {
			t.Errorf("Validate(%q) = %v, want nil", s, err)
		}
	}
	if n := len(valid[len(valid)-1]); n != 256 {
		t.Fatalf("test setup: last valid case has %d characters, want 256", n)
	}
}

func TestValidateRejects(t *testing.T) {
	long := strings.Repeat("x", 257)
	tests := []struct {
		in   string
		want string // exact error message
	}{
		{"", `permission "": empty`},
		{long, `permission "` + strings.Repeat("x", 32) + `"...: too long (257 characters, max 256)`},
		{strings.Repeat("a:", 16) + "a", `permission "` + strings.Repeat("a:", 16) + `a": too many parts (17, max 16)`},
		{"a::b", `permission "a::b": empty part 2`},
		{":a", `permission ":a": empty part 1`},
		{"a:", `permission "a:": empty part 2`},
		{":", `permission ":": empty part 1`},
		{"a:b,,c", `permission "a:b,,c": empty subpart 2 of part 2`},
		{",a", `permission ",a": empty subpart 1 of part 1`},
		{"a,", `permission "a,": empty subpart 2 of part 1`},
		{"a,:b", `permission "a,:b": empty subpart 2 of part 1`},
		{"a:,b", `permission "a:,b": empty subpart 1 of part 2`},
		{",", `permission ",": empty subpart 1 of part 1`},
		{"a b", `permission "a b": white space ' ' at offset 1`},
		{" a", `permission " a": white space ' ' at offset 0`},
		{"a\t", `permission "a\t": white space '\t' at offset 1`},
		{"a:b\n", `permission "a:b\n": white space '\n' at offset 3`},
		{"a\u00a0b", `permission "a\u00a0b": white space '\u00a0' at offset 1`},
		{"a/b", `permission "a/b": invalid character '/' at offset 1`},
		{"a;b", `permission "a;b": invalid character ';' at offset 1`},
		{"a?", `permission "a?": invalid character '?' at offset 1`},
		{"a\x00", `permission "a\x00": invalid character '\x00' at offset 1`},
		{"café", `permission "café": invalid character 'é' at offset 3 (only ASCII letters, digits and _ - . * are allowed)`},
		{"a\xffb", `permission "a\xffb": invalid byte 0xff at offset 1`},
	}
	for _, tc := range tests {
		err := Validate(tc.in)
		if err == nil {
			t.Errorf("Validate(%q) = nil, want %q", tc.in, tc.want)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("Validate(%q)\n got %s\nwant %s", tc.in, err, tc.want)
		}
	}
}

func TestImplies(t *testing.T) {
	tests := []struct {
		held, wanted string
		want         bool
	}{
		// identity and the universal wildcard
		{"a", "a", true},
		{"a:b:c", "a:b:c", true},
		{"*", "a", true},
		{"*", "a:b:c", true},
		{"*", "*", true},
		{"*", "a,b:*:c", true},
		{"a", "*", false},
		// shorter held implies everything below it
		{"a:b", "a:b:c", true},
		{"a", "a:b:c:d", true},
		{"a:b", "a:c", false},
		{"a:b", "b:b:c", false},
		// longer held: remaining parts must contain '*'
		{"a:b:c", "a:b", false},
		{"a:b:*", "a:b", true},
		{"a:*:*", "a", true},
		{"a:*:c", "a", false},
		{"a:b:c,*", "a:b", true},
		{"a:b:*,c", "a:b", true},
		// wildcards inside
		{"auth:me:*:read", "auth:me:attributes:read", true},
		{"auth:me:*:read", "auth:me:attributes:write", false},
		{"auth:me:*:read", "auth:you:attributes:read", false},
		{"a:*", "a:b", true},
		{"a:*", "a:b:c", true},
		{"a:*", "a", true},
		{"a:*", "a:*", true},
		{"a:*,b", "a:*", true},
		// a wanted '*' needs a held '*'
		{"a:b", "a:*", false},
		{"a:b,c", "a:*", false},
		{"a:b", "a:b:*", true}, // shorter held still implies
		// subparts
		{"print:jobs,ports:read", "print:jobs:read", true},
		{"print:jobs,ports:read", "print:ports:read", true},
		{"print:jobs,ports:read", "print:ports,jobs:read", true},
		{"print:jobs:read", "print:jobs,ports:read", false},
		{"print:jobs,ports:read", "print:scans:read", false},
		{"a:b,c,d", "a:d,b", true},
		{"a:b,c", "a:b,c,d", false},
		{"a:bc", "a:b", false},
		{"a:b", "a:bc", false},
		{"a:b,c", "a:c,b,c", true},
		{"a:0", "a:0,0", true}, // repeated wanted subpart (found by fuzzing)
		{"a:b", "a:b,b:c", true},
		{"a:b", "a:b,c", false},
		{"a:b", "a:bb", false},
		{"a:b", "a:b,bc", false},
		// case sensitivity on
		{"Print:jobs", "print:jobs", false},
		{"print:jobs", "print:Jobs", false},
		{"print:*", "print:JOBS", true},
		// '*' inside a longer subpart is literal
		{"a:b*", "a:bc", false},
		{"a:b*", "a:b*", true},
		{"a:b*", "a:*", false},
		{"a:*b", "a:x", false},
		{"a:b*,c", "a:b", false},
		{"a:b*", "a", false},
		{"a:b*,*", "a", true},
		{"**", "a:b", false}, // "**" is a literal subpart (found by fuzzing)
		{"a:**", "a:b", false},
		{"a:x*,**", "a", false},
		{"a:x*,**,*", "a", true},
		{"a:*x", "a", false},
		{"a:x,*", "a:y", true},
	}
	for _, tc := range tests {
		if got := Implies(tc.held, tc.wanted); got != tc.want {
			t.Errorf("Implies(%q, %q) = %v, want %v", tc.held, tc.wanted, got, tc.want)
		}
		// The table must agree with the slow reference implementation too.
		if ref := refImplies(tc.held, tc.wanted); ref != tc.want {
			t.Errorf("refImplies(%q, %q) = %v, want %v (test reference is wrong)", tc.held, tc.wanted, ref, tc.want)
		}
	}
}

// samplePerms is a set of valid permissions used for exhaustive pair and
// triple checks.
var samplePerms = []string{
	"*", "*:*", "*:*:*", "a", "b", "a:*", "a:b", "a:c", "a:b,c", "a:b:*", "a:*:*",
	"a:b:c", "a:b:d", "a:b:c,d", "a:*:c", "a:b,c:d", "a:b:c:d", "a:b*", "a:b*:c", "a:b,b", "a:c,b", "**", "a:**", "a:*b,*",
	"*:b", "*:b:c", "a,b:c", "b:c", "A:b", "a:B",
}

func TestImpliesAgainstReferenceAllPairs(t *testing.T) {
	for _, h := range samplePerms {
		if err := Validate(h); err != nil {
			t.Fatalf("sample %q invalid: %v", h, err)
		}
		for _, w := range samplePerms {
			if got, ref := Implies(h, w), refImplies(h, w); got != ref {
				t.Errorf("Implies(%q, %q) = %v, reference says %v", h, w, got, ref)
			}
		}
	}
}

func TestImpliesReflexiveAndTransitive(t *testing.T) {
	for _, a := range samplePerms {
		if !Implies(a, a) {
			t.Errorf("Implies(%q, %q) = false, want reflexive", a, a)
		}
		if !Implies("*", a) {
			t.Errorf("Implies(\"*\", %q) = false", a)
		}
		for _, b := range samplePerms {
			if !Implies(a, b) {
				continue
			}
			for _, c := range samplePerms {
				if Implies(b, c) && !Implies(a, c) {
					t.Errorf("not transitive: %q => %q => %q but not %q => %q", a, b, c, a, c)
				}
			}
		}
	}
}

func TestFirstImplying(t *testing.T) {
	held := []string{"scan:*", "print:jobs:read", "print:*", "*"}
	tests := []struct {
		held   []string
		wanted string
		want   int
	}{
		{held, "print:jobs:read", 1},
		{held, "print:jobs:write", 2},
		{held, "scan:x", 0},
		{held, "users:read", 3},
		{held[:3], "users:read", -1},
		{nil, "a", -1},
		{[]string{}, "a", -1},
		{[]string{"a:b", "a:b"}, "a:b", 0},
	}
	for _, tc := range tests {
		if got := FirstImplying(tc.held, tc.wanted); got != tc.want {
			t.Errorf("FirstImplying(%q, %q) = %d, want %d", tc.held, tc.wanted, got, tc.want)
		}
	}
}

func TestCeilingAllows(t *testing.T) {
	tests := []struct {
		name string
		c    Ceiling
		p    string
		want bool
	}{
		{"nil ceiling allows nothing", nil, "a", false},
		{"empty ceiling allows nothing", Ceiling{}, "*", false},
		{"one empty level allows nothing", Ceiling{{}}, "a", false},
		{"single level", Ceiling{{"print:*"}}, "print:jobs:read", true},
		{"single level miss", Ceiling{{"print:*"}}, "scan:read", false},
		{"every level must imply", Ceiling{{"print:*"}, {"print:jobs:*"}}, "print:jobs:read", true},
		{"parent narrower", Ceiling{{"print:*"}, {"print:jobs:*"}}, "print:ports:read", false},
		{"own narrower", Ceiling{{"print:jobs:read"}, {"*"}}, "print:jobs:write", false},
		{"different perms per level", Ceiling{{"scan:*", "print:jobs:*"}, {"users:*", "print:*"}, {"*"}}, "print:jobs:x", true},
		{"an empty ancestor level blocks", Ceiling{{"*"}, {}}, "a", false},
		{"three levels, top blocks", Ceiling{{"*"}, {"*"}, {"scan:*"}}, "print:x", false},
		{"wanted wildcard needs wildcard", Ceiling{{"print:jobs"}}, "print:*", false},
	}
	for _, tc := range tests {
		if got := tc.c.Allows(tc.p); got != tc.want {
			t.Errorf("%s: %v.Allows(%q) = %v, want %v", tc.name, tc.c, tc.p, got, tc.want)
		}
	}
}

func TestDecide(t *testing.T) {
	roles := []string{"scan:read", "print:jobs:read", "print:*"}
	tests := []struct {
		name   string
		held   []string
		c      Ceiling
		wanted string
		want   int
	}{
		{"first granting index", roles, Ceiling{{"*"}}, "print:jobs:read", 1},
		{"later role grants", roles, Ceiling{{"*"}}, "print:ports:write", 2},
		{"not held", roles, Ceiling{{"*"}}, "users:read", -1},
		{"held but ceiling denies", roles, Ceiling{{"scan:*"}}, "print:jobs:read", -1},
		{"held and ceiling allows", roles, Ceiling{{"print:jobs:*"}}, "print:jobs:delete", 2},
		{"ancestor level denies", roles, Ceiling{{"*"}, {"scan:*"}}, "print:jobs:read", -1},
		{"all levels allow", roles, Ceiling{{"print:*", "scan:*"}, {"*"}}, "scan:read", 0},
		{"empty ceiling denies", roles, nil, "scan:read", -1},
		{"no held permissions", nil, Ceiling{{"*"}}, "scan:read", -1},
		{"wildcard held, narrow ceiling", []string{"*"}, Ceiling{{"auth:me:*:read"}}, "auth:me:attributes:read", 0},
		{"wildcard held, narrow ceiling miss", []string{"*"}, Ceiling{{"auth:me:*:read"}}, "auth:me:attributes:write", -1},
		{"case sensitive", []string{"Print:*"}, Ceiling{{"*"}}, "print:jobs", -1},
	}
	for _, tc := range tests {
		if got := Decide(tc.held, tc.c, tc.wanted); got != tc.want {
			t.Errorf("%s: Decide(%q, %v, %q) = %d, want %d", tc.name, tc.held, tc.c, tc.wanted, got, tc.want)
		}
	}
}

func TestEffective(t *testing.T) {
	tests := []struct {
		name string
		held []string
		c    Ceiling
		want []string
	}{
		{"role narrowed by ceiling", []string{"print:*"}, Ceiling{{"print:jobs:*"}}, []string{"print:jobs:*"}},
		{"role inside ceiling", []string{"print:jobs:read"}, Ceiling{{"print:*"}}, []string{"print:jobs:read"}},
		{"role outside ceiling", []string{"scan:read"}, Ceiling{{"print:*"}}, []string{}},
		{"wildcard role takes the ceiling", []string{"*"}, Ceiling{{"scan:*", "print:jobs:*"}}, []string{"print:jobs:*", "scan:*"}},
		{"sorted and de-duplicated", []string{"b:x", "a:x", "b:x", "a:x"}, Ceiling{{"*"}}, []string{"a:x", "b:x"}},
		{"same permission on both sides listed once", []string{"a:b"}, Ceiling{{"a:b"}}, []string{"a:b"}},
		{"equivalent spellings both kept", []string{"a:b"}, Ceiling{{"a:b:*"}}, []string{"a:b", "a:b:*"}},
		{
			"two levels, parent narrower",
			[]string{"*"},
			Ceiling{{"print:*", "scan:*"}, {"print:jobs:*"}},
			[]string{"print:jobs:*"},
		},
		{
			"two levels, own narrower",
			[]string{"print:*", "scan:read"},
			Ceiling{{"print:jobs:read", "scan:*"}, {"print:*", "users:*"}},
			[]string{"print:jobs:read"},
		},
		{
			"three levels",
			[]string{"print:*", "scan:*", "users:read"},
			Ceiling{{"*"}, {"print:*", "scan:*", "users:*"}, {"print:jobs:*", "scan:*"}},
			[]string{"print:jobs:*", "scan:*"},
		},
		{
			"subpart lists",
			[]string{"print:jobs,ports:read"},
			Ceiling{{"print:jobs:read", "print:scans:read"}},
			[]string{"print:jobs:read"},
		},
		{"empty level empties everything", []string{"*"}, Ceiling{{"*"}, {}}, []string{}},
		{"empty ceiling allows nothing", []string{"print:*"}, nil, []string{}},
		{"no held permissions", nil, Ceiling{{"*"}}, []string{}},
	}
	for _, tc := range tests {
		got := Effective(tc.held, tc.c)
		if got == nil {
			t.Errorf("%s: Effective returned nil, want non-nil", tc.name)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: Effective(%q, %v) = %q, want %q", tc.name, tc.held, tc.c, got, tc.want)
		}
	}
}

func TestEffectiveDoesNotModifyInput(t *testing.T) {
	held := []string{"z:a", "b:*", "a:b"}
	level := []string{"*"}
	Effective(held, Ceiling{level})
	Intersect(held, level)
	if !slices.Equal(held, []string{"z:a", "b:*", "a:b"}) || level[0] != "*" {
		t.Errorf("inputs were modified: held=%q level=%q", held, level)
	}
}

// Every permission listed by Effective must be granted by Decide.
func TestEffectiveIsGranted(t *testing.T) {
	ceilings := []Ceiling{
		{{"a:*"}},
		{{"a:b:*", "b"}, {"*"}},
		{{"*"}, {"a:b,c"}},
		{{"a:b", "a:c"}, {"a:*", "b:c"}},
		{{"*:b"}, {"a:*:*", "*:b:c"}},
	}
	for i := 0; i+3 <= len(samplePerms); i++ {
		held := samplePerms[i : i+3 : i+3]
		for _, c := range ceilings {
			for _, p := range Effective(held, c) {
				if Decide(held, c, p) < 0 {
					t.Errorf("Effective(%q, %v) lists %q but Decide denies it", held, c, p)
				}
			}
		}
	}
}

func TestIntersect(t *testing.T) {
	tests := []struct {
		a, b, want []string
	}{
		{[]string{"print:*"}, []string{"print:jobs:*"}, []string{"print:jobs:*"}},
		{[]string{"print:jobs:*"}, []string{"print:*"}, []string{"print:jobs:*"}},
		{[]string{"*"}, []string{"b", "a"}, []string{"a", "b"}},
		{[]string{"a:x", "b:y"}, []string{"b:*", "c:*"}, []string{"b:y"}},
		{[]string{"a"}, []string{"b"}, []string{}},
		{nil, []string{"a"}, []string{}},
		{[]string{"a"}, nil, []string{}},
		{[]string{"a:b", "a:b"}, []string{"a:b"}, []string{"a:b"}},
		{[]string{"x:b,c"}, []string{"x:b", "x:c", "x:d"}, []string{"x:b", "x:c"}},
	}
	for _, tc := range tests {
		got := Intersect(tc.a, tc.b)
		if got == nil || !slices.Equal(got, tc.want) {
			t.Errorf("Intersect(%q, %q) = %#v, want %q", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		// no wildcard: case-insensitive substring
		{"", "", true},
		{"", "anything", true},
		{"print", "print", true},
		{"print", "Printers", true},
		{"INT", "printer", true},
		{"ter", "printer", true},
		{"xyz", "printer", false},
		{"printers", "printer", false},
		{"é", "Café", true},
		{"É", "café", false}, // only ASCII folds
		// wildcards: whole-name match
		{"*", "", true},
		{"*", "anything", true},
		{"print*", "printer", true},
		{"print*", "PRINTER", true},
		{"print*", "a printer", false},
		{"*er", "printer", true},
		{"*er", "printers", false},
		{"p*t*r", "printer", true},
		{"p*t*r", "printers", false},
		{"p?int", "print", true},
		{"p?int", "pint", false},
		{"p?int", "prrint", false},
		{"?", "", false},
		{"?", "a", true},
		{"?", "é", true}, // one character, two bytes
		{"??", "é", false},
		{"caf?", "café", true},
		{"*?", "", false},
		{"*?", "x", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "abcabc", true},
		{"a*b*c", "acb", false},
		{"*a*a*a*", "banana", true},
		{"*a*a*a*a*", "banana", false},
		{"**", "", true},
		{"a**b", "ab", true},
		{"*.LOG", "server.log", true},
		{"*.log", "server.log.1", false},
		{"dev-??", "DEV-01", true},
		{"dev-??", "dev-1", false},
	}
	for _, tc := range tests {
		if got := Glob(tc.pattern, tc.name); got != tc.want {
			t.Errorf("Glob(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
		if utf8Valid(tc.pattern, tc.name) && strings.ContainsAny(tc.pattern, "*?") {
			if ref := refGlob(tc.pattern, tc.name); ref != tc.want {
				t.Errorf("refGlob(%q, %q) = %v, want %v (test reference is wrong)", tc.pattern, tc.name, ref, tc.want)
			}
		}
	}
}

// tree is a parentOf built from a child→parent map.
func tree(m map[string]string) func(string) (string, bool) {
	return func(a string) (string, bool) {
		p, ok := m[a]
		return p, ok
	}
}

func TestWithin(t *testing.T) {
	accounts := tree(map[string]string{
		"acme":       "system",
		"acme-eu":    "acme",
		"acme-eu-fr": "acme-eu",
		"globex":     "system",
		"loop-a":     "loop-b", // a cycle
		"loop-b":     "loop-a",
		"self":       "self", // a self-loop
	})
	tests := []struct {
		actor, target string
		want          bool
	}{
		{"acme", "acme", true},
		{"acme", "acme-eu", true},
		{"acme", "acme-eu-fr", true},
		{"acme-eu", "acme-eu-fr", true},
		{"acme-eu", "acme", false},
		{"acme-eu-fr", "acme", false},
		{"acme", "globex", false},
		{"globex", "acme-eu", false},
		{"system", "acme-eu-fr", true},
		{"system", "unknown", true},
		{"system", "loop-a", true},
		{"acme", "unknown", false},
		{"unknown", "unknown", true},
		{"loop-a", "loop-b", true},
		{"acme", "loop-a", false}, // cycle: must stop, not hang
		{"acme", "self", false},
		{"", "acme", false},
		{"acme", "", false},
		{"", "", false},
		{"ACME", "acme-eu", false}, // account names are case-sensitive
	}
	for _, tc := range tests {
		if got := Within(tc.actor, tc.target, accounts); got != tc.want {
			t.Errorf("Within(%q, %q) = %v, want %v", tc.actor, tc.target, got, tc.want)
		}
	}
}

func TestWithinStepLimit(t *testing.T) {
	// chain: n0 is the root; n(i) has parent n(i-1).
	m := map[string]string{}
	for i := 1; i <= 100; i++ {
		m[fmt.Sprint("n", i)] = fmt.Sprint("n", i-1)
	}
	calls := 0
	parentOf := func(a string) (string, bool) {
		calls++
		p, ok := m[a]
		return p, ok
	}
	if !Within("n0", "n64", parentOf) {
		t.Errorf("Within(n0, n64) = false, want true (64 steps)")
	}
	calls = 0
	if Within("n0", "n65", parentOf) {
		t.Errorf("Within(n0, n65) = true, want false (more than 64 steps)")
	}
	if calls != 64 {
		t.Errorf("Within(n0, n65) called parentOf %d times, want 64", calls)
	}
	if !Within("n36", "n100", parentOf) {
		t.Errorf("Within(n36, n100) = false, want true")
	}

	// A cycle costs at most 64 calls.
	calls = 0
	cyc := func(a string) (string, bool) {
		calls++
		if a == "x" {
			return "y", true
		}
		return "x", true
	}
	if Within("z", "x", cyc) {
		t.Errorf("Within on a cycle = true, want false")
	}
	if calls != 64 {
		t.Errorf("cycle: parentOf called %d times, want 64", calls)
	}
}

func TestWithinNilParentOf(t *testing.T) {
	if !Within("a", "a", nil) {
		t.Error("Within(a, a, nil) = false, want true")
	}
	if Within("a", "b", nil) {
		t.Error("Within(a, b, nil) = true, want false")
	}
	if !Within(SystemAccount, "b", nil) {
		t.Error("Within(system, b, nil) = false, want true")
	}
}

// benchHeld is a principal with 20 held permissions; only the last grants
// benchWanted.
var (
	benchHeld = []string{
		"auth:me:*:read", "auth:me:password:write", "users:read", "users:list",
		"groups:read", "groups:list", "roles:read", "accounts:read",
		"scan:jobs:read", "scan:jobs:create", "scan:profiles:read", "fax:send",
		"fax:read", "audit:read", "print:ports:read", "print:queues:read",
		"print:jobs:read", "print:jobs:cancel", "print:drivers:read", "print:jobs,queues:write",
	}
	benchCeiling = Ceiling{
		{"auth:*", "users:*", "groups:*", "roles:*", "accounts:read", "scan:*", "fax:*", "audit:read", "print:*"},
		{"auth:*", "users:*", "groups:*", "roles:*", "accounts:*", "scan:*", "fax:*", "audit:*", "print:jobs,queues:*"},
	}
	benchWanted = "print:jobs:write"
)

func TestBenchFixture(t *testing.T) {
	if got := Decide(benchHeld, benchCeiling, benchWanted); got != len(benchHeld)-1 {
		t.Fatalf("Decide(benchHeld, benchCeiling, %q) = %d, want %d", benchWanted, got, len(benchHeld)-1)
	}
}

func TestZeroAllocs(t *testing.T) {
	name := strings.Repeat("printer-", 8) + "EU-01"
	parentOf := tree(map[string]string{"c": "b", "b": "a"})
	cases := []struct {
		name string
		f    func()
	}{
		{"Implies", func() { Implies("print:jobs,ports:read", "print:ports:read") }},
		{"Implies/long", func() { Implies("a:b:c:d:e:f:*:*", "a:b:c:d:e:f") }},
		{"FirstImplying", func() { FirstImplying(benchHeld, benchWanted) }},
		{"Allows", func() { benchCeiling.Allows(benchWanted) }},
		{"Decide", func() { Decide(benchHeld, benchCeiling, benchWanted) }},
		{"Decide/denied", func() { Decide(benchHeld, benchCeiling, "nothing:here") }},
		{"Glob/wildcard", func() { Glob("print*-eu-??", name) }},
		{"Glob/substring", func() { Glob("EU-0", name) }},
		{"Within", func() { Within("a", "c", parentOf) }},
	}
	for _, tc := range cases {
		if n := testing.AllocsPerRun(200, tc.f); n != 0 {
			t.Errorf("%s allocates %v times per run, want 0", tc.name, n)
		}
	}
}

func BenchmarkDecide(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if Decide(benchHeld, benchCeiling, benchWanted) < 0 {
			b.Fatal("not granted")
		}
	}
}

func BenchmarkImplies(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if !Implies("print:jobs,queues:write", benchWanted) {
			b.Fatal("not implied")
		}
	}
}

func BenchmarkGlob(b *testing.B) {
	b.ReportAllocs()
	name := "printer-building-7-floor-3-EU-01"
	for b.Loop() {
		if !Glob("print*-eu-??", name) {
			b.Fatal("no match")
		}
	}
}
