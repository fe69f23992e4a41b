package test

// Behaviour under faults (SPEC §11): etcd unreachable → 503 within the
// configured timeout, /readyz fails, no answer from a stale cache, and
// service resumes by itself when etcd returns, with nothing acknowledged
// lost and nothing half-applied.
//
// No assertion here is about time: "503 within the timeout" is checked as
// "a 503 arrives" (the harness client gives up after 30 s, failing the
// test, so a hanging request cannot pass), "stale after the timeout" as
// "reads stop answering from the cache" and recovery as "everything works
// again", each before a generous deadline. The delays are logged.

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatehouse/storage"
	"gatehouse/test/harness"
)

func TestFaultEtcdOutage(t *testing.T) {
	const timeout = 2 * time.Second
	dir := t.TempDir()
	clientPort, peerPort := ghxFreePort(t), ghxFreePort(t)
	etcd, err := storage.StartEmbedded(dir, clientPort, peerPort)
	if err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	etcdUp := true
	t.Cleanup(func() {
		if etcdUp {
			etcd.Close()
		}
	})

	cfg := harness.Config(t)
	cfg.Storage.Etcd.Endpoints = []string{etcd.Endpoint}
	cfg.Storage.Timeout = timeout
	s := harness.StartWith(t, cfg)

	// Acknowledged writes before the outage.
	s.Admin("GET", "/auth/v2/accounts/system", "").Must(t, http.StatusOK)
	s.Admin("POST", "/auth/v2/accounts/system/users",
		`<user><name>before</name><password>long-enough-1</password></user>`).Must(t, http.StatusCreated)
	s.Admin("POST", "/auth/v2/accounts/system/roles",
		`<role><name>kept</name><permissions><permission>print:jobs:read</permission><permission>print:jobs:delete</permission></permissions></role>`).
		Must(t, http.StatusCreated)
	s.Admin("POST", "/auth/v2/accounts/system/users/before/roles", `<role identifier="kept"/>`).Must(t, http.StatusCreated)
	if r := s.Do(harness.Request{Method: "GET", Path: "/readyz"}); r.Status != http.StatusOK {
		t.Fatalf("/readyz before the outage: %d %s", r.Status, r.Body)
	}

	// --- etcd goes away. The embedded server keeps answering until
	// Close returns, so the outage starts then.
	closing := time.Now()
	etcd.Close()
	etcdUp = false
	down := time.Now()
	t.Logf("etcd closed in %v", down.Sub(closing))

	mustBe503 := func(what string, r *harness.Response, took time.Duration) {
		t.Helper()
		if r.Status != http.StatusServiceUnavailable {
			t.Errorf("%s during the outage: status %d after %v, want 503; body:\n%s", what, r.Status, took, r.Body)
			return
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+xml") {
			t.Errorf("%s: 503 with Content-Type %q, want application/problem+xml", what, ct)
		}
		if r.Root() == nil || r.Root().SelectElement("status") == nil || r.Root().SelectElement("status").Text() != "503" {
			t.Errorf("%s: the 503 is not a problem document with status 503:\n%s", what, r.Body)
		}
		if took > 0 {
			t.Logf("%s: 503 after %v (storage timeout %v)", what, took, timeout)
		}
	}

	// A write answers 503 rather than hanging.
	start := time.Now()
	r := s.Admin("POST", "/auth/v2/accounts/system/users", `<user><name>during-1</name></user>`)
	took := time.Since(start)
	t.Logf("write during the outage: %d after %v (%v since etcd went down)", r.Status, took, time.Since(down))
	mustBe503("POST user", r, took)

	// Reads answer 503 once the cache is known to be stale (after the
	// storage timeout), and never again 200 afterwards.
	var last *harness.Response
	d, ok := ghxPoll(ghxPatience, func() bool {
		last = s.Admin("GET", "/auth/v2/accounts/system/users/before", "")
		return last.Status != http.StatusOK
	})
	if !ok {
		t.Fatalf("reads still answer 200 from the cache %v after etcd went down (storage timeout %v)", d, timeout)
	}
	t.Logf("reads answer %d %v after etcd went down (storage timeout %v)", last.Status, time.Since(down), timeout)
	mustBe503("GET user", last, 0)
	for _, p := range []string{
		"/auth/v2/accounts/system/users/before",
		"/auth/v2/accounts/system?depth=2",
		"/auth/v2/accounts/system/users/before/permissions/print:jobs:read",
		"/auth/v2/accounts",
	} {
		start := time.Now()
		r := s.Admin("GET", p, "")
		mustBe503("GET "+p, r, time.Since(start))
	}
	// A write with a stale cache: a role with several permissions, which
	// must be all there or all absent after the outage.
	start = time.Now()
	r = s.Admin("POST", "/auth/v2/accounts/system/roles",
		`<role><name>during-2</name><permissions><permission>a:b</permission><permission>c:d</permission><permission>e:f</permission></permissions></role>`)
	mustBe503("POST role with a stale cache", r, time.Since(start))
	// Credentials the instance has not seen before cannot be checked
	// either: 503, not 401.
	start = time.Now()
	r = s.As(`system\before`, "long-enough-1", "GET", "/auth/v2/accounts/system", "")
	mustBe503("sign-in of an uncached user", r, time.Since(start))

	start = time.Now()
	rz := s.Do(harness.Request{Method: "GET", Path: "/readyz"})
	if rz.Status != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the outage: %d, want 503", rz.Status)
	}
	t.Logf("/readyz during the outage: %d after %v", rz.Status, time.Since(start))
	if h := s.Do(harness.Request{Method: "GET", Path: "/healthz"}); h.Status != http.StatusOK {
		t.Errorf("/healthz during the outage: %d, want 200 (the process is alive)", h.Status)
	}
	t.Logf("outage lasted %v before etcd restarts", time.Since(down))

	// --- etcd returns on the same directory and ports.
	etcd, err = storage.StartEmbedded(dir, clientPort, peerPort)
	if err != nil {
		t.Fatalf("restart etcd: %v", err)
	}
	etcdUp = true
	up := time.Now()
	// Poll reads, writes and /readyz together until all work again, with
	// no help from the test.
	const recoveryDeadline = 60 * time.Second
	var readOK, writeOK, readyOK time.Duration
	n := 0
	ghxPoll(recoveryDeadline, func() bool {
		if readOK == 0 && s.Admin("GET", "/auth/v2/accounts/system/users/before", "").Status == http.StatusOK {
			readOK = time.Since(up)
		}
		if writeOK == 0 {
			n++
			if s.Admin("POST", "/auth/v2/accounts/system/users", `<user><name>after-`+strconv.Itoa(n)+`</name></user>`).Status == http.StatusCreated {
				writeOK = time.Since(up)
			}
		}
		if readyOK == 0 && s.Do(harness.Request{Method: "GET", Path: "/readyz"}).Status == http.StatusOK {
			readyOK = time.Since(up)
		}
		return readOK != 0 && writeOK != 0 && readyOK != 0
	})
	t.Logf("after etcd came back: reads resumed after %v, writes after %v, /readyz after %v (0 = never within %v)",
		readOK, writeOK, readyOK, time.Since(up))
	for what, d := range map[string]time.Duration{"reads": readOK, "writes": writeOK, "/readyz": readyOK} {
		if d == 0 {
			t.Errorf("%s did not resume by themselves within %v of etcd's return", what, time.Since(up))
		}
	}
	if readOK == 0 || writeOK == 0 {
		s.Close()
		t.FailNow()
	}

	// Nothing acknowledged is lost.
	s.Admin("GET", "/auth/v2/accounts/system/users/before", "").Must(t, http.StatusOK)
	s.Admin("GET", "/auth/v2/accounts/system/users/before/permissions/print:jobs:delete", "").Must(t, http.StatusOK)
	perms := s.Admin("GET", "/auth/v2/accounts/system/roles/kept/permissions", "").Must(t, http.StatusOK)
	if c := perms.Root().SelectAttrValue("count", ""); c != "2" {
		t.Errorf("role kept has count=%q permissions after the outage, want 2:\n%s", c, perms.Body)
	}
	r = s.As(`system\before`, "long-enough-1", "GET", "/auth/v2/accounts/system", "")
	if r.Status != http.StatusForbidden {
		t.Errorf("user before signing in after the outage: %d, want 403 (valid credentials, no permission)", r.Status)
	}

	// Nothing unacknowledged is half there: the API and etcd agree, and the
	// role is complete or absent.
	keys := ghxEtcdKeys(t, s)
	for _, u := range []string{"before", "during-1"} {
		_, inEtcd := keys["t/system/user/"+u]
		st := s.Admin("GET", "/auth/v2/accounts/system/users/"+u, "").Status
		if (st == http.StatusOK) != inEtcd {
			t.Errorf("user %s: API answers %d but etcd has it: %v", u, st, inEtcd)
		}
	}
	if _, ok := keys["t/system/user/before"]; !ok {
		t.Errorf("acknowledged user before is missing from etcd after the outage")
	}
	_, role := keys["t/system/role/during-2"]
	rperms := ghxNamesUnder(keys, "t/system/rperm/during-2/")
	if role && len(rperms) != 3 || !role && len(rperms) != 0 {
		t.Errorf("the role written during the outage is half applied: role key %v, permissions %q", role, rperms)
	}
	t.Logf("unacknowledged writes after the outage: user during-1 present=%v, role during-2 present=%v",
		keys["t/system/user/during-1"] != nil, role)

	// Close gatehouse before its etcd.
	s.Close()
}
