package main

import (
	"bytes"
	"strings"
	"testing"

	"gatehouse/conf"
	"gatehouse/instance"
)

func runArgs(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, nil, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// Help and version exit 0 with their text on stdout; the usage names
// every command, and the settings help names every setting with its
// environment variable and meaning.
func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"-help"}, {"help"}} {
		code, out, errs := runArgs(args...)
		if code != 0 || errs != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errs)
		}
		for _, c := range []string{"[serve]", "backup FILE", "restore FILE --data-dir DIR", "export ACCOUNT", "import FILE", `passwd 'account\user'`, `unlock 'account\user'`, "version", "help"} {
			if !strings.Contains(out, "gatehouse "+c) {
				t.Errorf("%v: usage lacks %q:\n%s", args, c, out)
			}
		}
	}
	_, out, _ := runArgs("help")
	_, settings, _ := runArgs("help", "settings")
	for _, k := range conf.Keys() {
		for _, want := range []string{k.Name, k.Env, k.Help} {
			if !strings.Contains(out, want) || !strings.Contains(settings, want) {
				t.Errorf("help lacks %q of setting %s", want, k.Name)
			}
		}
	}
	for _, args := range [][]string{{"--version"}, {"-version"}, {"version"}} {
		code, out, errs := runArgs(args...)
		if code != 0 || errs != "" || out != "gatehouse "+instance.Version+"\n" {
			t.Fatalf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	for _, c := range commands {
		code, out, errs := runArgs("help", c.name)
		if code != 0 || errs != "" || !strings.Contains(out, "usage: "+c.synopsis) {
			t.Errorf("help %s: exit %d, stdout %q, stderr %q", c.name, code, out, errs)
		}
	}
	for _, args := range [][]string{{"serve", "--help"}, {"backup", "-h"}, {"passwd", "--help"}, {"restore", "x", "-h"}} {
		code, out, errs := runArgs(args...)
		if code != 0 || errs != "" || !strings.HasPrefix(out, "usage: gatehouse ") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
}

// Unknown commands and bad operands are usage errors: exit 2, the usage
// on stderr, nothing on stdout.
func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {"help", "frobnicate"}, {"backup"}, {"passwd", "no-backslash"},
		{"unlock", `acme\`}, {"version", "extra"}, {"--no-such-flag"}} {
		code, out, errs := runArgs(args...)
		if code != 2 || out != "" || errs == "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 with a message on stderr", args, code, out, errs)
		}
	}
	code, _, errs := runArgs("frobnicate")
	if code != 2 || !strings.Contains(errs, `unknown command "frobnicate"`) || !strings.Contains(errs, "usage:") {
		t.Errorf("unknown command: exit %d, stderr %q", code, errs)
	}
}

// readPassword takes one line from a non-terminal, without its ending.
func TestReadPasswordLine(t *testing.T) {
	for in, want := range map[string]string{"s3cret pass\n": "s3cret pass", "crlf\r\nrest\n": "crlf", "no-newline": "no-newline"} {
		got, err := readPassword(strings.NewReader(in), &bytes.Buffer{}, `a\u`)
		if err != nil || got != want {
			t.Errorf("%q: got %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := readPassword(strings.NewReader("\n"), &bytes.Buffer{}, `a\u`); err == nil {
		t.Error("an empty line was accepted as a password")
	}
}
