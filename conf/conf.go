package conf

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// Config is gatehouse's whole configuration. The YAML key of each field is
// listed by Keys; Defaults gives the built-in values.
type Config struct {
	HTTP        HTTP
	Storage     Storage
	API         API
	Auth        Auth
	Admin       Admin
	Permissions Permissions
	Audit       Audit
	OAuth       OAuth
	Log         Log
	Runtime     Runtime
}

// Runtime tunes the Go runtime of the gatehouse process (runtime.*).
type Runtime struct {
	// GCHeadroomMiB keeps the garbage collector's heap goal at least this
	// many MiB above the live heap (runtime.gc-headroom-mib; 0 leaves GOGC
	// alone; see package heapgoal).
	GCHeadroomMiB int
}

// OAuth configures the OAuth 2.0 authorization server (oauth.*).
type OAuth struct {
	// Issuer is the issuer URL (iss of every token, the base of the
	// discovery document's endpoints); empty means "http://" + the address
	// the HTTP server listens on (IssuerFor). Every instance of one
	// installation must use the same.
	Issuer string
	// Lifetimes of access tokens, refresh tokens and authorization codes.
	Lifetimes OAuthLifetimes
	// KeyRotation is the age at which the signing key is replaced by a new
	// one (the old one stays published until its tokens expire); 0 never.
	KeyRotation time.Duration
}

// OAuthLifetimes are token lifetimes (oauth.lifetimes.*).
type OAuthLifetimes struct {
	Access, Refresh, Code time.Duration
}

// IssuerFor is the OAuth issuer of an instance listening on listen (host
// and port): oauth.issuer if set, else "http://" + listen.
func (c Config) IssuerFor(listen string) string {
	if c.OAuth.Issuer != "" {
		return strings.TrimSuffix(c.OAuth.Issuer, "/")
	}
	return "http://" + listen
}

// Audit configures the audit log (audit.*).
type Audit struct {
	// Retention is how long an audit entry is kept (audit.retention); each
	// entry is written with an etcd lease that expires after it.
	Retention time.Duration
}

// HTTP configures the HTTP listener (http.*).
type HTTP struct {
	// Listen is the host:port to listen on (http.listen, flag --listen).
	Listen string
	// TrustedProxies lists the IP addresses or CIDRs of reverse proxies
	// whose forwarding headers are believed (http.trusted-proxies).
	TrustedProxies []string
	// ShutdownTimeout bounds the graceful shutdown (http.shutdown-timeout).
	ShutdownTimeout time.Duration
}

// Storage configures where gatehouse keeps its state (storage.*).
type Storage struct {
	// DataDir holds the embedded etcd's data (storage.data-dir, flag
	// --data-dir).
	DataDir string
	// Prefix is the etcd key prefix; it starts and ends with "/"
	// (storage.prefix).
	Prefix string
	// Timeout is the per-request etcd timeout (storage.timeout).
	Timeout time.Duration
	// Etcd names an external etcd cluster (storage.etcd.*).
	Etcd Etcd
	// Embedded configures the embedded etcd, used when Etcd.Endpoints is
	// empty (storage.embedded.*).
	Embedded EmbeddedEtcd
}

// Etcd configures the connection to an external etcd cluster.
type Etcd struct {
	// Endpoints are http:// or https:// URLs; empty means embedded etcd.
	Endpoints []string
	Username  string
	Password  string
	TLS       TLS
}

// TLS names the PEM files for talking to etcd (storage.etcd.tls.*).
type TLS struct {
	CA   string
	Cert string
	Key  string
}

// EmbeddedEtcd configures the embedded etcd's loopback ports; 0 means pick a
// free port.
type EmbeddedEtcd struct {
	ClientPort int
	PeerPort   int
}

// API configures request limits (api.*).
type API struct {
	MaxDepth        int
	DefaultPageSize int
	MaxPageSize     int
}

// Auth configures authentication (auth.*).
type Auth struct {
	Basic    Basic
	Password PasswordPolicy
	Throttle Throttle
	Passkeys Passkeys
}

// Passkeys configures WebAuthn passkeys (auth.passkeys.*): the relying
// party's ID and name, and the origins ceremonies may come from.
type Passkeys struct {
	RPID    string
	RPName  string
	Origins []string
}

// Basic configures HTTP Basic authentication (auth.basic.*).
type Basic struct {
	Enabled bool
	// CacheTTL is how long a verified credential is cached; 0 disables
	// the cache.
	CacheTTL time.Duration
}

// PasswordPolicy configures password rules (auth.password.*).
type PasswordPolicy struct {
	MinLength int
	MaxLength int
	// History is how many previous password hashes are kept and refused.
	History int
	// MaxAge is when a password expires; 0 never.
	MaxAge time.Duration
}

// Throttle configures sign-in failure throttling (auth.throttle.*): at most
// UserFailures failures per user name in UserWindow, and AddressFailures per
// client address in AddressWindow.
type Throttle struct {
	UserFailures    int
	UserWindow      time.Duration
	AddressFailures int
	AddressWindow   time.Duration
	// UserDisableFailures is the permanent lockout threshold; 0 is off.
	UserDisableFailures int
}

// Admin configures the bootstrap administrator (admin.*).
type Admin struct {
	// Password is the bootstrap admin's password (admin.password,
	// GATEHOUSE_ADMIN_PASSWORD).
	Password string
}

