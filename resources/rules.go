package resources

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/beevik/etree"

	"gatehouse/authz"
	"gatehouse/federation"
	"gatehouse/storage"
)

// Federation rules (SPEC §4, §8, §8a): /accounts/rules/{r} (root rules:
// which account a federated principal lands in; system principals only,
// anyone else finds nothing there) and /accounts/{a}/rules/{r} (account
// rules: which of the account's groups and roles a matching principal's
// user gets). package federation applies them at sign-in.
//
//	<rule identifier="…" href="…"><name/><priority/>
//	  <conditions><condition><type>ldap</type><attribute>groups</attribute><pattern>*printadmins*</pattern></condition></conditions>
//	  <account identifier="…" href="…"/>                          root rule
//	  <groups><group identifier="…" href="…"/></groups>             account rule
//	  <roles><role identifier="…" href="…"/></roles>
//	</rule>
//
// Decisions:
//   - Root rule items are /accounts/rules/{r}. net/http's ServeMux
//     refuses that pattern beside /accounts/{a}/roles (neither is more
//     specific); the api server serves such a route from a table of its
//     own tried first for paths under /accounts/rules/ (api.frontLiteral).
//   - A PUT updates the fields present: <conditions>, <groups> and
//     <roles> replace their lists whole. priority defaults to 0.
//   - Escalation: an account rule grants what its roles hold and what
//     the roles of its groups hold, to whoever it matches; the writer must
//     be able to grant the groups and roles the write adds to the rule
//     (those the stored rule did not name), checked inside the write's
//     guarded transaction like a membership (authz.FirstUngrantable under
//     authz.RoleGrant). Groups and roles must exist in the rule's own
//     account (404 naming the first missing); a root rule's account must
//     exist. Where a root rule may send users (only into the provider's
//     account subtree) is enforced at resolution, since a root rule
//     serves every provider.

const (
	maxRuleConditions = 32
	maxRuleRefs       = 64
	maxRuleAttribute  = 256
	maxRulePattern    = 1024
	maxRulePriority   = 1_000_000
)

// ruleScope is the rule collection of a request: the root rules, or an
// account's.
type ruleScope struct {
	coll storage.Coll
	href string // the collection's href
}

func (s ruleScope) root() bool { return s.coll.Account == "" }

func (s ruleScope) itemHref(r string) string { return s.href + "/" + escapeSegment(r) }

// rulesOf is the request's rule scope; root rules answer 404 to anyone
// but system principals.
func (c *call) rulesOf() (ruleScope, error) {
	if a, ok := c.vars.Lookup("a"); ok {
		return ruleScope{coll: storage.AccountRules(a), href: path("accounts", a, "rules")}, nil
	}
	if c.p.Account != authz.SystemAccount {
		return ruleScope{}, problem(http.StatusNotFound, "no resource at %s", c.r.URL.Path)
	}
	return ruleScope{coll: storage.RootRules(), href: path("accounts", "rules")}, nil
}

// Nodes.

func (v *nb) ruleNode(s ruleScope, r string) *Entity {
	return &Entity{Element: "rule", Identifier: r, Href: s.itemHref(r), Fields: func(f []Field) []Field {
		rec, _ := v.Rule(s.coll, r)
		f = append(f,
			Field{Name: "name", Text: r},
			Field{Name: "priority", Text: strconv.Itoa(rec.Priority)},
			Field{Node: conditionsNode(rec.Conditions)},
		)
		if s.root() {
			if rec.Account != "" {
				f = append(f, Field{Node: &Entity{Element: "account", Identifier: rec.Account, Href: path("accounts", rec.Account)}})
			}
			return f
		}
		a := s.coll.Account
		return append(f,
			Field{Node: refsNode("groups", "group", rec.Groups, func(g string) string { return path("accounts", a, "groups", g) })},
			Field{Node: refsNode("roles", "role", rec.Roles, func(r string) string { return path("accounts", a, "roles", r) })},
		)
	}}
}

