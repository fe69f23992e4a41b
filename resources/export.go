package resources

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"gatehouse/authz"
	"gatehouse/storage"
)

// Export and import of an account subtree (SPEC §3c): GET
// /accounts/{a}/export answers <export account="{a}"> holding the account
// and its descendants as <account> elements in the API's own shapes (each
// parent before its children; the first keeps its <parent>, which must
// exist where the document is imported), then the root rules that land
// principals in those accounts as one <rules> (storage.ExportSubtree
// says why). Both routes serve system principals only (anyone else gets
// 404, as for the root rules), since the document exposes password hashes
// and an import writes ceilings and role grants no check of the
// importer's own grants could bound (an importer could otherwise give
// itself an account with ceiling "*" and a user holding it).
//
// Secrets appear only as what is stored, never in plain:
//   - a user's <password> is its argon2id PHC hash;
//   - an API key's <secret-hash> is the hex SHA-256 of its secret: it
//     works in any store;
//   - a client's <client-secret-hash> is the hex HMAC-SHA-256 of its
//     secret under the store's client-secret server key: it verifies only
//     in a store holding that key (the same cluster, or one restored from
//     its backup); elsewhere the client keeps everything but a working
//     secret, and must be created again to get one;
//   - a provider's LDAP bind password is sealed under the store's
//     provider-secret server key, bound to the provider's account and
//     name, so its sealed form is not portable and it is not exported at
//     all: <bind-password omitted="true"/> says the provider has one.
//     Imported so, the provider keeps storage.ProviderSecretUnset, and
//     its directory refuses to bind ("set it again") until a PUT of the
//     provider gives the password; an operator may instead write the
//     password into <bind-password> before importing, and the import
//     seals it under the new store's key.
//
// What the format does not carry (federation links, passkeys, TOTP
// secrets) is left out and named in the root's omitted attribute
// (federations passkeys totp), so no state is dropped without saying so;
// volatile state (sessions, last sign-in, lockouts, password history and
// change time, API key last use, provider sync status) is left out.

// ExportXML renders the export document of account a from store, for the
// command line (gatehouse export ACCOUNT) and the GET route.
func ExportXML(ctx context.Context, store *storage.Store, a string) ([]byte, error) {
	var accounts []storage.SubtreeAccount
	var omitted []string
	err := store.Read(ctx, 0, func(v storage.View) error {
		var err error
		accounts, omitted, err = v.ExportSubtree(a)
		return err
	})
	if err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	root := doc.CreateElement("export")
	root.CreateAttr("account", a)
	if len(omitted) > 0 {
		root.CreateAttr("omitted", strings.Join(omitted, " "))
	}
	var rootRules []storage.SubtreeRule
	for _, sa := range accounts {
		exportAccount(root.CreateElement("account"), sa)
		rootRules = append(rootRules, sa.RootRules...)
	}
	if len(rootRules) > 0 {
		slices.SortFunc(rootRules, func(x, y storage.SubtreeRule) int { return strings.Compare(x.Name, y.Name) })
		exportList(root, "rules", "rule", rootRules, func(re *etree.Element, r storage.SubtreeRule) {
			re.CreateElement("account").CreateAttr("identifier", r.Rule.Account)
			exportRule(re, r)
		})
	}
	doc.Indent(2)
	return doc.WriteToBytes()
}

func exportAccount(el *etree.Element, sa storage.SubtreeAccount) {
	if len(sa.DefaultRoles) > 0 {
		exportRefs(el.CreateElement("default-roles"), "role", sa.DefaultRoles)
	}
	exportText(el, "description", sa.Account.Description)
	exportList(el, "groups", "group", sa.Groups, func(ge *etree.Element, g storage.SubtreeGroup) {
		exportText(ge, "description", g.Group.Description)
		ge.CreateElement("name").SetText(g.Name)
		if len(g.Roles) > 0 {
			exportRefs(ge.CreateElement("roles"), "role", g.Roles)
		}
		if len(g.Users) > 0 {
			exportRefs(ge.CreateElement("users"), "user", g.Users)
		}
	})
	el.CreateElement("name").SetText(sa.Name)
	exportText(el, "parent", sa.Account.Parent)
	if len(sa.Ceiling) > 0 {
		exportPerms(el.CreateElement("permissions"), sa.Ceiling)
	}
	exportList(el, "providers", "provider", sa.Providers, exportProvider)
	exportList(el, "roles", "role", sa.Roles, func(re *etree.Element, r storage.SubtreeRole) {
		exportText(re, "description", r.Role.Description)
		re.CreateElement("name").SetText(r.Name)
		if len(r.Permissions) > 0 {
			exportPerms(re.CreateElement("permissions"), r.Permissions)
		}
	})
	exportList(el, "rules", "rule", sa.Rules, exportRule)
	exportList(el, "users", "user", sa.Users, exportUser)
}

