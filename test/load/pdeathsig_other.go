//go:build !linux

package main

import "os/exec"

// setParentDeathSignal: elsewhere the client process relies on its stdin
// closing, and on its own deadline, to end when the parent dies.
func setParentDeathSignal(cmd *exec.Cmd) {}
