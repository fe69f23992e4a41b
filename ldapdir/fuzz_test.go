package ldapdir_test

import (
	"testing"

	"github.com/go-ldap/ldap/v3"

	"gatehouse/ldapdir"
)

// FuzzLoginFilter: whatever a user types as login, the search filter keeps
// its shape — an AND of the user filter and one equality on the login
// attribute whose value is exactly the login. No input adds a clause, a
// wildcard or a presence test.
func FuzzLoginFilter(f *testing.F) {
	for _, s := range []string{"alice", "*", "*)(uid=*", "alice)(|(uid=*", `\2a`, "al\x00ice", "ü", "\xff", ")(", ""} {
		f.Add(s)
	}
	cfg := ldapdir.Config{UserBase: "dc=example,dc=org"}.WithDefaults()
	f.Fuzz(func(t *testing.T, login string) {
		filter := cfg.LoginFilter(login)
		p, err := ldap.CompileFilter(filter)
		if err != nil {
			t.Fatalf("LoginFilter(%q) = %q does not compile: %v", login, filter, err)
		}
		if p.Tag != ldap.FilterAnd || len(p.Children) != 2 {
			t.Fatalf("LoginFilter(%q) = %q: not an AND of two", login, filter)
		}
		eq := p.Children[1]
		if eq.Tag != ldap.FilterEqualityMatch || len(eq.Children) != 2 {
			t.Fatalf("LoginFilter(%q) = %q: second clause is %s, not an equality", login, filter, ldap.FilterMap[uint64(eq.Tag)])
		}
		if attr := eq.Children[0].Data.String(); attr != "uid" {
			t.Fatalf("LoginFilter(%q): attribute %q", login, attr)
		}
		if v := eq.Children[1].Data.String(); v != login {
			t.Fatalf("LoginFilter(%q): value %q", login, v)
		}
		if got, err := ldap.DecompileFilter(p.Children[0]); err != nil || got != cfg.UserFilter {
			t.Fatalf("LoginFilter(%q): user filter became %q (%v)", login, got, err)
		}
	})
}

// FuzzValidate: Validate never panics on outside input, and a config it
// accepts gives a Directory whose filters compile.
func FuzzValidate(f *testing.F) {
	f.Add("ldaps://ldap.example.org", false, "", "cn=svc,dc=example,dc=org", "ou=people,dc=example,dc=org", "(objectClass=inetOrgPerson)", "uid", "", "")
	f.Add("ldap://h:389", true, "junk", "cn=a\\,b,dc=x", "dc=x", "(&(a=b)(!(c=*)))", "sAMAccountName", "ou=g,dc=x", "(cn=*)")
	f.Add("ldap://[::1]:1/", true, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "", "=", "(", "a;b", "x", ")")
	f.Fuzz(func(t *testing.T, url string, startTLS bool, ca, bindDN, userBase, userFilter, loginAttr, groupBase, groupFilter string) {
		cfg := ldapdir.Config{
			URL: url, StartTLS: startTLS, CA: ca, BindDN: bindDN, UserBase: userBase,
			UserFilter: userFilter, LoginAttribute: loginAttr, GroupBase: groupBase, GroupFilter: groupFilter,
		}
		if bindDN != "" {
			cfg.BindPassword = "pw"
		}
		if cfg.Validate() != nil {
			return
		}
		d, err := ldapdir.New(cfg)
		if err != nil {
			t.Fatalf("Validate accepted but New refused: %v", err)
		}
		c := d.Config()
		if _, err := ldap.CompileFilter(c.LoginFilter("x*)(")); err != nil {
			t.Fatalf("accepted config %+v gives a login filter that does not compile: %v", c, err)
		}
		if _, err := ldap.CompileFilter(c.GroupFilter); err != nil {
			t.Fatalf("accepted group filter %q does not compile: %v", c.GroupFilter, err)
		}
	})
}
