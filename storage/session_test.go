package storage_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// sessionFixture is a store with account sa and enabled users u and w.
func sessionFixture(t *testing.T) (*storage.Store, context.Context) {
	t.Helper()
	s := storagetest.Store(t)
	ctx := storagetest.Ctx(t)
	if _, err := s.Bootstrap(ctx, "h", time.Now()); err != nil {
		t.Fatal(err)
	}
	storagetest.MustAccount(t, s, "sa", "system", "*")
	storagetest.MustItem(t, s, "sa", storage.KindUser, "u")
	storagetest.MustItem(t, s, "sa", storage.KindUser, "w")
	return s, ctx
}

func newSession(client string, now time.Time, ttl time.Duration) storage.Session {
	return storage.Session{Client: client, Created: now.Unix(), LastUsed: now.Unix(), Address: "192.0.2.7",
		UserAgent: "agent/1.0", Expires: now.Add(ttl).Unix()}
}

func mustSession(t *testing.T, s *storage.Store, ctx context.Context, u, id string) int64 {
	t.Helper()
	rev, err := s.CreateSession(ctx, "sa", u, id, newSession("cl-"+id, time.Now(), time.Hour), time.Hour)
	if err != nil {
		t.Fatalf("CreateSession(%s, %s): %v", u, id, err)
	}
	return rev
}

// setEnabled writes user u's enabled flag as the users resource does
// (PutItem of the whole record) and returns the write's revision.
func setEnabled(t *testing.T, s *storage.Store, ctx context.Context, u string, enabled bool) int64 {
	t.Helper()
	_, rev, err := s.PutItem(ctx, "sa", storage.KindUser, u, storage.UpdateOnly, func(old string, _ bool) (string, error) {
		rec, err := storage.DecodeUser(old)
		if err != nil {
			return "", err
		}
		rec.Enabled = enabled
		return rec.Encode(), nil
	}, nil)
	if err != nil {
		t.Fatalf("PutItem(enabled=%v): %v", enabled, err)
	}
	return rev
}

// etcdAt lists the keys under rel straight from etcd at revision rev.
func etcdAt(t *testing.T, s *storage.Store, rel string, rev int64) map[string]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := s.Client().Get(ctx, s.Prefix()+rel, clientv3.WithPrefix(), clientv3.WithRev(rev))
	if err != nil {
		t.Fatalf("etcd get %q at %d: %v", rel, rev, err)
	}
	out := map[string]int64{}
	for _, kv := range resp.Kvs {
		out[string(kv.Key)[len(s.Prefix()):]] = kv.ModRevision
	}
	return out
}

