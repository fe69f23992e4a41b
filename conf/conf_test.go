package conf

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeConfig writes body to a YAML file in a fresh temporary directory and
// returns its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// load runs Load with an optional YAML file (yaml != "" adds --config).
func load(t *testing.T, yaml string, env, args []string) (Config, error) {
	t.Helper()
	if yaml != "" {
		args = append([]string{"--config", writeConfig(t, yaml)}, args...)
	}
	return Load(args, env)
}

// wantErrs checks that err mentions every substring in want (and is nil
// when want is empty).
func wantErrs(t *testing.T, err error, want []string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
}

func TestDefaults(t *testing.T) {
	d := Defaults()
	if err := d.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	c, err := Load(nil, nil)
	if err != nil {
		t.Fatalf("Load with nothing: %v", err)
	}
	if !reflect.DeepEqual(c, d) {
		t.Fatalf("Load with nothing = %+v, want the defaults %+v", c, d)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"http.listen", d.HTTP.Listen, "127.0.0.1:8080"},
		{"http.trusted-proxies", len(d.HTTP.TrustedProxies), 0},
		{"http.shutdown-timeout", d.HTTP.ShutdownTimeout, 10 * time.Second},
		{"storage.data-dir", d.Storage.DataDir, "./gatehouse-data"},
		{"storage.prefix", d.Storage.Prefix, "/gatehouse/"},
		{"storage.timeout", d.Storage.Timeout, 5 * time.Second},
		{"storage.etcd.endpoints", len(d.Storage.Etcd.Endpoints), 0},
		{"storage.embedded.client-port", d.Storage.Embedded.ClientPort, 0},
		{"storage.embedded.peer-port", d.Storage.Embedded.PeerPort, 0},
		{"api.max-depth", d.API.MaxDepth, 5},
		{"api.default-page-size", d.API.DefaultPageSize, 50},
		{"api.max-page-size", d.API.MaxPageSize, 1000},
		{"auth.basic.enabled", d.Auth.Basic.Enabled, true},
		{"auth.basic.cache-ttl", d.Auth.Basic.CacheTTL, 5 * time.Minute},
		{"auth.password.min-length", d.Auth.Password.MinLength, 8},
		{"auth.throttle.user-failures", d.Auth.Throttle.UserFailures, 10},
		{"auth.throttle.user-window", d.Auth.Throttle.UserWindow, 15 * time.Minute},
		{"auth.throttle.address-failures", d.Auth.Throttle.AddressFailures, 50},
		{"auth.throttle.address-window", d.Auth.Throttle.AddressWindow, time.Minute},
		{"admin.password", d.Admin.Password, ""},
		{"log.format", d.Log.Format, "text"},
		{"log.level", d.Log.Level, "info"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !d.Embedded() {
		t.Error("defaults are not embedded")
	}
}

const fullYAML = `
http:
  listen: 0.0.0.0:9000
  trusted-proxies: [10.0.0.0/8, "192.168.1.1", "::1"]
  shutdown-timeout: 30s
storage:
  data-dir: /var/lib/gatehouse
  prefix: /gh/
  timeout: 2s
  etcd:
    endpoints:
      - https://etcd-1:2379
      - https://etcd-2:2379
    username: gate
    password: secret
    tls:
      ca: /etc/ca.pem
      cert: /etc/cert.pem
      key: /etc/key.pem
  embedded:
    client-port: 23790
    peer-port: 23800
api:
  max-depth: 7
  default-page-size: 20
  max-page-size: 200
auth:
  basic:
    enabled: false
    cache-ttl: 0s
  password:
    min-length: 12
    max-length: 128
    history: 3
    max-age: 2160h
  throttle:
    user-failures: 3
    user-window: 1h
    address-failures: 100
    address-window: 30s
    user-disable-failures: 20
  passkeys:
    rp-id: id.example.com
    rp-name: Example
    origins: [https://id.example.com]
admin:
  password: correct-horse-battery
audit:
  retention: 720h
oauth:
  issuer: https://id.example.com
  lifetimes:
    access: 5m
    refresh: 24h
    code: 30s
  key-rotation: 0s
log:
  format: json
  level: debug
runtime:
  gc-headroom-mib: 64
`

func TestSources(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		env   []string
		args  []string
		check func(t *testing.T, c Config)
	}{
		{
			name: "yaml sets every key",
			yaml: fullYAML,
			check: func(t *testing.T, c Config) {
				want := Config{
					HTTP: HTTP{
						Listen:          "0.0.0.0:9000",
						TrustedProxies:  []string{"10.0.0.0/8", "192.168.1.1", "::1"},
						ShutdownTimeout: 30 * time.Second,
					},
					Storage: Storage{
						DataDir: "/var/lib/gatehouse",
						Prefix:  "/gh/",
						Timeout: 2 * time.Second,
						Etcd: Etcd{
							Endpoints: []string{"https://etcd-1:2379", "https://etcd-2:2379"},
							Username:  "gate",
							Password:  "secret",
							TLS:       TLS{CA: "/etc/ca.pem", Cert: "/etc/cert.pem", Key: "/etc/key.pem"},
						},
						Embedded: EmbeddedEtcd{ClientPort: 23790, PeerPort: 23800},
					},
					API: API{MaxDepth: 7, DefaultPageSize: 20, MaxPageSize: 200},
					Auth: Auth{
						Basic:    Basic{Enabled: false, CacheTTL: 0},
						Password: PasswordPolicy{MinLength: 12, MaxLength: 128, History: 3, MaxAge: 2160 * time.Hour},
						Throttle: Throttle{UserFailures: 3, UserWindow: time.Hour, AddressFailures: 100, AddressWindow: 30 * time.Second, UserDisableFailures: 20},
						Passkeys: Passkeys{RPID: "id.example.com", RPName: "Example", Origins: []string{"https://id.example.com"}},
					},
					Admin: Admin{Password: "correct-horse-battery"},
					Audit: Audit{Retention: 720 * time.Hour},
					OAuth: OAuth{Issuer: "https://id.example.com",
						Lifetimes: OAuthLifetimes{Access: 5 * time.Minute, Refresh: 24 * time.Hour, Code: 30 * time.Second}},
					Log:     Log{Format: "json", Level: "debug"},
					Runtime: Runtime{GCHeadroomMiB: 64},
				}
				if !reflect.DeepEqual(c, want) {
					t.Errorf("got  %+v\nwant %+v", c, want)
				}
			},
		},
		{
			name: "yaml keeps unset keys at their defaults",
			yaml: "storage:\n  timeout: 9s\n",
			check: func(t *testing.T, c Config) {
				want := Defaults()
				want.Storage.Timeout = 9 * time.Second
				if !reflect.DeepEqual(c, want) {
					t.Errorf("got  %+v\nwant %+v", c, want)
				}
			},
		},
		{
			name: "yaml null leaves the default",
			yaml: "log:\n  level: ~\nhttp:\n",
			check: func(t *testing.T, c Config) {
				if c.Log.Level != "info" {
					t.Errorf("log.level = %q, want info", c.Log.Level)
				}
			},
		},
		{
			name: "yaml empty file",
			yaml: "# nothing here\n",
			check: func(t *testing.T, c Config) {
				if !reflect.DeepEqual(c, Defaults()) {
					t.Errorf("got %+v, want defaults", c)
				}
			},
		},
		{
			name: "yaml anchors and aliases",
			yaml: "http:\n  shutdown-timeout: &t 20s\nstorage:\n  timeout: *t\n",
			check: func(t *testing.T, c Config) {
				if c.Storage.Timeout != 20*time.Second {
					t.Errorf("storage.timeout = %v, want 20s", c.Storage.Timeout)
				}
			},
		},
		{
			name: "env overrides yaml",
			yaml: "storage:\n  timeout: 2s\nlog:\n  level: debug\n",
			env:  []string{"GATEHOUSE_STORAGE_TIMEOUT=7s", "PATH=/bin"},
			check: func(t *testing.T, c Config) {
				if c.Storage.Timeout != 7*time.Second {
					t.Errorf("storage.timeout = %v, want 7s from env", c.Storage.Timeout)
				}
				if c.Log.Level != "debug" {
					t.Errorf("log.level = %q, want debug from yaml", c.Log.Level)
				}
			},
		},
		{
			name: "env dash becomes underscore",
			env: []string{
				"GATEHOUSE_AUTH_THROTTLE_USER_FAILURES=4",
				"GATEHOUSE_AUTH_BASIC_ENABLED=false",
				"GATEHOUSE_AUTH_BASIC_CACHE_TTL=0",
				"GATEHOUSE_ADMIN_PASSWORD=from-the-environment",
				"GATEHOUSE_STORAGE_EMBEDDED_CLIENT_PORT=2379",
			},
			check: func(t *testing.T, c Config) {
				if c.Auth.Throttle.UserFailures != 4 {
					t.Errorf("auth.throttle.user-failures = %d, want 4", c.Auth.Throttle.UserFailures)
				}
				if c.Auth.Basic.Enabled {
					t.Error("auth.basic.enabled = true, want false")
				}
				if c.Auth.Basic.CacheTTL != 0 {
					t.Errorf("auth.basic.cache-ttl = %v, want 0", c.Auth.Basic.CacheTTL)
				}
				if c.Admin.Password != "from-the-environment" {
					t.Errorf("admin.password = %q", c.Admin.Password)
				}
				if c.Storage.Embedded.ClientPort != 2379 {
					t.Errorf("storage.embedded.client-port = %d, want 2379", c.Storage.Embedded.ClientPort)
				}
			},
		},
		{
			name: "env lists are comma-separated, trimmed, empties dropped",
			yaml: "storage:\n  etcd:\n    endpoints: [http://from-yaml:2379]\n",
			env: []string{
				"GATEHOUSE_STORAGE_ETCD_ENDPOINTS= http://a:2379 , ,https://b:2379,",
				"GATEHOUSE_HTTP_TRUSTED_PROXIES=10.0.0.1",
			},
			check: func(t *testing.T, c Config) {
				if want := []string{"http://a:2379", "https://b:2379"}; !slices.Equal(c.Storage.Etcd.Endpoints, want) {
					t.Errorf("storage.etcd.endpoints = %q, want %q", c.Storage.Etcd.Endpoints, want)
				}
				if want := []string{"10.0.0.1"}; !slices.Equal(c.HTTP.TrustedProxies, want) {
					t.Errorf("http.trusted-proxies = %q, want %q", c.HTTP.TrustedProxies, want)
				}
			},
		},
		{
			name: "empty env list clears the yaml list",
			yaml: "storage:\n  etcd:\n    endpoints: [http://from-yaml:2379]\n",
			env:  []string{"GATEHOUSE_STORAGE_ETCD_ENDPOINTS="},
			check: func(t *testing.T, c Config) {
				if !c.Embedded() {
					t.Errorf("endpoints = %q, want none", c.Storage.Etcd.Endpoints)
				}
			},
		},
		{
			name: "flags override env and yaml",
			yaml: "http:\n  listen: 127.0.0.1:1111\nstorage:\n  data-dir: /yaml\n",
			env:  []string{"GATEHOUSE_HTTP_LISTEN=127.0.0.1:2222", "GATEHOUSE_STORAGE_DATA_DIR=/env"},
			args: []string{"--listen", "127.0.0.1:3333", "-data-dir=/flag"},
			check: func(t *testing.T, c Config) {
				if c.HTTP.Listen != "127.0.0.1:3333" {
					t.Errorf("http.listen = %q, want the flag's", c.HTTP.Listen)
				}
				if c.Storage.DataDir != "/flag" {
					t.Errorf("storage.data-dir = %q, want the flag's", c.Storage.DataDir)
				}
			},
		},
		{
			name: "unset flags do not override env",
			env:  []string{"GATEHOUSE_HTTP_LISTEN=127.0.0.1:2222"},
			args: []string{"--data-dir", "/flag"},
			check: func(t *testing.T, c Config) {
				if c.HTTP.Listen != "127.0.0.1:2222" {
					t.Errorf("http.listen = %q, want the env's", c.HTTP.Listen)
				}
			},
		},
		{
			name: "later env entry wins",
			env:  []string{"GATEHOUSE_LOG_LEVEL=warn", "GATEHOUSE_LOG_LEVEL=error"},
			check: func(t *testing.T, c Config) {
				if c.Log.Level != "error" {
					t.Errorf("log.level = %q, want error", c.Log.Level)
				}
			},
		},
		{
			name: "non-gatehouse and malformed env entries are ignored",
			env:  []string{"HOME=/root", "GATEHOUSE", "NOT_GATEHOUSE_X=1", "=weird"},
			check: func(t *testing.T, c Config) {
				if !reflect.DeepEqual(c, Defaults()) {
					t.Errorf("got %+v, want defaults", c)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, tt.yaml, tt.env, tt.args)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  []string
		args []string
		want []string // substrings that must all appear
	}{
		{
			name: "unknown yaml key names the dotted key",
			yaml: "storage:\n  etcd:\n    endpoint: [http://x:2379]\n",
			want: []string{`gatehouse.yaml: unknown key "storage.etcd.endpoint"`, "line 3"},
		},
		{
			name: "unknown top-level section",
			yaml: "htp:\n  listen: x\n",
			want: []string{`unknown key "htp"`},
		},
		{
			name: "dotted yaml key is not a shorthand",
			yaml: "storage.timeout: 1s\n",
			want: []string{`unknown key "storage.timeout"`},
		},
		{
			name: "all unknown yaml keys are reported",
			yaml: "http:\n  listn: x\n  shutdown: 1s\nlog:\n  colour: red\n",
			want: []string{`"http.listn"`, `"http.shutdown"`, `"log.colour"`},
		},
		{
			name: "bad yaml duration",
			yaml: "storage:\n  timeout: abc\n",
			want: []string{`key "storage.timeout"`, `invalid duration "abc"`},
		},
		{
			name: "duration without unit",
			yaml: "http:\n  shutdown-timeout: 5\n",
			want: []string{`key "http.shutdown-timeout"`, `invalid duration "5"`},
		},
		{
			name: "bad yaml integer and boolean",
			yaml: "api:\n  max-depth: deep\nauth:\n  basic:\n    enabled: maybe\n",
			want: []string{`key "api.max-depth": invalid integer "deep"`, `key "auth.basic.enabled": invalid boolean "maybe"`},
		},
		{
			name: "yaml list given as a scalar",
			yaml: "storage:\n  etcd:\n    endpoints: http://x:2379\n",
			want: []string{`key "storage.etcd.endpoints": want a list`},
		},
		{
			name: "yaml nested list item",
			yaml: "http:\n  trusted-proxies:\n    - [10.0.0.1]\n",
			want: []string{`key "http.trusted-proxies": list items must be plain values`},
		},
		{
			name: "yaml mapping for a scalar key",
			yaml: "http:\n  listen:\n    host: x\n",
			want: []string{`key "http.listen": want a single string, got a mapping`},
		},
		{
			name: "yaml section given as a scalar",
			yaml: "storage: /data\n",
			want: []string{`key "storage" must be a mapping`},
		},
		{
			name: "yaml top level not a mapping",
			yaml: "- a\n- b\n",
			want: []string{"gatehouse.yaml", "top level must be a mapping"},
		},
		{
			name: "yaml duplicate key",
			yaml: "log:\n  level: info\n  level: debug\n",
			want: []string{`"log.level"`},
		},
		{
			name: "yaml syntax error",
			yaml: "http:\n  listen: [unclosed\n",
			want: []string{"gatehouse.yaml", "invalid YAML"},
		},
		{
			name: "yaml multiple documents",
			yaml: "log:\n  level: info\n---\nlog:\n  level: debug\n",
			want: []string{"more than one document"},
		},
		{
			name: "missing config file",
			args: []string{"--config", filepath.Join(t.TempDir(), "nope.yaml")},
			want: []string{"nope.yaml", "no such file"},
		},
		{
			name: "bad env value names the variable and the key",
			env:  []string{"GATEHOUSE_STORAGE_TIMEOUT=abc"},
			want: []string{"GATEHOUSE_STORAGE_TIMEOUT", `"storage.timeout"`, `invalid duration "abc"`},
		},
		{
			name: "empty env integer is an error",
			env:  []string{"GATEHOUSE_API_MAX_DEPTH="},
			want: []string{"GATEHOUSE_API_MAX_DEPTH", `"api.max-depth"`, "invalid integer"},
		},
		{
			name: "invalid flag value is validated",
			args: []string{"--listen", "nonsense"},
			want: []string{`http.listen: "nonsense" is not host:port`},
		},
		{
			name: "unexpected positional argument",
			args: []string{"--listen", ":80", "extra"},
			want: []string{`unexpected argument "extra"`},
		},
		{
			name: "every problem at once",
			yaml: "storage:\n  timeout: abc\n  etcd:\n    endpoints: [ftp://x]\n    password: p\nbogus: 1\nlog:\n  format: xml\n",
			env:  []string{"GATEHOUSE_NOPE=1", "GATEHOUSE_API_MAX_PAGE_SIZE=x", "GATEHOUSE_API_DEFAULT_PAGE_SIZE=2000"},
			args: []string{"--listen", "bad"},
			want: []string{
				`key "storage.timeout"`,
				`unknown key "bogus"`,
				"GATEHOUSE_API_MAX_PAGE_SIZE",
				"storage.etcd.endpoints:",
				"storage.etcd.password:",
				"log.format:",
				"api.default-page-size:",
				"http.listen:",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.yaml, tt.env, tt.args)
			wantErrs(t, err, tt.want)
		})
	}
}

// kubernetesServiceEnv is what Kubernetes injects into every pod of a
// namespace with a Service named gatehouse (one TCP port 8080, named http).
var kubernetesServiceEnv = []string{
	"GATEHOUSE_PORT=tcp://10.96.14.7:8080",
	"GATEHOUSE_PORT_8080_TCP=tcp://10.96.14.7:8080",
	"GATEHOUSE_PORT_8080_TCP_PROTO=tcp",
	"GATEHOUSE_PORT_8080_TCP_PORT=8080",
	"GATEHOUSE_PORT_8080_TCP_ADDR=10.96.14.7",
	"GATEHOUSE_SERVICE_HOST=10.96.14.7",
	"GATEHOUSE_SERVICE_PORT=8080",
	"GATEHOUSE_SERVICE_PORT_HTTP=8080",
}

// kubernetesServiceNames are the variable names of kubernetesServiceEnv.
var kubernetesServiceNames = []string{
	"GATEHOUSE_PORT", "GATEHOUSE_PORT_8080_TCP", "GATEHOUSE_PORT_8080_TCP_PROTO",
	"GATEHOUSE_PORT_8080_TCP_PORT", "GATEHOUSE_PORT_8080_TCP_ADDR",
	"GATEHOUSE_SERVICE_HOST", "GATEHOUSE_SERVICE_PORT", "GATEHOUSE_SERVICE_PORT_HTTP",
}

// An unknown GATEHOUSE_* variable is a warning (UnknownEnv) and is
// ignored; invalid values and unknown YAML keys still stop start-up.
func TestUnknownEnv(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		env      []string
		warnings []string                     // UnknownEnv's answer
		errs     []string                     // substrings of Load's error; none: no error
		check    func(t *testing.T, c Config) // when Load succeeds
	}{
		{
			name:     "kubernetes service variables are warnings",
			env:      kubernetesServiceEnv,
			warnings: kubernetesServiceNames,
			check: func(t *testing.T, c Config) {
				if !reflect.DeepEqual(c, Defaults()) {
					t.Errorf("got %+v, want the defaults", c)
				}
			},
		},
		{
			name:     "known variables still apply beside them",
			env:      append([]string{"GATEHOUSE_HTTP_LISTEN=0.0.0.0:8080"}, kubernetesServiceEnv...),
			warnings: kubernetesServiceNames,
			check: func(t *testing.T, c Config) {
				if c.HTTP.Listen != "0.0.0.0:8080" {
					t.Errorf("http.listen = %q, want 0.0.0.0:8080 from the environment", c.HTTP.Listen)
				}
			},
		},
		{
			name:     "a misspelt setting is a warning naming it",
			env:      []string{"GATEHOUSE_STORAGE_ETCD_ENDPOINT=http://x:2379"},
			warnings: []string{"GATEHOUSE_STORAGE_ETCD_ENDPOINT"},
			check: func(t *testing.T, c Config) {
				if !c.Embedded() {
					t.Errorf("endpoints = %q, want none (the misspelt variable is ignored)", c.Storage.Etcd.Endpoints)
				}
			},
		},
		{
			name:     "a known variable with an invalid value is still an error",
			env:      append([]string{"GATEHOUSE_STORAGE_TIMEOUT=abc"}, kubernetesServiceEnv...),
			warnings: kubernetesServiceNames,
			errs:     []string{"GATEHOUSE_STORAGE_TIMEOUT", `"storage.timeout"`, `invalid duration "abc"`},
		},
		{
			name:     "a known variable failing validation is still an error",
			env:      append(slices.Clone(kubernetesServiceEnv), "GATEHOUSE_STORAGE_TIMEOUT=-5s"),
			warnings: kubernetesServiceNames,
			errs:     []string{"storage.timeout"},
		},
		{
			name:     "a yaml typo is still an error",
			yaml:     "storage:\n  etcd:\n    endpoint: [http://x:2379]\n",
			env:      kubernetesServiceEnv,
			warnings: kubernetesServiceNames,
			errs:     []string{`unknown key "storage.etcd.endpoint"`},
		},
		{
			name: "other variables and malformed entries are not warnings",
			env:  []string{"HOME=/root", "KUBERNETES_SERVICE_HOST=10.96.0.1", "gatehouse_port=1", "GATEHOUSE", "=GATEHOUSE_X"},
			check: func(t *testing.T, c Config) {
				if !reflect.DeepEqual(c, Defaults()) {
					t.Errorf("got %+v, want the defaults", c)
				}
			},
		},
		{
			name:     "the bare prefix is a warning",
			env:      []string{"GATEHOUSE_=1"},
			warnings: []string{"GATEHOUSE_"},
			check:    func(t *testing.T, c Config) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UnknownEnv(tt.env); !slices.Equal(got, tt.warnings) {
				t.Errorf("UnknownEnv = %q, want %q", got, tt.warnings)
			}
			c, err := load(t, tt.yaml, tt.env, nil)
			wantErrs(t, err, tt.errs)
			if err != nil {
				// The unknown variables are not among the problems.
				for _, w := range tt.warnings {
					if regexp.MustCompile(`\b` + w + `\b`).MatchString(err.Error()) {
						t.Errorf("the error mentions the ignored variable %s:\n%v", w, err)
					}
				}
				return
			}
			tt.check(t, c)
		})
	}
}

