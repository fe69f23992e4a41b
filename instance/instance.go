// Package instance assembles one running gatehouse from its
// configuration: etcd (embedded in the data directory, or the configured
// cluster), the store and its cache, the bootstrap of an empty store, the
// HTTP server with the /auth/v2 resources, and graceful shutdown. The
// binary and the end-to-end tests start gatehouse through it, so both
// run the same code path. It holds no business rules of its own.
package instance

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"gatehouse/api"
	"gatehouse/audit"
	"gatehouse/authn"
	"gatehouse/authz"
	"gatehouse/catalog"
	"gatehouse/conf"
	"gatehouse/console"
	"gatehouse/ldapsignin"
	"gatehouse/metrics"
	"gatehouse/oauth"
	"gatehouse/passkey"
	"gatehouse/passwordpolicy"
	"gatehouse/resources"
	"gatehouse/samlsignin"
	"gatehouse/schema"
	"gatehouse/selfservice"
	"gatehouse/storage"
	"gatehouse/storeadmin"
	"gatehouse/totp"
)

// Version is the gatehouse version, set at build time with
// -ldflags "-X gatehouse/instance.Version=…".
var Version = "0.1.0-dev"

// Instance is a running gatehouse.
type Instance struct {
	Store     *storage.Store
	Server    *api.Server
	Resources *resources.Server
	OAuth     *oauth.Provider
	stopOAuth func()
	audit     *audit.Queue
	embedded  *storage.Embedded
	http      *http.Server
	listener  net.Listener
	cfg       conf.Config
	log       *slog.Logger
	served    chan error
}

// Start brings gatehouse up and returns once it serves. Messages for the
// operator (the generated admin password) go to console.
func Start(ctx context.Context, cfg conf.Config, log *slog.Logger, console io.Writer, opts ...Option) (*Instance, error) {
	in := &Instance{cfg: cfg, log: log, served: make(chan error, 1)}
	endpoints := cfg.Storage.Etcd.Endpoints
	if cfg.Embedded() {
		if err := os.MkdirAll(cfg.Storage.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("storage.data-dir %q: %w", cfg.Storage.DataDir, err)
		}
		e, err := storage.StartEmbedded(cfg.Storage.DataDir, cfg.Storage.Embedded.ClientPort, cfg.Storage.Embedded.PeerPort)
		if err != nil {
			return nil, err
		}
		in.embedded = e
		endpoints = []string{e.Endpoint}
		log.Info("embedded etcd started", "data-dir", cfg.Storage.DataDir, "endpoint", e.Endpoint)
	}
	tlsCfg, err := etcdTLS(cfg.Storage.Etcd.TLS)
	if err != nil {
		in.Close()
		return nil, err
	}
	in.Store, err = storage.Open(ctx, storeadmin.StoreOptions(cfg, endpoints, tlsCfg, log))
	if err != nil {
		in.Close()
		return nil, err
	}
	if err := in.bootstrap(ctx, console); err != nil {
		in.Close()
		return nil, err
	}

	// Listen first: the OAuth issuer defaults to the address listened on
	// (a port of 0 is known only now).
	in.listener, err = net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		in.Close()
		return nil, fmt.Errorf("http.listen %q: %w", cfg.HTTP.Listen, err)
	}
	cfg.OAuth.Issuer = cfg.IssuerFor(in.listener.Addr().String())
	parts, err := Assemble(in.Store, cfg, log, opts...)
	if err != nil {
		_ = in.listener.Close()
		in.Close()
		return nil, err
	}
	in.Server, in.Resources, in.audit, in.OAuth, in.stopOAuth = parts.API, parts.Resources, parts.Audit, parts.OAuth, parts.stopOAuth

	in.http = &http.Server{
		Handler:           resources.RootRedirect(in.Server), // GET / and /auth/v2/ lead to /auth/v2
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() { in.served <- in.http.Serve(in.listener) }()
	log.Info("gatehouse serving", "listen", in.listener.Addr().String(), "version", Version)
	return in, nil
}

// Routes is the route table of every package gatehouse mounts, for
// documentation (the README's table) and the permission catalogue; it
// needs no running instance.
func Routes() *api.Registry {
	routes := api.NewRegistry()
	routes.Mount(resources.New(resources.Options{}).Routes()...)
	routes.Mount((&oauth.Provider{}).Routes()...)
	routes.Mount((&samlsignin.Service{}).Routes()...)
	routes.Mount(schema.Routes()...)
	routes.Mount((&selfservice.Pages{}).Routes()...)
	routes.Mount((&console.Console{}).Routes()...)
	return routes
}

