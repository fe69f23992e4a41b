package resources

import (
	"io"
	"unicode/utf8"

	"github.com/beevik/etree"

	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"gatehouse/ldapdir"
	"gatehouse/storage"
)

// Identity providers (SPEC §8, §8a): /accounts/{a}/providers[/{pv}], an
// LDAP directory or a SAML identity provider of the account. The record
// is storage's (storage.Provider); the LDAP client, the SAML service
// provider, the sign-in and the sync use it.
//
// Decisions:
//   - The shapes are SPEC §8a's, in its order. The path variable is
//     {pv} ({p} is a permission's).
//   - type is required at creation and fixed afterwards (400): an LDAP
//     directory and a SAML IdP share nothing but a name and a mapping.
//     A field of the other type is refused (400), so a console sees at
//     once what does not apply.
//   - bind-password is write-only: it is always rendered empty, and a
//     PUT without it (or with it empty, as a console PUTs back what it
//     read) keeps the stored one; <bind-password/> cannot clear it —
//     clearing bind-dn drops it. It is sealed with AES-256-GCM under the
//     server key "provider-secret" (storage.SealProviderSecret), never
//     hashed, because the directory sync and the sign-in must present it.
//   - Checks at write: LDAP url is ldap:// or ldaps:// with a host and no
//     path, query, fragment or user information; start-tls only with
//     ldap://; ca is PEM holding certificates only (a private key is
//     refused, so it cannot be stored by mistake); user-base is required;
//     filters are one parenthesised, balanced expression; attribute names
//     are LDAP attribute descriptions (letters, digits, hyphens, or an
//     OID). SAML takes exactly one of metadata-url (absolute http or
//     https URL) and metadata (an EntityDescriptor or EntitiesDescriptor
//     document, parsed by the same strict XML decoder as request bodies:
//     no DOCTYPE, no entities); landing-url is an absolute http or https
//     URL. Text fields are bounded (1 KiB; ca 64 KiB; metadata 512 KiB).
//   - Defaults (SPEC §8a): user-filter (objectClass=inetOrgPerson),
//     login-attribute uid, mapping name uid / email mail / full-name cn /
//     groups memberOf for LDAP; for SAML sign-requests true,
//     allow-idp-initiated false, and a mapping with empty sources (the
//     NameID names the user unless a name attribute is mapped).
//   - sync-interval (ldap) is how often the directory syncs by itself: a
//     Go duration from 5m to 720h, empty for on request only (POST
//     …/sync). Every instance checks the schedule each minute and the
//     sync's cross-instance lock lets one of them run it (ldapsignin).
//   - The ldap provider shows its directory sync's <sync> status
//     (storage.ProviderSync: idle until a sync runs); it is read-only
//     here, accepted and ignored in bodies.
//   - Who could use this to give themselves more? A provider grants
//     nothing by itself: the users it signs in get what the account's
//     rules grant (and a rule's writer must hold what it grants), and a
//     federated sign-in never links to a local user by name.

// The bounds of an ldap provider's sync-interval.
const (
	MinSyncInterval = 5 * time.Minute
	MaxSyncInterval = 30 * 24 * time.Hour
)

const (
	maxProviderCA       = 64 << 10
	maxProviderMetadata = 512 << 10
)

var providerText = []string{"name", "type", "description", "url", "start-tls", "ca", "bind-dn", "bind-password",
	"user-base", "user-filter", "login-attribute", "group-base", "group-filter", "sync-interval",
	"metadata-url", "metadata", "entity-id", "sign-requests", "allow-idp-initiated", "landing-url"}

var ldapOnly = []string{"url", "start-tls", "ca", "bind-dn", "bind-password", "user-base", "user-filter",
	"login-attribute", "group-base", "group-filter", "sync-interval"}

var samlOnly = []string{"metadata-url", "metadata", "entity-id", "sign-requests", "allow-idp-initiated", "landing-url"}

var mappingFields = []string{"name", "email", "full-name", "groups"}

var providerKind = &itemKind{
	kind: storage.KindProvider, element: "provider", varName: "pv", createPerm: "auth:providers:create",
	schema: Schema{Root: "provider", Text: providerText, Ignored: []string{"sync"},
		Nested: map[string][]string{"attribute-mapping": mappingFields}},
	node:    func(v *nb, a, n string) *Entity { return v.providerNode(a, n) },
	list:    func(v *nb, a string) *Collection { return v.providersNode(a) },
	prepare: prepareProvider,
}