// UnknownEnv never returns a value: a misspelt secret must not be logged.
func TestUnknownEnvOmitsValues(t *testing.T) {
	got := UnknownEnv([]string{"GATEHOUSE_ADMIN_PASSWROD=hunter2-is-secret", "GATEHOUSE_PORT=tcp://10.96.14.7:8080"})
	if want := []string{"GATEHOUSE_ADMIN_PASSWROD", "GATEHOUSE_PORT"}; !slices.Equal(got, want) {
		t.Errorf("UnknownEnv = %q, want %q", got, want)
	}
	for _, g := range got {
		if strings.Contains(g, "hunter2") || strings.Contains(g, "=") {
			t.Errorf("UnknownEnv returned %q, which carries a value", g)
		}
	}
}

func TestLoadJoinsErrors(t *testing.T) {
	_, err := Load(nil, []string{"GATEHOUSE_STORAGE_TIMEOUT=abc", "GATEHOUSE_X=1", "GATEHOUSE_API_MAX_DEPTH=deep", "GATEHOUSE_LOG_LEVEL=loud"})
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %v (%T) is not a joined error", err, err)
	}
	// Two environment errors plus the joined validation error; the unknown
	// GATEHOUSE_X is no error.
	if n := len(j.Unwrap()); n != 3 {
		t.Errorf("got %d top-level errors, want 3: %v", n, err)
	}
	if !strings.Contains(err.Error(), "log.level:") {
		t.Errorf("validation error missing: %v", err)
	}
	if strings.Contains(err.Error(), "GATEHOUSE_X") {
		t.Errorf("the unknown GATEHOUSE_X is reported as an error: %v", err)
	}
}

func TestFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		is   error
		want string
	}{
		{"unknown flag", []string{"--bogus"}, nil, "flag provided but not defined: -bogus"},
		{"missing value", []string{"--listen"}, nil, "flag needs an argument: -listen"},
		{"help", []string{"-h"}, flag.ErrHelp, "help requested"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.args, nil)
			wantErrs(t, err, []string{"command line", tt.want})
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   []string // empty: valid
	}{
		{"defaults", func(c *Config) {}, nil},
		{"listen without port", func(c *Config) { c.HTTP.Listen = "localhost" }, []string{"http.listen:"}},
		{"listen bad port", func(c *Config) { c.HTTP.Listen = ":99999" }, []string{"http.listen:", "invalid port"}},
		{"listen all interfaces", func(c *Config) { c.HTTP.Listen = ":8080" }, nil},
		{"oauth issuer https", func(c *Config) { c.OAuth.Issuer = "https://id.example.com/gh" }, nil},
		{"oauth issuer not a URL", func(c *Config) { c.OAuth.Issuer = "id.example.com" }, []string{"oauth.issuer:"}},
		{"oauth issuer with query", func(c *Config) { c.OAuth.Issuer = "https://id.example.com/?x=1" }, []string{"oauth.issuer:"}},
		{"oauth access lifetime zero", func(c *Config) { c.OAuth.Lifetimes.Access = 0 }, []string{"oauth.lifetimes.access:"}},
		{"oauth code lifetime long", func(c *Config) { c.OAuth.Lifetimes.Code = time.Hour }, []string{"oauth.lifetimes.code:"}},
		{"oauth key rotation negative", func(c *Config) { c.OAuth.KeyRotation = -time.Hour }, []string{"oauth.key-rotation:"}},
		{"oauth key rotation never", func(c *Config) { c.OAuth.KeyRotation = 0 }, nil},
		{"good proxies", func(c *Config) { c.HTTP.TrustedProxies = []string{"10.0.0.0/8", "fd00::/8", "192.0.2.1", "::1"} }, nil},
		{"bad CIDR", func(c *Config) { c.HTTP.TrustedProxies = []string{"10.0.0.0/8", "10.0.0.0/33"} }, []string{"http.trusted-proxies:", "item 2", "10.0.0.0/33"}},
		{"proxy host name", func(c *Config) { c.HTTP.TrustedProxies = []string{"proxy.local"} }, []string{"http.trusted-proxies:", "proxy.local"}},
		{"negative shutdown timeout", func(c *Config) { c.HTTP.ShutdownTimeout = -time.Second }, []string{"http.shutdown-timeout:", "negative"}},
		{"zero shutdown timeout", func(c *Config) { c.HTTP.ShutdownTimeout = 0 }, nil},
		{"empty data dir when embedded", func(c *Config) { c.Storage.DataDir = "" }, []string{"storage.data-dir:"}},
		{"empty data dir with external etcd", func(c *Config) {
			c.Storage.DataDir = ""
			c.Storage.Etcd.Endpoints = []string{"http://etcd:2379"}
		}, nil},
		{"prefix without leading slash", func(c *Config) { c.Storage.Prefix = "gatehouse/" }, []string{"storage.prefix:"}},
		{"prefix without trailing slash", func(c *Config) { c.Storage.Prefix = "/gatehouse" }, []string{"storage.prefix:"}},
		{"empty prefix", func(c *Config) { c.Storage.Prefix = "" }, []string{"storage.prefix:"}},
		{"zero storage timeout", func(c *Config) { c.Storage.Timeout = 0 }, []string{"storage.timeout:", "greater than 0"}},
		{"negative storage timeout", func(c *Config) { c.Storage.Timeout = -5 * time.Second }, []string{"storage.timeout:"}},
		{"bad URL scheme", func(c *Config) { c.Storage.Etcd.Endpoints = []string{"https://ok:2379", "etcd:2379"} }, []string{"storage.etcd.endpoints:", "item 2", "http or https"}},
		{"grpc scheme", func(c *Config) { c.Storage.Etcd.Endpoints = []string{"grpc://etcd:2379"} }, []string{"storage.etcd.endpoints:"}},
		{"URL without host", func(c *Config) { c.Storage.Etcd.Endpoints = []string{"http://"} }, []string{"storage.etcd.endpoints:", "no host"}},
		{"unparsable URL", func(c *Config) { c.Storage.Etcd.Endpoints = []string{"http://[::1"} }, []string{"storage.etcd.endpoints:", "not a URL"}},
		{"endpoint password is redacted", func(c *Config) { c.Storage.Etcd.Endpoints = []string{"ftp://u:hunter2@x"} }, []string{"storage.etcd.endpoints:", "xxxxx"}},
		{"password without username", func(c *Config) { c.Storage.Etcd.Password = "p" }, []string{"storage.etcd.password:", "storage.etcd.username"}},
		{"username and password", func(c *Config) { c.Storage.Etcd.Username, c.Storage.Etcd.Password = "u", "p" }, nil},
		{"cert without key", func(c *Config) { c.Storage.Etcd.TLS.Cert = "/c.pem" }, []string{"storage.etcd.tls.cert:", "storage.etcd.tls.key"}},
		{"key without cert", func(c *Config) { c.Storage.Etcd.TLS.Key = "/k.pem" }, []string{"storage.etcd.tls.key:"}},
		{"ca alone", func(c *Config) { c.Storage.Etcd.TLS.CA = "/ca.pem" }, nil},
		{"client port too big", func(c *Config) { c.Storage.Embedded.ClientPort = 70000 }, []string{"storage.embedded.client-port:"}},
		{"peer port negative", func(c *Config) { c.Storage.Embedded.PeerPort = -1 }, []string{"storage.embedded.peer-port:"}},
		{"same ports", func(c *Config) { c.Storage.Embedded.ClientPort, c.Storage.Embedded.PeerPort = 2379, 2379 }, []string{"storage.embedded.peer-port:", "differ"}},
		{"max depth 0", func(c *Config) { c.API.MaxDepth = 0 }, []string{"api.max-depth:"}},
		{"max depth 21", func(c *Config) { c.API.MaxDepth = 21 }, []string{"api.max-depth:"}},
		{"max depth 20", func(c *Config) { c.API.MaxDepth = 20 }, nil},
		{"default page size > max", func(c *Config) { c.API.DefaultPageSize = 2000 }, []string{"api.default-page-size:", "api.max-page-size"}},
		{"default page size 0", func(c *Config) { c.API.DefaultPageSize = 0 }, []string{"api.default-page-size:"}},
		{"max page size too big", func(c *Config) { c.API.MaxPageSize = 100001 }, []string{"api.max-page-size:"}},
		{"page sizes at the limits", func(c *Config) { c.API.DefaultPageSize, c.API.MaxPageSize = 100000, 100000 }, nil},
		{"negative cache ttl", func(c *Config) { c.Auth.Basic.CacheTTL = -time.Minute }, []string{"auth.basic.cache-ttl:"}},
		{"zero cache ttl disables", func(c *Config) { c.Auth.Basic.CacheTTL = 0 }, nil},
		{"min length 0", func(c *Config) { c.Auth.Password.MinLength = 0 }, []string{"auth.password.min-length:"}},
		{"min length 1025", func(c *Config) { c.Auth.Password.MinLength = 1025 }, []string{"auth.password.min-length:"}},
		{"throttle counts", func(c *Config) { c.Auth.Throttle.UserFailures, c.Auth.Throttle.AddressFailures = 0, -1 }, []string{"auth.throttle.user-failures:", "auth.throttle.address-failures:"}},
		{"throttle windows", func(c *Config) { c.Auth.Throttle.UserWindow, c.Auth.Throttle.AddressWindow = 0, -time.Second }, []string{"auth.throttle.user-window:", "auth.throttle.address-window:"}},
		{"admin password too short", func(c *Config) { c.Admin.Password = "short" }, []string{"admin.password:", "auth.password.min-length"}},
		{"admin password long enough", func(c *Config) { c.Admin.Password = "long enough" }, nil},
		{"bad log format", func(c *Config) { c.Log.Format = "xml" }, []string{"log.format:", `"xml"`}},
		{"bad log level", func(c *Config) { c.Log.Level = "INFO" }, []string{"log.level:"}},
		{"several at once", func(c *Config) {
			c.Storage.Timeout = -1
			c.Log.Format = "yaml"
			c.API.DefaultPageSize = 5000
			c.HTTP.TrustedProxies = []string{"nope"}
		}, []string{"storage.timeout:", "log.format:", "api.default-page-size:", "http.trusted-proxies:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			tt.mutate(&c)
			wantErrs(t, c.Validate(), tt.want)
		})
	}
}

