package storage_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// ---------------------------------------------------------------------
// Invariants, checked on etcd's content (never the cache).
// ---------------------------------------------------------------------

// mirrorOf maps each membership kind to (owner kind, member kind, kind of
// the other side).
var mirrorOf = map[string][3]string{
	storage.KindUserRole: {storage.KindUser, storage.KindRole, storage.KindRoleUser},
	storage.KindRoleUser: {storage.KindRole, storage.KindUser, storage.KindUserRole},
	storage.KindUserGrp:  {storage.KindUser, storage.KindGroup, storage.KindGrpUser},
	storage.KindGrpUser:  {storage.KindGroup, storage.KindUser, storage.KindUserGrp},
	storage.KindGrpRole:  {storage.KindGroup, storage.KindRole, storage.KindRoleGrp},
	storage.KindRoleGrp:  {storage.KindRole, storage.KindGroup, storage.KindGrpRole},
}

// checkConsistent reads everything from etcd and reports every orphan:
// accounts whose parent or child index is missing, child indexes naming
// a missing account, keys of missing accounts, sets of missing items and
// one-sided or dangling memberships.
func checkConsistent(t testing.TB, s *storage.Store) {
	t.Helper()
	all := storagetest.EtcdKeys(t, s, "")
	accounts := map[string]storage.Account{}
	for k, v := range all {
		if name, ok := strings.CutPrefix(k, storage.AccountsRange); ok {
			acc, err := storage.DecodeAccount(v)
			if err != nil {
				t.Errorf("%s: undecodable record: %v", k, err)
			}
			accounts[name] = acc
		}
	}
	problems := 0
	report := func(format string, args ...any) {
		t.Helper()
		if problems++; problems <= 40 {
			t.Errorf(format, args...)
		}
	}
	for name, acc := range accounts {
		if acc.Parent == "" {
			continue
		}
		if _, ok := accounts[acc.Parent]; !ok {
			report("orphan account %s: parent %s does not exist", name, acc.Parent)
		}
		if _, ok := all[storage.ItemKey(acc.Parent, storage.KindChild, name)]; !ok {
			report("account %s: index t/%s/child/%s missing", name, acc.Parent, name)
		}
		// The parent chain must end at a root without a cycle.
		seen := map[string]bool{name: true}
		for p := acc.Parent; p != ""; p = accounts[p].Parent {
			if seen[p] {
				report("account %s: parent chain has a cycle at %s", name, p)
				break
			}
			seen[p] = true
			if _, ok := accounts[p]; !ok {
				break // reported above for the account whose parent is missing
			}
		}
	}
	for k := range all {
		rest, ok := strings.CutPrefix(k, "t/")
		if !ok {
			continue
		}
		parts := strings.Split(rest, "/")
		if len(parts) < 3 {
			report("malformed key %s", k)
			continue
		}
		a, kind := parts[0], parts[1]
		if _, ok := accounts[a]; !ok {
			report("orphan key %s: account %s does not exist", k, a)
			continue
		}
		has := func(kind, name string) bool {
			_, ok := all[storage.ItemKey(a, kind, name)]
			return ok
		}
		switch kind {
		case storage.KindChild:
			if acc, ok := accounts[parts[2]]; !ok || acc.Parent != a {
				report("dangling child index %s (account %s exists: %v, parent %q)", k, parts[2], ok, acc.Parent)
			}
		case storage.KindAttr, storage.KindLogin:
			if !has(storage.KindUser, parts[2]) {
				report("orphan %s: user %s does not exist", k, parts[2])
			}
		case storage.KindRolePerm:
			if !has(storage.KindRole, parts[2]) {
				report("orphan %s: role %s does not exist", k, parts[2])
			}
		default:
			m, ok := mirrorOf[kind]
			if !ok {
				continue
			}
			if len(parts) != 4 {
				report("malformed membership key %s", k)
				continue
			}
			owner, member := parts[2], parts[3]
			if !has(m[0], owner) {
				report("membership %s: %s %s does not exist", k, m[0], owner)
			}
			if !has(m[1], member) {
				report("membership %s: %s %s does not exist", k, m[1], member)
			}
			if _, ok := all[storage.SubKey(a, m[2], member, owner)]; !ok {
				report("one-sided membership %s: %s missing", k, storage.SubKey(a, m[2], member, owner))
			}
		}
	}
	if problems > 40 {
		t.Errorf("... %d problems in all", problems)
	}
}

