package test

// Lockout that holds across instances (issue 11, item 5): failure counts
// per user live in etcd, so two instances on one etcd allow a user the
// same number of wrong passwords as one instance does, and the lock they
// reach is seen by both (SPEC §6 brute force, §3c throttling).

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatehouse/test/harness"
)

const (
	loPass    = "lockout-pass-1"
	loWrong   = "not-the-password"
	loFails   = 4
	loWindow  = 10 * time.Minute
	loUsers   = "/auth/v2/accounts/system/users"
	loVictim  = `system\lo-victim`
	loBystand = `system\lo-bystander`
)

// TestLockoutAcrossInstances: user-failures wrong passwords spread over
// two instances — neither sees the limit itself — lock the user on both:
// the right password then gets 429 with a Retry-After within the window
// on each instance, while another user signs in on both.
func TestLockoutAcrossInstances(t *testing.T) {
	ep := harness.Etcd(t)
	start := func() *harness.Server {
		cfg := harness.Config(t)
		cfg.Storage.Etcd.Endpoints = []string{ep}
		cfg.Auth.Throttle.UserFailures = loFails
		cfg.Auth.Throttle.UserWindow = loWindow
		return harness.StartWith(t, cfg)
	}
	a, b := start(), start()
	for _, u := range []string{"lo-victim", "lo-bystander"} {
		a.Admin("POST", loUsers, "<user><name>"+u+"</name><password>"+loPass+"</password></user>").Must(t, http.StatusCreated)
		ghxPropagates(t, "user "+u, b, "GET", loUsers+"/"+u, http.StatusOK)
	}
	// Signed in, without permission to read /me: 403, not 401.
	const signedIn = http.StatusForbidden
	for i, s := range []*harness.Server{a, b} {
		if r := s.As(loBystand, loPass, "GET", "/auth/v2/me", ""); r.Status != signedIn {
			t.Fatalf("instance %d: the bystander's password gets %d, want %d; body:\n%s", i, r.Status, signedIn, r.Body)
		}
	}

	// Wrong passwords alternate between the instances: each sees two of
	// its own, and the shared count stays below the limit until the
	// last, so every one of them is a 401, not a 429.
	servers := []*harness.Server{a, b}
	for i := range loFails {
		s := servers[i%2]
		if r := s.As(loVictim, loWrong, "GET", "/auth/v2/me", ""); r.Status != http.StatusUnauthorized {
			t.Fatalf("wrong password %d (instance %d): %d, want 401; body:\n%s", i+1, i%2, r.Status, r.Body)
		}
	}

	// Both instances lock the victim, as soon as the instance's watch
	// has delivered the other's failures. An administrator sees it on
	// the user document (waited for: a sign-in with the right password
	// before the watch delivered would succeed, and a success clears the
	// count): locked-until within the window, the same on both; the
	// bystander's document shows none.
	victim := loUsers + "/lo-victim"
	var untilA string
	for i, s := range servers {
		var last *harness.Response
		d, ok := ghxPoll(ghxPatience, func() bool {
			last = s.Admin("GET", victim, "")
			return loLockedUntil(last) != ""
		})
		if !ok {
			t.Fatalf("instance %d: the locked user's document shows no locked-until after %v:\n%s", i, d, last.Body)
		}
		t.Logf("instance %d: locked after %v", i, d)
		until, err := time.Parse(time.RFC3339, loLockedUntil(last))
		if err != nil || until.Before(time.Now()) || until.After(time.Now().Add(loWindow+time.Second)) {
			t.Errorf("instance %d: locked-until %q (%v), want an RFC 3339 time within the window", i, loLockedUntil(last), err)
		}
		if i == 0 {
			untilA = loLockedUntil(last)
		} else if got := loLockedUntil(last); got != untilA {
			t.Errorf("the instances show different lockout ends: %s, %s", untilA, got)
		}
		if r := s.Admin("GET", loUsers+"/lo-bystander", ""); loLockedUntil(r) != "" {
			t.Errorf("instance %d: the bystander's document shows locked-until %s", i, loLockedUntil(r))
		}
	}
	// Then the right password gets 429 with a Retry-After within the
	// window on each instance.
	for i, s := range servers {
		r := s.As(loVictim, loPass, "GET", "/auth/v2/me", "")
		if r.Status != http.StatusTooManyRequests {
			t.Fatalf("instance %d: the right password after %d wrong ones spread over both instances gets %d, want 429; body:\n%s",
				i, loFails, r.Status, r.Body)
		}
		secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if err != nil || secs < 1 || time.Duration(secs)*time.Second > loWindow {
			t.Errorf("instance %d: Retry-After %q, want whole seconds in 1..%d", i, r.Header.Get("Retry-After"), int(loWindow.Seconds()))
		}
	}
	// The lock holds: a further attempt on each, right or wrong, is a 429.
	for i, s := range servers {
		for _, pass := range []string{loPass, loWrong} {
			if r := s.As(loVictim, pass, "GET", "/auth/v2/me", ""); r.Status != http.StatusTooManyRequests {
				t.Errorf("instance %d: a locked user's attempt gets %d, want 429", i, r.Status)
			}
		}
	}
	// Another user is not affected, on either instance.
	for i, s := range servers {
		if r := s.As(loBystand, loPass, "GET", "/auth/v2/me", ""); r.Status != signedIn {
			t.Errorf("instance %d: the bystander gets %d while another user is locked, want %d; body:\n%s", i, r.Status, signedIn, r.Body)
		}
	}

	// The fetched document PUT back as it is is accepted (locked-until
	// is read-only) and changes nothing of the lockout.
	doc := a.Admin("GET", victim, "").Must(t, http.StatusOK)
	if r := a.Admin("PUT", victim, doc.Body); r.Status != http.StatusNoContent && r.Status != http.StatusOK {
		t.Fatalf("PUT of the fetched locked user's document: %d, want 204; body:\n%s", r.Status, r.Body)
	}
	if r := a.Admin("GET", victim, ""); loLockedUntil(r) != untilA {
		t.Errorf("after the PUT locked-until is %q, want %q", loLockedUntil(r), untilA)
	}

	// Clearing it: without auth:users:lockout:delete 403, an unknown
	// user 404; then the administrator clears it on b, and the right
	// password works on both instances.
	if r := b.As(loBystand, loPass, "DELETE", victim+"/lockout", ""); r.Status != http.StatusForbidden {
		t.Errorf("DELETE …/lockout without the permission: %d, want 403; body:\n%s", r.Status, r.Body)
	}
	if r := b.Admin("DELETE", loUsers+"/lo-nobody/lockout", ""); r.Status != http.StatusNotFound {
		t.Errorf("DELETE …/lockout of an unknown user: %d, want 404; body:\n%s", r.Status, r.Body)
	}
	// Another tenant's administrator (holding * in its own account) gets
	// the 404 of a missing account.
	azCreateAccount(t, a, "lo-tenant", "system")
	azUserWithRole(t, a, "lo-tenant", "lo-ta", azPassword, "lo-admin", "*")
	if r := a.As(`lo-tenant\lo-ta`, azPassword, "DELETE", victim+"/lockout", ""); r.Status != http.StatusNotFound {
		t.Errorf("DELETE …/lockout by another tenant's administrator: %d, want 404; body:\n%s", r.Status, r.Body)
	}
	if r := a.As(loVictim, loPass, "GET", "/auth/v2/me", ""); r.Status != http.StatusTooManyRequests {
		t.Fatalf("a refused clear lifted the lock: %d", r.Status)
	}
	b.Admin("DELETE", victim+"/lockout", "").Must(t, http.StatusNoContent)
	for i, s := range servers {
		var last *harness.Response
		d, ok := ghxPoll(ghxPatience, func() bool {
			last = s.As(loVictim, loPass, "GET", "/auth/v2/me", "")
			return last.Status == signedIn
		})
		if !ok {
			t.Fatalf("instance %d: the right password after the clear still gets %d after %v, want %d; body:\n%s",
				i, last.Status, d, signedIn, last.Body)
		}
		t.Logf("instance %d: unlocked after %v", i, d)
		if r := s.Admin("GET", victim, ""); loLockedUntil(r) != "" {
			t.Errorf("instance %d: the document still shows locked-until %s after the clear", i, loLockedUntil(r))
		}
	}
	// Idempotent: nothing to clear is a 204 too.
	a.Admin("DELETE", victim+"/lockout", "").Must(t, http.StatusNoContent)
	// The clear was audited, as an administrator's delete of the lockout.
	es, _ := auAdminList(t, a, "page-size=1000&action=delete")
	if got := auFind(es, auEntry{Actor: `system\admin`, Target: victim + "/lockout", Outcome: "success"}); len(got) != 1 {
		t.Errorf("audit entries of the clear: %+v, want 1", got)
	}
}

