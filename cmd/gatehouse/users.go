package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"gatehouse/passwordpolicy"
	"gatehouse/storeadmin"
)

func passwd(args, environ []string, stdin io.Reader, stdout, stderr io.Writer) int {
	name, cfg, code, ok := operandAndSettings("passwd", args, environ, stdout, stderr)
	if !ok {
		return code
	}
	a, u, err := storeadmin.ParseName(name)
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse passwd: %v\n", err)
		return 2
	}
	pw, err := readPassword(stdin, stderr, name)
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse passwd: %v\n", err)
		return 1
	}
	policy := passwordpolicy.Policy{MinLength: cfg.Auth.Password.MinLength, MaxLength: cfg.Auth.Password.MaxLength,
		History: cfg.Auth.Password.History, MaxAge: cfg.Auth.Password.MaxAge}
	return withStore(cfg, stderr, func(ctx context.Context, h *storeadmin.Handle) int {
		if err := storeadmin.SetPassword(ctx, h.Store, policy, a, u, pw); err != nil {
			fmt.Fprintf(stderr, "gatehouse passwd: %s: %v\n", name, err)
			return 1
		}
		fmt.Fprintf(stdout, "gatehouse: password of %s set\n", name)
		return 0
	})
}

func unlock(args, environ []string, _ io.Reader, stdout, stderr io.Writer) int {
	name, cfg, code, ok := operandAndSettings("unlock", args, environ, stdout, stderr)
	if !ok {
		return code
	}
	a, u, err := storeadmin.ParseName(name)
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse unlock: %v\n", err)
		return 2
	}
	return withStore(cfg, stderr, func(ctx context.Context, h *storeadmin.Handle) int {
		if err := storeadmin.Unlock(ctx, h.Store, a, u); err != nil {
			fmt.Fprintf(stderr, "gatehouse unlock: %s: %v\n", name, err)
			return 1
		}
		fmt.Fprintf(stdout, "gatehouse: lockout of %s cleared\n", name)
		return 0
	})
}

// readPassword prompts twice without echo when stdin is a terminal, and
// otherwise reads one line (without its line ending).
func readPassword(stdin io.Reader, prompt io.Writer, name string) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(prompt, "New password for %s: ", name)
		first, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		fmt.Fprint(prompt, "Again: ")
		second, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		if string(first) != string(second) {
			return "", errors.New("the passwords differ")
		}
		return string(first), nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("empty password on standard input")
	}
	return line, nil
}
