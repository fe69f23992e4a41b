package resources

import (
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"gatehouse/authn"
	"gatehouse/authz"
	"gatehouse/storage"
)

// API keys (SPEC §3a, §5, §6): the documents and their handlers. Signing
// in with a key, its secret and its hash are authn's (APIKeyAuthenticator,
// NewAPIKeySecret); the index record is storage's.
//
// Decisions:
//   - The record lives in its owner's collection of keys (apiKeys), and
//     a global index from its prefix to "a\u" is written and deleted with
//     it in one transaction (storage.CreateAPIKey). Deleting the user or
//     the account removes the record and leaves the index dangling;
//     authentication loads the record through the index and treats a
//     missing one as an invalid key.
//   - A key's permissions must each be granted to the owner when the key is
//     created or changed (400 naming the first that is not), and, when the
//     caller is itself signed in with a key, carried by that key (a key
//     never mints a stronger key). Both are checked inside the write's
//     guarded transaction, and a PUT applies its fields to the record as
//     that transaction reads it, so concurrent PUTs keep both changes (or
//     answer 412 under If-Match) and never bring back a permission another
//     PUT removed. At use, the key's power is the intersection: its
//     permissions are the principal's scopes (authz.Authority.Decide).
//   - last-used is kept in memory per instance and never written to
//     storage (no write per request); it is empty until the key is used on
//     the instance answering, and lost on restart.

func (v *nb) keyLastUsed(id string) string {
	if t, ok := v.keyUse.Load(id); ok {
		s := t.(time.Time).Format(time.RFC3339)
		v.Mix("last-used:" + s)
		return s
	}
	return ""
}

// Nodes.

func apiKeysHref(a, u string) string { return path("accounts", a, "users", u, "api-keys") }

// apiKeys is the collection of user u's API keys.
func apiKeys(a, u string) storage.Coll {
	return storage.Coll{Account: a, Kind: storage.KindAPIKey, Owner: u}
}

func (v *nb) apiKeysNode(a, u string) *Collection { return v.apiKeysUnder(a, u, userHref(a, u)) }

// apiKeysUnder is apiKeysNode for a user whose href is base.
func (v *nb) apiKeysUnder(a, u, base string) *Collection {
	return storedColl(Collection{Element: "api-keys", Href: base, HrefTail: "/api-keys"}, storedSource{v: v.View,
		coll: apiKeys(a, u),
		item: func(id string) Node { return v.apiKeyNode(a, u, id, "") },
		// base is user u's own href, so base+"/api-keys" is apiKeysHref.
		links: apiKeyLinks})
}

// apiKeyNode shows key id; secret, when not empty, is shown too (only the
// 201 answer to a create passes it).
func (v *nb) apiKeyNode(a, u, id, secret string) *Entity {
	href := apiKeysHref(a, u) + "/" + escapeSegment(id)
	return &Entity{Element: "api-key", Identifier: id, Href: href, Fields: func(f []Field) []Field {
		k, _ := v.APIKey(a, u, id)
		expires := ""
		if k.Expires != 0 {
			expires = time.Unix(k.Expires, 0).UTC().Format(time.RFC3339)
		}
		f = append(f,
			Field{Name: "name", Text: k.Name, Always: true},
			Field{Name: "description", Text: k.Description, Always: true},
			Field{Name: "expires", Text: expires, Always: true},
			Field{Name: "prefix", Text: k.Prefix},
			Field{Name: "last-used", Text: v.keyLastUsed(id), Always: true},
			Field{Node: v.keyPermsNode(href+"/permissions", k.Permissions)},
		)
		if secret != "" {
			f = append(f, Field{Name: "secret", Text: secret})
		}
		return f
	}}
}

func (v *nb) keyPermsNode(href string, perms []string) *Collection {
	return &Collection{Element: "permissions", Href: href, Items: sliceSource{names: perms,
		item: func(p string) Node { return v.storedPermissionNode(href, p) }}}
}

// Handlers.

var apiKeySchema = Schema{Root: "api-key", Text: []string{"name", "description", "expires"},
	Lists: map[string]string{"permissions": "permission"}, Ignored: []string{"prefix", "last-used"}}

const (
	maxKeyName        = 256
	maxKeyDescription = 4096
	maxKeyPermissions = 256
)

// applyKeyFields validates the body's fields into k; creating requires
// a name and permissions. It reads nothing: it runs on the record as the
// write's transaction reads it.
func (c *call) applyKeyFields(f Fields, k *storage.APIKey, creating bool) error {
	if name, ok := f.Text["name"]; ok || creating {
		if strings.TrimSpace(name) == "" {
			return problem(http.StatusBadRequest, "<name> is missing or empty")
		}
		if len(name) > maxKeyName {
			return problem(http.StatusBadRequest, "<name> is longer than %d bytes", maxKeyName)
		}
		k.Name = name
	}
	if d, ok := f.Text["description"]; ok {
		if len(d) > maxKeyDescription {
			return problem(http.StatusBadRequest, "<description> is longer than %d bytes", maxKeyDescription)
		}
		k.Description = d
	}
	if e, ok := f.Text["expires"]; ok {
		if e == "" {
			k.Expires = 0
		} else {
			t, err := time.Parse(time.RFC3339, e)
			if err != nil {
				return problem(http.StatusBadRequest, "<expires> is not an RFC 3339 time: %q", clip(e))
			}
			if !t.After(c.s.Now()) {
				return problem(http.StatusBadRequest, "<expires> %s is not in the future", e)
			}
			k.Expires = t.Unix()
		}
	}
	if perms, ok := keyPermissions(f); ok {
		k.Permissions = perms
	}
	return nil
}

