package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// AuditRange is the key range of the audit log. Audit entries live in
// etcd only: the watch-fed cache skips them (they would grow it without
// bound), and reads go to etcd (AuditScan, AuditGet).
const AuditRange = "audit/"

// DefaultAuditRetention is used when Options.AuditRetention is not set.
const DefaultAuditRetention = 90 * 24 * time.Hour

// AuditScanCap bounds how many entries one AuditScan reads from etcd.
const AuditScanCap = 100_000

// AuditEntry is one audit record. Its id (the key's last segment) sorts
// by time. Detail never holds a secret: callers put only fixed phrases
// there.
type AuditEntry struct {
	Time    int64 // Unix nanoseconds
	Actor   string
	Account string
	Action  string
	Target  string
	Address string
	Outcome string
	Detail  string
	// RequestID is the X-Request-Id of the request that made the entry
	// ("" for entries older than the field, or made by no request).
	RequestID string
	// TargetOf, when set, is not stored: Store.Update calls it with the
	// keys (relative to the prefix) its write creates and, when it
	// answers non-empty, records that as Target (a POST's new item).
	TargetOf func(created []string) string
}

// Encode returns the compact stored form.
func (e AuditEntry) Encode() string {
	return encodeFields(fields{strconv.FormatInt(e.Time, 10), e.Actor, e.Account, e.Action,
		e.Target, e.Address, e.Outcome, e.Detail, e.RequestID})
}

// DecodeAuditEntry reads an AuditEntry record.
func DecodeAuditEntry(v string) (AuditEntry, error) {
	var f [9]string
	err := decodeFields(v, f[:])
	if err != nil {
		return AuditEntry{}, err
	}
	t, _ := strconv.ParseInt(f[0], 10, 64)
	return AuditEntry{Time: t, Actor: f[1], Account: f[2], Action: f[3], Target: f[4],
		Address: f[5], Outcome: f[6], Detail: f[7], RequestID: f[8]}, nil
}

// AuditID is an entry id for time t: 16 hex digits of UnixNano, "-", and 8
// random hex digits, so ids sort by time and never collide in practice.
func AuditID(t int64) string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%016x-%s", uint64(t), hex.EncodeToString(r[:]))
}

// AuditKey is the key of entry id.
func AuditKey(id string) string { return AuditRange + id }

// auditIDBound is the smallest id at or after time t (UnixNano).
func auditIDBound(t int64) string { return fmt.Sprintf("%016x", uint64(max(t, 0))) }

type auditCtxKey struct{}

// WithAudit attaches e to ctx: the next Store.Update under ctx that
// commits a change writes e in the same etcd transaction (so the entry
// exists exactly when the change does). An Update with nothing to write
// writes no entry.
func WithAudit(ctx context.Context, e *AuditEntry) context.Context {
	return context.WithValue(ctx, auditCtxKey{}, e)
}

func auditFrom(ctx context.Context) *AuditEntry {
	e, _ := ctx.Value(auditCtxKey{}).(*AuditEntry)
	return e
}

// created lists the keys the transaction puts that its view lacks. It
// must run inside the Read that built the transaction.
func (t *Txn) created() []string {
	var out []string
	for _, op := range t.ops {
		if !op.IsPut() {
			continue
		}
		k := strings.TrimPrefix(string(op.KeyBytes()), t.prefix)
		if !t.v.Has(k) {
			out = append(out, k)
		}
	}
	return out
}

// auditOp prepares the put of e (stamping its time if unset) with a
// retention lease: the shared expiring-write leases (ttl.go) of a TTL of
// audit retention from the entry's time, whose buckets are an hour wide,
// so an entry lives between retention and retention + 1h and etcd holds
// about retention/1h leases, not one per entry.
func (s *Store) auditOp(ctx context.Context, e *AuditEntry) (clientv3.Op, error) {
	if e.Time == 0 {
		e.Time = time.Now().UnixNano()
	}
	lease, err := s.ttl.get(ctx, s.client, time.Unix(0, e.Time), s.auditRetention, s.timeout)
	if err != nil {
		return clientv3.Op{}, err
	}
	return clientv3.OpPut(s.prefix+AuditKey(AuditID(e.Time)), e.Encode(), clientv3.WithLease(lease)), nil
}

// Audit writes an entry that goes with no change (a failed sign-in, a
// refused write).
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	for attempt := 0; ; attempt++ {
		op, err := s.auditOp(ctx, &e)
		if err != nil {
			return err
		}
		tctx, cancel := context.WithTimeout(ctx, s.timeout)
		_, err = s.client.Txn(tctx).Then(op).Commit()
		cancel()
		if errors.Is(err, rpctypes.ErrLeaseNotFound) && attempt == 0 {
			s.ttl.reset() // etcd lost the lease (a restore): grant afresh
			continue
		}
		return classify(err)
	}
}

// AuditFilter selects entries: Since/Until bound the time (Unix nanoseconds,
// inclusive; 0 is open) and map to the key range; Match, if set, decides
// on each decoded entry.
type AuditFilter struct {
	Since, Until int64
	Match        func(AuditEntry) bool
}

// AuditScan reads the audit log from etcd in time order and calls fn with
// each matching entry until fn returns false. It reads at most
// AuditScanCap entries and reports truncated when it stopped there.
func (s *Store) AuditScan(ctx context.Context, f AuditFilter, fn func(id string, e AuditEntry) bool) (truncated bool, err error) {
	base := s.prefix + AuditRange
	from := base
	end := rangeEnd(base)
	if f.Since > 0 {
		from = base + auditIDBound(f.Since)
	}
	if f.Until > 0 {
		end = base + auditIDBound(f.Until+1)
	}
	var rev int64
	scanned := 0
	for from < end {
		limit := int64(min(1000, AuditScanCap-scanned))
		if limit <= 0 {
			return true, nil
		}
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(limit)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		gctx, cancel := context.WithTimeout(ctx, s.timeout)
		resp, err := s.client.Get(gctx, from, opts...)
		cancel()
		if err != nil {
			return false, classify(err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			scanned++
			e, derr := DecodeAuditEntry(string(kv.Value))
			if derr != nil {
				continue
			}
			if f.Match != nil && !f.Match(e) {
				continue
			}
			if !fn(string(kv.Key[len(base):]), e) {
				return false, nil
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return false, nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	return false, nil
}

// AuditGet reads one entry from etcd.
func (s *Store) AuditGet(ctx context.Context, id string) (AuditEntry, bool, error) {
	if id == "" || strings.ContainsRune(id, '/') {
		return AuditEntry{}, false, nil
	}
	gctx, cancel := context.WithTimeout(ctx, s.timeout)
	resp, err := s.client.Get(gctx, s.prefix+AuditKey(id))
	cancel()
	if err != nil {
		return AuditEntry{}, false, classify(err)
	}
	if len(resp.Kvs) == 0 {
		return AuditEntry{}, false, nil
	}
	e, err := DecodeAuditEntry(string(resp.Kvs[0].Value))
	if err != nil {
		return AuditEntry{}, false, err
	}
	return e, true, nil
}