// Nodes.

func (v *nb) providersNode(a string) *Collection {
	prefix := path("accounts", a, "providers") + "/"
	return storedColl(Collection{Element: "providers", Href: path("accounts", a, "providers")}, storedSource{v: v.View,
		coll: storage.Providers(a),
		item: func(n string) Node {
			return &Entity{Element: "provider", Identifier: n, Href: prefix + escapeSegment(n), Fields: v.providerFields(a, n)}
		}, links: providerLinks})
}

func (v *nb) providerNode(a, n string) *Entity {
	return &Entity{Element: "provider", Identifier: n, Href: path("accounts", a, "providers", n), Fields: v.providerFields(a, n)}
}

func (v *nb) providerFields(a, n string) func(f []Field) []Field {
	return func(f []Field) []Field {
		p, _ := v.Provider(a, n)
		f = append(f,
			Field{Name: "name", Text: n},
			Field{Name: "type", Text: p.Type},
			Field{Name: "description", Text: p.Description, Always: true},
		)
		mapping := &Entity{Element: "attribute-mapping", Inline: true, Fields: func(f []Field) []Field {
			return append(f,
				Field{Name: "name", Text: p.MapName, Always: true},
				Field{Name: "email", Text: p.MapEmail, Always: true},
				Field{Name: "full-name", Text: p.MapFullName, Always: true},
				Field{Name: "groups", Text: p.MapGroups, Always: true},
			)
		}}
		if p.Type == storage.ProviderSAML {
			if p.MetadataURL != "" {
				f = append(f, Field{Name: "metadata-url", Text: p.MetadataURL})
			} else {
				f = append(f, Field{Name: "metadata", Text: p.Metadata, Always: true})
			}
			return append(f,
				Field{Name: "entity-id", Text: p.EntityID, Always: true},
				Field{Name: "sign-requests", Text: boolText(p.SignRequests)},
				Field{Name: "allow-idp-initiated", Text: boolText(p.AllowIdPInitiated)},
				Field{Name: "landing-url", Text: p.LandingURL, Always: true},
				Field{Node: mapping},
			)
		}
		return append(f,
			Field{Name: "url", Text: p.URL},
			Field{Name: "start-tls", Text: boolText(p.StartTLS)},
			Field{Name: "ca", Text: p.CA, Always: true},
			Field{Name: "bind-dn", Text: p.BindDN, Always: true},
			Field{Name: "bind-password", Always: true}, // write-only
			Field{Name: "user-base", Text: p.UserBase, Always: true},
			Field{Name: "user-filter", Text: p.UserFilter, Always: true},
			Field{Name: "login-attribute", Text: p.LoginAttribute, Always: true},
			Field{Name: "group-base", Text: p.GroupBase, Always: true},
			Field{Name: "group-filter", Text: p.GroupFilter, Always: true},
			Field{Name: "sync-interval", Text: p.SyncInterval, Always: true},
			Field{Node: mapping},
			Field{Node: v.providerSyncNode(a, n)},
		)
	}
}

func unixOrEmpty(t int64) string {
	if t == 0 {
		return ""
	}
	return time.Unix(t, 0).UTC().Format(time.RFC3339)
}

// providerSyncNode is the directory sync's status.
func (v *nb) providerSyncNode(a, n string) *Entity {
	return &Entity{Element: "sync", Inline: true, Fields: func(f []Field) []Field {
		s := v.ProviderSyncState(a, n)
		num := func(i int64) string { return fmt.Sprint(i) }
		return append(f,
			Field{Name: "state", Text: s.State},
			Field{Name: "progress", Text: num(s.Progress)},
			Field{Name: "total", Text: num(s.Total)},
			Field{Name: "users", Text: num(s.Users)},
			Field{Name: "groups", Text: num(s.Groups)},
			Field{Name: "disabled", Text: num(s.Disabled)},
			Field{Name: "started", Text: unixOrEmpty(s.Started), Always: true},
			Field{Name: "finished", Text: unixOrEmpty(s.Finished), Always: true},
			Field{Name: "last-error", Text: s.Error, Always: true},
		)
	}}
}

// Bodies.

