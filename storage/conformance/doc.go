// Package conformance is the storage conformance suite: it pins the
// behaviour of a storage.Store that the rest of gatehouse relies on —
// bootstrap writing the system account and its administrator exactly once,
// uniqueness of names (ErrNameTaken, ErrMember), the Mode contract of
// PutItem, SetAdd and LinkAdd, cascading deletes of items and account
// subtrees, account moves that refuse cycles, two-sided memberships,
// paging, counting and filtered paging of the cache, subtrees, refused
// writes that leave etcd untouched, read-your-writes (when a write
// returns, a read that waits for nothing shows it), preconditions
// (WithCheck) that refuse without writing and run again when a concurrent
// write changes what they read, and single-use tokens (Tokens). It checks
// results both straight from etcd and through the cache. An implementation
// runs it from a test of its own, RunTests(t, newStore), where newStore
// returns a fresh, empty store on its own etcd or key prefix, closed when
// the test that asked for it ends; gatehouse runs it against embedded
// etcd in storage's own tests.
package conformance
