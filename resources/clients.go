package resources

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"gatehouse/authz"
	"gatehouse/oauth"
	"gatehouse/storage"
)

// OAuth clients (SPEC §4, §7; the seed's …/users/{u}/clients): the
// documents and their handlers. The record, its index and the secret's
// keyed hash are storage's (storage.Client, Store.ServerKey).
//
// Decisions:
//   - The shapes are the seed's: the list holds bare references; a
//     client shows client-id, client-secret (the 201 answer to a create
//     alone), description (when set) and uris, with gatehouse's
//     first-party, grant-types, public and scopes in alphabetical place.
//     uris, grant-types and scopes are text lists (<uri>…</uri>, as the
//     seed shows) with count and href, each readable at its href; they
//     are shown as an element whose items are text, so they carry no
//     paging and are bounded instead (maxClientURIs, maxClientScopes).
//   - POST on the collection creates (201, Location, Cache-Control:
//     no-store), or, when the body names a client-id, updates that client
//     (204; 404 when it is not the user's, and it also needs
//     auth:users:clients:update). PUT on a client updates it (404 when
//     absent: ids are drawn by the server, so PUT never creates). Fields
//     left out keep their values; the fields are applied to the record as
//     the write's transaction reads it.
//   - Ids are 20 random URL-safe characters (120 bits), secrets 43 (256
//     bits), both from crypto/rand; a secret is stored only as
//     HMAC-SHA-256 under the installation's server key (storage.Client).
//     A public client has no secret; public is fixed at creation (a public
//     client has no secret to become confidential with), 400 otherwise.
//   - uris are exact redirect URIs: absolute http or https URLs with a
//     host, without fragment, user information or white space.
//   - grant-types default to authorization_code and refresh_token; the
//     password grant needs first-party, client_credentials a confidential
//     client (a public one cannot authenticate).
//   - Escalation (SPEC §5): the caller must hold every scope it adds
//     (authz.FirstUngrantable, 403), and only principals of the system
//     account make a client first-party (it then skips consent and may use
//     the password grant). Both run inside the write's guarded
//     transaction. Scopes need not be held by the owner: at use a token's
//     power is the owner's effective permissions ∩ its scopes.
//   - token-endpoint-auth-method is how the client authenticates at the
//     token, PAR, introspection and revocation endpoints, and fosite
//     accepts only that one: client_secret_basic, client_secret_post,
//     private_key_jwt (RFC 7523: a JWT signed with a key of its jwks),
//     none (public clients, and only they). It is always shown. Left out
//     at creation it is not stored: a public client shows none, a
//     confidential one client_secret_basic, and such a client (like
//     every client stored before the field existed) also accepts
//     client_secret_post; registering a method makes it the only one. A private_key_jwt client is created
//     without a secret (the 201 shows no client-secret), so it cannot
//     later switch to a secret method (400: create another client);
//     switching the other way keeps the unused secret hash.
//   - jwks is the client's JSON Web Key Set as JSON text, public keys
//     only, checked by oauth.ParseClientJWKS (400 with its reason:
//     private or symmetric key material, not a key set, over 16 KiB or 8
//     keys, RSA under 2048 bits, EC not P-256, EdDSA, algorithms other
//     than RS256, PS256, ES256, mixed algorithms, missing or repeated
//     kids). private_key_jwt needs one; a public client may not have
//     one; an empty <jwks/> removes it. It is shown when set, as stored.

// Nodes.

func clientsHref(a, u string) string { return path("accounts", a, "users", u, "clients") }

// clients is the collection of user u's OAuth clients.
func clients(a, u string) storage.Coll {
	return storage.Coll{Account: a, Kind: storage.KindClient, Owner: u}
}

// clientsUnder is user u's clients collection for a user whose href is base.
func (v *nb) clientsUnder(a, u, base string) *Collection {
	prefix := base + "/clients/"
	return storedColl(Collection{Element: "clients", Href: base, HrefTail: "/clients"}, storedSource{v: v.View,
		coll:  clients(a, u),
		item:  func(id string) Node { return v.clientAt(a, u, id, prefix+escapeSegment(id), "") },
		links: clientLinks})
}

