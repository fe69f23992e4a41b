package authn

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

type userTable map[string]UserRecord

func (u userTable) LookupUser(_ context.Context, a, n string) (UserRecord, bool, error) {
	r, ok := u[a+`\`+n]
	return r, ok, nil
}

// codeStep is a further step whose answer is a fixed code.
type codeStep struct{ users map[string]bool }

func (codeStep) Name() string { return "code" }
func (s codeStep) Required(_ context.Context, a, u string) (bool, error) {
	return s.users[a+`\`+u], nil
}
func (codeStep) Verify(_ context.Context, _, _ string, answers map[string]string) (bool, error) {
	return answers["code"] == "123456", nil
}

func TestPasswordFlow(t *testing.T) {
	fast := Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	hash, err := HashPassword("right-password", fast, bytes.NewReader(bytes.Repeat([]byte{9}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var verified []string
	f := &PasswordFlow{
		Users: userTable{
			`acme\alice`: {PasswordHash: hash, Enabled: true},
			`acme\bob`:   {PasswordHash: hash, Enabled: true},
			`acme\off`:   {PasswordHash: hash},
			`acme\old`:   {PasswordHash: hash, Enabled: true, PasswordExpired: true},
		},
		Throttle:   NewThrottle(ThrottleLimits{UserFailures: 3, AddressFailures: 100}, func() time.Time { return now }),
		Steps:      []Step{codeStep{users: map[string]bool{`acme\bob`: true}}},
		OnVerified: func(a, u string) { verified = append(verified, a+`\`+u) },
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name, user, pass string
		answers          map[string]string
		want             Status
	}{
		{"right password", `acme\alice`, "right-password", nil, Accepted},
		{"wrong password", `acme\alice`, "wrong", nil, Refused},
		{"unknown user", `acme\nobody`, "right-password", nil, Refused},
		{"no account part", `alice`, "right-password", nil, Refused},
		{"disabled", `acme\off`, "right-password", nil, Refused},
		{"expired password signs in, flagged", `acme\old`, "right-password", nil, Accepted},
		{"further step missing", `acme\bob`, "right-password", nil, Refused},
		{"further step wrong", `acme\bob`, "right-password", map[string]string{"code": "000000"}, Refused},
		{"further step right", `acme\bob`, "right-password", map[string]string{"code": "123456"}, Accepted},
		{"third failure for the name", `acme\nobody`, "x", nil, Refused},
		{"throttled name", `acme\nobody`, "right-password", nil, Refused},
		{"throttled name, now blocked", `acme\nobody`, "right-password", nil, Throttled},
	} {
		res, err := f.SignIn(ctx, tc.user, tc.pass, "10.0.0.1", tc.answers)
		if err != nil || res.Status != tc.want {
			t.Errorf("%s: status %v (err %v, reason %q), want %v", tc.name, res.Status, err, res.Reason, tc.want)
		}
		if res.Status == Accepted && (res.Principal.Method != MethodPassword || res.Principal.Scopes != nil) {
			t.Errorf("%s: principal %+v", tc.name, res.Principal)
		}
	}
	if len(verified) != 3 {
		t.Errorf("OnVerified for %v; want alice, old, bob (once every step passed)", verified)
	}
}

type failing struct{}

func (failing) Authenticate(context.Context, Credentials) (Result, error) {
	return Result{}, errors.New("storage down")
}

type claims struct{ status Status }

func (c claims) Authenticate(context.Context, Credentials) (Result, error) {
	return Result{Status: c.status}, nil
}

func TestChain(t *testing.T) {
	ctx := context.Background()
	if res, err := (Chain{claims{NotMine}, claims{Refused}, claims{Accepted}}).Authenticate(ctx, Credentials{}); err != nil || res.Status != Refused {
		t.Errorf("the first authenticator that claims the credentials decides: %v %v", res.Status, err)
	}
	if res, _ := (Chain{claims{NotMine}}).Authenticate(ctx, Credentials{}); res.Status != NotMine {
		t.Errorf("nobody claims: %v", res.Status)
	}
	if _, err := (Chain{failing{}, claims{Accepted}}).Authenticate(ctx, Credentials{}); err == nil {
		t.Error("an authenticator's error is swallowed")
	}
}

// fakeDirectory is a DirectorySignIn over a table of login → password,
// resolving each login to a local user in account "acme" (or
// "acme-sub" for logins starting with "sub-").
type fakeDirectory struct {
	passwords map[string]string
	refuse    map[string]string // login → refusal after a right password
	down      bool
	calls     []string
}

var errDirectoryDown = errors.New("directory down")

func (d *fakeDirectory) SignIn(_ context.Context, account, login, password string) (DirectoryUser, bool, error) {
	d.calls = append(d.calls, account+`\`+login)
	if d.down {
		return DirectoryUser{}, false, errDirectoryDown
	}
	if pw, ok := d.passwords[login]; !ok || pw != password {
		return DirectoryUser{}, false, nil
	}
	if r := d.refuse[login]; r != "" {
		return DirectoryUser{Refusal: r}, false, nil
	}
	a := account
	if len(login) > 4 && login[:4] == "sub-" {
		a = account + "-sub"
	}
	return DirectoryUser{Account: a, User: login}, true, nil
}

func TestPasswordFlowDirectories(t *testing.T) {
	fast := Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	hash, err := HashPassword("local-password", fast, bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	dir := &fakeDirectory{
		passwords: map[string]string{"dora": "dir-pw", "local": "dir-pw", "jit": "dir-pw", "off": "dir-pw",
			"stepper": "dir-pw", "sub-sam": "dir-pw", "clash": "dir-pw"},
		refuse: map[string]string{"clash": "a local user of that name exists"},
	}
	var verified []string
	users := userTable{
		`acme\dora`:        {Enabled: true}, // created by a directory sign-in: no password
		`acme\local`:       {PasswordHash: hash, Enabled: true},
		`acme\off`:         {Enabled: false},
		`acme\stepper`:     {Enabled: true},
		`acme-sub\sub-sam`: {Enabled: true},
	}
	f := &PasswordFlow{
		Users:       users,
		Throttle:    NewThrottle(ThrottleLimits{UserFailures: 3, AddressFailures: 100}, func() time.Time { return now }),
		Steps:       []Step{codeStep{users: map[string]bool{`acme\stepper`: true}}},
		OnVerified:  func(a, u string) { verified = append(verified, a+`\`+u) },
		Directories: dir,
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name, user, pass string
		answers          map[string]string
		want             Status
		principal        string
		asked            bool
	}{
		{"directory user", `acme\dora`, "dir-pw", nil, Accepted, `acme\dora`, true},
		{"directory, wrong password", `acme\dora`, "nope", nil, Refused, "", true},
		{"directory, unknown login", `acme\ghost`, "dir-pw", nil, Refused, "", true},
		{"directory, empty password never asked", `acme\dora`, "", nil, Refused, "", false},
		{"local password wins: directory not asked", `acme\local`, "dir-pw", nil, Refused, "", false},
		{"local password", `acme\local`, "local-password", nil, Accepted, `acme\local`, false},
		{"resolved user missing (not created)", `acme\jit`, "dir-pw", nil, Refused, "", true},
		{"resolved user disabled", `acme\off`, "dir-pw", nil, Refused, "", true},
		{"further step missing", `acme\stepper`, "dir-pw", nil, Refused, "", true},
		{"further step right", `acme\stepper`, "dir-pw", map[string]string{"code": "123456"}, Accepted, `acme\stepper`, true},
		{"resolved into a sub-account", `acme\sub-sam`, "dir-pw", nil, Accepted, `acme-sub\sub-sam`, true},
		{"no account part", `dora`, "dir-pw", nil, Refused, "", false},
	} {
		dir.calls = nil
		res, err := f.SignIn(ctx, tc.user, tc.pass, "10.0.0.1", tc.answers)
		if err != nil || res.Status != tc.want {
			t.Errorf("%s: status %v (err %v, reason %q), want %v", tc.name, res.Status, err, res.Reason, tc.want)
			continue
		}
		if got := len(dir.calls) > 0; got != tc.asked {
			t.Errorf("%s: directory asked %v, want %v", tc.name, dir.calls, tc.asked)
		}
		if tc.want == Accepted {
			if res.Principal.Name() != tc.principal || res.Principal.Method != MethodPassword || !res.Verified {
				t.Errorf("%s: principal %+v verified %v, want %s", tc.name, res.Principal, res.Verified, tc.principal)
			}
		} else if res.Reason != badCredentials && tc.name != "further step missing" {
			t.Errorf("%s: reason %q, want the indistinguishable %q", tc.name, res.Reason, badCredentials)
		}
	}
	if want := []string{`acme\dora`, `acme\local`, `acme\stepper`, `acme-sub\sub-sam`}; len(verified) != len(want) {
		t.Errorf("OnVerified for %v, want %v", verified, want)
	}

	// A refused identity (no rule, name clash) says why.
	res, err := f.SignIn(ctx, `acme\clash`, "dir-pw", "10.0.0.2", nil)
	if err != nil || res.Status != Refused || res.Reason != "a local user of that name exists" {
		t.Errorf("refused identity: %+v, %v", res, err)
	}

	// An unavailable directory is an error, not a wrong password, and is
	// not counted against the name.
	dir.down = true
	for range 5 {
		if res, err := f.SignIn(ctx, `acme\dora`, "dir-pw", "10.0.0.3", nil); !errors.Is(err, errDirectoryDown) {
			t.Fatalf("directory down: %+v, %v; want the directory's error", res, err)
		}
	}
	dir.down = false
	if res, err := f.SignIn(ctx, `acme\dora`, "dir-pw", "10.0.0.3", nil); err != nil || res.Status != Accepted {
		t.Errorf("after the outage: %+v, %v", res, err)
	}

	// Failures count exactly as for local passwords: three wrong
	// passwords (the empty one included) and the name is throttled, even
	// with the right password.
	for _, pw := range []string{"x", "", "y"} {
		if res, _ := f.SignIn(ctx, `acme\dora`, pw, "10.0.0.4", nil); res.Status != Refused {
			t.Fatalf("wrong password %q: %v", pw, res.Status)
		}
	}
	dir.calls = nil
	if res, _ := f.SignIn(ctx, `acme\dora`, "dir-pw", "10.0.0.4", nil); res.Status != Throttled || len(dir.calls) != 0 {
		t.Errorf("after three failures: %v (directory asked %v), want Throttled without asking", res.Status, dir.calls)
	}
}
