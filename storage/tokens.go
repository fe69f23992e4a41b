package storage

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// MaxTokenIDLength is the longest token kind or id.
const MaxTokenIDLength = 512

// validTokenName reports why s is not a valid token kind or id: 1–512
// characters of A–Z a–z 0–9 . _ ~ -, not starting with ".". Ids may be
// long hex or base64url strings.
func validTokenName(what, s string) error {
	if len(s) == 0 || len(s) > MaxTokenIDLength {
		return fmt.Errorf("%w: token %s must be 1 to %d characters", ErrInvalid, what, MaxTokenIDLength)
	}
	if s[0] == '.' {
		return fmt.Errorf("%w: token %s starts with '.'", ErrInvalid, what)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '_', c == '~', c == '-':
		default:
			return fmt.Errorf("%w: token %s holds %q: only letters, digits and . _ ~ - are allowed", ErrInvalid, what, c)
		}
	}
	return nil
}

func tokenKey(kind, id string) (string, error) {
	if err := validTokenName("kind", kind); err != nil {
		return "", err
	}
	if err := validTokenName("id", id); err != nil {
		return "", err
	}
	return TokenKey(kind, id), nil
}

// A token's stored form is a record of its expiry (Unix nanoseconds) and
// value: etcd may keep a key a little past its lease (leases are shared
// per bucket and extended when a leader changes), and readers go by the
// expiry.
func encodeToken(expires time.Time, value []byte) string {
	return encodeFields(fields{strconv.FormatInt(expires.UnixNano(), 10), string(value)})
}

// decodeToken returns the value of a stored token that has not expired
// at now.
func decodeToken(stored []byte, now time.Time) ([]byte, bool) {
	var f [2]string
	err := decodeFields(string(stored), f[:])
	if err != nil {
		return nil, false
	}
	exp, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || now.UnixNano() >= exp {
		return nil, false
	}
	return []byte(f[1]), true
}

// CreateToken stores value as token id of kind for ttl; ErrNameTaken if
// such a token exists and has not expired.
func (s *Store) CreateToken(ctx context.Context, kind, id string, value []byte, ttl time.Duration) error {
	key, err := tokenKey(kind, id)
	if err != nil {
		return err
	}
	if ttl <= 0 {
		return fmt.Errorf("%w: token TTL %s is not positive", ErrInvalid, ttl)
	}
	full := s.prefix + key
	cmp := clientv3.Compare(clientv3.CreateRevision(full), "=", 0) // absent
	for attempt := 0; attempt < 4; attempt++ {
		now := time.Now()
		lease, err := s.ttl.get(ctx, s.client, now, ttl, s.timeout)
		if err != nil {
			return err
		}
		tctx, cancel := context.WithTimeout(ctx, s.timeout)
		resp, err := s.client.Txn(tctx).If(cmp).
			Then(clientv3.OpPut(full, encodeToken(now.Add(ttl), value), clientv3.WithLease(lease))).
			Else(clientv3.OpGet(full)).Commit()
		cancel()
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			s.ttl.reset() // etcd lost it (a restore): grant afresh
			continue
		}
		if err != nil {
			return classify(err)
		}
		if resp.Succeeded {
			return nil
		}
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 {
			cmp = clientv3.Compare(clientv3.CreateRevision(full), "=", 0) // gone meanwhile
			continue
		}
		if _, live := decodeToken(kvs[0].Value, time.Now()); live {
			return fmt.Errorf("token %s/%s: %w", kind, id, ErrNameTaken)
		}
		// Expired but not yet removed by etcd: replace exactly that one.
		cmp = clientv3.Compare(clientv3.ModRevision(full), "=", kvs[0].ModRevision)
	}
	return fmt.Errorf("%w: token %s/%s: gave up after repeated changes", ErrConflict, kind, id)
}

// GetToken returns the value of token id of kind; ErrNotFound if it is
// absent or expired.
func (s *Store) GetToken(ctx context.Context, kind, id string) ([]byte, error) {
	key, err := tokenKey(kind, id)
	if err != nil {
		return nil, err
	}
	gctx, cancel := context.WithTimeout(ctx, s.timeout)
	resp, err := s.client.Get(gctx, s.prefix+key)
	cancel()
	if err != nil {
		return nil, classify(err)
	}
	if len(resp.Kvs) == 0 {
		return nil, notFound(fmt.Sprintf("token %s/%s", kind, id))
	}
	value, live := decodeToken(resp.Kvs[0].Value, time.Now())
	if !live {
		return nil, notFound(fmt.Sprintf("token %s/%s", kind, id))
	}
	return value, nil
}

// DeleteToken removes token id of kind; ErrNotFound if it is absent.
func (s *Store) DeleteToken(ctx context.Context, kind, id string) error {
	key, err := tokenKey(kind, id)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, s.timeout)
	resp, err := s.client.Delete(dctx, s.prefix+key)
	cancel()
	if err != nil {
		return classify(err)
	}
	if resp.Deleted == 0 {
		return notFound(fmt.Sprintf("token %s/%s", kind, id))
	}
	return nil
}

