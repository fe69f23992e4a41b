package resources

import (
	"errors"
	"net/http"

	"gatehouse/api"
	"gatehouse/authz"
	"gatehouse/storage"
)

var accountSchema = Schema{
	Root:    "account",
	Text:    []string{"name", "description", "parent"},
	Lists:   map[string]string{"permissions": "permission"},
	Ignored: []string{"default-roles", "groups", "roles", "rules", "users", "providers"},
}

// maxText bounds free-text fields (descriptions, names of people).
const maxText = 1024

func textField(f Fields, name string) (string, error) {
	v := f.Text[name]
	if len(v) > maxText {
		return "", problem(http.StatusBadRequest, "field <%s> is longer than %d bytes", name, maxText)
	}
	return v, nil
}

var getAccounts = get(func(c *call, v *nb) (Node, error) {
	n := v.accountsNode(c.p)
	if c.p.Account != authz.SystemAccount {
		n.Extra = nil // root rules belong to system principals
	}
	return n, nil
})

var getRootRules = get(func(c *call, v *nb) (Node, error) {
	if c.p.Account != authz.SystemAccount {
		return nil, problem(http.StatusNotFound, "no resource at %s", c.r.URL.Path)
	}
	return v.rulesNode(path("accounts", "rules"), storage.RootRules()), nil
})

var getAccount = get(func(c *call, v *nb) (Node, error) {
	return v.accountNode(c.vars.Get("a")), nil
})

var getAccountRules = get(func(c *call, v *nb) (Node, error) {
	a := c.vars.Get("a")
	return v.rulesNode(path("accounts", a, "rules"), storage.Coll{Account: a, Kind: storage.KindRule}), nil
})

// accountBody decodes and checks an account body. A new account's parent
// defaults to the caller's account; its ceiling to a copy of the
// parent's unless the body lists permissions.
func accountBody(c *call) (name, desc string, f Fields, ceiling []string, err error) {
	if f, err = c.entity(accountSchema); err != nil {
		return
	}
	name = f.Text["name"]
	if desc, err = textField(f, "description"); err != nil {
		return
	}
	if ps, ok := f.Lists["permissions"]; ok {
		var m map[string]string
		if m, err = validPermissions(ps); err != nil {
			return
		}
		ceiling = make([]string, 0, len(m))
		for p := range m {
			ceiling = append(ceiling, p)
		}
	}
	return
}

func validAccountName(n string) error {
	if err := validName("account", n); err != nil {
		return err
	}
	if n == "rules" {
		return problem(http.StatusBadRequest, "an account may not be named \"rules\"")
	}
	return nil
}

// reachable answers 404 unless account a exists and the caller may act on it.
func (c *call) reachable(v storage.View, a, what string) error {
	if !v.AccountExists(a) || !authz.Within(c.p.Account, a, v.Parent) {
		return problem(http.StatusNotFound, "%s account %q not found", what, a)
	}
	return nil
}

func (c *call) createAccount(name, desc string, f Fields, ceiling []string) (int64, error) {
	parent := c.p.Account
	if f.Text["parent"] != "" {
		parent = f.Text["parent"]
		if err := validAccountName(parent); err != nil {
			return 0, err
		}
	}
	reachable := func(v storage.View) error { return c.reachable(v, parent, "parent") }
	if err := c.s.Store.Read(c.r.Context(), 0, reachable); err != nil {
		return 0, err
	}
	c.check(reachable)
	if ceiling != nil {
		// An explicit ceiling grants what it lists, as far as the parent's
		// ceiling lets it through: the caller must hold that.
		c.checkGrant(name, func(storage.View) []string { return ceiling }, func(v authz.Directory, _ string) authz.Ceiling {
			cut, _ := authz.CeilingOf(v, parent)
			return cut
		})
	}
	return c.s.Store.CreateAccountWithRoles(c.r.Context(), name, storage.Account{Description: desc, Parent: parent}, ceiling, starterRoles)
}

func postAccount(c *call) error {
	name, desc, f, ceiling, err := accountBody(c)
	if err != nil {
		return err
	}
	if err := validAccountName(name); err != nil {
		return err
	}
	rev, err := c.createAccount(name, desc, f, ceiling)
	if err != nil {
		return err
	}
	return c.showCreatedAccount(rev, name)
}

func (c *call) showCreatedAccount(rev int64, name string) error {
	c.vars = api.Vars{{Name: "a", Value: name}}
	return c.show(http.StatusCreated, rev, path("accounts", name), func(v *nb) (Node, error) {
		return v.accountNode(name), nil
	})
}

