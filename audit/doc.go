// Package audit writes the audit entries that go with no change of their
// own (sign-in successes and failures, throttled attempts, 403 denials)
// without letting their number drive etcd writes or goroutines: Record
// only appends to a bounded buffer under a mutex, and one worker
// goroutine per Queue writes the buffer in batches (storage.Store.AuditBatch,
// one etcd transaction per batch). Record admits at most Options.Rate
// entries per second of the Queue's clock; every entry beyond that is
// counted in a summary group keyed by (action, outcome, account, address),
// and once per flush interval each group becomes one entry whose Detail
// is the fixed phrase "suppressed N similar entries since <time>". At most
// Options.Groups such groups are kept, and entries that would open more
// fall into one group per (action, outcome) that says "from other
// accounts and addresses". So however many attempts arrive, etcd sees at
// most Rate entries per second plus at most Groups+8 summaries per
// interval (after an etcd outage, the backlog of at most Capacity entries
// goes out when it returns), the log still says what happened and how often, and the
// process holds at most Capacity pending entries. When the buffer is
// full (etcd slow or down) entries are dropped, counted and logged at most
// once per interval. Close flushes what is pending, summaries included,
// under a deadline.
package audit
