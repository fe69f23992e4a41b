package resources

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"

	"gatehouse/authn"
	"gatehouse/authz"
	"gatehouse/storage"
)

// ImportMaxBodyBytes is the largest export document POST /import takes;
// above one transaction's limits (storage.ImportMaxOps,
// storage.ImportMaxBytes) it is written in journaled batches.
const ImportMaxBodyBytes = 8 << 20

// ImportXML writes the export document doc into store as one guarded
// transaction or, above one transaction's limits, in journaled batches
// (storage.ImportResumable, the journal named by the document's SHA-256,
// so importing the same bytes again resumes an interrupted import), and
// returns the name of its top account and the revision it committed at,
// for the command line (gatehouse import FILE) and the POST route. A name
// that exists already is storage.ErrNameTaken and nothing is written; a
// malformed document is a 400 *Problem; one no batching can take a 413
// *Problem.
func ImportXML(ctx context.Context, store *storage.Store, doc []byte) (top string, rev int64, err error) {
	el, p := parseXML(doc, "export")
	if p != nil {
		return "", 0, p
	}
	accounts, secrets, p := decodeExport(el)
	if p != nil {
		return "", 0, p
	}
	if err := sealBindPasswords(ctx, store, accounts, secrets); err != nil {
		return "", 0, err
	}
	sum := sha256.Sum256(doc)
	rev, err = store.ImportResumable(ctx, hex.EncodeToString(sum[:]), accounts)
	if err != nil {
		return "", 0, exportProblem(err)
	}
	return accounts[0].Name, rev, nil
}

func postImport(c *call) error {
	if err := c.systemOnly(); err != nil {
		return err
	}
	ct := c.r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/xml" && mt != "text/xml") {
		return problem(http.StatusUnsupportedMediaType, "Content-Type %q is not supported; send application/xml", ct)
	}
	b, err := io.ReadAll(io.LimitReader(c.r.Body, ImportMaxBodyBytes+1))
	if err != nil {
		return problem(http.StatusBadRequest, "reading the body failed: %v", err)
	}
	if len(b) > ImportMaxBodyBytes {
		return problem(http.StatusRequestEntityTooLarge, "the export document is over the import limit of %d bytes", ImportMaxBodyBytes)
	}
	top, rev, err := ImportXML(c.r.Context(), c.s.Store, b)
	if err != nil {
		return err
	}
	return c.showCreatedAccount(rev, top)
}

// bindSecret is a plain LDAP bind password an import document gives for
// provider Provider of account Account, sealed before the import.
type bindSecret struct{ Account, Provider, Password string }

// sealBindPasswords seals the plain bind passwords of the document under
// this store's provider key into their providers' records.
func sealBindPasswords(ctx context.Context, store *storage.Store, accounts []storage.SubtreeAccount, secrets []bindSecret) error {
	if len(secrets) == 0 {
		return nil
	}
	key, err := store.ServerKey(ctx, storage.ProviderSecretKeyName)
	if err != nil {
		return err
	}
	for _, sec := range secrets {
		sealed, err := storage.SealProviderSecret(key, sec.Account, sec.Provider, sec.Password)
		if err != nil {
			return err
		}
		for i := range accounts {
			if accounts[i].Name != sec.Account {
				continue
			}
			for j := range accounts[i].Providers {
				if accounts[i].Providers[j].Name == sec.Provider {
					accounts[i].Providers[j].Provider.BindPassword = sealed
				}
			}
		}
	}
	return nil
}

