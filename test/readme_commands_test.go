package test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// readmeBlock returns the lines of the first indented code block after
// the README line containing marker.
func readmeBlock(t *testing.T, readme []string, marker string) []string {
	t.Helper()
	i := 0
	for i < len(readme) && !strings.Contains(readme[i], marker) {
		i++
	}
	for i < len(readme) && !strings.HasPrefix(readme[i], "    ") {
		i++
	}
	var out []string
	for ; i < len(readme) && (strings.HasPrefix(readme[i], "    ") || readme[i] == ""); i++ {
		if readme[i] != "" {
			out = append(out, readme[i][4:])
		}
	}
	if len(out) == 0 {
		t.Fatalf("README.md has no code block after %q", marker)
	}
	return out
}

// TestREADMECommands runs the README's "Try it" block and the block of
// the other commands in one bash, in an empty directory, as written but
// for two rewrites: the build reads the repository's sources (go -C), and
// the server listens on a free port instead of 8080 (GATEHOUSE_HTTP_LISTEN
// and the curl lines' address). Every command must succeed (bash -e) and
// say what the README says it does, and no server may be left running.
func TestREADMECommands(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("the README's commands need curl; install it (apt-get install curl; .ci/run does)")
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(file))
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := strings.Split(string(b), "\n")
	lines := append(readmeBlock(t, readme, "printed once to stderr. Try it"),
		readmeBlock(t, readme, `In the same shell, after "Try it"`)...)
	const build = "go build -o gatehouse ./cmd/gatehouse"
	if lines[0] != build {
		t.Fatalf("the Try it block starts with %q, want %q", lines[0], build)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ghxFreePort(t))
	lines[0] = fmt.Sprintf("go -C %q build -o \"$PWD/gatehouse\" ./cmd/gatehouse", root)
	script := strings.ReplaceAll(strings.Join(lines, "\n"), "127.0.0.1:8080", addr)

	dir := t.TempDir()
	cmd := exec.Command("bash", "-e", "-c", script)
	cmd.Dir = dir
	cmd.Env = ghxEnv("GATEHOUSE_HTTP_LISTEN="+addr, "HOME="+dir, "GOCACHE="+goEnv(t, "GOCACHE"),
		"GOMODCACHE="+goEnv(t, "GOMODCACHE"), "GOPATH="+goEnv(t, "GOPATH"))
	done := make(chan struct{})
	var out []byte
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the README's commands did not finish in 5 minutes:\n%s", out)
	}
	if err != nil {
		t.Fatalf("the README's commands failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		"gatehouse: backup gh.snapshot: revision ",
		"gatehouse: restored gh.snapshot into restored",
		"gatehouse: exported account acme to acme.xml",
		"gatehouse: imported account acme (/auth/v2/accounts/acme)",
		`gatehouse: password of system\admin set`,
		`gatehouse: lockout of system\admin cleared`,
		"<accounts", // the Try it block's curl
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the output lacks %q:\n%s", want, out)
		}
	}
	for _, f := range []string{"gh.snapshot", "gh.snapshot.sha256", "acme.xml", "restored", "other"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("the commands left no %s: %v", f, err)
		}
	}
	// kill $! stopped each server: the address is free again.
	deadline := time.Now().Add(30 * time.Second)
	for {
		l, err := net.Listen("tcp", addr)
		if err == nil {
			l.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a server still listens on %s after the README's commands", addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// goEnv is `go env NAME`, so that the README's build in a fresh HOME
// still finds this machine's module and build caches.
func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}
