package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/audit"
	"gatehouse/conf"
	"gatehouse/instance"
	"gatehouse/storage"
	"gatehouse/storeadmin"
)

const exAdminPassword = "admin-password-1"

// exServe runs a server on the embedded store in dir (bootstrapping it
// when empty), runs use against it, and stops it, leaving dir stopped.
func exServe(t *testing.T, dir string, use func(do func(method, path, body string, want int) string)) {
	t.Helper()
	cfg := conf.Defaults()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Storage.DataDir = dir
	cfg.Admin.Password = exAdminPassword
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	in, err := instance.Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	client := &http.Client{Timeout: 30 * time.Second}
	use(func(method, path, body string, want int) string {
		t.Helper()
		req, err := http.NewRequest(method, in.URL()+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/xml")
		}
		req.SetBasicAuth(`system\admin`, exAdminPassword)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: status %d, want %d:\n%s", method, path, resp.StatusCode, want, b)
		}
		return string(b)
	})
}

// runIn runs the command line with stdin.
func runIn(stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, nil, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// export and import through the command line on stopped embedded data
// directories: export, import into a fresh store, export again gives the
// same bytes (and the bytes the API answers); the import is audited with
// actor "cli"; importing again is refused with nothing written; --out
// writes a file only its owner reads; "-" reads standard input.
func TestExportImportCommands(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	var api string
	exServe(t, src, func(do func(method, path, body string, want int) string) {
		do("POST", "/auth/v2/accounts", "<account><name>exa</name><parent>system</parent></account>", 201)
		do("PUT", "/auth/v2/accounts/exa/permissions", "<permissions><permission>auth:*</permission></permissions>", 204)
		do("POST", "/auth/v2/accounts/exa/roles", "<role><name>reader</name></role>", 201)
		do("PUT", "/auth/v2/accounts/exa/roles/reader/permissions", "<permissions><permission>auth:users:read</permission></permissions>", 204)
		do("POST", "/auth/v2/accounts/exa/users", "<user><name>ann</name><password>export-me-safely-1</password></user>", 201)
		do("PUT", "/auth/v2/accounts/exa/users/ann/roles", `<roles><role identifier="reader"/></roles>`, 204)
		do("POST", "/auth/v2/accounts", "<account><name>exb</name><parent>exa</parent></account>", 201)
		api = do("GET", "/auth/v2/accounts/exa/export", "", 200)
	})
	exServe(t, dst, func(func(string, string, string, int) string) {}) // a fresh store: system only

	code, first, errs := runIn("", "export", "exa", "--data-dir", src)
	if code != 0 || errs != "" {
		t.Fatalf("export: exit %d, stderr %q", code, errs)
	}
	if first != api {
		t.Fatalf("the command's export differs from the API's:\n--- command\n%s\n--- API\n%s", first, api)
	}
	if strings.Contains(first, "export-me-safely-1") || !strings.Contains(first, "<password>$argon2id$") {
		t.Fatalf("the export holds a plain password or lacks the hash:\n%s", first)
	}
	file := filepath.Join(t.TempDir(), "exa.xml")
	code, out, errs := runIn("", "export", "--out", file, "--data-dir", src, "exa")
	if code != 0 || out != "" || !strings.Contains(errs, file) {
		t.Fatalf("export --out: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != first {
		t.Fatalf("export --out wrote %q, %v; want the document", b, err)
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("export --out file mode: %v, %v; want 0600", st.Mode(), err)
	}

	since := time.Now().Add(-time.Second).UnixNano()
	code, out, errs = runIn("", "import", file, "--data-dir", dst)
	if code != 0 || !strings.Contains(out, "imported account exa") || !strings.Contains(out, "revision ") {
		t.Fatalf("import: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	code, second, errs := runIn("", "export", "exa", "--data-dir", dst)
	if code != 0 || second != first {
		t.Fatalf("export after import: exit %d, stderr %q; differs:\n--- first\n%s\n--- second\n%s", code, errs, first, second)
	}

	// Again, from standard input: refused, nothing written (the top
	// account renamed, its child exb taken).
	renamed := strings.NewReplacer(`account="exa"`, `account="exz"`, "<name>exa</name>", "<name>exz</name>",
		"<parent>exa</parent>", "<parent>exz</parent>").Replace(first)
	code, out, errs = runIn(renamed, "import", "-", "--data-dir", dst)
	if code != 1 || out != "" || !strings.Contains(errs, "exb") {
		t.Fatalf("import of a taken name: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	code, _, errs = runIn("", "export", "exz", "--data-dir", dst)
	if code != 1 || !strings.Contains(errs, "not found") {
		t.Errorf("the refused import's top account: exit %d, stderr %q", code, errs)
	}
	code, out, errs = runIn("<export/>", "import", "-", "--data-dir", dst)
	if code != 1 || out != "" || !strings.Contains(errs, "400") {
		t.Errorf("import of a bad document: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	// One audit entry of the import, as POST /auth/v2/import writes it,
	// with actor "cli".
	cfg := conf.Defaults()
	cfg.Storage.DataDir = dst
	h, err := storeadmin.Open(context.Background(), cfg, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var got []storage.AuditEntry
	if _, err := h.Store.AuditScan(context.Background(), storage.AuditFilter{Since: since}, func(_ string, e storage.AuditEntry) bool {
		if e.Actor == storeadmin.Actor {
			got = append(got, e)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Action != audit.ActionCreate || got[0].Target != "/auth/v2/import" ||
		got[0].Account != storage.SystemAccount || got[0].Outcome != audit.Success {
		t.Errorf("audit entries by the command line: %+v; want one create of /auth/v2/import", got)
	}
}

// The command lines of export and import: a missing operand or --out
// value is a usage error.
func TestExportImportUsage(t *testing.T) {
	for _, args := range [][]string{{"export"}, {"import"}, {"export", "exa", "--out"}, {"export", "--out=", "exa"}} {
		code, out, errs := runArgs(args...)
		if code != 2 || out != "" || !strings.Contains(errs, "usage:") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 with the usage", args, code, out, errs)
		}
	}
	for _, args := range [][]string{{"export", "-h"}, {"import", "--help"}} {
		code, out, _ := runArgs(args...)
		if code != 0 || !strings.HasPrefix(out, "usage: gatehouse "+args[0]) {
			t.Errorf("%v: exit %d, stdout %q", args, code, out)
		}
	}
}
