package storage

import (
	"context"
	"fmt"
	"strconv"
)

// Federation rules (SPEC §8, §8a). A root rule lives in RootRules()
// (key "rules/{r}") and names the account a federated principal lands
// in; an account rule lives in Coll{Account: a, Kind: KindRule} (key
// "t/{a}/rule/{r}", so it goes with its account) and grants the
// account's groups and roles. Both are one record each (Rule). A rule
// refers to its groups and roles by name only: deleting a group or role
// leaves the name in the rule, and resolution skips names that no longer
// exist (as it skips a root rule whose account is gone).

// RuleCondition is one condition of a rule: the principal's type, an
// attribute name and a glob pattern on its values.
type RuleCondition struct {
	Type, Attribute, Pattern string
}

// Rule is the stored part of a federation rule; its name and owner are
// its key.
type Rule struct {
	Priority   int
	Conditions []RuleCondition
	Account    string   // a root rule's effect
	Groups     []string // an account rule's effect
	Roles      []string
}

// ruleFixed is the number of fields before the conditions.
const ruleFixed = 5

// Encode returns the compact stored form: priority, account, groups,
// roles, the number of conditions, then three fields per condition.
func (r Rule) Encode() string {
	f := make(fields, 0, ruleFixed+3*len(r.Conditions))
	f = append(f, strconv.Itoa(r.Priority), r.Account, joinLines(r.Groups), joinLines(r.Roles),
		strconv.Itoa(len(r.Conditions)))
	for _, c := range r.Conditions {
		f = append(f, c.Type, c.Attribute, c.Pattern)
	}
	return encodeFields(f)
}

// DecodeRule reads a Rule record.
func DecodeRule(v string) (Rule, error) {
	var head [ruleFixed]string
	if err := decodeFields(v, head[:]); err != nil {
		return Rule{}, err
	}
	prio, err := strconv.Atoi(head[0])
	if err != nil {
		return Rule{}, fmt.Errorf("record: rule priority %q", head[0])
	}
	n, err := strconv.Atoi(head[4])
	if err != nil || n < 0 || n > len(v) {
		return Rule{}, fmt.Errorf("record: rule condition count %q", head[4])
	}
	all := make([]string, ruleFixed+3*n)
	if err := decodeFields(v, all); err != nil {
		return Rule{}, err
	}
	r := Rule{Priority: prio, Account: all[1], Groups: splitLines(all[2]), Roles: splitLines(all[3])}
	for i := 0; i < n; i++ {
		c := all[ruleFixed+3*i:]
		r.Conditions = append(r.Conditions, RuleCondition{Type: c[0], Attribute: c[1], Pattern: c[2]})
	}
	return r, nil
}

func joinLines(ss []string) string {
	n := 0
	for _, s := range ss {
		n += len(s) + 1
	}
	b := make([]byte, 0, n)
	for i, s := range ss {
		if i > 0 {
			b = append(b, '\n')
		}
		b = append(b, s...)
	}
	return string(b)
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i == len(s) {
			return out
		}
		s = s[i+1:]
	}
}

// AccountRules is the collection of account a's federation rules.
func AccountRules(a string) Coll { return Coll{Account: a, Kind: KindRule} }

// isRuleColl reports whether c is RootRules() or an AccountRules(a).
func isRuleColl(c Coll) bool { return c.Kind == KindRule && c.Owner == "" }

// Rule returns rule name of c (RootRules() or AccountRules(a)).
func (v View) Rule(c Coll, name string) (Rule, bool) {
	if !isRuleColl(c) {
		return Rule{}, false
	}
	val, ok := v.Member(c, name)
	if !ok {
		return Rule{}, false
	}
	r, err := DecodeRule(val)
	return r, err == nil
}

// EachRule calls fn with every rule of c that decodes, in name order,
// until fn returns false.
func (v View) EachRule(c Coll, fn func(name string, r Rule) bool) {
	if !isRuleColl(c) {
		return
	}
	v.Each(c, func(name, val string) bool {
		r, err := DecodeRule(val)
		if err != nil {
			return true
		}
		return fn(name, r)
	})
}

// PutRule creates or updates rule name of c (RootRules() or
// AccountRules(a)) in one guarded transaction. update gets the stored
// rule (ok false when absent) and returns the new one, or an error to
// refuse. An account rule needs its account, and every group and role
// it grants must exist in it (ErrNotFound naming the first missing); a
// root rule's account must exist. Mode is as for PutItem. It reports
// whether the rule was created.
func (s *Store) PutRule(ctx context.Context, c Coll, name string, mode Mode,
	update func(old Rule, ok bool) (Rule, error)) (created bool, rev int64, err error) {
	if !isRuleColl(c) {
		return false, 0, fmt.Errorf("%w: %+v is not a rule collection", ErrInvalid, c)
	}
	key := c.key(name)
	rev, err = s.Update(ctx, func(v View, t *Txn) error {
		created = false
		if c.Account != "" {
			if !v.Has(AccountKey(c.Account)) {
				return notFound(fmt.Sprintf("account %q", c.Account))
			}
			t.Expect(AccountKey(c.Account))
		}
		old, ok := v.Get(key)
		if ok && mode == CreateOnly {
			return fmt.Errorf("rule %q: %w", name, ErrNameTaken)
		}
		if !ok && mode == UpdateOnly {
			return notFound(fmt.Sprintf("rule %q", name))
		}
		created = !ok
		var oldRule Rule
		if ok {
			var derr error
			if oldRule, derr = DecodeRule(old); derr != nil {
				return fmt.Errorf("stored rule %q: %w", name, derr)
			}
		}
		r, err := update(oldRule, ok)
		if err != nil {
			return err
		}
		if c.Account == "" {
			if r.Account != "" {
				if err := expectKey(v, t, AccountKey(r.Account), fmt.Sprintf("account %q", r.Account)); err != nil {
					return err
				}
			}
		} else {
			for _, g := range r.Groups {
				if err := expectItem(v, t, c.Account, KindGroup, g); err != nil {
					return err
				}
			}
			for _, ro := range r.Roles {
				if err := expectItem(v, t, c.Account, KindRole, ro); err != nil {
					return err
				}
			}
		}
		t.Expect(key)
		if val := r.Encode(); !ok || val != old {
			t.Put(key, val)
		}
		return nil
	})
	return created, rev, err
}

// DeleteRule removes rule name of c.
func (s *Store) DeleteRule(ctx context.Context, c Coll, name string) (int64, error) {
	if !isRuleColl(c) {
		return 0, fmt.Errorf("%w: %+v is not a rule collection", ErrInvalid, c)
	}
	key := c.key(name)
	return s.Update(ctx, func(v View, t *Txn) error {
		if !v.Has(key) {
			return notFound(fmt.Sprintf("rule %q", name))
		}
		t.Expect(key)
		t.Delete(key)
		return nil
	})
}

func expectKey(v View, t *Txn, key, what string) error {
	if !v.Has(key) {
		return notFound(what)
	}
	t.Expect(key)
	return nil
}
