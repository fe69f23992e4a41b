package resources

import (
	"fmt"
	"io"
	"net/http"

	"gatehouse/authz"
	"gatehouse/storeadmin"
)

// Backup (SPEC §3c): GET /auth/v2/backup streams an etcd snapshot of the
// whole store (storeadmin.Snapshot), the one way to back up a running
// server on its embedded store.
//
// Decisions:
//   - System principals only, like the root rules: anyone else finds
//     nothing there (404), whatever they hold. A tenant's ceiling cannot
//     grant it even when it holds "*", since the snapshot holds every
//     account, not just the tenant's subtree.
//   - The body is application/octet-stream, not cached (no-store), named
//     by Content-Disposition after its time; HEAD answers the headers
//     without taking a snapshot. The first chunk is read
//     before the status is sent, so etcd refusing the snapshot is a 503
//     problem; a failure after that aborts the response (the client sees
//     a broken transfer, never a short file that looks whole; etcd's
//     appended hash catches truncation at restore as well).
//   - Gatehouse-Snapshot-Revision is the revision every write
//     acknowledged before the request is at or below; the snapshot holds
//     at least that.
func getBackup(c *call) error {
	if c.p.Account != authz.SystemAccount {
		return problem(http.StatusNotFound, "no resource at %s", c.r.URL.Path)
	}
	h := c.w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="gatehouse-%s.snapshot"`, c.s.Now().UTC().Format("20060102T150405Z")))
	if c.r.Method == http.MethodHead {
		return nil // no snapshot is taken for HEAD
	}
	rc, rev, err := storeadmin.Snapshot(c.r.Context(), c.s.Store.Client())
	if err != nil {
		h.Del("Content-Disposition")
		return problem(http.StatusServiceUnavailable, "the store did not give a snapshot: %v", err)
	}
	defer rc.Close()
	first := make([]byte, 32<<10)
	n, err := io.ReadFull(rc, first)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		h.Del("Content-Disposition")
		return problem(http.StatusServiceUnavailable, "the store did not give a snapshot: %v", err)
	}
	h.Set("Gatehouse-Snapshot-Revision", fmt.Sprint(rev))
	c.w.WriteHeader(http.StatusOK)
	if _, err := c.w.Write(first[:n]); err != nil {
		return nil // the client went away
	}
	if _, err := io.Copy(c.w, rc); err != nil {
		c.s.Logger.Warn("backup stream broken", "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}
