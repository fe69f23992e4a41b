// Command gatehouse is the identity and access server.
//
//	gatehouse [serve] [--listen ADDR] [--data-dir DIR] [--config FILE]
//	gatehouse backup FILE [serve settings]
//	gatehouse restore FILE --data-dir DIR
//	gatehouse export ACCOUNT [--out FILE] [serve settings]
//	gatehouse import FILE [serve settings]
//	gatehouse passwd 'account\user' [serve settings]
//	gatehouse unlock 'account\user' [serve settings]
//	gatehouse version | --version
//	gatehouse help [COMMAND | settings] | --help | -h
//
// With no etcd endpoints configured it runs an embedded etcd in the data
// directory. Settings come from defaults, the YAML file, GATEHOUSE_*
// environment variables and flags, later winning; every command that
// reaches the store takes the same settings as serve. The operations
// themselves live in package storeadmin (export and import are the API's
// own, in package resources); this package parses the command line, reads
// passwords and files and prints results. Exit status: 0 done, 1 the
// operation failed, 2 the command line or configuration is wrong.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"gatehouse/conf"
	"gatehouse/instance"
)

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr))
}

// command is one subcommand: its synopsis, what it does, and how it runs.
type command struct {
	name, synopsis, about string
	run                   func(args, environ []string, stdin io.Reader, stdout, stderr io.Writer) int
}

var commands []command

func init() {
	commands = []command{
		{"serve", "gatehouse [serve] [--config FILE] [--listen ADDR] [--data-dir DIR]",
			"Run the server (the default command). Settings: see `gatehouse help settings`.", serve},
		{"backup", "gatehouse backup FILE [--config FILE] [--data-dir DIR]",
			"Write a consistent etcd snapshot of the store to FILE and its SHA-256 to FILE.sha256, and print its revision.\n" +
				"With external etcd endpoints configured it reads from them while servers run. With the embedded store,\n" +
				"the data directory must not be in use: stop the server first, or download GET /auth/v2/backup from it.", backup},
		{"restore", "gatehouse restore FILE --data-dir DIR",
			"Make a new embedded data directory DIR (which must not exist or be empty) from the backup FILE,\n" +
				"checking FILE.sha256 if present. Then run `gatehouse serve --data-dir DIR`.", restore},
		{"export", "gatehouse export ACCOUNT [--out FILE] [--config FILE] [--data-dir DIR]",
			"Write the export document of ACCOUNT and its descendants (what GET /auth/v2/accounts/{a}/export answers:\n" +
				"users, roles, groups, ceilings, attributes, API keys, clients, providers and rules, secrets only as\n" +
				"stored hashes, an LDAP bind password not at all) to standard output, or to FILE (mode 0600).\n" +
				"Same store access as passwd.", export},
		{"import", "gatehouse import FILE [--config FILE] [--data-dir DIR]",
			"Import an export document from FILE (\"-\": standard input) as POST /auth/v2/import does, audited with\n" +
				"actor \"cli\", and print the top account and the revision. Nothing is written when an account name\n" +
				"exists already. Above one etcd transaction's limit it imports in batches under a journal; run the\n" +
				"same command again to resume an interrupted import. Same store access as passwd.", importDoc},
		{"passwd", `gatehouse passwd 'account\user' [--config FILE] [--data-dir DIR]`,
			"Set a user's password under the password policy, audited with actor \"cli\". It prompts twice without\n" +
				"echo on a terminal, otherwise reads one line from standard input. Works on external etcd while servers\n" +
				"run, or on a stopped server's embedded data directory.", passwd},
		{"unlock", `gatehouse unlock 'account\user' [--config FILE] [--data-dir DIR]`,
			"Clear a user's sign-in lockout (failure count), audited with actor \"cli\"; same store access as passwd.", unlock},
		{"version", "gatehouse version | gatehouse --version", "Print the version.", version},
		{"help", "gatehouse help [COMMAND | settings] | gatehouse --help | gatehouse -h",
			"Print this usage, a command's usage, or what each setting means.", help},
	}
}

func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

