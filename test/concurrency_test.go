package test

// Concurrent writers over HTTP (SPEC §11 "uniqueness (409) and membership
// consistency hold under any interleaving"; §4 "DELETE removes the whole
// subtree atomically"): checked against the keys in etcd, not only against
// the API's own answers.

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"gatehouse/storage"
	"gatehouse/test/harness"
)

// ghxHTTP is a goroutine-safe client for one server (harness.Server's
// helpers fail the test, which only the test goroutine may do).
type ghxHTTP struct {
	base string
	hc   *http.Client
}

func ghxClientFor(s *harness.Server) *ghxHTTP {
	return &ghxHTTP{base: s.URL(), hc: &http.Client{Timeout: 60 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 128, MaxConnsPerHost: 128}}}
}

// do performs one request as system\admin.
func (c *ghxHTTP) do(method, path, body string) (int, string, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, "", err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/xml")
	}
	req.SetBasicAuth(`system\admin`, harness.AdminPassword)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// ghxStatusLog collects unexpected answers from goroutines.
type ghxStatusLog struct {
	mu       sync.Mutex
	problems []string
	counts   map[int]int
}

func (l *ghxStatusLog) record(method, path string, status int, body string, err error, allowed ...int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.counts == nil {
		l.counts = map[int]int{}
	}
	l.counts[status]++
	if err != nil {
		l.problems = append(l.problems, fmt.Sprintf("%s %s: %v", method, path, err))
		return
	}
	for _, a := range allowed {
		if status == a {
			return
		}
	}
	if len(l.problems) < 20 {
		l.problems = append(l.problems, fmt.Sprintf("%s %s: unexpected status %d: %s", method, path, status, ghxOneLine(body)))
	}
}

func (l *ghxStatusLog) report(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Logf("statuses: %v", l.counts)
	for _, p := range l.problems {
		t.Error(p)
	}
}

func ghxOneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// ghxIntegrity checks the invariants of the key layout (storage/doc.go)
// over a snapshot of every key and returns what is broken.
func ghxIntegrity(keys map[string]*ghxKV) []string {
	var bad []string
	has := func(k string) bool { _, ok := keys[k]; return ok }
	pairs := map[string]struct{ rev, from, to string }{
		storage.KindUserRole: {storage.KindRoleUser, storage.KindUser, storage.KindRole},
		storage.KindRoleUser: {storage.KindUserRole, storage.KindRole, storage.KindUser},
		storage.KindUserGrp:  {storage.KindGrpUser, storage.KindUser, storage.KindGroup},
		storage.KindGrpUser:  {storage.KindUserGrp, storage.KindGroup, storage.KindUser},
		storage.KindGrpRole:  {storage.KindRoleGrp, storage.KindGroup, storage.KindRole},
		storage.KindRoleGrp:  {storage.KindGrpRole, storage.KindRole, storage.KindGroup},
	}
	ownedBy := map[string]string{ // per-item sets and singles → owner kind
		storage.KindRolePerm: storage.KindRole,
		storage.KindAttr:     storage.KindUser,
		storage.KindLogin:    storage.KindUser,
	}
	var sorted []string
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		switch {
		case strings.HasPrefix(k, storage.AccountsRange):
			a := k[len(storage.AccountsRange):]
			acc, err := storage.DecodeAccount(keys[k].Value)
			if err != nil {
				bad = append(bad, fmt.Sprintf("%s: undecodable account record: %v", k, err))
				continue
			}
			if acc.Parent != "" {
				if !has(storage.AccountKey(acc.Parent)) {
					bad = append(bad, fmt.Sprintf("%s: parent account %q does not exist", k, acc.Parent))
				}
				if !has(storage.ItemKey(acc.Parent, storage.KindChild, a)) {
					bad = append(bad, fmt.Sprintf("%s: parent %q has no child entry %s", k, acc.Parent, storage.ItemKey(acc.Parent, storage.KindChild, a)))
				}
			}
		case strings.HasPrefix(k, "t/"):
			parts := strings.Split(k, "/") // t, a, kind, name[, sub]
			if len(parts) < 4 {
				bad = append(bad, fmt.Sprintf("%s: malformed key", k))
				continue
			}
			a, kind := parts[1], parts[2]
			if !has(storage.AccountKey(a)) {
				bad = append(bad, fmt.Sprintf("%s: orphan: account %q does not exist", k, a))
			}
			if kind == storage.KindChild {
				c := parts[3]
				cv, ok := keys[storage.AccountKey(c)]
				if !ok {
					bad = append(bad, fmt.Sprintf("%s: orphan child entry: account %q does not exist", k, c))
				} else if acc, err := storage.DecodeAccount(cv.Value); err == nil && acc.Parent != a {
					bad = append(bad, fmt.Sprintf("%s: child entry, but account %q names parent %q", k, c, acc.Parent))
				}
				continue
			}
			if p, ok := pairs[kind]; ok {
				if len(parts) != 5 {
					bad = append(bad, fmt.Sprintf("%s: malformed membership key", k))
					continue
				}
				from, to := parts[3], parts[4]
				if !has(storage.SubKey(a, p.rev, to, from)) {
					bad = append(bad, fmt.Sprintf("%s: one-sided membership: %s is missing", k, storage.SubKey(a, p.rev, to, from)))
				}
				if !has(storage.ItemKey(a, p.from, from)) {
					bad = append(bad, fmt.Sprintf("%s: membership of a missing %s %q", k, p.from, from))
				}
				if !has(storage.ItemKey(a, p.to, to)) {
					bad = append(bad, fmt.Sprintf("%s: membership naming a missing %s %q", k, p.to, to))
				}
			}
			if owner, ok := ownedBy[kind]; ok && !has(storage.ItemKey(a, owner, parts[3])) {
				bad = append(bad, fmt.Sprintf("%s: belongs to a missing %s %q", k, owner, parts[3]))
			}
		}
	}
	return bad
}

