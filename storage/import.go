package storage

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Export and import of an account subtree (SPEC §3c). ExportSubtree reads
// what an account and its descendants hold into plain records; Import
// writes such records into a store as one guarded transaction. Both cover
// the account records, ceilings, roles with their permissions, default
// roles, groups with their users and roles, and users with their password
// hashes (never a plain secret), roles and attributes. The rest of what an
// account may hold (API keys, OAuth clients, identity providers, federation
// rules and links, passkeys, TOTP secrets) is not exported yet: the export
// leaves it out and names what it left out (ExportSubtree's omitted), so
// an export never loses state without saying so. Volatile state
// (sessions, last sign-ins, failure counts, lockouts) is left out on
// purpose.

// ErrTooLarge is an import above the single-transaction limit.
var ErrTooLarge = errors.New("too large")

// ImportMaxOps is the most etcd operations an import may take: below the
// embedded etcd's transaction limit of 16384 (embedded.go), leaving room
// for the writes the transaction carries besides (its audit entry). An
// external etcd needs --max-txn-ops above this, or it refuses larger
// imports itself.
const ImportMaxOps = 16000

// ImportMaxBytes is the most key and value bytes an import may write, below
// the embedded etcd's request limit of 8 MiB.
const ImportMaxBytes = 6 << 20

// SubtreeAccount is one account of an exported subtree.
type SubtreeAccount struct {
	Name         string
	Account      Account
	Ceiling      []string
	Roles        []SubtreeRole
	DefaultRoles []string
	Groups       []SubtreeGroup
	Users        []SubtreeUser
}

// SubtreeRole is a role with its permissions.
type SubtreeRole struct {
	Name        string
	Role        Role
	Permissions []string
}

// SubtreeGroup is a group with its roles and users.
type SubtreeGroup struct {
	Name  string
	Group Group
	Roles []string
	Users []string
}

// SubtreeUser is a user with its roles and attributes (name, value).
type SubtreeUser struct {
	Name       string
	User       User
	Roles      []string
	Attributes [][2]string
}

// exportedKinds are the kinds an export carries, or leaves out on purpose
// as volatile (last sign-in, sessions, a WebAuthn user handle without its
// passkeys). Anything else in an account's range is named in the export's
// omitted list, so state a later kind adds is never dropped silently.
var exportedKinds = map[string]bool{
	KindChild: true, KindCeiling: true, KindRole: true, KindRolePerm: true,
	KindGroup: true, KindUser: true, KindAttr: true, KindDefaultRole: true,
	KindUserRole: true, KindRoleUser: true, KindUserGrp: true, KindGrpUser: true,
	KindGrpRole: true, KindRoleGrp: true,
	KindLogin: true, KindSession: true, KindPasskeyUser: true,
}

// unsupportedKinds names the kinds an export leaves out, as the tokens of
// its omitted list (another kind is named "kind-{kind}").
var unsupportedKinds = map[string]string{
	KindAPIKey:       "api-keys",
	KindClient:       "clients",
	KindProvider:     "providers",
	KindProviderSync: "providers",
	KindRule:         "rules",
	KindFederated:    "federations",
	KindPasskey:      "passkeys",
	KindTOTP:         "totp",
}

