package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"gatehouse/conf"
	"gatehouse/instance"
	"gatehouse/storeadmin"
)

// withStore opens the store cfg names, runs op on it, and closes it.
func withStore(cfg conf.Config, stderr io.Writer, op func(ctx context.Context, h *storeadmin.Handle) int) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tlsCfg, err := instance.EtcdTLS(cfg.Storage.Etcd.TLS)
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse: %v\n", err)
		return 1
	}
	h, err := storeadmin.Open(ctx, cfg, tlsCfg, instance.NewLogger(cfg.Log, stderr))
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse: %v\n", err)
		return 1
	}
	defer h.Close()
	return op(ctx, h)
}

func backup(args, environ []string, _ io.Reader, stdout, stderr io.Writer) int {
	file, cfg, code, ok := operandAndSettings("backup", args, environ, stdout, stderr)
	if !ok {
		return code
	}
	return withStore(cfg, stderr, func(ctx context.Context, h *storeadmin.Handle) int {
		res, err := storeadmin.Backup(ctx, h.Store.Client(), file)
		if err != nil {
			fmt.Fprintf(stderr, "gatehouse: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "gatehouse: backup %s: revision %d, %d keys, %d bytes, sha256 %s (also in %s.sha256)\n",
			res.File, res.Revision, res.Keys, res.Size, res.SHA256, res.File)
		return 0
	})
}

func restore(args, environ []string, _ io.Reader, stdout, stderr io.Writer) int {
	file, cfg, code, ok := operandAndSettings("restore", args, environ, stdout, stderr)
	if !ok {
		return code
	}
	if err := storeadmin.Restore(file, cfg.Storage.DataDir, cfg.Storage.Embedded.PeerPort); err != nil {
		fmt.Fprintf(stderr, "gatehouse: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "gatehouse: restored %s into %s; start it with: gatehouse serve --data-dir %s\n",
		file, cfg.Storage.DataDir, cfg.Storage.DataDir)
	return 0
}