// prepareProvider checks what can be checked without the stored record,
// seals a new bind password (slow work and a server key read before the
// transaction), and returns the update that merges the body into the
// stored record and checks the result.
func prepareProvider(c *call, f Fields, _ bool) (func(string, bool) (string, error), error) {
	a := c.vars.Get("a")
	name := f.Text["name"]
	if name == "" {
		name = c.vars.Get("pv")
	}
	if p := providerFieldSizes(f); p != nil {
		return nil, p
	}
	var sealed string
	if pw := f.Text["bind-password"]; pw != "" {
		key, err := c.s.Store.ServerKey(c.r.Context(), storage.ProviderSecretKeyName)
		if err != nil {
			return nil, err
		}
		if sealed, err = storage.SealProviderSecret(key, a, name, pw); err != nil {
			return nil, err
		}
	}
	bools, err := providerBools(f)
	if err != nil {
		return nil, err
	}
	return func(old string, ok bool) (string, error) {
		var p storage.Provider
		if ok {
			var err error
			if p, err = storage.DecodeProvider(old); err != nil {
				return "", fmt.Errorf("stored provider record: %w", err)
			}
		}
		typ, hasType := f.Text["type"]
		switch {
		case !ok && !hasType:
			return "", problem(http.StatusBadRequest, "field <type> is required: ldap or saml")
		case !ok && typ != storage.ProviderLDAP && typ != storage.ProviderSAML:
			return "", problem(http.StatusBadRequest, "field <type> is %q; expected ldap or saml", typ)
		case ok && hasType && typ != p.Type:
			return "", problem(http.StatusBadRequest, "field <type> is %q but the provider is %s; the type cannot change", typ, p.Type)
		}
		if !ok {
			p = newProvider(typ)
		}
		if err := mergeProvider(&p, f, bools, sealed); err != nil {
			return "", err
		}
		return p.Encode(), nil
	}, nil
}

// providerFieldSizes refuses a provider body with a field over its
// length limit.
func providerFieldSizes(f Fields) *Problem {
	for _, k := range providerText {
		limit := maxText
		switch k {
		case "ca":
			limit = maxProviderCA
		case "metadata":
			limit = maxProviderMetadata
		}
		if len(f.Text[k]) > limit {
			return problem(http.StatusBadRequest, "field <%s> is longer than %d bytes", k, limit)
		}
	}
	for _, k := range mappingFields {
		if len(f.Text["attribute-mapping/"+k]) > maxText {
			return problem(http.StatusBadRequest, "field <%s> of <attribute-mapping> is longer than %d bytes", k, maxText)
		}
	}
	return nil
}

// providerBools reads the provider body's boolean fields that are
// present.
func providerBools(f Fields) (map[string]bool, error) {
	bools := map[string]bool{}
	for _, k := range []string{"start-tls", "sign-requests", "allow-idp-initiated"} {
		b, present, err := parseBool(f, k)
		if err != nil {
			return nil, err
		}
		if present {
			bools[k] = b
		}
	}
	return bools, nil
}

// mergeProvider sets the fields of body f present (bools from
// providerBools; sealed, when not empty, the sealed bind password) on p,
// whose Type is set, and checks the result: what a PUT of a provider does
// to the stored record, and what an import does to an empty one.
func mergeProvider(p *storage.Provider, f Fields, bools map[string]bool, sealed string) error {
	other := samlOnly
	if p.Type == storage.ProviderSAML {
		other = ldapOnly
	}
	for _, k := range other {
		if f.Has(k) {
			return problem(http.StatusBadRequest, "field <%s> does not apply to a %s provider", k, p.Type)
		}
	}
	set := func(dst *string, k string) {
		if v, present := f.Text[k]; present {
			*dst = strings.TrimSpace(v)
		}
	}
	set(&p.Description, "description")
	set(&p.MapName, "attribute-mapping/name")
	set(&p.MapEmail, "attribute-mapping/email")
	set(&p.MapFullName, "attribute-mapping/full-name")
	set(&p.MapGroups, "attribute-mapping/groups")
	if p.Type == storage.ProviderLDAP {
		set(&p.URL, "url")
		set(&p.CA, "ca")
		set(&p.BindDN, "bind-dn")
		set(&p.UserBase, "user-base")
		set(&p.UserFilter, "user-filter")
		set(&p.LoginAttribute, "login-attribute")
		set(&p.GroupBase, "group-base")
		set(&p.GroupFilter, "group-filter")
		set(&p.SyncInterval, "sync-interval")
		if b, present := bools["start-tls"]; present {
			p.StartTLS = b
		}
		if sealed != "" {
			p.BindPassword = sealed
		}
		if p.BindDN == "" {
			p.BindPassword = ""
		}
		return checkLDAPProvider(*p)
	}
	if v, present := f.Text["metadata-url"]; present {
		p.MetadataURL = strings.TrimSpace(v)
		if p.MetadataURL != "" && !f.Has("metadata") {
			p.Metadata = ""
		}
	}
	if v, present := f.Text["metadata"]; present {
		p.Metadata = v
		if v != "" && !f.Has("metadata-url") {
			p.MetadataURL = ""
		}
	}
	set(&p.EntityID, "entity-id")
	set(&p.LandingURL, "landing-url")
	if b, present := bools["sign-requests"]; present {
		p.SignRequests = b
	}
	if b, present := bools["allow-idp-initiated"]; present {
		p.AllowIdPInitiated = b
	}
	return checkSAMLProvider(*p)
}

