package pst

import (
	"os/exec"
	"strings"
	"testing"
)

// pst must not depend on the CRM store or the bridge (DESIGN.md layout).
func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		// internal/recovered, a leaf that counts recovered panics for the
		// tests, is the one crmbridge package pst may use.
		if strings.HasPrefix(dep, "crmbridge/") && dep != "crmbridge/pst" && dep != "crmbridge/internal/recovered" {
			t.Errorf("pst imports %s", dep)
		}
	}
}
