package storage

import (
	"context"
	"time"
)

// Small interfaces naming what callers use of the Store, so a caller can
// say which part it needs. *Store implements them all (Storage).

// Reader runs reads of the cache and guarded writes built from it.
type Reader interface {
	Read(ctx context.Context, minRev int64, fn func(View) error) error
	Update(ctx context.Context, build func(View, *Txn) error) (int64, error)
}

// Accounts creates, changes, moves and deletes accounts.
type Accounts interface {
	CreateAccount(ctx context.Context, name string, acc Account, ceiling []string) (int64, error)
	CreateAccountWithRoles(ctx context.Context, name string, acc Account, ceiling []string, roles []NewRole) (int64, error)
	UpdateAccount(ctx context.Context, name string, update func(*Account)) (int64, error)
	DeleteAccount(ctx context.Context, a string) (int64, error)
}

// Items writes an account's items (users, roles, groups, …), the
// collections they own (attributes, role permissions, the ceiling: Coll)
// and a user's last sign-in.
type Items interface {
	PutItem(ctx context.Context, a, kind, name string, mode Mode,
		update func(old string, ok bool) (string, error), extra func(v View, t *Txn, created bool) error) (created bool, rev int64, err error)
	DeleteItem(ctx context.Context, a, kind, name string) (int64, error)
	SetAdd(ctx context.Context, c Coll, name, value string, mode Mode) (created bool, rev int64, err error)
	SetUpdate(ctx context.Context, c Coll, name string, mode Mode, update func(old string, ok bool) string) (created bool, rev int64, err error)
	SetRemove(ctx context.Context, c Coll, name string) (int64, error)
	SetReplace(ctx context.Context, c Coll, members map[string]string) (int64, error)
	SetLastLogin(ctx context.Context, a, u, at string) (int64, error)
}

// Memberships writes two-sided memberships (Link).
type Memberships interface {
	LinkAdd(ctx context.Context, a string, l Link, from, to string, mode Mode) (created bool, rev int64, err error)
	LinkRemove(ctx context.Context, a string, l Link, from, to string) (int64, error)
	LinkReplace(ctx context.Context, a string, l Link, from string, tos []string) (int64, error)
}

// APIKeys writes users' API keys and their index.
type APIKeys interface {
	CreateAPIKey(ctx context.Context, a, u string, k APIKey) (int64, error)
	UpdateAPIKey(ctx context.Context, a, u, id string, update func(*APIKey) error) (int64, error)
	DeleteAPIKey(ctx context.Context, a, u, id string) (int64, error)
}

// AuditLog writes and reads the audit log (etcd only).
type AuditLog interface {
	Audit(ctx context.Context, e AuditEntry) error
	AuditScan(ctx context.Context, f AuditFilter, fn func(id string, e AuditEntry) bool) (truncated bool, err error)
	AuditGet(ctx context.Context, id string) (AuditEntry, bool, error)
}

// Tokens keeps short-lived token state (authorization codes, PKCE
// sessions, refresh tokens, revocations, replay guards) in etcd under
// leases, so it expires by itself and survives restarts. Reads go to etcd
// (the range is not cached).
type Tokens interface {
	CreateToken(ctx context.Context, kind, id string, value []byte, ttl time.Duration) error // ErrNameTaken if present
	GetToken(ctx context.Context, kind, id string) ([]byte, error)                           // ErrNotFound if absent or expired
	DeleteToken(ctx context.Context, kind, id string) error                                  // ErrNotFound if absent
	// TakeToken reads and deletes in one transaction (single-use codes); ErrNotFound if absent.
	TakeToken(ctx context.Context, kind, id string) ([]byte, error)
}

// Health reports whether the store can serve.
type Health interface {
	Ready() bool
	Ping(ctx context.Context) error
	Rev() int64
}

// Storage is everything the Store offers the service.
type Storage interface {
	Reader
	Accounts
	Items
	Memberships
	APIKeys
	AuditLog
	Tokens
	Health
	Bootstrap(ctx context.Context, adminHash string, now time.Time) (bool, error)
}

var (
	_ Reader      = (*Store)(nil)
	_ Accounts    = (*Store)(nil)
	_ Items       = (*Store)(nil)
	_ Memberships = (*Store)(nil)
	_ APIKeys     = (*Store)(nil)
	_ AuditLog    = (*Store)(nil)
	_ Tokens      = (*Store)(nil)
	_ Health      = (*Store)(nil)
	_ Storage     = (*Store)(nil)
)
