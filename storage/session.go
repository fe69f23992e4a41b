package storage

import (
	"context"
	"fmt"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Sign-in sessions (SPEC §3a, §6). A session is one interactive sign-in
// (an OAuth authorization-code or password grant) and owns the grant's
// refresh-token family; its id is the family's id (fosite's request id).
// Its record lives in its user's per-user set SubKey(a, KindSession, u,
// id), so:
//
//   - deleting the user (DeleteItem, via owned) or the account
//     (DeleteAccount, the tenant range) removes it in the same
//     transaction;
//   - a user write that leaves the user disabled (PutItem of KindUser)
//     removes every session of the user in the same transaction
//     (dropSessionsIfDisabled), guarded against a session created
//     meanwhile: a disabled user never has a session;
//   - CreateSession is guarded on the user existing and being enabled,
//     so a session never outlives a racing disable or delete.
//
// Expiry: a session expires with its refresh family (or, without a
// refresh token, its access token). Records are written with an etcd
// lease (Txn.PutWithTTL, shared per expiry bucket), so etcd deletes an
// expired record by itself, at most one bucket (an hour at most) after
// its expiry; until then readers filter on the stored expiry
// (View.LiveSession, View.LiveSessions), so an expired session is never
// shown or honoured. A refresh rewrites the record (TouchSession) with
// its new expiry and a new lease.

// Session is the stored part of a sign-in session; its owner and id are
// its key.
type Session struct {
	Client    string // the OAuth client id
	Created   int64  // Unix seconds
	LastUsed  int64  // Unix seconds: the grant or its last recorded refresh
	Address   string // the client address of the grant
	UserAgent string
	Expires   int64 // Unix seconds: the refresh family's expiry
}

// maxUserAgent bounds the stored user agent.
const maxUserAgent = 512

// Encode returns the compact stored form.
func (s Session) Encode() string {
	ua := s.UserAgent
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	return encodeFields(fields{s.Client, strconv.FormatInt(s.Created, 10), strconv.FormatInt(s.LastUsed, 10),
		s.Address, ua, strconv.FormatInt(s.Expires, 10)})
}

// DecodeSession reads a Session record.
func DecodeSession(v string) (Session, error) {
	var f [6]string
	if err := decodeFields(v, f[:]); err != nil {
		return Session{}, err
	}
	created, _ := strconv.ParseInt(f[1], 10, 64)
	used, _ := strconv.ParseInt(f[2], 10, 64)
	exp, _ := strconv.ParseInt(f[5], 10, 64)
	return Session{Client: f[0], Created: created, LastUsed: used, Address: f[3], UserAgent: f[4], Expires: exp}, nil
}

// Live reports whether the session has not expired at now.
func (s Session) Live(now time.Time) bool { return s.Expires > now.Unix() }

// Sessions is the collection of user u's sign-in sessions (stored
// records, expired ones included until etcd drops them: list them with
// LiveSessions).
func Sessions(a, u string) Coll { return Coll{Account: a, Kind: KindSession, Owner: u} }

// Session returns the record of session id of user u, expired or not.
func (v View) Session(a, u, id string) (Session, bool) {
	val, ok := v.Get(SubKey(a, KindSession, u, id))
	if !ok {
		return Session{}, false
	}
	s, err := DecodeSession(val)
	return s, err == nil
}

// LiveSession returns session id of user u if it exists and has not
// expired at now.
func (v View) LiveSession(a, u, id string, now time.Time) (Session, bool) {
	s, ok := v.Session(a, u, id)
	if !ok || !s.Live(now) {
		return Session{}, false
	}
	return s, true
}

// LiveSessions lists the ids of user u's sessions that have not expired
// at now, in key order. A user holds a handful of sessions, so the whole
// range is walked (each key and its mod revision fold into a tracking
// view's digest).
func (v View) LiveSessions(a, u string, now time.Time) []string {
	var ids []string
	v.EachRange(SubRange(a, KindSession, u), func(id, val string) bool {
		if s, err := DecodeSession(val); err == nil && s.Live(now) {
			ids = append(ids, id)
		}
		return true
	})
	return ids
}

// checkTTL refuses a session written with no time left.
func checkTTL(ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("%w: the session expired before it was stored", ErrInvalid)
	}
	return nil
}