// checkCacheMatchesEtcd waits for the cache to reach etcd's revision and
// compares every key.
func checkCacheMatchesEtcd(t testing.TB, s *storage.Store) {
	t.Helper()
	rev := storagetest.EtcdRev(t, s)
	want := storagetest.EtcdKeys(t, s, "")
	got := map[string]string{}
	err := s.Read(storagetest.Ctx(t), rev, func(v storage.View) error {
		v.EachRange("", func(k, val string) bool {
			got[k] = val
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatalf("read at %d: %v", rev, err)
	}
	if d := storagetest.DiffKeySets(got, want); d != "" {
		t.Errorf("cache differs from etcd at revision %d:\n%s", rev, d)
	}
	for k, v := range want {
		if g, ok := got[k]; ok && g != v {
			t.Errorf("cache %s = %q, etcd %q", k, g, v)
		}
	}
}

// ---------------------------------------------------------------------
// (a) uniqueness under contention
// ---------------------------------------------------------------------

func TestConcurrentCreateOnlyOneWins(t *testing.T) {
	s := storagetest.Store(t)
	storagetest.MustAccount(t, s, "race", "")
	storagetest.MustItem(t, s, "race", storage.KindUser, "member")
	storagetest.MustItem(t, s, "race", storage.KindRole, "role")
	const n = 50
	tests := []struct {
		name    string
		wantErr error
		key     string // written by the winner
		op      func(ctx context.Context, i int) (created bool, err error)
	}{
		{"PutItem user", storage.ErrNameTaken, storage.ItemKey("race", storage.KindUser, "alice"),
			func(ctx context.Context, i int) (bool, error) {
				c, _, err := s.PutItem(ctx, "race", storage.KindUser, "alice", storage.CreateOnly,
					storagetest.SetTo(storage.User{FullName: fmt.Sprint("writer ", i)}.Encode()), nil)
				return c, err
			}},
		{"CreateAccount", storage.ErrNameTaken, storage.AccountKey("race-child"),
			func(ctx context.Context, i int) (bool, error) {
				_, err := s.CreateAccount(ctx, "race-child", storage.Account{Description: fmt.Sprint("writer ", i), Parent: "race"}, nil)
				return err == nil, err
			}},
		{"SetAdd", storage.ErrNameTaken, storage.SubKey("race", storage.KindAttr, "member", "mail"),
			func(ctx context.Context, i int) (bool, error) {
				c, _, err := s.SetAdd(ctx, storage.Coll{Account: "race", Kind: storage.KindAttr, Owner: "member"}, "mail", fmt.Sprint("writer ", i), storage.CreateOnly)
				return c, err
			}},
		{"LinkAdd", storage.ErrMember, storage.SubKey("race", storage.KindRoleUser, "role", "member"),
			func(ctx context.Context, i int) (bool, error) {
				c, _, err := s.LinkAdd(ctx, "race", storage.UserRoles, "member", "role", storage.CreateOnly)
				return c, err
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := storagetest.Ctx(t)
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make([]error, n)
			created := make([]bool, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					created[i], errs[i] = tc.op(ctx, i)
				}()
			}
			close(start)
			wg.Wait()
			winners, taken := 0, 0
			winner := -1
			for i, err := range errs {
				switch {
				case err == nil:
					winners++
					winner = i
					if !created[i] {
						t.Errorf("writer %d succeeded but reports created=false", i)
					}
				case errors.Is(err, tc.wantErr):
					taken++
				default:
					t.Errorf("writer %d: unexpected error %v", i, err)
				}
			}
			if winners != 1 || taken != n-1 {
				t.Fatalf("%d successes and %d %v errors, want 1 and %d", winners, taken, tc.wantErr, n-1)
			}
			if tc.name == "LinkAdd" {
				checkConsistent(t, s)
				return
			}
			// The stored value is the winner's.
			val := storagetest.EtcdKeys(t, s, tc.key)[tc.key]
			if !strings.Contains(val, fmt.Sprint("writer ", winner)) {
				t.Errorf("stored %q, want the value of writer %d", val, winner)
			}
		})
	}
	checkConsistent(t, s)
}

// ---------------------------------------------------------------------
// (b) parallel membership edits keep both sides equal
// ---------------------------------------------------------------------

func TestConcurrentMembershipEdits(t *testing.T) {
	s := storagetest.Store(t)
	ctx := storagetest.Ctx(t)
	const a = "mem"
	storagetest.MustAccount(t, s, a, "")
	var users, roles, groups []string
	for i := range 5 {
		users = append(users, fmt.Sprint("u", i))
		roles = append(roles, fmt.Sprint("r", i))
		groups = append(groups, fmt.Sprint("g", i))
		storagetest.MustItem(t, s, a, storage.KindUser, users[i])
		storagetest.MustItem(t, s, a, storage.KindRole, roles[i])
		storagetest.MustItem(t, s, a, storage.KindGroup, groups[i])
	}
	itemsOf := map[string][]string{storage.KindUser: users, storage.KindRole: roles, storage.KindGroup: groups}
	links := []storage.Link{storage.UserRoles, storage.UserGroups, storage.GroupUsers, storage.GroupRoles}

	const workers, opsEach = 20, 10
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	var okOps, expectedErrs atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			<-start
			for range opsEach {
				l := links[rng.IntN(len(links))]
				from := itemsOf[l.From][rng.IntN(5)]
				to := itemsOf[l.To][rng.IntN(5)]
				var err error
				var what string
				switch op := rng.IntN(5); op {
				case 0:
					what = "LinkAdd create-only"
					_, _, err = s.LinkAdd(ctx, a, l, from, to, storage.CreateOnly)
				case 1:
					// Upsert of a present membership writes nothing.
					what = "LinkAdd upsert"
					_, _, err = s.LinkAdd(ctx, a, l, from, to, storage.Upsert)
				case 2, 3:
					what = "LinkRemove"
					_, err = s.LinkRemove(ctx, a, l, from, to)
				case 4:
					what = "LinkReplace"
					var tos []string
					for _, x := range itemsOf[l.To] {
						if rng.IntN(2) == 0 {
							tos = append(tos, x)
						}
					}
					_, err = s.LinkReplace(ctx, a, l, from, tos)
				}
				switch {
				case err == nil:
					okOps.Add(1)
				case errors.Is(err, storage.ErrMember), errors.Is(err, storage.ErrNotFound):
					expectedErrs.Add(1)
				default:
					t.Errorf("%s %s→%s %s→%s: %v", what, l.From, l.To, from, to, err)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	t.Logf("%d operations succeeded, %d refused as expected", okOps.Load(), expectedErrs.Load())
	if okOps.Load() == 0 {
		t.Fatalf("no operation succeeded")
	}

	all := storagetest.EtcdKeys(t, s, storage.TenantRange(a))
	for _, pair := range [][2]string{
		{storage.KindUserRole, storage.KindRoleUser},
		{storage.KindUserGrp, storage.KindGrpUser},
		{storage.KindGrpRole, storage.KindRoleGrp},
	} {
		m := mirrorOf[pair[0]]
		for _, x := range itemsOf[m[0]] {
			for _, y := range itemsOf[m[1]] {
				_, fwd := all[storage.SubKey(a, pair[0], x, y)]
				_, rev := all[storage.SubKey(a, pair[1], y, x)]
				if fwd != rev {
					t.Errorf("%s/%s/%s present=%v but %s/%s/%s present=%v", pair[0], x, y, fwd, pair[1], y, x, rev)
				}
			}
		}
	}
	checkConsistent(t, s)
	checkCacheMatchesEtcd(t, s)
}

// ---------------------------------------------------------------------
// (c) a cascading delete racing with creates leaves no orphans
// ---------------------------------------------------------------------

func TestCascadeDeleteRacesCreates(t *testing.T) {
	s := storagetest.Store(t)
	storagetest.MustAccount(t, s, "keeper", "")
	const rounds, workers = 5, 20
	for round := range rounds {
		ctx := storagetest.Ctx(t)
		kid := fmt.Sprintf("victim-kid%d", round)
		storagetest.MustAccount(t, s, "victim", "keeper")
		storagetest.MustAccount(t, s, kid, "victim")
		for _, acc := range []string{"victim", kid} {
			for _, u := range []string{"u0", "u1", "u2"} {
				storagetest.MustItem(t, s, acc, storage.KindUser, u)
			}
			storagetest.MustItem(t, s, acc, storage.KindRole, "r0")
			storagetest.MustItem(t, s, acc, storage.KindGroup, "g0")
			storagetest.MustLink(t, s, acc, storage.UserRoles, "u0", "r0")
			storagetest.MustLink(t, s, acc, storage.UserGroups, "u1", "g0")
			storagetest.MustLink(t, s, acc, storage.GroupRoles, "g0", "r0")
		}

		// New child accounts go into victim and its child; items and
		// memberships into those and every account created below them.
		var mu sync.Mutex
		parents := []string{"victim", kid}
		accounts := []string{"victim", kid}
		pick := func(rng *rand.Rand) string {
			mu.Lock()
			defer mu.Unlock()
			return accounts[rng.IntN(len(accounts))]
		}
		var stop atomic.Bool
		var ops, refused atomic.Int64
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(round), uint64(w)))
				for i := 0; !stop.Load(); i++ {
					acc := pick(rng)
					var err error
					switch rng.IntN(6) {
					case 0:
						name := fmt.Sprintf("sub%d-%d-%d", round, w, i)
						_, err = s.CreateAccount(ctx, name, storage.Account{Parent: parents[rng.IntN(2)]}, nil)
						if err == nil {
							mu.Lock()
							accounts = append(accounts, name)
							mu.Unlock()
						}
					case 1:
						_, _, err = s.PutItem(ctx, acc, storage.KindUser, fmt.Sprint("u", rng.IntN(6)), storage.Upsert,
							storagetest.SetTo(storagetest.RecordFor(storage.KindUser, "u")), nil)
					case 2:
						kind := []string{storage.KindRole, storage.KindGroup}[rng.IntN(2)]
						_, _, err = s.PutItem(ctx, acc, kind, kind[:1]+fmt.Sprint(rng.IntN(3)), storage.Upsert,
							storagetest.SetTo(storagetest.RecordFor(kind, "x")), nil)
					case 3:
						l := []storage.Link{storage.UserRoles, storage.UserGroups, storage.GroupRoles}[rng.IntN(3)]
						_, _, err = s.LinkAdd(ctx, acc, l, l.From[:1]+fmt.Sprint(rng.IntN(3)), l.To[:1]+fmt.Sprint(rng.IntN(3)), storage.Upsert)
					case 4:
						u := fmt.Sprint("u", rng.IntN(3))
						_, _, err = s.SetAdd(ctx, storage.Coll{Account: acc, Kind: storage.KindAttr, Owner: u},
							"n", fmt.Sprint(i), storage.Upsert)
					case 5:
						r := fmt.Sprint("r", rng.IntN(3))
						_, _, err = s.SetAdd(ctx, storage.Coll{Account: acc, Kind: storage.KindRolePerm, Owner: r},
							"p:read", "", storage.Upsert)
					}
					switch {
					case err == nil:
						ops.Add(1)
					case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrNameTaken),
						errors.Is(err, storage.ErrMember), errors.Is(err, storage.ErrConflict):
						refused.Add(1)
					default:
						t.Errorf("round %d worker %d: %v", round, w, err)
					}
				}
			}()
		}

		// Let the creators get going, then delete. Under this load the
		// delete can lose its guards again and again (each creation of a
		// child account in the subtree beats it); ErrConflict is a
		// legitimate answer and is retried. To bound the test, the
		// creators stop after a fixed amount of work (stopAfter attempts
		// since the delete began) if the delete has not finished by then.
		const stopAfter = 1500
		attempts := func() int64 { return ops.Load() + refused.Load() }
		eventually(t, "the creators get going", func() bool { return attempts() >= int64(workers*(2+round)) })
		var delErr error
		conflicts := 0
		delStart := time.Now()
		delDone := make(chan struct{})
		go func() {
			defer close(delDone)
			for {
				_, delErr = s.DeleteAccount(ctx, "victim")
				if !errors.Is(delErr, storage.ErrConflict) || conflicts >= 5 {
					return
				}
				conflicts++
			}
		}()
		from := attempts()
		finished := false
		eventually(t, "the delete finishes or the creators have had their turn", func() bool {
			select {
			case <-delDone:
				finished = true
				return true
			default:
				return attempts()-from >= stopAfter
			}
		})
		if finished {
			// The creators keep trying after the delete.
			after := attempts()
			eventually(t, "the creators try after the delete", func() bool { return attempts() >= after+workers })
		} else {
			t.Logf("round %d: DeleteAccount still losing to concurrent creates after %d of their attempts; stopping the creators", round, stopAfter)
		}
		stop.Store(true)
		wg.Wait()
		<-delDone
		delTook := time.Since(delStart)
		if delErr != nil {
			t.Fatalf("round %d: DeleteAccount(victim): %v (after %d conflicts)", round, delErr, conflicts)
		}
		t.Logf("round %d: %d writes, %d refused, delete took %v with %d conflicts, %d accounts were created",
			round, ops.Load(), refused.Load(), delTook, conflicts, len(accounts))

		all := storagetest.EtcdKeys(t, s, "")
		for k := range all {
			if k == storage.AccountKey("victim") || strings.HasPrefix(k, storage.TenantRange("victim")) {
				t.Errorf("round %d: %s survived the delete", round, k)
			}
		}
		mu.Lock()
		for _, p := range accounts {
			if _, ok := all[storage.AccountKey(p)]; ok {
				t.Errorf("round %d: account %s below victim survived", round, p)
			}
		}
		mu.Unlock()
		if _, ok := all[storage.ItemKey("keeper", storage.KindChild, "victim")]; ok {
			t.Errorf("round %d: t/keeper/child/victim survived", round)
		}
		checkConsistent(t, s)
		if t.Failed() {
			return
		}
	}
	checkCacheMatchesEtcd(t, s)
}

