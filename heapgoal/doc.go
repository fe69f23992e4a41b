// Package heapgoal keeps the garbage collector's heap goal at least a
// fixed headroom above the live heap.
//
// Go's collector starts a cycle when the heap has grown by GOGC percent
// (100) of what the last cycle found live. Gatehouse's live heap is
// mostly its cache of the directory, which is large and long-lived, while
// requests allocate a few KB each and keep nothing: with a live heap of
// 50 MiB (100,000 users) a busy server collects several times a second,
// and every mark phase slows the requests that arrive during it (mark
// assists, a worker taking a core of two). A collection every 50 MiB of
// garbage is needlessly often when memory is not short.
//
// Start therefore raises GOGC after each collection so that the next
// goal is at least the live heap plus the headroom (never below 100 %):
// with 256 MiB of headroom a 50 MiB heap collects about every 256 MiB of
// garbage instead of every 50 MiB, and a 550 MiB heap (a million users)
// keeps GOGC 100. The price is resident memory up to the headroom above
// the live heap; the setting runtime.gc-headroom-mib chooses it (0
// leaves the collector alone). An operator who sets GOGC in the
// environment keeps it: Start then does nothing. GOMEMLIMIT, if set,
// still bounds the heap as usual.
package heapgoal