// ExportSubtree reads account a and its descendants, a first and every
// parent before its children; names within an account are in key order.
// omitted lists (sorted, once each) what the subtree holds that the export
// does not carry (unsupportedKinds).
func (v View) ExportSubtree(a string) (out []SubtreeAccount, omitted []string, err error) {
	if _, ok := v.Account(a); !ok {
		return nil, nil, notFound(fmt.Sprintf("account %q", a))
	}
	left := map[string]bool{}
	for _, x := range v.Subtree(a) {
		v.EachRange(TenantRange(x), func(name, _ string) bool {
			kind, _, _ := strings.Cut(name, "/")
			if exportedKinds[kind] {
				return true
			}
			what := unsupportedKinds[kind]
			if what == "" {
				what = "kind-" + kind
			}
			left[what] = true
			return true
		})
		acc, _ := v.Account(x)
		sa := SubtreeAccount{Name: x, Account: acc,
			Ceiling:      v.NamesRange(ItemRange(x, KindCeiling)),
			DefaultRoles: v.NamesRange(ItemRange(x, KindDefaultRole))}
		for _, r := range v.NamesRange(ItemRange(x, KindRole)) {
			rec, _ := v.Role(x, r)
			sa.Roles = append(sa.Roles, SubtreeRole{Name: r, Role: rec,
				Permissions: v.NamesRange(SubRange(x, KindRolePerm, r))})
		}
		for _, g := range v.NamesRange(ItemRange(x, KindGroup)) {
			rec, _ := v.Group(x, g)
			sa.Groups = append(sa.Groups, SubtreeGroup{Name: g, Group: rec,
				Roles: v.NamesRange(SubRange(x, KindGrpRole, g)),
				Users: v.NamesRange(SubRange(x, KindGrpUser, g))})
		}
		for _, u := range v.NamesRange(ItemRange(x, KindUser)) {
			rec, _ := v.User(x, u)
			su := SubtreeUser{Name: u, User: rec, Roles: v.NamesRange(SubRange(x, KindUserRole, u))}
			v.EachRange(SubRange(x, KindAttr, u), func(n, val string) bool {
				su.Attributes = append(su.Attributes, [2]string{n, val})
				return true
			})
			sa.Users = append(sa.Users, su)
		}
		out = append(out, sa)
	}
	omitted = slices.Sorted(maps.Keys(left))
	return out, omitted, nil
}

// Import writes accounts (the first is the top of the subtree, whose
// parent must exist in the store; every other account's parent must be an
// earlier account of the list) in one transaction guarded on every account
// name being free, so nothing is written when one is taken (ErrNameTaken).
// A membership, default role or role naming an item the account does not
// hold, a bad name or a duplicate is ErrInvalid; more than ImportMaxOps
// operations or ImportMaxBytes bytes is ErrTooLarge.
func (s *Store) Import(ctx context.Context, accounts []SubtreeAccount) (int64, error) {
	if len(accounts) == 0 {
		return 0, fmt.Errorf("nothing to import: %w", ErrInvalid)
	}
	rev, err := s.Update(ctx, func(v View, t *Txn) error {
		ops, size := 0, 0
		put := func(key, value string) {
			ops++
			size += len(key) + len(value)
			t.Put(key, value)
		}
		inDoc := map[string]bool{}
		for i, sa := range accounts {
			if err := ValidName(sa.Name); err != nil {
				return fmt.Errorf("account %q: %v: %w", sa.Name, err, ErrInvalid)
			}
			if inDoc[sa.Name] {
				return fmt.Errorf("account %q appears twice: %w", sa.Name, ErrInvalid)
			}
			if v.Has(AccountKey(sa.Name)) {
				return fmt.Errorf("account %q: %w", sa.Name, ErrNameTaken)
			}
			t.Expect(AccountKey(sa.Name))
			t.ExpectNoNew(TenantRange(sa.Name))
			parent := sa.Account.Parent
			switch {
			case i == 0 && parent != "":
				if !v.Has(AccountKey(parent)) {
					return notFound(fmt.Sprintf("parent account %q", parent))
				}
				t.Expect(AccountKey(parent))
			case i > 0 && !inDoc[parent]:
				return fmt.Errorf("account %q: its parent %q is not an earlier account of the import: %w", sa.Name, parent, ErrInvalid)
			}
			inDoc[sa.Name] = true
			if parent != "" {
				put(ItemKey(parent, KindChild, sa.Name), "")
			}
			put(AccountKey(sa.Name), sa.Account.Encode())
			if err := importAccount(sa, put); err != nil {
				return err
			}
		}
		if ops > ImportMaxOps || size > ImportMaxBytes {
			return fmt.Errorf("the import needs %d etcd operations and %d bytes; one transaction takes at most %d operations and %d bytes: %w",
				ops, size, ImportMaxOps, ImportMaxBytes, ErrTooLarge)
		}
		return nil
	})
	if err != nil && errors.Is(err, ErrInvalid) &&
		(strings.Contains(err.Error(), "too many operations") || strings.Contains(err.Error(), "request is too large")) {
		// An external etcd with smaller limits (--max-txn-ops,
		// --max-request-bytes) refused the transaction.
		return 0, fmt.Errorf("etcd refused the import as one transaction (raise its --max-txn-ops to %d and --max-request-bytes above %d): %w",
			ImportMaxOps, ImportMaxBytes, ErrTooLarge)
	}
	return rev, err
}

