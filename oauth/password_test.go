package oauth

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"

	"gatehouse/authn"
)

type pwUsers map[string]authn.UserRecord

func (u pwUsers) LookupUser(_ context.Context, a, n string) (authn.UserRecord, bool, error) {
	r, ok := u[a+`\`+n]
	return r, ok, nil
}

// totpStep is a further step reading the "totp" answer.
type totpStep struct{ got *map[string]string }

func (totpStep) Name() string                                           { return "totp" }
func (totpStep) Required(context.Context, string, string) (bool, error) { return true, nil }
func (s totpStep) Verify(_ context.Context, _, _ string, answers map[string]string) (bool, error) {
	*s.got = answers
	return answers["totp"] == "123456", nil
}

// The password grant's Authenticate signs in through the PasswordFlow,
// passes the form's other fields as step answers, and refuses with
// fosite.ErrNotFound (invalid_grant) whatever went wrong.
func TestPasswordAuthenticate(t *testing.T) {
	hash, err := authn.HashPassword("pw-0123456789", authn.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	flow := &authn.PasswordFlow{
		Users:    pwUsers{`acme\ann`: {PasswordHash: hash, Enabled: true}, `acme\off`: {PasswordHash: hash}},
		Throttle: authn.NewThrottle(authn.ThrottleLimits{UserFailures: 100, AddressFailures: 100}, time.Now),
		Steps:    []authn.Step{totpStep{&got}},
	}
	pa := passwordAuth{flow}
	try := func(name, pass string, form url.Values) (string, *passwordAttempt, error) {
		r, _ := http.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if err := r.ParseForm(); err != nil {
			t.Fatal(err)
		}
		att := &passwordAttempt{address: "192.0.2.1"}
		ctx := context.WithValue(context.Background(), fosite.RequestContextKey, r)
		ctx = context.WithValue(ctx, passwordAttemptKey{}, att)
		sub, err := pa.Authenticate(ctx, name, pass)
		return sub, att, err
	}
	form := url.Values{"grant_type": {"password"}, "username": {`acme\ann`}, "password": {"pw-0123456789"},
		"client_id": {AdminCLIClientID}, "totp": {"123456"}}
	sub, att, err := try(`acme\ann`, "pw-0123456789", form)
	if err != nil || sub != `acme\ann` || att.account != "acme" || att.user != "ann" {
		t.Fatalf("sign-in: %q %+v %v", sub, att, err)
	}
	if len(got) != 1 || got["totp"] != "123456" {
		t.Errorf("step answers %v, want only totp", got)
	}
	form.Set("totp", "000000")
	for _, c := range []struct{ name, pass string }{{`acme\ann`, "pw-0123456789"}, {`acme\ann`, "wrong"},
		{`acme\nobody`, "pw-0123456789"}, {`acme\off`, "pw-0123456789"}, {"ann", "pw-0123456789"}} {
		if _, att, err := try(c.name, c.pass, form); !errors.Is(err, fosite.ErrNotFound) || att.user != "" {
			t.Errorf("%s/%s: %v %+v, want fosite.ErrNotFound", c.name, c.pass, err, att)
		}
	}
	if _, err := (passwordAuth{}).Authenticate(context.Background(), `acme\ann`, "x"); err == nil || errors.Is(err, fosite.ErrNotFound) {
		t.Errorf("no flow: %v", err)
	}
}

func TestAdminCLIClient(t *testing.T) {
	c, err := (&StorageClients{}).GetClient(context.Background(), AdminCLIClientID)
	if err != nil {
		t.Fatal(err)
	}
	cl := c.(*Client)
	if !cl.IsPublic() || !cl.FirstParty || len(cl.Secret) != 0 || !cl.GetGrantTypes().Has("password") ||
		!cl.GetGrantTypes().Has("refresh_token") || cl.GetGrantTypes().Has("client_credentials") ||
		!PermissionScopeStrategy(cl.GetScopes(), "auth:accounts:read") || !cl.GetScopes().Has("offline_access") {
		t.Errorf("admin-cli: %+v", cl)
	}
}