func putAccount(c *call) error {
	a := c.vars.Get("a")
	if err := validAccountName(a); err != nil {
		return err
	}
	name, desc, f, ceiling, err := accountBody(c)
	if err != nil {
		return err
	}
	if name != "" && name != a {
		return problem(http.StatusBadRequest, "the body names account %q but the path names %q", name, a)
	}
	// A PUT racing another PUT (or a DELETE) of the same name switches
	// between creating and updating until one of them commits, so
	// parallel PUTs of one new name give one 201 and the rest 204.
	im := c.r.Header.Get("If-Match")
	ifMatch := c.ifMatch(im)
	if im != "" {
		c.check(ifMatch) // again inside the write's transaction
	}
	for attempt := 0; ; attempt++ {
		var old storage.Account
		var found, foreign bool
		err = c.s.Store.Read(c.r.Context(), 0, func(v storage.View) error {
			old, found = v.Account(a)
			foreign = found && !authz.Within(c.p.Account, a, v.Parent)
			if found && !foreign && im != "" {
				return ifMatch(v)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if foreign {
			return problem(http.StatusNotFound, "account %q not found", a)
		}
		if !found && c.r.Header.Get("If-Match") != "" {
			return problem(http.StatusPreconditionFailed, "If-Match %s: account %q does not exist", c.r.Header.Get("If-Match"), a)
		}
		if !found {
			if err := c.require("auth:accounts:create"); err != nil {
				return err
			}
			rev, err := c.createAccount(a, desc, f, ceiling)
			if errors.Is(err, storage.ErrNameTaken) && attempt < 3 {
				continue
			}
			if err != nil {
				return err
			}
			return c.showCreatedAccount(rev, a)
		}
		err = c.updateAccount(a, old, desc, f)
		if errors.Is(err, storage.ErrNotFound) && attempt < 3 {
			continue
		}
		if err != nil {
			return err
		}
		return c.noContent()
	}
}

// updateAccount changes an existing account's description and parent.
func (c *call) updateAccount(a string, old storage.Account, desc string, f Fields) error {
	newParent := old.Parent
	if f.Text["parent"] != "" && f.Text["parent"] != old.Parent {
		newParent = f.Text["parent"]
		if err := validAccountName(newParent); err != nil {
			return err
		}
		if a == authz.SystemAccount || old.Parent == "" {
			return problem(http.StatusBadRequest, "account %q is a root account and cannot be moved", a)
		}
		// Moving needs rights on both the old and the new parent, on the
		// revision the move commits on too.
		rights := func(v storage.View) error {
			if err := c.reachable(v, newParent, "parent"); err != nil {
				return err
			}
			if !authz.Within(c.p.Account, old.Parent, v.Parent) {
				return problem(http.StatusForbidden, "moving account %q needs rights on its current parent %q", a, old.Parent)
			}
			return nil
		}
		if err := c.s.Store.Read(c.r.Context(), 0, rights); err != nil {
			return err
		}
		c.check(rights)
	}
	_, err := c.s.Store.UpdateAccount(c.r.Context(), a, func(acc *storage.Account) {
		if f.Has("description") {
			acc.Description = desc
		}
		if f.Text["parent"] != "" {
			acc.Parent = newParent
		}
	})
	return err
}

func deleteAccount(c *call) error {
	a := c.vars.Get("a")
	if _, err := c.precheck(nil); err != nil {
		return err
	}
	if a == authz.SystemAccount {
		return problem(http.StatusBadRequest, "the system account cannot be deleted")
	}
	if _, err := c.s.Store.DeleteAccount(c.r.Context(), a); err != nil {
		return err
	}
	return c.noContent()
}

// starterRoles are the roles every new account starts with, after the
// access-control roles of the print-management seed (Administrators,
// Users, Reporting, Support); "users" is the account's default role,
// given to every user created in it (defaultroles.go). They are ordinary
// roles: edit or delete them like any other. What they grant is always
// cut by the account's ceiling.
var starterRoles = []storage.NewRole{
	{Name: "administrators", Description: "Everything the account's ceiling allows, in the account and below it",
		Permissions: []string{"*"}},
	{Name: "users", Description: "Self-service and printing one's own documents", Default: true,
		Permissions: []string{"auth:me:read", "auth:me:*:read", "auth:me:attributes:update", "auth:me:password:create",
			"auth:me:api-keys:create,delete", "auth:me:sessions:delete", "auth:me:totp:create,update",
			"auth:me:backup-codes:create", "auth:me:passkeys:create,delete", "print:jobs:read,create,release,delete"}},
	{Name: "reporting", Description: "Reports of every module, read-only elsewhere",
		Permissions: []string{"auth:me:read", "auth:me:*:read", "reporting:*", "print:reports:read",
			"filtering:reports:read", "filtering:logs:read"}},
	{Name: "support", Description: "Read the account's users, groups and roles, reset passwords, read module settings",
		Permissions: []string{"auth:me:read", "auth:me:*:read", "auth:accounts:read", "auth:users:read", "auth:users:*:read",
			"auth:users:password:update", "auth:groups:read", "auth:groups:*:read", "auth:roles:read", "auth:roles:*:read",
			"print:*:read", "filtering:*:read"}},
}
