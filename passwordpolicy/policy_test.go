package passwordpolicy

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trustelem/zxcvbn/frequency"

	"gatehouse/authn"
	"gatehouse/storage"
)

// cheap are argon2id parameters fast enough for many hashes in a test.
var cheap = authn.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func hash(t *testing.T, pw string) string {
	t.Helper()
	h, err := authn.HashPassword(pw, cheap, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// rule returns the rule of err's Violation, "" for nil, and fails the
// test for any other error.
func rule(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var v *Violation
	if !errors.As(err, &v) {
		t.Fatalf("error %v is not a *Violation", err)
	}
	if !strings.Contains(err.Error(), v.Rule) || v.Detail == "" {
		t.Fatalf("violation %q does not name its rule or say what failed", err)
	}
	return v.Rule
}

func TestCommonListIsLargeAndLoaded(t *testing.T) {
	if n := len(frequency.FrequencyLists["passwords"]); n < 10000 {
		t.Fatalf("the shipped list has %d passwords, want at least 10,000", n)
	}
	if n := CommonCount(); n < 10000 {
		t.Fatalf("the lookup set has %d distinct passwords, want at least 10,000", n)
	}
	for _, pw := range []string{"password", "123456", "qwerty", "iloveyou", "password123", "PassWord123", "QWERTYUIOP", "trustno1"} {
		if !IsCommon(pw) {
			t.Errorf("IsCommon(%q) = false", pw)
		}
	}
	for _, pw := range []string{"", "correct horse battery staple", "gatehouse-otter-7319", "🔑🔑🔑🔑🔑🔑🔑🔑"} {
		if IsCommon(pw) {
			t.Errorf("IsCommon(%q) = true", pw)
		}
	}
	// Every listed password is found, whatever its case.
	for i, pw := range frequency.FrequencyLists["passwords"] {
		if i%97 == 0 && (!IsCommon(pw) || !IsCommon(strings.ToUpper(pw))) {
			t.Errorf("listed password %q (or its upper case) not found", pw)
		}
	}
}

func TestCheckRules(t *testing.T) {
	p := Policy{MinLength: 8, MaxLength: 100}
	emoji64 := strings.Repeat("🦊🌲", 32) // 64 characters, 256 bytes
	tests := []struct {
		name, pw string
		names    []string
		want     string
	}{
		{"ok", "gatehouse-otter-7319", []string{"bob", "acme"}, ""},
		{"min length", "otter-7", nil, RuleMinLength},
		{"empty", "", nil, RuleMinLength},
		{"runes not bytes: 7 runes 21 bytes", "密码密码密码密", nil, RuleMinLength},
		{"runes not bytes: 8 runes 24 bytes", "密码密码密码密码", nil, ""},
		{"max length in runes", strings.Repeat("é", 101), nil, RuleMaxLength},
		{"max length exactly", strings.Repeat("é", 100), nil, ""},
		{"64 emoji", emoji64, nil, ""},
		{"blank", "            ", nil, RuleCommon},
		{"blank unicode white space", "\t\n\v\f\r \u00a0\u2003\u3000", nil, RuleCommon},
		{"spaces inside ok", "  otter b c d  ", nil, ""},
		{"common", "password123", nil, RuleCommon},
		{"common any case", "PassWord123", nil, RuleCommon},
		{"common but short is min-length", "123456", nil, RuleMinLength},
		{"contains user", "the-Bobcat-otter", []string{"bobcat", "acme"}, RuleContainsName},
		{"contains account", "otters-of-ACME-9", []string{"bob", "acme"}, RuleContainsName},
		{"short names ignored", "al-and-hr-otters", []string{"al", "hr"}, ""},
		{"three-character name counts", "the-eve-of-otters", []string{"eve"}, RuleContainsName},
		{"unicode name case-insensitive", "ÉLODIE-otter-19", []string{"élodie"}, RuleContainsName},
		{"no names", "gatehouse-otter-7319", nil, ""},
		{"empty name ignored", "gatehouse-otter-7319", []string{""}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rule(t, p.Check(tc.pw, tc.names...)); got != tc.want {
				t.Errorf("Check(%q, %q) rule = %q, want %q", tc.pw, tc.names, got, tc.want)
			}
		})
	}
}

func TestLengthBounds(t *testing.T) {
	// The zero Policy: 8 to 256 characters.
	var zero Policy
	if got := rule(t, zero.Check("otter-7")); got != RuleMinLength {
		t.Errorf("zero policy, 7 characters: %q", got)
	}
	if got := rule(t, zero.Check(strings.Repeat("q", 256))); got != "" {
		t.Errorf("zero policy, 256 characters: %q", got)
	}
	if got := rule(t, zero.Check(strings.Repeat("q", 257))); got != RuleMaxLength {
		t.Errorf("zero policy, 257 characters: %q", got)
	}
	// A maximum below 64 is raised to 64: NIST's floor.
	low := Policy{MinLength: 4, MaxLength: 10}
	if got := rule(t, low.Check(strings.Repeat("🔑", 64))); got != "" {
		t.Errorf("max-length 10, 64 characters: %q", got)
	}
	if got := rule(t, low.Check(strings.Repeat("🔑", 65))); got != RuleMaxLength {
		t.Errorf("max-length 10, 65 characters: %q", got)
	}
	// The detail says how many characters, not bytes.
	err := low.Check(strings.Repeat("🔑", 65))
	if !strings.Contains(err.Error(), "65 characters, maximum 64") {
		t.Errorf("detail %q", err)
	}
	err = Policy{MinLength: 12}.Check("otter-otter")
	if !strings.Contains(err.Error(), "11 characters, minimum 12") {
		t.Errorf("detail %q", err)
	}
}

func TestHistory(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	p := Policy{History: 2}
	var u storage.User
	set := func(pw string) {
		t.Helper()
		if err := p.Reuse(pw).Check(u); err != nil {
			t.Fatalf("setting %q: %v", pw, err)
		}
		p.SetPassword(&u, hash(t, pw), now)
	}
	refused := func(pw string) {
		t.Helper()
		if got := rule(t, p.Reuse(pw).Check(u)); got != RuleHistory {
			t.Errorf("reusing %q: rule %q, want history", pw, got)
		}
	}
	set("first-otter")
	refused("first-otter") // the current one
	set("second-otter")
	set("third-otter")
	refused("first-otter")
	refused("second-otter")
	refused("third-otter")
	if n := len(u.PasswordHistory.Hashes()); n != 2 {
		t.Fatalf("history holds %d hashes, want 2", n)
	}
	set("fourth-otter") // first-otter falls out of the history
	set("first-otter")
	if u.PasswordChanged != now.Unix() {
		t.Errorf("PasswordChanged = %d", u.PasswordChanged)
	}

	// Removing the password remembers it.
	p.SetPassword(&u, "", now)
	refused("first-otter")
	refused("fourth-otter")

	// History 0: nothing is remembered, and reuse is allowed.
	off := Policy{}
	off.SetPassword(&u, hash(t, "fifth-otter"), now)
	if u.PasswordHistory != "" {
		t.Errorf("history 0 kept %d hashes", len(u.PasswordHistory.Hashes()))
	}
	if err := off.Reuse("fifth-otter").Check(u); err != nil {
		t.Errorf("history 0 refused the current password: %v", err)
	}

	// A lowered setting checks only as many as it names.
	long := Policy{History: 5}
	u = storage.User{}
	for _, pw := range []string{"a-otter-1", "a-otter-2", "a-otter-3", "a-otter-4"} {
		long.SetPassword(&u, hash(t, pw), now)
	}
	short := Policy{History: 1}
	if err := short.Reuse("a-otter-2").Check(u); err != nil {
		t.Errorf("history 1 refused the password before the previous one: %v", err)
	}
	if got := rule(t, short.Reuse("a-otter-3").Check(u)); got != RuleHistory {
		t.Errorf("history 1, the previous one: %q", got)
	}
}

func TestReuseVerifiesEachHashOnce(t *testing.T) {
	p := Policy{History: 3}
	u := storage.User{PasswordHash: hash(t, "old-otter"),
		PasswordHistory: storage.NewHashList(hash(t, "older-otter"), "not a hash")}
	r := p.Reuse("new-otter")
	for i := 0; i < 3; i++ { // a transaction retried twice
		if err := r.Check(u); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.seen) != 3 {
		t.Errorf("verified %d hashes, want 3 (each once, the malformed one included)", len(r.seen))
	}
	// A hash that appeared meanwhile (a parallel change) is verified.
	u.PasswordHistory = storage.NewHashList(hash(t, "new-otter"))
	if got := rule(t, r.Check(u)); got != RuleHistory {
		t.Errorf("after a parallel change: %q", got)
	}
}

func TestExpired(t *testing.T) {
	day := 24 * time.Hour
	t0 := time.Unix(1_800_000_000, 0)
	p := Policy{MaxAge: 30 * day}
	u := storage.User{PasswordHash: "h", Created: t0.Unix(), PasswordChanged: t0.Unix()}
	tests := []struct {
		name string
		p    Policy
		u    storage.User
		at   time.Time
		want bool
	}{
		{"fresh", p, u, t0, false},
		{"just before", p, u, t0.Add(30*day - time.Second), false},
		{"at max age", p, u, t0.Add(30 * day), true},
		{"after", p, u, t0.Add(31 * day), true},
		{"max age off", Policy{}, u, t0.Add(3650 * day), false},
		{"flag forces", Policy{}, storage.User{PasswordHash: "h", PasswordExpired: true}, t0, true},
		{"old record counts from creation", p, storage.User{PasswordHash: "h", Created: t0.Unix()}, t0.Add(30 * day), true},
		{"old record, young user", p, storage.User{PasswordHash: "h", Created: t0.Unix()}, t0.Add(29 * day), false},
		{"changed later than created", p, storage.User{PasswordHash: "h", Created: t0.Unix(), PasswordChanged: t0.Add(10 * day).Unix()}, t0.Add(35 * day), false},
		{"no password", p, storage.User{Created: t0.Unix()}, t0.Add(365 * day), false},
	}
	for _, tc := range tests {
		if got := tc.p.Expired(tc.u, tc.at); got != tc.want {
			t.Errorf("%s: Expired = %v, want %v", tc.name, got, tc.want)
		}
	}
	// Setting a password clears both the age and the flag.
	u.PasswordExpired = true
	later := t0.Add(40 * day)
	p.SetPassword(&u, "h2", later)
	if p.Expired(u, later.Add(day)) {
		t.Error("a new password is still expired")
	}
}
