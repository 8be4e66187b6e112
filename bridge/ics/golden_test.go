package ics

import (
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"crmbridge/bridge/item"
	"crmbridge/crm"
	"crmbridge/fixtures"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenItem is one Next result as the golden files hold it.
type goldenItem struct {
	Error      string            `json:",omitempty"`
	Entity     crm.Entity        `json:",omitempty"`
	Fields     map[string]string `json:",omitempty"`
	Parties    []crm.Party       `json:",omitempty"`
	Extras     []crm.Extra       `json:",omitempty"`
	Source     *crm.SourceRef    `json:",omitempty"`
	Keys       []string          `json:",omitempty"`
	ModifiedAt *time.Time        `json:",omitempty"`
	Pos        string            `json:",omitempty"`
	Schedule   *crm.Schedule     `json:",omitempty"`
}

func golden(t *testing.T, path string) []goldenItem {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewReader(f, filepath.Base(path))
	var out []goldenItem
	for {
		in, err := r.Next()
		if err == io.EOF {
			break
		}
		var ie *item.Error
		if errors.As(err, &ie) {
			msg := ie.Error()
			if ie.Kept {
				msg = "warning: " + msg
			}
			out = append(out, goldenItem{Error: msg})
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		checkInvariants(t, in)
		g := goldenItem{Entity: in.Record.Entity, Fields: in.Record.Fields, Parties: in.Record.Parties,
			Extras: in.Record.Extras, Source: &in.Source, Keys: in.Keys, Pos: in.Pos, Schedule: in.Schedule}
		if !in.ModifiedAt.IsZero() {
			m := in.ModifiedAt
			g.ModifiedAt = &m
		}
		out = append(out, g)
	}
	return out
}

// TestGolden reads the hand-written fixtures and compares the result with
// testdata/<name>.golden.json (go test -update rewrites them; review the
// diff by hand). TestFixtureValues checks the values that matter against
// numbers worked out by hand.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.ics")
	vcs, _ := filepath.Glob("testdata/*.vcs")
	files = append(files, vcs...)
	sort.Strings(files)
	if len(files) < 5 {
		t.Fatalf("fixtures missing: %v", files)
	}
	for _, path := range files {
		got, err := json.MarshalIndent(golden(t, path), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, '\n')
		fixtures.Golden(t, path+".golden.json", got, *update)
	}
}