// ---------------------------------------------------------------------
// Races whose outcome depends on the order of commit: two writers start
// together (so both usually build from the same view) and the result must
// be the one of some serial order. Each round is a fresh pair of
// accounts; rounds make both orders likely.
// ---------------------------------------------------------------------

const raceRounds = 30

// together runs fns at the same moment and waits for them.
func together(fns ...func()) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, fn := range fns {
		wg.Add(1)
		go func() { defer wg.Done(); <-start; fn() }()
	}
	close(start)
	wg.Wait()
}

// TestDeleteAccountRacesMove: deleting P while P's child X moves to Q.
// If the move succeeded, it committed before the delete (a move after
// the delete finds X gone), so X, now under Q, must survive the delete.
func TestDeleteAccountRacesMove(t *testing.T) {
	s := storagetest.Store(t)
	ctx := storagetest.Ctx(t)
	lost := 0
	for round := range raceRounds {
		p, x, q := fmt.Sprint("mp", round), fmt.Sprint("mx", round), fmt.Sprint("mq", round)
		storagetest.MustAccount(t, s, "mroot", "")
		storagetest.MustAccount(t, s, p, "mroot")
		storagetest.MustAccount(t, s, x, p)
		storagetest.MustAccount(t, s, q, "mroot")
		storagetest.MustItem(t, s, x, storage.KindUser, "u")
		var moveErr, delErr error
		together(
			func() { _, moveErr = s.UpdateAccount(ctx, x, func(a *storage.Account) { a.Parent = q }) },
			func() { _, delErr = s.DeleteAccount(ctx, p) },
		)
		if delErr != nil {
			t.Fatalf("round %d: DeleteAccount: %v", round, delErr)
		}
		switch {
		case moveErr == nil:
			if !storagetest.EtcdHas(t, s, storage.AccountKey(x)) || !storagetest.EtcdHas(t, s, storage.ItemKey(x, storage.KindUser, "u")) {
				if lost++; lost <= 3 {
					t.Errorf("round %d: %s was moved under %s, then deleting its old parent %s deleted it anyway", round, x, q, p)
					checkConsistent(t, s)
				}
			}
		case errors.Is(moveErr, storage.ErrNotFound):
		default:
			t.Fatalf("round %d: move: %v", round, moveErr)
		}
		if _, err := s.DeleteAccount(ctx, "mroot"); err != nil {
			t.Fatalf("round %d: cleanup: %v", round, err)
		}
	}
	if lost > 0 {
		t.Errorf("moved accounts lost in %d of %d rounds", lost, raceRounds)
	}
	checkConsistent(t, s)
}