// exportUser writes a user's fields alphabetically with name last, as the
// user document does.
func exportUser(el *etree.Element, u storage.SubtreeUser) {
	exportList(el, "api-keys", "api-key", u.APIKeys, exportAPIKey)
	exportList(el, "attributes", "attribute", u.Attributes, func(ae *etree.Element, kv [2]string) {
		ae.CreateElement("name").SetText(kv[0])
		ae.CreateElement("value").SetText(kv[1])
	})
	exportList(el, "clients", "client", u.Clients, exportClient)
	if u.User.Created != 0 {
		el.CreateElement("created").SetText(time.Unix(u.User.Created, 0).UTC().Format(time.RFC3339))
	}
	exportText(el, "email", u.User.Email)
	el.CreateElement("enabled").SetText(boolText(u.User.Enabled))
	exportText(el, "full-name", u.User.FullName)
	exportText(el, "password", u.User.PasswordHash)
	el.CreateElement("password-expired").SetText(boolText(u.User.PasswordExpired))
	if len(u.Roles) > 0 {
		exportRefs(el.CreateElement("roles"), "role", u.Roles)
	}
	el.CreateElement("name").SetText(u.Name)
}

// exportAPIKey writes an API key as the API shows it, with its stored
// hash (<secret-hash>, hex SHA-256 of the secret) in place of the secret
// and without the volatile last-used.
func exportAPIKey(el *etree.Element, k storage.APIKey) {
	exportText(el, "description", k.Description)
	if k.Expires != 0 {
		el.CreateElement("expires").SetText(time.Unix(k.Expires, 0).UTC().Format(time.RFC3339))
	}
	el.CreateElement("name").SetText(k.Name)
	if len(k.Permissions) > 0 {
		exportPerms(el.CreateElement("permissions"), k.Permissions)
	}
	el.CreateElement("prefix").SetText(k.Prefix)
	el.CreateElement("secret-hash").SetText(k.SecretHash)
}

// exportClient writes an OAuth client as the API shows it, with its
// stored hash (<client-secret-hash>, keyed by the store's client-secret
// server key) in place of the secret, and its registered
// token-endpoint-auth-method only when one is registered.
func exportClient(el *etree.Element, c storage.Client) {
	el.CreateElement("client-id").SetText(c.ID)
	exportText(el, "client-secret-hash", c.SecretHash)
	exportText(el, "description", c.Description)
	el.CreateElement("first-party").SetText(boolText(c.FirstParty))
	exportTextList(el, "grant-types", "grant-type", c.GrantTypes)
	exportText(el, "jwks", c.JWKS)
	el.CreateElement("public").SetText(boolText(c.Public))
	exportTextList(el, "scopes", "scope", c.Scopes)
	exportText(el, "token-endpoint-auth-method", c.AuthMethod)
	exportTextList(el, "uris", "uri", c.URIs)
}

