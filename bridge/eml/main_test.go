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
