package test

// Backup and restore (SPEC §3c): GET /auth/v2/backup streams an etcd
// snapshot while writes run; storeadmin.Restore (gatehouse restore)
// makes a new embedded data dir from it; a server started there has
// every write acknowledged before the backup began and serves the same
// documents with the same ETags. The route is for system principals
// only, whatever a tenant's ceiling holds.

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/storeadmin"
	"gatehouse/test/harness"
)

func TestBackupWhileWritingRestoresEveryAcknowledgedWrite(t *testing.T) {
	s := harness.Start(t)
	s.Admin("POST", "/auth/v2/accounts", `<account><name>bk</name><parent>system</parent></account>`).Must(t, http.StatusCreated)
	s.Admin("POST", "/auth/v2/accounts/bk/users", `<user><name>kim</name><password>tangerine-secret-1</password><email>kim@example.com</email></user>`).Must(t, http.StatusCreated)

	// Writers create users until told to stop; acked[i] is set once user
	// w-i's creation answered 201.
	const writers = 4
	var (
		stop   atomic.Bool
		mu     sync.Mutex
		acked  = map[string]bool{}
		wg     sync.WaitGroup
		failed atomic.Value
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				name := fmt.Sprintf("w%d-%d", w, i)
				r := s.Admin("POST", "/auth/v2/accounts/bk/users", `<user><name>`+name+`</name><email>`+name+`@example.com</email></user>`)
				if r.Status != http.StatusCreated {
					failed.Store(fmt.Sprintf("create %s: %d %s", name, r.Status, r.Body))
					return
				}
				mu.Lock()
				acked[name] = true
				mu.Unlock()
			}
		}()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	harness.WaitFor(t, 60*time.Second, "some writes acknowledged", func() bool { return count() >= 20 })

	// Everything acknowledged now must be in the backup.
	mu.Lock()
	before := make([]string, 0, len(acked))
	for n := range acked {
		before = append(before, n)
	}
	mu.Unlock()
	hr, err := http.NewRequest("GET", s.URL()+"/auth/v2/backup", nil)
	if err != nil {
		t.Fatal(err)
	}
	hr.SetBasicAuth(`system\admin`, harness.AdminPassword)
	resp, err := s.Client.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "gatehouse.snapshot")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.ReadFrom(resp.Body)
	resp.Body.Close()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("GET /auth/v2/backup: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if rev, err := strconv.ParseInt(resp.Header.Get("Gatehouse-Snapshot-Revision"), 10, 64); err != nil || rev <= 0 {
		t.Fatalf("Gatehouse-Snapshot-Revision %q", resp.Header.Get("Gatehouse-Snapshot-Revision"))
	}
	// Let the writes go on past the backup, then stop them.
	n := count()
	harness.WaitFor(t, 60*time.Second, "writes after the backup", func() bool { return count() >= n+10 })
	stop.Store(true)
	wg.Wait()
	if msg := failed.Load(); msg != nil {
		t.Fatal(msg)
	}

	// Documents the writes after the backup did not change, as the
	// original server shows them.
	docs := map[string]*harness.Response{}
	for _, p := range []string{"/auth/v2/accounts/bk/users/kim", "/auth/v2/accounts/bk/users/" + before[0]} {
		docs[p] = s.Admin("GET", p, "").Must(t, http.StatusOK)
	}

	dir := filepath.Join(t.TempDir(), "restored")
	if err := storeadmin.Restore(file, dir, 0); err != nil {
		t.Fatal(err)
	}
	// A second restore into the now non-empty dir is refused.
	if err := storeadmin.Restore(file, dir, 0); !errors.Is(err, storeadmin.ErrNotEmpty) {
		t.Fatalf("restore into a non-empty dir: %v", err)
	}
	cfg := harness.Config(t)
	cfg.Storage.DataDir = dir
	r := harness.StartWith(t, cfg)
	for _, name := range before {
		r.Admin("GET", "/auth/v2/accounts/bk/users/"+name, "").Must(t, http.StatusOK)
	}
	for p, want := range docs {
		got := r.Admin("GET", p, "").Must(t, http.StatusOK)
		if got.Body != want.Body || got.Header.Get("ETag") != want.Header.Get("ETag") || want.Header.Get("ETag") == "" {
			t.Errorf("%s after restore:\n%s %s\nbefore:\n%s %s", p, got.Header.Get("ETag"), got.Body, want.Header.Get("ETag"), want.Body)
		}
	}
	// The restored users sign in with their passwords.
	r.As(`bk\kim`, "tangerine-secret-1", "GET", "/auth/v2/me", "").Must(t, http.StatusOK)
}

// A tenant administrator holding "*" under a "*" ceiling finds no
// backup; system\admin gets one.
func TestBackupSystemPrincipalsOnly(t *testing.T) {
	s := harness.Start(t)
	for _, st := range []struct{ method, path, body string }{
		{"POST", "/auth/v2/accounts", `<account><name>tn</name><parent>system</parent></account>`},
		{"PUT", "/auth/v2/accounts/tn/permissions", `<permissions><permission>*</permission></permissions>`},
		{"POST", "/auth/v2/accounts/tn/roles", `<role><name>all</name><permissions><permission>*</permission></permissions></role>`},
		{"POST", "/auth/v2/accounts/tn/users", `<user><name>boss</name><password>tangerine-secret-1</password></user>`},
		{"POST", "/auth/v2/accounts/tn/users/boss/roles", `<role identifier="all"/>`},
	} {
		if r := s.Admin(st.method, st.path, st.body); r.Status != http.StatusCreated && r.Status != http.StatusNoContent {
			t.Fatalf("%s %s: %d %s", st.method, st.path, r.Status, r.Body)
		}
	}
	s.As(`tn\boss`, "tangerine-secret-1", "GET", "/auth/v2/backup", "").Must(t, http.StatusNotFound)
	s.Do(harness.Request{Method: "GET", Path: "/auth/v2/backup"}).Must(t, http.StatusUnauthorized)
	if r := s.Admin("GET", "/auth/v2/backup", ""); r.Status != http.StatusOK || len(r.Body) < 1024 {
		t.Fatalf("system\\admin: %d, %d bytes", r.Status, len(r.Body))
	}
}
