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
type PasswordFlow struct {
	Users    Users
	Cache    *CredentialCache // nil: every request pays argon2id
	Throttle *Throttle
	Steps    []Step
	// OnVerified is called when a full (argon2id) verification and every
	// further step succeed: a new sign-in (the caller records the
	// last-login time).
	OnVerified func(account, user string)
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
			res.Principal = Principal{Account: account, User: user, Method: MethodPassword,
				PasswordExpired: rec.PasswordExpired}
			return res, nil
		}
	} else {
		DummyVerify(password)
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
