package pst

import (
	"fmt"
	"os"
	"testing"
)

func TestZZDebugProps(t *testing.T) {
	path := os.Getenv("PST_DEBUG")
	if path == "" {
		t.Skip()
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var nid uint32
	fmt.Sscanf(os.Getenv("PST_NID"), "%x", &nid)
	b, err := f.nodeBag(nid)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range b.props {
		v, _, _ := b.raw(p.ID)
		if len(v) > 80 {
			v = v[:80]
		}
		fmt.Printf("%04x %04x %q\n", p.ID, p.Type, v)
	}
}
