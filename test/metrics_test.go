package test

// End-to-end test of /metrics (SPEC §3c, issue 13): after a short scripted
// session every pinned metric is served with the expected labels, the
// Prometheus alert rules pass promtool, and the Grafana dashboard and the
// rules use only metric names gatehouse exposes.

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/instance"
	"gatehouse/ldapdir/slapdtest"
	"gatehouse/metrics"
	"gatehouse/storage"
	"gatehouse/test/harness"
)

// mtSample is one line of the text exposition.
type mtSample struct {
	name   string
	labels map[string]string
	value  float64
}

var mtLabel = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// mtScrape reads /metrics: its samples and the metric families it
// declares (# TYPE lines).
func mtScrape(t *testing.T, s *harness.Server) ([]mtSample, map[string]bool) {
	t.Helper()
	r := s.Do(harness.Request{Method: "GET", Path: "/metrics"})
	if r.Status != http.StatusOK {
		t.Fatalf("/metrics: %d", r.Status)
	}
	var out []mtSample
	families := map[string]bool{}
	for _, line := range strings.Split(r.Body, "\n") {
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
			families[strings.Fields(f)[0]] = true
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		head := line[:sp]
		smp := mtSample{name: head, labels: map[string]string{}, value: v}
		if i := strings.IndexByte(head, '{'); i >= 0 {
			smp.name = head[:i]
			for _, m := range mtLabel.FindAllStringSubmatch(head[i:], -1) {
				smp.labels[m[1]] = m[2]
			}
		}
		out = append(out, smp)
	}
	return out, families
}

// mtValue sums the samples of name whose labels include want; found
// reports whether any matched.
func mtValue(samples []mtSample, name string, want map[string]string) (sum float64, found bool) {
	for _, smp := range samples {
		if smp.name != name {
			continue
		}
		match := true
		for k, v := range want {
			if smp.labels[k] != v {
				match = false
			}
		}
		if match {
			sum += smp.value
			found = true
		}
	}
	return sum, found
}

