//go:build !race

package pst

// raceDetector says the tests run under the race detector (race_test.go).
const raceDetector = false