func run(args, environ []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return serve(args, environ, stdin, stdout, stderr)
	}
	switch args[0] {
	case "-h", "-help", "--help":
		return help(args[1:], environ, stdin, stdout, stderr)
	case "-version", "--version":
		return version(args[1:], environ, stdin, stdout, stderr)
	}
	if strings.HasPrefix(args[0], "-") {
		return serve(args, environ, stdin, stdout, stderr)
	}
	c := lookup(args[0])
	if c == nil {
		fmt.Fprintf(stderr, "gatehouse: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return c.run(args[1:], environ, stdin, stdout, stderr)
}

// usage is the summary of every command.
func usage(w io.Writer) {
	fmt.Fprintln(w, "usage:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %s\n", c.synopsis)
	}
	fmt.Fprintln(w, "\nRun `gatehouse help COMMAND` for a command, `gatehouse help settings` for every setting.")
}

func commandUsage(w io.Writer, c *command) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", c.synopsis, c.about)
	if c.name != "version" && c.name != "help" && c.name != "restore" {
		fmt.Fprintln(w, "\nIt takes the serve settings: `gatehouse help settings`.")
	}
}

func help(args, _ []string, _ io.Reader, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		usage(stdout)
		fmt.Fprintln(stdout)
		settings(stdout)
		return 0
	case len(args) > 1:
		fmt.Fprintln(stderr, "usage: gatehouse help [COMMAND | settings]")
		return 2
	case args[0] == "settings":
		settings(stdout)
		return 0
	}
	c := lookup(args[0])
	if c == nil {
		fmt.Fprintf(stderr, "gatehouse: no command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	commandUsage(stdout, c)
	return 0
}

// settings lists every setting: its key, environment variable, default
// and meaning.
func settings(w io.Writer) {
	fmt.Fprintln(w, "Settings (YAML key in --config FILE; environment variable; default), later sources winning:")
	fmt.Fprintln(w, "defaults < --config FILE < GATEHOUSE_* environment < flags.")
	for _, k := range conf.Keys() {
		fmt.Fprintf(w, "\n  %s\n    %s (default %q)\n    %s\n", k.Name, k.Env, k.Default, k.Help)
	}
}

func version(args, _ []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: gatehouse version")
		return 2
	}
	fmt.Fprintln(stdout, "gatehouse", instance.Version)
	return 0
}

// load reads the serve settings from args and environ; on a problem it
// prints it (or, for -h, the command's usage) and returns the exit code.
func load(name string, args, environ []string, stdout, stderr io.Writer) (conf.Config, int, bool) {
	cfg, err := conf.Load(args, environ)
	if errors.Is(err, flag.ErrHelp) {
		commandUsage(stdout, lookup(name))
		return cfg, 0, false
	}
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse: configuration:\n%v\n\nRun `gatehouse help %s`.\n", err, name)
		return cfg, 2, false
	}
	return cfg, 0, true
}

// operandAndSettings is operand, then load on the rest: the prologue of
// every command that takes one operand and the serve settings.
func operandAndSettings(name string, args, environ []string, stdout, stderr io.Writer) (string, conf.Config, int, bool) {
	x, rest, code, ok := operand(name, args, stdout, stderr)
	if !ok {
		return "", conf.Config{}, code, false
	}
	cfg, code, ok := load(name, rest, environ, stdout, stderr)
	return x, cfg, code, ok
}

// isOperand tells a positional argument from a flag; "-" (standard
// input) is an operand.
func isOperand(a string) bool { return a == "-" || !strings.HasPrefix(a, "-") }

// operand splits the one positional argument of a command from its
// flags: it comes first (`backup FILE --config C`) or last
// (`backup --config C FILE`).
func operand(name string, args []string, stdout, stderr io.Writer) (string, []string, int, bool) {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			commandUsage(stdout, lookup(name))
			return "", nil, 0, false
		}
	}
	switch {
	case len(args) > 0 && isOperand(args[0]):
		return args[0], args[1:], 0, true
	case len(args) > 0 && isOperand(args[len(args)-1]):
		return args[len(args)-1], args[:len(args)-1], 0, true
	}
	fmt.Fprintf(stderr, "gatehouse %s: missing operand\nusage: %s\n", name, lookup(name).synopsis)
	return "", nil, 2, false
}
