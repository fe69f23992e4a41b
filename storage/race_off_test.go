//go:build !race

package storage_test

// raceDetector is set in a -race build (see race_on_test.go).
const raceDetector = false
