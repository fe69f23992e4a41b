//go:build !linux

package main

import (
	"errors"
	"os"
)

var errNoTrace = errors.New("not on this OS")

func execSelf(exe string, args, env []string) error { return errNoTrace }

func redirectStderr() (*os.File, *os.File, error) { return nil, nil, errNoTrace }
