//go:build ignore

// gen_zones writes zones.go from CLDR's windowsZones.xml as installed by
// Debian's unicode-cldr-core package (go generate in package wintz).
package main

import (
	"flag"
	"log"
	"os"
	"os/exec"
	"strings"

	"crmbridge/bridge/wintz/internal/cldr"
)

func main() {
	src := flag.String("src", cldr.SourcePath, "windowsZones.xml")
	out := flag.String("o", "zones.go", "output file")
	flag.Parse()
	b, err := os.ReadFile(*src)
	if err != nil {
		log.Fatalf("%v (install Debian's %s)", err, cldr.Package)
	}
	v, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", cldr.Package).Output()
	if err != nil {
		log.Fatalf("dpkg-query %s: %v", cldr.Package, err)
	}
	code, err := cldr.ZonesGo(b, *src+" ("+cldr.Package+" "+strings.TrimSpace(string(v))+")")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, code, 0o644); err != nil {
		log.Fatal(err)
	}
}
