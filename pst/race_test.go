//go:build race

package pst

// raceDetector says the tests run under the race detector, which makes
// sync.Pool drop pooled objects at random (see sync.Pool), so allocation
// counts there measure the detector, not the code. Tests that bound
// allocations through a pool skip under it; their names end in Allocs, and
// make test runs them once without it.
const raceDetector = true
