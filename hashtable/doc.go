// Package hashtable is an open-addressing hash table of entries held
// inline, keyed by hashes its caller computes: linear probing, at most
// three quarters full, deletes that shift later entries back instead of
// leaving tombstones.
//
// It exists for the read-mostly shards of storage's point index and of
// authz's holdings memo, read on every request. A lookup reads one slot
// (and whatever the caller's entry points to), where a Go map keyed by
// strings reads its directory, table, group and key — four or five
// cache misses for a random key among 100,000, about a microsecond in
// the server — and an entry costs no allocation of its own. The table
// does no locking: each shard guards its table with its own lock. A hash
// of 0 marks a free slot, so callers never use 0 as a hash; two entries
// may share a hash, and Find takes a predicate that tells the caller's
// entry from others with the same hash.
package hashtable