func conditionsNode(cs []storage.RuleCondition) *Entity {
	return &Entity{Element: "conditions", Inline: true, Fields: func(f []Field) []Field {
		for _, c := range cs {
			f = append(f, Field{Node: &Entity{Element: "condition", Inline: true, Fields: func(f []Field) []Field {
				return append(f,
					Field{Name: "type", Text: c.Type},
					Field{Name: "attribute", Text: c.Attribute},
					Field{Name: "pattern", Text: c.Pattern, Always: true},
				)
			}}})
		}
		return f
	}}
}

// refsNode lists references (a rule's groups or roles) as part of the
// rule's value.
func refsNode(element, item string, names []string, href func(string) string) *Entity {
	return &Entity{Element: element, Inline: true, Fields: func(f []Field) []Field {
		for _, n := range names {
			f = append(f, Field{Node: &Entity{Element: item, Identifier: n, Href: href(n)}})
		}
		return f
	}}
}

// Body.

// ruleBody is a decoded rule body: the fields present.
type ruleBody struct {
	name                                string
	hasName, hasPriority, hasConditions bool
	hasAccount, hasGroups, hasRoles     bool
	priority                            int
	conditions                          []storage.RuleCondition
	account                             string
	groups, roles                       []string
}

// decodeRule reads a <rule> body; root says whether it is a root rule
// (which has <account> and no <groups>/<roles>).
func decodeRule(el *etree.Element, root bool) (ruleBody, *Problem) {
	var b ruleBody
	if p := onlyAttrs(el, "identifier", "href"); p != nil {
		return b, p
	}
	if p := noText(el); p != nil {
		return b, p
	}
	seen := map[string]bool{}
	for _, c := range el.ChildElements() {
		name := c.Tag
		if seen[name] {
			return b, problem(http.StatusBadRequest, "field <%s> appears more than once in <rule>", name)
		}
		seen[name] = true
		switch {
		case name == "name":
			if p := onlyAttrs(c); p != nil {
				return b, p
			}
			v, p := textOf(c)
			if p != nil {
				return b, p
			}
			b.name, b.hasName = v, true
		case name == "priority":
			if p := onlyAttrs(c); p != nil {
				return b, p
			}
			v, p := textOf(c)
			if p != nil {
				return b, p
			}
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < -maxRulePriority || n > maxRulePriority {
				return b, problem(http.StatusBadRequest, "<priority> %q is not an integer between %d and %d", clip(v), -maxRulePriority, maxRulePriority)
			}
			b.priority, b.hasPriority = n, true
		case name == "conditions":
			cs, p := decodeConditions(c)
			if p != nil {
				return b, p
			}
			b.conditions, b.hasConditions = cs, true
		case name == "account" && root:
			if p := onlyAttrs(c, "identifier", "href"); p != nil {
				return b, p
			}
			v := c.SelectAttrValue("identifier", "")
			if v == "" {
				t, p := textOf(c)
				if p != nil {
					return b, p
				}
				v = strings.TrimSpace(t)
			} else if len(c.ChildElements()) > 0 {
				return b, problem(http.StatusBadRequest, "field <account> must be <account identifier=\"…\"/> or hold the account's name")
			}
			if err := validAccountName(v); err != nil {
				return b, err.(*Problem)
			}
			b.account, b.hasAccount = v, true
		case (name == "groups" || name == "roles") && !root:
			item := name[:len(name)-1]
			refs, p := decodeRefList(c, item)
			if p != nil {
				return b, p
			}
			if len(refs) > maxRuleRefs {
				return b, problem(http.StatusBadRequest, "a rule grants at most %d %s", maxRuleRefs, name)
			}
			for _, r := range refs {
				if err := validName(item, r); err != nil {
					return b, err.(*Problem)
				}
			}
			slices.Sort(refs)
			refs = slices.Compact(refs)
			if name == "groups" {
				b.groups, b.hasGroups = refs, true
			} else {
				b.roles, b.hasRoles = refs, true
			}
		default:
			what := "an account rule"
			if root {
				what = "a root rule"
			}
			return b, problem(http.StatusBadRequest, "unknown field <%s> in <rule> (%s)", name, what)
		}
	}
	return b, nil
}

