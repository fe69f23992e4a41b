package harness

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"gatehouse/conf"
	"gatehouse/instance"
)

// LogBuffer collects everything a server logs (its slog output at debug
// level and its console output), safe for concurrent writes.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything logged so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// StartLogged starts a server like StartWith whose log and console output
// go to the returned buffer instead of being discarded, so tests can grep
// them (for secrets, say).
func StartLogged(t testing.TB, cfg conf.Config) (*Server, *LogBuffer) {
	t.Helper()
	logs := &LogBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	in, err := instance.Start(ctx, cfg, log, logs)
	if err != nil {
		t.Fatalf("start gatehouse: %v", err)
	}
	s := &Server{Instance: in, t: t, Config: cfg, xml: xmlCollector(t),
		Client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	t.Cleanup(in.Close)
	return s, logs
}
