package resources_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"gatehouse/authn"
	"gatehouse/conf"
	"gatehouse/instance"
	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// The benchmarks serve requests through the whole handler (routing, Basic
// auth with the verified-credential cache, authorization, the storage
// cache, XML rendering) in-process with httptest: no network. The store
// holds benchUsers users in account "load"; every 10th is in group
// "readers", whose role "reader" holds print:jobs:read.
// GATEHOUSE_BENCH_USERS sets another number of users (as 100000), to
// see the costs that grow with the store (the cache's tree searches).
const (
	benchAccount = "load"
	benchPass    = "checker-password-1"
)

var benchUsers = func() int {
	if n, err := strconv.Atoi(os.Getenv("GATEHOUSE_BENCH_USERS")); err == nil && n >= 1000 {
		return n
	}
	return 10_000
}()

// benchEnv is a seeded server for one top-level benchmark. Each
// top-level benchmark runs its cases as sub-benchmarks, so it is called
// once and seeds once; the embedded etcd and its directory go away when
// it ends.
type benchEnv struct {
	srv  http.Handler
	auth string
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	st := storagetest.Store(b)
	ctx := context.Background()
	if err := seedBench(ctx, st); err != nil {
		b.Fatal(err)
	}
	parts, err := instance.Assemble(st, conf.Defaults(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { parts.StopOAuth(); _ = parts.Audit.Close() })
	env := &benchEnv{
		srv:  parts.API,
		auth: "Basic " + base64.StdEncoding.EncodeToString([]byte(benchAccount+`\checker:`+benchPass)),
	}
	// The first sign-in pays argon2id and records the last sign-in (a
	// write to the account); wait for it so that it does not land mid-run.
	if rec := serve(env.srv, env.auth, "/auth/v2/accounts/"+benchAccount); rec.Code != http.StatusOK {
		b.Fatalf("first sign-in: %d %s", rec.Code, rec.Body)
	}
	login := storage.ItemKey(benchAccount, storage.KindLogin, "checker")
	for i := 0; i < 500; i++ {
		var ok bool
		_ = st.Read(ctx, 0, func(v storage.View) error { ok = v.Has(login); return nil })
		if ok {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return env
}

// seedBench writes the fixed data with the store's operations and the
// users directly with the etcd client (the keys and values PutItem and
// LinkAdd would write), 1,000 users per transaction.
func seedBench(ctx context.Context, st *storage.Store) error {
	hash, err := authn.HashPassword(benchPass, authn.DefaultParams, rand.Reader)
	if err != nil {
		return err
	}
	a := benchAccount
	if _, err := st.CreateAccount(ctx, a, storage.Account{}, []string{"*"}); err != nil {
		return err
	}
	role := func(name, perm string) error {
		_, _, err := st.PutItem(ctx, a, storage.KindRole, name, storage.CreateOnly,
			func(string, bool) (string, error) { return storage.Role{}.Encode(), nil },
			func(v storage.View, t *storage.Txn, created bool) error {
				t.Put(storage.SubKey(a, storage.KindRolePerm, name, perm), "")
				return nil
			})
		return err
	}
	if err := role("reader", "print:jobs:read"); err != nil {
		return err
	}
	if err := role("everything", "*"); err != nil {
		return err
	}
	if _, _, err := st.PutItem(ctx, a, storage.KindGroup, "readers", storage.CreateOnly,
		func(string, bool) (string, error) { return storage.Group{}.Encode(), nil }, nil); err != nil {
		return err
	}
	if _, _, err := st.LinkAdd(ctx, a, storage.GroupRoles, "readers", "reader", storage.CreateOnly); err != nil {
		return err
	}
	now := time.Now().Unix()
	if _, _, err := st.PutItem(ctx, a, storage.KindUser, "checker", storage.CreateOnly,
		func(string, bool) (string, error) {
			return storage.User{PasswordHash: hash, Enabled: true, Created: now}.Encode(), nil
		}, nil); err != nil {
		return err
	}
	if _, _, err := st.LinkAdd(ctx, a, storage.UserRoles, "checker", "everything", storage.CreateOnly); err != nil {
		return err
	}
	p := st.Prefix()
	var rev int64
	for lo := 0; lo < benchUsers; lo += 1000 {
		var ops []clientv3.Op
		for i := lo; i < min(lo+1000, benchUsers); i++ {
			u := benchUser(i)
			ops = append(ops, clientv3.OpPut(p+storage.ItemKey(a, storage.KindUser, u),
				storage.User{Email: u + "@load.example", Enabled: true, Created: now}.Encode()))
			if i%10 == 0 {
				ops = append(ops, clientv3.OpPut(p+storage.SubKey(a, storage.KindUserGrp, u, "readers"), ""),
					clientv3.OpPut(p+storage.SubKey(a, storage.KindGrpUser, "readers", u), ""))
			}
		}
		resp, err := st.Client().Txn(ctx).Then(ops...).Commit()
		if err != nil {
			return err
		}
		rev = resp.Header.Revision
	}
	return st.Read(ctx, rev, func(storage.View) error { return nil })
}

func benchUser(i int) string { return fmt.Sprintf("user-%07d", i) }

func serve(h http.Handler, auth, target string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.Header.Set("Authorization", auth)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// run serves path(i) b.N times, failing on an unexpected status.
func (env *benchEnv) run(b *testing.B, path func(i int) string, ok func(status int) bool) {
	srv, auth := env.srv, env.auth
	// Check once outside the timer, and warm the memos.
	if rec := serve(srv, auth, path(0)); !ok(rec.Code) {
		b.Fatalf("GET %s: %d %s", path(0), rec.Code, rec.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	bytes := 0
	for i := 0; b.Loop(); i++ {
		rec := serve(srv, auth, path(i))
		if !ok(rec.Code) {
			b.Fatalf("GET %s: %d %s", path(i), rec.Code, rec.Body)
		}
		bytes += rec.Body.Len()
	}
	b.ReportMetric(float64(bytes)/float64(b.N), "resp-bytes/op")
}

func is200(s int) bool { return s == http.StatusOK }

// BenchmarkPage50 is one page of 50 users from the middle of the
// 10,000-user collection, without and with a filter.
func BenchmarkPage50(b *testing.B) {
	const users = "/auth/v2/accounts/" + benchAccount + "/users?page-size=50"
	env := newBenchEnv(b)
	b.Run("plain", func(b *testing.B) {
		env.run(b, func(int) string { return users + "&current-page=100" }, is200)
	})
	b.Run("prefix", func(b *testing.B) { // matches user-0001000 … user-0001999: 20 pages
		env.run(b, func(int) string { return users + "&filter=user-0001%2A&current-page=10" }, is200)
	})
	b.Run("substring", func(b *testing.B) { // "99" matches 280 names: 6 pages
		env.run(b, func(int) string { return users + "&filter=99&current-page=3" }, is200)
	})
}

// BenchmarkUserGet shows one user at the default depth 1, cycling over
// the users (so the holdings memo grows to every user, as in production).
func BenchmarkUserGet(b *testing.B) {
	env := newBenchEnv(b)
	b.Run("depth1", func(b *testing.B) {
		env.run(b, func(i int) string {
			return "/auth/v2/accounts/" + benchAccount + "/users/" + benchUser(i*7919%benchUsers)
		}, is200)
	})
}

// BenchmarkPermissionCheck asks whether a user holds print:jobs:read:
// 200 for group members (1 in 10), 404 for the others.
func BenchmarkPermissionCheck(b *testing.B) {
	env := newBenchEnv(b)
	b.Run("mixed", func(b *testing.B) {
		env.run(b, func(i int) string {
			return "/auth/v2/accounts/" + benchAccount + "/users/" + benchUser(i*7919%benchUsers) + "/permissions/print:jobs:read"
		}, func(s int) bool { return s == http.StatusOK || s == http.StatusNotFound })
	})
	b.Run("granted", func(b *testing.B) {
		env.run(b, func(i int) string {
			return "/auth/v2/accounts/" + benchAccount + "/users/" + benchUser(i*10%benchUsers) + "/permissions/print:jobs:read"
		}, is200)
	})
	b.Run("denied", func(b *testing.B) {
		env.run(b, func(i int) string {
			return "/auth/v2/accounts/" + benchAccount + "/users/" + benchUser((i*10+1)%benchUsers) + "/permissions/print:jobs:read"
		}, func(s int) bool { return s == http.StatusNotFound })
	})
}
