package storeadmin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Result describes a backup written by Backup.
type Result struct {
	File     string
	Revision int64  // the etcd revision the snapshot holds
	Keys     int    // keys in the snapshot
	Size     int64  // bytes written
	SHA256   string // hex digest of the file, also in File+".sha256"
}

// Snapshot streams a consistent snapshot of the whole etcd keyspace
// (etcd's Maintenance API), after a linearizable read that tells the
// revision every acknowledged write is at or below; it returns that
// revision with the stream, which the caller must close.
func Snapshot(ctx context.Context, client *clientv3.Client) (io.ReadCloser, int64, error) {
	r, err := client.Get(ctx, "health-probe", clientv3.WithCountOnly())
	if err != nil {
		return nil, 0, fmt.Errorf("etcd revision before the snapshot: %w", err)
	}
	rc, err := client.Maintenance.Snapshot(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("etcd snapshot: %w", err)
	}
	return rc, r.Header.Revision, nil
}

// Backup writes a snapshot to file (replacing it only once the new one
// is complete and synced) and its SHA-256 to file+".sha256".
func Backup(ctx context.Context, client *clientv3.Client, file string) (Result, error) {
	rc, floor, err := Snapshot(ctx, client)
	if err != nil {
		return Result{}, err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(filepath.Dir(file), filepath.Base(file)+".part-*")
	if err != nil {
		return Result{}, fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), rc)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Result{}, fmt.Errorf("backup to %s: %w", file, err)
	}
	st, err := snapshot.NewV3(zap.NewNop()).Status(tmp.Name())
	if err != nil {
		return Result{}, fmt.Errorf("backup: the snapshot does not read back: %w", err)
	}
	if st.Revision < floor {
		return Result{}, fmt.Errorf("backup: the etcd member answered with revision %d, behind the cluster's %d; try again", st.Revision, floor)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return Result{}, fmt.Errorf("backup: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := os.WriteFile(file+".sha256", []byte(sum+"  "+filepath.Base(file)+"\n"), 0o600); err != nil {
		return Result{}, fmt.Errorf("backup checksum: %w", err)
	}
	return Result{File: file, Revision: st.Revision, Keys: st.TotalKey, Size: n, SHA256: sum}, nil
}

// ErrNotEmpty is Restore's error for a data directory that already
// holds something.
var ErrNotEmpty = errors.New("is not empty: restore makes a new data directory")

// Restore makes a new embedded data directory dataDir from the snapshot
// in file, for the embedded store to start on with the given peer port
// (0: etcd's default). dataDir must not exist or be empty.
func Restore(file, dataDir string, peerPort int) error {
	if err := verifySum(file); err != nil {
		return err
	}
	entries, err := os.ReadDir(dataDir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("restore: data dir %q: %w", dataDir, err)
	case len(entries) > 0:
		return fmt.Errorf("restore: data dir %q %w", dataDir, ErrNotEmpty)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if peerPort == 0 {
		peerPort = 2380
	}
	// The member as storage.StartEmbedded starts it: named "gatehouse",
	// on loopback, with embed's default cluster token.
	const member = "gatehouse"
	peer := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	err = snapshot.NewV3(zap.NewNop()).Restore(snapshot.RestoreConfig{
		SnapshotPath:        file,
		Name:                member,
		OutputDataDir:       filepath.Join(dataDir, "etcd"),
		PeerURLs:            []string{peer},
		InitialCluster:      member + "=" + peer,
		InitialClusterToken: embed.NewConfig().InitialClusterToken,
	})
	if err != nil {
		return fmt.Errorf("restore %s: %w", file, err)
	}
	return nil
}

// verifySum compares file with file+".sha256" when that exists.
func verifySum(file string) error {
	want, err := os.ReadFile(file + ".sha256")
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	got := hex.EncodeToString(h.Sum(nil))
	sum, _, _ := bytes.Cut(bytes.TrimSpace(want), []byte(" "))
	if string(sum) != got {
		return fmt.Errorf("restore: %s does not match its checksum in %s.sha256", file, file)
	}
	return nil
}
