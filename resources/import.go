package resources

import (
	"context"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/beevik/etree"

	"gatehouse/authz"
	"gatehouse/storage"
)

// ImportMaxBodyBytes is the largest export document POST /import takes;
// the single transaction's own limits (storage.ImportMaxOps,
// storage.ImportMaxBytes) apply after it.
const ImportMaxBodyBytes = 8 << 20

// ImportXML writes the export document doc into store as one guarded
// transaction and returns the name of its top account and the revision it
// committed at, for the command line (gatehouse import FILE) and the POST
// route. A name that exists already is storage.ErrNameTaken and nothing is
// written; a malformed document is a 400 *Problem; one above the
// transaction's limits a 413 *Problem.
func ImportXML(ctx context.Context, store *storage.Store, doc []byte) (top string, rev int64, err error) {
	el, p := parseXML(doc, "export")
	if p != nil {
		return "", 0, p
	}
	accounts, p := decodeExport(el)
	if p != nil {
		return "", 0, p
	}
	rev, err = store.Import(ctx, accounts)
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

// decodeExport reads an <export> document strictly: known elements only,
// each field at most once, names and permissions valid. References (a
// group's roles, a user's roles) are checked by storage.Import.
func decodeExport(el *etree.Element) ([]storage.SubtreeAccount, *Problem) {
	if p := onlyAttrs(el, "account", "omitted"); p != nil {
		return nil, p
	}
	if p := noText(el); p != nil {
		return nil, p
	}
	var out []storage.SubtreeAccount
	for _, ae := range el.ChildElements() {
		if ae.Tag != "account" {
			return nil, problem(http.StatusBadRequest, "<export> holds <%s>; only <account> elements are allowed", ae.Tag)
		}
		sa, p := decodeExportAccount(ae)
		if p != nil {
			return nil, p
		}
		out = append(out, sa)
	}
	if len(out) == 0 {
		return nil, problem(http.StatusBadRequest, "<export> holds no <account>")
	}
	if want := el.SelectAttrValue("account", out[0].Name); want != out[0].Name {
		return nil, problem(http.StatusBadRequest, "<export account=%q> but its first account is %q", want, out[0].Name)
	}
	return out, nil
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

// fieldText is the text of field name of m ("" when absent).
func fieldText(m map[string]*etree.Element, name string) (string, *Problem) {
	el := m[name]
	if el == nil {
		return "", nil
	}
	if p := onlyAttrs(el); p != nil {
		return "", p
	}
	return textOf(el)
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

func decodeExportAccount(el *etree.Element) (storage.SubtreeAccount, *Problem) {
	var sa storage.SubtreeAccount
	m, p := exportFields(el, "default-roles", "description", "groups", "name", "parent", "permissions", "roles", "users")
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
	m, p := exportFields(el, "attributes", "created", "email", "enabled", "full-name", "password", "password-expired", "roles", "name")
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
		val, p := fieldText(am, "value")
		if p != nil {
			return p
		}
		u.Attributes = append(u.Attributes, [2]string{n, val})
		return nil
	})
	return u, p
}
