// Package test holds gatehouse's end-to-end tests: they start real
// gatehouse instances (in-process through package instance, or the built
// binary) on real embedded or external etcd servers and talk HTTP to them.
// The load tool lives in test/load; the shared start-up helpers in
// test/harness.
package test
