package resources

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"gatehouse/authz"
	"gatehouse/storage"
)

// API keys (SPEC §3a, §5, §6).
//
// Decisions:
//   - A key's id is its public prefix, "gh_" + 8 random base32 characters;
//     its secret is prefix + "_" + 32 random bytes in base32 (256 bits).
//     Only the hex SHA-256 of the secret is stored: a secret of that
//     entropy cannot be guessed, so a slow hash would only cost CPU on
//     every request; the stored hash is compared in constant time.
//   - The record lives in the owner's set t/{a}/apikey/{u}/{prefix}, and a
//     global index apikeyidx/{prefix} → "a\u" is written and deleted with
//     it in one transaction. Deleting the user or the account removes the
//     record and leaves the index dangling; authentication loads the record
//     through the index and treats a missing one as an invalid key.
//   - A key's permissions must each be granted to the owner when the key is
//     created or changed (400 naming the first that is not), and, when the
//     caller is itself signed in with a key, carried by that key (a key
//     never mints a stronger key). At use, the key's power is the
//     intersection: a request is allowed when the owner's live holding
//     grants the route's permission AND some key permission implies it
//     (principal.allows). The holding is the watch-fed one, so a role taken
//     from the owner shrinks the key at once, on every instance.
//   - Every instance authenticates from its watch-fed cache: a deleted or
//     expired key, or a disabled or deleted owner, is refused (401) as soon
//     as the instance's cache has the change (one watch delivery).
//   - last-used is kept in memory per instance and never written to
//     storage (no write per request); it is empty until the key is used on
//     the instance answering, and lost on restart.
//   - Bad keys count as failed sign-ins against the client address (the
//     throttle's user counter is keyed by "api-key@" + address, so a guessed
//     prefix cannot lock out the real key's owner).
//   - An owner whose password has expired may still use their keys: the
//     key is its own credential.

// apiKeyPrefix starts every API key; a Bearer token that starts with it
// is taken as an API key.
const apiKeyPrefix = "gh_"

var keyEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// allows reports whether the principal may act with perm: the owner's
// holding must grant it and, for an API key, one of the key's
// permissions must imply it. It returns the granting role.
func (p principal) allows(h *authz.Holding, perm string) (string, bool) {
	role, ok := h.Decide(perm)
	if !ok {
		return "", false
	}
	if p.KeyPerms != nil && authz.FirstImplying(p.KeyPerms, perm) < 0 {
		return "", false
	}
	return role, true
}

// noteKeyUse records, in memory on this instance only, that key id was
// used now (no storage write per request).
func (s *Server) noteKeyUse(id string) {
	s.keyUse.Store(id, s.Now().UTC())
}

func (v nb) keyLastUsed(id string) string {
	if t, ok := v.keyUse.Load(id); ok {
		return t.(time.Time).Format(time.RFC3339)
	}
	return ""
}

// presentedKey returns the API key of the request, if it carries one.
func presentedKey(r *http.Request) (string, bool) {
	if k := r.Header.Get("X-API-Key"); k != "" {
		return strings.TrimSpace(k), true
	}
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		if tok := strings.TrimSpace(h[7:]); strings.HasPrefix(tok, apiKeyPrefix) {
			return tok, true
		}
	}
	return "", false
}

// keyID is the prefix of a presented secret ("" if it has no valid one).
func keyID(secret string) string {
	rest, ok := strings.CutPrefix(secret, apiKeyPrefix)
	if !ok {
		return ""
	}
	body, _, ok := strings.Cut(rest, "_")
	if !ok || body == "" {
		return ""
	}
	id := apiKeyPrefix + body
	if storage.ValidName(id) != nil {
		return ""
	}
	return id
}

func secretHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// authenticateKey signs the request in with an API key.
func (s *Server) authenticateKey(c *call, secret string) error {
	addr := s.clientAddr(c.r)
	throttleName := "api-key@" + addr
	if p := s.throttled(throttleName, addr); p != nil {
		return p
	}
	id := keyID(secret)
	var a, u string
	var k storage.APIKey
	var owner storage.User
	var found, ownerOK bool
	if id != "" {
		err := s.Store.Read(c.r.Context(), 0, func(v storage.View) error {
			a, u, k, found = v.APIKeyOwner(id)
			if found {
				owner, ownerOK = v.User(a, u)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	hash := secretHash(secret)
	if !found || subtle.ConstantTimeCompare([]byte(hash), []byte(k.SecretHash)) != 1 {
		s.Throttle.Fail(throttleName, addr)
		s.Logger.Info("API key sign-in failed", "key", id, "address", addr)
		return unauthorized("the credentials are not valid")
	}
	if k.Expires != 0 && !s.Now().Before(time.Unix(k.Expires, 0)) {
		return unauthorized("the API key has expired")
	}
	if !ownerOK || !owner.Enabled {
		return unauthorized("the API key's owner is disabled or no longer exists")
	}
	perms := k.Permissions
	if perms == nil {
		perms = []string{}
	}
	c.p = principal{Account: a, User: u, KeyID: id, KeyPerms: perms}
	s.noteKeyUse(id)
	return nil
}

// Nodes.

func apiKeysHref(a, u string) string { return path("accounts", a, "users", u, "api-keys") }

func (v nb) apiKeysNode(a, u string) *Collection {
	return &Collection{Element: "api-keys", Href: apiKeysHref(a, u), Items: rangeSource{v: v.View,
		prefix: storage.SubRange(a, storage.KindAPIKey, u),
		item:   func(id string) Node { return v.apiKeyNode(a, u, id, "") }}}
}

// apiKeyNode shows key id; secret, when not empty, is shown too (only the
// 201 answer to a create passes it).
func (v nb) apiKeyNode(a, u, id, secret string) *Entity {
	href := apiKeysHref(a, u) + "/" + escapeSegment(id)
	return &Entity{Element: "api-key", Identifier: id, Href: href, Fields: func() []Field {
		k, _ := v.APIKey(a, u, id)
		expires := ""
		if k.Expires != 0 {
			expires = time.Unix(k.Expires, 0).UTC().Format(time.RFC3339)
		}
		f := []Field{
			{Name: "name", Text: k.Name, Always: true},
			{Name: "description", Text: k.Description, Always: true},
			{Name: "expires", Text: expires, Always: true},
			{Name: "prefix", Text: k.Prefix},
			{Name: "last-used", Text: v.keyLastUsed(id), Always: true},
			{Node: v.keyPermsNode(href+"/permissions", k.Permissions)},
		}
		if secret != "" {
			f = append(f, Field{Name: "secret", Text: secret})
		}
		return f
	}}
}

func (v nb) keyPermsNode(href string, perms []string) *Collection {
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
// a name and permissions.
func (c *call) applyKeyFields(v storage.View, a, u string, f Fields, k *storage.APIKey, creating bool) error {
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
	h := c.s.holdings.Of(v, a, u)
	for _, p := range perms {
		if err := authz.Validate(p); err != nil {
			return problem(http.StatusBadRequest, "invalid permission: %v", err)
		}
		if _, ok := h.Decide(p); !ok {
			return problem(http.StatusBadRequest, "user %q does not hold permission %q; a key's permissions must be held by its owner", u, p)
		}
		if c.p.KeyPerms != nil && authz.FirstImplying(c.p.KeyPerms, p) < 0 {
			return problem(http.StatusBadRequest, "the API key this request is signed in with does not carry permission %q", p)
		}
	}
	perms = slices.Clone(perms)
	slices.Sort(perms)
	k.Permissions = slices.Compact(perms)
	return nil
}

func (c *call) random() io.Reader {
	if c.s.Random != nil {
		return c.s.Random
	}
	return rand.Reader
}

func (c *call) randomText(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(c.random(), b); err != nil {
		return "", err
	}
	return strings.ToLower(keyEncoding.EncodeToString(b)), nil
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
	var k storage.APIKey
	err = c.s.Store.Read(c.r.Context(), 0, func(v storage.View) error {
		if !v.Has(storage.ItemKey(a, storage.KindUser, u)) {
			return userMissing(c)
		}
		return c.applyKeyFields(v, a, u, f, &k, true)
	})
	if err != nil {
		return "", "", 0, err
	}
	for attempt := 0; ; attempt++ {
		body, err := c.randomText(5) // 8 base32 characters
		if err != nil {
			return "", "", 0, err
		}
		tail, err := c.randomText(32)
		if err != nil {
			return "", "", 0, err
		}
		k.Prefix = apiKeyPrefix + body
		secret = k.Prefix + "_" + tail
		k.SecretHash = secretHash(secret)
		rev, err = c.s.Store.CreateAPIKey(c.r.Context(), a, u, k)
		if errors.Is(err, storage.ErrNameTaken) && attempt < 3 {
			continue // another key has this prefix: draw again
		}
		if err != nil {
			return "", "", 0, err
		}
		return k.Prefix, secret, rev, nil
	}
}

func postAPIKey(c *call) error {
	ns, err := c.names("u")
	if err != nil {
		return err
	}
	a, u := c.vars["a"], ns[0]
	id, secret, rev, err := c.createKey(a, u)
	if err != nil {
		return err
	}
	c.w.Header().Set("Cache-Control", "no-store")
	return c.show(http.StatusCreated, rev, apiKeysHref(a, u)+"/"+escapeSegment(id), func(v nb) (Node, error) {
		return v.apiKeyNode(a, u, id, secret), nil
	})
}

var getAPIKeys = getUserPart(func(c *call, v nb, a, u string) (Node, error) {
	return v.apiKeysNode(a, u), nil
})

// theKey is the key of the path, 404 when absent.
func (c *call) theKey(v nb, a, u string) (storage.APIKey, string, error) {
	id := c.vars["k"]
	k, ok := v.APIKey(a, u, id)
	if !ok {
		return k, id, problem(http.StatusNotFound, "API key %q of user %q not found", id, u)
	}
	return k, id, nil
}

// The documents of one key, its permissions and one of them; served under
// the user's path and under /me.
func apiKeyDoc(c *call, v nb, a, u string) (Node, error) {
	_, id, err := c.theKey(v, a, u)
	if err != nil {
		return nil, err
	}
	return v.apiKeyNode(a, u, id, ""), nil
}

func apiKeyPermsDoc(c *call, v nb, a, u string) (Node, error) {
	k, id, err := c.theKey(v, a, u)
	if err != nil {
		return nil, err
	}
	return v.keyPermsNode(apiKeysHref(a, u)+"/"+escapeSegment(id)+"/permissions", k.Permissions), nil
}

func apiKeyPermDoc(c *call, v nb, a, u string) (Node, error) {
	k, id, err := c.theKey(v, a, u)
	if err != nil {
		return nil, err
	}
	p := c.vars["p"]
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
// (fields left out keep their values); the secret never changes.
func putAPIKey(c *call) error {
	ns, err := c.names("u", "k")
	if err != nil {
		return err
	}
	a, u, id := c.vars["a"], ns[0], ns[1]
	found, err := c.precheck(exists(storage.SubKey(a, storage.KindAPIKey, u, id)))
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
	var next storage.APIKey
	err = c.s.Store.Read(c.r.Context(), 0, func(v storage.View) error {
		k, ok := v.APIKey(a, u, id)
		if !ok {
			return problem(http.StatusNotFound, "API key %q of user %q not found", id, u)
		}
		next = k
		return c.applyKeyFields(v, a, u, f, &next, false)
	})
	if err != nil {
		return err
	}
	_, err = c.s.Store.UpdateAPIKey(c.r.Context(), a, u, id, func(k *storage.APIKey) error {
		if k.SecretHash != next.SecretHash {
			return problem(http.StatusConflict, "the key changed while this request ran; retry")
		}
		*k = next
		return nil
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
	a, u, id := c.vars["a"], ns[0], ns[1]
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

func rebaseKeys(a, u string) meRebase {
	return meRebase{from: path("accounts", a, "users", u), served: []string{"api-keys"}}
}

func getMyKeys(build func(c *call, v nb, a, u string) (Node, error)) func(*call) error {
	return func(c *call) error {
		a, u := c.asMe()
		rb := rebaseKeys(a, u)
		return c.show(http.StatusOK, 0, "", func(v nb) (Node, error) {
			if !v.Has(storage.ItemKey(a, storage.KindUser, u)) {
				return nil, unauthorized("the signed-in user no longer exists")
			}
			n, err := build(c, v, a, u)
			if err != nil {
				return nil, err
			}
			return rb.node(n), nil
		})
	}
}

var getMyAPIKeys = getMyKeys(func(c *call, v nb, a, u string) (Node, error) {
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
	rb := rebaseKeys(a, u)
	loc, _ := rb.href(apiKeysHref(a, u) + "/" + escapeSegment(id))
	c.w.Header().Set("Cache-Control", "no-store")
	return c.show(http.StatusCreated, rev, loc, func(v nb) (Node, error) {
		return rb.node(v.apiKeyNode(a, u, id, secret)), nil
	})
}

func deleteMyAPIKey(c *call) error {
	c.asMe()
	return deleteAPIKey(c)
}