func TestValidateDoesNotLeakSecrets(t *testing.T) {
	c := Defaults()
	c.Admin.Password = "s3cr"
	c.Storage.Etcd.Password = "etcd-s3cret"
	err := c.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	for _, secret := range []string{"s3cr", "etcd-s3cret"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error reveals %q: %v", secret, err)
		}
	}
}

func TestEmbedded(t *testing.T) {
	tests := []struct {
		endpoints []string
		want      bool
	}{
		{nil, true},
		{[]string{}, true},
		{[]string{"http://etcd:2379"}, false},
		{[]string{"https://a:2379", "https://b:2379"}, false},
	}
	for _, tt := range tests {
		c := Defaults()
		c.Storage.Etcd.Endpoints = tt.endpoints
		if got := c.Embedded(); got != tt.want {
			t.Errorf("Embedded() with %q = %v, want %v", tt.endpoints, got, tt.want)
		}
	}
	c, err := Load(nil, []string{"GATEHOUSE_STORAGE_ETCD_ENDPOINTS=http://etcd:2379"})
	if err != nil || c.Embedded() {
		t.Errorf("with an endpoint from env: Embedded() = %v, err %v", c.Embedded(), err)
	}
}

// leafFields counts the non-struct fields under t (time.Duration is a leaf).
func leafFields(t reflect.Type) int {
	n := 0
	for f := range t.Fields() {
		if f.Type.Kind() == reflect.Struct {
			n += leafFields(f.Type)
		} else {
			n++
		}
	}
	return n
}

