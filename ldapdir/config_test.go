package ldapdir_test

import (
	"errors"
	"strings"
	"testing"

	"gatehouse/ldapdir"
	"gatehouse/ldapdir/slapdtest"
)

func validConfig() ldapdir.Config {
	return ldapdir.Config{
		URL:          "ldaps://ldap.example.org",
		BindDN:       "cn=svc,dc=example,dc=org",
		BindPassword: "secret",
		UserBase:     "ou=people,dc=example,dc=org",
	}
}

func TestValidate(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	ca := string(slapdtest.NewCA(t).CertPEM)
	cases := []struct {
		name   string
		modify func(*ldapdir.Config)
		want   string // substring of the error
	}{
		{"no URL", func(c *ldapdir.Config) { c.URL = "" }, "ldap url: required"},
		{"http URL", func(c *ldapdir.Config) { c.URL = "http://ldap.example.org" }, `ldap url: scheme "http"`},
		{"ldapi URL", func(c *ldapdir.Config) { c.URL = "ldapi:///var/run/slapd" }, `ldap url: scheme "ldapi"`},
		{"no host", func(c *ldapdir.Config) { c.URL = "ldaps://" }, "ldap url: no host"},
		{"URL with DN path", func(c *ldapdir.Config) { c.URL = "ldaps://h/dc=example,dc=org" }, "ldap url: must be scheme://host[:port] only"},
		{"URL with user", func(c *ldapdir.Config) { c.URL = "ldaps://u:p@h" }, "ldap url: must be scheme://host[:port] only"},
		{"StartTLS with ldaps", func(c *ldapdir.Config) { c.StartTLS = true }, "ldap start-tls: must be false with ldaps://"},
		{"plaintext", func(c *ldapdir.Config) { c.URL = "ldap://h" }, "ldap start-tls: ldap:// without StartTLS"},
		{"CA not PEM", func(c *ldapdir.Config) { c.CA = "not a certificate" }, "ldap ca: no PEM certificate found"},
		{"CA with trailing junk", func(c *ldapdir.Config) { c.CA = ca + "junk" }, "ldap ca: trailing data"},
		{"CA holding a key", func(c *ldapdir.Config) {
			c.CA = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
		}, `ldap ca: PEM block "PRIVATE KEY"`},
		{"CA bad DER", func(c *ldapdir.Config) {
			c.CA = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
		}, "ldap ca: certificate 1"},
		{"bind DN without password", func(c *ldapdir.Config) { c.BindPassword = "" }, "ldap bind-password: required with bind-dn"},
		{"password without bind DN", func(c *ldapdir.Config) { c.BindDN = "" }, "ldap bind-dn: required with bind-password"},
		{"bind DN not a DN", func(c *ldapdir.Config) { c.BindDN = "svc" }, "ldap bind-dn: not a DN"},
		{"no user base", func(c *ldapdir.Config) { c.UserBase = "" }, "ldap user-base: required"},
		{"user base not a DN", func(c *ldapdir.Config) { c.UserBase = "people" }, "ldap user-base: not a DN"},
		{"user filter without parentheses", func(c *ldapdir.Config) { c.UserFilter = "objectClass=person" }, "ldap user-filter:"},
		{"user filter unbalanced", func(c *ldapdir.Config) { c.UserFilter = "(&(objectClass=person)" }, "ldap user-filter:"},
		{"user filter with trailing filter", func(c *ldapdir.Config) { c.UserFilter = "(a=b)(c=d)" }, "ldap user-filter:"},
		{"login attribute with =", func(c *ldapdir.Config) { c.LoginAttribute = "uid=x" }, "ldap login-attribute:"},
		{"login attribute with )", func(c *ldapdir.Config) { c.LoginAttribute = "uid)(x" }, "ldap login-attribute:"},
		{"group base not a DN", func(c *ldapdir.Config) { c.GroupBase = "groups" }, "ldap group-base: not a DN"},
		{"group filter broken", func(c *ldapdir.Config) { c.GroupFilter = "(cn=*" }, "ldap group-filter:"},
		{"mapping email", func(c *ldapdir.Config) { c.Mapping.Email = "e mail" }, "ldap attribute-mapping/email:"},
		{"mapping groups", func(c *ldapdir.Config) { c.Mapping.Groups = "(memberOf)" }, "ldap attribute-mapping/groups:"},
		{"negative timeout", func(c *ldapdir.Config) { c.DialTimeout = -1 }, "ldap dial-timeout:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := validConfig()
			c.modify(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate() = %v, want it to contain %q", err, c.want)
			}
			if _, err := ldapdir.New(cfg); !errors.Is(err, ldapdir.ErrInvalidConfig) {
				t.Fatalf("New() = %v, want ErrInvalidConfig", err)
			}
			if cfg.BindPassword != "" && strings.Contains(err.Error(), cfg.BindPassword) {
				t.Fatalf("error %q contains the bind password", err)
			}
		})
	}

	t.Run("every problem is reported", func(t *testing.T) {
		err := ldapdir.Config{URL: "ftp://x", UserFilter: "bad", BindDN: "x"}.Validate()
		for _, key := range []string{"url", "bind-password", "bind-dn", "user-base", "user-filter"} {
			if err == nil || !strings.Contains(err.Error(), "ldap "+key+":") {
				t.Errorf("Validate() = %v, want a problem with %s", err, key)
			}
		}
	})

	t.Run("accepted variants", func(t *testing.T) {
		for _, modify := range []func(*ldapdir.Config){
			func(c *ldapdir.Config) { c.URL, c.StartTLS = "ldap://h:1389", true },
			func(c *ldapdir.Config) { c.URL, c.AllowInsecure = "ldap://127.0.0.1", true },
			func(c *ldapdir.Config) { c.BindDN, c.BindPassword = "", "" },
			func(c *ldapdir.Config) { c.CA = ca + ca },
			func(c *ldapdir.Config) { c.URL = "ldaps://[::1]:636/" },
			func(c *ldapdir.Config) { c.LoginAttribute, c.Mapping.Name = "sAMAccountName", "sAMAccountName" },
			func(c *ldapdir.Config) {
				c.UserFilter = "(&(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))"
			},
			func(c *ldapdir.Config) {
				c.GroupBase, c.GroupFilter = "ou=groups,dc=example,dc=org", "(objectClass=groupOfNames)"
			},
		} {
			cfg := validConfig()
			modify(&cfg)
			if err := cfg.Validate(); err != nil {
				t.Errorf("%+v: %v", cfg, err)
			}
		}
	})

	t.Run("defaults", func(t *testing.T) {
		c := ldapdir.Config{}.WithDefaults()
		if c.UserFilter != "(objectClass=inetOrgPerson)" || c.LoginAttribute != "uid" ||
			c.Mapping != (ldapdir.Mapping{Name: "uid", Email: "mail", FullName: "cn", Groups: "memberOf"}) {
			t.Fatalf("defaults = %+v", c)
		}
	})
}