func ghxCheckIntegrity(t *testing.T, s *harness.Server) map[string]*ghxKV {
	t.Helper()
	keys := ghxEtcdKeys(t, s)
	bad := ghxIntegrity(keys)
	for i, b := range bad {
		if i == 30 {
			t.Errorf("… and %d more broken keys", len(bad)-30)
			break
		}
		t.Error(b)
	}
	return keys
}

// ghxGate releases goroutines at once.
func ghxGo(n int, fn func(i int)) {
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			fn(i)
		}()
	}
	close(gate)
	wg.Wait()
}

func TestConcurrentCreatesOfOneName(t *testing.T) {
	s := harness.Start(t)
	s.Admin("GET", "/auth/v2/accounts/system", "").Must(t, http.StatusOK) // cache the credentials
	c := ghxClientFor(s)
	const n = 50
	cases := []struct {
		what, method, path, body string
		first, rest              int
		key                      string
	}{
		{"POST user", "POST", "/auth/v2/accounts/system/users", `<user><name>dup</name></user>`, http.StatusCreated, http.StatusConflict, "t/system/user/dup"},
		{"POST role", "POST", "/auth/v2/accounts/system/roles", `<role><name>dup</name><permissions><permission>print:jobs:read</permission></permissions></role>`, http.StatusCreated, http.StatusConflict, "t/system/role/dup"},
		{"POST group", "POST", "/auth/v2/accounts/system/groups", `<group><name>dup</name></group>`, http.StatusCreated, http.StatusConflict, "t/system/group/dup"},
		{"POST account", "POST", "/auth/v2/accounts", `<account><name>dup</name><parent>system</parent></account>`, http.StatusCreated, http.StatusConflict, "acct/dup"},
		{"PUT user", "PUT", "/auth/v2/accounts/system/users/putdup", `<user><email>x@example.com</email></user>`, http.StatusCreated, http.StatusNoContent, "t/system/user/putdup"},
		{"PUT role", "PUT", "/auth/v2/accounts/system/roles/putdup", `<role><description>d</description></role>`, http.StatusCreated, http.StatusNoContent, "t/system/role/putdup"},
		{"PUT account", "PUT", "/auth/v2/accounts/putdup", `<account><parent>system</parent></account>`, http.StatusCreated, http.StatusNoContent, "acct/putdup"},
		{"POST membership", "POST", "/auth/v2/accounts/system/users/dup/roles", `<role identifier="dup"/>`, http.StatusCreated, http.StatusConflict, "t/system/ur/dup/dup"},
		{"PUT membership", "PUT", "/auth/v2/accounts/system/users/dup/groups/dup", "", http.StatusCreated, http.StatusNoContent, "t/system/ug/dup/dup"},
		{"PUT role permission", "PUT", "/auth/v2/accounts/system/roles/dup/permissions/print:jobs:delete", "", http.StatusCreated, http.StatusNoContent, "t/system/rperm/dup/print:jobs:delete"},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.what, " ", "_"), func(t *testing.T) {
			var mu sync.Mutex
			counts := map[int]int{}
			var bodies []string
			ghxGo(n, func(int) {
				st, body, err := c.do(tc.method, tc.path, tc.body)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					bodies = append(bodies, err.Error())
					return
				}
				counts[st]++
				if st != tc.first && st != tc.rest && len(bodies) < 5 {
					bodies = append(bodies, fmt.Sprintf("%d: %s", st, ghxOneLine(body)))
				}
			})
			t.Logf("%d parallel %s: %v", n, tc.what, counts)
			if counts[tc.first] != 1 || counts[tc.rest] != n-1 {
				t.Errorf("%d parallel %s: statuses %v, want exactly one %d and %d × %d; other answers: %q",
					n, tc.what, counts, tc.first, n-1, tc.rest, bodies)
			}
			keys := ghxEtcdKeys(t, s)
			if kv, ok := keys[tc.key]; !ok {
				t.Errorf("%s is not in etcd", tc.key)
			} else if tc.method == "POST" && kv.Version != 1 {
				t.Errorf("%s was written %d times, want once", tc.key, kv.Version)
			}
		})
	}
	ghxCheckIntegrity(t, s)
}

