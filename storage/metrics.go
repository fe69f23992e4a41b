package storage

import (
	"context"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
)

// etcdMetrics watches the store's etcd requests for the metrics (package
// metrics reads them through Store.ObserveEtcd and Store.RevisionLag):
// a gRPC unary interceptor times each request and notes the revision its
// response header names, the latest revision of etcd this instance has
// heard of. The watch's own responses are noted by the cache. Streams
// (the watch, the snapshot) are not timed.
type etcdMetrics struct {
	latest  atomic.Int64
	observe atomic.Pointer[func(method string, d time.Duration)]
}

// unary is the interceptor: it times the call and notes the revision.
func (m *etcdMetrics) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	start := time.Now()
	err := invoker(ctx, method, req, reply, cc, opts...)
	if f := m.observe.Load(); f != nil {
		(*f)(method, time.Since(start))
	}
	if err == nil {
		if h, ok := reply.(interface {
			GetHeader() *etcdserverpb.ResponseHeader
		}); ok {
			m.note(h.GetHeader().GetRevision())
		}
	}
	return err
}

// note raises the latest known revision to rev.
func (m *etcdMetrics) note(rev int64) {
	if m == nil {
		return
	}
	for {
		cur := m.latest.Load()
		if rev <= cur || m.latest.CompareAndSwap(cur, rev) {
			return
		}
	}
}

// ObserveEtcd sets fn to be told the gRPC method ("/etcdserverpb.KV/Txn")
// and duration of every unary etcd request from now on (nil: none). fn
// must be cheap and must not block.
func (s *Store) ObserveEtcd(fn func(method string, d time.Duration)) {
	if s.metrics == nil {
		return
	}
	if fn == nil {
		s.metrics.observe.Store(nil)
		return
	}
	s.metrics.observe.Store(&fn)
}

// RevisionLag is how many revisions the cache is behind the latest
// revision etcd has named in a response to this instance (a request's,
// or the watch's progress): 0 when the cache is in step. Writes to etcd
// outside the store's prefix show as lag until the next progress
// notification (a fraction of the storage timeout).
func (s *Store) RevisionLag() int64 {
	if s.metrics == nil {
		return 0
	}
	return max(s.metrics.latest.Load()-s.cache.Rev(), 0)
}