// clientAt shows client id at href; secret, when not empty, is shown too
// (only the 201 answer to a create passes it).
func (v *nb) clientAt(a, u, id, href, secret string) *Entity {
	return &Entity{Element: "client", Identifier: id, Href: href, Fields: func(f []Field) []Field {
		cl, _ := v.Client(a, u, id)
		f = append(f, Field{Name: "client-id", Text: id})
		if secret != "" {
			f = append(f, Field{Name: "client-secret", Text: secret})
		}
		if cl.Description != "" {
			f = append(f, Field{Name: "description", Text: cl.Description})
		}
		f = append(f,
			Field{Name: "first-party", Text: boolText(cl.FirstParty)},
			Field{Node: textList("grant-types", "grant-type", href+"/grant-types", cl.GrantTypes)},
		)
		if cl.JWKS != "" {
			f = append(f, Field{Name: "jwks", Text: cl.JWKS})
		}
		return append(f,
			Field{Name: "public", Text: boolText(cl.Public)},
			Field{Node: textList("scopes", "scope", href+"/scopes", cl.Scopes)},
			Field{Name: "token-endpoint-auth-method", Text: cl.TokenEndpointAuthMethod()},
			Field{Node: textList("uris", "uri", href+"/uris", cl.URIs)},
		)
	}}
}

// textList shows a bounded list of text items as the seed shows uris:
// <uris count="1" href="…"><uri>http://example.com/</uri></uris>.
func textList(element, item, href string, values []string) *Entity {
	return &Entity{Element: element, Attrs: [][2]string{{"count", strconv.Itoa(len(values))}, {"href", href}},
		Fields: func(f []Field) []Field {
			for _, x := range values {
				f = append(f, Field{Name: item, Text: x})
			}
			return f
		}}
}

// Reading.

// theClient is the client of the path, 404 when absent.
func (c *call) theClient(v *nb, a, u string) (storage.Client, string, error) {
	id := c.vars.Get("c")
	cl, ok := v.Client(a, u, id)
	if !ok {
		return cl, id, clientMissing(id, u)
	}
	return cl, id, nil
}

func clientMissing(id, u string) error {
	return problem(http.StatusNotFound, "client %q of user %q not found", id, u)
}

func clientHref(a, u, id string) string { return clientsHref(a, u) + "/" + escapeSegment(id) }

var getClient = getUserPart(func(c *call, v *nb, a, u string) (Node, error) {
	_, id, err := c.theClient(v, a, u)
	if err != nil {
		return nil, err
	}
	return v.clientAt(a, u, id, clientHref(a, u, id), ""), nil
})

// getClientList serves one of a client's text lists.
func getClientList(element, item string, values func(storage.Client) []string) func(*call) error {
	return getUserPart(func(c *call, v *nb, a, u string) (Node, error) {
		cl, id, err := c.theClient(v, a, u)
		if err != nil {
			return nil, err
		}
		return textList(element, item, clientHref(a, u, id)+"/"+element, values(cl)), nil
	})
}

var (
	getClientURIs       = getClientList("uris", "uri", func(cl storage.Client) []string { return cl.URIs })
	getClientGrantTypes = getClientList("grant-types", "grant-type", func(cl storage.Client) []string { return cl.GrantTypes })
	getClientScopes     = getClientList("scopes", "scope", func(cl storage.Client) []string { return cl.Scopes })
)

// Writing.

var clientSchema = Schema{Root: "client", Text: []string{"client-id", "description", "first-party", "jwks", "public", "token-endpoint-auth-method"},
	Lists: map[string]string{"uris": "uri", "grant-types": "grant-type", "scopes": "scope"}}

const (
	maxClientDescription = 4096
	maxClientURIs        = 32
	maxClientURI         = 2048
	maxClientScopes      = 256
)

// clientBody is a validated client body: nil fields were left out.
type clientBody struct {
	description *string
	uris        []string
	grantTypes  []string
	scopes      []string
	hasURIs     bool
	hasGrants   bool
	hasScopes   bool
	public      *bool
	firstParty  *bool
	authMethod  *string
	jwks        *string // "" removes the key set
}

