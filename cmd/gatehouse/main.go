// Command gatehouse is the identity and access server.
//
//	gatehouse [serve] [--listen ADDR] [--data-dir DIR] [--config FILE]
//	gatehouse version
//
// With no etcd endpoints configured it runs an embedded etcd in the data
// directory. Settings come from defaults, the YAML file, GATEHOUSE_*
// environment variables and flags, later winning.
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

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

func run(args, environ []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && (args[0] == "serve" || args[0] == "version" || args[0] == "help") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "gatehouse", instance.Version)
		return 0
	case "help":
		fmt.Fprintln(stdout, "usage: gatehouse [serve] [--listen ADDR] [--data-dir DIR] [--config FILE] | gatehouse version")
		for _, k := range conf.Keys() {
			fmt.Fprintf(stdout, "  %-34s %-44s default %q\n", k.Name, k.Env, k.Default)
		}
		return 0
	}
	cfg, err := conf.Load(args, environ)
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse: configuration:\n%v\n", err)
		return 2
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
