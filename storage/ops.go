package storage

import (
	"context"
	"fmt"
)

// Link describes a two-sided membership: From items hold To items under
// Fwd keys, and To items list their holders under Rev keys. Both sides
// always change in the same transaction.
type Link struct {
	Fwd, Rev string // key kinds: SubKey(a, Fwd, from, to) and SubKey(a, Rev, to, from)
	From, To string // item kinds of each side
}

// The memberships gatehouse keeps.
var (
	UserRoles  = Link{Fwd: KindUserRole, Rev: KindRoleUser, From: KindUser, To: KindRole}
	UserGroups = Link{Fwd: KindUserGrp, Rev: KindGrpUser, From: KindUser, To: KindGroup}
	GroupRoles = Link{Fwd: KindGrpRole, Rev: KindRoleGrp, From: KindGroup, To: KindRole}
	GroupUsers = UserGroups.Reverse()
	links      = []Link{UserRoles, UserGroups, GroupRoles}
)

// Reverse is the same membership seen from the other side.
func (l Link) Reverse() Link { return Link{Fwd: l.Rev, Rev: l.Fwd, From: l.To, To: l.From} }

// owned lists the per-item sets an item kind owns (deleted with it).
var owned = map[string][]string{
	KindUser: {KindAttr, KindAPIKey, KindClient, KindSession},
	KindRole: {KindRolePerm},
}

// singles lists single keys an item kind owns.
var singles = map[string][]string{
	KindUser:     {KindLogin, KindTOTP},
	KindProvider: {KindProviderSync},
}

// Mode says what an add does when the member is already there.
type Mode int

const (
	// CreateOnly fails with ErrNameTaken / ErrMember when present (POST).
	CreateOnly Mode = iota
	// Upsert creates or updates (PUT).
	Upsert
	// UpdateOnly fails with ErrNotFound when absent.
	UpdateOnly
)

func notFound(what string) error { return fmt.Errorf("%s: %w", what, ErrNotFound) }

// CreateAccount creates account name under parent (which must exist;
// "" makes a root account). Its ceiling is ceiling, or a copy of the
// parent's when ceiling is nil.
func (s *Store) CreateAccount(ctx context.Context, name string, acc Account, ceiling []string) (int64, error) {
	return s.CreateAccountWithRoles(ctx, name, acc, ceiling, nil)
}

// NewRole is a role created together with its account.
type NewRole struct {
	Name, Description string
	Permissions       []string
	Default           bool // also a default role of the account (defaultroles.go)
}

// CreateAccountWithRoles is CreateAccount that also creates the given
// roles (a new account's starter roles) in the same transaction.
func (s *Store) CreateAccountWithRoles(ctx context.Context, name string, acc Account, ceiling []string, roles []NewRole) (int64, error) {
	return s.Update(ctx, func(v View, t *Txn) error {
		if err := s.buildCreateAccount(v, t, name, acc, ceiling); err != nil {
			return err
		}
		for _, r := range roles {
			t.Put(ItemKey(name, KindRole, r.Name), Role{Description: r.Description}.Encode())
			for _, p := range r.Permissions {
				t.Put(SubKey(name, KindRolePerm, r.Name, p), "")
			}
			if r.Default {
				t.Put(ItemKey(name, KindDefaultRole, r.Name), "")
			}
		}
		return nil
	})
}

func (s *Store) buildCreateAccount(v View, t *Txn, name string, acc Account, ceiling []string) error {
	if v.Has(AccountKey(name)) {
		return fmt.Errorf("account %q: %w", name, ErrNameTaken)
	}
	t.Expect(AccountKey(name))
	if acc.Parent != "" {
		if !v.Has(AccountKey(acc.Parent)) {
			return notFound(fmt.Sprintf("parent account %q", acc.Parent))
		}
		t.Expect(AccountKey(acc.Parent))
		t.Put(ItemKey(acc.Parent, KindChild, name), "")
		if ceiling == nil {
			// The copy relies on every entry it read still being there,
			// and on nothing new: guard both.
			ceiling = v.NamesRange(ItemRange(acc.Parent, KindCeiling))
			t.ExpectNoNew(ItemRange(acc.Parent, KindCeiling))
			for _, p := range ceiling {
				t.Expect(ItemKey(acc.Parent, KindCeiling, p))
			}
		}
	}
	t.Put(AccountKey(name), acc.Encode())
	seen := make(map[string]bool, len(ceiling))
	for _, p := range ceiling {
		if !seen[p] {
			seen[p] = true
			t.Put(ItemKey(name, KindCeiling, p), "")
		}
	}
	return nil
}

