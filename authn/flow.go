package authn

import (
	"context"
	"slices"
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
//
// Steps sharing a Name are alternative methods of one step (the second
// factor: TOTP, passkey): a user passes the step with any one of the
// methods the user has (Required). A Step names its method with Method
// (StepMethod).
type Step interface {
	Name() string
	Required(ctx context.Context, account, user string) (bool, error)
	Verify(ctx context.Context, account, user string, answers map[string]string) (bool, error)
}

// StepMethod is implemented by a Step that is one method of its step
// ("totp", "passkey"), for a page that shows each method the user has
// and posts the one chosen.
type StepMethod interface {
	Method() string
}

// MethodOf is st's method name: its Method, else its Name.
func MethodOf(st Step) string {
	if m, ok := st.(StepMethod); ok {
		return m.Method()
	}
	return st.Name()
}

// PendingStep is a further step a user whose password verified must
// still pass (Begin): the step's name and the methods of it the user
// has, in the order of PasswordFlow.Steps.
type PendingStep struct {
	Name    string
	Methods []string
}

// PasswordFlow signs a local user in with account\user and a password,
// then runs every further Step the user has. HTTP Basic and the OAuth
// password grant use SignIn (Basic has no answers, so a user with a
// further step is refused there; the grant's form fields are the
// answers). The sign-in page uses Begin and Continue: the password on
// one form, then the further steps on a form of their own, the page
// keeping the Partial in between; a wrong answer there counts as a
// failed sign-in like a wrong password, and the count is cleared only
// when every step passed, so entering the password again does not buy
// more guesses at the second factor.
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
	res, _, err := f.signIn(ctx, name, password, address, answers, false)
	return res, err
}

// Partial is a sign-in whose password verified and whose further steps
// are pending (Begin): the name as typed (the throttle's key), the user
// it signed in, and the steps with the methods the user has. It is what
// a page keeps (MACed) between the password and the further steps.
type Partial struct {
	Name          string
	Account, User string
	Steps         []PendingStep
}

// Begin is SignIn for a page that asks for the further steps on a page
// of their own: the password part only. When the password verifies and
// the user has further steps, the result is Refused as SignIn without
// answers would be (so a caller that ignores the rest signs nobody in),
// but nothing is counted against the name and the Partial to Continue
// is returned; otherwise the result and its counting are SignIn's with
// no answers, and the Partial is nil. Whether a user exists, has
// further steps or which is not told before the password verifies: an
// unknown user, a wrong password and a disabled user are the same
// refusal as in SignIn.
func (f *PasswordFlow) Begin(ctx context.Context, name, password, address string) (Result, *Partial, error) {
	return f.signIn(ctx, name, password, address, nil, true)
}

// Continue answers the further steps of a Partial that Begin returned.
// It is throttled like SignIn (a throttled name or address is Throttled
// before anything is checked); the user must still exist and be enabled;
// each step the user still has must pass with one of its methods, only
// method when it is not "" (the method the page's form posted). A wrong
// or missing answer is Refused, counted against the name and address as
// a failed sign-in. When every step passes the failure count is cleared,
// OnVerified is called and the result is Accepted and Verified (a new
// sign-in; a password expired since is flagged as in SignIn).
func (f *PasswordFlow) Continue(ctx context.Context, p Partial, address, method string, answers map[string]string) (Result, error) {
	if ok, retry := f.Throttle.Allowed(p.Name, address); !ok {
		return Result{Status: Throttled, Name: p.Name, RetryAfter: retry,
			Reason: "too many failed sign-ins"}, nil
	}
	res := Result{Status: Refused, Name: p.Name, Reason: badCredentials}
	rec, found, err := f.Users.LookupUser(ctx, p.Account, p.User)
	if err != nil {
		return Result{}, err
	}
	if !found || !rec.Enabled {
		return res, nil
	}
	res.Verified = true
	return f.steps(ctx, res, p.Account, p.User, address, method, answers, rec.PasswordExpired && rec.PasswordHash != "")
}