// decodeExport reads an <export> document strictly: known elements only,
// each field at most once, names and permissions valid. References (a
// group's roles, a user's roles, a rule's groups and roles) are checked
// by storage.Import. secrets are the plain bind passwords the document
// gives (an operator may fill in <bind-password> before importing).
func decodeExport(el *etree.Element) ([]storage.SubtreeAccount, []bindSecret, *Problem) {
	if p := onlyAttrs(el, "account", "omitted"); p != nil {
		return nil, nil, p
	}
	if p := noText(el); p != nil {
		return nil, nil, p
	}
	var out []storage.SubtreeAccount
	var secrets []bindSecret
	var rootRules *etree.Element
	for _, ae := range el.ChildElements() {
		if ae.Tag == "rules" && rootRules == nil {
			rootRules = ae
			continue
		}
		if ae.Tag != "account" || rootRules != nil {
			return nil, nil, problem(http.StatusBadRequest, "<export> holds <%s>; only <account> elements, then one <rules>, are allowed", ae.Tag)
		}
		sa, sec, p := decodeExportAccount(ae)
		if p != nil {
			return nil, nil, p
		}
		out = append(out, sa)
		secrets = append(secrets, sec...)
	}
	if len(out) == 0 {
		return nil, nil, problem(http.StatusBadRequest, "<export> holds no <account>")
	}
	if want := el.SelectAttrValue("account", out[0].Name); want != out[0].Name {
		return nil, nil, problem(http.StatusBadRequest, "<export account=%q> but its first account is %q", want, out[0].Name)
	}
	p := exportItems(rootRules, "rule", func(re *etree.Element) *Problem {
		b, p := decodeRule(re, true)
		if p != nil {
			return p
		}
		if err := storage.ValidName(b.name); err != nil {
			return problem(http.StatusBadRequest, "invalid root rule name in the export: %v", err)
		}
		for i := range out {
			if out[i].Name == b.account {
				out[i].RootRules = append(out[i].RootRules, storage.SubtreeRule{Name: b.name,
					Rule: storage.Rule{Priority: b.priority, Conditions: b.conditions, Account: b.account}})
				return nil
			}
		}
		return problem(http.StatusBadRequest, "root rule %q lands in account %q, which is not an account of the export", b.name, clip(b.account))
	})
	if p != nil {
		return nil, nil, p
	}
	return out, secrets, nil
}

// exportFields maps the child elements of el by tag, refusing tags not in
// allowed, repeated tags, attributes and stray text.
func exportFields(el *etree.Element, allowed ...string) (map[string]*etree.Element, *Problem) {
	if p := onlyAttrs(el); p != nil {
		return nil, p
	}
	if p := noText(el); p != nil {
		return nil, p
	}
	m := map[string]*etree.Element{}
	for _, ch := range el.ChildElements() {
		if !contains(allowed, ch.Tag) {
			return nil, problem(http.StatusBadRequest, "<%s> is not allowed in <%s> of an export", ch.Tag, el.Tag)
		}
		if m[ch.Tag] != nil {
			return nil, problem(http.StatusBadRequest, "<%s> appears twice in <%s>", ch.Tag, el.Tag)
		}
		m[ch.Tag] = ch
	}
	return m, nil
}

// fieldText is the text of field name of m ("" when absent), at most maxText
// bytes (the free-text limit of the API's own bodies).
func fieldText(m map[string]*etree.Element, name string) (string, *Problem) {
	return fieldTextUpTo(m, name, maxText)
}

// fieldTextUpTo is fieldText for a field whose API allows up to limit
// bytes (as an attribute's value): an import takes no more than a PUT.
func fieldTextUpTo(m map[string]*etree.Element, name string, limit int) (string, *Problem) {
	el := m[name]
	if el == nil {
		return "", nil
	}
	if p := onlyAttrs(el); p != nil {
		return "", p
	}
	s, p := textOf(el)
	if p == nil && len(s) > limit {
		return "", problem(http.StatusBadRequest, "field <%s> of <%s> is longer than %d bytes", name, el.Parent().Tag, limit)
	}
	return s, p
}

// exportName is the required, valid <name> of m.
func exportName(m map[string]*etree.Element, what string) (string, *Problem) {
	n, p := fieldText(m, "name")
	if p != nil {
		return "", p
	}
	if err := storage.ValidName(n); err != nil {
		return "", problem(http.StatusBadRequest, "invalid %s name in the export: %v", what, err)
	}
	return n, nil
}