// UpdateAccount applies update to account name's record; a changed
// parent moves the account, which must not make a cycle.
func (s *Store) UpdateAccount(ctx context.Context, name string, update func(*Account)) (int64, error) {
	return s.Update(ctx, func(v View, t *Txn) error {
		old, ok := v.Account(name)
		if !ok {
			return notFound(fmt.Sprintf("account %q", name))
		}
		acc := old
		update(&acc)
		t.Expect(AccountKey(name))
		if acc.Parent != old.Parent {
			if acc.Parent == "" || old.Parent == "" {
				return fmt.Errorf("%w: a root account stays a root account", ErrInvalid)
			}
			if !v.Has(AccountKey(acc.Parent)) {
				return notFound(fmt.Sprintf("parent account %q", acc.Parent))
			}
			for p, more := acc.Parent, true; more; p, more = v.Parent(p) {
				if p == name {
					return fmt.Errorf("%w: moving account %q under %q would make a cycle", ErrInvalid, name, acc.Parent)
				}
				t.Expect(AccountKey(p))
			}
			t.Delete(ItemKey(old.Parent, KindChild, name))
			t.Put(ItemKey(acc.Parent, KindChild, name), "")
		}
		if acc != old {
			t.Put(AccountKey(name), acc.Encode())
		}
		return nil
	})
}

// Subtree lists account a and all its descendants, a first.
func (v View) Subtree(a string) []string {
	out := []string{a}
	for i := 0; i < len(out); i++ {
		out = append(out, v.NamesRange(ItemRange(out[i], KindChild))...)
	}
	return out
}

// DeleteAccount removes account a, every account below it, and
// everything they own, in one transaction.
func (s *Store) DeleteAccount(ctx context.Context, a string) (int64, error) {
	return s.Update(ctx, func(v View, t *Txn) error {
		acc, ok := v.Account(a)
		if !ok {
			return notFound(fmt.Sprintf("account %q", a))
		}
		t.Expect(AccountKey(a))
		if acc.Parent != "" {
			t.Delete(ItemKey(acc.Parent, KindChild, a))
		}
		for _, x := range v.Subtree(a) {
			// A descendant moved out (its record rewritten) or a child
			// added since the view fails the guard, and the delete is
			// rebuilt from the new tree.
			t.Expect(AccountKey(x))
			t.ExpectNoNew(ItemRange(x, KindChild))
			t.Delete(AccountKey(x))
			t.DeleteRange(TenantRange(x))
		}
		return nil
	})
}

// PutItem creates or updates item name of kind in account a. update gets
// the old stored value (ok false when absent) and returns the new one; it
// may return an error to refuse. With CreateOnly an existing item is
// ErrNameTaken. extra, if not nil, adds writes to the same transaction
// (a new role's permissions). It reports whether the item was created.
func (s *Store) PutItem(ctx context.Context, a, kind, name string, mode Mode,
	update func(old string, ok bool) (string, error), extra func(v View, t *Txn, created bool) error) (created bool, rev int64, err error) {
	rev, err = s.Update(ctx, func(v View, t *Txn) error {
		created = false
		if !v.Has(AccountKey(a)) {
			return notFound(fmt.Sprintf("account %q", a))
		}
		key := ItemKey(a, kind, name)
		old, ok := v.Get(key)
		if ok && mode == CreateOnly {
			return fmt.Errorf("%s %q: %w", kind, name, ErrNameTaken)
		}
		if !ok && mode == UpdateOnly {
			return notFound(fmt.Sprintf("%s %q in account %q", kind, name, a))
		}
		created = !ok
		val, err := update(old, ok)
		if err != nil {
			return err
		}
		t.Expect(AccountKey(a))
		t.Expect(key)
		if !ok || val != old {
			t.Put(key, val)
		}
		if kind == KindUser {
			// A disabled user has no sessions: they go in this write.
			dropSessionsIfDisabled(v, t, a, name, val)
			if created {
				t.GrantDefaultRoles(a, name) // defaultroles.go
			}
		}
		if extra != nil {
			return extra(v, t, created)
		}
		return nil
	})
	return created, rev, err
}

