package storage

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestKindCountsFollowTheTree applies random puts and deletes (new keys,
// overwrites, deletes of present and absent keys) as watch responses and
// checks after each that every kind range's count equals the keys the
// tree holds in it, that a relist's counting gives the same counts, and
// that reads of an emptied kind find nothing while reads of a filled one
// find its keys.
func TestKindCountsFollowTheTree(t *testing.T) {
	c := newCache(nil, "/p/", time.Second, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	accounts := []string{"a", "ab", "b"}
	kinds := []string{KindUser, KindAttr, "passkey", "session"}
	var rev int64
	for step := range 2000 {
		rev++
		a, k := accounts[rng.IntN(len(accounts))], kinds[rng.IntN(len(kinds))]
		key := fmt.Sprintf("/p/t/%s/%s/n%d", a, k, rng.IntN(6))
		ev := &clientv3.Event{Type: clientv3.EventTypePut,
			Kv: &mvccpb.KeyValue{Key: []byte(key), Value: []byte("v"), ModRevision: rev, CreateRevision: rev}}
		if rng.IntN(2) == 0 {
			ev.Type = clientv3.EventTypeDelete
		}
		c.apply(clientv3.WatchResponse{Header: &pb.ResponseHeader{Revision: rev}, Events: []*clientv3.Event{ev}})

		s := c.snap.Load()
		recount := newKinds()
		countKinds(s.tree, recount, rev)
		for _, a := range accounts {
			for _, k := range kinds {
				prefix := ItemRange(a, k)
				want := 0
				s.tree.Ascend(item{key: prefix}, func(it item) bool {
					if len(it.key) < len(prefix) || it.key[:len(prefix)] != prefix {
						return false
					}
					want++
					return true
				})
				e, _ := s.kinds.Get(kindEntry{kindKey: kindKey{a, k}})
				r, _ := recount.Get(kindEntry{kindKey: kindKey{a, k}})
				if e.n != want || r.n != want {
					t.Fatalf("step %d: %s holds %d keys; the count kept by the watch is %d, a relist's %d", step, prefix, want, e.n, r.n)
				}
				if got := s.view.CountRange(prefix); got != want {
					t.Fatalf("step %d: CountRange(%s) = %d, want %d", step, prefix, got, want)
				}
				for i := range 6 {
					_, inTree := s.tree.Get(item{key: fmt.Sprintf("%sn%d", prefix, i)})
					if _, got := s.view.getItem(a, k, fmt.Sprintf("n%d", i)); got != inTree {
						t.Fatalf("step %d: getItem(%s, %s, n%d) = %v, the tree says %v", step, a, k, i, got, inTree)
					}
				}
			}
		}
	}
}