// keyPermissions is the body's permission list, sorted and without
// duplicates; ok is false when the body has none.
func keyPermissions(f Fields) ([]string, bool) {
	perms, ok := f.Lists["permissions"]
	if !ok {
		return nil, false
	}
	perms = slices.Clone(perms)
	slices.Sort(perms)
	return slices.Compact(perms), true
}

// validKeyPermissions checks the body's permission list before any read.
func validKeyPermissions(f Fields, creating bool) error {
	perms, ok := f.Lists["permissions"]
	if !ok {
		if creating {
			return problem(http.StatusBadRequest, "<permissions> is missing: a key needs at least one permission")
		}
		return nil
	}
	if len(perms) == 0 {
		return problem(http.StatusBadRequest, "<permissions> is empty: a key needs at least one permission")
	}
	if len(perms) > maxKeyPermissions {
		return problem(http.StatusBadRequest, "a key holds at most %d permissions", maxKeyPermissions)
	}
	for _, p := range perms {
		if err := authz.Validate(p); err != nil {
			return problem(http.StatusBadRequest, "invalid permission: %v", err)
		}
	}
	return nil
}

// checkKeyPermissions adds the key rule to the request's write: every
// permission must be granted to the owner, and carried by the caller's
// own key when it signed in with one. It runs on the write's guarded
// view, so a role taken from the owner meanwhile fails the write.
func (c *call) checkKeyPermissions(a, u string, f Fields) {
	perms, ok := keyPermissions(f)
	if !ok {
		return
	}
	c.check(func(v storage.View) error {
		owner := authn.Principal{Account: a, User: u}
		h := authz.ComputeHolding(v, a, u)
		for _, p := range perms {
			if _, ok := h.Decide(p); !ok {
				return problem(http.StatusBadRequest, "user %q does not hold permission %q; a key's permissions must be held by its owner", owner.User, p)
			}
			if c.p.Scopes != nil && authz.FirstImplying(c.p.Scopes, p) < 0 {
				return problem(http.StatusBadRequest, "the API key this request is signed in with does not carry permission %q", p)
			}
		}
		// A key for another user acts with that user's power: the caller
		// gives it only what it holds itself (escalation).
		if c.p.Account != a || c.p.User != u {
			if p, ok := authz.FirstUngrantable(v, c.p, perms, nil); !ok {
				return problem(http.StatusForbidden, "%s may not give an API key permission %s: a principal grants only what it holds", c.p.Name(), p)
			}
		}
		return nil
	})
}

func (c *call) random() io.Reader {
	if c.s.Random != nil {
		return c.s.Random
	}
	return rand.Reader
}

// createKey stores a new key for user u from the request body and
// returns its id, secret and the write's revision.
func (c *call) createKey(a, u string) (id, secret string, rev int64, err error) {
	if _, err := c.precheck(nil); err != nil {
		return "", "", 0, err
	}
	f, err := c.entity(apiKeySchema)
	if err != nil {
		return "", "", 0, err
	}
	if err := validKeyPermissions(f, true); err != nil {
		return "", "", 0, err
	}
	var k storage.APIKey
	if err := c.applyKeyFields(f, &k, true); err != nil {
		return "", "", 0, err
	}
	c.check(func(v storage.View) error {
		if !v.HasItem(a, storage.KindUser, u) {
			return userMissing(c)
		}
		return nil
	})
	c.checkKeyPermissions(a, u, f)
	for attempt := 0; ; attempt++ {
		id, secret, err := authn.NewAPIKeySecret(c.random())
		if err != nil {
			return "", "", 0, err
		}
		k.Prefix, k.SecretHash = id, authn.HashAPIKeySecret(secret)
		rev, err = c.s.Store.CreateAPIKey(c.r.Context(), a, u, k)
		if errors.Is(err, storage.ErrNameTaken) && attempt < 3 {
			continue // another key has this prefix: draw again
		}
		if err != nil {
			return "", "", 0, err
		}
		return id, secret, rev, nil
	}
}

func postAPIKey(c *call) error {
	ns, err := c.names("u")
	if err != nil {
		return err
	}
	a, u := c.vars.Get("a"), ns[0]
	id, secret, rev, err := c.createKey(a, u)
	if err != nil {
		return err
	}
	c.w.Header().Set("Cache-Control", "no-store")
	return c.show(http.StatusCreated, rev, apiKeysHref(a, u)+"/"+escapeSegment(id), func(v *nb) (Node, error) {
		return v.apiKeyNode(a, u, id, secret), nil
	})
}

