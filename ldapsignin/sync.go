package ldapsignin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gatehouse/federation"
	"gatehouse/ldapdir"
	"gatehouse/storage"
)

// Defaults of a Syncer.
const (
	DefaultPageSize      = 500
	DefaultWorkers       = 8
	DefaultLockTTL       = 30 * time.Second
	DefaultProgressEvery = time.Second
)

// lockKind is the token kind of the per-provider sync lock.
const lockKind = "ldapsync"

// ErrRunning: a sync of the provider is already running (here or on
// another instance). It wraps storage.ErrNameTaken (409).
var ErrRunning = fmt.Errorf("a sync of this provider is already running: %w", storage.ErrNameTaken)

// errLost: the status is no longer this sync's (a newer sync took over
// after the lock expired) or the lock was lost.
var errLost = errors.New("the sync lost its lock (another sync took over)")

// Syncer runs directory syncs in the background (see the package doc).
// Its zero value is not usable: set Store, then call Start.
type Syncer struct {
	Store         *storage.Store
	Logger        *slog.Logger
	Now           func() time.Time // time.Now if nil
	PageSize      int              // DefaultPageSize if 0
	Workers       int              // DefaultWorkers if 0
	LockTTL       time.Duration    // DefaultLockTTL if 0
	ProgressEvery time.Duration    // DefaultProgressEvery if 0
	// Observe, if set, is told each status a sync stores (its progress
	// while it runs, then its end): the metrics. It must not block.
	Observe func(account, provider string, st storage.ProviderSync)

	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (s *Syncer) init() {
	s.once.Do(func() {
		s.ctx, s.cancel = context.WithCancel(context.Background())
		if s.Logger == nil {
			s.Logger = slog.Default()
		}
		if s.Now == nil {
			s.Now = time.Now
		}
		if s.PageSize <= 0 {
			s.PageSize = DefaultPageSize
		}
		if s.Workers <= 0 {
			s.Workers = DefaultWorkers
		}
		if s.LockTTL <= 0 {
			s.LockTTL = DefaultLockTTL
		}
		if s.ProgressEvery <= 0 {
			s.ProgressEvery = DefaultProgressEvery
		}
	})
}

// Close stops the running syncs and waits for them (their status ends
// failed, "stopped").
func (s *Syncer) Close() {
	s.init()
	s.cancel()
	s.wg.Wait()
}

// Wait waits until no sync runs (tests).
func (s *Syncer) Wait() { s.wg.Wait() }

// lockID is the lock token's id of provider p of account a (names may
// hold characters token ids may not).
func lockID(a, p string) string {
	h := sha256.Sum256([]byte(a + "\x00" + p))
	return hex.EncodeToString(h[:16])
}

// Start starts a sync of ldap provider p of account a and returns once
// its running status is stored: ErrRunning (409) when one is running,
// storage.ErrNotFound when the provider does not exist, storage.ErrInvalid
// when it is not ldap. The status write runs under ctx (a request's, so
// its audit entry joins that write); the sync itself does not.
func (s *Syncer) Start(ctx context.Context, a, p string) error {
	s.init()
	if err := s.ctx.Err(); err != nil {
		return fmt.Errorf("the directory sync is stopping: %w", storage.ErrUnavailable)
	}
	var prov storage.Provider
	var found bool
	if err := s.Store.Read(ctx, 0, func(v storage.View) error {
		prov, found = v.Provider(a, p)
		return nil
	}); err != nil {
		return err
	}
	switch {
	case !found:
		return fmt.Errorf("provider %q in account %q: %w", p, a, storage.ErrNotFound)
	case prov.Type != storage.ProviderLDAP:
		return fmt.Errorf("provider %q is of type %q: only ldap providers sync: %w", p, prov.Type, storage.ErrInvalid)
	}
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	lock := storage.TokenRef{Kind: lockKind, ID: lockID(a, p)}
	if err := s.Store.CreateToken(ctx, lock.Kind, lock.ID, nonce, s.LockTTL); err != nil {
		if errors.Is(err, storage.ErrNameTaken) {
			return ErrRunning
		}
		return err
	}
	rec := storage.ProviderSync{State: storage.SyncRunning, Started: s.Now().Unix()}
	if _, _, err := s.Store.PutItem(ctx, a, storage.KindProviderSync, p, storage.Upsert,
		func(string, bool) (string, error) { return rec.Encode(), nil }, providerExists(a, p)); err != nil {
		s.release(lock, nonce)
		return err
	}
	j := &job{s: s, a: a, p: p, lock: lock, nonce: nonce, started: rec.Started}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		j.run()
	}()
	return nil
}

