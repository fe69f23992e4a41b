package main

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal has the kernel kill the client process when the
// parent dies, however it dies.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