// exportItems decodes the items (each <item> element) of collection el.
func exportItems(el *etree.Element, item string, each func(*etree.Element) *Problem) *Problem {
	if el == nil {
		return nil
	}
	if p := onlyAttrs(el); p != nil {
		return p
	}
	if p := noText(el); p != nil {
		return p
	}
	for _, ch := range el.ChildElements() {
		if ch.Tag != item {
			return problem(http.StatusBadRequest, "<%s> is not allowed in <%s> of an export", ch.Tag, el.Tag)
		}
		if p := each(ch); p != nil {
			return p
		}
	}
	return nil
}

// exportRefNames decodes a collection of references (<role><name>r</name></role>).
func exportRefNames(el *etree.Element, item string) ([]string, *Problem) {
	var out []string
	p := exportItems(el, item, func(ch *etree.Element) *Problem {
		m, p := exportFields(ch, "name")
		if p != nil {
			return p
		}
		n, p := exportName(m, item)
		if p != nil {
			return p
		}
		out = append(out, n)
		return nil
	})
	return out, p
}

// exportPermissions decodes a <permissions> set.
func exportPermissions(el *etree.Element) ([]string, *Problem) {
	var out []string
	p := exportItems(el, "permission", func(ch *etree.Element) *Problem {
		if p := onlyAttrs(ch); p != nil {
			return p
		}
		s, p := textOf(ch)
		if p != nil {
			return p
		}
		if err := authz.Validate(s); err != nil {
			return problem(http.StatusBadRequest, "invalid permission in the export: %v", err)
		}
		out = append(out, s)
		return nil
	})
	return out, p
}

func decodeExportAccount(el *etree.Element) (storage.SubtreeAccount, []bindSecret, *Problem) {
	sa, p := decodeExportAccountFields(el)
	if p != nil {
		return sa, nil, p
	}
	m, _ := exportFields(el, "default-roles", "description", "groups", "name", "parent", "permissions", "providers", "roles", "rules", "users")
	var secrets []bindSecret
	p = exportItems(m["providers"], "provider", func(pe *etree.Element) *Problem {
		sp, pw, p := decodeExportProvider(pe)
		if p != nil {
			return p
		}
		if pw != "" {
			secrets = append(secrets, bindSecret{Account: sa.Name, Provider: sp.Name, Password: pw})
		}
		sa.Providers = append(sa.Providers, sp)
		return nil
	})
	if p != nil {
		return sa, nil, p
	}
	p = exportItems(m["rules"], "rule", func(re *etree.Element) *Problem {
		b, p := decodeRule(re, false)
		if p != nil {
			return p
		}
		if err := storage.ValidName(b.name); err != nil {
			return problem(http.StatusBadRequest, "invalid rule name in the export: %v", err)
		}
		sa.Rules = append(sa.Rules, storage.SubtreeRule{Name: b.name, Rule: storage.Rule{Priority: b.priority,
			Conditions: b.conditions, Groups: b.groups, Roles: b.roles}})
		return nil
	})
	return sa, secrets, p
}