// TestDeleteAccountRacesMoveIn: deleting P while an outside account Y
// moves under P's child X. Either the move fails or Y goes with P.
func TestDeleteAccountRacesMoveIn(t *testing.T) {
	s := storagetest.Store(t)
	ctx := storagetest.Ctx(t)
	for round := range raceRounds {
		p, x, y := fmt.Sprint("ip", round), fmt.Sprint("ix", round), fmt.Sprint("iy", round)
		storagetest.MustAccount(t, s, "iroot", "")
		storagetest.MustAccount(t, s, p, "iroot")
		storagetest.MustAccount(t, s, x, p)
		storagetest.MustAccount(t, s, y, "iroot")
		var moveErr, delErr error
		together(
			func() { _, moveErr = s.UpdateAccount(ctx, y, func(a *storage.Account) { a.Parent = x }) },
			func() { _, delErr = s.DeleteAccount(ctx, p) },
		)
		if delErr != nil {
			t.Fatalf("round %d: DeleteAccount: %v", round, delErr)
		}
		if moveErr != nil && !errors.Is(moveErr, storage.ErrNotFound) {
			t.Fatalf("round %d: move: %v", round, moveErr)
		}
		checkConsistent(t, s)
		if _, err := s.DeleteAccount(ctx, "iroot"); err != nil {
			t.Fatalf("round %d: cleanup: %v", round, err)
		}
		if t.Failed() {
			break
		}
	}
}