func TestMetricsAfterSession(t *testing.T) {
	cfg := harness.Config(t)
	cfg.Auth.Throttle.UserFailures = 2 // the third attempt after two failures is throttled
	s := harness.StartWith(t, cfg)
	oatSetup(t, s) // Basic sign-ins as system\admin

	// A wrong password, twice (the second reaches the limit), then a
	// throttled attempt: the name is locked out.
	for i := 0; i < 2; i++ {
		s.As(`oat\tess`, "wrong-password-1", "GET", "/auth/v2/me", "").Must(t, 401)
	}
	s.As(`oat\tess`, "wrong-password-1", "GET", "/auth/v2/me", "").Must(t, 429)

	// A /check with one granted and one denied answer.
	s.Admin("POST", "/auth/v2/check", ckBody([]ckQ{
		{`oat\tess`, "auth:users:read", ""},
		{`oat\tess`, "print:jobs:delete", ""},
	})).Must(t, 200)

	// A client-credentials token, and one refused (wrong secret).
	id, secret := oatClient(t, s, "auth:users:read")
	oaToken(t, s, id, secret)
	if st, out := oaForm(t, s, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, id, "not-the-secret", nil); st != 401 {
		t.Fatalf("wrong client secret: %d %v", st, out)
	}

	// A password grant of a user not signed in before (the sign-in is
	// counted from its audit entry, written for a full verification, not
	// a credential-cache hit), and its access token used on /auth/v2 (a
	// bearer sign-in).
	azUserWithRole(t, s, "oat", "pat", pwPass, "grantee", "auth:*")
	st, out := oaForm(t, s, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {`oat\pat`},
		"password": {pwPass}, "client_id": {"admin-cli"}, "scope": {"auth:accounts:read"}}, "", "", nil)
	access, _ := out["access_token"].(string)
	if st != 200 || access == "" {
		t.Fatalf("password grant: %d %v", st, out)
	}
	oaBearer(s, access, "GET", "/auth/v2/accounts/oat").Must(t, 200)

	samples, families := mtScrape(t, s)
	atLeast := func(name string, labels map[string]string, min float64) {
		t.Helper()
		v, found := mtValue(samples, name, labels)
		if !found {
			t.Errorf("/metrics has no %s%v", name, labels)
		} else if v < min {
			t.Errorf("%s%v = %v, want at least %v", name, labels, v, min)
		}
	}
	atLeast("gatehouse_http_requests_total", map[string]string{"route": "/auth/v2/check", "method": "POST", "code": "200"}, 1)
	atLeast("gatehouse_http_requests_total", map[string]string{"route": "/auth/v2/me", "method": "GET", "code": "429"}, 1)
	atLeast("gatehouse_http_requests_total", map[string]string{"route": "/oauth2/token", "method": "POST", "code": "401"}, 1)
	atLeast("gatehouse_http_request_duration_seconds_count", map[string]string{"route": "/auth/v2/check", "method": "POST"}, 1)
	atLeast("gatehouse_signins_total", map[string]string{"method": "basic", "outcome": "success"}, 1)
	atLeast("gatehouse_signins_total", map[string]string{"method": "basic", "outcome": "failure"}, 2)
	atLeast("gatehouse_signins_total", map[string]string{"method": "basic", "outcome": "throttled"}, 1)
	atLeast("gatehouse_signins_total", map[string]string{"method": "password-grant", "outcome": "success"}, 1)
	atLeast("gatehouse_signins_total", map[string]string{"method": "bearer", "outcome": "success"}, 1)
	atLeast("gatehouse_signins_total", map[string]string{"method": "passkey", "outcome": "failure"}, 0)
	atLeast("gatehouse_tokens_total", map[string]string{"grant": "password", "outcome": "issued"}, 1)
	atLeast("gatehouse_throttled_total", nil, 1)
	atLeast("gatehouse_locked_out_total", nil, 1)
	atLeast("gatehouse_check_decisions_total", map[string]string{"decision": "granted"}, 1)
	atLeast("gatehouse_check_decisions_total", map[string]string{"decision": "denied"}, 1)
	atLeast("gatehouse_tokens_total", map[string]string{"grant": "client_credentials", "outcome": "issued"}, 1)
	atLeast("gatehouse_tokens_total", map[string]string{"grant": "client_credentials", "outcome": "refused"}, 1)
	atLeast("gatehouse_cache_revision_lag", nil, 0)
	atLeast("gatehouse_etcd_request_duration_seconds_count", map[string]string{"op": "Txn"}, 1)
	atLeast("gatehouse_audit_queue_depth", nil, 0)
	atLeast("gatehouse_directory_syncs_total", map[string]string{"outcome": "done"}, 0)

	// The route label is always a registered pattern, never a raw path.
	patterns := map[string]bool{}
	for _, rt := range instance.Routes().Routes() {
		patterns[rt.Path] = true
	}
	for _, smp := range samples {
		if route, ok := smp.labels["route"]; ok && strings.HasPrefix(smp.name, "gatehouse_http_") && !patterns[route] {
			t.Errorf("%s has route %q, which is not a registered route pattern", smp.name, route)
		}
	}
	if lag, _ := mtValue(samples, "gatehouse_cache_revision_lag", nil); lag < 0 {
		t.Errorf("cache revision lag %v", lag)
	}

	// Every metric the dashboard and the alert rules query is one
	// gatehouse exposes: served now, or (the per-provider directory sync
	// gauges, which appear once an LDAP sync ran) made by package metrics
	// when a sync reports.
	exposed := families
	reg := prometheus.NewRegistry()
	metrics.New(reg).DirectorySync("a", "p", storage.ProviderSync{State: storage.SyncDone, Total: 1, Progress: 1})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		exposed[mf.GetName()] = true
	}
	for _, file := range []string{"../deploy/grafana/gatehouse.json", "../deploy/prometheus/alerts.yml"} {
		exprs := mtExpressions(t, file)
		if len(exprs) == 0 {
			t.Errorf("%s: no expressions found", file)
		}
		for _, e := range exprs {
			for _, name := range regexp.MustCompile(`gatehouse_[a-z_]+`).FindAllString(e, -1) {
				base := name
				for _, suf := range []string{"_bucket", "_count", "_sum"} {
					if b, ok := strings.CutSuffix(name, suf); ok && exposed[b] {
						base = b
					}
				}
				if !exposed[base] {
					t.Errorf("%s queries %s, which gatehouse does not expose (expression %q)", file, name, e)
				}
			}
		}
	}
}