// newProvider is a provider of type typ with SPEC §8a's defaults.
func newProvider(typ string) storage.Provider {
	if typ == storage.ProviderSAML {
		return storage.Provider{Type: typ, SignRequests: true}
	}
	return storage.Provider{Type: typ, UserFilter: "(objectClass=inetOrgPerson)", LoginAttribute: "uid",
		MapName: "uid", MapEmail: "mail", MapFullName: "cn", MapGroups: "memberOf"}
}

func checkLDAPProvider(p storage.Provider) error {
	u, err := url.Parse(p.URL)
	switch {
	case p.URL == "":
		return problem(http.StatusBadRequest, "field <url> is required: ldap://host[:port] or ldaps://host[:port]")
	case err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Hostname() == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return problem(http.StatusBadRequest, "field <url> %q is not ldap://host[:port] or ldaps://host[:port]", p.URL)
	case p.StartTLS && u.Scheme == "ldaps":
		return problem(http.StatusBadRequest, "field <start-tls> is true but the url is ldaps:// (TLS from the start)")
	case p.UserBase == "":
		return problem(http.StatusBadRequest, "field <user-base> is required: the DN users are searched under")
	}
	if p.CA != "" {
		if err := checkCAPEM(p.CA); err != nil {
			return err
		}
	}
	for _, dn := range [][2]string{{"bind-dn", p.BindDN}, {"user-base", p.UserBase}, {"group-base", p.GroupBase}} {
		if dn[1] != "" && !plausibleDN(dn[1]) {
			return problem(http.StatusBadRequest, "field <%s> %q is not a distinguished name (attr=value,…)", dn[0], dn[1])
		}
	}
	for _, fl := range [][2]string{{"user-filter", p.UserFilter}, {"group-filter", p.GroupFilter}} {
		if fl[1] != "" && !balancedFilter(fl[1]) {
			return problem(http.StatusBadRequest, "field <%s> %q is not one parenthesised LDAP filter", fl[0], fl[1])
		}
	}
	if p.LoginAttribute == "" {
		return problem(http.StatusBadRequest, "field <login-attribute> is required")
	}
	if p.SyncInterval != "" {
		d, err := time.ParseDuration(p.SyncInterval)
		if err != nil || d < MinSyncInterval || d > MaxSyncInterval {
			return problem(http.StatusBadRequest, "field <sync-interval> %q is not a duration between %s and %s (e.g. 1h); leave it empty to sync only on request",
				p.SyncInterval, MinSyncInterval, MaxSyncInterval)
		}
	}
	for _, at := range [][2]string{{"login-attribute", p.LoginAttribute}, {"attribute-mapping/name", p.MapName},
		{"attribute-mapping/email", p.MapEmail}, {"attribute-mapping/full-name", p.MapFullName},
		{"attribute-mapping/groups", p.MapGroups}} {
		if at[1] != "" && !ldapAttribute(at[1]) {
			return problem(http.StatusBadRequest, "field <%s> %q is not an LDAP attribute name", at[0], at[1])
		}
	}
	return nil
}

