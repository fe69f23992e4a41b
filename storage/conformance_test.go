package storage_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/storage"
	"gatehouse/storage/conformance"
	"gatehouse/storage/storagetest"
)

// TestConformance runs the conformance suite against embedded etcd: one
// server for the whole suite (starting one costs far more than a case), and
// each case's store under a key prefix of its own.
func TestConformance(t *testing.T) {
	endpoint := storagetest.Etcd(t)
	var n atomic.Int64
	conformance.RunTests(t, func(t testing.TB) *storage.Store {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		s, err := storage.Open(ctx, storage.Options{
			Endpoints: []string{endpoint},
			Prefix:    fmt.Sprintf("/conformance/%d/", n.Add(1)),
			Timeout:   5 * time.Second,
			Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatalf("open store: %v", err)
		}
		t.Cleanup(s.Close)
		return s
	})
}
