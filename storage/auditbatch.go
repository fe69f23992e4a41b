package storage

import (
	"context"
	"errors"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// AuditBatchMax is the most entries AuditBatch puts in one etcd
// transaction (etcd's default --max-txn-ops is 128); longer batches are
// split into several transactions.
const AuditBatchMax = 128

// AuditBatch writes entries that go with no change, each with its hour's
// retention lease, AuditBatchMax to a transaction; an entry whose Time is
// 0 is stamped with the current time (entries is not modified). TargetOf
// is ignored. On an error the transactions before the failing one stay
// written.
func (s *Store) AuditBatch(ctx context.Context, entries []AuditEntry) error {
	for len(entries) > 0 {
		n := min(len(entries), AuditBatchMax)
		if err := s.auditTxn(ctx, entries[:n]); err != nil {
			return err
		}
		entries = entries[n:]
	}
	return nil
}

func (s *Store) auditTxn(ctx context.Context, entries []AuditEntry) error {
	ops := make([]clientv3.Op, len(entries))
	for attempt := 0; ; attempt++ {
		for i := range entries {
			e := entries[i]
			op, err := s.auditOp(ctx, &e)
			if err != nil {
				return err
			}
			ops[i] = op
		}
		tctx, cancel := context.WithTimeout(ctx, s.timeout)
		_, err := s.client.Txn(tctx).Then(ops...).Commit()
		cancel()
		if errors.Is(err, rpctypes.ErrLeaseNotFound) && attempt == 0 {
			// A cached lease is gone (etcd restored): grant afresh.
			s.ttl.reset()
			continue
		}
		return classify(err)
	}
}