// parseClientBody validates the body's fields; it reads nothing, so its
// 400s come before any escalation check.
func parseClientBody(f Fields) (clientBody, error) {
	var b clientBody
	if d, ok := f.Text["description"]; ok {
		if len(d) > maxClientDescription {
			return b, problem(http.StatusBadRequest, "<description> is longer than %d bytes", maxClientDescription)
		}
		b.description = &d
	}
	for _, name := range []string{"public", "first-party"} {
		val, present, err := parseBool(f, name)
		if err != nil {
			return b, err
		}
		if present {
			if name == "public" {
				b.public = &val
			} else {
				b.firstParty = &val
			}
		}
	}
	if m, ok := f.Text["token-endpoint-auth-method"]; ok {
		if !slices.Contains(storage.AuthMethods, m) {
			return b, problem(http.StatusBadRequest, "unknown token-endpoint-auth-method %q; expected one of %s", clip(m), strings.Join(storage.AuthMethods, ", "))
		}
		b.authMethod = &m
	}
	if j, ok := f.Text["jwks"]; ok {
		j = strings.TrimSpace(j)
		if j != "" {
			if _, _, err := oauth.ParseClientJWKS(j); err != nil {
				return b, problem(http.StatusBadRequest, "invalid <jwks>: %v", err)
			}
		}
		b.jwks = &j
	}
	if uris, ok := f.Lists["uris"]; ok {
		if len(uris) > maxClientURIs {
			return b, problem(http.StatusBadRequest, "a client holds at most %d uris", maxClientURIs)
		}
		for _, s := range uris {
			if err := validRedirectURI(s); err != nil {
				return b, err
			}
			if !slices.Contains(b.uris, s) {
				b.uris = append(b.uris, s)
			}
		}
		b.hasURIs = true
	}
	if gts, ok := f.Lists["grant-types"]; ok {
		for _, g := range gts {
			if !slices.Contains(storage.GrantTypes, g) {
				return b, problem(http.StatusBadRequest, "unknown grant type %q; expected one of authorization_code, client_credentials, refresh_token, password", clip(g))
			}
		}
		for _, g := range storage.GrantTypes { // canonical order, no duplicates
			if slices.Contains(gts, g) {
				b.grantTypes = append(b.grantTypes, g)
			}
		}
		if len(b.grantTypes) == 0 {
			return b, problem(http.StatusBadRequest, "<grant-types> is empty: a client needs at least one grant type")
		}
		b.hasGrants = true
	}
	if scopes, ok := f.Lists["scopes"]; ok {
		if len(scopes) > maxClientScopes {
			return b, problem(http.StatusBadRequest, "a client holds at most %d scopes", maxClientScopes)
		}
		for _, p := range scopes {
			if err := authz.Validate(p); err != nil {
				return b, problem(http.StatusBadRequest, "invalid scope: %v", err)
			}
		}
		b.scopes = slices.Compact(slices.Sorted(slices.Values(scopes)))
		b.hasScopes = true
	}
	return b, nil
}

// validRedirectURI accepts an absolute http or https URL with a host and
// without fragment, user information or white space.
func validRedirectURI(s string) error {
	bad := func(why string) error {
		return problem(http.StatusBadRequest, "invalid uri %q: %s; a redirect URI is an absolute http or https URL without fragment", clip(s), why)
	}
	if len(s) > maxClientURI {
		return bad("too long")
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return bad("it contains white space or a control character")
		}
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return bad("not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return bad("the scheme is not http or https")
	case u.Opaque != "" || u.Host == "":
		return bad("it has no host")
	case u.Fragment != "" || u.RawFragment != "" || strings.Contains(s, "#"):
		return bad("it has a fragment")
	case u.User != nil:
		return bad("it has user information")
	}
	return nil
}

