package storage

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Embedded is an etcd server running inside the gatehouse process: the
// default when no endpoints are configured, and what tests start.
type Embedded struct {
	etcd *embed.Etcd
	// Endpoint is the client URL to dial.
	Endpoint string
}

// StartEmbedded starts a single-member etcd with its data in dir,
// listening on loopback. A port of 0 picks a free one; since another
// process may take a picked port before etcd binds it, a bind failure on
// picked ports is retried with new ones.
func StartEmbedded(dir string, clientPort, peerPort int) (*Embedded, error) {
	for attempt := 0; ; attempt++ {
		e, err := startEmbedded(dir, clientPort, peerPort)
		if err == nil || attempt == 4 || (clientPort != 0 && peerPort != 0) ||
			!strings.Contains(err.Error(), "address already in use") {
			return e, err
		}
	}
}

func startEmbedded(dir string, clientPort, peerPort int) (*Embedded, error) {
	var err error
	if clientPort == 0 {
		if clientPort, err = freePort(); err != nil {
			return nil, err
		}
	}
	if peerPort == 0 {
		if peerPort, err = freePort(); err != nil {
			return nil, err
		}
	}
	cfg := embed.NewConfig()
	cfg.Dir = filepath.Join(dir, "etcd")
	cfg.Name = "gatehouse"
	cfg.Logger = "zap"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	curl, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", clientPort))
	purl, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", peerPort))
	cfg.ListenClientUrls = []url.URL{*curl}
	cfg.AdvertiseClientUrls = []url.URL{*curl}
	cfg.ListenPeerUrls = []url.URL{*purl}
	cfg.AdvertisePeerUrls = []url.URL{*purl}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	// Large subtrees are deleted and sets replaced in one transaction.
	cfg.MaxTxnOps = 16384
	cfg.MaxRequestBytes = 8 << 20
	// Keep history for an hour so watches can resume after a pause.
	cfg.AutoCompactionMode = embed.CompactorModePeriodic
	cfg.AutoCompactionRetention = "1h"
	cfg.QuotaBackendBytes = 8 << 30

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("start embedded etcd in %s: %w", cfg.Dir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, fmt.Errorf("embedded etcd in %s did not become ready within 60s", cfg.Dir)
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd: %w", err)
	}
	return &Embedded{etcd: e, Endpoint: curl.String()}, nil
}

// Close stops the server.
func (e *Embedded) Close() { e.etcd.Close() }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