func checkSAMLProvider(p storage.Provider) error {
	switch {
	case p.MetadataURL == "" && p.Metadata == "":
		return problem(http.StatusBadRequest, "a saml provider needs <metadata-url> or <metadata>")
	case p.MetadataURL != "" && p.Metadata != "":
		return problem(http.StatusBadRequest, "give <metadata-url> or <metadata>, not both")
	}
	if p.MetadataURL != "" && !absoluteHTTP(p.MetadataURL) {
		return problem(http.StatusBadRequest, "field <metadata-url> %q is not an absolute http or https URL", p.MetadataURL)
	}
	if p.LandingURL != "" && !absoluteHTTP(p.LandingURL) {
		return problem(http.StatusBadRequest, "field <landing-url> %q is not an absolute http or https URL", p.LandingURL)
	}
	if p.Metadata != "" {
		if err := checkMetadata(p.Metadata); err != nil {
			return err
		}
	}
	for _, at := range []string{p.MapName, p.MapEmail, p.MapFullName, p.MapGroups} {
		if strings.ContainsAny(at, "\x00\n\r\t") {
			return problem(http.StatusBadRequest, "an <attribute-mapping> field holds control characters")
		}
	}
	return nil
}

// checkMetadata checks that s is one well-formed XML document whose root
// is a SAML EntityDescriptor or EntitiesDescriptor, without DOCTYPE or
// entity declarations (the SAML library parses it in full when it is
// used).
func checkMetadata(s string) error {
	if !utf8.ValidString(s) {
		return problem(http.StatusBadRequest, "field <metadata> is not valid UTF-8")
	}
	if strings.Contains(s, "<!DOCTYPE") || strings.Contains(s, "<!ENTITY") {
		return problem(http.StatusBadRequest, "field <metadata> holds a DOCTYPE or entity declaration; these are not allowed")
	}
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{CharsetReader: func(charset string, _ io.Reader) (io.Reader, error) {
		return nil, fmt.Errorf("encoding %q is not supported; send UTF-8", charset)
	}}
	if err := doc.ReadFromString(s); err != nil {
		return problem(http.StatusBadRequest, "field <metadata> is not well-formed XML: %v", err)
	}
	root := doc.Root()
	if root == nil || (root.Tag != "EntityDescriptor" && root.Tag != "EntitiesDescriptor") {
		tag := ""
		if root != nil {
			tag = root.FullTag()
		}
		return problem(http.StatusBadRequest, "field <metadata> holds <%s>; expected SAML metadata (EntityDescriptor or EntitiesDescriptor)", tag)
	}
	return nil
}

func absoluteHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil
}

// checkCAPEM accepts PEM holding one or more certificates and nothing
// else (ldapdir.ParseCA, which the directory client uses too).
func checkCAPEM(s string) error {
	if _, err := ldapdir.ParseCA(s); err != nil {
		return problem(http.StatusBadRequest, "field <ca> is not PEM-encoded certificates: %v", err)
	}
	return nil
}

// plausibleDN is a cheap shape check of a distinguished name: attr=value
// pairs separated by unescaped commas, no control characters. The LDAP
// client parses it properly when it connects.
func plausibleDN(s string) bool {
	if len(s) > maxText || strings.ContainsAny(s, "\x00\n\r") {
		return false
	}
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++ // an escaped character
		case ',':
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	parts = append(parts, s[start:])
	for _, rdn := range parts {
		k, _, ok := strings.Cut(strings.TrimSpace(rdn), "=")
		if !ok || !ldapAttribute(strings.TrimSpace(k)) {
			return false
		}
	}
	return true
}

// balancedFilter reports whether s is one parenthesised expression with
// balanced parentheses (escaped ones, \28 \29, are ordinary text).
func balancedFilter(s string) bool {
	if len(s) < 3 || s[0] != '(' || s[len(s)-1] != ')' || strings.ContainsAny(s, "\x00\n\r") {
		return false
	}
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 || (depth == 0 && i != len(s)-1) {
				return false
			}
		}
	}
	return depth == 0
}

// ldapAttribute reports whether s is an LDAP attribute description: a
// name (a letter, then letters, digits, hyphens) or a numeric OID.
func ldapAttribute(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	if s[0] >= '0' && s[0] <= '9' {
		dot := true
		for i := 0; i < len(s); i++ {
			switch c := s[i]; {
			case c >= '0' && c <= '9':
				dot = false
			case c == '.' && !dot:
				dot = true
			default:
				return false
			}
		}
		return !dot
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '-')) {
			return false
		}
	}
	return true
}

// Handlers: the generic item handlers (items.go) with providerKind.
var (
	getProviders   = getItems(providerKind)
	postProvider   = postItem(providerKind)
	getProvider    = getItem(providerKind)
	putProvider    = putItem(providerKind)
	deleteProvider = deleteItem(providerKind)
)
