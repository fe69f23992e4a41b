package console

import (
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// TestReturnPath: a sign-in returns only to an /auth/v2 page of this
// server, never to another origin.
func TestReturnPath(t *testing.T) {
	for in, want := range map[string]string{
		"":                                Home,
		"/auth/v2/accounts?depth=2":       "/auth/v2/accounts?depth=2",
		"https://evil.example/auth/v2":    Home,
		"//evil.example/auth/v2":          Home,
		"/auth/v2\\@evil.example":         Home,
		"/oauth2/authorize":               Home,
		SignInPath + "?return=/auth/v2":   Home,
		"/auth/v2/accounts/a/users/b%2Fc": "/auth/v2/accounts/a/users/b%2Fc",
	} {
		if got := returnPath(in); got != want {
			t.Errorf("returnPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func doc(t *testing.T, s string) *etree.Document {
	t.Helper()
	d := etree.NewDocument()
	if err := d.ReadFromString(s); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestEditBody: the edit form's body is the document less links, counts
// and the empty password.
func TestEditBody(t *testing.T) {
	d := doc(t, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<user identifier="u" href="/auth/v2/accounts/a/users/u"><account>a</account><enabled>true</enabled>`+
		`<roles count="1" href="/auth/v2/accounts/a/users/u/roles"/><password/><name>u</name></user>`)
	got := editBody(d)
	for _, bad := range []string{"href=", "count=", "<password", "<?xml"} {
		if strings.Contains(got, bad) {
			t.Errorf("edit body holds %s:\n%s", bad, got)
		}
	}
	if !strings.Contains(got, "<enabled>true</enabled>") || !strings.Contains(got, "<name>u</name>") {
		t.Errorf("edit body lost fields:\n%s", got)
	}
}

// TestCreateBody: the create form starts from the collection's shape.
func TestCreateBody(t *testing.T) {
	for _, c := range []struct{ path, xml, want string }{
		{"/auth/v2/accounts/{a}/users", `<users count="0"/>`, "<user>"},
		{"/auth/v2/accounts/{a}/users/{u}/roles", `<roles count="0"/>`, `<role identifier=""/>`},
		{"/auth/v2/accounts/{a}/groups/{g}/users", `<users count="0"/>`, `<user identifier=""/>`},
		{"/auth/v2/accounts", `<accounts count="0"/>`, "<account>"},
		{"/auth/v2/accounts/{a}/rules", `<rules count="0"/>`, "<rule>"},
	} {
		if got := createBody(c.path, doc(t, c.xml).Root()); !strings.HasPrefix(got, c.want) {
			t.Errorf("createBody(%s) = %q, want it to start %q", c.path, got, c.want)
		}
	}
}

// TestConvert: hrefs become links, path-valued attributes links, values
// fields.
func TestConvert(t *testing.T) {
	n := convert(doc(t, `<permission href="/p" granted-by="/auth/v2/accounts/a/roles/r">x</permission>`).Root())
	if n.Href != "/p" || n.Text != "x" || len(n.Attrs) != 1 || !n.Attrs[0].Link {
		t.Errorf("convert: %+v", n)
	}
	n = convert(doc(t, `<user identifier="u" href="/u"><name>u</name><roles count="1" href="/u/roles"/></user>`).Root())
	if n.Label != "u" || len(n.Fields) != 1 || len(n.Items) != 1 || n.Items[0].Href != "/u/roles" {
		t.Errorf("convert: %+v", n)
	}
}