// Permissions configures the permission catalogue (permissions.*).
type Permissions struct {
	// Catalogues are extra catalogue files, one module each, added to the
	// shipped print, filtering and reporting catalogues.
	Catalogues []string
}

// Log configures logging (log.*).
type Log struct {
	// Format is "text" or "json".
	Format string
	// Level is "debug", "info", "warn" or "error".
	Level string
}

// Defaults returns the built-in configuration.
func Defaults() Config {
	return Config{
		HTTP: HTTP{
			Listen:          "127.0.0.1:8080",
			ShutdownTimeout: 10 * time.Second,
		},
		Storage: Storage{
			DataDir: "./gatehouse-data",
			Prefix:  "/gatehouse/",
			Timeout: 5 * time.Second,
		},
		API: API{
			MaxDepth:        5,
			DefaultPageSize: 50,
			MaxPageSize:     1000,
		},
		Auth: Auth{
			Basic:    Basic{Enabled: true, CacheTTL: 5 * time.Minute},
			Password: PasswordPolicy{MinLength: 8, MaxLength: 256, History: 5},
			Passkeys: Passkeys{RPName: "Gatehouse"},
			Throttle: Throttle{
				UserFailures:    10,
				UserWindow:      15 * time.Minute,
				AddressFailures: 50,
				AddressWindow:   time.Minute,
			},
		},
		Audit: Audit{Retention: 2160 * time.Hour},
		OAuth: OAuth{
			Lifetimes:   OAuthLifetimes{Access: 10 * time.Minute, Refresh: 720 * time.Hour, Code: time.Minute},
			KeyRotation: 720 * time.Hour,
		},
		Log:     Log{Format: "text", Level: "info"},
		Runtime: Runtime{GCHeadroomMiB: 64},
	}
}

// Embedded reports whether gatehouse must start its own etcd (no endpoints
// configured).
func (c Config) Embedded() bool { return len(c.Storage.Etcd.Endpoints) == 0 }

// envPrefix starts the name of every environment variable Load reads.
const envPrefix = "GATEHOUSE_"

// Load builds the configuration from defaults, the YAML file named by
// --config (if any), the environment (environ is like os.Environ()) and the
// flags in args (args exclude the program name and subcommand), later
// sources winning, and then validates it. It returns every problem found,
// joined with errors.Join, each naming its key. GATEHOUSE_* variables that
// name no setting are not problems: Load ignores them, and UnknownEnv lists
// them for the caller to log as warnings. A flag parse error (unknown
// flag, missing value, -h which wraps flag.ErrHelp) is returned alone with
// the defaults, since the rest of the command line cannot be trusted.
func Load(args []string, environ []string) (Config, error) {
	tab := table()
	c := Defaults()

	fs := flag.NewFlagSet("gatehouse", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	configPath := fs.String("config", "", "YAML configuration `file` to load")
	flagged := make(map[string]setting)
	for _, s := range tab {
		if s.flag != "" {
			fs.String(s.flag, formatValue(s.field(&c)), s.help)
			flagged[s.flag] = s
		}
	}
	if err := fs.Parse(args); err != nil {
		return c, fmt.Errorf("command line: %w", err)
	}

	var errs []error
	if rest := fs.Args(); len(rest) > 0 {
		errs = append(errs, fmt.Errorf("command line: unexpected argument %q", rest[0]))
	}
	if *configPath != "" {
		errs = append(errs, loadFile(*configPath, &c, tab)...)
	}
	errs = append(errs, loadEnv(environ, &c, tab)...)
	fs.Visit(func(f *flag.Flag) {
		s, ok := flagged[f.Name]
		if !ok {
			return
		}
		if err := setValue(s.field(&c), f.Value.String()); err != nil {
			errs = append(errs, fmt.Errorf("flag --%s (key %q): %w", f.Name, s.name, err))
		}
	})
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

// loadEnv applies the GATEHOUSE_* entries of environ that name a setting,
// in order. The others are skipped here and listed by UnknownEnv.
func loadEnv(environ []string, c *Config, tab []setting) []error {
	byEnv := envTable(tab)
	var errs []error
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, envPrefix) {
			continue
		}
		s, ok := byEnv[name]
		if !ok {
			continue
		}
		if err := setValue(s.field(c), value); err != nil {
			errs = append(errs, fmt.Errorf("environment %s (key %q): %w", name, s.name, err))
		}
	}
	return errs
}

// UnknownEnv returns the names of the GATEHOUSE_* variables in environ
// (like os.Environ()) that name no setting, in environ's order. Load
// ignores them rather than refusing to start, because Kubernetes injects
// GATEHOUSE_PORT, GATEHOUSE_PORT_8080_TCP…, GATEHOUSE_SERVICE_HOST and
// GATEHOUSE_SERVICE_PORT into every pod of a namespace that has a Service
// named gatehouse. The caller logs each name as a warning once its logger
// exists, so that a misspelt setting does not go unnoticed. Only names are
// returned: the value of a misspelt secret must not reach the log.
func UnknownEnv(environ []string) []string {
	byEnv := envTable(table())
	var unknown []string
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, envPrefix) {
			continue
		}
		if _, known := byEnv[name]; !known {
			unknown = append(unknown, name)
		}
	}
	return unknown
}

// envTable indexes tab by environment variable name.
func envTable(tab []setting) map[string]setting {
	byEnv := make(map[string]setting, len(tab))
	for _, s := range tab {
		byEnv[envName(s.name)] = s
	}
	return byEnv
}
