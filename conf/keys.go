package conf

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Key documents one setting: its dotted YAML key, its environment variable,
// its default (as it would be written in the environment; lists
// comma-separated, "" when empty) and a help text that starts with the type.
type Key struct {
	Name, Env, Default, Help string
}

// setting is one row of the key table. field returns a pointer into c: a
// *string, *[]string, *time.Duration, *int or *bool; the type decides how a
// value is parsed and printed.
type setting struct {
	name  string // dotted YAML key
	flag  string // command-line flag name, "" for none
	help  string
	field func(c *Config) any
}

// table is the single list of settings. It is built on each call so that the
// package has no global state.
func table() []setting {
	return []setting{
		{"http.listen", "listen", "host:port the HTTP server listens on",
			func(c *Config) any { return &c.HTTP.Listen }},
		{"http.trusted-proxies", "", "IP addresses or CIDRs of reverse proxies whose forwarding headers are trusted",
			func(c *Config) any { return &c.HTTP.TrustedProxies }},
		{"http.shutdown-timeout", "", "how long a graceful shutdown waits for requests in flight",
			func(c *Config) any { return &c.HTTP.ShutdownTimeout }},

		{"storage.data-dir", "data-dir", "directory of the embedded etcd's data",
			func(c *Config) any { return &c.Storage.DataDir }},
		{"storage.prefix", "", "etcd key prefix for all gatehouse data; starts and ends with /",
			func(c *Config) any { return &c.Storage.Prefix }},
		{"storage.timeout", "", "per-request etcd timeout (> 0)",
			func(c *Config) any { return &c.Storage.Timeout }},
		{"storage.etcd.endpoints", "", "external etcd URLs (http:// or https://); empty starts an embedded etcd",
			func(c *Config) any { return &c.Storage.Etcd.Endpoints }},
		{"storage.etcd.username", "", "etcd user name",
			func(c *Config) any { return &c.Storage.Etcd.Username }},
		{"storage.etcd.password", "", "etcd password (needs storage.etcd.username); secret",
			func(c *Config) any { return &c.Storage.Etcd.Password }},
		{"storage.etcd.tls.ca", "", "PEM file of the CA that signed the etcd server certificates",
			func(c *Config) any { return &c.Storage.Etcd.TLS.CA }},
		{"storage.etcd.tls.cert", "", "PEM client certificate file for etcd (with storage.etcd.tls.key)",
			func(c *Config) any { return &c.Storage.Etcd.TLS.Cert }},
		{"storage.etcd.tls.key", "", "PEM client key file for etcd (with storage.etcd.tls.cert)",
			func(c *Config) any { return &c.Storage.Etcd.TLS.Key }},
		{"storage.embedded.client-port", "", "embedded etcd client port on 127.0.0.1; 0 picks a free port",
			func(c *Config) any { return &c.Storage.Embedded.ClientPort }},
		{"storage.embedded.peer-port", "", "embedded etcd peer port on 127.0.0.1; 0 picks a free port",
			func(c *Config) any { return &c.Storage.Embedded.PeerPort }},

		{"api.max-depth", "", "cap on the depth query parameter; deeper requests are served at the cap (1..20)",
			func(c *Config) any { return &c.API.MaxDepth }},
		{"api.default-page-size", "", "page size of list requests that do not ask for one (1..api.max-page-size)",
			func(c *Config) any { return &c.API.DefaultPageSize }},
		{"api.max-page-size", "", "largest page size a list request may ask for (up to 100000)",
			func(c *Config) any { return &c.API.MaxPageSize }},

		{"auth.basic.enabled", "", "accept HTTP Basic authentication",
			func(c *Config) any { return &c.Auth.Basic.Enabled }},
		{"auth.basic.cache-ttl", "", "how long a verified Basic credential is cached; 0 disables the cache",
			func(c *Config) any { return &c.Auth.Basic.CacheTTL }},
		{"auth.password.min-length", "", "minimum password length in characters (1..1024)",
			func(c *Config) any { return &c.Auth.Password.MinLength }},
		{"auth.password.max-length", "", "maximum password length in characters (64..1024, and at least auth.password.min-length); NIST SP 800-63B asks for at least 64",
			func(c *Config) any { return &c.Auth.Password.MaxLength }},
		{"auth.password.history", "", "how many previous passwords of a user are remembered and refused again (0..24; 0 remembers none)",
			func(c *Config) any { return &c.Auth.Password.History }},
		{"auth.password.max-age", "", "age after which a password counts as expired (password-expired) and must be changed at the next sign-in; 0 never expires one",
			func(c *Config) any { return &c.Auth.Password.MaxAge }},
		{"auth.throttle.user-failures", "", "failed sign-ins allowed per user name within auth.throttle.user-window (>= 1)",
			func(c *Config) any { return &c.Auth.Throttle.UserFailures }},
		{"auth.throttle.user-window", "", "window of auth.throttle.user-failures (> 0)",
			func(c *Config) any { return &c.Auth.Throttle.UserWindow }},
		{"auth.throttle.address-failures", "", "failed sign-ins allowed per client address within auth.throttle.address-window (>= 1)",
			func(c *Config) any { return &c.Auth.Throttle.AddressFailures }},
		{"auth.throttle.address-window", "", "window of auth.throttle.address-failures (> 0)",
			func(c *Config) any { return &c.Auth.Throttle.AddressWindow }},
		{"auth.throttle.user-disable-failures", "", "consecutive failed sign-ins of one user after which the user is disabled (a permanent lockout, audited, lifted by enabling the user; anyone who knows a user name can then disable that user); 0 never disables (0, or more than auth.throttle.user-failures)",
			func(c *Config) any { return &c.Auth.Throttle.UserDisableFailures }},

		{"auth.passkeys.rp-id", "", "WebAuthn relying-party ID of passkeys (a registrable domain, no scheme or port); empty means the host of oauth.issuer",
			func(c *Config) any { return &c.Auth.Passkeys.RPID }},
		{"auth.passkeys.rp-name", "", "relying-party name authenticators show for passkeys",
			func(c *Config) any { return &c.Auth.Passkeys.RPName }},
		{"auth.passkeys.origins", "", "origins (scheme://host[:port]) the browser may run passkey ceremonies from; empty means the origin of oauth.issuer",
			func(c *Config) any { return &c.Auth.Passkeys.Origins }},

		{"admin.password", "", "password of the bootstrap admin; secret",
			func(c *Config) any { return &c.Admin.Password }},

		{"permissions.catalogues", "", "extra permission catalogue files (YAML) for further modules, listed in /auth/v2/permissions",
			func(c *Config) any { return &c.Permissions.Catalogues }},

		{"audit.retention", "", "how long audit entries are kept (each expires by etcd lease); 0 means the default, 90 days",
			func(c *Config) any { return &c.Audit.Retention }},

		{"oauth.issuer", "", "OAuth issuer URL (http:// or https://, no query or fragment), the same on every instance; empty means http:// + http.listen",
			func(c *Config) any { return &c.OAuth.Issuer }},
		{"oauth.lifetimes.access", "", "lifetime of OAuth access tokens (> 0)",
			func(c *Config) any { return &c.OAuth.Lifetimes.Access }},
		{"oauth.lifetimes.refresh", "", "lifetime of OAuth refresh tokens (> 0)",
			func(c *Config) any { return &c.OAuth.Lifetimes.Refresh }},
		{"oauth.lifetimes.code", "", "lifetime of OAuth authorization codes (> 0, at most 10m)",
			func(c *Config) any { return &c.OAuth.Lifetimes.Code }},
		{"oauth.key-rotation", "", "age at which the token signing key is replaced (the old one stays published until its tokens expire); 0 never rotates",
			func(c *Config) any { return &c.OAuth.KeyRotation }},

		{"log.format", "", "log format: text or json",
			func(c *Config) any { return &c.Log.Format }},
		{"log.level", "", "log level: debug, info, warn or error",
			func(c *Config) any { return &c.Log.Level }},

		{"runtime.gc-headroom-mib", "", "keep the garbage collector's heap goal at least this many MiB above the live heap, trading memory for fewer collections (0..65536; 0 leaves GOGC alone; a GOGC environment variable wins)",
			func(c *Config) any { return &c.Runtime.GCHeadroomMiB }},
	}
}