// decodeConditions reads <conditions><condition>…</condition>…</conditions>.
func decodeConditions(el *etree.Element) ([]storage.RuleCondition, *Problem) {
	if p := onlyAttrs(el, "count", "href"); p != nil {
		return nil, p
	}
	if p := noText(el); p != nil {
		return nil, p
	}
	out := []storage.RuleCondition{}
	for _, c := range el.ChildElements() {
		if c.Tag != "condition" {
			return nil, problem(http.StatusBadRequest, "element <%s> is misplaced in <conditions>; expected <condition>", c.Tag)
		}
		if len(out) == maxRuleConditions {
			return nil, problem(http.StatusBadRequest, "a rule has at most %d conditions", maxRuleConditions)
		}
		if p := onlyAttrs(c); p != nil {
			return nil, p
		}
		if p := noText(c); p != nil {
			return nil, p
		}
		got := map[string]string{}
		for _, f := range c.ChildElements() {
			switch f.Tag {
			case "type", "attribute", "pattern":
			default:
				return nil, problem(http.StatusBadRequest, "unknown field <%s> in <condition>", f.Tag)
			}
			if _, dup := got[f.Tag]; dup {
				return nil, problem(http.StatusBadRequest, "field <%s> appears more than once in <condition>", f.Tag)
			}
			if p := onlyAttrs(f); p != nil {
				return nil, p
			}
			v, p := textOf(f)
			if p != nil {
				return nil, p
			}
			got[f.Tag] = v
		}
		cond := storage.RuleCondition{Type: got["type"], Attribute: got["attribute"], Pattern: got["pattern"]}
		if p := validCondition(cond, got); p != nil {
			return nil, p
		}
		out = append(out, cond)
	}
	return out, nil
}

func validCondition(c storage.RuleCondition, got map[string]string) *Problem {
	for _, f := range []string{"type", "attribute", "pattern"} {
		if _, ok := got[f]; !ok {
			return problem(http.StatusBadRequest, "<condition> lacks <%s>", f)
		}
	}
	if !federation.ValidType(c.Type) {
		return problem(http.StatusBadRequest, "<condition> <type> %q is none of %s", clip(c.Type), strings.Join(federation.Types, ", "))
	}
	if c.Attribute == "" || len(c.Attribute) > maxRuleAttribute || strings.ContainsFunc(c.Attribute, isControlRune) {
		return problem(http.StatusBadRequest, "<condition> <attribute> %q is empty, longer than %d bytes or holds control characters", clip(c.Attribute), maxRuleAttribute)
	}
	if c.Pattern == "" || len(c.Pattern) > maxRulePattern || strings.ContainsFunc(c.Pattern, isControlRune) {
		return problem(http.StatusBadRequest, "<condition> <pattern> %q is empty, longer than %d bytes or holds control characters", clip(c.Pattern), maxRulePattern)
	}
	return nil
}

func isControlRune(r rune) bool { return r < 0x20 || r == 0x7f }

// body reads the request's rule body.
func (s ruleScope) body(c *call) (ruleBody, error) {
	el, err := c.body("rule")
	if err != nil {
		return ruleBody{}, err
	}
	b, p := decodeRule(el, s.root())
	if p != nil {
		return b, p
	}
	return b, nil
}

// apply puts the body's fields into r; creating requires what a new rule
// needs.
func (b ruleBody) apply(r *storage.Rule, root, creating bool) error {
	if creating && root && !b.hasAccount {
		return problem(http.StatusBadRequest, "<account> is missing: a root rule names the account it sends principals to")
	}
	if b.hasPriority {
		r.Priority = b.priority
	}
	if b.hasConditions {
		r.Conditions = b.conditions
	}
	if b.hasAccount {
		r.Account = b.account
	}
	if b.hasGroups {
		r.Groups = b.groups
	}
	if b.hasRoles {
		r.Roles = b.roles
	}
	return nil
}

