package wintz

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"crmbridge/bridge/wintz/internal/cldr"
)

// TestZonesGenerated checks that the committed zones.go is what go generate
// makes from the installed windowsZones.xml (Debian's unicode-cldr-core).
func TestZonesGenerated(t *testing.T) {
	src, err := os.ReadFile(cldr.SourcePath)
	if err != nil {
		t.Skipf("%v: install Debian's %s to check zones.go", err, cldr.Package)
	}
	v, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", cldr.Package).Output()
	if err != nil {
		t.Skipf("dpkg-query %s: %v", cldr.Package, err)
	}
	want, err := cldr.ZonesGo(src, cldr.SourcePath+" ("+cldr.Package+" "+strings.TrimSpace(string(v))+")")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("zones.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("zones.go differs from a fresh generation from %s: run go generate ./bridge/wintz", cldr.SourcePath)
	}
}