// importAccount puts what one account holds, checking that every name is
// valid and unique and every reference resolves within the account.
func importAccount(sa SubtreeAccount, put func(key, value string)) error {
	a := sa.Name
	bad := func(format string, args ...any) error {
		return fmt.Errorf("account %q: "+format+": %w", append(append([]any{a}, args...), ErrInvalid)...)
	}
	names := func(what string, list []string, check func(string) error) (map[string]bool, error) {
		seen := make(map[string]bool, len(list))
		for _, n := range list {
			if err := check(n); err != nil {
				return nil, bad("%s %q: %v", what, n, err)
			}
			if seen[n] {
				return nil, bad("%s %q appears twice", what, n)
			}
			seen[n] = true
		}
		return seen, nil
	}
	if _, err := names("ceiling permission", sa.Ceiling, nonEmpty); err != nil {
		return err
	}
	for _, p := range sa.Ceiling {
		put(ItemKey(a, KindCeiling, p), "")
	}
	roleNames := make([]string, len(sa.Roles))
	for i, r := range sa.Roles {
		roleNames[i] = r.Name
	}
	roles, err := names("role", roleNames, ValidName)
	if err != nil {
		return err
	}
	userNames := make([]string, len(sa.Users))
	for i, u := range sa.Users {
		userNames[i] = u.Name
	}
	users, err := names("user", userNames, ValidName)
	if err != nil {
		return err
	}
	groupNames := make([]string, len(sa.Groups))
	for i, g := range sa.Groups {
		groupNames[i] = g.Name
	}
	if _, err := names("group", groupNames, ValidName); err != nil {
		return err
	}
	refs := func(what string, list []string, known map[string]bool) error {
		_, err := names(what, list, func(n string) error {
			if !known[n] {
				return errors.New("not in the account")
			}
			return nil
		})
		return err
	}
	for _, r := range sa.Roles {
		if _, err := names("permission of role "+r.Name, r.Permissions, nonEmpty); err != nil {
			return err
		}
		put(ItemKey(a, KindRole, r.Name), r.Role.Encode())
		for _, p := range r.Permissions {
			put(SubKey(a, KindRolePerm, r.Name, p), "")
		}
	}
	if err := refs("default role", sa.DefaultRoles, roles); err != nil {
		return err
	}
	for _, r := range sa.DefaultRoles {
		put(ItemKey(a, KindDefaultRole, r), "")
	}
	for _, g := range sa.Groups {
		if err := refs("role of group "+g.Name, g.Roles, roles); err != nil {
			return err
		}
		if err := refs("user of group "+g.Name, g.Users, users); err != nil {
			return err
		}
		put(ItemKey(a, KindGroup, g.Name), g.Group.Encode())
		for _, r := range g.Roles {
			put(SubKey(a, KindGrpRole, g.Name, r), "")
			put(SubKey(a, KindRoleGrp, r, g.Name), "")
		}
		for _, u := range g.Users {
			put(SubKey(a, KindGrpUser, g.Name, u), "")
			put(SubKey(a, KindUserGrp, u, g.Name), "")
		}
	}
	for _, u := range sa.Users {
		if err := refs("role of user "+u.Name, u.Roles, roles); err != nil {
			return err
		}
		attrs := make([]string, len(u.Attributes))
		for i, kv := range u.Attributes {
			attrs[i] = kv[0]
		}
		if _, err := names("attribute of user "+u.Name, attrs, ValidName); err != nil {
			return err
		}
		put(ItemKey(a, KindUser, u.Name), u.User.Encode())
		for _, r := range u.Roles {
			put(SubKey(a, KindUserRole, u.Name, r), "")
			put(SubKey(a, KindRoleUser, r, u.Name), "")
		}
		for _, kv := range u.Attributes {
			put(SubKey(a, KindAttr, u.Name, kv[0]), kv[1])
		}
	}
	return nil
}

func nonEmpty(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	return nil
}