func TestConcurrentMembershipEdits(t *testing.T) {
	s := harness.Start(t)
	s.Admin("GET", "/auth/v2/accounts/system", "").Must(t, http.StatusOK)
	const a = "team"
	s.Admin("POST", "/auth/v2/accounts", `<account><name>team</name><parent>system</parent></account>`).Must(t, http.StatusCreated)
	users := []string{"u0", "u1", "u2", "u3", "u4"}
	roles := []string{"r0", "r1", "r2", "r3", "r4"}
	groups := []string{"g0", "g1", "g2", "g3"}
	base := "/auth/v2/accounts/" + a
	for _, u := range users {
		s.Admin("POST", base+"/users", `<user><name>`+u+`</name></user>`).Must(t, http.StatusCreated)
	}
	for _, r := range roles {
		s.Admin("POST", base+"/roles", `<role><name>`+r+`</name><permissions><permission>print:`+r+`:read</permission></permissions></role>`).Must(t, http.StatusCreated)
	}
	for _, g := range groups {
		s.Admin("POST", base+"/groups", `<group><name>`+g+`</name></group>`).Must(t, http.StatusCreated)
	}

	c := ghxClientFor(s)
	var log ghxStatusLog
	var ops atomic.Int64
	const workers, perWorker = 20, 18
	pick := func(r *rand.Rand, xs []string) string { return xs[r.IntN(len(xs))] }
	some := func(r *rand.Rand, xs []string, item string) string {
		var b strings.Builder
		for _, x := range xs {
			if r.IntN(2) == 0 {
				b.WriteString(`<` + item + ` identifier="` + x + `"/>`)
			}
		}
		return b.String()
	}
	ghxGo(workers, func(w int) {
		r := rand.New(rand.NewPCG(uint64(w), 42))
		for range perWorker {
			u, ro, g := pick(r, users), pick(r, roles), pick(r, groups)
			var method, path, body string
			var allowed []int
			switch r.IntN(16) {
			case 0:
				method, path, body, allowed = "POST", base+"/users/"+u+"/roles", `<role identifier="`+ro+`"/>`, []int{201, 409, 404}
			case 1:
				method, path, allowed = "DELETE", base+"/users/"+u+"/roles/"+ro, []int{204, 404}
			case 2:
				method, path, allowed = "PUT", base+"/users/"+u+"/roles/"+ro, []int{201, 204, 404}
			case 3:
				method, path, body, allowed = "PUT", base+"/users/"+u+"/roles", `<roles>`+some(r, roles, "role")+`</roles>`, []int{204, 404}
			case 4:
				method, path, body, allowed = "POST", base+"/users/"+u+"/groups", `<group identifier="`+g+`"/>`, []int{201, 409, 404}
			case 5:
				method, path, allowed = "DELETE", base+"/users/"+u+"/groups/"+g, []int{204, 404}
			case 6:
				method, path, body, allowed = "POST", base+"/groups/"+g+"/users", `<user identifier="`+u+`"/>`, []int{201, 409, 404}
			case 7:
				method, path, allowed = "DELETE", base+"/groups/"+g+"/users/"+u, []int{204, 404}
			case 8:
				method, path, body, allowed = "PUT", base+"/groups/"+g+"/users", `<users>`+some(r, users, "user")+`</users>`, []int{204, 404}
			case 9:
				method, path, allowed = "PUT", base+"/groups/"+g+"/users/"+u, []int{201, 204, 404}
			case 10:
				method, path, body, allowed = "POST", base+"/groups/"+g+"/roles", `<role identifier="`+ro+`"/>`, []int{201, 409, 404}
			case 11:
				method, path, allowed = "DELETE", base+"/groups/"+g+"/roles/"+ro, []int{204, 404}
			case 12:
				method, path, body, allowed = "PUT", base+"/groups/"+g+"/roles", `<roles>`+some(r, roles, "role")+`</roles>`, []int{204, 404}
			case 13:
				method, path, body, allowed = "PUT", base+"/users/"+u+"/groups", `<groups>`+some(r, groups, "group")+`</groups>`, []int{204, 404}
			case 14:
				// Delete a role and bring it back: its memberships go with it.
				method, path, allowed = "DELETE", base+"/roles/"+ro, []int{204, 404}
				st, b, err := c.do(method, path, "")
				log.record(method, path, st, b, err, allowed...)
				ops.Add(1)
				method, path, body, allowed = "POST", base+"/roles", `<role><name>`+ro+`</name></role>`, []int{201, 409}
			case 15:
				method, path, allowed = "DELETE", base+"/users/"+u+"/groups", []int{204, 404}
			}
			st, b, err := c.do(method, path, body)
			log.record(method, path, st, b, err, allowed...)
			ops.Add(1)
		}
	})
	t.Logf("%d membership requests from %d goroutines", ops.Load(), workers)
	log.report(t)

	keys := ghxCheckIntegrity(t, s)
	// The API's views agree with etcd, from both sides.
	list := func(path, item string) []string {
		r := s.Admin("GET", path+"?page-size=1000", "").Must(t, http.StatusOK)
		var out []string
		for _, e := range r.Root().SelectElements(item) {
			out = append(out, e.SelectAttrValue("identifier", ""))
		}
		sort.Strings(out)
		if cnt := r.Root().SelectAttrValue("count", ""); cnt != fmt.Sprint(len(out)) {
			t.Errorf("GET %s: count=%s but %d items", path, cnt, len(out))
		}
		return out
	}
	same := func(what string, api, etcd []string) {
		if strings.Join(api, ",") != strings.Join(etcd, ",") {
			t.Errorf("%s: API lists %q, etcd holds %q", what, api, etcd)
		}
	}
	total := 0
	for _, u := range users {
		ur := ghxNamesUnder(keys, "t/"+a+"/ur/"+u+"/")
		ug := ghxNamesUnder(keys, "t/"+a+"/ug/"+u+"/")
		total += len(ur) + len(ug)
		same("roles of "+u, list(base+"/users/"+u+"/roles", "role"), ur)
		same("groups of "+u, list(base+"/users/"+u+"/groups", "group"), ug)
	}
	for _, g := range groups {
		same("users of "+g, list(base+"/groups/"+g+"/users", "user"), ghxNamesUnder(keys, "t/"+a+"/gu/"+g+"/"))
		same("roles of "+g, list(base+"/groups/"+g+"/roles", "role"), ghxNamesUnder(keys, "t/"+a+"/gr/"+g+"/"))
	}
	t.Logf("final state: %d user-side memberships", total)
}

