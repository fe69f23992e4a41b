package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"gatehouse/authn"
	"gatehouse/storage"
)

// The seeded data set. Every figure of the table refers to it.
const (
	loadAccount  = "load"
	readerRole   = "reader"
	readerPerm   = "print:jobs:read"
	readersGroup = "readers"
	allRole      = "everything"
	checkerUser  = "checker"
	checkerPass  = "checker-password-1"
	// every groupEvery-th user (index % groupEvery == 0) is in readersGroup,
	// so holds readerPerm.
	groupEvery = 10
)

// userName is the name of seeded user i.
func userName(i int) string { return string(appendUserName(nil, i)) }

// appendUserName appends "user-%07d" without fmt.
func appendUserName(b []byte, i int) []byte {
	b = append(b, "user-"...)
	var d [20]byte
	s := strconv.AppendInt(d[:0], int64(i), 10)
	for k := len(s); k < 7; k++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// userRecord is what a seeded user's record holds: no password (hashing
// a million argon2id passwords would take hours), an e-mail address.
func userRecord(i int, created int64) string {
	return storage.User{Email: userName(i) + "@load.example", Enabled: true, Created: created}.Encode()
}

// seedFixed creates the account (ceiling "*"), role reader holding
// print:jobs:read, group readers holding reader, role everything holding
// "*", and user checker (with a password) holding everything — through
// the store's own operations, as the API would.
func seedFixed(ctx context.Context, st *storage.Store) error {
	hash, err := authn.HashPassword(checkerPass, authn.DefaultParams, rand.Reader)
	if err != nil {
		return err
	}
	if _, err := st.CreateAccount(ctx, loadAccount, storage.Account{Description: "load test"}, []string{"*"}); err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	role := func(name, desc, perm string) error {
		_, _, err := st.PutItem(ctx, loadAccount, storage.KindRole, name, storage.CreateOnly,
			func(string, bool) (string, error) { return storage.Role{Description: desc}.Encode(), nil },
			func(v storage.View, t *storage.Txn, created bool) error {
				t.Put(storage.SubKey(loadAccount, storage.KindRolePerm, name, perm), "")
				return nil
			})
		return err
	}
	if err := role(readerRole, "reads print jobs", readerPerm); err != nil {
		return fmt.Errorf("create role %s: %w", readerRole, err)
	}
	if err := role(allRole, "holds every permission", "*"); err != nil {
		return fmt.Errorf("create role %s: %w", allRole, err)
	}
	if _, _, err := st.PutItem(ctx, loadAccount, storage.KindGroup, readersGroup, storage.CreateOnly,
		func(string, bool) (string, error) { return storage.Group{Description: "every 10th user"}.Encode(), nil }, nil); err != nil {
		return fmt.Errorf("create group: %w", err)
	}
	if _, _, err := st.LinkAdd(ctx, loadAccount, storage.GroupRoles, readersGroup, readerRole, storage.CreateOnly); err != nil {
		return fmt.Errorf("give group its role: %w", err)
	}
	now := time.Now().Unix()
	if _, _, err := st.PutItem(ctx, loadAccount, storage.KindUser, checkerUser, storage.CreateOnly,
		func(string, bool) (string, error) {
			return storage.User{PasswordHash: hash, Enabled: true, Created: now}.Encode(), nil
		}, nil); err != nil {
		return fmt.Errorf("create checker: %w", err)
	}
	if _, _, err := st.LinkAdd(ctx, loadAccount, storage.UserRoles, checkerUser, allRole, storage.CreateOnly); err != nil {
		return fmt.Errorf("give checker its role: %w", err)
	}
	return nil
}

// seedUsersPutItem creates users 0..n-1 with storage.Store.PutItem from
// workers goroutines: one guarded etcd transaction per user (the user
// record, plus both sides of the readers membership for every 10th user,
// written by PutItem's extra hook exactly as LinkAdd writes them), each
// waiting for the cache to apply it as an API write would.
func seedUsersPutItem(ctx context.Context, st *storage.Store, n, workers int, progress func(done int)) (int64, error) {
	var next, done atomic.Int64
	var maxRev atomic.Int64
	var firstErr error
	var errOnce sync.Once
	now := time.Now().Unix()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				name := userName(i)
				val := userRecord(i, now)
				var extra func(storage.View, *storage.Txn, bool) error
				if i%groupEvery == 0 {
					extra = func(v storage.View, t *storage.Txn, created bool) error {
						t.Expect(storage.ItemKey(loadAccount, storage.KindGroup, readersGroup))
						t.Put(storage.SubKey(loadAccount, storage.KindUserGrp, name, readersGroup), "")
						t.Put(storage.SubKey(loadAccount, storage.KindGrpUser, readersGroup, name), "")
						return nil
					}
				}
				_, rev, err := st.PutItem(ctx, loadAccount, storage.KindUser, name, storage.CreateOnly,
					func(string, bool) (string, error) { return val, nil }, extra)
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("PutItem %s: %w", name, err) })
					return
				}
				storeMax(&maxRev, rev)
				if d := done.Add(1); progress != nil && d%10000 == 0 {
					progress(int(d))
				}
			}
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return maxRev.Load(), firstErr
}