// exportProvider writes an identity provider as the API shows it (the
// fields of its type), without its sync status. A bind password is
// never written: <bind-password omitted="true"/> says the provider has
// one that must be set again where the document is imported.
func exportProvider(el *etree.Element, sp storage.SubtreeProvider) {
	p := sp.Provider
	el.CreateElement("name").SetText(sp.Name)
	el.CreateElement("type").SetText(p.Type)
	exportText(el, "description", p.Description)
	if p.Type == storage.ProviderSAML {
		exportText(el, "metadata-url", p.MetadataURL)
		exportText(el, "metadata", p.Metadata)
		exportText(el, "entity-id", p.EntityID)
		el.CreateElement("sign-requests").SetText(boolText(p.SignRequests))
		el.CreateElement("allow-idp-initiated").SetText(boolText(p.AllowIdPInitiated))
		exportText(el, "landing-url", p.LandingURL)
	} else {
		exportText(el, "url", p.URL)
		el.CreateElement("start-tls").SetText(boolText(p.StartTLS))
		exportText(el, "ca", p.CA)
		exportText(el, "bind-dn", p.BindDN)
		if p.BindPassword != "" {
			el.CreateElement("bind-password").CreateAttr("omitted", "true")
		}
		exportText(el, "user-base", p.UserBase)
		exportText(el, "user-filter", p.UserFilter)
		exportText(el, "login-attribute", p.LoginAttribute)
		exportText(el, "group-base", p.GroupBase)
		exportText(el, "group-filter", p.GroupFilter)
		exportText(el, "sync-interval", p.SyncInterval)
	}
	if p.MapName != "" || p.MapEmail != "" || p.MapFullName != "" || p.MapGroups != "" {
		m := el.CreateElement("attribute-mapping")
		exportText(m, "name", p.MapName)
		exportText(m, "email", p.MapEmail)
		exportText(m, "full-name", p.MapFullName)
		exportText(m, "groups", p.MapGroups)
	}
}

// exportRule writes a federation rule in the shape its PUT takes (groups
// and roles as identifier references); a root rule's <account> comes
// first.
func exportRule(el *etree.Element, sr storage.SubtreeRule) {
	r := sr.Rule
	exportList(el, "conditions", "condition", r.Conditions, func(ce *etree.Element, c storage.RuleCondition) {
		ce.CreateElement("type").SetText(c.Type)
		ce.CreateElement("attribute").SetText(c.Attribute)
		ce.CreateElement("pattern").SetText(c.Pattern)
	})
	exportList(el, "groups", "group", r.Groups, exportIdentifier)
	el.CreateElement("name").SetText(sr.Name)
	el.CreateElement("priority").SetText(strconv.Itoa(r.Priority))
	exportList(el, "roles", "role", r.Roles, exportIdentifier)
}

// exportIdentifier writes a reference by identifier attribute.
func exportIdentifier(el *etree.Element, name string) { el.CreateAttr("identifier", name) }

// exportList writes xs, when there are any, as <list><item/>…</list>
// under el, each item's content by write.
func exportList[T any](el *etree.Element, list, item string, xs []T, write func(*etree.Element, T)) {
	if len(xs) == 0 {
		return
	}
	l := el.CreateElement(list)
	for _, x := range xs {
		write(l.CreateElement(item), x)
	}
}

func exportTextList(el *etree.Element, list, item string, values []string) {
	exportList(el, list, item, values, func(e *etree.Element, v string) { e.SetText(v) })
}

func exportText(el *etree.Element, name, value string) {
	if value != "" {
		el.CreateElement(name).SetText(value)
	}
}

func exportRefs(el *etree.Element, item string, names []string) {
	for _, n := range names {
		el.CreateElement(item).CreateElement("name").SetText(n)
	}
}

func exportPerms(el *etree.Element, ps []string) {
	for _, p := range ps {
		el.CreateElement("permission").SetText(p)
	}
}

// systemOnly refuses callers outside the system account with the 404 of
// a missing resource, as the root rules and the backup do.
func (c *call) systemOnly() error {
	if c.p.Account != authz.SystemAccount {
		return problem(http.StatusNotFound, "no resource at %s", c.r.URL.Path)
	}
	return nil
}

// exportProblem maps the export and import refusals to their statuses.
func exportProblem(err error) error {
	switch {
	case errors.Is(err, storage.ErrTooLarge):
		return problem(http.StatusRequestEntityTooLarge, "%v", err)
	}
	return err
}

func getExport(c *call) error {
	if err := c.systemOnly(); err != nil {
		return err
	}
	a, err := c.name("a")
	if err != nil {
		return err
	}
	b, err := ExportXML(c.r.Context(), c.s.Store, a)
	if err != nil {
		return exportProblem(err)
	}
	h := c.w.Header()
	h.Set("Content-Type", "application/xml; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	c.status = http.StatusOK
	c.w.WriteHeader(http.StatusOK)
	if c.r.Method != http.MethodHead {
		_, _ = c.w.Write(b)
	}
	return nil
}
