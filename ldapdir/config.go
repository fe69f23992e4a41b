package ldapdir

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Defaults applied by Config when a field is empty.
const (
	DefaultUserFilter     = "(objectClass=inetOrgPerson)"
	DefaultGroupFilter    = "(objectClass=groupOfNames)"
	DefaultLoginAttribute = "uid"
	DefaultNameAttr       = "uid"
	DefaultEmailAttr      = "mail"
	DefaultFullNameAttr   = "cn"
	DefaultGroupsAttr     = "memberOf"
	DefaultDialTimeout    = 10 * time.Second
	DefaultRequestTimeout = 30 * time.Second
)

// Mapping names the directory attributes that fill an Entry's fields.
type Mapping struct {
	Name     string // default uid
	Email    string // default mail
	FullName string // default cn
	Groups   string // default memberOf; read only when GroupBase is empty
}

// Config mirrors the ldap provider document (SPEC §8a). The zero value of an
// optional field means its default.
type Config struct {
	// URL is ldap://host[:port] or ldaps://host[:port]; no path or query.
	URL string
	// StartTLS upgrades an ldap:// connection before anything is sent.
	StartTLS bool
	// CA is PEM; when set, its certificates are the only roots trusted.
	// When empty the system roots are used.
	CA string
	// AllowInsecure permits ldap:// without StartTLS, i.e. passwords in
	// the clear. Off by default; meant for a directory on the loopback or
	// a trusted link only.
	AllowInsecure bool

	// BindDN and BindPassword are the service account that searches. Both
	// empty means searches run anonymously; a DN without a password is
	// refused (it would be an unauthenticated bind).
	BindDN       string
	BindPassword string

	UserBase       string
	UserFilter     string // default (objectClass=inetOrgPerson)
	LoginAttribute string // default uid

	// GroupBase, when set, makes group membership come from a search
	// (&<GroupFilter>(member=<user dn>)) under it, instead of from the
	// Mapping.Groups attribute.
	GroupBase   string
	GroupFilter string // default (objectClass=groupOfNames)

	Mapping Mapping

	DialTimeout    time.Duration // connect + TLS handshake; default 10s
	RequestTimeout time.Duration // each LDAP request; default 30s
}

// WithDefaults returns c with every empty optional field set to its default.
func (c Config) WithDefaults() Config {
	def := func(s *string, v string) {
		if strings.TrimSpace(*s) == "" {
			*s = v
		}
	}
	def(&c.UserFilter, DefaultUserFilter)
	def(&c.GroupFilter, DefaultGroupFilter)
	def(&c.LoginAttribute, DefaultLoginAttribute)
	def(&c.Mapping.Name, DefaultNameAttr)
	def(&c.Mapping.Email, DefaultEmailAttr)
	def(&c.Mapping.FullName, DefaultFullNameAttr)
	def(&c.Mapping.Groups, DefaultGroupsAttr)
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	return c
}

