package storage_test

import (
	"errors"
	"testing"
	"time"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// TestMarkers: a marker is in the writer's cache when PutMarker returns,
// is replaced by a later put, goes by its stored expiry, and refuses
// invalid names and TTLs.
func TestMarkers(t *testing.T) {
	s := storagetest.Store(t)
	ctx := patientCtx(t)
	marker := func(minRev int64, kind, id string, now time.Time) (string, bool) {
		var (
			v  []byte
			ok bool
		)
		if err := s.Read(ctx, minRev, func(view storage.View) error {
			v, ok = view.Marker(kind, id, now)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return string(v), ok
	}
	rev, err := s.PutMarker(ctx, "revoked", "fam-1", []byte("at-1"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// No minimum revision: PutMarker returned after the cache applied it.
	if v, ok := marker(0, "revoked", "fam-1", time.Now()); !ok || v != "at-1" {
		t.Errorf("marker right after PutMarker = %q, %v; want at-1", v, ok)
	}
	if _, ok := marker(rev, "revoked", "fam-2", time.Now()); ok {
		t.Error("an absent marker is found")
	}
	if _, ok := marker(rev, "other", "fam-1", time.Now()); ok {
		t.Error("a marker of another kind is found")
	}
	if _, ok := marker(rev, "revoked", "fam-1", time.Now().Add(2*time.Hour)); ok {
		t.Error("a marker is found after its expiry")
	}
	rev2, err := s.PutMarker(ctx, "revoked", "fam-1", []byte("at-2"), time.Hour)
	if err != nil || rev2 <= rev {
		t.Fatalf("replacing a marker: rev %d (was %d), %v", rev2, rev, err)
	}
	if v, ok := marker(0, "revoked", "fam-1", time.Now()); !ok || v != "at-2" {
		t.Errorf("replaced marker = %q, %v; want at-2", v, ok)
	}
	for _, bad := range []struct {
		kind, id string
		ttl      time.Duration
	}{{"", "x", time.Hour}, {"k", "", time.Hour}, {"k", "a/b", time.Hour}, {".k", "x", time.Hour}, {"k", "x", 0}} {
		if _, err := s.PutMarker(ctx, bad.kind, bad.id, nil, bad.ttl); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("PutMarker(%q, %q, %s) = %v, want ErrInvalid", bad.kind, bad.id, bad.ttl, err)
		}
	}
}