// signIn is SignIn, and with begin Begin.
func (f *PasswordFlow) signIn(ctx context.Context, name, password, address string, answers map[string]string, begin bool) (Result, *Partial, error) {
	if ok, retry := f.Throttle.Allowed(name, address); !ok {
		return Result{Status: Throttled, Name: name, RetryAfter: retry,
			Reason: "too many failed sign-ins"}, nil, nil
	}
	account, user, split := strings.Cut(name, `\`)
	var rec UserRecord
	found := false
	if split && account != "" && user != "" {
		var err error
		if rec, found, err = f.Users.LookupUser(ctx, account, user); err != nil {
			return Result{}, nil, err
		}
	}
	res := Result{Status: Refused, Name: name, Reason: badCredentials}
	if f.Directories != nil && split && account != "" && user != "" && (!found || rec.PasswordHash == "") {
		return f.directorySignIn(ctx, name, account, user, password, address, answers, begin)
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
			return f.verified(ctx, res, account, user, address, answers, rec.PasswordExpired, begin)
		}
	} else {
		DummyVerify(password)
	}
	f.Throttle.Fail(name, address)
	return res, nil, nil
}

// verified goes on after the password of user of account verified: with
// begin, a user with further steps gets the Partial; otherwise the
// steps run with answers.
func (f *PasswordFlow) verified(ctx context.Context, res Result, account, user, address string, answers map[string]string, expired, begin bool) (Result, *Partial, error) {
	if begin {
		groups, err := f.required(ctx, account, user)
		if err != nil {
			return Result{}, nil, err
		}
		if len(groups) > 0 {
			p := &Partial{Name: res.Name, Account: account, User: user, Steps: pendingSteps(groups)}
			res.Reason = stepReason(groups[0].name)
			return res, p, nil
		}
	}
	res, err := f.steps(ctx, res, account, user, address, "", answers, expired)
	return res, nil, err
}

// group is one further step the user has: the methods (Steps of one
// Name) the user has.
type group struct {
	name  string
	steps []Step
}

// required is the further steps user of account has, in the order of
// f.Steps.
func (f *PasswordFlow) required(ctx context.Context, account, user string) ([]group, error) {
	var out []group
	for _, st := range f.Steps {
		need, err := st.Required(ctx, account, user)
		if err != nil {
			return nil, err
		}
		if !need {
			continue
		}
		i := slices.IndexFunc(out, func(g group) bool { return g.name == st.Name() })
		if i < 0 {
			out = append(out, group{name: st.Name()})
			i = len(out) - 1
		}
		out[i].steps = append(out[i].steps, st)
	}
	return out, nil
}

func stepReason(name string) string { return "the " + name + " step is missing or wrong" }

// steps runs the further steps of a user whose password was verified
// and, when they all pass (each with one of its methods the user has,
// only method when not ""), accepts it.
func (f *PasswordFlow) steps(ctx context.Context, res Result, account, user, address, method string, answers map[string]string, expired bool) (Result, error) {
	name := res.Name
	groups, err := f.required(ctx, account, user)
	if err != nil {
		return Result{}, err
	}
	for _, g := range groups {
		ok := false
		for _, st := range g.steps {
			if method != "" && MethodOf(st) != method {
				continue
			}
			if ok, err = st.Verify(ctx, account, user, answers); err != nil {
				return Result{}, err
			}
			if ok {
				break
			}
		}
		if !ok {
			f.Throttle.Fail(name, address)
			return Result{Status: Refused, Name: name, Reason: stepReason(g.name)}, nil
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
func (f *PasswordFlow) directorySignIn(ctx context.Context, name, account, login, password, address string, answers map[string]string, begin bool) (Result, *Partial, error) {
	res := Result{Status: Refused, Name: name, Reason: badCredentials}
	if password == "" {
		// Never sent to a directory (an empty password is an
		// unauthenticated bind); priced and counted like an unknown user.
		DummyVerify(password)
		f.Throttle.Fail(name, address)
		return res, nil, nil
	}
	du, ok, err := f.Directories.SignIn(ctx, account, login, password)
	if err != nil {
		return Result{}, nil, err
	}
	if ok {
		// The resolved user must exist and be enabled now.
		rec, found, err := f.Users.LookupUser(ctx, du.Account, du.User)
		if err != nil {
			return Result{}, nil, err
		}
		if found && rec.Enabled {
			res.Verified = true
			return f.verified(ctx, res, du.Account, du.User, address, answers, false, begin)
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
	return res, nil, nil
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

// Pending is the further steps user of account has now, with the
// methods of each the user has (nil when none): for a sign-in that
// verified the user another way (an external provider) and must still
// ask for them with Continue.
func (f *PasswordFlow) Pending(ctx context.Context, account, user string) ([]PendingStep, error) {
	groups, err := f.required(ctx, account, user)
	if err != nil {
		return nil, err
	}
	return pendingSteps(groups), nil
}

func pendingSteps(groups []group) []PendingStep {
	var out []PendingStep
	for _, g := range groups {
		ps := PendingStep{Name: g.name}
		for _, st := range g.steps {
			ps.Methods = append(ps.Methods, MethodOf(st))
		}
		out = append(out, ps)
	}
	return out
}
