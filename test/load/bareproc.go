package main

// The bare handler in a process of its own ("bare-process"): the floor
// without gatehouse's heap. The "bare" handler shares the server process,
// so at large N its requests wait out the same long mark phases as
// gatehouse's; this one runs in this program re-executed with the
// argument "bare", which prints its address and serves until its stdin
// closes.

import (
	"os"
	"time"
)

const bareArg = "bare"

func isBareMode() bool { return len(os.Args) > 1 && os.Args[1] == bareArg }

// bareMain serves bareDoc until stdin closes.
func bareMain() int {
	b, err := startBare()
	if err != nil {
		return childFailed(bareArg, err)
	}
	return childServe(b.Addr().String(), b.Close)
}

// bareProc is the parent's handle on the bare process.
type bareProc struct {
	p    *childProc
	addr string
}

func startBareProc() (*bareProc, error) {
	p, err := startChild(30*time.Second, bareArg)
	if err != nil {
		return nil, err
	}
	return &bareProc{p: p, addr: p.line}, nil
}

func (p *bareProc) close() { p.p.close(5 * time.Second) }