func decodeExportAccountFields(el *etree.Element) (storage.SubtreeAccount, *Problem) {
	var sa storage.SubtreeAccount
	m, p := exportFields(el, "default-roles", "description", "groups", "name", "parent", "permissions", "providers", "roles", "rules", "users")
	if p != nil {
		return sa, p
	}
	if sa.Name, p = exportName(m, "account"); p != nil {
		return sa, p
	}
	if sa.Account.Description, p = fieldText(m, "description"); p != nil {
		return sa, p
	}
	if sa.Account.Parent, p = fieldText(m, "parent"); p != nil {
		return sa, p
	}
	if sa.Account.Parent != "" {
		if err := storage.ValidName(sa.Account.Parent); err != nil {
			return sa, problem(http.StatusBadRequest, "invalid parent of account %q in the export: %v", sa.Name, err)
		}
	}
	if sa.Ceiling, p = exportPermissions(m["permissions"]); p != nil {
		return sa, p
	}
	if sa.DefaultRoles, p = exportRefNames(m["default-roles"], "role"); p != nil {
		return sa, p
	}
	p = exportItems(m["roles"], "role", func(re *etree.Element) *Problem {
		rm, p := exportFields(re, "description", "name", "permissions")
		if p != nil {
			return p
		}
		var r storage.SubtreeRole
		if r.Name, p = exportName(rm, "role"); p != nil {
			return p
		}
		if r.Role.Description, p = fieldText(rm, "description"); p != nil {
			return p
		}
		if r.Permissions, p = exportPermissions(rm["permissions"]); p != nil {
			return p
		}
		sa.Roles = append(sa.Roles, r)
		return nil
	})
	if p != nil {
		return sa, p
	}
	p = exportItems(m["groups"], "group", func(ge *etree.Element) *Problem {
		gm, p := exportFields(ge, "description", "name", "roles", "users")
		if p != nil {
			return p
		}
		var g storage.SubtreeGroup
		if g.Name, p = exportName(gm, "group"); p != nil {
			return p
		}
		if g.Group.Description, p = fieldText(gm, "description"); p != nil {
			return p
		}
		if g.Roles, p = exportRefNames(gm["roles"], "role"); p != nil {
			return p
		}
		if g.Users, p = exportRefNames(gm["users"], "user"); p != nil {
			return p
		}
		sa.Groups = append(sa.Groups, g)
		return nil
	})
	if p != nil {
		return sa, p
	}
	p = exportItems(m["users"], "user", func(ue *etree.Element) *Problem {
		u, p := decodeExportUser(ue)
		if p != nil {
			return p
		}
		sa.Users = append(sa.Users, u)
		return nil
	})
	return sa, p
}

func decodeExportUser(el *etree.Element) (storage.SubtreeUser, *Problem) {
	var u storage.SubtreeUser
	m, p := exportFields(el, "api-keys", "attributes", "clients", "created", "email", "enabled", "full-name", "password", "password-expired", "roles", "name")
	if p != nil {
		return u, p
	}
	if u.Name, p = exportName(m, "user"); p != nil {
		return u, p
	}
	if u.User.Email, p = fieldText(m, "email"); p != nil {
		return u, p
	}
	if u.User.FullName, p = fieldText(m, "full-name"); p != nil {
		return u, p
	}
	if u.User.PasswordHash, p = fieldText(m, "password"); p != nil {
		return u, p
	}
	if h := u.User.PasswordHash; h != "" && !strings.HasPrefix(h, "$argon2id$") {
		// Never a plain password: only a stored hash is taken.
		return u, problem(http.StatusBadRequest, "the password of user %q in the export is not an argon2id hash", u.Name)
	}
	for _, f := range []struct {
		name string
		dst  *bool
	}{{"enabled", &u.User.Enabled}, {"password-expired", &u.User.PasswordExpired}} {
		s, p := fieldText(m, f.name)
		if p != nil {
			return u, p
		}
		switch strings.TrimSpace(s) {
		case "true":
			*f.dst = true
		case "false", "":
		default:
			return u, problem(http.StatusBadRequest, "<%s> of user %q must be true or false", f.name, u.Name)
		}
	}
	created, p := fieldText(m, "created")
	if p != nil {
		return u, p
	}
	if created != "" {
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(created))
		if err != nil {
			return u, problem(http.StatusBadRequest, "<created> of user %q is not an RFC 3339 time", u.Name)
		}
		u.User.Created = t.Unix()
	}
	if u.User.PasswordHash != "" {
		// The password's change time is not exported: its age counts
		// from the import.
		u.User.PasswordChanged = time.Now().Unix()
	}
	if u.Roles, p = exportRefNames(m["roles"], "role"); p != nil {
		return u, p
	}
	p = exportItems(m["attributes"], "attribute", func(ae *etree.Element) *Problem {
		am, p := exportFields(ae, "name", "value")
		if p != nil {
			return p
		}
		n, p := exportName(am, "attribute")
		if p != nil {
			return p
		}
		val, p := fieldTextUpTo(am, "value", maxAttributeValue)
		if p != nil {
			return p
		}
		u.Attributes = append(u.Attributes, [2]string{n, val})
		return nil
	})
	if p != nil {
		return u, p
	}
	p = exportItems(m["api-keys"], "api-key", func(ke *etree.Element) *Problem {
		k, p := decodeExportAPIKey(ke, u.Name)
		if p != nil {
			return p
		}
		u.APIKeys = append(u.APIKeys, k)
		return nil
	})
	if p != nil {
		return u, p
	}
	p = exportItems(m["clients"], "client", func(ce *etree.Element) *Problem {
		c, p := decodeExportClient(ce, u.Name)
		if p != nil {
			return p
		}
		u.Clients = append(u.Clients, c)
		return nil
	})
	return u, p
}

