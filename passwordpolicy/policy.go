package passwordpolicy

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn/frequency"

	"gatehouse/authn"
	"gatehouse/storage"
)

// The rules, as the <rule> element of a refusal names them (SPEC §3c).
const (
	RuleMinLength    = "min-length"
	RuleMaxLength    = "max-length"
	RuleCommon       = "common"
	RuleContainsName = "contains-name"
	RuleHistory      = "history"
)

// Defaults and bounds.
const (
	// DefaultMinLength is the minimum length when Policy.MinLength <= 0.
	DefaultMinLength = 8
	// DefaultMaxLength is the maximum length when Policy.MaxLength is 0.
	DefaultMaxLength = 256
	// AlwaysAllowedLength is the length every policy allows: NIST SP
	// 800-63B asks verifiers to accept at least 64 characters, so a
	// smaller MaxLength is raised to it.
	AlwaysAllowedLength = 64
	// MinNameLength is the shortest user or account name the
	// contains-name rule looks for; shorter ones would refuse too much.
	MinNameLength = 3
)

// Policy is the password policy of one server, from auth.password.*.
// The zero Policy has the default lengths, remembers no previous
// passwords and never expires one.
type Policy struct {
	MinLength int           // in characters (runes); <= 0 means DefaultMinLength
	MaxLength int           // in characters (runes); 0 means DefaultMaxLength, at least AlwaysAllowedLength
	History   int           // previous passwords remembered and refused; <= 0 none
	MaxAge    time.Duration // a password older than this is expired; <= 0 never
}

// Violation is a refusal: the rule that failed and what failed.
type Violation struct {
	Rule   string // one of the Rule constants
	Detail string // what failed, without the password
}

func (v *Violation) Error() string { return "password rule " + v.Rule + ": " + v.Detail }

func (p Policy) minLength() int {
	if p.MinLength <= 0 {
		return DefaultMinLength
	}
	return p.MinLength
}

func (p Policy) maxLength() int {
	m := p.MaxLength
	if m == 0 {
		m = DefaultMaxLength
	}
	return max(m, AlwaysAllowedLength, p.minLength())
}

// Check applies the rules that need only the password and the names of
// its user and account: max-length, min-length, common (which also
// refuses a password of white space alone) and contains-name. It
// returns a *Violation, or nil. The history rule needs the stored
// hashes and runs inside the write (Reuse).
func (p Policy) Check(password string, names ...string) error {
	n := utf8.RuneCountInString(password)
	if maxLen := p.maxLength(); n > maxLen {
		return &Violation{RuleMaxLength, fmt.Sprintf("the password is too long: %d characters, maximum %d", n, maxLen)}
	}
	if minLen := p.minLength(); n < minLen {
		return &Violation{RuleMinLength, fmt.Sprintf("the password is too short: %d characters, minimum %d", n, minLen)}
	}
	if strings.TrimFunc(password, unicode.IsSpace) == "" {
		return &Violation{RuleCommon, "the password is blank (only white space), as guessable as the most common passwords"}
	}
	lower := strings.ToLower(password)
	if isCommonLower(lower) {
		return &Violation{RuleCommon, "the password is in the list of common and breached passwords"}
	}
	for _, name := range names {
		if utf8.RuneCountInString(name) < MinNameLength {
			continue
		}
		if strings.Contains(lower, strings.ToLower(name)) {
			return &Violation{RuleContainsName, fmt.Sprintf("the password contains the name %q", name)}
		}
	}
	return nil
}

// commonPasswords is the shipped list of common and breached passwords,
// sorted for binary search. It is built on first use: a sorted copy of
// the list's string headers (about 16 bytes an entry), sharing the
// strings of the frequency package rather than copying them or building
// a map.
var commonPasswords = sync.OnceValue(func() []string {
	list := slices.Clone(frequency.FrequencyLists["passwords"])
	slices.Sort(list)
	return slices.Compact(list)
})

// CommonCount is the number of distinct passwords in the shipped list.
func CommonCount() int { return len(commonPasswords()) }

// IsCommon reports whether password, compared case-insensitively, is in
// the shipped list of common and breached passwords.
func IsCommon(password string) bool { return isCommonLower(strings.ToLower(password)) }

// isCommonLower is IsCommon of a password already in lower case (the
// list is).
func isCommonLower(lower string) bool {
	_, found := slices.BinarySearch(commonPasswords(), lower)
	return found
}

// Reuse checks a new password against the hashes of a user's current and
// previous passwords (the history rule). Run Check inside the update
// function of the write that stores the new hash, so that it holds on
// the revision the write commits on. Reuse remembers what each hash
// answered, so a transaction retried on conflict pays argon2id only for
// hashes it has not verified yet.
type Reuse struct {
	password string
	history  int
	seen     map[string]bool
}

// Reuse returns the history check of password under p.
func (p Policy) Reuse(password string) *Reuse {
	return &Reuse{password: password, history: p.History, seen: map[string]bool{}}
}

// Check returns a history *Violation when the password is u's current
// one or one of the last History previous ones, else nil. With History
// <= 0 nothing is remembered and Check accepts every password without
// running argon2id.
func (r *Reuse) Check(u storage.User) error {
	if r.history <= 0 {
		return nil
	}
	hashes := append([]string{u.PasswordHash}, u.PasswordHistory.Hashes()...)
	if len(hashes) > r.history+1 {
		hashes = hashes[:r.history+1]
	}
	for _, h := range hashes {
		if h == "" {
			continue
		}
		used, ok := r.seen[h]
		if !ok {
			used, _ = authn.VerifyPassword(r.password, h) // a malformed hash matches nothing
			r.seen[h] = used
		}
		if used {
			return &Violation{RuleHistory, fmt.Sprintf("the password was used before: it is the current one or one of the %d before it", r.history)}
		}
	}
	return nil
}

// SetPassword stores hash as u's password at now: the password being
// replaced (if any) joins the front of the history, which is trimmed to
// History entries (emptied when History <= 0); the change time is now
// and password-expired is cleared. An empty hash removes the password
// and remembers the old one all the same, so that removing and setting
// again does not get around the history rule.
func (p Policy) SetPassword(u *storage.User, hash string, now time.Time) {
	var hist []string
	if p.History > 0 {
		if u.PasswordHash != "" {
			hist = append(hist, u.PasswordHash)
		}
		hist = append(hist, u.PasswordHistory.Hashes()...)
		if len(hist) > p.History {
			hist = hist[:p.History]
		}
	}
	u.PasswordHistory = storage.NewHashList(hist...)
	u.PasswordHash = hash
	u.PasswordChanged = now.Unix()
	u.PasswordExpired = false
}

// Expired reports whether u's password counts as expired at now: the
// stored password-expired flag (set by an administrator), or, when
// MaxAge > 0, a password set MaxAge or longer ago. A record without a
// change time (written before it was kept) counts from the user's
// creation: its password cannot be older than its user. A user without
// a password has nothing to expire by age.
func (p Policy) Expired(u storage.User, now time.Time) bool {
	if u.PasswordExpired {
		return true
	}
	if p.MaxAge <= 0 || u.PasswordHash == "" {
		return false
	}
	since := u.PasswordChanged
	if since == 0 {
		since = u.Created
	}
	return !now.Before(time.Unix(since, 0).Add(p.MaxAge))
}