// attrDescription is an LDAP attribute description: a name (or numeric OID)
// with optional ;options (RFC 4512 §2.5).
var attrDescription = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)(;[A-Za-z0-9-]+)*$`)

// Validate reports every problem in c (after defaults), each naming the
// provider document's key, joined into one error.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("ldap %s: %s", key, fmt.Sprintf(format, args...)))
	}

	if _, _, err := c.endpoint(); err != nil {
		bad("url", "%v", err)
	} else {
		u, _ := url.Parse(c.URL)
		switch {
		case u.Scheme == "ldaps" && c.StartTLS:
			bad("start-tls", "must be false with ldaps:// (the connection is already TLS)")
		case u.Scheme == "ldap" && !c.StartTLS && !c.AllowInsecure:
			bad("start-tls", "ldap:// without StartTLS would send passwords in the clear; use ldaps:// or start-tls")
		}
	}
	if c.CA != "" {
		if _, err := ParseCA(c.CA); err != nil {
			bad("ca", "%v", err)
		}
	}
	switch {
	case c.BindDN != "" && c.BindPassword == "":
		bad("bind-password", "required with bind-dn (an empty password is an unauthenticated bind)")
	case c.BindDN == "" && c.BindPassword != "":
		bad("bind-dn", "required with bind-password")
	}
	if c.BindDN != "" {
		if err := checkDN(c.BindDN); err != nil {
			bad("bind-dn", "%v", err)
		}
	}
	if strings.TrimSpace(c.UserBase) == "" {
		bad("user-base", "required")
	} else if err := checkDN(c.UserBase); err != nil {
		bad("user-base", "%v", err)
	}
	if err := checkFilter(c.UserFilter); err != nil {
		bad("user-filter", "%v", err)
	}
	if !attrDescription.MatchString(c.LoginAttribute) {
		bad("login-attribute", "%q is not an attribute name", c.LoginAttribute)
	}
	if c.GroupBase != "" {
		if err := checkDN(c.GroupBase); err != nil {
			bad("group-base", "%v", err)
		}
	}
	if err := checkFilter(c.GroupFilter); err != nil {
		bad("group-filter", "%v", err)
	}
	for _, m := range []struct{ key, v string }{
		{"attribute-mapping/name", c.Mapping.Name},
		{"attribute-mapping/email", c.Mapping.Email},
		{"attribute-mapping/full-name", c.Mapping.FullName},
		{"attribute-mapping/groups", c.Mapping.Groups},
	} {
		if !attrDescription.MatchString(m.v) {
			bad(m.key, "%q is not an attribute name", m.v)
		}
	}
	if c.DialTimeout < 0 {
		bad("dial-timeout", "must not be negative")
	}
	if c.RequestTimeout < 0 {
		bad("request-timeout", "must not be negative")
	}
	return errors.Join(errs...)
}

// endpoint returns the host:port to dial and whether the connection is TLS
// from the first byte (ldaps).
func (c Config) endpoint() (hostport string, ldaps bool, err error) {
	if strings.TrimSpace(c.URL) == "" {
		return "", false, errors.New("required")
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return "", false, fmt.Errorf("not a URL: %v", err)
	}
	var port string
	switch u.Scheme {
	case "ldap":
		port = "389"
	case "ldaps":
		port, ldaps = "636", true
	default:
		return "", false, fmt.Errorf("scheme %q: must be ldap:// or ldaps://", u.Scheme)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", false, errors.New("must be scheme://host[:port] only (no user, path, query or fragment)")
	}
	host := u.Hostname()
	if host == "" {
		return "", false, errors.New("no host")
	}
	if p := u.Port(); p != "" {
		port = p
	}
	return net.JoinHostPort(host, port), ldaps, nil
}

// ParseCA reads PEM text holding one or more certificates and nothing
// else (a private key or trailing text is refused) into a pool.
func ParseCA(pemText string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	rest := []byte(pemText)
	n := 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %q: only CERTIFICATE blocks are allowed", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, errors.New("trailing data that is not PEM")
	}
	return pool, nil
}

func checkDN(dn string) error {
	if strings.TrimSpace(dn) == "" {
		return errors.New("empty DN")
	}
	parsed, err := ldap.ParseDN(dn)
	if err != nil {
		return fmt.Errorf("not a DN: %v", err)
	}
	if len(parsed.RDNs) == 0 {
		return errors.New("empty DN")
	}
	return nil
}

func checkFilter(f string) error {
	if !strings.HasPrefix(f, "(") || !strings.HasSuffix(f, ")") {
		return fmt.Errorf("%q: a filter is parenthesised, like (objectClass=person)", f)
	}
	if _, err := ldap.CompileFilter(f); err != nil {
		return fmt.Errorf("%q: %v", f, err)
	}
	return nil
}

// LoginFilter is the search filter for a sign-in name: the user filter
// AND-ed with an equality on the login attribute whose value is escaped, so
// no login can change the filter's structure. c must have its defaults.
func (c Config) LoginFilter(login string) string {
	return "(&" + c.UserFilter + "(" + c.LoginAttribute + "=" + ldap.EscapeFilter(login) + "))"
}

// memberFilter is the group search for a member's DN.
func (c Config) memberFilter(dn string) string {
	return "(&" + c.GroupFilter + "(member=" + ldap.EscapeFilter(dn) + "))"
}
