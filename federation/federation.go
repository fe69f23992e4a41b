package federation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"gatehouse/authz"
	"gatehouse/storage"
)

// Principal types (SPEC §8).
const (
	TypeSAML  = "saml"
	TypeLDAP  = "ldap"
	TypeEmail = "email"
)

// Types lists the principal types, in the order /federated shows them.
var Types = []string{TypeEmail, TypeLDAP, TypeSAML}

// ValidType reports whether typ is a principal type.
func ValidType(typ string) bool { return slices.Contains(Types, typ) }

// Mapped attribute names (SPEC §8a, attribute-mapping).
const (
	AttrName     = "name"
	AttrEmail    = "email"
	AttrFullName = "full-name"
	AttrGroups   = "groups"
)

// Errors of Resolve; test them with errors.Is.
var (
	// ErrInvalidIdentity: the identity cannot be a principal (unknown
	// type, empty subject, no usable name for a new user).
	ErrInvalidIdentity = errors.New("federation: invalid identity")
	// ErrNoRule: no rule admits the principal, so no user is made.
	ErrNoRule = errors.New("federation: no rule admits the principal")
	// ErrNameClash: a local user has the mapped name and is not linked
	// to the principal; it is never linked by name.
	ErrNameClash = errors.New("federation: a local user of that name exists and is not linked to the principal")
)

// Identity is what a provider proved about someone.
type Identity struct {
	Type     string // TypeSAML, TypeLDAP or TypeEmail
	Account  string // the provider's account
	Provider string // the provider's name ("" for e-mail)
	Subject  string // NameID, login attribute value, or the address
	// Attributes holds the mapped names (name, email, full-name, groups)
	// and the raw names of the source.
	Attributes map[string][]string
}

// Result is the local user an identity resolved to.
type Result struct {
	Account, User string
	Principal     string // the principal's id
	Created       bool   // the user was created just in time
}

// Options change how Resolve decides.
type Options struct {
	// JITWithoutRule creates the user in the provider's account even when
	// no rule matched (directory sync: SPEC §8a).
	JITWithoutRule bool
	// Now is the clock for a new user's creation time (time.Now if nil).
	Now func() time.Time
}

// Escape writes s as it appears in principal ids and stored attribute
// names: "%" as "%25" and "/" as "%2F".
func Escape(s string) string {
	if !strings.ContainsAny(s, "%/") {
		return s
	}
	return strings.NewReplacer("%", "%25", "/", "%2F").Replace(s)
}

// PrincipalID is the id of the identity's principal.
func PrincipalID(id Identity) string {
	if id.Type == TypeEmail {
		return Escape(id.Subject)
	}
	return id.Account + ":" + id.Provider + ":" + Escape(id.Subject)
}

const maxSubject = 1024