// Addr is the address the HTTP server listens on.
func (in *Instance) Addr() string { return in.listener.Addr().String() }

// URL is the base URL of the HTTP server.
func (in *Instance) URL() string { return "http://" + in.Addr() }

// Done delivers the HTTP server's exit.
func (in *Instance) Done() <-chan error { return in.served }

// Close shuts the HTTP server down gracefully, then the store and the
// embedded etcd.
func (in *Instance) Close() {
	if in.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), max(in.cfg.HTTP.ShutdownTimeout, time.Second))
		_ = in.http.Shutdown(ctx)
		cancel()
	}
	if in.stopOAuth != nil {
		in.stopOAuth()
	}
	if in.audit != nil {
		if err := in.audit.Close(); err != nil {
			in.log.Warn("flushing the audit queue at shutdown", "err", err)
		}
	}
	if in.Store != nil {
		in.Store.Close()
	}
	if in.embedded != nil {
		in.embedded.Close()
	}
}

// bootstrap creates system/admin on an empty store. The admin password
// is admin.password, else generated and printed once to the console.
func (in *Instance) bootstrap(ctx context.Context, console io.Writer) error {
	var empty bool
	if err := in.Store.Read(ctx, 0, func(v storage.View) error {
		empty = !v.AccountExists(storage.SystemAccount)
		return nil
	}); err != nil || !empty {
		return err
	}
	password := in.cfg.Admin.Password
	generated := password == ""
	if generated {
		password = rand.Text()
	}
	hash, err := authn.HashPassword(password, authn.DefaultParams, rand.Reader)
	if err != nil {
		return err
	}
	created, err := in.Store.Bootstrap(ctx, hash, time.Now())
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if created {
		in.log.Info("bootstrapped an empty store", "account", storage.SystemAccount, "user", storage.AdminUser)
		if generated {
			fmt.Fprintf(console, "gatehouse: created user system\\admin with generated password: %s\n"+
				"gatehouse: it is shown only this once; set GATEHOUSE_ADMIN_PASSWORD to choose one.\n", password)
		}
	}
	return nil
}

// EtcdTLS is the client TLS configuration storage.etcd.tls asks for (nil
// for none), for the command line's offline operations.
func EtcdTLS(t conf.TLS) (*tls.Config, error) { return etcdTLS(t) }