// TakeToken reads and deletes token id of kind in one etcd transaction,
// so of two concurrent takes only one gets the value (single-use codes);
// ErrNotFound if it is absent or expired.
func (s *Store) TakeToken(ctx context.Context, kind, id string) ([]byte, error) {
	key, err := tokenKey(kind, id)
	if err != nil {
		return nil, err
	}
	full := s.prefix + key
	tctx, cancel := context.WithTimeout(ctx, s.timeout)
	resp, err := s.client.Txn(tctx).Then(clientv3.OpGet(full), clientv3.OpDelete(full)).Commit()
	cancel()
	if err != nil {
		return nil, classify(err)
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return nil, notFound(fmt.Sprintf("token %s/%s", kind, id))
	}
	value, live := decodeToken(kvs[0].Value, time.Now())
	if !live {
		return nil, notFound(fmt.Sprintf("token %s/%s", kind, id))
	}
	return value, nil
}

// TokenRef names a token.
type TokenRef struct{ Kind, ID string }

// TokenRead is a token as GetTokens read it: Rev is its etcd mod
// revision when Found (present and not expired).
type TokenRead struct {
	Value []byte
	Rev   int64
	Found bool
}

// GetTokens reads tokens in one etcd transaction (one round trip, one
// revision), linearizably: every write acknowledged before is seen.
func (s *Store) GetTokens(ctx context.Context, refs ...TokenRef) ([]TokenRead, error) {
	return s.getTokens(ctx, refs, false)
}

// PeekTokens is GetTokens without etcd's linearizability check: the
// member answers from what it has applied, without waiting for writes in
// flight (which a linearizable read does: a full disk sync under write
// load). On a single member that is every acknowledged write; in a
// cluster a lagging member may answer an older revision. Callers guard
// the write that follows on what they read (SwapTokens), so a stale read
// costs a conflict, never a wrong write; a token not found should be
// read again with GetTokens.
func (s *Store) PeekTokens(ctx context.Context, refs ...TokenRef) ([]TokenRead, error) {
	return s.getTokens(ctx, refs, true)
}

func (s *Store) getTokens(ctx context.Context, refs []TokenRef, serializable bool) ([]TokenRead, error) {
	ops := make([]clientv3.Op, len(refs))
	for i, r := range refs {
		key, err := tokenKey(r.Kind, r.ID)
		if err != nil {
			return nil, err
		}
		if serializable {
			ops[i] = clientv3.OpGet(s.prefix+key, clientv3.WithSerializable())
		} else {
			ops[i] = clientv3.OpGet(s.prefix + key)
		}
	}
	tctx, cancel := context.WithTimeout(ctx, s.timeout)
	resp, err := s.client.Txn(tctx).Then(ops...).Commit()
	cancel()
	if err != nil {
		return nil, classify(err)
	}
	out := make([]TokenRead, len(refs))
	now := time.Now()
	for i, r := range resp.Responses {
		kvs := r.GetResponseRange().Kvs
		if len(kvs) == 0 {
			continue
		}
		if v, live := decodeToken(kvs[0].Value, now); live {
			out[i] = TokenRead{Value: v, Rev: kvs[0].ModRevision, Found: true}
		}
	}
	return out, nil
}

// TokenGuard is a condition of SwapTokens: the token is still at Rev
// (its mod revision, as GetTokens read it), or with Rev 0 absent.
type TokenGuard struct {
	TokenRef
	Rev int64
}

// TokenPut is a write of SwapTokens: Value for TTL.
type TokenPut struct {
	TokenRef
	Value []byte
	TTL   time.Duration
}

// SwapTokens writes puts in one etcd transaction if every guard holds
// (a compare-and-swap: of two writers guarding on the same read, exactly
// one succeeds); ErrConflict if one does not.
func (s *Store) SwapTokens(ctx context.Context, guards []TokenGuard, puts []TokenPut) error {
	cmps := make([]clientv3.Cmp, len(guards))
	for i, g := range guards {
		key, err := tokenKey(g.Kind, g.ID)
		if err != nil {
			return err
		}
		if g.Rev == 0 {
			cmps[i] = clientv3.Compare(clientv3.CreateRevision(s.prefix+key), "=", 0)
		} else {
			cmps[i] = clientv3.Compare(clientv3.ModRevision(s.prefix+key), "=", g.Rev)
		}
	}
	for _, p := range puts {
		if _, err := tokenKey(p.Kind, p.ID); err != nil {
			return err
		}
		if p.TTL <= 0 {
			return fmt.Errorf("%w: token TTL %s is not positive", ErrInvalid, p.TTL)
		}
	}
	for attempt := 0; attempt < 4; attempt++ {
		now := time.Now()
		ops := make([]clientv3.Op, len(puts))
		for i, p := range puts {
			lease, err := s.ttl.get(ctx, s.client, now, p.TTL, s.timeout)
			if err != nil {
				return err
			}
			ops[i] = clientv3.OpPut(s.prefix+TokenKey(p.Kind, p.ID), encodeToken(now.Add(p.TTL), p.Value), clientv3.WithLease(lease))
		}
		tctx, cancel := context.WithTimeout(ctx, s.timeout)
		resp, err := s.client.Txn(tctx).If(cmps...).Then(ops...).Commit()
		cancel()
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			s.ttl.reset()
			continue
		}
		if err != nil {
			return classify(err)
		}
		if !resp.Succeeded {
			return fmt.Errorf("%w: a guarded token changed", ErrConflict)
		}
		return nil
	}
	return fmt.Errorf("%w: tokens: gave up after repeated lease losses", ErrConflict)
}