// mtExpressions are the PromQL expressions of the dashboard (every
// target's expr, and template queries) or of the rules file (expr, and
// queries in annotations).
func mtExpressions(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Ext(file) == ".json" {
		var dash struct {
			Title  string `json:"title"`
			Panels []struct {
				Title   string `json:"title"`
				Type    string `json:"type"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
			Templating struct {
				List []struct {
					Definition string `json:"definition"`
				} `json:"list"`
			} `json:"templating"`
		}
		if err := json.Unmarshal(b, &dash); err != nil {
			t.Fatalf("%s is not valid JSON: %v", file, err)
		}
		var out []string
		graphs := 0
		for _, p := range dash.Panels {
			if p.Type == "row" {
				continue
			}
			graphs++
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", file, p.Title)
			}
			for _, tg := range p.Targets {
				out = append(out, tg.Expr)
			}
		}
		for _, v := range dash.Templating.List {
			out = append(out, v.Definition)
		}
		if dash.Title == "" || graphs < 10 {
			t.Errorf("%s: title %q, %d panels: not the dashboard", file, dash.Title, graphs)
		}
		return out
	}
	// The rules file: its text is all expressions and annotations; every
	// metric name anywhere in it is checked.
	return []string{string(b)}
}

// TestAlertRulesPassPromtool checks deploy/prometheus/alerts.yml with
// promtool (Debian package prometheus).
func TestAlertRulesPassPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed: install it with `apt-get install -y prometheus` (Debian's prometheus package ships promtool)")
	}
	out, err := exec.Command(promtool, "check", "rules", "../deploy/prometheus/alerts.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "SUCCESS") {
		t.Errorf("promtool check rules did not report success:\n%s", out)
	}
}

// TestMetricsDirectorySync: an LDAP sign-in counts as method ldap, and a
// directory sync's progress, users and last success are served.
func TestMetricsDirectorySync(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{TLS: true})
	s := harness.Start(t)
	ldSetup(t, s, "mtdir", srv, srv.CAPEM)

	if _, err := pwConfig(s).PasswordCredentialsToken(context.Background(), `mtdir\alice`, "alice-pw"); err != nil {
		t.Fatalf("password grant for an LDAP user: %v", err)
	}
	href := azV2 + "/accounts/mtdir/providers/dir"
	_, final, _ := ldRunSync(t, s, href)
	if final["state"] != "done" {
		t.Fatalf("sync ended %v", final)
	}
	labels := map[string]string{"account": "mtdir", "provider": "dir"}
	var samples []mtSample
	// The sync's last status reaches the metrics right after its write,
	// which the provider document may show first.
	harness.WaitFor(t, time.Minute, "the sync's end in /metrics", func() bool {
		samples, _ = mtScrape(t, s)
		v, _ := mtValue(samples, "gatehouse_directory_syncs_total", map[string]string{"outcome": "done"})
		return v >= 1
	})
	if v, ok := mtValue(samples, "gatehouse_directory_sync_users", labels); !ok || v != float64(ldNum(final, "users")) {
		t.Errorf("gatehouse_directory_sync_users = %v (found %v), want %d", v, ok, ldNum(final, "users"))
	}
	if v, ok := mtValue(samples, "gatehouse_directory_sync_progress_ratio", labels); !ok || v != 1 {
		t.Errorf("gatehouse_directory_sync_progress_ratio = %v (found %v), want 1", v, ok)
	}
	if v, ok := mtValue(samples, "gatehouse_directory_sync_last_success_timestamp_seconds", labels); !ok || v < float64(time.Now().Add(-time.Hour).Unix()) {
		t.Errorf("gatehouse_directory_sync_last_success_timestamp_seconds = %v (found %v), want about now", v, ok)
	}
	if v, _ := mtValue(samples, "gatehouse_signins_total", map[string]string{"method": "ldap", "outcome": "success"}); v < 1 {
		t.Errorf("gatehouse_signins_total{method=ldap,outcome=success} = %v, want at least 1", v)
	}
}
