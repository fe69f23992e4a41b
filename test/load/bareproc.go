package main

// The bare handler in a process of its own ("bare-process"): the floor
// without gatehouse's heap. The "bare" handler shares the server process,
// so at large N its requests wait out the same long mark phases as
// gatehouse's; this one runs in this program re-executed with the
// argument "bare", which prints its address and serves until its stdin
// closes.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

const bareArg = "bare"

func isBareMode() bool { return len(os.Args) > 1 && os.Args[1] == bareArg }

// bareMain serves bareDoc until stdin closes.
func bareMain() int {
	b, err := startBare()
	if err != nil {
		fmt.Fprintln(os.Stderr, "load bare:", err)
		return 1
	}
	fmt.Println(b.Addr().String())
	_, _ = io.Copy(io.Discard, os.Stdin)
	b.Close()
	return 0
}

// bareProc is the parent's handle on the bare process.
type bareProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
}

func startBareProc() (*bareProc, error) {
	cmd, stdin, stdout, err := reexec(bareArg)
	if err != nil {
		return nil, fmt.Errorf("bare process: %w", err)
	}
	p := &bareProc{cmd: cmd, stdin: stdin}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case p.addr = <-line:
	case <-time.After(30 * time.Second):
	}
	if p.addr == "" {
		p.close()
		return nil, errors.New("the bare process did not say its address")
	}
	return p, nil
}

func (p *bareProc) close() {
	_ = p.stdin.Close()
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
	}
}
