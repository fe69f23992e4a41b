package authn

import (
	"bytes"
	"context"
	"testing"
	"time"
)

func TestAPIKeyID(t *testing.T) {
	for secret, want := range map[string]string{
		"gh_abcdefgh_secretpart": "gh_abcdefgh",
		"gh_abcdefgh":            "", // no secret part
		"gh__secret":             "",
		"xx_abcdefgh_secret":     "",
		"gh_a/b_secret":          "", // not a name: never a key path
		"gh_ABCDEFGH_secret":     "", // keys are lower-case
		"":                       "",
	} {
		if got := APIKeyID(secret); got != want {
			t.Errorf("APIKeyID(%q) = %q, want %q", secret, got, want)
		}
	}
}

func TestNewAPIKeySecret(t *testing.T) {
	id, secret, err := NewAPIKeySecret(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	if APIKeyID(secret) != id || len(id) != len(APIKeyPrefix)+8 || len(secret) < len(id)+50 {
		t.Errorf("id %q, secret of %d characters", id, len(secret))
	}
	if HashAPIKeySecret(secret) == HashAPIKeySecret(secret+"x") {
		t.Error("hash ignores the secret's end")
	}
}

// keyTable is an in-memory APIKeys for the authenticator's own rules.
type keyTable map[string]APIKeyRecord

func (k keyTable) LookupAPIKey(_ context.Context, id string) (APIKeyRecord, bool, error) {
	r, ok := k[id]
	return r, ok, nil
}

func TestAPIKeyAuthenticator(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	id, secret, _ := NewAPIKeySecret(bytes.NewReader(bytes.Repeat([]byte{1}, 64)))
	oldID, oldSecret, _ := NewAPIKeySecret(bytes.NewReader(bytes.Repeat([]byte{2}, 64)))
	offID, offSecret, _ := NewAPIKeySecret(bytes.NewReader(bytes.Repeat([]byte{3}, 64)))
	keys := keyTable{
		id:    {Account: "acme", User: "alice", SecretHash: HashAPIKeySecret(secret), Permissions: []string{"print:jobs:read"}, OwnerEnabled: true},
		oldID: {Account: "acme", User: "alice", SecretHash: HashAPIKeySecret(oldSecret), Expires: now, OwnerEnabled: true},
		offID: {Account: "acme", User: "bob", SecretHash: HashAPIKeySecret(offSecret)},
	}
	var used []string
	a := APIKeyAuthenticator{Keys: keys, Throttle: NewThrottle(ThrottleLimits{AddressFailures: 3}, func() time.Time { return now }),
		Now: func() time.Time { return now }, OnUse: func(id string) { used = append(used, id) }}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		cr   Credentials
		want Status
	}{
		{"no key", Credentials{Basic: true, Name: `a\b`}, NotMine},
		{"a JWT bearer is not a key", Credentials{Bearer: "eyJhbGciOi.x.y"}, NotMine},
		{"X-API-Key", Credentials{APIKey: secret, Address: "10.0.0.1"}, Accepted},
		{"Bearer key", Credentials{Bearer: secret, Address: "10.0.0.1"}, Accepted},
		{"expired", Credentials{APIKey: oldSecret, Address: "10.0.0.1"}, Refused},
		{"disabled owner", Credentials{APIKey: offSecret, Address: "10.0.0.1"}, Refused},
		{"wrong secret", Credentials{APIKey: secret + "x", Address: "10.0.0.2"}, Refused},
		{"unknown key", Credentials{APIKey: "gh_zzzzzzzz_nope", Address: "10.0.0.2"}, Refused},
		{"still under the limit", Credentials{APIKey: "gh_zzzzzzzz_nope", Address: "10.0.0.2"}, Refused},
		{"throttled address", Credentials{APIKey: secret, Address: "10.0.0.2"}, Throttled},
	} {
		res, err := a.Authenticate(ctx, tc.cr)
		if err != nil || res.Status != tc.want {
			t.Errorf("%s: status %v (err %v), want %v", tc.name, res.Status, err, tc.want)
		}
		if res.Status == Accepted {
			p := res.Principal
			if p.Account != "acme" || p.User != "alice" || p.Method != MethodAPIKey || p.KeyID != id || len(p.Scopes) != 1 || p.Actor() != "api-key:"+id {
				t.Errorf("%s: principal %+v", tc.name, p)
			}
		}
	}
	if len(used) != 2 {
		t.Errorf("OnUse called %d times, want 2", len(used))
	}
}