// DeleteItem removes item name of kind from account a with everything it
// owns and both sides of every membership it is part of.
func (s *Store) DeleteItem(ctx context.Context, a, kind, name string) (int64, error) {
	return s.Update(ctx, func(v View, t *Txn) error {
		key := ItemKey(a, kind, name)
		if !v.Has(key) {
			return notFound(fmt.Sprintf("%s %q in account %q", kind, name, a))
		}
		t.Expect(key)
		t.Delete(key)
		for _, set := range owned[kind] {
			t.DeleteRange(SubRange(a, set, name))
		}
		for _, single := range singles[kind] {
			t.Delete(ItemKey(a, single, name))
		}
		dropPasskeys(v, t, a, kind, name) // with their index entries (passkey.go)
		for _, l := range links {
			for _, side := range []Link{l, l.Reverse()} {
				if side.From != kind {
					continue
				}
				r := SubRange(a, side.Fwd, name)
				t.ExpectNoNew(r)
				v.EachRange(r, func(to, _ string) bool {
					t.Delete(SubKey(a, side.Rev, to, name))
					return true
				})
				t.DeleteRange(r)
			}
		}
		return nil
	})
}

// setOwner returns the key of what owns c, which a write of its members
// requires, and its name in words; ErrInvalid when c has no owner.
func setOwner(c Coll) (key, what string, err error) {
	key, what = c.owner()
	if key == "" {
		return "", "", fmt.Errorf("%w: collection %+v has no owner to write under", ErrInvalid, c)
	}
	return key, what, nil
}

// SetAdd puts member name with value into collection c, whose owner (the
// owning item, or the account for an account's own collections) must
// exist. With CreateOnly a present member is ErrNameTaken. It reports
// whether the member was new.
func (s *Store) SetAdd(ctx context.Context, c Coll, name, value string, mode Mode) (created bool, rev int64, err error) {
	return s.SetUpdate(ctx, c, name, mode, func(string, bool) string { return value })
}

// SetUpdate is SetAdd with the new value computed from the old one (ok
// false when absent) inside the guarded transaction.
func (s *Store) SetUpdate(ctx context.Context, c Coll, name string, mode Mode, update func(old string, ok bool) string) (created bool, rev int64, err error) {
	owner, what, err := setOwner(c)
	if err != nil {
		return false, 0, err
	}
	key := c.key(name)
	rev, err = s.Update(ctx, func(v View, t *Txn) error {
		created = false
		if !v.Has(owner) {
			return notFound(what)
		}
		old, ok := v.Get(key)
		if ok && mode == CreateOnly {
			return fmt.Errorf("%q: %w", name, ErrNameTaken)
		}
		if !ok && mode == UpdateOnly {
			return notFound(fmt.Sprintf("%q", name))
		}
		created = !ok
		t.Expect(owner)
		t.Expect(key)
		if value := update(old, ok); !ok || old != value {
			t.Put(key, value)
		}
		return nil
	})
	return created, rev, err
}

// SetRemove deletes member name from collection c.
func (s *Store) SetRemove(ctx context.Context, c Coll, name string) (int64, error) {
	owner, what, err := setOwner(c)
	if err != nil {
		return 0, err
	}
	key := c.key(name)
	return s.Update(ctx, func(v View, t *Txn) error {
		if !v.Has(owner) {
			return notFound(what)
		}
		if !v.Has(key) {
			return notFound(fmt.Sprintf("%q", name))
		}
		t.Expect(key)
		t.Delete(key)
		return nil
	})
}

// SetReplace makes collection c hold exactly members (name → value).
func (s *Store) SetReplace(ctx context.Context, c Coll, members map[string]string) (int64, error) {
	owner, what, err := setOwner(c)
	if err != nil {
		return 0, err
	}
	prefix := c.prefix()
	return s.Update(ctx, func(v View, t *Txn) error {
		if !v.Has(owner) {
			return notFound(what)
		}
		t.Expect(owner)
		t.ExpectNoNew(prefix)
		v.EachRange(prefix, func(name, old string) bool {
			// Every member read is guarded, kept ones too: a concurrent
			// removal must not leave a set no serial order produces.
			t.Expect(prefix + name)
			if nv, keep := members[name]; !keep {
				t.Delete(prefix + name)
			} else if nv != old {
				t.Put(prefix+name, nv)
			}
			return true
		})
		for name, val := range members {
			if !v.Has(prefix + name) {
				t.Put(prefix+name, val)
			}
		}
		return nil
	})
}

