package test

// Lockout that holds across instances (issue 11, item 5): failure counts
// per user live in etcd, so two instances on one etcd allow a user the
// same number of wrong passwords as one instance does, and the lock they
// reach is seen by both (SPEC §6 brute force, §3c throttling).

import (
	"net/http"
	"strconv"
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

	// Both instances lock the victim: the right password gets 429 with a
	// Retry-After within the window, as soon as the instance's watch
	// has delivered the other's failures.
	for i, s := range servers {
		var last *harness.Response
		d, ok := ghxPoll(ghxPatience, func() bool {
			last = s.As(loVictim, loPass, "GET", "/auth/v2/me", "")
			return last.Status == http.StatusTooManyRequests
		})
		if !ok {
			t.Fatalf("instance %d: the right password after %d wrong ones spread over both instances still gets %d after %v, want 429; body:\n%s",
				i, loFails, last.Status, d, last.Body)
		}
		secs, err := strconv.Atoi(last.Header.Get("Retry-After"))
		if err != nil || secs < 1 || time.Duration(secs)*time.Second > loWindow {
			t.Errorf("instance %d: Retry-After %q, want whole seconds in 1..%d", i, last.Header.Get("Retry-After"), int(loWindow.Seconds()))
		}
		t.Logf("instance %d: locked after %v (Retry-After %s s)", i, d, last.Header.Get("Retry-After"))
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
}