func TestKeys(t *testing.T) {
	keys := Keys()
	if got, want := len(keys), leafFields(reflect.TypeFor[Config]()); got != want {
		t.Fatalf("Keys() has %d entries, Config has %d settings: a field is missing from the key table", got, want)
	}
	nameRE := regexp.MustCompile(`^[a-z]+(\.[a-z]+(-[a-z]+)*)+$`)
	names, envs := map[string]bool{}, map[string]bool{}
	for _, k := range keys {
		if !nameRE.MatchString(k.Name) {
			t.Errorf("key %q is not a dotted lower-case name", k.Name)
		}
		if names[k.Name] || envs[k.Env] {
			t.Errorf("key %q / %s is listed twice", k.Name, k.Env)
		}
		names[k.Name], envs[k.Env] = true, true
		want := "GATEHOUSE_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(k.Name))
		if k.Env != want {
			t.Errorf("key %q: env %s, want %s", k.Name, k.Env, want)
		}
		if k.Help == "" {
			t.Errorf("key %q has no help", k.Name)
		}
		// Setting every key to its documented default through the
		// environment must give back exactly the defaults.
		c, err := Load(nil, []string{k.Env + "=" + k.Default})
		if err != nil {
			t.Errorf("%s=%q: %v", k.Env, k.Default, err)
		} else if !reflect.DeepEqual(c, Defaults()) {
			t.Errorf("%s=%q changed the configuration: %+v", k.Env, k.Default, c)
		}
	}
	for _, want := range []struct{ name, env, def string }{
		{"storage.etcd.endpoints", "GATEHOUSE_STORAGE_ETCD_ENDPOINTS", ""},
		{"auth.throttle.user-failures", "GATEHOUSE_AUTH_THROTTLE_USER_FAILURES", "10"},
		{"admin.password", "GATEHOUSE_ADMIN_PASSWORD", ""},
		{"auth.basic.cache-ttl", "GATEHOUSE_AUTH_BASIC_CACHE_TTL", "5m"},
		{"http.shutdown-timeout", "GATEHOUSE_HTTP_SHUTDOWN_TIMEOUT", "10s"},
		{"http.listen", "GATEHOUSE_HTTP_LISTEN", "127.0.0.1:8080"},
	} {
		i := slices.IndexFunc(keys, func(k Key) bool { return k.Name == want.name })
		if i < 0 {
			t.Errorf("no key %q", want.name)
			continue
		}
		if k := keys[i]; k.Env != want.env || k.Default != want.def {
			t.Errorf("key %q = %+v, want env %s default %q", want.name, k, want.env, want.def)
		}
	}
}