// SetLastLogin records at, the time of user u's verified sign-in,
// guarded on the user existing so that a racing delete never leaves the
// record behind; a user already gone is left alone (no write, no error).
func (s *Store) SetLastLogin(ctx context.Context, a, u, at string) (int64, error) {
	userKey := ItemKey(a, KindUser, u)
	return s.Update(ctx, func(v View, t *Txn) error {
		if !v.Has(userKey) {
			return nil
		}
		t.Expect(userKey)
		t.Put(ItemKey(a, KindLogin, u), at)
		return nil
	})
}

// LinkAdd makes from (of kind l.From) a member of to (of kind l.To) in
// account a, on both sides. With CreateOnly an existing membership is
// ErrMember. It reports whether the membership is new.
func (s *Store) LinkAdd(ctx context.Context, a string, l Link, from, to string, mode Mode) (created bool, rev int64, err error) {
	rev, err = s.Update(ctx, func(v View, t *Txn) error {
		created = false
		if err := expectItem(v, t, a, l.From, from); err != nil {
			return err
		}
		if err := expectItem(v, t, a, l.To, to); err != nil {
			return err
		}
		fwd := SubKey(a, l.Fwd, from, to)
		if v.Has(fwd) {
			if mode == CreateOnly {
				return fmt.Errorf("%s %q already holds %s %q: %w", l.From, from, l.To, to, ErrMember)
			}
			return nil
		}
		if mode == UpdateOnly {
			return notFound(fmt.Sprintf("%s %q of %s %q", l.To, to, l.From, from))
		}
		created = true
		t.Expect(fwd)
		t.Put(fwd, "")
		t.Put(SubKey(a, l.Rev, to, from), "")
		return nil
	})
	return created, rev, err
}

// LinkRemove ends the membership of from in to, on both sides.
func (s *Store) LinkRemove(ctx context.Context, a string, l Link, from, to string) (int64, error) {
	return s.Update(ctx, func(v View, t *Txn) error {
		if err := expectItem(v, t, a, l.From, from); err != nil {
			return err
		}
		fwd := SubKey(a, l.Fwd, from, to)
		if !v.Has(fwd) {
			return notFound(fmt.Sprintf("%s %q of %s %q", l.To, to, l.From, from))
		}
		t.Expect(fwd)
		t.Delete(fwd)
		t.Delete(SubKey(a, l.Rev, to, from))
		return nil
	})
}

// LinkReplace makes from a member of exactly the items in tos (each must
// exist), on both sides.
func (s *Store) LinkReplace(ctx context.Context, a string, l Link, from string, tos []string) (int64, error) {
	return s.Update(ctx, func(v View, t *Txn) error {
		if err := expectItem(v, t, a, l.From, from); err != nil {
			return err
		}
		want := make(map[string]bool, len(tos))
		for _, to := range tos {
			if !want[to] {
				if err := expectItem(v, t, a, l.To, to); err != nil {
					return err
				}
			}
			want[to] = true
		}
		r := SubRange(a, l.Fwd, from)
		t.ExpectNoNew(r)
		v.EachRange(r, func(to, _ string) bool {
			t.Expect(r + to) // kept members are relied on too
			if !want[to] {
				t.Delete(r + to)
				t.Delete(SubKey(a, l.Rev, to, from))
			}
			delete(want, to)
			return true
		})
		for to := range want {
			t.Put(r+to, "")
			t.Put(SubKey(a, l.Rev, to, from), "")
		}
		return nil
	})
}

func expectItem(v View, t *Txn, a, kind, name string) error {
	key := ItemKey(a, kind, name)
	if !v.Has(key) {
		return notFound(fmt.Sprintf("%s %q in account %q", kind, name, a))
	}
	t.Expect(key)
	return nil
}
