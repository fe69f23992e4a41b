package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"gatehouse/audit"
	"gatehouse/authn"
	"gatehouse/storage"
)

type nopRecorder struct{ n int }

func (r *nopRecorder) Record(storage.AuditEntry) { r.n++ }

type nopAuth struct{ st authn.Status }

func (a nopAuth) Authenticate(context.Context, authn.Credentials) (authn.Result, error) {
	return authn.Result{Status: a.st}, nil
}

// TestCountingAllocatesNothing: every counting call on the request path
// uses label values resolved when Metrics was built.
func TestCountingAllocatesNothing(t *testing.T) {
	m := New(prometheus.NewRegistry())
	var chain authn.Authenticator = authn.Counted{Authenticator: nopAuth{authn.Accepted}, Method: MethodBasic, Count: m.Authenticated}
	rec := Recorder{AuditRecorder: &nopRecorder{}, M: m}
	page := storage.AuditEntry{Action: audit.ActionSignIn, Target: "/oauth2/authorize", Outcome: audit.Failure}
	m.EtcdRequest("/etcdserverpb.KV/Range", time.Millisecond) // resolves the child once
	ctx := context.Background()
	for name, f := range map[string]func(){
		"chain":   func() { _, _ = chain.Authenticate(ctx, authn.Credentials{}) },
		"refused": func() { m.Refused(true) },
		"check":   func() { m.Decisions(2, 1) },
		"token":   func() { m.Token("client_credentials", "issued") },
		"unknown": func() { m.Token("made-up", "refused") },
		"etcd":    func() { m.EtcdRequest("/etcdserverpb.KV/Range", time.Millisecond) },
		"page":    func() { rec.Record(page) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, n)
		}
	}
}

func TestCounts(t *testing.T) {
	m := New(prometheus.NewRegistry())
	inner := &nopRecorder{}
	rec := Recorder{AuditRecorder: inner, M: m}
	for _, e := range []storage.AuditEntry{
		{Action: audit.ActionSignIn, Target: "/oauth2/authorize", Outcome: audit.Success},
		{Action: audit.ActionSignIn, Target: "/oauth2/authorize", Outcome: audit.Success, Detail: "passkey"},
		{Action: audit.ActionSignIn, Target: "/oauth2/token", Outcome: audit.Denied, Detail: "throttled"},
		{Action: audit.ActionSignIn, Target: "/saml/a/p/acs", Outcome: audit.Failure},
		{Action: audit.ActionSignIn, Target: "/auth/v2/me", Outcome: audit.Success}, // the chain's
		{Action: audit.ActionCreate, Target: "/auth/v2/accounts/a"},
	} {
		rec.Record(e)
	}
	if inner.n != 6 {
		t.Errorf("%d entries passed on, want 6", inner.n)
	}
	for _, c := range []struct {
		method, outcome string
		want            float64
	}{
		{MethodPassword, Success, 1}, {MethodPasskey, Success, 1}, {MethodPasswordGrant, Throttled, 1},
		{MethodSAML, Failure, 1}, {MethodBasic, Success, 0},
	} {
		if got := value(m.signins[[2]string{c.method, c.outcome}]); got != c.want {
			t.Errorf("signins{%s,%s} = %v, want %v", c.method, c.outcome, got, c.want)
		}
	}
	m.Token("urn:made-up", "refused")
	if got := value(m.tokens[[2]string{"other", "refused"}]); got != 1 {
		t.Errorf("an unknown grant counted %v under other, want 1", got)
	}
	m.DirectorySync("a", "p", storage.ProviderSync{State: storage.SyncDone, Progress: 5, Total: 5, Users: 4, Finished: 1700000000})
	if got := value(m.syncSuccess.WithLabelValues("a", "p")); got != 1700000000 {
		t.Errorf("last success %v", got)
	}
	if got := value(m.syncUsers.WithLabelValues("a", "p")); got != 4 {
		t.Errorf("sync users %v", got)
	}
	var nilM *Metrics // counts nothing, and does not panic
	nilM.SignIn(MethodBasic, Success)
	nilM.Refused(true)
	nilM.Token("password", "issued")
	nilM.DirectorySync("a", "p", storage.ProviderSync{})
}

// value is a counter's or gauge's value.
func value(c prometheus.Metric) float64 {
	var d dto.Metric
	if err := c.Write(&d); err != nil {
		panic(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}
