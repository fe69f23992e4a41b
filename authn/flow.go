package authn

import (
	"context"
	"strings"
)

// UserRecord is what a password sign-in needs to know of a local user.
type UserRecord struct {
	PasswordHash    string
	Enabled         bool
	PasswordExpired bool
}

// Users finds local users for sign-in. The caller adapts its storage to
// it; a name that cannot exist (invalid) is simply not found.
type Users interface {
	LookupUser(ctx context.Context, account, user string) (UserRecord, bool, error)
}

// Step is one further sign-in step after the password, such as a TOTP
// code: Required says whether the user has it, Verify checks the answer
// the client gave (answers holds the form fields or grant parameters,
// e.g. "totp"). A wrong answer is (false, nil), not an error.
type Step interface {
	Name() string
	Required(ctx context.Context, account, user string) (bool, error)
	Verify(ctx context.Context, account, user string, answers map[string]string) (bool, error)
}

// PasswordFlow signs a local user in with account\user and a password,
// then runs every further Step the user has. HTTP Basic uses it now; the
// sign-in page and the OAuth password grant use it later, with answers
// for the further steps.
//
// Unknown accounts and users cost one argon2id run like known ones and
// fail with the same result; failures count against the name as typed
// and the client address (Throttle); a verified credential is cached
// (Cache) so repeated requests skip argon2id; the cache is keyed by the
// stored hash, so a password change, disable or delete misses at once.
//
// A name without a local password goes to Directories (when set): an
// empty password is refused before any directory is asked (it costs the
// argon2id run of an unknown user and counts as a failure); the local
// user the directory resolved must exist and be enabled, then every
// further Step runs for it as for a local user, and failures and
// successes count against the name as typed exactly as for a local
// password. Directory credentials are never cached: every sign-in asks
// the directory and resolves the identity again, so a password changed
// or an entry disabled or removed in the directory, and a group change
// (rules recompute the grants), take effect at the next request (bound:
// zero), at the cost of one directory round trip per request.
type PasswordFlow struct {
	Users    Users
	Cache    *CredentialCache // nil: every request pays argon2id
	Throttle *Throttle
	Steps    []Step
	// OnVerified is called when a full (argon2id) verification and every
	// further step succeed: a new sign-in (the caller records the
	// last-login time).
	OnVerified func(account, user string)
	// Directories, when set, checks the passwords of names that have no
	// local password (see DirectorySignIn).
	Directories DirectorySignIn
}

// DirectorySignIn checks a password against the external password
// directories of an account (LDAP), for a name that has no local user
// with a local password: the user is not found, or is found without a
// password hash (a user a directory sign-in or sync created).
//
// SignIn is given the account and the login as typed (never an empty
// password: the flow refuses that first). When some directory of the
// account verifies the password it resolves the identity to a local user
// (federation: principal upsert, rules, a user created just in time) and
// returns it with ok. A wrong password, an unknown login and a refused
// identity (no rule admits it, its name is taken by an unlinked local
// user) are ok false with a nil error; for the last two Refusal says why,
// and the caller logs it. A directory that cannot be asked is an error:
// the flow then returns the error, never "wrong password", so an outage
// is not blamed on the user (the HTTP layer answers 503).
type DirectorySignIn interface {
	SignIn(ctx context.Context, account, login, password string) (DirectoryUser, bool, error)
}

// DirectoryUser is the local user a directory sign-in resolved to. Its
// account may be a descendant of the account signed in to (a root rule
// chose it). Refusal, when the sign-in is refused although the password
// was right, is the reason shown to the user.
type DirectoryUser struct {
	Account, User string
	Refusal       string
}

const badCredentials = "the credentials are not valid"