// apply puts the body's fields into cl and checks the rules that join
// fields; creating applies the defaults. It reads nothing: on update it
// runs on the record as the write's transaction reads it.
func (b clientBody) apply(cl *storage.Client, creating bool) error {
	if b.public != nil {
		if !creating && *b.public != cl.Public {
			return problem(http.StatusBadRequest, "<public> is fixed when a client is created; create another client instead")
		}
		cl.Public = *b.public
	}
	if b.description != nil {
		cl.Description = *b.description
	}
	if b.firstParty != nil {
		cl.FirstParty = *b.firstParty
	}
	if b.hasURIs {
		cl.URIs = b.uris
	}
	if b.hasGrants {
		cl.GrantTypes = b.grantTypes
	} else if creating {
		cl.GrantTypes = []string{storage.GrantAuthorizationCode, storage.GrantRefreshToken}
	}
	if b.hasScopes {
		cl.Scopes = b.scopes
	}
	if b.authMethod != nil {
		cl.AuthMethod = *b.authMethod
	}
	if b.jwks != nil {
		cl.JWKS = *b.jwks
	}
	switch m := cl.TokenEndpointAuthMethod(); {
	case cl.Public && m != storage.AuthNone:
		return problem(http.StatusBadRequest, "a public client has token-endpoint-auth-method none: it has no secret or keys to authenticate with")
	case !cl.Public && m == storage.AuthNone:
		return problem(http.StatusBadRequest, "token-endpoint-auth-method none is for public clients; a confidential client authenticates")
	case m == storage.AuthPrivateKeyJWT && cl.JWKS == "":
		return problem(http.StatusBadRequest, "token-endpoint-auth-method private_key_jwt needs a <jwks> with the client's public keys")
	case cl.Public && cl.JWKS != "":
		return problem(http.StatusBadRequest, "a public client does not authenticate, so it has no <jwks>")
	case !creating && (m == storage.AuthClientSecretBasic || m == storage.AuthClientSecretPost) && cl.SecretHash == "":
		return problem(http.StatusBadRequest, "the client was created without a secret (private_key_jwt), so it cannot use %s; create another client", m)
	}
	if cl.HasGrant(storage.GrantPassword) && !cl.FirstParty {
		return problem(http.StatusBadRequest, "the password grant is only for first-party clients")
	}
	if cl.HasGrant(storage.GrantClientCredentials) && cl.Public {
		return problem(http.StatusBadRequest, "the client_credentials grant needs a confidential client; a public client has no secret")
	}
	return nil
}

// checkClientGrant adds the escalation rules of a client write to the
// request's write (see the decisions above); id is "" for a create.
func (c *call) checkClientGrant(a, u, id string, b clientBody) {
	c.check(func(v storage.View) error {
		var old storage.Client
		if id != "" {
			old, _ = v.Client(a, u, id)
		}
		if b.firstParty != nil && *b.firstParty && !old.FirstParty && c.p.Account != authz.SystemAccount {
			return problem(http.StatusForbidden, "%s may not make a client first-party: only principals of account %q may", c.p.Name(), authz.SystemAccount)
		}
		var added []string
		for _, p := range b.scopes {
			if !slices.Contains(old.Scopes, p) {
				added = append(added, p)
			}
		}
		if p, ok := authz.FirstUngrantable(v, c.p, added, nil); !ok {
			return problem(http.StatusForbidden, "%s may not give a client scope %s: a principal grants only what it holds", c.p.Name(), p)
		}
		return nil
	})
}