var getAPIKeys = getUserPart(func(c *call, v *nb, a, u string) (Node, error) {
	return v.apiKeysNode(a, u), nil
})

// theKey is the key of the path, 404 when absent.
func (c *call) theKey(v *nb, a, u string) (storage.APIKey, string, error) {
	id := c.vars.Get("k")
	k, ok := v.APIKey(a, u, id)
	if !ok {
		return k, id, problem(http.StatusNotFound, "API key %q of user %q not found", id, u)
	}
	return k, id, nil
}

// The documents of one key, its permissions and one of them; served under
// the user's path and under /me.
func apiKeyDoc(c *call, v *nb, a, u string) (Node, error) {
	_, id, err := c.theKey(v, a, u)
	if err != nil {
		return nil, err
	}
	return v.apiKeyNode(a, u, id, ""), nil
}

func apiKeyPermsDoc(c *call, v *nb, a, u string) (Node, error) {
	k, id, err := c.theKey(v, a, u)
	if err != nil {
		return nil, err
	}
	return v.keyPermsNode(apiKeysHref(a, u)+"/"+escapeSegment(id)+"/permissions", k.Permissions), nil
}

func apiKeyPermDoc(c *call, v *nb, a, u string) (Node, error) {
	k, id, err := c.theKey(v, a, u)
	if err != nil {
		return nil, err
	}
	p := c.vars.Get("p")
	if !slices.Contains(k.Permissions, p) {
		return nil, problem(http.StatusNotFound, "API key %q does not carry permission %q", id, p)
	}
	return v.storedPermissionNode(apiKeysHref(a, u)+"/"+escapeSegment(id)+"/permissions", p), nil
}

var (
	getAPIKey            = getUserPart(apiKeyDoc)
	getAPIKeyPermissions = getUserPart(apiKeyPermsDoc)
	getAPIKeyPermission  = getUserPart(apiKeyPermDoc)
)

// putAPIKey changes a key's name, description, expiry or permissions
// (fields left out keep their values); the secret never changes. The
// fields are applied to the record inside the write's transaction.
func putAPIKey(c *call) error {
	ns, err := c.names("u", "k")
	if err != nil {
		return err
	}
	a, u, id := c.vars.Get("a"), ns[0], ns[1]
	found, err := c.precheck(func(v storage.View) bool { return v.HasMember(apiKeys(a, u), id) })
	if err != nil {
		return err
	}
	if !found {
		return problem(http.StatusNotFound, "API key %q of user %q not found", id, u)
	}
	f, err := c.entity(apiKeySchema)
	if err != nil {
		return err
	}
	if err := validKeyPermissions(f, false); err != nil {
		return err
	}
	c.checkKeyPermissions(a, u, f)
	_, err = c.s.Store.UpdateAPIKey(c.r.Context(), a, u, id, func(k *storage.APIKey) error {
		return c.applyKeyFields(f, k, false)
	})
	if err != nil {
		return err
	}
	return c.noContent()
}

func deleteAPIKey(c *call) error {
	ns, err := c.names("u", "k")
	if err != nil {
		return err
	}
	a, u, id := c.vars.Get("a"), ns[0], ns[1]
	if _, err := c.precheck(nil); err != nil {
		return err
	}
	if err := c.noBody(); err != nil {
		return err
	}
	if _, err := c.s.Store.DeleteAPIKey(c.r.Context(), a, u, id); err != nil {
		return err
	}
	c.s.keyUse.Delete(id)
	return c.noContent()
}

// /me/api-keys: the signed-in user's own keys, at /me hrefs.

func getMyKeys(build func(c *call, v *nb, a, u string) (Node, error)) func(*call) error {
	return getMe(build)
}

var getMyAPIKeys = getMyKeys(func(c *call, v *nb, a, u string) (Node, error) {
	return v.apiKeysNode(a, u), nil
})

var (
	getMyAPIKey            = getMyKeys(apiKeyDoc)
	getMyAPIKeyPermissions = getMyKeys(apiKeyPermsDoc)
	getMyAPIKeyPermission  = getMyKeys(apiKeyPermDoc)
)

func postMyAPIKey(c *call) error {
	a, u := c.asMe()
	id, secret, rev, err := c.createKey(a, u)
	if err != nil {
		return err
	}
	rb := rebaseFor(a, u)
	loc, _ := rb.href(apiKeysHref(a, u) + "/" + escapeSegment(id))
	c.w.Header().Set("Cache-Control", "no-store")
	return c.show(http.StatusCreated, rev, loc, func(v *nb) (Node, error) {
		return rb.node(v.apiKeyNode(a, u, id, secret)), nil
	})
}

func deleteMyAPIKey(c *call) error {
	c.asMe()
	return deleteAPIKey(c)
}