// TestCreateAccountRacesCeilingRemoval: a child created with a nil
// ceiling copies its parent's ceiling. If the parent lost permission
// "b" before the child was committed, the child must not get "b".
func TestCreateAccountRacesCeilingRemoval(t *testing.T) {
	s := storagetest.Store(t)
	ctx := storagetest.Ctx(t)
	bad := 0
	for round := range raceRounds {
		p, c := fmt.Sprint("cp", round), fmt.Sprint("cc", round)
		storagetest.MustAccount(t, s, p, "", "a:*", "b:*")
		var createRev, removeRev int64
		var createErr, removeErr error
		together(
			func() { createRev, createErr = s.CreateAccount(ctx, c, storage.Account{Parent: p}, nil) },
			func() {
				removeRev, removeErr = s.SetRemove(ctx, storage.Coll{Account: p, Kind: storage.KindCeiling}, "b:*")
			},
		)
		if createErr != nil || removeErr != nil {
			t.Fatalf("round %d: create %v, remove %v", round, createErr, removeErr)
		}
		got := storagetest.CeilingOf(t, s, c)
		want := []string{"a:*", "b:*"}
		if removeRev < createRev {
			want = []string{"a:*"}
		}
		if !slices.Equal(got, want) {
			if bad++; bad <= 3 {
				t.Errorf("round %d: removal at revision %d, creation at %d: child ceiling %q, want %q (parent now %q)",
					round, removeRev, createRev, got, want, storagetest.CeilingOf(t, s, p))
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d rounds went wrong", bad, raceRounds)
	}
}

// TestReplaceRacesRemove: Replace(f, {t1, t2}) while t1 is removed from
// f. Whichever committed last decides: if Replace did, f holds exactly
// {t1, t2}.
func TestReplaceRacesRemove(t *testing.T) {
	s := storagetest.Store(t)
	tests := []struct {
		name    string
		setup   func(a string)
		replace func(ctx context.Context, a string) (int64, error)
		remove  func(ctx context.Context, a string) (int64, error)
		members func(a string) []string
	}{
		{
			name: "LinkReplace",
			setup: func(a string) {
				storagetest.MustAccount(t, s, a, "")
				storagetest.MustItem(t, s, a, storage.KindUser, "u")
				storagetest.MustItem(t, s, a, storage.KindRole, "t1")
				storagetest.MustItem(t, s, a, storage.KindRole, "t2")
				storagetest.MustLink(t, s, a, storage.UserRoles, "u", "t1")
			},
			replace: func(ctx context.Context, a string) (int64, error) {
				return s.LinkReplace(ctx, a, storage.UserRoles, "u", []string{"t1", "t2"})
			},
			remove: func(ctx context.Context, a string) (int64, error) {
				return s.LinkRemove(ctx, a, storage.UserRoles, "u", "t1")
			},
			members: func(a string) []string {
				fwd, rev := storagetest.Memberships(t, s, a, storage.UserRoles)
				if !maps.Equal(fwd, rev) {
					t.Errorf("account %s: sides differ: %v vs %v", a, fwd, rev)
				}
				var out []string
				for p := range fwd {
					out = append(out, p[1])
				}
				slices.Sort(out)
				return out
			},
		},
		{
			name: "SetReplace",
			setup: func(a string) {
				storagetest.MustAccount(t, s, a, "")
				storagetest.MustItem(t, s, a, storage.KindUser, "u")
				storagetest.MustSetAdd(t, s, storage.Coll{Account: a, Kind: storage.KindAttr, Owner: "u"}, "t1", "v")
			},
			replace: func(ctx context.Context, a string) (int64, error) {
				return s.SetReplace(ctx, storage.Coll{Account: a, Kind: storage.KindAttr, Owner: "u"},
					map[string]string{"t1": "v", "t2": "v"})
			},
			remove: func(ctx context.Context, a string) (int64, error) {
				return s.SetRemove(ctx, storage.Coll{Account: a, Kind: storage.KindAttr, Owner: "u"}, "t1")
			},
			members: func(a string) []string {
				return slices.Sorted(func(yield func(string) bool) {
					for k := range storagetest.EtcdKeys(t, s, storage.SubRange(a, storage.KindAttr, "u")) {
						if !yield(strings.TrimPrefix(k, storage.SubRange(a, storage.KindAttr, "u"))) {
							return
						}
					}
				})
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := storagetest.Ctx(t)
			bad := 0
			defer func() {
				if bad > 0 {
					t.Errorf("%d of %d rounds went wrong", bad, raceRounds)
				}
			}()
			for round := range raceRounds {
				a := fmt.Sprintf("rr-%s-%d", strings.ToLower(tc.name), round)
				tc.setup(a)
				var repRev, remRev int64
				var repErr, remErr error
				together(
					func() { repRev, repErr = tc.replace(ctx, a) },
					func() { remRev, remErr = tc.remove(ctx, a) },
				)
				if repErr != nil {
					t.Fatalf("round %d: replace: %v", round, repErr)
				}
				got := tc.members(a)
				switch {
				case remErr == nil && remRev < repRev:
					if !slices.Equal(got, []string{"t1", "t2"}) {
						if bad++; bad <= 3 {
							t.Errorf("round %d: remove committed at %d, replace at %d, yet the set is %q, want [t1 t2]",
								round, remRev, repRev, got)
						}
					}
				case remErr == nil:
					if !slices.Equal(got, []string{"t2"}) {
						t.Errorf("round %d: replace at %d, remove at %d, set %q, want [t2]", round, repRev, remRev, got)
					}
				default:
					t.Fatalf("round %d: remove: %v", round, remErr)
				}
			}
		})
	}
}

// ---------------------------------------------------------------------
// A write that changes nothing while the cache advances. Update returns
// the view's revision; under -race this shows whether it is read safely.
// ---------------------------------------------------------------------

func TestNoopWritesWhileCacheAdvances(t *testing.T) {
	s := storagetest.Store(t)
	ctx := storagetest.Ctx(t)
	storagetest.MustAccount(t, s, "noop", "")
	storagetest.MustItem(t, s, "noop", storage.KindRole, "same")
	var wg sync.WaitGroup
	var stop atomic.Bool
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			if _, _, err := s.PutItem(ctx, "noop", storage.KindRole, "busy", storage.Upsert, storagetest.SetTo(fmt.Sprint(i)), nil); err != nil {
				t.Errorf("busy writer: %v", err)
				return
			}
		}
	}()
	same := storagetest.RecordFor(storage.KindRole, "same")
	for range 300 {
		before := s.Rev()
		created, rev, err := s.PutItem(ctx, "noop", storage.KindRole, "same", storage.Upsert, storagetest.SetTo(same), nil)
		if err != nil || created {
			t.Errorf("no-op PutItem = %v, %v", created, err)
			break
		}
		if rev < before {
			t.Errorf("no-op PutItem returned revision %d, older than the cache's %d before the call", rev, before)
		}
	}
	stop.Store(true)
	wg.Wait()
}

