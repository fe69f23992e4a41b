package storeadmin

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"strings"
	"time"

	"gatehouse/audit"
	"gatehouse/authn"
	"gatehouse/passwordpolicy"
	"gatehouse/storage"
)

// Actor is the audit log's name for the command line.
const Actor = "cli"

// ParseName splits 'account\user'.
func ParseName(name string) (a, u string, err error) {
	a, u, ok := strings.Cut(name, `\`)
	if !ok {
		return "", "", fmt.Errorf("%q: want account\\user", name)
	}
	if err := storage.ValidName(a); err != nil {
		return "", "", fmt.Errorf("account %q: %w", a, err)
	}
	if err := storage.ValidName(u); err != nil {
		return "", "", fmt.Errorf("user %q: %w", u, err)
	}
	return a, u, nil
}

func entry(a, u, action, suffix string) *storage.AuditEntry {
	target := "/auth/v2/accounts/" + url.PathEscape(a) + "/users/" + url.PathEscape(u) + suffix
	return &storage.AuditEntry{Actor: Actor, Account: a, Action: action, Target: target,
		Address: "local", Outcome: audit.Success}
}

// SetPassword sets user u's password in account a through policy, as
// the API's PUT …/users/{u}/password does, audited.
func SetPassword(ctx context.Context, s *storage.Store, policy passwordpolicy.Policy, a, u, password string) error {
	if err := policy.Check(password, u, a); err != nil {
		return err
	}
	hash, err := authn.HashPassword(password, authn.DefaultParams, rand.Reader)
	if err != nil {
		return err
	}
	reuse := policy.Reuse(password)
	ctx = storage.WithAudit(ctx, entry(a, u, audit.ActionUpdate, "/password"))
	_, _, err = s.PutItem(ctx, a, storage.KindUser, u, storage.UpdateOnly, func(old string, _ bool) (string, error) {
		rec, err := storage.DecodeUser(old)
		if err != nil {
			return "", err
		}
		if err := reuse.Check(rec); err != nil {
			return "", err
		}
		policy.SetPassword(&rec, hash, time.Now())
		return rec.Encode(), nil
	}, nil)
	return err
}

// Unlock clears user u's sign-in lockout in account a, as the API's
// DELETE …/users/{u}/lockout does, audited when there was one.
func Unlock(ctx context.Context, s *storage.Store, a, u string) error {
	_, err := s.ClearLockout(storage.WithAudit(ctx, entry(a, u, audit.ActionDelete, "/lockout")), a, u)
	return err
}

// WithImportAudit returns ctx carrying the audit entry of an import from
// the command line: the entry POST /auth/v2/import writes (action create,
// target the import route, account system), with actor "cli".
func WithImportAudit(ctx context.Context) context.Context {
	return storage.WithAudit(ctx, &storage.AuditEntry{Actor: Actor, Account: storage.SystemAccount,
		Action: audit.ActionCreate, Target: "/auth/v2/import", Address: "local", Outcome: audit.Success})
}
