// Package heapgoal keeps the garbage collector's heap goal at least a
// fixed headroom above the live heap.
//
// Go's collector starts a cycle when the heap has grown by GOGC percent
// (100) of what the last cycle found live. Gatehouse's live heap is
// mostly its cache of the directory, which is large and long-lived, while
// requests allocate a few KB each and keep nothing: with a live heap of
// 5 MiB (1,000 users) a busy server collects dozens of times a second,
// with 50 MiB (100,000 users) several times, and every mark phase slows
// the requests that arrive during it (mark assists, a worker taking a
// core of two). That is needlessly often when memory is not short.
//
// Start therefore raises GOGC after each collection so that the next
// goal is at least the live heap plus the headroom (never below 100 %).
// With the default 64 MiB a small directory (a live heap of 5 MiB, 1,000
// users) collects about every 64 MiB of garbage instead of every 5 MiB —
// one cycle a second instead of forty under load — for about 60 MiB of
// resident memory; a large one (50 MiB live at 100,000 users, 550 MiB at
// a million) keeps GOGC's own pace, whose mark phases are what the
// headroom cannot shorten. A busy server with memory to spare may raise
// it: 256 MiB halves the cycles at 100,000 users for about 250 MiB more
// resident memory, and narrowed the 99th percentile of a page of users
// a little in the load tool (6.2 → 5.2–6.0 ms), no more. The setting is
// runtime.gc-headroom-mib (0 leaves the collector alone). An operator who
// sets GOGC in the environment keeps it: Start then does nothing.
// GOMEMLIMIT, if set, still bounds the heap as usual.
package heapgoal
