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
		if strings.HasPrefix(dep, "crmbridge/") && dep != "crmbridge/pst" {
			t.Errorf("pst imports %s", dep)
		}
	}
}