// SignIn runs the flow. answers may be nil (HTTP Basic has no further
// fields): a user with a required further step is then refused.
func (f *PasswordFlow) SignIn(ctx context.Context, name, password, address string, answers map[string]string) (Result, error) {
	if ok, retry := f.Throttle.Allowed(name, address); !ok {
		return Result{Status: Throttled, Name: name, RetryAfter: retry,
			Reason: "too many failed sign-ins"}, nil
	}
	account, user, split := strings.Cut(name, `\`)
	var rec UserRecord
	found := false
	if split && account != "" && user != "" {
		var err error
		if rec, found, err = f.Users.LookupUser(ctx, account, user); err != nil {
			return Result{}, err
		}
	}
	res := Result{Status: Refused, Name: name, Reason: badCredentials}
	if f.Directories != nil && split && account != "" && user != "" && (!found || rec.PasswordHash == "") {
		return f.directorySignIn(ctx, name, account, user, password, address, answers)
	}
	if found && rec.Enabled && rec.PasswordHash != "" {
		stamp := rec.PasswordHash
		verified := false
		if f.Cache != nil && f.Cache.Lookup(name, password, stamp) {
			verified = true
		} else if ok, _ := VerifyPassword(password, rec.PasswordHash); ok {
			verified, res.Verified = true, true
			if f.Cache != nil {
				f.Cache.Remember(name, password, stamp)
			}
		}
		if verified {
			return f.steps(ctx, res, account, user, address, answers, rec.PasswordExpired)
		}
	} else {
		DummyVerify(password)
	}
	f.Throttle.Fail(name, address)
	return res, nil
}

// steps runs the further steps of a user whose password was verified
// and, when they all pass, accepts it.
func (f *PasswordFlow) steps(ctx context.Context, res Result, account, user, address string, answers map[string]string, expired bool) (Result, error) {
	name := res.Name
	for _, st := range f.Steps {
		need, err := st.Required(ctx, account, user)
		if err != nil {
			return Result{}, err
		}
		if !need {
			continue
		}
		ok, err := st.Verify(ctx, account, user, answers)
		if err != nil {
			return Result{}, err
		}
		if !ok {
			f.Throttle.Fail(name, address)
			return Result{Status: Refused, Name: name, Reason: "the " + st.Name() + " step is missing or wrong"}, nil
		}
	}
	f.Throttle.Succeed(name)
	if res.Verified && f.OnVerified != nil {
		f.OnVerified(account, user)
	}
	res.Status = Accepted
	res.Reason = ""
	res.Principal = Principal{Account: account, User: user, Method: MethodPassword, PasswordExpired: expired}
	return res, nil
}

// directorySignIn asks the account's directories about a name without a
// local password.
func (f *PasswordFlow) directorySignIn(ctx context.Context, name, account, login, password, address string, answers map[string]string) (Result, error) {
	res := Result{Status: Refused, Name: name, Reason: badCredentials}
	if password == "" {
		// Never sent to a directory (an empty password is an
		// unauthenticated bind); priced and counted like an unknown user.
		DummyVerify(password)
		f.Throttle.Fail(name, address)
		return res, nil
	}
	du, ok, err := f.Directories.SignIn(ctx, account, login, password)
	if err != nil {
		return Result{}, err
	}
	if ok {
		// The resolved user must exist and be enabled now.
		rec, found, err := f.Users.LookupUser(ctx, du.Account, du.User)
		if err != nil {
			return Result{}, err
		}
		if found && rec.Enabled {
			res.Verified = true
			return f.steps(ctx, res, du.Account, du.User, address, answers, false)
		}
	} else {
		// An unknown login, a wrong password or an account without
		// directories: the argon2id run keeps them as slow as a local
		// refusal.
		DummyVerify(password)
		if du.Refusal != "" {
			res.Reason = du.Refusal
		}
	}
	f.Throttle.Fail(name, address)
	return res, nil
}

// BasicAuthenticator answers HTTP Basic credentials through a
// PasswordFlow.
type BasicAuthenticator struct{ Flow *PasswordFlow }

// Authenticate implements Authenticator.
func (b BasicAuthenticator) Authenticate(ctx context.Context, cr Credentials) (Result, error) {
	if !cr.Basic {
		return Result{Status: NotMine}, nil
	}
	return b.Flow.SignIn(ctx, cr.Name, cr.Password, cr.Address, nil)
}