// seedUsersBatch writes the same keys and values as seedUsersPutItem
// directly with the etcd client, batch users per transaction (guarded on
// the account and the group existing), from workers goroutines. It is
// what makes a million users fit in minutes.
func seedUsersBatch(ctx context.Context, st *storage.Store, n, batch, workers int, progress func(done int)) (int64, error) {
	cli := st.Client()
	prefix := st.Prefix()
	guards := []clientv3.Cmp{
		clientv3.Compare(clientv3.CreateRevision(prefix+storage.AccountKey(loadAccount)), ">", 0),
		clientv3.Compare(clientv3.CreateRevision(prefix+storage.ItemKey(loadAccount, storage.KindGroup, readersGroup)), ">", 0),
	}
	var next, done atomic.Int64
	var maxRev atomic.Int64
	var firstErr error
	var errOnce sync.Once
	now := time.Now().Unix()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ops := make([]clientv3.Op, 0, batch+2*(batch/groupEvery+1))
			for ctx.Err() == nil {
				lo := int(next.Add(int64(batch)) - int64(batch))
				if lo >= n {
					return
				}
				hi := min(lo+batch, n)
				ops = ops[:0]
				for i := lo; i < hi; i++ {
					name := userName(i)
					ops = append(ops, clientv3.OpPut(prefix+storage.ItemKey(loadAccount, storage.KindUser, name), userRecord(i, now)))
					if i%groupEvery == 0 {
						ops = append(ops,
							clientv3.OpPut(prefix+storage.SubKey(loadAccount, storage.KindUserGrp, name, readersGroup), ""),
							clientv3.OpPut(prefix+storage.SubKey(loadAccount, storage.KindGrpUser, readersGroup, name), ""))
					}
				}
				tctx, cancel := context.WithTimeout(ctx, 60*time.Second)
				resp, err := cli.Txn(tctx).If(guards...).Then(ops...).Commit()
				cancel()
				if err == nil && !resp.Succeeded {
					err = fmt.Errorf("guard failed: account or group missing")
				}
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("batch txn users %d..%d: %w", lo, hi-1, err) })
					return
				}
				storeMax(&maxRev, resp.Header.Revision)
				d := done.Add(int64(hi - lo))
				if progress != nil && d/100000 != (d-int64(hi-lo))/100000 {
					progress(int(d))
				}
			}
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return maxRev.Load(), firstErr
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// waitCache waits until the store's cache has applied rev.
func waitCache(ctx context.Context, st *storage.Store, rev int64) error {
	for st.Rev() < rev {
		select {
		case <-ctx.Done():
			return fmt.Errorf("cache did not reach revision %d (at %d): %w", rev, st.Rev(), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// signinName is the name of sign-in user i: "signin-%06d".
func signinName(i int) string { return "signin-" + string(appendSeq(nil, i)) }

// seedSignIn creates n users signin-000000… with checkerPass, for the
// sign-in scenario: one argon2id hash (DefaultParams, the server's) shared
// by all of them, so seeding costs one hash, while every sign-in of a
// different name misses the server's credential cache and pays a full
// argon2id verification. They are written right before the scenario
// (the last), so the other scenarios see N users.
func seedSignIn(ctx context.Context, st *storage.Store, n int) (string, error) {
	hash, err := authn.HashPassword(checkerPass, authn.DefaultParams, rand.Reader)
	if err != nil {
		return "", err
	}
	now := time.Now().Unix()
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				_, _, err := st.PutItem(ctx, loadAccount, storage.KindUser, signinName(i), storage.CreateOnly,
					func(string, bool) (string, error) {
						return storage.User{PasswordHash: hash, Enabled: true, Created: now}.Encode(), nil
					}, nil)
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("create %s: %w", signinName(i), err) })
					return
				}
			}
		}()
	}
	wg.Wait()
	return hash, firstErr
}
