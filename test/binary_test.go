package test

// The real binary (SPEC §2): `gatehouse version`, start-up with no
// configuration on an embedded etcd, the bootstrap admin password, health,
// readiness and metrics, graceful SIGTERM, restarts on the same data
// directory, configuration errors, Kubernetes' service variables, and
// configuration by file.

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatehouse/test/harness"
)

// ghxBinVersion is stamped into the test build with -ldflags -X.
const ghxBinVersion = "v9.8.7-e2e"

// ghxBuild builds ./cmd/gatehouse into dir and returns the binary's path.
func ghxBuild(t *testing.T, dir string) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source")
	}
	root := filepath.Dir(filepath.Dir(file))
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root %s has no go.mod: %v", root, err)
	}
	bin := filepath.Join(dir, "gatehouse")
	cmd := exec.Command("go", "build", "-o", bin,
		"-ldflags", "-X gatehouse/instance.Version="+ghxBinVersion, "./cmd/gatehouse")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/gatehouse: %v\n%s", err, out)
	}
	return bin
}

// ghxFreePort returns a loopback port that was free a moment ago.
func ghxFreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ghxEnv is the test process's environment without any GATEHOUSE_*
// variable, plus extra.
func ghxEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// ghxProc is one run of the binary.
type ghxProc struct {
	cmd    *exec.Cmd
	stdout ghxSyncBuffer
	stderr ghxSyncBuffer
	done   chan struct{}
	err    error
	base   string // http://host:port
}