// sha256Hex reports whether s is a hex SHA-256 (64 lower-case hex digits).
func sha256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

var exportAPIKeySchema = Schema{Root: "api-key", Text: []string{"name", "description", "expires", "prefix", "secret-hash"},
	Lists: map[string]string{"permissions": "permission"}}

// decodeExportAPIKey reads an API key of user u: its fields as stored,
// the secret only as its hash (an expired key stays expired).
func decodeExportAPIKey(el *etree.Element, u string) (storage.APIKey, *Problem) {
	var k storage.APIKey
	f, p := decodeEntity(el, exportAPIKeySchema)
	if p != nil {
		return k, p
	}
	k.Prefix = strings.TrimSpace(f.Text["prefix"])
	if !strings.HasPrefix(k.Prefix, authn.APIKeyPrefix) || storage.ValidName(k.Prefix) != nil {
		return k, problem(http.StatusBadRequest, "API key of user %q: <prefix> %q is not an API key id (%s…)", u, clip(k.Prefix), authn.APIKeyPrefix)
	}
	k.SecretHash = strings.TrimSpace(f.Text["secret-hash"])
	if !sha256Hex(k.SecretHash) {
		// Never a plain secret: only the stored hash is taken.
		return k, problem(http.StatusBadRequest, "API key %s of user %q: <secret-hash> is not a hex SHA-256", k.Prefix, u)
	}
	k.Name, k.Description = f.Text["name"], f.Text["description"]
	if strings.TrimSpace(k.Name) == "" || len(k.Name) > maxKeyName || len(k.Description) > maxKeyDescription {
		return k, problem(http.StatusBadRequest, "API key %s of user %q: <name> is missing or longer than %d bytes, or <description> is longer than %d",
			k.Prefix, u, maxKeyName, maxKeyDescription)
	}
	if e := strings.TrimSpace(f.Text["expires"]); e != "" {
		t, err := time.Parse(time.RFC3339, e)
		if err != nil {
			return k, problem(http.StatusBadRequest, "API key %s of user %q: <expires> is not an RFC 3339 time", k.Prefix, u)
		}
		k.Expires = t.Unix()
	}
	perms := f.Lists["permissions"]
	if len(perms) == 0 || len(perms) > maxKeyPermissions {
		return k, problem(http.StatusBadRequest, "API key %s of user %q holds %d permissions; expected 1 to %d", k.Prefix, u, len(perms), maxKeyPermissions)
	}
	for _, perm := range perms {
		if err := authz.Validate(perm); err != nil {
			return k, problem(http.StatusBadRequest, "API key %s of user %q: invalid permission: %v", k.Prefix, u, err)
		}
	}
	k.Permissions = perms
	return k, nil
}

var exportClientSchema = Schema{Root: "client", Text: append(slices.Clone(clientSchema.Text), "client-secret-hash"),
	Lists: clientSchema.Lists}