// randomToken is n random bytes, base64url without padding.
func randomToken(r io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

const (
	clientIDBytes     = 15 // 20 characters
	clientSecretBytes = 32 // 43 characters, 256 bits
)

// clientSecretKey returns the server key client secrets are hashed
// under. It runs on a context without the request's checks and audit
// entry: creating the key on first use is not the request's write.
func (c *call) clientSecretKey() ([]byte, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := context.AfterFunc(c.r.Context(), cancel)
	defer stop()
	return c.s.Store.ServerKey(ctx, storage.ClientSecretKeyName)
}

// createClient stores a new client of user u and returns its id, its
// secret ("" for a public or private_key_jwt client) and the write's
// revision.
func (c *call) createClient(a, u string, b clientBody) (id, secret string, rev int64, err error) {
	var cl storage.Client
	if err := b.apply(&cl, true); err != nil {
		return "", "", 0, err
	}
	c.check(func(v storage.View) error {
		if !v.HasItem(a, storage.KindUser, u) {
			return userMissing(c)
		}
		return nil
	})
	c.checkClientGrant(a, u, "", b)
	var key []byte
	withSecret := !cl.Public && cl.AuthMethod != storage.AuthPrivateKeyJWT
	if withSecret {
		if key, err = c.clientSecretKey(); err != nil {
			return "", "", 0, err
		}
	}
	for attempt := 0; ; attempt++ {
		if id, err = randomToken(c.random(), clientIDBytes); err != nil {
			return "", "", 0, err
		}
		cl.ID = id
		if withSecret {
			if secret, err = randomToken(c.random(), clientSecretBytes); err != nil {
				return "", "", 0, err
			}
			cl.SecretHash = storage.ClientSecretHash(key, secret)
		}
		rev, err = c.s.Store.CreateClient(c.r.Context(), a, u, cl)
		if errors.Is(err, storage.ErrNameTaken) && attempt < 3 {
			continue // another client has this id: draw again
		}
		if err != nil {
			return "", "", 0, err
		}
		return id, secret, rev, nil
	}
}

// updateClient applies b to client id of user u inside the write's
// transaction and answers 204.
func (c *call) updateClient(a, u, id string, b clientBody) error {
	c.checkClientGrant(a, u, id, b)
	_, err := c.s.Store.UpdateClient(c.r.Context(), a, u, id, func(cl *storage.Client) error {
		return b.apply(cl, false)
	})
	if errors.Is(err, storage.ErrNotFound) {
		return clientMissing(id, u)
	}
	if err != nil {
		return err
	}
	return c.noContent()
}

// postClient creates a client, or updates the one the body's client-id
// names (the seed's POST "create / update").
func postClient(c *call) error {
	ns, err := c.names("u")
	if err != nil {
		return err
	}
	a, u := c.vars.Get("a"), ns[0]
	if _, err := c.precheck(nil); err != nil {
		return err
	}
	f, err := c.entity(clientSchema)
	if err != nil {
		return err
	}
	b, err := parseClientBody(f)
	if err != nil {
		return err
	}
	if id, ok := f.Text["client-id"]; ok {
		if err := storage.ValidName(id); err != nil {
			return problem(http.StatusBadRequest, "invalid <client-id>: %v", err)
		}
		if err := c.require("auth:users:clients:update"); err != nil {
			return err
		}
		found := false
		if err := c.s.Store.Read(c.r.Context(), 0, func(v storage.View) error {
			if !v.HasItem(a, storage.KindUser, u) {
				return userMissing(c)
			}
			found = v.HasMember(clients(a, u), id)
			return nil
		}); err != nil {
			return err
		}
		if !found {
			return clientMissing(id, u)
		}
		return c.updateClient(a, u, id, b)
	}
	id, secret, rev, err := c.createClient(a, u, b)
	if err != nil {
		return err
	}
	href := clientHref(a, u, id)
	c.w.Header().Set("Cache-Control", "no-store")
	return c.show(http.StatusCreated, rev, href, func(v *nb) (Node, error) {
		return v.clientAt(a, u, id, href, secret), nil
	})
}

// putClient updates a client (fields left out keep their values).
func putClient(c *call) error {
	ns, err := c.names("u", "c")
	if err != nil {
		return err
	}
	a, u, id := c.vars.Get("a"), ns[0], ns[1]
	found, err := c.precheck(func(v storage.View) bool { return v.HasMember(clients(a, u), id) })
	if err != nil {
		return err
	}
	if !found {
		return clientMissing(id, u)
	}
	f, err := c.entity(clientSchema)
	if err != nil {
		return err
	}
	if bid, ok := f.Text["client-id"]; ok && bid != id {
		return problem(http.StatusBadRequest, "<client-id> %q does not match the path's client %q", clip(bid), id)
	}
	b, err := parseClientBody(f)
	if err != nil {
		return err
	}
	return c.updateClient(a, u, id, b)
}

func deleteClient(c *call) error {
	ns, err := c.names("u", "c")
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
	if _, err := c.s.Store.DeleteClient(c.r.Context(), a, u, id); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return clientMissing(id, u)
		}
		return err
	}
	return c.noContent()
}

// deleteClients deletes all of a user's clients in one transaction.
func deleteClients(c *call) error {
	ns, err := c.names("u")
	if err != nil {
		return err
	}
	a, u := c.vars.Get("a"), ns[0]
	if _, err := c.precheck(nil); err != nil {
		return err
	}
	if err := c.noBody(); err != nil {
		return err
	}
	if _, err := c.s.Store.DeleteClients(c.r.Context(), a, u); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return userMissing(c)
		}
		return err
	}
	return c.noContent()
}