// TestConcurrentCascadeDelete deletes an account subtree while users,
// roles, groups, memberships and child accounts are being created in it.
func TestConcurrentCascadeDelete(t *testing.T) {
	s := harness.Start(t)
	s.Admin("GET", "/auth/v2/accounts/system", "").Must(t, http.StatusOK)
	c := ghxClientFor(s)
	const rounds, creators = 4, 8
	for round := range rounds {
		top := fmt.Sprintf("cas%d", round)
		kid := top + "-kid"
		s.Admin("POST", "/auth/v2/accounts", `<account><name>`+top+`</name><parent>system</parent></account>`).Must(t, http.StatusCreated)
		s.Admin("POST", "/auth/v2/accounts", `<account><name>`+kid+`</name><parent>`+top+`</parent></account>`).Must(t, http.StatusCreated)
		for _, acc := range []string{top, kid} {
			s.Admin("POST", "/auth/v2/accounts/"+acc+"/users", `<user><name>seed</name></user>`).Must(t, http.StatusCreated)
			s.Admin("POST", "/auth/v2/accounts/"+acc+"/roles", `<role><name>seed</name></role>`).Must(t, http.StatusCreated)
		}

		var log ghxStatusLog
		var deleted atomic.Bool
		var deleteStatus int
		var deleteTook time.Duration
		var created atomic.Int64
		ghxGo(creators+1, func(w int) {
			r := rand.New(rand.NewPCG(uint64(round), uint64(w)))
			if w == creators { // the deleter
				time.Sleep(time.Duration(20+r.IntN(60)) * time.Millisecond)
				start := time.Now()
				for attempt := 0; attempt < 5; attempt++ {
					st, body, err := c.do("DELETE", "/auth/v2/accounts/"+top, "")
					deleteStatus = st
					if err == nil && st == http.StatusServiceUnavailable {
						log.record("DELETE", "/auth/v2/accounts/"+top, st, body, nil) // reported, then retried
						continue
					}
					log.record("DELETE", "/auth/v2/accounts/"+top, st, body, err, http.StatusNoContent)
					break
				}
				deleteTook = time.Since(start)
				deleted.Store(true)
				return
			}
			after := 0
			for i := 0; i < 200 && after < 5; i++ {
				if deleted.Load() {
					after++
				}
				acc := top
				if r.IntN(2) == 0 {
					acc = kid
				}
				base := "/auth/v2/accounts/" + acc
				name := fmt.Sprintf("w%d-%d", w, i)
				var method, path, body string
				allowed := []int{201, 404, 409}
				switch r.IntN(8) {
				case 0, 1:
					method, path, body = "POST", base+"/users", `<user><name>`+name+`</name></user>`
				case 2:
					method, path, body = "POST", base+"/roles", `<role><name>`+name+`</name><permissions><permission>print:jobs:read</permission></permissions></role>`
				case 3:
					method, path, body = "POST", base+"/groups", `<group><name>`+name+`</name></group>`
				case 4:
					method, path, body = "POST", "/auth/v2/accounts", `<account><name>`+top+`-`+name+`</name><parent>`+acc+`</parent></account>`
				case 5:
					method, path, body = "POST", base+"/users/seed/roles", `<role identifier="seed"/>`
				case 6:
					method, path, body = "POST", base+"/users/seed/attributes", `<attribute><name>`+name+`</name><value>v</value></attribute>`
				case 7:
					method, path = "PUT", base+"/roles/seed/permissions/print:"+name
					allowed = []int{201, 204, 404}
				}
				st, b, err := c.do(method, path, body)
				log.record(method, path, st, b, err, allowed...)
				if st == http.StatusCreated {
					created.Add(1)
				}
			}
		})
		t.Logf("round %d: DELETE /accounts/%s answered %d after %v; %d creates succeeded around it", round, top, deleteStatus, deleteTook, created.Load())
		log.report(t)

		keys := ghxCheckIntegrity(t, s)
		for k := range keys {
			if strings.HasPrefix(k, "acct/"+top) || strings.HasPrefix(k, "t/"+top) ||
				strings.HasPrefix(k, "t/system/child/"+top) {
				t.Errorf("round %d: key %s survived the delete of %s", round, k, top)
			}
		}
		for _, p := range []string{"/auth/v2/accounts/" + top, "/auth/v2/accounts/" + kid, "/auth/v2/accounts/" + kid + "/users/seed"} {
			if st := s.Admin("GET", p, "").Status; st != http.StatusNotFound {
				t.Errorf("round %d: GET %s after the delete: %d, want 404", round, p, st)
			}
		}
		if t.Failed() {
			return
		}
	}
}

