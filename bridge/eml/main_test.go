package eml

import (
	"os"
	"testing"

	"crmbridge/internal/recovered"
)

// TestMain fails the run when any panic was recovered into an error
// during the tests: a recovered panic is a bug, not an item error.
func TestMain(m *testing.M) {
	os.Exit(recovered.CheckMain(m.Run(), os.Stderr))
}

// noRecoveredPanic fails t, a fuzz input or a test, when a panic is
// recovered while it runs: the readers turn panics into item errors, which
// would otherwise pass as the expected outcome of bad input.
func noRecoveredPanic(t *testing.T) {
	before := recovered.Count()
	t.Cleanup(func() {
		if n := recovered.Count() - before; n > 0 {
			t.Errorf("%d panic(s) recovered into errors", n)
		}
	})
}