// Keys lists every setting's YAML key, env var name and default, for the
// README and `gatehouse config` docs, in table order.
func Keys() []Key {
	d := Defaults()
	tab := table()
	keys := make([]Key, 0, len(tab))
	for _, s := range tab {
		p := s.field(&d)
		help := typeName(p) + "; " + s.help
		if s.flag != "" {
			help += "; flag --" + s.flag
		}
		keys = append(keys, Key{
			Name:    s.name,
			Env:     envName(s.name),
			Default: formatValue(p),
			Help:    help,
		})
	}
	return keys
}

// envName maps a dotted YAML key to its environment variable:
// storage.etcd.endpoints -> GATEHOUSE_STORAGE_ETCD_ENDPOINTS.
func envName(key string) string {
	return envPrefix + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

// setValue parses raw into the field p points to. Lists are comma-separated,
// with spaces trimmed and empty items dropped.
func setValue(p any, raw string) error {
	switch p := p.(type) {
	case *string:
		*p = raw
	case *[]string:
		*p = splitList(raw)
	case *time.Duration:
		d, err := time.ParseDuration(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("invalid duration %q (want a Go duration such as 5s or 1m30s)", raw)
		}
		*p = d
	case *int:
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("invalid integer %q", raw)
		}
		*p = n
	case *bool:
		b, err := strconv.ParseBool(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("invalid boolean %q (want true or false)", raw)
		}
		*p = b
	default:
		panic(fmt.Sprintf("conf: unsupported field type %T", p))
	}
	return nil
}

func splitList(raw string) []string {
	var out []string
	for item := range strings.SplitSeq(raw, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// formatValue prints the field p points to the way setValue reads it.
func formatValue(p any) string {
	switch p := p.(type) {
	case *string:
		return *p
	case *[]string:
		return strings.Join(*p, ",")
	case *time.Duration:
		return formatDuration(*p)
	case *int:
		return strconv.Itoa(*p)
	case *bool:
		return strconv.FormatBool(*p)
	default:
		panic(fmt.Sprintf("conf: unsupported field type %T", p))
	}
}

// formatDuration is time.Duration.String without trailing zero units:
// 5m rather than 5m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func typeName(p any) string {
	switch p.(type) {
	case *string:
		return "string"
	case *[]string:
		return "list of strings"
	case *time.Duration:
		return "duration"
	case *int:
		return "integer"
	case *bool:
		return "boolean"
	default:
		panic(fmt.Sprintf("conf: unsupported field type %T", p))
	}
}