func liveSessions(t *testing.T, s *storage.Store, u string, now time.Time) []string {
	t.Helper()
	var ids []string
	if err := s.Read(context.Background(), latestRev(t, s), func(v storage.View) error {
		ids = v.LiveSessions("sa", u, now)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestSessionRecord: the compact form round-trips every field and the
// user agent is bounded.
func TestSessionRecord(t *testing.T) {
	in := storage.Session{Client: "c1", Created: 1700000000, LastUsed: 1700000100, Address: "2001:db8::1",
		UserAgent: "Mozilla/5.0 (X11)", Expires: 1702592000}
	got, err := storage.DecodeSession(in.Encode())
	if err != nil || got != in {
		t.Fatalf("round trip: %+v %v, want %+v", got, err, in)
	}
	long := storage.Session{UserAgent: string(make([]byte, 5000))}
	if got, _ := storage.DecodeSession(long.Encode()); len(got.UserAgent) != 512 {
		t.Errorf("a 5000-byte user agent is stored with %d bytes, want 512", len(got.UserAgent))
	}
	if !in.Live(time.Unix(1702591999, 0)) || in.Live(time.Unix(1702592000, 0)) {
		t.Error("Live does not end exactly at Expires")
	}
}

// TestSessionCreate: a session needs an existing, enabled user; it is
// written under the user with a lease; expired ones are not live.
func TestSessionCreate(t *testing.T) {
	s, ctx := sessionFixture(t)
	now := time.Now()
	if _, err := s.CreateSession(ctx, "sa", "nobody", "f1", newSession("c", now, time.Hour), time.Hour); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("session of a missing user: %v, want ErrNotFound", err)
	}
	if _, err := s.CreateSession(ctx, "sa", "u", "bad/id", newSession("c", now, time.Hour), time.Hour); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("session id with a slash: %v, want ErrInvalid", err)
	}
	if _, err := s.CreateSession(ctx, "sa", "u", "f0", newSession("c", now, 0), 0); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("session with no time left: %v, want ErrInvalid", err)
	}
	setEnabled(t, s, ctx, "w", false)
	if _, err := s.CreateSession(ctx, "sa", "w", "f1", newSession("c", now, time.Hour), time.Hour); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("session of a disabled user: %v, want ErrInvalid", err)
	}
	if ids := liveSessions(t, s, "w", now); len(ids) != 0 {
		t.Errorf("the disabled user has sessions %v", ids)
	}

	want := newSession("cl", now, time.Hour)
	if _, err := s.CreateSession(ctx, "sa", "u", "f1", want, time.Hour); err != nil {
		t.Fatal(err)
	}
	mustSession(t, s, ctx, "u", "f2")
	key := storage.SubKey("sa", storage.KindSession, "u", "f1")
	resp, err := s.Client().Get(ctx, s.Prefix()+key)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("etcd has no %s: %v", key, err)
	}
	if resp.Kvs[0].Lease == 0 {
		t.Error("the session record has no lease: etcd would never drop it")
	}
	lease, err := s.Client().TimeToLive(ctx, clientv3.LeaseID(resp.Kvs[0].Lease))
	if err != nil || lease.TTL < int64((time.Hour-time.Minute)/time.Second) || lease.TTL > int64((2*time.Hour)/time.Second) {
		t.Errorf("lease TTL %d s (%v), want about an hour (at most one bucket more)", lease.TTL, err)
	}
	if err := s.Read(ctx, 0, func(v storage.View) error {
		got, ok := v.LiveSession("sa", "u", "f1", now)
		if !ok || got != want {
			t.Errorf("LiveSession = %+v %v, want %+v", got, ok, want)
		}
		if _, ok := v.LiveSession("sa", "u", "f1", now.Add(time.Hour+time.Second)); ok {
			t.Error("a session is live after it expired")
		}
		if _, ok := v.Session("sa", "u", "f1"); !ok {
			t.Error("Session does not return the stored record")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if ids := liveSessions(t, s, "u", now); !slices.Equal(ids, []string{"f1", "f2"}) {
		t.Errorf("LiveSessions = %v, want [f1 f2]", ids)
	}
	if ids := liveSessions(t, s, "u", now.Add(2*time.Hour)); len(ids) != 0 {
		t.Errorf("LiveSessions two hours on = %v, want none", ids)
	}
}

// TestSessionTouchAndDelete: a refresh rewrites last use and expiry; a
// deleted session is not brought back by a late touch.
func TestSessionTouchAndDelete(t *testing.T) {
	s, ctx := sessionFixture(t)
	mustSession(t, s, ctx, "u", "f1")
	later := time.Now().Add(5 * time.Minute)
	if _, err := s.TouchSession(ctx, "sa", "u", "f1", later.Unix(), later.Add(2*time.Hour).Unix(), 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Read(ctx, 0, func(v storage.View) error {
		got, _ := v.Session("sa", "u", "f1")
		if got.LastUsed != later.Unix() || got.Expires != later.Add(2*time.Hour).Unix() || got.Client != "cl-f1" || got.Address != "192.0.2.7" {
			t.Errorf("after the touch: %+v", got)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteSession(ctx, "sa", "u", "f1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteSession(ctx, "sa", "u", "f1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("deleting it again: %v, want ErrNotFound", err)
	}
	if _, err := s.TouchSession(ctx, "sa", "u", "f1", later.Unix(), later.Add(time.Hour).Unix(), time.Hour); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("touching a deleted session: %v, want ErrNotFound", err)
	}
	if storagetest.EtcdHas(t, s, storage.SubKey("sa", storage.KindSession, "u", "f1")) {
		t.Error("the touch brought the deleted session back")
	}
}

// TestSessionCascade: disabling a user removes its sessions in the
// transaction that disables it (and only its own); enabling it again
// brings none back; deleting a user or its account removes them in the
// transaction that deletes it.
func TestSessionCascade(t *testing.T) {
	s, ctx := sessionFixture(t)
	mustSession(t, s, ctx, "u", "f1")
	mustSession(t, s, ctx, "u", "f2")
	mustSession(t, s, ctx, "w", "g1")
	userKey := storage.ItemKey("sa", storage.KindUser, "u")
	uSessions := storage.SubRange("sa", storage.KindSession, "u")

	// An update that leaves the user enabled keeps them.
	if _, _, err := s.PutItem(ctx, "sa", storage.KindUser, "u", storage.UpdateOnly, func(old string, _ bool) (string, error) {
		rec, _ := storage.DecodeUser(old)
		rec.FullName = "U"
		return rec.Encode(), nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	if n := len(storagetest.EtcdKeys(t, s, uSessions)); n != 2 {
		t.Fatalf("after an update keeping the user enabled: %d sessions, want 2", n)
	}

	rev := setEnabled(t, s, ctx, "u", false)
	before, after := etcdAt(t, s, uSessions, rev-1), etcdAt(t, s, uSessions, rev)
	if len(before) != 2 || len(after) != 0 {
		t.Errorf("sessions at revisions %d and %d: %v, %v; want both, then none", rev-1, rev, before, after)
	}
	if users := etcdAt(t, s, userKey, rev); users[userKey] != rev {
		t.Errorf("the user record's mod revision is %d, want the disabling write's %d", users[userKey], rev)
	}
	if ids := liveSessions(t, s, "u", time.Now()); len(ids) != 0 {
		t.Errorf("the cache still shows sessions %v", ids)
	}
	if ids := liveSessions(t, s, "w", time.Now()); !slices.Equal(ids, []string{"g1"}) {
		t.Errorf("another user's sessions: %v, want [g1]", ids)
	}
	// Writing the disabled user again writes nothing (no change).
	r0 := storagetest.EtcdRev(t, s)
	setEnabled(t, s, ctx, "u", false)
	if r1 := storagetest.EtcdRev(t, s); r1 != r0 {
		t.Errorf("rewriting the disabled user unchanged wrote: revision %d → %d", r0, r1)
	}
	setEnabled(t, s, ctx, "u", true)
	if ids := liveSessions(t, s, "u", time.Now()); len(ids) != 0 {
		t.Errorf("enabling the user again brought back %v", ids)
	}

	// Deleting the user removes its sessions in the same transaction.
	mustSession(t, s, ctx, "u", "f3")
	rev, err := s.DeleteItem(ctx, "sa", storage.KindUser, "u")
	if err != nil {
		t.Fatal(err)
	}
	if before, after := etcdAt(t, s, uSessions, rev-1), etcdAt(t, s, uSessions, rev); len(before) != 1 || len(after) != 0 {
		t.Errorf("sessions around the user's delete at %d: %v, %v", rev, before, after)
	}
	if _, err := s.CreateSession(ctx, "sa", "u", "f4", newSession("c", time.Now(), time.Hour), time.Hour); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("session of the deleted user: %v, want ErrNotFound", err)
	}

	// Deleting the account removes every session in it.
	if _, err := s.DeleteAccount(ctx, "sa"); err != nil {
		t.Fatal(err)
	}
	if keys := storagetest.EtcdKeys(t, s, storage.SubRange("sa", storage.KindSession, "w")); len(keys) != 0 {
		t.Errorf("sessions left after the account's delete: %v", keys)
	}
}

// TestSessionDisableRace: sessions created while the user is being
// disabled never survive the disable: whatever the interleaving, a
// disabled user has no session (the disable's range guard, the create's
// guard on the user record).
func TestSessionDisableRace(t *testing.T) {
	s, ctx := sessionFixture(t)
	for round := range 8 {
		setEnabled(t, s, ctx, "u", true)
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for i := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.CreateSession(ctx, "sa", "u", fmt.Sprintf("r%d-%d", round, i), newSession("c", time.Now(), time.Hour), time.Hour)
				if err != nil && !errors.Is(err, storage.ErrInvalid) {
					errs <- err
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			setEnabled(t, s, ctx, "u", false)
		}()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("round %d: create: %v", round, err)
		}
		if keys := storagetest.EtcdKeys(t, s, storage.SubRange("sa", storage.KindSession, "u")); len(keys) != 0 {
			t.Fatalf("round %d: the disabled user has sessions in etcd: %v", round, storagetest.SortedKeys(keys))
		}
	}
}

// TestReadSessionFresh: a session another instance has just written is
// found even before this instance's cache has it (ReadSession checks a
// miss at etcd's revision); an unknown one is not.
func TestReadSessionFresh(t *testing.T) {
	ep := storagetest.Etcd(t)
	a, b := storagetest.Open(t, ep), storagetest.Open(t, ep)
	ctx := storagetest.Ctx(t)
	if _, err := a.Bootstrap(ctx, "h", time.Now()); err != nil {
		t.Fatal(err)
	}
	storagetest.MustAccount(t, a, "sa", "system", "*")
	storagetest.MustItem(t, a, "sa", storage.KindUser, "u")
	for i := range 20 {
		id := fmt.Sprintf("f%d", i)
		if _, err := a.CreateSession(ctx, "sa", "u", id, newSession("c", time.Now(), time.Hour), time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := b.ReadSession(ctx, "sa", "u", id, time.Now()); err != nil || !ok {
			t.Fatalf("instance B reading the session A just wrote: %v %v", ok, err)
		}
	}
	if _, ok, err := b.ReadSession(ctx, "sa", "u", "unknown", time.Now()); ok || err != nil {
		t.Errorf("an unknown session: %v %v", ok, err)
	}
	if _, ok, _ := b.ReadSession(ctx, "sa", "u", "f0", time.Now().Add(2*time.Hour)); ok {
		t.Error("an expired session reads as live")
	}
}
