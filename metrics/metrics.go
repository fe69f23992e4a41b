package metrics

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/audit"
	"gatehouse/authn"
	"gatehouse/storage"
)

// Sign-in methods and outcomes (the label values of
// gatehouse_signins_total).
const (
	MethodBasic         = "basic"
	MethodAPIKey        = "api-key"
	MethodBearer        = "bearer"
	MethodPassword      = "password" // the OAuth sign-in page
	MethodPasswordGrant = "password-grant"
	MethodPasskey       = "passkey"
	MethodSAML          = "saml"
	MethodLDAP          = "ldap" // the directory password check (inside basic or password)

	Success   = "success"
	Failure   = "failure"
	Throttled = "throttled"
)

var (
	methods  = []string{MethodBasic, MethodAPIKey, MethodBearer, MethodPassword, MethodPasswordGrant, MethodPasskey, MethodSAML, MethodLDAP}
	outcomes = []string{Success, Failure, Throttled}
	// grants are the token endpoint's grant label values; any other
	// grant_type counts as "other".
	grants        = []string{"authorization_code", "client_credentials", "refresh_token", "password", "urn:ietf:params:oauth:grant-type:jwt-bearer", "other"}
	tokenOutcomes = []string{"issued", "refused", Throttled}
)

// Metrics are gatehouse's event counters (see the package doc). A nil
// *Metrics counts nothing.
type Metrics struct {
	signins       map[[2]string]prometheus.Counter
	throttled     prometheus.Counter
	lockedOut     prometheus.Counter
	disabled      prometheus.Counter
	granted       prometheus.Counter
	denied        prometheus.Counter
	tokens        map[[2]string]prometheus.Counter
	etcd          *prometheus.HistogramVec
	etcdObservers sync.Map // gRPC method → prometheus.Observer
	syncProgress  *prometheus.GaugeVec
	syncUsers     *prometheus.GaugeVec
	syncSuccess   *prometheus.GaugeVec
	syncs         *prometheus.CounterVec
}

// New registers the collectors on reg and resolves every label
// combination the counters can take.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{signins: map[[2]string]prometheus.Counter{}, tokens: map[[2]string]prometheus.Counter{}}
	signins := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_signins_total",
		Help: "Sign-in attempts by method and outcome (success, failure, throttled)."}, []string{"method", "outcome"})
	for _, me := range methods {
		for _, o := range outcomes {
			m.signins[[2]string{me, o}] = signins.WithLabelValues(me, o)
		}
	}
	m.throttled = prometheus.NewCounter(prometheus.CounterOpts{Name: "gatehouse_throttled_total",
		Help: "Sign-in attempts refused by the throttle (too many failures of the name or the address)."})
	m.lockedOut = prometheus.NewCounter(prometheus.CounterOpts{Name: "gatehouse_locked_out_total",
		Help: "Throttled sign-in attempts refused because the user name is locked out (its failure count is at the limit)."})
	m.disabled = prometheus.NewCounter(prometheus.CounterOpts{Name: "gatehouse_users_disabled_total",
		Help: "Users disabled by consecutive failed sign-ins (the permanent lockout)."})
	checks := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_check_decisions_total",
		Help: "Answers of POST /auth/v2/check by decision (granted, denied)."}, []string{"decision"})
	m.granted, m.denied = checks.WithLabelValues("granted"), checks.WithLabelValues("denied")
	tokens := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_tokens_total",
		Help: "Answers of the token endpoint by grant type and outcome (issued, refused, throttled)."}, []string{"grant", "outcome"})
	for _, g := range grants {
		for _, o := range tokenOutcomes {
			m.tokens[[2]string{g, o}] = tokens.WithLabelValues(g, o)
		}
	}
	m.etcd = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gatehouse_etcd_request_duration_seconds",
		Help:    "Duration of etcd requests (unary gRPC calls) by operation.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"op"})
	labels := []string{"account", "provider"}
	m.syncProgress = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gatehouse_directory_sync_progress_ratio",
		Help: "Progress of the running (or last) directory sync of each LDAP provider, 0 to 1."}, labels)
	m.syncUsers = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gatehouse_directory_sync_users",
		Help: "Users the running (or last) directory sync of each LDAP provider has resolved."}, labels)
	m.syncSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gatehouse_directory_sync_last_success_timestamp_seconds",
		Help: "When the last successful directory sync of each LDAP provider finished (Unix seconds)."}, labels)
	m.syncs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_directory_syncs_total",
		Help: "Finished directory syncs by outcome (done, failed)."}, []string{"outcome"})
	m.syncs.WithLabelValues(storage.SyncDone)
	m.syncs.WithLabelValues(storage.SyncFailed)
	reg.MustRegister(signins, m.throttled, m.lockedOut, m.disabled, checks, tokens, m.etcd,
		m.syncProgress, m.syncUsers, m.syncSuccess, m.syncs)
	return m
}

// SignIn counts one sign-in attempt.
func (m *Metrics) SignIn(method, outcome string) {
	if m == nil {
		return
	}
	if c, ok := m.signins[[2]string{method, outcome}]; ok {
		c.Inc()
	}
}

// Authenticated counts an authentication the chain decided (the hook of
// authn.Counted).
func (m *Metrics) Authenticated(method string, st authn.Status) {
	switch st {
	case authn.Accepted:
		m.SignIn(method, Success)
	case authn.Refused:
		m.SignIn(method, Failure)
	case authn.Throttled:
		m.SignIn(method, Throttled)
	}
}

