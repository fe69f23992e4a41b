package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"gatehouse/conf"
	"gatehouse/heapgoal"
	"gatehouse/instance"
)

// serve runs the server until SIGINT or SIGTERM.
func serve(args, environ []string, _ io.Reader, stdout, stderr io.Writer) int {
	cfg, code, ok := load("serve", args, environ, stdout, stderr)
	if !ok {
		return code
	}
	log := instance.NewLogger(cfg.Log, stderr)
	for _, name := range conf.UnknownEnv(environ) {
		log.Warn("ignoring an environment variable that names no setting", "variable", name)
	}
	// The process's collector, not an instance's: tuned here.
	defer heapgoal.Start(uint64(cfg.Runtime.GCHeadroomMiB) << 20).Stop()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	in, err := instance.Start(ctx, cfg, log, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse: %v\n", err)
		return 1
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-in.Done():
		log.Error("http server stopped", "err", err)
	}
	in.Close()
	return 0
}