// CreateSession stores session id of user u (a new sign-in) with a lease
// of ttl (the time left until rec.Expires), in one transaction guarded on
// the user existing and being enabled: ErrNotFound when the user is
// gone, ErrInvalid when disabled or ttl is not positive.
func (s *Store) CreateSession(ctx context.Context, a, u, id string, rec Session, ttl time.Duration) (int64, error) {
	if err := ValidName(id); err != nil {
		return 0, fmt.Errorf("%w: session id: %v", ErrInvalid, err)
	}
	if err := checkTTL(ttl); err != nil {
		return 0, err
	}
	return s.Update(ctx, func(v View, t *Txn) error {
		user, ok := v.User(a, u)
		if !ok {
			return notFound(fmt.Sprintf("user %q in account %q", u, a))
		}
		t.Expect(ItemKey(a, KindUser, u))
		if !user.Enabled {
			return fmt.Errorf("%w: user %q in account %q is disabled", ErrInvalid, u, a)
		}
		key := SubKey(a, KindSession, u, id)
		t.Expect(key)
		t.PutWithTTL(key, rec.Encode(), ttl)
		return nil
	})
}

// TouchSession records a use of session id of user u (a refresh): its
// last use and its new expiry, with a new lease of ttl. It is guarded on
// the record as read, so a session deleted meanwhile (revoked, user
// disabled or deleted) is ErrNotFound and never comes back.
func (s *Store) TouchSession(ctx context.Context, a, u, id string, lastUsed, expires int64, ttl time.Duration) (int64, error) {
	if err := checkTTL(ttl); err != nil {
		return 0, err
	}
	return s.Update(ctx, func(v View, t *Txn) error {
		key := SubKey(a, KindSession, u, id)
		rec, ok := v.Session(a, u, id)
		if !ok {
			return notFound(fmt.Sprintf("session %q of user %q", id, u))
		}
		t.Expect(key)
		rec.LastUsed, rec.Expires = lastUsed, expires
		t.PutWithTTL(key, rec.Encode(), ttl)
		return nil
	})
}

// DeleteSession removes session id of user u (ErrNotFound when absent).
func (s *Store) DeleteSession(ctx context.Context, a, u, id string) (int64, error) {
	return s.Update(ctx, func(v View, t *Txn) error {
		key := SubKey(a, KindSession, u, id)
		if !v.Has(key) {
			return notFound(fmt.Sprintf("session %q of user %q", id, u))
		}
		t.Expect(key)
		t.Delete(key)
		return nil
	})
}

// dropSessionsIfDisabled adds to a write of user u's record (val, the
// new value) the removal of every session of u when val leaves the user
// disabled. The range is guarded against additions, so a session created
// between the view and the commit fails the write, which is rebuilt
// and removes it too.
func dropSessionsIfDisabled(v View, t *Txn, a, u, val string) {
	if f, ok := recordField(val, 3); ok && f == "1" {
		return // enabled
	}
	r := SubRange(a, KindSession, u)
	t.ExpectNoNew(r)
	if v.CountRange(r) > 0 {
		t.DeleteRange(r)
	}
}

// ReadSession returns session id of user u when it exists and has not
// expired at now, read from the cache. A miss is checked once more at
// etcd's current revision (waiting for the cache to reach it), so a
// session another instance created a moment ago is found: a miss costs
// one etcd round trip, a hit none.
func (s *Store) ReadSession(ctx context.Context, a, u, id string, now time.Time) (Session, bool, error) {
	var rec Session
	var ok bool
	read := func(min int64) error {
		return s.Read(ctx, min, func(v View) error {
			rec, ok = v.LiveSession(a, u, id, now)
			return nil
		})
	}
	if err := read(0); err != nil || ok {
		return rec, ok, err
	}
	tctx, cancel := context.WithTimeout(ctx, s.timeout)
	resp, err := s.client.Get(tctx, s.prefix+SubKey(a, KindSession, u, id), clientv3.WithCountOnly())
	cancel()
	if err != nil {
		return Session{}, false, classify(err)
	}
	if resp.Count == 0 {
		return Session{}, false, nil
	}
	err = read(resp.Header.Revision)
	return rec, ok, err
}