// Refused counts an attempt the throttle refused (the hook of
// authn.Throttle.OnRefused); locked: the user name's count blocked it.
func (m *Metrics) Refused(locked bool) {
	if m == nil {
		return
	}
	m.throttled.Inc()
	if locked {
		m.lockedOut.Inc()
	}
}

// Disabled counts a permanent lockout.
func (m *Metrics) Disabled() {
	if m != nil {
		m.disabled.Inc()
	}
}

// Decisions counts the answers of one POST /check.
func (m *Metrics) Decisions(granted, denied int) {
	if m == nil {
		return
	}
	if granted > 0 {
		m.granted.Add(float64(granted))
	}
	if denied > 0 {
		m.denied.Add(float64(denied))
	}
}

// Token counts one answer of the token endpoint. grant is the grant
// type as requested (an unknown or missing one counts as "other").
func (m *Metrics) Token(grant, outcome string) {
	if m == nil {
		return
	}
	c, ok := m.tokens[[2]string{grant, outcome}]
	if !ok {
		c, ok = m.tokens[[2]string{"other", outcome}]
	}
	if ok {
		c.Inc()
	}
}

// EtcdRequest observes one etcd request's duration; method is the gRPC
// method ("/etcdserverpb.KV/Range"), labelled by its last part.
func (m *Metrics) EtcdRequest(method string, d time.Duration) {
	if m == nil {
		return
	}
	o, ok := m.etcdObservers.Load(method)
	if !ok {
		op := method[strings.LastIndexByte(method, '/')+1:]
		o, _ = m.etcdObservers.LoadOrStore(strings.Clone(method), m.etcd.WithLabelValues(op))
	}
	o.(prometheus.Observer).Observe(d.Seconds())
}

// DirectorySync notes the status of a directory sync of provider p of
// account a (ldapsignin.Syncer's Observe hook): its progress while it
// runs, and when it ends its outcome and, when done, the time.
func (m *Metrics) DirectorySync(a, p string, st storage.ProviderSync) {
	if m == nil {
		return
	}
	if st.Total > 0 {
		m.syncProgress.WithLabelValues(a, p).Set(float64(st.Progress) / float64(st.Total))
	} else if st.State == storage.SyncDone {
		m.syncProgress.WithLabelValues(a, p).Set(1)
	}
	m.syncUsers.WithLabelValues(a, p).Set(float64(st.Users))
	switch st.State {
	case storage.SyncDone:
		m.syncs.WithLabelValues(storage.SyncDone).Inc()
		t := time.Now()
		if st.Finished > 0 {
			t = time.Unix(st.Finished, 0)
		}
		m.syncSuccess.WithLabelValues(a, p).Set(float64(t.Unix()))
	case storage.SyncFailed:
		m.syncs.WithLabelValues(storage.SyncFailed).Inc()
	}
}

// Directory wraps a directory password check (authn.DirectorySignIn) to
// count its outcomes as method ldap: a verified password is a success,
// a refused one a failure; an unreachable directory is not counted.
func (m *Metrics) Directory(d authn.DirectorySignIn) authn.DirectorySignIn {
	if m == nil || d == nil {
		return d
	}
	return directory{d, m}
}

type directory struct {
	authn.DirectorySignIn
	m *Metrics
}

func (d directory) SignIn(ctx context.Context, account, login, password string) (authn.DirectoryUser, bool, error) {
	u, ok, err := d.DirectorySignIn.SignIn(ctx, account, login, password)
	switch {
	case err != nil:
	case ok && u.Refusal == "":
		d.m.SignIn(MethodLDAP, Success)
	default:
		d.m.SignIn(MethodLDAP, Failure)
	}
	return u, ok, err
}

// AuditRecorder is what the API server records audit entries with (the
// audit queue).
type AuditRecorder interface {
	Record(e storage.AuditEntry)
}

// Recorder counts the sign-ins of the pages from their audit entries and
// passes every entry on to the queue. Entries of /auth/ paths are the API
// pipeline's own (counted by the chain) and are only passed on. The
// token endpoint tells it each answer's grant through CountToken.
type Recorder struct {
	AuditRecorder
	M *Metrics
}

// Record counts e when it is a page's sign-in and records it.
func (r Recorder) Record(e storage.AuditEntry) {
	if e.Action == audit.ActionSignIn && !strings.HasPrefix(e.Target, "/auth/") {
		r.M.SignIn(pageMethod(e), pageOutcome(e))
	}
	r.AuditRecorder.Record(e)
}

// CountToken counts one answer of the token endpoint (oauth finds it on
// the server's audit recorder).
func (r Recorder) CountToken(grant, outcome string) { r.M.Token(grant, outcome) }

func pageMethod(e storage.AuditEntry) string {
	switch {
	case strings.HasPrefix(e.Target, "/saml/"):
		return MethodSAML
	case e.Target == "/oauth2/token":
		return MethodPasswordGrant
	case strings.Contains(e.Detail, "passkey") || strings.Contains(e.Target, "passkey"):
		return MethodPasskey
	}
	return MethodPassword
}

func pageOutcome(e storage.AuditEntry) string {
	switch {
	case e.Outcome == audit.Success:
		return Success
	case e.Outcome == audit.Denied && e.Detail == "throttled":
		return Throttled
	}
	return Failure
}

// GaugeFunc registers a gauge read at scrape time.
func GaugeFunc(reg prometheus.Registerer, name, help string, f func() float64) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}
