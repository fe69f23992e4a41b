package main

import (
	"os"
	"syscall"
)

func execSelf(exe string, args, env []string) error { return syscall.Exec(exe, args, env) }

// redirectStderr makes file descriptor 2 the write end of a pipe and
// returns its read end and a file for the original standard error.
func redirectStderr() (*os.File, *os.File, error) {
	fd, err := syscall.Dup(2)
	if err != nil {
		return nil, nil, err
	}
	syscall.CloseOnExec(fd)
	orig := os.NewFile(uintptr(fd), "stderr")
	r, w, err := os.Pipe()
	if err != nil {
		orig.Close()
		return nil, nil, err
	}
	if err := syscall.Dup3(int(w.Fd()), 2, 0); err != nil {
		orig.Close()
		r.Close()
		w.Close()
		return nil, nil, err
	}
	w.Close()
	return r, orig, nil
}