// Every key in the table can be set from YAML: a file that sets each one to
// its default loads cleanly and changes nothing.
func TestKeysRoundTripYAML(t *testing.T) {
	var b strings.Builder
	d := Defaults()
	for _, s := range table() {
		parts := strings.Split(s.name, ".")
		// One document per key keeps the nesting trivial; load each.
		b.Reset()
		for i, p := range parts {
			b.WriteString(strings.Repeat("  ", i) + p + ":")
			if i < len(parts)-1 {
				b.WriteString("\n")
			}
		}
		if list, ok := s.field(&d).(*[]string); ok {
			b.WriteString(" [" + strings.Join(*list, ", ") + "]\n")
		} else {
			b.WriteString(" \"" + formatValue(s.field(&d)) + "\"\n")
		}
		c, err := load(t, b.String(), nil, nil)
		if err != nil {
			t.Errorf("%s: %v\n%s", s.name, err, b.String())
			continue
		}
		if !reflect.DeepEqual(c, d) {
			t.Errorf("%s: round trip changed the configuration: %+v", s.name, c)
		}
	}
}

func TestIssuerFor(t *testing.T) {
	c := Defaults()
	if got := c.IssuerFor("127.0.0.1:4000"); got != "http://127.0.0.1:4000" {
		t.Errorf("default issuer %q", got)
	}
	c.OAuth.Issuer = "https://id.example.com/"
	if got := c.IssuerFor("127.0.0.1:4000"); got != "https://id.example.com" {
		t.Errorf("configured issuer %q", got)
	}
}
