package pstwrite

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func writeBytes(path string, b []byte) error { return os.WriteFile(path, b, 0o600) }

// goPSTSample returns the path of a sample PST shipped in go-pst's module.
func goPSTSample(t testing.TB, name string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/mooijtech/go-pst/v6").Output()
	if err != nil {
		t.Skipf("go-pst module not found: %v", err)
	}
	p := filepath.Join(strings.TrimSpace(string(out)), "data", name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not found in go-pst's module", name)
	}
	return p
}

func getenv(k string) string { return os.Getenv(k) }
