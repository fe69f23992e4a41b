package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// childServe is a child's side once it runs: it prints addr for the
// parent, runs until its stdin closes, then stops.
func childServe(addr string, stop func()) int {
	fmt.Println(addr)
	_, _ = io.Copy(io.Discard, os.Stdin)
	stop()
	return 0
}

// childFailed reports a child that could not start.
func childFailed(mode string, err error) int {
	fmt.Fprintf(os.Stderr, "load %s: %v\n", mode, err)
	return 1
}

// childProc is this program re-executed in one of its modes (bare,
// etcd), which prints one line — its address — when it is ready and runs
// until its stdin closes.
type childProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	line  string // what the child printed
}

// startChild starts the child in mode arg (with extra arguments) and
// waits up to ready for its line.
func startChild(ready time.Duration, arg string, extra ...string) (*childProc, error) {
	cmd, stdin, stdout, err := reexec(arg, extra...)
	if err != nil {
		return nil, fmt.Errorf("%s process: %w", arg, err)
	}
	p := &childProc{cmd: cmd, stdin: stdin}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case p.line = <-line:
	case <-time.After(ready):
	}
	if p.line == "" {
		p.close(5 * time.Second)
		return nil, fmt.Errorf("the %s process did not say its address within %s", arg, ready)
	}
	return p, nil
}

// close closes the child's stdin and waits up to grace for it to end,
// then kills it.
func (p *childProc) close(grace time.Duration) {
	_ = p.stdin.Close()
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
	}
}