// TestConcurrentCascadeDeleteWithMoves moves child accounts out of a
// subtree while the subtree is deleted: each child ends up either moved
// (alive and whole under its new parent) or deleted without a trace, never
// an orphan child entry and never an account that lost its contents.
func TestConcurrentCascadeDeleteWithMoves(t *testing.T) {
	s := harness.Start(t)
	s.Admin("GET", "/auth/v2/accounts/system", "").Must(t, http.StatusOK)
	s.Admin("POST", "/auth/v2/accounts", `<account><name>haven</name><parent>system</parent></account>`).Must(t, http.StatusCreated)
	c := ghxClientFor(s)
	const rounds, kids, fillers = 5, 6, 2000
	for round := range rounds {
		top := fmt.Sprintf("mv%d", round)
		s.Admin("POST", "/auth/v2/accounts", `<account><name>`+top+`</name><parent>system</parent></account>`).Must(t, http.StatusCreated)
		for k := range kids {
			name := fmt.Sprintf("%s-k%d", top, k)
			s.Admin("POST", "/auth/v2/accounts", `<account><name>`+name+`</name><parent>`+top+`</parent></account>`).Must(t, http.StatusCreated)
			s.Admin("POST", "/auth/v2/accounts/"+name+"/users", `<user><name>resident</name></user>`).Must(t, http.StatusCreated)
		}
		// A wide subtree (filler accounts written straight into etcd in
		// the documented layout) makes the delete's transaction take a
		// few milliseconds between its snapshot and its commit; the moves,
		// staggered across that window, land inside it.
		ghxPutFillerAccounts(t, s, top, fillers)
		original := ghxEtcdKeys(t, s)
		var log ghxStatusLog
		moved := make([]int, kids)
		start := time.Now()
		var deleteTook time.Duration
		ghxGo(kids+1, func(w int) {
			if w == kids {
				st, body, err := c.do("DELETE", "/auth/v2/accounts/"+top, "")
				log.record("DELETE", top, st, body, err, http.StatusNoContent)
				deleteTook = time.Since(start)
				return
			}
			time.Sleep(time.Duration(w*700+round*150) * time.Microsecond)
			name := fmt.Sprintf("%s-k%d", top, w)
			st, body, err := c.do("PUT", "/auth/v2/accounts/"+name, `<account><parent>haven</parent></account>`)
			// 204 moved; 404, or 201 (a PUT after the delete creates a
			// fresh, empty account), when the delete came first.
			log.record("PUT (move) "+name, "", st, body, err, http.StatusNoContent, http.StatusNotFound, http.StatusCreated)
			moved[w] = st
		})
		t.Logf("round %d: delete of %d accounts took %v; moves answered %v", round, fillers+kids+1, deleteTook, moved)
		log.report(t)
		keys := ghxCheckIntegrity(t, s)
		for k := range kids {
			name := fmt.Sprintf("%s-k%d", top, k)
			rec, acct := keys[storage.AccountKey(name)]
			_, child := keys[storage.ItemKey("haven", storage.KindChild, name)]
			_, resident := keys[storage.ItemKey(name, storage.KindUser, "resident")]
			same := acct && rec.CreateRevision == original[storage.AccountKey(name)].CreateRevision
			switch {
			case moved[k] == http.StatusNoContent && !(same && child && resident):
				t.Errorf("round %d: the move of %s answered 204, but afterwards: its record %v (original: %v), haven's child entry %v, its user %v",
					round, name, acct, same, child, resident)
			case moved[k] != http.StatusNoContent && (same || resident):
				t.Errorf("round %d: %s was deleted (its move answered %d) but its original record (%v) or user (%v) survived",
					round, name, moved[k], same, resident)
			}
			st := s.Admin("GET", "/auth/v2/accounts/"+name, "").Status
			if (st == http.StatusOK) != acct {
				t.Errorf("round %d: GET account %s answers %d while etcd has its record: %v", round, name, st, acct)
			}
		}
		if t.Failed() {
			return
		}
	}
}

// ghxPutFillerAccounts writes n empty child accounts of parent straight
// into etcd (record and parent's child entry, as storage/doc.go lays them
// out) and waits until the server's cache shows them.
func ghxPutFillerAccounts(t *testing.T, s *harness.Server, parent string, n int) {
	t.Helper()
	p := s.Store.Prefix()
	var ops []clientv3.Op
	last := ""
	for i := range n {
		name := fmt.Sprintf("%s-f%04d", parent, i)
		ops = append(ops,
			clientv3.OpPut(p+storage.AccountKey(name), storage.Account{Parent: parent}.Encode()),
			clientv3.OpPut(p+storage.ItemKey(parent, storage.KindChild, name), ""))
		last = name
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := s.Store.Client().Txn(ctx).Then(ops...).Commit(); err != nil {
		t.Fatalf("writing filler accounts: %v", err)
	}
	if _, ok := ghxPoll(10*time.Second, func() bool {
		return s.Admin("GET", "/auth/v2/accounts/"+last, "").Status == http.StatusOK
	}); !ok {
		t.Fatalf("the filler accounts never reached the server's cache")
	}
}
