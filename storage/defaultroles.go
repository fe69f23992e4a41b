package storage

import (
	"context"
	"fmt"
)

// Default roles (SPEC §3c) are the roles every user created in an
// account is given at once: an account's set of role names,
// ItemKey(a, KindDefaultRole, r) = "", read as DefaultRoles(a). A
// default role's entry goes with the role (DeleteItem) and with the
// account. Whoever creates a user — the API (PutItem of a new user),
// federation's just-in-time creation and the directory sync through it —
// calls Txn.GrantDefaultRoles in the transaction that creates it, so a
// user never exists without them, and a default role added or removed
// concurrently fails the creation's guards and is seen on the retry.

// KindDefaultRole is an account's default roles.
const KindDefaultRole = "defrole"

func init() {
	// A role's default-role entry goes with the role.
	singles[KindRole] = append(singles[KindRole], KindDefaultRole)
}

// DefaultRoles is the collection of account a's default roles.
func DefaultRoles(a string) Coll { return Coll{Account: a, Kind: KindDefaultRole} }

// AddDefaultRole makes role r (which must exist) a default role of
// account a. With CreateOnly a role already there is ErrMember. It
// reports whether r was new.
func (s *Store) AddDefaultRole(ctx context.Context, a, r string, mode Mode) (created bool, rev int64, err error) {
	rev, err = s.Update(ctx, func(v View, t *Txn) error {
		created = false
		if !v.Has(AccountKey(a)) {
			return notFound(fmt.Sprintf("account %q", a))
		}
		t.Expect(AccountKey(a))
		if err := expectItem(v, t, a, KindRole, r); err != nil {
			return err
		}
		key := ItemKey(a, KindDefaultRole, r)
		if v.Has(key) {
			if mode == CreateOnly {
				return fmt.Errorf("role %q is a default role of account %q already: %w", r, a, ErrMember)
			}
			return nil
		}
		if mode == UpdateOnly {
			return notFound(fmt.Sprintf("default role %q of account %q", r, a))
		}
		created = true
		t.Expect(key)
		t.Put(key, "")
		return nil
	})
	return created, rev, err
}

// RemoveDefaultRole ends role r being a default role of account a;
// users who have it keep it.
func (s *Store) RemoveDefaultRole(ctx context.Context, a, r string) (int64, error) {
	return s.SetRemove(ctx, DefaultRoles(a), r)
}

// GrantDefaultRoles gives user u, created by this transaction in account
// a, every default role of a (both sides of the membership) and returns
// them. It reads through the transaction's guarded view, so a change of
// the default roles, or of a role's existence, before the commit fails
// it. A user must not hold any role yet in this transaction's writes
// (etcd refuses a key put twice in one transaction): callers that grant
// further roles skip those returned.
func (t *Txn) GrantDefaultRoles(a, u string) []string {
	v := t.View()
	var given []string
	for _, r := range v.Names(DefaultRoles(a)) {
		if !v.HasItem(a, KindRole, r) {
			continue // not kept so (DeleteItem drops it with its role)
		}
		t.PutMember(UserRoles.Of(a, u), r, "")
		t.PutMember(UserRoles.Reverse().Of(a, r), u, "")
		given = append(given, r)
	}
	return given
}