// DefaultScheduleEvery is how often Schedule looks for syncs that are due.
const DefaultScheduleEvery = time.Minute

// Schedule runs RunDue every every (DefaultScheduleEvery if not
// positive) until Close. Every instance runs it; the cross-instance lock
// of Start lets one of them sync a provider.
func (s *Syncer) Schedule(every time.Duration) {
	s.init()
	if every <= 0 {
		every = DefaultScheduleEvery
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.ctx.Done():
				return
			case <-t.C:
				s.RunDue(s.ctx)
			}
		}
	}()
}

// RunDue starts the sync of every ldap provider with a sync-interval
// whose last sync started at least that long ago (or never ran), and
// returns how many it started. A sync running on any instance holds the
// lock (ErrRunning: skipped); one whose instance died is taken over once
// its lock expires.
func (s *Syncer) RunDue(ctx context.Context) int {
	s.init()
	type due struct{ a, p string }
	var list []due
	now := s.Now()
	if err := s.Store.Read(ctx, 0, func(v storage.View) error {
		for _, a := range v.Names(storage.AllAccounts()) {
			for _, p := range v.Names(storage.Providers(a)) {
				prov, ok := v.Provider(a, p)
				if !ok || prov.Type != storage.ProviderLDAP || prov.SyncInterval == "" {
					continue
				}
				every, err := time.ParseDuration(prov.SyncInterval)
				if err != nil || every <= 0 {
					continue
				}
				st := v.ProviderSyncState(a, p)
				if st.Started == 0 || !now.Before(time.Unix(st.Started, 0).Add(every)) {
					list = append(list, due{a, p})
				}
			}
		}
		return nil
	}); err != nil {
		s.Logger.Warn("ldap sync schedule: reading the providers failed", "err", err)
		return 0
	}
	n := 0
	for _, d := range list {
		err := s.Start(ctx, d.a, d.p)
		switch {
		case err == nil:
			n++
		case !errors.Is(err, ErrRunning):
			s.Logger.Warn("ldap sync schedule: starting a sync failed", "account", d.a, "provider", d.p, "err", err)
		}
	}
	return n
}

// providerExists guards a status write on the provider existing.
func providerExists(a, p string) func(storage.View, *storage.Txn, bool) error {
	return func(_ storage.View, t *storage.Txn, _ bool) error {
		if !t.View().HasItem(a, storage.KindProvider, p) {
			return fmt.Errorf("provider %q in account %q: %w", p, a, storage.ErrNotFound)
		}
		return nil
	}
}

// release drops the lock if it is still this sync's.
func (s *Syncer) release(lock storage.TokenRef, nonce []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := s.Store.GetTokens(ctx, lock)
	if err != nil || !got[0].Found || string(got[0].Value) != string(nonce) {
		return
	}
	if err := s.Store.DeleteToken(ctx, lock.Kind, lock.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.Logger.Warn("ldap sync: releasing the lock failed", "err", err)
	}
}

// job is one running sync.
type job struct {
	s       *Syncer
	a, p    string
	lock    storage.TokenRef
	nonce   []byte
	started int64

	progress, total, users, groups, disabled atomic.Int64
	mu                                       sync.Mutex
	lastError                                string
	writeMu                                  sync.Mutex // one status write at a time
}

func (j *job) note(err error) {
	j.mu.Lock()
	j.lastError = err.Error()
	j.mu.Unlock()
}

func (j *job) status(state string) storage.ProviderSync {
	j.mu.Lock()
	defer j.mu.Unlock()
	rec := storage.ProviderSync{State: state, Progress: j.progress.Load(), Total: j.total.Load(),
		Users: j.users.Load(), Groups: j.groups.Load(), Disabled: j.disabled.Load(), Started: j.started,
		Error: j.lastError}
	if rec.Total < rec.Progress {
		rec.Total = rec.Progress
	}
	return rec
}

