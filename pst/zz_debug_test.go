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

func TestZZDebugNames(t *testing.T) {
	path := os.Getenv("PST_DEBUG")
	if path == "" {
		t.Skip()
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range f.names.byLID {
		if k.set == psetidMeeting || k.set == psetidAppt {
			fmt.Printf("lid %x %x -> %x\n", k.set[:4], k.lid, v)
		}
	}
	for k, v := range f.names.byName {
		fmt.Printf("name %x %q -> %x\n", k.set[:4], k.name, v)
	}
}