func etcdTLS(t conf.TLS) (*tls.Config, error) {
	if t.CA == "" && t.Cert == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("storage.etcd.tls.ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("storage.etcd.tls.ca: no PEM certificates in " + t.CA)
		}
		cfg.RootCAs = pool
	}
	if t.Cert != "" {
		pair, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("storage.etcd.tls.cert/key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// NewLogger builds the slog logger the configuration asks for.
func NewLogger(c conf.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(c.Level)))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Option changes how an instance is assembled.
type Option func(*options)

type options struct{ now func() time.Time }

// WithClock makes the instance tell time by now (expiry of API keys,
// sign-in throttling and caching, times shown): tests move it instead of
// sleeping.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// Parts is gatehouse's HTTP side assembled on a store: the pipeline with
// every package's routes, the /auth/v2 resources, and the audit queue.
type Parts struct {
	API       *api.Server
	Resources *resources.Server
	Audit     *audit.Queue // Close it before the store
	OAuth     *oauth.Provider
	stopOAuth func() // stops the key rotation
}

// StopOAuth stops the signing key rotation (before the store closes).
func (p *Parts) StopOAuth() {
	if p.stopOAuth != nil {
		p.stopOAuth()
	}
}

// Assemble builds the HTTP side on store from cfg: the authority, the
// sign-in chain, the route registry with every package's routes, the
// permission catalogue and the audit queue. Start uses it; benchmarks
// serve it in-process.
func Assemble(store *storage.Store, cfg conf.Config, log *slog.Logger, opts ...Option) (*Parts, error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	now := o.now
	var creds *authn.CredentialCache
	if cfg.Auth.Basic.CacheTTL > 0 {
		var err error
		if creds, err = authn.NewCredentialCache(cfg.Auth.Basic.CacheTTL, 0, now, rand.Reader); err != nil {
			return nil, err
		}
	}
	var proxies []netip.Prefix
	for _, p := range cfg.HTTP.TrustedProxies {
		if pre, err := netip.ParsePrefix(p); err == nil {
			proxies = append(proxies, pre)
		} else if a, err := netip.ParseAddr(p); err == nil {
			proxies = append(proxies, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	extra, err := catalog.LoadFiles(cfg.Permissions.Catalogues...)
	if err != nil {
		return nil, fmt.Errorf("permissions.catalogues: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	throttle := authn.NewThrottle(authn.ThrottleLimits{UserFailures: cfg.Auth.Throttle.UserFailures, UserWindow: cfg.Auth.Throttle.UserWindow, AddressFailures: cfg.Auth.Throttle.AddressFailures, AddressWindow: cfg.Auth.Throttle.AddressWindow,
		UserDisableFailures: cfg.Auth.Throttle.UserDisableFailures}, now)
	// The event metrics (package metrics), the cache's lag and etcd's
	// latency read from the store.
	m := metrics.New(reg)
	metrics.GaugeFunc(reg, "gatehouse_cache_revision_lag", "Revisions the storage cache is behind the latest etcd revision this instance has heard of.",
		func() float64 { return float64(store.RevisionLag()) })
	store.ObserveEtcd(m.EtcdRequest)
	throttle.OnRefused(m.Refused)
	// Per-user failure counts live in etcd, so N instances allow a user
	// as many failures as one (per-address counts stay per instance);
	// so do the consecutive failures of the permanent lockout, which
	// disables the user (audited) and drops its cached credentials.
	fctx, fcancel := context.WithTimeout(context.Background(), 4*max(cfg.Storage.Timeout, time.Second))
	failures, err := store.FailureCounts(fctx, now)
	fcancel()
	if err != nil {
		return nil, fmt.Errorf("throttle: %w", err)
	}
	failures.DisabledEntry = resources.DisabledEntry
	throttle.ShareUserCounts(failures, func(err error) {
		log.Warn("a shared sign-in failure count was not written", "err", err)
	})
	throttle.OnUserDisabled(func(name string) {
		log.Warn("user disabled after consecutive failed sign-ins (permanent lockout)", "user", name)
		m.Disabled()
		if creds != nil {
			creds.Forget(name)
		}
	})
	authority := &authz.Authority{}
	res := resources.New(resources.Options{
		Store:     store,
		Authority: authority,
		Limits: resources.Limits{MaxDepth: cfg.API.MaxDepth, DefaultPageSize: cfg.API.DefaultPageSize,
			MaxPageSize: cfg.API.MaxPageSize},
		Credentials: creds,
		Throttle:    throttle,
		PasswordPolicy: passwordpolicy.Policy{MinLength: cfg.Auth.Password.MinLength, MaxLength: cfg.Auth.Password.MaxLength,
			History: cfg.Auth.Password.History, MaxAge: cfg.Auth.Password.MaxAge},
		Logger: log,
		Now:    now,
	})
	// The password flow of HTTP Basic and the sign-in page: one, so
	// throttling and the credential cache are shared.
	flow := &authn.PasswordFlow{Users: users{store: store, expired: res.PasswordPolicy.Expired, now: now}, Cache: creds, Throttle: throttle,
		OnVerified: lastLogin(store, log, now)}
	// The second factor (SPEC §3c): a user with an enabled TOTP answers
	// "totp" with a TOTP or backup code; HTTP Basic cannot, so is refused.
	flow.Steps = append(flow.Steps, totp.Step{Store: store, Now: now})
	// LDAP: names without a local password sign in against the account's
	// directories; POST …/providers/{pv}/sync runs the directory sync.
	flow.Directories = m.Directory(&ldapsignin.SignIn{Store: store, Logger: log, Now: now})
	syncer := &ldapsignin.Syncer{Store: store, Logger: log, Now: now, Observe: m.DirectorySync}
	res.CheckDecisions = m.Decisions
	res.SyncProvider = syncer.Start
	syncer.Schedule(0) // providers with a sync-interval sync by themselves
	issuer := cfg.IssuerFor(cfg.HTTP.Listen)
	// Passkeys: the WebAuthn relying party from auth.passkeys.*, by
	// default the issuer's host and origin; none (a warning, 404 on the
	// registration routes) when that host is an IP address.
	pkCfg, err := passkey.Config{RPID: cfg.Auth.Passkeys.RPID, RPName: cfg.Auth.Passkeys.RPName,
		Origins: cfg.Auth.Passkeys.Origins}.Resolve(issuer)
	if err == nil {
		res.Passkeys, err = passkey.New(store, pkCfg, now)
	}
	if err != nil {
		log.Warn("passkeys are off", "err", err)
	} else {
		// A passkey is a method of the second factor (beside TOTP).
		flow.Steps = append(flow.Steps, passkey.Step{Service: res.Passkeys})
	}
	pctx, cancel := context.WithTimeout(context.Background(), 4*max(cfg.Storage.Timeout, time.Second))
	provider, err := oauth.NewProvider(pctx, oauth.ProviderConfig{Store: store, Issuer: issuer,
		Lifetimes: oauth.Lifetimes{Access: cfg.OAuth.Lifetimes.Access, Refresh: cfg.OAuth.Lifetimes.Refresh, Code: cfg.OAuth.Lifetimes.Code},
		Now:       now, SignIn: flow})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("oauth: %w", err)
	}
	// SAML sign-in: the /saml routes and the sign-in page's buttons.
	saml, err := samlsignin.New(samlsignin.Options{Store: store, Issuer: issuer, OAuth: provider, Now: now, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("saml: %w", err)
	}
	provider.SetExternal(saml)
	provider.SetPasskeys(res.Passkeys) // the sign-in page's passkeys (nil: none)
	// DELETE of a sign-in session revokes its token family.
	res.RevokeSession = provider.RevokeSession
	routes := api.NewRegistry()
	routes.Mount(res.Routes()...)
	routes.Mount(provider.Routes()...)
	routes.Mount(saml.Routes()...)
	// The XML Schema of /auth/v2 (public).
	routes.Mount(schema.Routes()...)
	// The self-service pages (HTML) for the signed-in user.
	routes.Mount((&selfservice.Pages{Store: store, Now: now, Passkeys: res.Passkeys}).Routes()...)
	// The browser console: /auth/v2 as pages, signed in through the
	// built-in OAuth client console (Handler is set once srv exists).
	cons := &console.Console{Issuer: issuer, Logger: log}
	provider.Clients.SetConsoleRedirect(cons.RedirectURI())
	routes.Mount(cons.Routes()...)
	if res.Catalog, err = resources.NewCatalog(routes.Routes(), extra); err != nil {
		return nil, fmt.Errorf("permissions.catalogues: %w", err)
	}

	// The sign-in chain: API keys first (they may come as a Bearer
	// token, gh_…), then OAuth access tokens (Bearer JWTs), then HTTP
	// Basic passwords.
	chain := authn.Chain{
		authn.Counted{Authenticator: authn.APIKeyAuthenticator{Keys: apiKeys{store}, Throttle: throttle, Now: now, OnUse: res.NoteKeyUse},
			Method: metrics.MethodAPIKey, Count: m.Authenticated},
		authn.Counted{Authenticator: oauth.BearerAuthenticator{Provider: provider, Throttle: throttle},
			Method: metrics.MethodBearer, Count: m.Authenticated}}
	if cfg.Auth.Basic.Enabled {
		chain = append(chain, authn.Counted{Authenticator: authn.BasicAuthenticator{Flow: flow},
			Method: metrics.MethodBasic, Count: m.Authenticated})
	}
	q := audit.New(store, audit.Options{Logger: log, Registerer: reg})
	srv := api.New(api.Options{
		Store:          store,
		Authority:      authority,
		Authenticator:  chain,
		BasicAuth:      cfg.Auth.Basic.Enabled,
		TrustedProxies: proxies,
		Audit:          metrics.Recorder{AuditRecorder: q, M: m}, // counts the pages' sign-ins and the tokens
		Logger:         log,
		Now:            now,
		Registry:       reg,
		HTML:           cons,
		SignInPath:     console.SignInPath,
	}, routes)
	cons.Handler = srv
	return &Parts{API: srv, Resources: res, Audit: q, OAuth: provider,
		stopOAuth: stopBoth(rotateKeys(provider.Keys, cfg.OAuth.KeyRotation, log), syncer.Close)}, nil
}

// stopBoth stops the key rotation, then the directory syncs.
func stopBoth(rotation, syncs func()) func() {
	return func() {
		rotation()
		syncs()
	}
}

// rotateKeys replaces the signing key when it is older than every (0:
// never), checking a few times per period on every instance (one creates
// the successor, the others read it; each also picks up what another
// rotated). It returns the function that stops it.
func rotateKeys(keys *oauth.KeySet, every time.Duration, log *slog.Logger) func() {
	if every <= 0 {
		return func() {}
	}
	tick := min(max(every/8, time.Minute), time.Hour)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			rotated, err := keys.RotateIfOlder(ctx, every)
			cancel()
			switch {
			case err != nil:
				log.Warn("oauth signing key rotation failed", "err", err)
			case rotated:
				log.Info("oauth signing key rotated", "kid", keys.CurrentKeyID())
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-stopped
		})
	}
}