// checkRuleGrant adds the escalation check of an account rule write: the
// caller must be able to grant every permission the groups and roles
// the write adds to the rule bring.
func (c *call) checkRuleGrant(s ruleScope, name string, b ruleBody) {
	if s.root() || (!b.hasGroups && !b.hasRoles) {
		return
	}
	a := s.coll.Account
	c.checkGrant(a, func(v storage.View) []string {
		old, _ := v.Rule(s.coll, name)
		var out []string
		addRole := func(r string) bool {
			v.EachRolePermission(a, r, func(p string) bool {
				out = append(out, p)
				return true
			})
			return true
		}
		for _, g := range b.groups {
			if !slices.Contains(old.Groups, g) {
				v.EachGroupRole(a, g, addRole)
			}
		}
		for _, r := range b.roles {
			if !slices.Contains(old.Roles, r) {
				addRole(r)
			}
		}
		return out
	}, authz.RoleGrant)
}

// Handlers.

func getRule(c *call) error {
	s, err := c.rulesOf()
	if err != nil {
		return err
	}
	r := c.vars.Get("r")
	return c.show(http.StatusOK, 0, "", func(v *nb) (Node, error) {
		if !v.raw.HasMember(s.coll, r) {
			return nil, problem(http.StatusNotFound, "rule %q not found in %s", r, s.href)
		}
		return v.ruleNode(s, r), nil
	})
}

func (c *call) writeRule(s ruleScope, name string, mode storage.Mode, b ruleBody) (bool, int64, error) {
	c.checkRuleGrant(s, name, b)
	return c.s.Store.PutRule(c.r.Context(), s.coll, name, mode, func(old storage.Rule, ok bool) (storage.Rule, error) {
		r := old
		if err := b.apply(&r, s.root(), !ok); err != nil {
			return storage.Rule{}, err
		}
		return r, nil
	})
}

func (c *call) showCreatedRule(s ruleScope, rev int64, name string) error {
	return c.show(http.StatusCreated, rev, s.itemHref(name), func(v *nb) (Node, error) { return v.ruleNode(s, name), nil })
}

func postRule(c *call) error {
	s, err := c.rulesOf()
	if err != nil {
		return err
	}
	if _, err := c.precheck(nil); err != nil {
		return err
	}
	b, err := s.body(c)
	if err != nil {
		return err
	}
	if err := validName("rule", b.name); err != nil {
		return err
	}
	_, rev, err := c.writeRule(s, b.name, storage.CreateOnly, b)
	if err != nil {
		return err
	}
	return c.showCreatedRule(s, rev, b.name)
}

func putRule(c *call) error {
	s, err := c.rulesOf()
	if err != nil {
		return err
	}
	name, err := c.name("r")
	if err != nil {
		return err
	}
	found, err := c.precheck(func(v storage.View) bool { return v.HasMember(s.coll, name) })
	if err != nil {
		return err
	}
	b, err := s.body(c)
	if err != nil {
		return err
	}
	if b.hasName && b.name != name {
		return problem(http.StatusBadRequest, "the body names rule %q but the path names %q", b.name, name)
	}
	mayCreate, err := c.holds("auth:rules:create")
	if err != nil {
		return err
	}
	if !found && !mayCreate {
		return c.require("auth:rules:create")
	}
	mode := storage.UpdateOnly
	if mayCreate {
		mode = storage.Upsert
	}
	created, rev, err := c.writeRule(s, name, mode, b)
	if err != nil {
		return err
	}
	if created {
		return c.showCreatedRule(s, rev, name)
	}
	return c.noContent()
}

func deleteRule(c *call) error {
	s, err := c.rulesOf()
	if err != nil {
		return err
	}
	name, err := c.name("r")
	if err != nil {
		return err
	}
	if _, err := c.precheck(nil); err != nil {
		return err
	}
	if err := c.noBody(); err != nil {
		return err
	}
	if _, err := c.s.Store.DeleteRule(c.r.Context(), s.coll, name); err != nil {
		return err
	}
	return c.noContent()
}