// decodeExportClient reads an OAuth client of user u under the rules a
// POST of the client follows, with its secret only as its stored hash.
func decodeExportClient(el *etree.Element, u string) (storage.Client, *Problem) {
	var c storage.Client
	f, p := decodeEntity(el, exportClientSchema)
	if p != nil {
		return c, p
	}
	c.ID = strings.TrimSpace(f.Text["client-id"])
	if err := storage.ValidName(c.ID); err != nil {
		return c, problem(http.StatusBadRequest, "client of user %q: invalid <client-id>: %v", u, err)
	}
	b, err := parseClientBody(f)
	if err == nil {
		err = b.apply(&c, true)
	}
	if err != nil {
		if pr, ok := err.(*Problem); ok {
			return c, problem(pr.Status, "client %s of user %q: %s", c.ID, u, pr.Detail)
		}
		return c, problem(http.StatusBadRequest, "client %s of user %q: %v", c.ID, u, err)
	}
	c.SecretHash = strings.TrimSpace(f.Text["client-secret-hash"])
	switch m := c.TokenEndpointAuthMethod(); {
	case c.SecretHash != "" && !sha256Hex(c.SecretHash):
		// Never a plain secret: only the stored hash is taken.
		return c, problem(http.StatusBadRequest, "client %s of user %q: <client-secret-hash> is not a hex HMAC-SHA-256", c.ID, u)
	case c.Public && c.SecretHash != "":
		return c, problem(http.StatusBadRequest, "client %s of user %q is public: it has no <client-secret-hash>", c.ID, u)
	case (m == storage.AuthClientSecretBasic || m == storage.AuthClientSecretPost) && c.SecretHash == "":
		return c, problem(http.StatusBadRequest, "client %s of user %q authenticates with %s but has no <client-secret-hash>", c.ID, u, m)
	}
	return c, nil
}

var exportProviderSchema = Schema{Root: "provider", Text: providerText,
	Nested: map[string][]string{"attribute-mapping": mappingFields}}

// decodeExportProvider reads an identity provider under the checks a PUT
// of it makes. <bind-password omitted="true"/> (an export's) imports as
// storage.ProviderSecretUnset, to be set again; a plain
// <bind-password>…</bind-password> an operator filled in is returned as
// password, for the import to seal.
func decodeExportProvider(el *etree.Element) (sp storage.SubtreeProvider, password string, _ *Problem) {
	f, p := decodeEntity(el, exportProviderSchema)
	if p != nil {
		return sp, "", p
	}
	if sp.Name, p = exportName(map[string]*etree.Element{"name": el.SelectElement("name")}, "provider"); p != nil {
		return sp, "", p
	}
	pr := storage.Provider{Type: strings.TrimSpace(f.Text["type"])}
	if pr.Type != storage.ProviderLDAP && pr.Type != storage.ProviderSAML {
		return sp, "", problem(http.StatusBadRequest, "provider %q: field <type> is %q; expected ldap or saml", sp.Name, clip(pr.Type))
	}
	unset := false
	if bp := el.SelectElement("bind-password"); bp != nil && pr.Type == storage.ProviderLDAP {
		if p := onlyAttrs(bp, "omitted"); p != nil {
			return sp, "", p
		}
		omitted := bp.SelectAttrValue("omitted", "false")
		switch {
		case omitted != "true" && omitted != "false":
			return sp, "", problem(http.StatusBadRequest, "provider %q: <bind-password omitted=%q>; expected true or false", sp.Name, clip(omitted))
		case omitted == "true" && f.Text["bind-password"] != "":
			return sp, "", problem(http.StatusBadRequest, "provider %q: <bind-password omitted=\"true\"> must be empty", sp.Name)
		case omitted == "false":
			password = f.Text["bind-password"]
		}
		if strings.TrimSpace(f.Text["bind-dn"]) == "" && (omitted == "true" || password != "") {
			return sp, "", problem(http.StatusBadRequest, "provider %q has a <bind-password> but no <bind-dn>", sp.Name)
		}
		unset = omitted == "true"
	}
	// The same fields, limits and checks as a PUT of the provider, on an
	// empty record of its type (no defaults: the export names every field
	// the provider had).
	var err error
	if p := providerFieldSizes(f); p != nil {
		err = p
	} else if bools, berr := providerBools(f); berr != nil {
		err = berr
	} else {
		err = mergeProvider(&pr, f, bools, "")
	}
	if err != nil {
		if pe, ok := err.(*Problem); ok {
			return sp, "", problem(pe.Status, "provider %q: %s", sp.Name, pe.Detail)
		}
		return sp, "", problem(http.StatusBadRequest, "provider %q: %v", sp.Name, err)
	}
	if unset {
		// The sealed password the export left out, to be set again (a
		// password given instead is sealed by the import, under the new
		// store's key).
		pr.BindPassword = storage.ProviderSecretUnset
	}
	sp.Provider = pr
	return sp, password, nil
}
