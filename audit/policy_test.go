package audit

import (
	"testing"

	"gatehouse/authn"
	"gatehouse/storage"
)

func TestActionOf(t *testing.T) {
	for _, c := range []struct{ method, perm, want string }{
		{"GET", "auth:users:read", ""},
		{"POST", "auth:check:read", ""}, // a read, though POSTed
		{"POST", "auth:users:create", ActionCreate},
		{"PUT", "auth:users:update", ActionUpdate},
		{"PUT", "auth:me:password:create", ActionUpdate},
		{"DELETE", "auth:me:attributes:update", ActionDelete},
		{"DELETE", "auth:users:delete", ActionDelete},
	} {
		if got := ActionOf(c.method, c.perm); got != c.want {
			t.Errorf("ActionOf(%s, %s) = %q, want %q", c.method, c.perm, got, c.want)
		}
	}
}

func TestEntries(t *testing.T) {
	r := Request{Principal: authn.Principal{Account: "acme", User: "alice", Method: authn.MethodAPIKey, KeyID: "gh_abcdefgh"},
		Path: "/auth/v2/accounts/acme/users", Address: "10.0.0.1", Time: 42, RequestID: "req-7"}
	e := WriteEntry(r, ActionCreate, Success)
	if e.Actor != "api-key:gh_abcdefgh" || e.Account != "acme" || e.Target != r.Path || e.Detail != "" || e.RequestID != "req-7" {
		t.Errorf("write entry %+v", e)
	}
	// The request id survives the stored form.
	if back, err := storage.DecodeAuditEntry(e.Encode()); err != nil || back.RequestID != "req-7" || back.Target != e.Target {
		t.Errorf("decoded %+v, %v", back, err)
	}
	if e := SignInEntry(r, `acme\alice`, Success, ""); e.RequestID != "req-7" {
		t.Errorf("sign-in entry %+v", e)
	}
	r.Account = "acme-eu"
	if e := WriteEntry(r, ActionDelete, Denied); e.Account != "acme-eu" || e.Detail != "permission denied" || e.Outcome != Denied {
		t.Errorf("denied entry %+v", e)
	}
	for name, actor := range map[string]string{
		`acme\alice`:            `acme\alice`,
		`acme\`:                 "",
		`hunter2-typed-as-name`: "",
		`a\b\c`:                 "",
		"":                      "",
	} {
		e := SignInEntry(r, name, Failure, "bad credentials")
		if e.Actor != actor || e.Action != ActionSignIn || e.Detail != "bad credentials" {
			t.Errorf("SignInEntry(%q): actor %q (want %q), %+v", name, e.Actor, actor, e)
		}
		if actor == "" && e.Account != "" {
			t.Errorf("SignInEntry(%q) names account %q of a malformed name", name, e.Account)
		}
	}
}