func validate(id Identity) error {
	if !ValidType(id.Type) {
		return fmt.Errorf("%w: type %q is none of %s", ErrInvalidIdentity, id.Type, strings.Join(Types, ", "))
	}
	if err := storage.ValidName(id.Account); err != nil {
		return fmt.Errorf("%w: account: %v", ErrInvalidIdentity, err)
	}
	if id.Type != TypeEmail {
		if err := storage.ValidName(id.Provider); err != nil {
			return fmt.Errorf("%w: provider: %v", ErrInvalidIdentity, err)
		}
	}
	if id.Subject == "" || len(id.Subject) > maxSubject || strings.ContainsFunc(id.Subject, isControl) {
		return fmt.Errorf("%w: the subject is empty, longer than %d bytes or holds control characters", ErrInvalidIdentity, maxSubject)
	}
	if id.Type == TypeEmail && strings.Contains(id.Subject, ":") {
		return fmt.Errorf("%w: e-mail subject %q holds \":\"", ErrInvalidIdentity, id.Subject)
	}
	for name := range id.Attributes {
		if name == "" || strings.ContainsFunc(name, isControl) {
			return fmt.Errorf("%w: attribute name %q", ErrInvalidIdentity, name)
		}
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// attribute returns the values of attribute name: the exact name, else
// the first (in name order) that equals it ignoring case.
func (id Identity) attribute(name string) []string {
	if vs, ok := id.Attributes[name]; ok {
		return vs
	}
	var names []string
	for n := range id.Attributes {
		if strings.EqualFold(n, name) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	return id.Attributes[names[0]]
}

// first is the first non-empty value of attribute name.
func (id Identity) first(name string) string {
	for _, v := range id.attribute(name) {
		if v != "" {
			return v
		}
	}
	return ""
}

// Matches reports whether rule r matches the identity: every condition
// names the identity's type and some value of its attribute matches its
// pattern.
func Matches(r storage.Rule, id Identity) bool {
	for _, c := range r.Conditions {
		if c.Type != id.Type {
			return false
		}
		if !slices.ContainsFunc(id.attribute(c.Attribute), func(v string) bool { return MatchPattern(c.Pattern, v) }) {
			return false
		}
	}
	return true
}

// MatchPattern matches value against a condition pattern: a glob ('*'
// any run, '?' one character) matching the whole value, ignoring the
// case of ASCII letters; without a wildcard, the whole value ignoring
// case.
func MatchPattern(pattern, value string) bool {
	if !strings.ContainsAny(pattern, "*?") {
		return strings.EqualFold(pattern, value)
	}
	return authz.Glob(pattern, value)
}

// Resolve is ResolveWith with the default options.
func Resolve(ctx context.Context, s *storage.Store, id Identity) (Result, error) {
	return ResolveWith(ctx, s, id, Options{})
}

// ResolveWith upserts the identity's principal and attributes and
// resolves it to a local user, creating the user and recomputing its
// rule grants, in one guarded transaction (see the package doc).
func ResolveWith(ctx context.Context, s *storage.Store, id Identity, o Options) (Result, error) {
	if err := validate(id); err != nil {
		return Result{}, err
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	created := now().Unix()
	pid := PrincipalID(id)
	attrs := make(map[string]storage.PrincipalAttribute, len(id.Attributes))
	for name, vs := range id.Attributes {
		attrs[Escape(name)] = storage.PrincipalAttribute{Name: name, Values: slices.Clone(vs)}
	}
	var res Result
	var refused error
	_, err := s.Update(ctx, func(_ storage.View, t *storage.Txn) error {
		res, refused = Result{Principal: pid}, nil
		var given []string // default roles given to a user created here
		v := t.View()      // every read below guards the write
		if !v.AccountExists(id.Account) {
			return fmt.Errorf("provider account %q: %w", id.Account, storage.ErrNotFound)
		}
		old, had := v.Principal(id.Type, pid)
		p := storage.Principal{Account: id.Account, Provider: id.Provider, Subject: id.Subject,
			LinkAccount: old.LinkAccount, LinkUser: old.LinkUser}
		if err := t.ReplacePrincipalAttributes(id.Type, pid, attrs); err != nil {
			return err
		}
		a, u := p.LinkAccount, p.LinkUser
		linked := had && u != "" && v.HasItem(a, storage.KindUser, u) && v.HasMember(storage.UserFederated(a, u), pid)
		if !linked {
			var rootMatched bool
			a, rootMatched = chooseAccount(v, id)
			_, _, anyRule := accountGrants(v, a, id)
			u = id.first(AttrName)
			if u == "" && storage.ValidName(id.Subject) == nil {
				u = id.Subject
			}
			switch {
			case !rootMatched && !anyRule && !o.JITWithoutRule:
				refused = fmt.Errorf("%w: principal %q of provider %q in account %q", ErrNoRule, pid, id.Provider, id.Account)
			case storage.ValidName(u) != nil:
				refused = fmt.Errorf("%w: mapped name %q is not a valid user name", ErrInvalidIdentity, u)
			case v.HasItem(a, storage.KindUser, u):
				refused = fmt.Errorf("%w: user %q in account %q", ErrNameClash, u, a)
			}
			if refused != nil {
				p.LinkAccount, p.LinkUser = "", ""
				if !had || p != old {
					return t.PutPrincipal(id.Type, pid, p)
				}
				return nil
			}
			user := storage.User{Enabled: true, Created: created, Email: id.first(AttrEmail), FullName: id.first(AttrFullName)}
			t.PutMember(storage.Coll{Account: a, Kind: storage.KindUser}, u, user.Encode())
			// The account's default roles, in the transaction that
			// creates the user; the rules' grants below skip them.
			given = t.GrantDefaultRoles(a, u)
			p.LinkAccount, p.LinkUser = a, u
			res.Created = true
		}
		res.Account, res.User = a, u
		if !had || p != old {
			if err := t.PutPrincipal(id.Type, pid, p); err != nil {
				return err
			}
		}
		regrant(v, t, a, u, pid, id, given)
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	if refused != nil {
		return Result{Principal: pid}, refused
	}
	return res, nil
}

// chooseAccount picks the account a new user lands in: the first
// matching root rule (by priority, then name) whose account exists and
// lies in the provider's account subtree; else the provider's account.
func chooseAccount(v storage.View, id Identity) (string, bool) {
	type cand struct {
		name string
		r    storage.Rule
	}
	var cands []cand
	v.EachRule(storage.RootRules(), func(name string, r storage.Rule) bool {
		if Matches(r, id) {
			cands = append(cands, cand{name, r})
		}
		return true
	})
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].r.Priority < cands[j].r.Priority })
	for _, c := range cands {
		if c.r.Account != "" && v.AccountExists(c.r.Account) && authz.Within(id.Account, c.r.Account, v.Parent) {
			return c.r.Account, true
		}
	}
	return id.Account, false
}

// accountGrants is the union of the groups and roles that the matching
// rules of account a grant (those that exist), sorted; any reports
// whether some rule matched.
func accountGrants(v storage.View, a string, id Identity) (groups, roles []string, any bool) {
	v.EachRule(storage.AccountRules(a), func(_ string, r storage.Rule) bool {
		if !Matches(r, id) {
			return true
		}
		any = true
		for _, g := range r.Groups {
			if !slices.Contains(groups, g) && v.HasItem(a, storage.KindGroup, g) {
				groups = append(groups, g)
			}
		}
		for _, ro := range r.Roles {
			if !slices.Contains(roles, ro) && v.HasItem(a, storage.KindRole, ro) {
				roles = append(roles, ro)
			}
		}
		return true
	})
	slices.Sort(groups)
	slices.Sort(roles)
	return groups, roles, any
}

// regrant makes user u's rule grants through principal pid what the
// matching account rules grant now, and writes the link's user side.
func regrant(v storage.View, t *storage.Txn, a, u, pid string, id Identity, given []string) {
	groups, roles, _ := accountGrants(v, a, id)
	link, _ := v.FederatedLink(a, u, pid)
	// What other links of the user recorded as rule grants stays.
	otherG, otherR := map[string]bool{}, map[string]bool{}
	v.Each(storage.UserFederated(a, u), func(other, val string) bool {
		if other == pid {
			return true
		}
		if l, err := storage.DecodeFederatedLink(val); err == nil {
			for _, g := range l.RuleGroups {
				otherG[g] = true
			}
			for _, r := range l.RuleRoles {
				otherR[r] = true
			}
		}
		return true
	})
	next := storage.FederatedLink{Type: id.Type}
	next.RuleGroups = apply(v, t, a, u, storage.UserGroups, groups, link.RuleGroups, otherG, nil)
	next.RuleRoles = apply(v, t, a, u, storage.UserRoles, roles, link.RuleRoles, otherR, given)
	val := next.Encode()
	if old, ok := v.Member(storage.UserFederated(a, u), pid); !ok || old != val {
		t.PutMember(storage.UserFederated(a, u), pid, val)
	}
}

// apply adds user u to want through link l (both sides) and takes back
// what prev (the rule grants recorded before) holds that want does not,
// unless another link recorded it too. It returns the grants to record:
// the memberships it added, and those recorded before that still match.
// given are memberships this transaction made already (a new user's
// default roles): held, not put again, and not recorded as rule grants.
func apply(v storage.View, t *storage.Txn, a, u string, l storage.Link, want, prev []string, other map[string]bool, given []string) []string {
	held := l.Of(a, u)
	var record []string
	for _, to := range want {
		switch {
		case slices.Contains(given, to):
			// Given in this transaction as a default role: held, and not
			// a rule's grant to take back later.
		case !v.HasMember(held, to):
			t.PutMember(held, to, "")
			t.PutMember(l.Reverse().Of(a, to), u, "")
			record = append(record, to)
		case slices.Contains(prev, to):
			record = append(record, to)
		}
	}
	for _, to := range prev {
		if slices.Contains(want, to) || other[to] || !v.HasMember(held, to) {
			continue
		}
		t.DeleteMember(held, to)
		t.DeleteMember(l.Reverse().Of(a, to), u)
	}
	return record
}
