package test

// The command line (SPEC §1, issue 13): help and version, and the
// offline operations through the real binary — passwd (one line on a
// non-terminal stdin, the password policy, an audit entry with actor
// "cli", then HTTP Basic sign-in with the new password), unlock, backup
// and restore against an external etcd while a server runs, and the
// refusal of an embedded data directory a running server holds.

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"gatehouse/storage"
	"gatehouse/storeadmin"
	"gatehouse/test/harness"
)

// cliRun runs the binary to its end (a generous guard against a hang,
// not a timing assertion) and returns its exit code and output.
func cliRun(t *testing.T, bin string, env []string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("gatehouse %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// cliSynced waits until s's cache has every write etcd has committed
// (the command line wrote behind its back).
func cliSynced(t *testing.T, s *harness.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := s.Store.Client().Get(ctx, "health-probe", clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Store.Read(ctx, r.Header.Revision, func(storage.View) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestCLI(t *testing.T) {
	bin := ghxBuild(t, t.TempDir())

	t.Run("help and version", func(t *testing.T) {
		for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"help", "backup"}, {"serve", "--help"}} {
			code, out, errs := cliRun(t, bin, ghxEnv(), "", args...)
			if code != 0 || errs != "" || !strings.Contains(out, "usage:") {
				t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
			}
		}
		_, out, _ := cliRun(t, bin, ghxEnv(), "", "help")
		if !strings.Contains(out, "GATEHOUSE_STORAGE_ETCD_ENDPOINTS") || !strings.Contains(out, "storage.data-dir") {
			t.Errorf("help does not describe the settings:\n%s", out)
		}
		for _, args := range [][]string{{"--version"}, {"version"}} {
			code, out, errs := cliRun(t, bin, ghxEnv(), "", args...)
			if code != 0 || errs != "" || out != "gatehouse "+ghxBinVersion+"\n" {
				t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
			}
		}
		code, out, errs := cliRun(t, bin, ghxEnv(), "", "frobnicate")
		if code != 2 || out != "" || !strings.Contains(errs, "usage:") {
			t.Errorf("unknown command: exit %d, stdout %q, stderr %q", code, out, errs)
		}
	})

	etcd := harness.Etcd(t)
	s := harness.StartOn(t, etcd)
	env := ghxEnv("GATEHOUSE_STORAGE_ETCD_ENDPOINTS=" + etcd)

	t.Run("passwd then Basic sign-in, audited", func(t *testing.T) {
		s.Admin("POST", "/auth/v2/accounts", `<account><name>cli</name><parent>system</parent></account>`).Must(t, http.StatusCreated)
		s.Admin("POST", "/auth/v2/accounts/cli/users", `<user><name>ann</name><password>first-pass-phrase-1</password></user>`).Must(t, http.StatusCreated)
		s.As(`cli\ann`, "first-pass-phrase-1", "GET", "/auth/v2/me", "").Must(t, http.StatusOK) // now in the credential cache
		since := time.Now()
		const pw = "cobalt-harbour-77"
		code, out, errs := cliRun(t, bin, env, pw+"\n", "passwd", `cli\ann`)
		if code != 0 {
			t.Fatalf("passwd: exit %d, stdout %q, stderr %q", code, out, errs)
		}
		if strings.Contains(out+errs, pw) {
			t.Fatal("passwd printed the password")
		}
		cliSynced(t, s)
		s.As(`cli\ann`, pw, "GET", "/auth/v2/me", "").Must(t, http.StatusOK)
		s.As(`cli\ann`, "first-pass-phrase-1", "GET", "/auth/v2/me", "").Must(t, http.StatusUnauthorized)
		es, _ := auAdminList(t, s, "account=cli")
		got := auFind(es, auEntry{Actor: storeadmin.Actor, Account: "cli", Action: "update",
			Target: "/auth/v2/accounts/cli/users/ann/password", Outcome: "success"})
		if len(got) != 1 || auTime(t, got[0]).Before(since.Add(-time.Second)) {
			t.Fatalf("audit entries of the passwd: %+v (all: %+v)", got, es)
		}

		// The policy holds: too short, and the user's own name.
		for _, bad := range []string{"short", "ann-ann-ann-ann"} {
			code, _, errs = cliRun(t, bin, env, bad+"\n", "passwd", `cli\ann`)
			if code != 1 || !strings.Contains(errs, "password rule") {
				t.Errorf("passwd %q: exit %d, stderr %q", bad, code, errs)
			}
		}
		s.As(`cli\ann`, pw, "GET", "/auth/v2/me", "").Must(t, http.StatusOK)
		code, _, errs = cliRun(t, bin, env, pw+"\n", "passwd", `cli\nobody`)
		if code != 1 || !strings.Contains(errs, "not found") {
			t.Errorf("passwd of a missing user: exit %d, stderr %q", code, errs)
		}
	})

	t.Run("unlock", func(t *testing.T) {
		const pw = "saffron-lantern-31"
		s.Admin("POST", "/auth/v2/accounts/cli/users", `<user><name>bob</name><password>`+pw+`</password></user>`).Must(t, http.StatusCreated)
		for range 10 {
			s.As(`cli\bob`, "wrong-password-0", "GET", "/auth/v2/me", "").Must(t, http.StatusUnauthorized)
		}
		locked := func() bool {
			return strings.Contains(s.Admin("GET", "/auth/v2/accounts/cli/users/bob", "").Must(t, http.StatusOK).Body, "<locked-until>")
		}
		harness.WaitFor(t, 60*time.Second, "bob locked out", locked)
		s.As(`cli\bob`, pw, "GET", "/auth/v2/me", "").Must(t, http.StatusTooManyRequests)
		code, out, errs := cliRun(t, bin, env, "", "unlock", `cli\bob`)
		if code != 0 || !strings.Contains(out, "cleared") {
			t.Fatalf("unlock: exit %d, stdout %q, stderr %q", code, out, errs)
		}
		harness.WaitFor(t, 60*time.Second, "bob unlocked", func() bool { return !locked() })
		harness.WaitFor(t, 60*time.Second, "bob signs in", func() bool {
			return s.As(`cli\bob`, pw, "GET", "/auth/v2/me", "").Status == http.StatusOK
		})
		es, _ := auAdminList(t, s, "account=cli")
		if got := auFind(es, auEntry{Actor: storeadmin.Actor, Action: "delete", Target: "/auth/v2/accounts/cli/users/bob/lockout"}); len(got) != 1 {
			t.Errorf("audit entries of the unlock: %+v", got)
		}
		code, _, errs = cliRun(t, bin, env, "", "unlock", `cli\nobody`)
		if code != 1 || !strings.Contains(errs, "not found") {
			t.Errorf("unlock of a missing user: exit %d, stderr %q", code, errs)
		}
	})

	t.Run("backup and restore on external etcd", func(t *testing.T) {
		dir := t.TempDir()
		file := filepath.Join(dir, "gh.snapshot")
		code, out, errs := cliRun(t, bin, env, "", "backup", file)
		if code != 0 || !strings.Contains(out, "revision ") || !strings.Contains(out, "sha256 ") {
			t.Fatalf("backup: exit %d, stdout %q, stderr %q", code, out, errs)
		}
		sum, err := os.ReadFile(file + ".sha256")
		if err != nil || !strings.HasSuffix(string(sum), "  gh.snapshot\n") {
			t.Fatalf("checksum file: %q, %v", sum, err)
		}
		restored := filepath.Join(dir, "restored")
		code, out, errs = cliRun(t, bin, ghxEnv(), "", "restore", file, "--data-dir", restored)
		if code != 0 {
			t.Fatalf("restore: exit %d, stdout %q, stderr %q", code, out, errs)
		}
		code, _, errs = cliRun(t, bin, ghxEnv(), "", "restore", file, "--data-dir", restored)
		if code != 1 || !strings.Contains(errs, "not empty") {
			t.Errorf("restore into a non-empty dir: exit %d, stderr %q", code, errs)
		}
		// A damaged backup is refused by its checksum.
		bad := filepath.Join(dir, "bad.snapshot")
		data, _ := os.ReadFile(file)
		data[len(data)/2] ^= 0xff
		if err := os.WriteFile(bad, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bad+".sha256", sum, 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, errs = cliRun(t, bin, ghxEnv(), "", "restore", bad, "--data-dir", filepath.Join(dir, "bad"))
		if code != 1 || !strings.Contains(errs, "checksum") {
			t.Errorf("restore of a damaged file: exit %d, stderr %q", code, errs)
		}
		// The restored dir, stopped, is backed up and its users unlocked
		// offline (the embedded store started on it like serve's).
		code, out, errs = cliRun(t, bin, ghxEnv(), "", "backup", filepath.Join(dir, "again.snapshot"), "--data-dir", restored)
		if code != 0 || !strings.Contains(out, "revision ") {
			t.Fatalf("backup of a stopped embedded store: exit %d, stdout %q, stderr %q", code, out, errs)
		}
		code, _, errs = cliRun(t, bin, ghxEnv(), "", "unlock", `cli\ann`, "--data-dir", restored)
		if code != 0 {
			t.Fatalf("unlock on a stopped embedded store: exit %d, stderr %q", code, errs)
		}
		// A server on the restored embedded dir has the password set above.
		cfg := harness.Config(t)
		cfg.Storage.DataDir = restored
		r := harness.StartWith(t, cfg)
		r.As(`cli\ann`, "cobalt-harbour-77", "GET", "/auth/v2/me", "").Must(t, http.StatusOK)

		// Its data dir is in use now: the offline commands refuse it.
		code, _, errs = cliRun(t, bin, ghxEnv(), "cobalt-harbour-78\n", "passwd", `cli\ann`, "--data-dir", restored)
		if code != 1 || !strings.Contains(errs, "in use") {
			t.Errorf("passwd on a data dir in use: exit %d, stderr %q", code, errs)
		}
		code, _, errs = cliRun(t, bin, ghxEnv(), "", "backup", filepath.Join(dir, "x"), "--data-dir", filepath.Join(dir, "none"))
		if code != 1 || !strings.Contains(errs, "holds no embedded store") {
			t.Errorf("backup of an empty data dir: exit %d, stderr %q", code, errs)
		}
	})
}
