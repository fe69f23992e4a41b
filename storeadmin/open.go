package storeadmin

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"gatehouse/conf"
	"gatehouse/storage"
)

// Handle is a store opened for an offline operation.
type Handle struct {
	Store    *storage.Store
	embedded *storage.Embedded
}

// Open reaches the store cfg names: the external etcd endpoints, or the
// embedded etcd in cfg.Storage.DataDir, which must hold a store and must
// not be in use by a running server. tlsCfg is the client TLS for an
// external etcd (nil for none).
func Open(ctx context.Context, cfg conf.Config, tlsCfg *tls.Config, log *slog.Logger) (*Handle, error) {
	h := &Handle{}
	endpoints := cfg.Storage.Etcd.Endpoints
	if cfg.Embedded() {
		if err := embeddedFree(cfg.Storage.DataDir); err != nil {
			return nil, err
		}
		e, err := storage.StartEmbedded(cfg.Storage.DataDir, cfg.Storage.Embedded.ClientPort, cfg.Storage.Embedded.PeerPort)
		if err != nil {
			return nil, err
		}
		h.embedded = e
		endpoints = []string{e.Endpoint}
	}
	s, err := storage.Open(ctx, StoreOptions(cfg, endpoints, tlsCfg, log))
	if err != nil {
		h.Close()
		return nil, err
	}
	h.Store = s
	return h, nil
}

// StoreOptions are the storage options cfg gives, for a store at
// endpoints: what the server and the offline commands both open.
func StoreOptions(cfg conf.Config, endpoints []string, tlsCfg *tls.Config, log *slog.Logger) storage.Options {
	return storage.Options{
		Endpoints: endpoints, Username: cfg.Storage.Etcd.Username, Password: cfg.Storage.Etcd.Password,
		TLS: tlsCfg, Prefix: cfg.Storage.Prefix, Timeout: cfg.Storage.Timeout, Logger: log,
		AuditRetention: cfg.Audit.Retention,
	}
}

// Close closes the store and stops an embedded etcd.
func (h *Handle) Close() {
	if h.Store != nil {
		h.Store.Close()
	}
	if h.embedded != nil {
		h.embedded.Close()
	}
}

// ErrInUse is Open's error for an embedded data directory a running
// server holds.
var ErrInUse = errors.New("the embedded store is in use by a running server (stop it, or use its HTTP API)")

// embeddedFree checks that dir holds an embedded store no process has
// open: the database file etcd keeps locked while it runs.
func embeddedFree(dir string) error {
	db := filepath.Join(dir, "etcd", "member", "snap", "db")
	f, err := os.OpenFile(db, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("storage.data-dir %q holds no embedded store", dir)
	}
	if err != nil {
		return fmt.Errorf("storage.data-dir %q: %w", dir, err)
	}
	defer f.Close()
	locked, err := heldByOther(f)
	if err != nil {
		return fmt.Errorf("storage.data-dir %q: %w", dir, err)
	}
	if locked {
		return fmt.Errorf("storage.data-dir %q: %w", dir, ErrInUse)
	}
	return nil
}