// ---------------------------------------------------------------------
// (d) two stores on one etcd
// ---------------------------------------------------------------------

func TestTwoStoresSeeEachOther(t *testing.T) {
	endpoint := storagetest.Etcd(t)
	a := storagetest.Open(t, endpoint)
	b := storagetest.Open(t, endpoint)
	ctx := storagetest.Ctx(t)
	storagetest.MustAccount(t, a, "shared", "")
	var worst time.Duration
	for i := range 10 {
		name := fmt.Sprint("u", i)
		store, other := a, b
		if i%2 == 1 {
			store, other = b, a
		}
		if _, _, err := store.PutItem(ctx, "shared", storage.KindUser, name, storage.CreateOnly,
			storagetest.SetTo(storagetest.RecordFor(storage.KindUser, name)), nil); err != nil {
			t.Fatal(err)
		}
		written := time.Now()
		key := storage.ItemKey("shared", storage.KindUser, name)
		eventually(t, fmt.Sprintf("write %d visible in the other store's cache", i), func() bool {
			_, ok := storagetest.CacheGet(t, other, key)
			return ok
		})
		d := time.Since(written) // reported, never judged
		worst = max(worst, d)
		t.Logf("write %d visible in the other store after %v", i, d)
	}
	t.Logf("worst delay %v", worst)

	// Both stores' guards see each other's writes: a name taken through A
	// cannot be created through B.
	if _, _, err := b.PutItem(ctx, "shared", storage.KindUser, "u0", storage.CreateOnly, storagetest.SetTo("x"), nil); !errors.Is(err, storage.ErrNameTaken) {
		t.Errorf("creating through B a name taken through A = %v, want ErrNameTaken", err)
	}
	// And a write through B, once visible to A, can be read at B's
	// returned revision from A.
	_, rev, err := b.PutItem(ctx, "shared", storage.KindRole, "r", storage.CreateOnly, storagetest.SetTo("r"), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = a.Read(ctx, rev, func(v storage.View) error {
		if !v.Has(storage.ItemKey("shared", storage.KindRole, "r")) {
			t.Errorf("A at revision %d does not show B's write", rev)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