// write stores the status, guarded on it still being this sync's and
// the provider existing; running, it renews the lock first.
func (j *job) write(ctx context.Context, rec storage.ProviderSync) error {
	j.writeMu.Lock()
	defer j.writeMu.Unlock()
	if rec.State == storage.SyncRunning {
		if err := j.renew(ctx); err != nil {
			return err
		}
	}
	_, _, err := j.s.Store.PutItem(ctx, j.a, storage.KindProviderSync, j.p, storage.UpdateOnly,
		func(old string, _ bool) (string, error) {
			cur, err := storage.DecodeProviderSync(old)
			if err != nil || cur.State != storage.SyncRunning || cur.Started != j.started {
				return "", errLost
			}
			return rec.Encode(), nil
		}, providerExists(j.a, j.p))
	if err == nil && j.s.Observe != nil {
		j.s.Observe(j.a, j.p, rec)
	}
	return err
}

// renew extends the lock, if it is still this sync's.
func (j *job) renew(ctx context.Context) error {
	got, err := j.s.Store.GetTokens(ctx, j.lock)
	if err != nil {
		return err
	}
	if !got[0].Found || string(got[0].Value) != string(j.nonce) {
		return errLost
	}
	err = j.s.Store.SwapTokens(ctx, []storage.TokenGuard{{TokenRef: j.lock, Rev: got[0].Rev}},
		[]storage.TokenPut{{TokenRef: j.lock, Value: j.nonce, TTL: j.s.LockTTL}})
	if errors.Is(err, storage.ErrConflict) {
		return errLost
	}
	return err
}

func (j *job) run() {
	ctx, cancel := context.WithCancel(j.s.ctx)
	defer cancel()
	log := j.s.Logger.With("account", j.a, "provider", j.p)
	log.Info("ldap sync started")
	begin := time.Now()

	// The status writer: about every ProgressEvery while the sync runs.
	var writeErr atomic.Pointer[error]
	tick := time.NewTicker(j.s.ProgressEvery)
	done := make(chan struct{})
	var writer sync.WaitGroup
	writer.Add(1)
	go func() {
		defer writer.Done()
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if err := j.write(ctx, j.status(storage.SyncRunning)); err != nil {
					writeErr.Store(&err)
					cancel()
					return
				}
			}
		}
	}()

	err := j.sync(ctx)
	close(done)
	writer.Wait()
	if p := writeErr.Load(); p != nil && (err == nil || errors.Is(err, context.Canceled)) {
		err = *p
	}
	if err == nil {
		err = j.s.ctx.Err() // stopped between the last page and here
	}
	final := j.status(storage.SyncDone)
	if err != nil {
		final.State = storage.SyncFailed
		if errors.Is(err, context.Canceled) {
			err = errors.New("stopped: the instance shut down")
		}
		final.Error = err.Error()
	}
	final.Finished = j.s.Now().Unix()
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	if werr := j.write(wctx, final); werr != nil {
		log.Warn("ldap sync: writing the final status failed", "err", werr)
	}
	j.s.release(j.lock, j.nonce)
	log.Info("ldap sync ended", "state", final.State, "progress", final.Progress, "users", final.Users,
		"groups", final.Groups, "disabled", final.Disabled, "err", final.Error, "took", time.Since(begin))
}

