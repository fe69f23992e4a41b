package storage

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Options say how to reach etcd.
type Options struct {
	Endpoints []string
	Username  string
	Password  string
	TLS       *tls.Config // nil for plain connections
	Prefix    string      // every key lives under it; "/gatehouse/" if empty
	Timeout   time.Duration
	Logger    *slog.Logger
	// AuditRetention is how long audit entries are kept (leases);
	// DefaultAuditRetention if zero.
	AuditRetention time.Duration
}

// Store is gatehouse's state: etcd for writes, the Cache for reads.
type Store struct {
	client         *clientv3.Client
	prefix         string
	timeout        time.Duration
	cache          *Cache
	cancel         context.CancelFunc
	done           chan struct{}
	auditRetention time.Duration // how long audit entries are kept (their lease TTL)
	ttl            ttlLeases     // leases of expiring puts (PutWithTTL, Tokens)
	metrics        *etcdMetrics  // request timing and the latest revision heard (metrics.go)
}

// Open connects to etcd, loads the cache and starts the watch. It fails
// with a message naming the endpoints if etcd cannot be reached within
// the timeout.
func Open(ctx context.Context, o Options) (*Store, error) {
	return open(ctx, o, time.Now)
}

// open is Open with the clock the cache judges its readiness by (tests
// drive it).
func open(ctx context.Context, o Options, now func() time.Time) (*Store, error) {
	if o.Prefix == "" {
		o.Prefix = "/gatehouse/"
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	em := &etcdMetrics{}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   o.Endpoints,
		Username:    o.Username,
		Password:    o.Password,
		TLS:         o.TLS,
		DialTimeout: o.Timeout,
		// Find half-open connections, and reconnect quickly when etcd
		// comes back (gRPC's default backoff grows to two minutes).
		DialKeepAliveTime:    o.Timeout,
		DialKeepAliveTimeout: o.Timeout,
		DialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(em.unary), grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: o.Timeout,
		})},
		Logger: zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd %v: %w", o.Endpoints, err)
	}
	pctx, cancel := context.WithTimeout(ctx, o.Timeout)
	_, err = client.Get(pctx, "health-probe", clientv3.WithCountOnly())
	cancel()
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("etcd %v not reachable within %s: %w", o.Endpoints, o.Timeout, err)
	}
	if o.AuditRetention <= 0 {
		o.AuditRetention = DefaultAuditRetention
	}
	s := &Store{client: client, prefix: o.Prefix, timeout: o.Timeout, done: make(chan struct{}),
		auditRetention: o.AuditRetention, metrics: em}
	s.cache = newCache(client, o.Prefix, o.Timeout, o.Logger)
	s.cache.latest = em
	s.cache.now = now
	runCtx, runCancel := context.WithCancel(context.Background())
	s.cancel = runCancel
	go func() {
		defer close(s.done)
		s.cache.run(runCtx)
	}()
	// The first list may take a while on a large store: wait for it as
	// long as the caller's context allows (at most five minutes).
	lctx, lcancel := context.WithTimeout(ctx, 5*time.Minute)
	defer lcancel()
	for !s.cache.Ready() {
		select {
		case <-lctx.Done():
			s.Close()
			return nil, fmt.Errorf("etcd %v: loading the cache: %w", o.Endpoints, lctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return s, nil
}

// Close stops the watch and the client.
func (s *Store) Close() {
	s.cancel()
	<-s.done
	s.client.Close()
}

// Client exposes the etcd client for tests that inspect keys directly and
// for later packages (leases for tokens).
func (s *Store) Client() *clientv3.Client { return s.client }

// Prefix is the key prefix of this store.
func (s *Store) Prefix() string { return s.prefix }

// Ready reports whether the cache is loaded and etcd answered recently.
func (s *Store) Ready() bool { return s.cache.Ready() }

// Rev is the revision the cache has reached.
func (s *Store) Rev() int64 { return s.cache.Rev() }

// Read calls fn with a view that includes every write up to minRev. The
// view is one immutable snapshot, loaded once without a lock: fn may take
// as long as it needs without delaying the watch or any other request,
// and it sees the same revision throughout.
func (s *Store) Read(ctx context.Context, minRev int64, fn func(View) error) error {
	snap, err := s.cache.waitFor(ctx, minRev)
	if err != nil {
		return err
	}
	return fn(snap.view)
}

// Txn collects the compare guards and operations of one write. Builders
// read from the View they are given and record what they read with
// Expect / ExpectNoNew, or read through the guarded view (View), so the
// commit fails if any of it changed.
type Txn struct {
	v      View
	prefix string
	cmps   []clientv3.Cmp
	ops    []clientv3.Op
	ttl    []ttlPut        // expiring puts, given leases at commit
	rec    *recorder       // the guarded view's, once asked for
	keys   map[string]bool // keys guarded so far
	ranges map[string]bool // ranges guarded so far
}

// View returns the transaction's guarded view: a tracking view of the
// snapshot the write is built from, on which every read also becomes a
// compare guard of the transaction — a key read is guarded with Expect
// (same mod revision; absent stays absent), a range read with
// ExpectNoNew plus Expect on each key visited.
//
// etcd compares cannot see a deletion in a range that was not walked
// key by key: a Count of more than smallRange keys, a Page at an offset
// (the keys before it) and the matches FilterPage does not return are
// guarded against additions and changes only.
func (t *Txn) View() View {
	if t.rec == nil {
		t.rec = &recorder{h: fnvOffset, t: t}
	}
	return View{&viewState{s: t.v.s, r: t.rec}}
}

// Expect guards key: the commit fails unless key is exactly as the view
// shows it (absent stays absent, present keeps its mod revision).
func (t *Txn) Expect(key string) {
	var mod int64
	if it, ok := t.v.get(key); ok {
		mod = it.mod
	}
	t.expectMod(key, mod)
}

// expectMod guards key at mod revision mod (0: absent), once per key.
func (t *Txn) expectMod(key string, mod int64) {
	if t.keys[key] {
		return
	}
	if t.keys == nil {
		t.keys = map[string]bool{}
	}
	t.keys[key] = true
	t.cmps = append(t.cmps, clientv3.Compare(clientv3.ModRevision(t.prefix+key), "=", mod))
}

// ExpectNoNew guards a range: the commit fails if any key in it was
// created or modified after the view's revision.
func (t *Txn) ExpectNoNew(prefix string) {
	if t.ranges[prefix] {
		return
	}
	if t.ranges == nil {
		t.ranges = map[string]bool{}
	}
	t.ranges[prefix] = true
	t.cmps = append(t.cmps, clientv3.Compare(clientv3.ModRevision(t.prefix+prefix), "<", t.v.s.rev+1).WithPrefix())
}

// Put writes value at key.
func (t *Txn) Put(key, value string) {
	t.ops = append(t.ops, clientv3.OpPut(t.prefix+key, value))
}

// Delete removes key.
func (t *Txn) Delete(key string) {
	t.ops = append(t.ops, clientv3.OpDelete(t.prefix+key))
}

// DeleteRange removes every key with the given prefix.
func (t *Txn) DeleteRange(prefix string) {
	t.ops = append(t.ops, clientv3.OpDelete(t.prefix+prefix, clientv3.WithPrefix()))
}

// Empty reports whether the transaction would change nothing.
func (t *Txn) Empty() bool { return len(t.ops) == 0 && len(t.ttl) == 0 }

type checksKey struct{}

// WithCheck returns ctx carrying check. Every Store.Update under ctx runs
// the checks carried, in the order added, on every attempt, before build,
// with the transaction's guarded view (Txn.View); a check's error aborts
// the write and is returned unchanged. So a precondition (If-Match,
// tenancy, "may grant this") holds on the revision the write commits on.
func WithCheck(ctx context.Context, check func(v View) error) context.Context {
	prev := checksFrom(ctx)
	checks := make([]func(View) error, len(prev), len(prev)+1)
	copy(checks, prev)
	return context.WithValue(ctx, checksKey{}, append(checks, check))
}

func checksFrom(ctx context.Context) []func(View) error {
	checks, _ := ctx.Value(checksKey{}).([]func(View) error)
	return checks
}

// maxAttempts bounds the rebuild loop when guards keep failing.
const maxAttempts = 64

// Update runs build against the latest view and commits its operations
// atomically with its guards; on a failed guard it waits for the cache to
// catch up and rebuilds. build must be free of side effects other than
// filling the Txn and the caller's result variables, which it must reset
// on each call. It returns the revision of the write (or of the view when
// there was nothing to write) once the cache has applied it.
//
// When ctx carries an audit entry (WithAudit) and the write changes
// something, the entry's put (with its retention lease) joins the same
// etcd transaction: it is stored exactly when the change commits.
//
// When ctx carries checks (WithCheck), each attempt runs them first, in
// order, on the transaction's guarded view, so what they read guards the
// write too; the first error is returned as it is and nothing is written.
func (s *Store) Update(ctx context.Context, build func(View, *Txn) error) (int64, error) {
	var minRev int64
	audit := auditFrom(ctx)
	checks := checksFrom(ctx)
	for attempt := 0; attempt < maxAttempts; attempt++ {
		var t Txn
		var viewRev int64
		var created []string // keys the write creates, when the audit entry asks
		err := s.Read(ctx, minRev, func(v View) error {
			t = Txn{v: v, prefix: s.prefix}
			viewRev = v.Rev()
			for _, check := range checks {
				if err := check(t.View()); err != nil {
					return err
				}
			}
			if err := build(v, &t); err != nil {
				return err
			}
			if audit != nil && audit.TargetOf != nil {
				created = t.created()
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		if t.Empty() {
			return viewRev, nil
		}
		if err := s.resolveTTL(ctx, &t); err != nil {
			return 0, err
		}
		if audit != nil {
			e := *audit // auditOp stamps the time when unset
			if e.TargetOf != nil {
				if target := e.TargetOf(created); target != "" {
					e.Target = target
				}
			}
			op, err := s.auditOp(ctx, &e)
			if err != nil {
				return 0, err
			}
			t.ops = append(t.ops, op)
		}
		tctx, cancel := context.WithTimeout(ctx, s.timeout)
		resp, err := s.client.Txn(tctx).If(t.cmps...).Then(t.ops...).Commit()
		cancel()
		if errors.Is(err, rpctypes.ErrLeaseNotFound) && (audit != nil || len(t.ttl) > 0) {
			// A cached lease is gone (etcd restored): grant afresh.
			s.ttl.reset()
			continue
		}
		if err != nil {
			return 0, classify(err)
		}
		if resp.Succeeded {
			rev := resp.Header.Revision
			if _, err := s.cache.waitFor(ctx, rev); err != nil {
				return 0, err
			}
			return rev, nil
		}
		minRev = resp.Header.Revision
	}
	return 0, fmt.Errorf("%w: gave up after %d attempts", ErrConflict, maxAttempts)
}

// Ping asks etcd for a key count with the storage timeout; /readyz uses it.
func (s *Store) Ping(ctx context.Context) error {
	tctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.client.Get(tctx, s.prefix+"ping", clientv3.WithCountOnly())
	return classify(err)
}

// classify maps etcd client errors to the package's sentinels.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if errors.Is(err, rpctypes.ErrTooManyOps) || errors.Is(err, rpctypes.ErrRequestTooLarge) {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if st, ok := status.FromError(err); ok {
		switch st.Code() {
		case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
			return fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
	}
	return err
}