// loLockedUntil is the locked-until of a user document ("" if none).
func loLockedUntil(r *harness.Response) string {
	if r.Root() == nil {
		return ""
	}
	if el := r.Root().SelectElement("locked-until"); el != nil {
		return el.Text()
	}
	return ""
}

// TestPermanentLockout: with auth.throttle.user-disable-failures, the
// consecutive failed sign-ins of a user, counted past the temporary
// lockout's window (an injected clock moves past it), disable the user
// at the threshold: the right password is refused, the user document
// shows enabled false, and the audit log holds the lockout's own entry.
// An administrator's PUT of enabled=true lifts it and starts the count
// afresh; a success resets it too.
func TestPermanentLockout(t *testing.T) {
	const (
		fails   = 3
		disable = 5
		user    = `system\lo-perm`
		doc     = loUsers + "/lo-perm"
	)
	clock := harness.NewClock(time.Now())
	cfg := harness.Config(t)
	cfg.Auth.Throttle.UserFailures = fails
	cfg.Auth.Throttle.UserWindow = loWindow
	cfg.Auth.Throttle.UserDisableFailures = disable
	s := harness.StartClocked(t, cfg, clock.Now)
	s.Admin("POST", loUsers, "<user><name>lo-perm</name><password>"+loPass+"</password></user>").Must(t, http.StatusCreated)
	const signedIn = http.StatusForbidden
	wrong := func(n int) {
		t.Helper()
		for i := range n {
			if r := s.As(user, loWrong, "GET", "/auth/v2/me", ""); r.Status != http.StatusUnauthorized {
				t.Fatalf("wrong password %d: %d, want 401; body:\n%s", i+1, r.Status, r.Body)
			}
		}
	}
	enabled := func() string {
		t.Helper()
		r := s.Admin("GET", doc, "").Must(t, http.StatusOK)
		if el := r.Root().SelectElement("enabled"); el != nil {
			return el.Text()
		}
		return ""
	}

	// A success resets the count: 4 wrong around a success never disable.
	wrong(2)
	s.As(user, loPass, "GET", "/auth/v2/me", "").Must(t, signedIn)
	wrong(fails)
	if r := s.As(user, loPass, "GET", "/auth/v2/me", ""); r.Status != http.StatusTooManyRequests {
		t.Fatalf("after %d wrong passwords: %d, want 429", fails, r.Status)
	}
	clock.Advance(loWindow) // the temporary lockout ends, the count of consecutive failures does not
	wrong(disable - fails - 1)
	if got := enabled(); got != "true" {
		t.Fatalf("disabled after %d consecutive failures (threshold %d): enabled %q", disable-1, disable, got)
	}
	// The threshold: disabled.
	wrong(1)
	if got := enabled(); got != "false" {
		t.Fatalf("after %d consecutive failures the user document shows enabled %q, want false", disable, got)
	}
	if r := s.As(user, loPass, "GET", "/auth/v2/me", ""); r.Status != http.StatusUnauthorized {
		t.Errorf("the disabled user's right password gets %d, want 401", r.Status)
	}
	var got []auEntry
	harness.WaitFor(t, ghxPatience, "the permanent lockout's audit entry", func() bool {
		es, _ := auAdminList(t, s, "page-size=1000&action=update")
		got = auFind(es, auEntry{Actor: user, Account: "system", Target: doc, Outcome: "success"})
		return len(got) > 0
	})
	if len(got) != 1 || !strings.Contains(got[0].Detail, "permanent lockout") ||
		!strings.Contains(got[0].Detail, strconv.Itoa(disable)) || got[0].Address != "127.0.0.1" {
		t.Errorf("audit entries of the lockout: %+v; want one naming the lockout and %d failures, from 127.0.0.1", got, disable)
	}

	// Lifted by enabling the user again; the count starts afresh, so
	// another threshold's worth less one does not disable it.
	s.Admin("PUT", doc, "<user><enabled>true</enabled></user>").Must(t, http.StatusNoContent)
	clock.Advance(loWindow)
	wrong(fails)
	clock.Advance(loWindow)
	wrong(disable - fails - 1)
	if got := enabled(); got != "true" {
		t.Fatalf("re-enabled user disabled again after %d new failures: enabled %q", disable-1, got)
	}
	s.As(user, loPass, "GET", "/auth/v2/me", "").Must(t, signedIn)
}