// sync does the work (see the package doc); an error fails it.
func (j *job) sync(ctx context.Context) error {
	var prov storage.Provider
	var found bool
	if err := j.s.Store.Read(ctx, 0, func(v storage.View) error {
		prov, found = v.Provider(j.a, j.p)
		return nil
	}); err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("provider %q in account %q: %w", j.p, j.a, storage.ErrNotFound)
	}
	var key []byte
	if prov.BindPassword != "" {
		var err error
		if key, err = j.s.Store.ServerKey(ctx, storage.ProviderSecretKeyName); err != nil {
			return err
		}
	}
	cfg, err := Config(key, j.a, j.p, prov)
	if err != nil {
		return err
	}
	dir, err := newDirectory(cfg)
	if err != nil {
		return err
	}
	cfg = dir.Config()

	// 1. Groups and their members, when they come from a search.
	var memberOf map[string][]string // lower-cased member DN → group names
	if cfg.GroupBase != "" {
		memberOf = map[string][]string{}
		if err := dir.Groups(ctx, j.s.PageSize, func(g ldapdir.Entry) error {
			j.groups.Add(1)
			for _, m := range g.Attributes["member"] {
				k := strings.ToLower(m)
				memberOf[k] = append(memberOf[k], g.Name)
			}
			return nil
		}); err != nil {
			return fmt.Errorf("reading groups: %w", err)
		}
	}

	// 2. The total.
	var total int64
	if err := dir.Users(ctx, j.s.PageSize, func(ldapdir.Entry) error { total++; return nil }); err != nil {
		return fmt.Errorf("counting users: %w", err)
	}
	j.total.Store(total)
	if err := j.write(ctx, j.status(storage.SyncRunning)); err != nil {
		return err
	}

	// 3. Every user, resolved by the workers.
	entries := make(chan ldapdir.Entry, j.s.Workers*2)
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	var fatal atomic.Pointer[error]
	var seenMu sync.Mutex
	seen := map[string]bool{}       // principal ids of the entries seen
	groupNames := map[string]bool{} // without group-base
	var workers sync.WaitGroup
	for range j.s.Workers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for e := range entries {
				if memberOf != nil {
					e.Groups = memberOf[strings.ToLower(e.DN)]
				}
				id := Identity(j.a, j.p, cfg, e, "")
				if id.Subject != "" {
					pid := federation.PrincipalID(id)
					seenMu.Lock()
					seen[pid] = true
					if memberOf == nil {
						for _, g := range e.Groups {
							groupNames[strings.ToLower(g)] = true
						}
					}
					seenMu.Unlock()
				}
				_, err := federation.ResolveWith(wctx, j.s.Store, id, federation.Options{JITWithoutRule: true, Now: j.s.Now})
				switch {
				case err == nil:
					j.users.Add(1)
				case errors.Is(err, federation.ErrNameClash), errors.Is(err, federation.ErrInvalidIdentity),
					errors.Is(err, federation.ErrNoRule):
					j.note(fmt.Errorf("entry %s skipped: %w", e.DN, err))
				default:
					if fatal.CompareAndSwap(nil, &err) {
						stop()
					}
				}
				j.progress.Add(1)
				if memberOf == nil {
					seenMu.Lock()
					j.groups.Store(int64(len(groupNames)))
					seenMu.Unlock()
				}
			}
		}()
	}
	listErr := dir.Users(wctx, j.s.PageSize, func(e ldapdir.Entry) error {
		select {
		case entries <- e:
			return nil
		case <-wctx.Done():
			return wctx.Err()
		}
	})
	close(entries)
	workers.Wait()
	if p := fatal.Load(); p != nil {
		return fmt.Errorf("resolving users: %w", *p)
	}
	if listErr != nil {
		return fmt.Errorf("listing users: %w", listErr)
	}

	// 4. Users whose entry is gone are disabled.
	return j.disableGone(ctx, seen)
}

// disableGone disables every enabled user linked to a principal of this
// provider that the listing did not show.
func (j *job) disableGone(ctx context.Context, seen map[string]bool) error {
	type gone struct{ pid, a, u string }
	var todo []gone
	if err := j.s.Store.Read(ctx, 0, func(v storage.View) error {
		todo = todo[:0]
		v.EachPrincipal(federation.TypeLDAP, func(id string, pr storage.Principal) bool {
			if pr.Account == j.a && pr.Provider == j.p && !seen[id] && pr.LinkUser != "" {
				todo = append(todo, gone{id, pr.LinkAccount, pr.LinkUser})
			}
			return true
		})
		return nil
	}); err != nil {
		return err
	}
	errNotLinked := errors.New("not linked")
	for _, g := range todo {
		changed := false
		_, _, err := j.s.Store.PutItem(ctx, g.a, storage.KindUser, g.u, storage.UpdateOnly,
			func(old string, _ bool) (string, error) {
				changed = false
				u, err := storage.DecodeUser(old)
				if err != nil {
					return "", err
				}
				if !u.Enabled {
					return old, nil
				}
				u.Enabled, changed = false, true
				return u.Encode(), nil
			},
			func(_ storage.View, t *storage.Txn, _ bool) error {
				if !t.View().HasMember(storage.UserFederated(g.a, g.u), g.pid) {
					return errNotLinked
				}
				return nil
			})
		switch {
		case err == nil:
			if changed {
				j.disabled.Add(1)
			}
		case errors.Is(err, errNotLinked), errors.Is(err, storage.ErrNotFound):
		default:
			return fmt.Errorf("disabling %s\\%s: %w", g.a, g.u, err)
		}
	}
	return nil
}
