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
