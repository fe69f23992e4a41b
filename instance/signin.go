package instance

import (
	"context"
	"log/slog"
	"time"

	"gatehouse/authn"
	"gatehouse/storage"
)

// The storage side of sign-in: authn's small lookup interfaces adapted to
// the store's watch-fed view, and the last-login write of a new sign-in.

// users finds local users for password sign-in. A password is expired
// by the password policy (expired: the stored flag, or older than
// auth.password.max-age by now).
type users struct {
	store   *storage.Store
	expired func(rec storage.User, now time.Time) bool
	now     func() time.Time
}

var _ authn.Users = users{}

func (u users) LookupUser(ctx context.Context, account, user string) (authn.UserRecord, bool, error) {
	if storage.ValidName(account) != nil || storage.ValidName(user) != nil {
		return authn.UserRecord{}, false, nil
	}
	var rec storage.User
	var found bool
	err := u.store.Read(ctx, 0, func(v storage.View) error {
		rec, found = v.User(account, user)
		found = found && !v.Importing(account) // a journaled import under way
		return nil
	})
	return authn.UserRecord{PasswordHash: rec.PasswordHash, Enabled: rec.Enabled,
		PasswordExpired: u.expired(rec, u.now())}, found, err
}

// apiKeys finds API keys by id through their index.
type apiKeys struct{ store *storage.Store }

var _ authn.APIKeys = apiKeys{}

func (k apiKeys) LookupAPIKey(ctx context.Context, id string) (authn.APIKeyRecord, bool, error) {
	if storage.ValidName(id) != nil {
		return authn.APIKeyRecord{}, false, nil
	}
	var rec authn.APIKeyRecord
	var found bool
	err := k.store.Read(ctx, 0, func(v storage.View) error {
		a, u, key, ok := v.APIKeyOwner(id)
		if !ok || v.Importing(a) { // a journaled import under way
			return nil
		}
		found = true
		owner, ok := v.User(a, u)
		rec = authn.APIKeyRecord{Account: a, User: u, SecretHash: key.SecretHash,
			Permissions: key.Permissions, OwnerEnabled: ok && owner.Enabled}
		if key.Expires != 0 {
			rec.Expires = time.Unix(key.Expires, 0)
		}
		return nil
	})
	return rec, found, err
}

// lastLogin stores the time of a verified sign-in, guarded on the user
// existing so that a racing delete never leaves the key behind. It runs
// detached from the request: a sign-in never waits on etcd, and the
// argon2id run before it bounds how often it happens.
func lastLogin(store *storage.Store, log *slog.Logger, now func() time.Time) func(account, user string) {
	return func(account, user string) {
		at := now().UTC().Format(time.RFC3339)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := store.SetLastLogin(ctx, account, user, at); err != nil {
				log.Warn("recording last sign-in failed", "principal", account+`\`+user, "err", err)
			}
		}()
	}
}
