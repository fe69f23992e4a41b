// Package storagetest starts real etcd servers for tests: the embedded
// server of go.etcd.io/etcd/server/v3/embed on free loopback ports, the
// same code path gatehouse uses by default. It is the one place tests get
// storage from, and holds the helpers they share to look at a store
// straight in etcd or in its cache (inspect.go).
package storagetest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"gatehouse/storage"
)

// Etcd starts an embedded etcd in a temporary directory and returns its
// client endpoint; it is stopped when the test ends.
func Etcd(t testing.TB) string {
	t.Helper()
	e, err := storage.StartEmbedded(t.TempDir(), 0, 0)
	if err != nil {
		t.Fatalf("start embedded etcd: %v", err)
	}
	t.Cleanup(e.Close)
	return e.Endpoint
}

// Open opens a Store on endpoint with a short timeout and a quiet log.
func Open(t testing.TB, endpoint string) *storage.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := storage.Open(ctx, storage.Options{
		Endpoints: []string{endpoint},
		Timeout:   5 * time.Second,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Store starts an embedded etcd and opens a Store on it.
func Store(t testing.TB) *storage.Store {
	t.Helper()
	return Open(t, Etcd(t))
}
