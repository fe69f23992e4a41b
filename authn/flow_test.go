package authn

import (
	"bytes"
	"context"
	"errors"
	"slices"
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

// altStep is a second method of codeStep's step (same Name): its answer
// is the field "key".
type altStep struct{ users map[string]bool }

func (altStep) Name() string   { return "code" }
func (altStep) Method() string { return "key" }
func (s altStep) Required(_ context.Context, a, u string) (bool, error) {
	return s.users[a+`\`+u], nil
}
func (altStep) Verify(_ context.Context, _, _ string, answers map[string]string) (bool, error) {
	return answers["key"] == "k-1", nil
}

// Begin stops after the password for a user with further steps (nothing
// counted, the Partial names them and the methods the user has);
// Continue answers them, throttled and counted like the password.
func TestPasswordFlowBeginContinue(t *testing.T) {
	fast := Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	hash, err := HashPassword("right-password", fast, bytes.NewReader(bytes.Repeat([]byte{5}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var verified []string
	users := userTable{
		`acme\alice`: {PasswordHash: hash, Enabled: true},
		`acme\bob`:   {PasswordHash: hash, Enabled: true},
		`acme\cy`:    {PasswordHash: hash, Enabled: true},
	}
	f := &PasswordFlow{
		Users:    users,
		Throttle: NewThrottle(ThrottleLimits{UserFailures: 3, AddressFailures: 100}, func() time.Time { return now }),
		Steps: []Step{codeStep{users: map[string]bool{`acme\bob`: true, `acme\cy`: true}},
			altStep{users: map[string]bool{`acme\cy`: true}}},
		OnVerified: func(a, u string) { verified = append(verified, a+`\`+u) },
	}
	ctx := context.Background()

	// No further step: Begin is SignIn.
	res, p, err := f.Begin(ctx, `acme\alice`, "right-password", "10.0.0.1")
	if err != nil || res.Status != Accepted || p != nil {
		t.Fatalf("alice: %v %+v %v", res.Status, p, err)
	}
	// Wrong password or unknown user: refused, no Partial, counted.
	for _, name := range []string{`acme\bob`, `acme\nobody`} {
		res, p, err := f.Begin(ctx, name, "wrong", "10.0.0.1")
		if err != nil || res.Status != Refused || p != nil || res.Reason != badCredentials {
			t.Fatalf("%s wrong password: %v %+v %q %v", name, res.Status, p, res.Reason, err)
		}
	}
	// bob's password: refused as SignIn would, with the Partial.
	res, p, err = f.Begin(ctx, `acme\bob`, "right-password", "10.0.0.1")
	if err != nil || res.Status != Refused || p == nil || p.Account != "acme" || p.User != "bob" || p.Name != `acme\bob` ||
		len(p.Steps) != 1 || p.Steps[0].Name != "code" || !slices.Equal(p.Steps[0].Methods, []string{"code"}) {
		t.Fatalf("bob: %v %+v %v", res.Status, p, err)
	}
	if len(verified) != 1 {
		t.Fatalf("OnVerified before the further step: %v", verified)
	}
	// Two wrong answers and the earlier wrong password: the third
	// failure; bob is throttled even with the right answer.
	if res, err := f.Continue(ctx, *p, "10.0.0.1", "", map[string]string{"code": "000000"}); err != nil || res.Status != Refused || res.Reason != "the code step is missing or wrong" {
		t.Fatalf("wrong answer: %v %q %v", res.Status, res.Reason, err)
	}
	// The password again does not clear the count.
	if res, p2, _ := f.Begin(ctx, `acme\bob`, "right-password", "10.0.0.1"); res.Status != Refused || p2 == nil {
		t.Fatalf("bob again: %v", res.Status)
	}
	if res, _ := f.Continue(ctx, *p, "10.0.0.1", "", nil); res.Status != Refused {
		t.Fatalf("missing answer: %v", res.Status)
	}
	if res, _ := f.Continue(ctx, *p, "10.0.0.1", "", map[string]string{"code": "123456"}); res.Status != Throttled || res.RetryAfter <= 0 {
		t.Fatalf("after three failures: %v", res.Status)
	}
	if res, p2, _ := f.Begin(ctx, `acme\bob`, "right-password", "10.0.0.1"); res.Status != Throttled || p2 != nil {
		t.Fatalf("password after three failures: %v %+v", res.Status, p2)
	}

	// cy has both methods: either passes; a method chosen is the only
	// one tried.
	res, p, err = f.Begin(ctx, `acme\cy`, "right-password", "10.0.0.2")
	if err != nil || p == nil || len(p.Steps) != 1 || !slices.Equal(p.Steps[0].Methods, []string{"code", "key"}) {
		t.Fatalf("cy: %v %+v %v", res.Status, p, err)
	}
	if res, _ := f.Continue(ctx, *p, "10.0.0.2", "code", map[string]string{"key": "k-1"}); res.Status != Refused {
		t.Fatalf("the key's answer under method code: %v", res.Status)
	}
	res, err = f.Continue(ctx, *p, "10.0.0.2", "key", map[string]string{"key": "k-1"})
	if err != nil || res.Status != Accepted || !res.Verified || res.Principal.Name() != `acme\cy` || res.Principal.Method != MethodPassword {
		t.Fatalf("cy with the key: %v %+v %v", res.Status, res.Principal, err)
	}
	if res, _ := f.SignIn(ctx, `acme\cy`, "right-password", "10.0.0.2", map[string]string{"code": "123456"}); res.Status != Accepted {
		t.Fatalf("SignIn takes either method: %v", res.Status)
	}
	if !slices.Equal(verified, []string{`acme\alice`, `acme\cy`, `acme\cy`}) {
		t.Errorf("OnVerified for %v", verified)
	}

	// Pending lists the steps a user has now (an external sign-in).
	if ps, err := f.Pending(ctx, "acme", "cy"); err != nil || len(ps) != 1 || !slices.Equal(ps[0].Methods, []string{"code", "key"}) {
		t.Fatalf("Pending(cy): %+v %v", ps, err)
	}
	if ps, err := f.Pending(ctx, "acme", "alice"); err != nil || ps != nil {
		t.Fatalf("Pending(alice): %+v %v", ps, err)
	}

	// A user disabled between the password and the step is refused.
	_, p, _ = f.Begin(ctx, `acme\cy`, "right-password", "10.0.0.2")
	users[`acme\cy`] = UserRecord{PasswordHash: hash}
	if res, _ := f.Continue(ctx, *p, "10.0.0.2", "", map[string]string{"code": "123456"}); res.Status != Refused {
		t.Fatalf("disabled meanwhile: %v", res.Status)
	}
}
