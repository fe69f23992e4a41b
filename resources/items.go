package resources

import (
	"fmt"
	"net/http"
	"net/mail"
	"strconv"
	"time"

	"gatehouse/authn"
	"gatehouse/authz"
	"gatehouse/passwordpolicy"
	"gatehouse/storage"
)

// itemKind describes one kind of account item (role, group, user) for
// the generic collection and entity handlers.
type itemKind struct {
	kind       string // storage kind
	element    string
	varName    string // path variable of the item
	createPerm string
	schema     Schema
	node       func(v *nb, a, name string) *Entity
	list       func(v *nb, a string) *Collection
	// prepare turns a decoded body into the stored-value update, doing
	// slow work (hashing) before the storage transaction.
	prepare func(c *call, f Fields, creating bool) (func(old string, ok bool) (string, error), error)
	// extra adds writes on create (a role's initial permissions).
	extra func(c *call, a, name string, f Fields) (func(v storage.View, t *storage.Txn, created bool) error, error)
}

var roleKind = &itemKind{
	kind: storage.KindRole, element: "role", varName: "r", createPerm: "auth:roles:create",
	schema: Schema{Root: "role", Text: []string{"name", "description"},
		Lists: map[string]string{"permissions": "permission"}},
	node:    func(v *nb, a, n string) *Entity { return v.roleNode(a, n) },
	list:    func(v *nb, a string) *Collection { return v.rolesNode(a) },
	prepare: describedRecord(func(d string) string { return storage.Role{Description: d}.Encode() }, decodeRoleDesc),
	extra: func(c *call, a, name string, f Fields) (func(storage.View, *storage.Txn, bool) error, error) {
		ps, ok := f.Lists["permissions"]
		if !ok {
			return nil, nil
		}
		m, err := validPermissions(ps)
		if err != nil {
			return nil, err
		}
		// A role's permissions in its body are honoured when it is
		// created; afterwards they change through …/permissions. Creating
		// it grants them: the caller must hold them (escalation).
		c.checkGrant(a, func(v storage.View) []string {
			if v.HasItem(a, storage.KindRole, name) {
				return nil
			}
			return ps
		}, authz.RoleGrant)
		perms := storage.Coll{Account: a, Kind: storage.KindRolePerm, Owner: name}
		return func(v storage.View, t *storage.Txn, created bool) error {
			if created {
				for p := range m {
					t.PutMember(perms, p, "")
				}
			}
			return nil
		}, nil
	},
}

var groupKind = &itemKind{
	kind: storage.KindGroup, element: "group", varName: "g", createPerm: "auth:groups:create",
	schema:  Schema{Root: "group", Text: []string{"name", "description"}, Ignored: []string{"roles", "users"}},
	node:    func(v *nb, a, n string) *Entity { return v.groupNode(a, n) },
	list:    func(v *nb, a string) *Collection { return v.groupsNode(a) },
	prepare: describedRecord(func(d string) string { return storage.Group{Description: d}.Encode() }, decodeGroupDesc),
}

var userKind = &itemKind{
	kind: storage.KindUser, element: "user", varName: "u", createPerm: "auth:users:create",
	schema: Schema{Root: "user", Text: []string{"name", "password", "email", "full-name", "enabled", "password-expired"},
		Ignored: []string{"account", "attributes", "clients", "created", "federations", "groups", "last-login",
			"locked-until", "permissions", "roles", "api-keys", "sessions", "totp"}},
	node:    func(v *nb, a, n string) *Entity { return v.userNode(a, n) },
	list:    func(v *nb, a string) *Collection { return v.usersNode(a) },
	prepare: prepareUser,
	extra:   checkDefaultRolesGrant, // a new user gets the default roles (defaultroles.go)
}

func decodeRoleDesc(v string) string  { r, _ := storage.DecodeRole(v); return r.Description }
func decodeGroupDesc(v string) string { g, _ := storage.DecodeGroup(v); return g.Description }

// describedRecord prepares records whose only field is a description.
func describedRecord(encode func(string) string, decode func(string) string) func(*call, Fields, bool) (func(string, bool) (string, error), error) {
	return func(c *call, f Fields, creating bool) (func(string, bool) (string, error), error) {
		desc, err := textField(f, "description")
		if err != nil {
			return nil, err
		}
		return func(old string, ok bool) (string, error) {
			if ok && !f.Has("description") {
				desc = decode(old)
			}
			return encode(desc), nil
		}, nil
	}
}

func parseBool(f Fields, name string) (val, present bool, err error) {
	s, ok := f.Text[name]
	if !ok {
		return false, false, nil
	}
	b, perr := strconv.ParseBool(s)
	if perr != nil || (s != "true" && s != "false") {
		return false, true, problem(http.StatusBadRequest, "field <%s> is %q; expected true or false", name, s)
	}
	return b, true, nil
}