// ghxRun starts the binary; it is killed at the end of the test if it is
// still running.
func ghxRun(t *testing.T, bin, workdir string, env []string, args ...string) *ghxProc {
	t.Helper()
	p := &ghxProc{done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = workdir
	p.cmd.Env = env
	p.cmd.Stdout = &p.stdout
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *ghxProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits up to d for the process to exit and returns its exit code.
func (p *ghxProc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("the process did not exit within %v; stderr:\n%s", d, p.stderr.String())
	}
	if p.err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	t.Fatalf("waiting for the process: %v", p.err)
	return -1
}

// serving waits until GET /healthz on addr answers 200.
func (p *ghxProc) serving(t *testing.T, addr string) {
	t.Helper()
	p.base = "http://" + addr
	const patience = 60 * time.Second
	c := &http.Client{Timeout: 30 * time.Second}
	if _, ok := harness.Poll(patience, func() bool {
		if p.exited() {
			t.Fatalf("gatehouse exited before serving (%v); stderr:\n%s", p.err, p.stderr.String())
		}
		resp, err := c.Get(p.base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}); !ok {
		t.Fatalf("gatehouse did not serve /healthz on %s within %v; stderr:\n%s", addr, patience, p.stderr.String())
	}
}

// call performs one request against the process.
func (p *ghxProc) call(t *testing.T, method, path, user, pass, body string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, p.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/xml")
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// sigterm sends SIGTERM and returns the exit code and how long the exit
// took.
func (p *ghxProc) sigterm(t *testing.T) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	code := p.wait(t, 30*time.Second)
	return code, time.Since(start)
}

func TestBinary(t *testing.T) {
	bin := ghxBuild(t, t.TempDir())

	t.Run("Version", func(t *testing.T) {
		p := ghxRun(t, bin, t.TempDir(), ghxEnv(), "version")
		if code := p.wait(t, 20*time.Second); code != 0 {
			t.Fatalf("gatehouse version: exit code %d; stderr:\n%s", code, p.stderr.String())
		}
		out := strings.TrimSpace(p.stdout.String())
		if !strings.Contains(out, ghxBinVersion) {
			t.Errorf("gatehouse version printed %q, want it to contain the build's version %q", out, ghxBinVersion)
		}
		if strings.Count(out, "\n") != 0 {
			t.Errorf("gatehouse version printed more than one line: %q", out)
		}
	})

	t.Run("ServeWithAdminPasswordFromEnvironment", func(t *testing.T) {
		const pw = "env-admin-password-1"
		work, data := t.TempDir(), t.TempDir()
		addr := fmt.Sprintf("127.0.0.1:%d", ghxFreePort(t))
		p := ghxRun(t, bin, work, ghxEnv("GATEHOUSE_ADMIN_PASSWORD="+pw), "--listen", addr, "--data-dir", data)
		p.serving(t, addr)

		if code, _, body := p.call(t, "GET", "/readyz", "", "", ""); code != http.StatusOK {
			t.Errorf("/readyz: %d, want 200; body %q", code, body)
		}
		code, hdr, body := p.call(t, "GET", "/auth/v2/accounts/system", `system\admin`, pw, "")
		if code != http.StatusOK || !strings.Contains(body, `<account identifier="system"`) {
			t.Errorf("GET /auth/v2/accounts/system as admin: %d, want 200 with the system account; body:\n%s", code, body)
		}
		if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/xml") {
			t.Errorf("Content-Type %q, want application/xml", ct)
		}
		code, hdr, _ = p.call(t, "GET", "/auth/v2/accounts/system", `system\admin`, "wrong-password-1", "")
		if code != http.StatusUnauthorized || hdr.Get("WWW-Authenticate") == "" {
			t.Errorf("wrong password: %d (WWW-Authenticate %q), want 401 with a challenge", code, hdr.Get("WWW-Authenticate"))
		}
		if code, _, _ = p.call(t, "GET", "/auth/v2/accounts/system", "", "", ""); code != http.StatusUnauthorized {
			t.Errorf("no credentials: %d, want 401", code)
		}
		code, _, metrics := p.call(t, "GET", "/metrics", "", "", "")
		if code != http.StatusOK {
			t.Fatalf("/metrics: %d", code)
		}
		found := false
		for _, line := range strings.Split(metrics, "\n") {
			if strings.HasPrefix(line, "gatehouse_http_request_duration_seconds_count{") &&
				strings.Contains(line, `method="GET"`) && strings.Contains(line, `status="200"`) {
				found = true
			}
		}
		if !found {
			t.Errorf("/metrics has no gatehouse_http_request_duration_seconds_count series for the GET that answered 200:\n%s",
				ghxGrep(metrics, "gatehouse_"))
		}
		if _, err := os.Stat(filepath.Join(data, "etcd")); err != nil {
			t.Errorf("no embedded etcd data under --data-dir %s: %v", data, err)
		}
		if strings.Contains(p.stderr.String()+p.stdout.String(), pw) {
			t.Errorf("the admin password from the environment appears in the output:\n%s", p.stderr.String())
		}
		if strings.Contains(p.stderr.String(), "generated password") {
			t.Errorf("a password was generated although GATEHOUSE_ADMIN_PASSWORD is set:\n%s", p.stderr.String())
		}
		if _, err := os.Stat(filepath.Join(work, "gatehouse-data")); err == nil {
			t.Errorf("gatehouse wrote ./gatehouse-data although --data-dir was given")
		}
		if code, d := p.sigterm(t); code != 0 {
			t.Errorf("SIGTERM: exit code %d after %v, want 0; stderr:\n%s", code, d, p.stderr.String())
		}
	})

	t.Run("GeneratedPasswordPrintedOnce", func(t *testing.T) {
		work, data := t.TempDir(), t.TempDir()
		addr := fmt.Sprintf("127.0.0.1:%d", ghxFreePort(t))
		p := ghxRun(t, bin, work, ghxEnv(), "--listen", addr, "--data-dir", data)
		p.serving(t, addr)
		ms := ghxGeneratedPassword.FindAllStringSubmatch(p.stderr.String(), -1)
		if len(ms) != 1 {
			t.Fatalf("the generated password is printed %d times on stderr, want once:\n%s", len(ms), p.stderr.String())
		}
		pw := ms[0][1]
		if strings.Contains(p.stdout.String(), pw) {
			t.Errorf("the generated password also went to stdout")
		}
		if code, _, body := p.call(t, "GET", "/auth/v2/accounts/system", `system\admin`, pw, ""); code != http.StatusOK {
			t.Errorf("the printed password: %d, want 200; body:\n%s", code, body)
		}
		if n := strings.Count(p.stderr.String(), pw); n != 1 {
			t.Errorf("the generated password appears %d times in the output, want once (logs must not repeat it):\n%s", n, p.stderr.String())
		}
		if code, d := p.sigterm(t); code != 0 {
			t.Fatalf("SIGTERM: exit code %d after %v, want 0; stderr:\n%s", code, d, p.stderr.String())
		}

		p2 := ghxRun(t, bin, work, ghxEnv(), "--listen", addr, "--data-dir", data)
		p2.serving(t, addr)
		if out := p2.stderr.String() + p2.stdout.String(); strings.Contains(out, pw) || ghxGeneratedPassword.MatchString(out) {
			t.Errorf("the restart printed a (generated) password again:\n%s", out)
		}
		if code, _, body := p2.call(t, "GET", "/auth/v2/accounts/system", `system\admin`, pw, ""); code != http.StatusOK {
			t.Errorf("the first start's password after a restart: %d, want 200; body:\n%s", code, body)
		}
		if code, d := p2.sigterm(t); code != 0 {
			t.Errorf("SIGTERM: exit code %d after %v, want 0", code, d)
		}
	})

	t.Run("SIGTERMThenRestartKeepsData", func(t *testing.T) {
		const pw = "env-admin-password-2"
		work, data := t.TempDir(), t.TempDir()
		addr := fmt.Sprintf("127.0.0.1:%d", ghxFreePort(t))
		env := ghxEnv("GATEHOUSE_ADMIN_PASSWORD=" + pw)
		p := ghxRun(t, bin, work, env, "--listen", addr, "--data-dir", data)
		p.serving(t, addr)
		if code, _, body := p.call(t, "POST", "/auth/v2/accounts/system/users", `system\admin`, pw,
			`<user><name>bob</name><password>long-enough-1</password></user>`); code != http.StatusCreated {
			t.Fatalf("create bob: %d; body:\n%s", code, body)
		}
		if code, _, body := p.call(t, "POST", "/auth/v2/accounts/system/roles", `system\admin`, pw,
			`<role><name>r</name><permissions><permission>print:jobs:read</permission></permissions></role>`); code != http.StatusCreated {
			t.Fatalf("create role: %d; body:\n%s", code, body)
		}
		if code, _, body := p.call(t, "POST", "/auth/v2/accounts/system/users/bob/roles", `system\admin`, pw,
			`<role identifier="r"/>`); code != http.StatusCreated {
			t.Fatalf("give bob the role: %d; body:\n%s", code, body)
		}
		// A request in flight when SIGTERM arrives is finished. The
		// request asks for 100-continue, so the server says when its
		// handler starts reading the body; then SIGTERM; then, once the
		// server has stopped accepting connections (the shutdown has
		// begun), the body.
		conn, err := net.DialTimeout("tcp", addr, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetReadDeadline(time.Now().Add(60 * time.Second)) // against a hang, not a timing claim
		body := `<user><name>inflight</name><email>inflight@example.com</email></user>`
		head := fmt.Sprintf("POST /auth/v2/accounts/system/users HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\n"+
			"Content-Type: application/xml\r\nContent-Length: %d\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
			addr, base64.StdEncoding.EncodeToString([]byte(`system\admin:`+pw)), len(body))
		if _, err := io.WriteString(conn, head); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		cont, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("waiting for 100 Continue (the handler reading the body): %v", err)
		}
		if cont.StatusCode != http.StatusContinue {
			t.Fatalf("the server answered %d before reading the body, want 100 Continue", cont.StatusCode)
		}
		start := time.Now()
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		harness.WaitFor(t, 60*time.Second, "gatehouse refuses new connections after SIGTERM", func() bool {
			c, err := net.DialTimeout("tcp", addr, 30*time.Second)
			if err == nil {
				c.Close()
			}
			return errors.Is(err, syscall.ECONNREFUSED)
		})
		if p.exited() {
			t.Errorf("gatehouse exited %v after SIGTERM with a request in flight (exit: %v)", time.Since(start), p.err)
		}
		if _, err := io.WriteString(conn, body); err != nil {
			t.Errorf("finishing the in-flight request: %v", err)
		}
		resp, err := http.ReadResponse(br, nil)
		inflightCreated := false
		if err != nil {
			t.Errorf("the in-flight request got no answer after SIGTERM: %v", err)
		} else {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			inflightCreated = resp.StatusCode == http.StatusCreated
			if !inflightCreated {
				t.Errorf("the in-flight request answered %d after SIGTERM, want 201; body:\n%s", resp.StatusCode, b)
			}
		}
		code := p.wait(t, 30*time.Second)
		t.Logf("SIGTERM to exit with one request in flight: %v", time.Since(start))
		if code != 0 {
			t.Errorf("SIGTERM: exit code %d, want 0; stderr:\n%s", code, p.stderr.String())
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("something still listens on %s after the exit", addr)
		}

		p2 := ghxRun(t, bin, work, env, "--listen", addr, "--data-dir", data)
		p2.serving(t, addr)
		if code, _, body := p2.call(t, "GET", "/auth/v2/accounts/system/users/bob", `system\admin`, pw, ""); code != http.StatusOK {
			t.Errorf("bob after the restart: %d, want 200; body:\n%s", code, body)
		}
		if code, _, body := p2.call(t, "GET", "/auth/v2/accounts/system/users/bob/permissions/print:jobs:read", `system\admin`, pw, ""); code != http.StatusOK {
			t.Errorf("bob's permission after the restart: %d, want 200; body:\n%s", code, body)
		}
		if inflightCreated {
			if code, _, body := p2.call(t, "GET", "/auth/v2/accounts/system/users/inflight", `system\admin`, pw, ""); code != http.StatusOK {
				t.Errorf("the user acknowledged during the shutdown is gone after the restart: %d; body:\n%s", code, body)
			}
		}
		// bob's password survived: valid credentials without an auth:
		// permission answer 403, not 401.
		if code, _, body := p2.call(t, "GET", "/auth/v2/accounts/system", `system\bob`, "long-enough-1", ""); code != http.StatusForbidden {
			t.Errorf("bob signing in after the restart: %d, want 403; body:\n%s", code, body)
		}
		if code, _ := p2.sigterm(t); code != 0 {
			t.Errorf("second SIGTERM: exit code %d, want 0", code)
		}
	})

	t.Run("InvalidConfigurationStopsStartUp", func(t *testing.T) {
		dir := t.TempDir()
		write := func(name, content string) string {
			f := filepath.Join(dir, name)
			if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			return f
		}
		cases := []struct {
			name  string
			env   []string
			args  []string
			names []string // the message must mention one of these
		}{
			{"bad duration in the environment", []string{"GATEHOUSE_STORAGE_TIMEOUT=abc"}, nil,
				[]string{"storage.timeout", "GATEHOUSE_STORAGE_TIMEOUT"}},
			{"unknown key in the file", nil, []string{"--config", write("unknown.yaml", "storage:\n  etcd:\n    endpoint: http://127.0.0.1:1\n")},
				[]string{"storage.etcd.endpoint"}},
			{"unknown top-level key in the file", nil, []string{"--config", write("top.yaml", "listen: 127.0.0.1:1\n")},
				[]string{"listen"}},
			{"bad value in the file", nil, []string{"--config", write("badval.yaml", "api:\n  max-depth: deep\n")},
				[]string{"api.max-depth"}},
			{"negative timeout in the environment", []string{"GATEHOUSE_STORAGE_TIMEOUT=-5s"}, nil,
				[]string{"storage.timeout", "GATEHOUSE_STORAGE_TIMEOUT"}},
			{"missing config file", nil, []string{"--config", filepath.Join(dir, "absent.yaml")},
				[]string{"absent.yaml"}},
		}
		for _, tc := range cases {
			t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
				addr := fmt.Sprintf("127.0.0.1:%d", ghxFreePort(t))
				args := append([]string{"--listen", addr, "--data-dir", t.TempDir()}, tc.args...)
				p := ghxRun(t, bin, t.TempDir(), ghxEnv(append([]string{"GATEHOUSE_ADMIN_PASSWORD=x-long-enough"}, tc.env...)...), args...)
				code := p.wait(t, 20*time.Second)
				out := p.stderr.String() + p.stdout.String()
				if code == 0 {
					t.Errorf("exit code 0, want non-zero; output:\n%s", out)
				}
				named := false
				for _, n := range tc.names {
					named = named || strings.Contains(out, n)
				}
				if !named {
					t.Errorf("the message does not name %q:\n%s", tc.names, out)
				}
				if strings.Contains(out, "gatehouse serving") {
					t.Errorf("gatehouse started serving despite the bad configuration:\n%s", out)
				}
			})
		}
	})

	t.Run("KubernetesServiceVariablesDoNotStopStartUp", func(t *testing.T) {
		// A Service named gatehouse makes Kubernetes inject these into
		// every pod of its namespace; they name no setting, and gatehouse
		// must start regardless (SPEC §2).
		const pw = "env-admin-password-3"
		work, data := t.TempDir(), t.TempDir()
		addr := fmt.Sprintf("127.0.0.1:%d", ghxFreePort(t))
		env := ghxEnv("GATEHOUSE_ADMIN_PASSWORD="+pw,
			"GATEHOUSE_PORT=tcp://10.96.14.7:8080",
			"GATEHOUSE_PORT_8080_TCP=tcp://10.96.14.7:8080",
			"GATEHOUSE_PORT_8080_TCP_PROTO=tcp",
			"GATEHOUSE_PORT_8080_TCP_PORT=8080",
			"GATEHOUSE_PORT_8080_TCP_ADDR=10.96.14.7",
			"GATEHOUSE_SERVICE_HOST=10.96.14.7",
			"GATEHOUSE_SERVICE_PORT=8080",
			"GATEHOUSE_SERVICE_PORT_HTTP=8080")
		p := ghxRun(t, bin, work, env, "--listen", addr, "--data-dir", data)
		p.serving(t, addr)
		if code, _, body := p.call(t, "GET", "/auth/v2/accounts/system", `system\admin`, pw, ""); code != http.StatusOK {
			t.Errorf("GET /auth/v2/accounts/system as admin: %d, want 200 (the known variable still applies); body:\n%s", code, body)
		}
		if code, d := p.sigterm(t); code != 0 {
			t.Errorf("SIGTERM: exit code %d after %v, want 0; stderr:\n%s", code, d, p.stderr.String())
		}
		// Each ignored variable is a warning naming it (never its value).
		logged := p.stderr.String()
		for _, name := range []string{"GATEHOUSE_PORT", "GATEHOUSE_SERVICE_HOST", "GATEHOUSE_PORT_8080_TCP_ADDR"} {
			if !strings.Contains(logged, "variable="+name+"\n") && !strings.Contains(logged, "variable="+name+" ") {
				t.Errorf("no warning names %s; stderr:\n%s", name, logged)
			}
		}
		if strings.Contains(logged, "10.96.14.7") {
			t.Errorf("a warning shows a variable's value; stderr:\n%s", logged)
		}
	})

	t.Run("ConfigurationFile", func(t *testing.T) {
		work, data := t.TempDir(), t.TempDir()
		fileAddr := fmt.Sprintf("127.0.0.1:%d", ghxFreePort(t))
		flagAddr := fmt.Sprintf("127.0.0.1:%d", ghxFreePort(t))
		cfg := filepath.Join(work, "gatehouse.yaml")
		yaml := "# test configuration\n" +
			"http:\n  listen: " + fileAddr + "\n" +
			"api:\n  max-depth: 2\n" +
			"admin:\n  password: file-password-1\n" +
			"log:\n  format: json\n"
		if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		// Later wins: the flag beats the file's listen address, the
		// environment beats the file's admin password.
		p := ghxRun(t, bin, work, ghxEnv("GATEHOUSE_ADMIN_PASSWORD=env-password-1"),
			"--config", cfg, "--listen", flagAddr, "--data-dir", data)
		p.serving(t, flagAddr)
		if c, err := net.DialTimeout("tcp", fileAddr, time.Second); err == nil {
			c.Close()
			t.Errorf("gatehouse listens on the file's address %s although --listen %s was given", fileAddr, flagAddr)
		}
		if code, _, _ := p.call(t, "GET", "/auth/v2/accounts/system", `system\admin`, "file-password-1", ""); code != http.StatusUnauthorized {
			t.Errorf("the file's admin password: %d, want 401 (the environment's wins)", code)
		}
		get := func(depth string) string {
			t.Helper()
			code, _, body := p.call(t, "GET", "/auth/v2/accounts/system?depth="+depth, `system\admin`, "env-password-1", "")
			if code != http.StatusOK {
				t.Fatalf("depth=%s: %d; body:\n%s", depth, code, body)
			}
			return body
		}
		d1, d2, d5 := get("1"), get("2"), get("5")
		if d5 != d2 {
			t.Errorf("depth=5 under api.max-depth 2 differs from depth=2:\ndepth=5:\n%s\ndepth=2:\n%s", d5, d2)
		}
		if d2 == d1 {
			t.Errorf("depth=2 renders like depth=1; depth is not applied at all:\n%s", d2)
		}
		// At depth 2 the account's users are references: no fields.
		if !strings.Contains(d5, `<user identifier="admin" href="/auth/v2/accounts/system/users/admin"/>`) {
			t.Errorf("depth=5 under api.max-depth 2 expands the users (depth > 2):\n%s", d5)
		}
		// log.format json: every log line is a JSON object.
		for _, line := range strings.Split(strings.TrimSpace(p.stderr.String()), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Errorf("log.format json, but a log line is not JSON: %q", line)
				break
			}
		}
		if code, _ := p.sigterm(t); code != 0 {
			t.Errorf("SIGTERM: exit code %d, want 0", code)
		}
	})
}

// ghxGrep returns the lines of s that contain sub.
func ghxGrep(s, sub string) string {
	var b bytes.Buffer
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}
