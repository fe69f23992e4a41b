package main

// The embedded etcd in a process of its own (-etcd-process): gatehouse
// then talks to it as to an external cluster, as a production server
// does, and the server process's heap, threads and CPU hold gatehouse
// alone. This program re-executed with the arguments "etcd DIR" starts
// the same embedded etcd gatehouse would (storage.StartEmbedded, data in
// DIR), prints its client URL and serves until its stdin closes.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"gatehouse/storage"
)

const etcdArg = "etcd"

func isEtcdMode() bool { return len(os.Args) > 2 && os.Args[1] == etcdArg }

// etcdMain runs etcd in os.Args[2] until stdin closes.
func etcdMain() int {
	e, err := storage.StartEmbedded(os.Args[2], 0, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load etcd:", err)
		return 1
	}
	fmt.Println(e.Endpoint)
	_, _ = io.Copy(io.Discard, os.Stdin)
	e.Close()
	return 0
}

// etcdProc is the parent's handle on the etcd process.
type etcdProc struct {
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	endpoint string
}

func startEtcdProc(dir string) (*etcdProc, error) {
	cmd, stdin, stdout, err := reexec(etcdArg, dir)
	if err != nil {
		return nil, fmt.Errorf("etcd process: %w", err)
	}
	p := &etcdProc{cmd: cmd, stdin: stdin}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case p.endpoint = <-line:
	case <-time.After(90 * time.Second):
	}
	if p.endpoint == "" {
		p.close()
		return nil, errors.New("the etcd process did not say its address")
	}
	return p, nil
}

func (p *etcdProc) close() {
	_ = p.stdin.Close()
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
	}
}