// prepareUser checks a user body and hashes its password (if any) before
// the transaction; the update applies only the fields present.
func prepareUser(c *call, f Fields, creating bool) (func(string, bool) (string, error), error) {
	var hash string
	var reuse *passwordpolicy.Reuse
	if pw, ok := f.Text["password"]; ok && pw != "" {
		name := f.Text["name"] // POST names the user in the body, PUT in the path
		if u := c.vars.Get("u"); u != "" {
			name = u
		}
		if err := c.s.PasswordPolicy.Check(pw, name, c.vars.Get("a")); err != nil {
			return nil, passwordRefused("the password", err)
		}
		reuse = c.s.PasswordPolicy.Reuse(pw)
		h, err := authn.HashPassword(pw, c.s.HashParams, c.s.Random)
		if err != nil {
			return nil, err
		}
		hash = h
		c.checkTakeover(c.vars.Get("a"), c.vars.Get("u"))
	}
	email, err := textField(f, "email")
	if err != nil {
		return nil, err
	}
	if email != "" {
		addr, err := mail.ParseAddress(email)
		if err != nil || addr.Address != email {
			return nil, problem(http.StatusBadRequest, "field <email> %q is not an e-mail address", email)
		}
	}
	fullName, err := textField(f, "full-name")
	if err != nil {
		return nil, err
	}
	enabled, hasEnabled, err := parseBool(f, "enabled")
	if err != nil {
		return nil, err
	}
	expired, hasExpired, err := parseBool(f, "password-expired")
	if err != nil {
		return nil, err
	}
	now := c.s.Now().Unix()
	return func(old string, ok bool) (string, error) {
		u := storage.User{Enabled: true, Created: now}
		if ok {
			var derr error
			if u, derr = storage.DecodeUser(old); derr != nil {
				return "", fmt.Errorf("stored user record: %w", derr)
			}
		}
		if hash != "" {
			// The history rule, on the record this write replaces; a
			// new password clears password-expired unless the body
			// sets it (below).
			if err := reuse.Check(u); err != nil {
				return "", passwordRefused("the password", err)
			}
			c.s.PasswordPolicy.SetPassword(&u, hash, time.Unix(now, 0))
		}
		if f.Has("email") {
			u.Email = email
		}
		if f.Has("full-name") {
			u.FullName = fullName
		}
		if hasEnabled {
			u.Enabled = enabled
		}
		if hasExpired {
			u.PasswordExpired = expired
		}
		return u.Encode(), nil
	}, nil
}

func getItems(k *itemKind) func(*call) error {
	return get(func(c *call, v *nb) (Node, error) { return k.list(v, c.vars.Get("a")), nil })
}

func getItem(k *itemKind) func(*call) error {
	return get(func(c *call, v *nb) (Node, error) {
		a, name := c.vars.Get("a"), c.vars.Get(k.varName)
		if !v.HasItem(a, k.kind, name) {
			return nil, problem(http.StatusNotFound, "%s %q not found in account %q", k.element, name, a)
		}
		return k.node(v, a, name), nil
	})
}

// writeItem decodes the body and creates or updates the item.
func (k *itemKind) write(c *call, name string, mode storage.Mode, f Fields) (bool, int64, error) {
	a := c.vars.Get("a")
	update, err := k.prepare(c, f, mode == storage.CreateOnly)
	if err != nil {
		return false, 0, err
	}
	var extra func(storage.View, *storage.Txn, bool) error
	if k.extra != nil {
		if extra, err = k.extra(c, a, name, f); err != nil {
			return false, 0, err
		}
	}
	created, rev, err := c.s.Store.PutItem(c.r.Context(), a, k.kind, name, mode, update, extra)
	if err == nil && k.kind == storage.KindUser && c.s.Credentials != nil {
		c.s.Credentials.Forget(a + `\` + name)
	}
	return created, rev, err
}

func (k *itemKind) showCreated(c *call, rev int64, name string) error {
	a := c.vars.Get("a")
	href := path("accounts", a, k.element+"s", name)
	return c.show(http.StatusCreated, rev, href, func(v *nb) (Node, error) { return k.node(v, a, name), nil })
}

func postItem(k *itemKind) func(*call) error {
	return func(c *call) error {
		if _, err := c.precheck(nil); err != nil {
			return err
		}
		f, err := c.entity(k.schema)
		if err != nil {
			return err
		}
		name := f.Text["name"]
		if err := validName(k.element, name); err != nil {
			return err
		}
		_, rev, err := k.write(c, name, storage.CreateOnly, f)
		if err != nil {
			return err
		}
		return k.showCreated(c, rev, name)
	}
}

func putItem(k *itemKind) func(*call) error {
	return func(c *call) error {
		name, err := c.name(k.varName)
		if err != nil {
			return err
		}
		a := c.vars.Get("a")
		found, err := c.precheck(func(v storage.View) bool { return v.HasItem(a, k.kind, name) })
		if err != nil {
			return err
		}
		f, err := c.entity(k.schema)
		if err != nil {
			return err
		}
		if n, ok := f.Text["name"]; ok && n != name {
			return problem(http.StatusBadRequest, "the body names %s %q but the path names %q", k.element, n, name)
		}
		// Create-or-update is decided inside the transaction (Upsert), so
		// parallel PUTs of one new name give one 201 and the rest 204. A
		// caller without the create permission may only update.
		mayCreate, err := c.holds(k.createPerm)
		if err != nil {
			return err
		}
		if !found && !mayCreate {
			return c.require(k.createPerm)
		}
		mode := storage.UpdateOnly
		if mayCreate {
			mode = storage.Upsert
		}
		created, rev, err := k.write(c, name, mode, f)
		if err != nil {
			return err
		}
		if created {
			return k.showCreated(c, rev, name)
		}
		return c.noContent()
	}
}

func deleteItem(k *itemKind) func(*call) error {
	return func(c *call) error {
		name, err := c.name(k.varName)
		if err != nil {
			return err
		}
		a := c.vars.Get("a")
		if _, err := c.precheck(nil); err != nil {
			return err
		}
		if _, err := c.s.Store.DeleteItem(c.r.Context(), a, k.kind, name); err != nil {
			return err
		}
		if k.kind == storage.KindUser {
			if c.s.Credentials != nil {
				c.s.Credentials.Forget(a + `\` + name)
			}
			c.s.Authority.Holdings.Forget(a, name)
		}
		return c.noContent()
	}
}
