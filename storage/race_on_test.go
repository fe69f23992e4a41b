//go:build race

package storage_test

// raceDetector is set in a -race build: sync.Pool then drops a share of
// what is put back on purpose, so allocation counts say nothing.
const raceDetector = true
