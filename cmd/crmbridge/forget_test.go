package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"crmbridge/crmstore"
	"crmbridge/fixtures"
)

// storeContent is every live record of the store at db as comparable
// text: entity, fields (an account id replaced by the account's name, ids
// and times left out) and extra values; sorted.
func storeContent(t *testing.T, db string) []string {
	t.Helper()
	ctx := context.Background()
	s, err := crmstore.Open(ctx, db, crmstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	list, err := s.List(ctx, crmstore.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, sm := range list {
		v, err := s.Get(ctx, sm.ID)
		if err != nil {
			t.Fatal(err)
		}
		f := map[string]string{}
		for k, x := range v.Fields {
			if x == "" {
				continue
			}
			if k == "parentcustomerid" {
				acc, err := s.Get(ctx, x)
				if err != nil {
					t.Fatal(err)
				}
				x = "account " + acc.Fields["name"]
			}
			f[k] = x
		}
		b, _ := json.Marshal(struct {
			E string
			F map[string]string
			X any
		}{string(v.Entity), f, v.Extras})
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out
}

const forgetA = `BEGIN:VCARD
VERSION:3.0
UID:a-ann
N:Lee;Ann;;;
FN:Ann Lee
EMAIL:ann@example.com
TITLE:Engineer
REV:20260101T000000Z
END:VCARD
BEGIN:VCARD
VERSION:3.0
UID:a-cy
N:Young;Cy;;;
FN:Cy Young
EMAIL:cy@example.com
ORG:Globex
REV:20260101T000000Z
END:VCARD
`

const forgetB = `BEGIN:VCARD
VERSION:3.0
UID:b-ann
N:Lee;Ann;;;
FN:Ann Lee
EMAIL:ann@example.com
TITLE:CTO
TEL;TYPE=work:+1 555 0100
REV:20260201T000000Z
END:VCARD
BEGIN:VCARD
VERSION:3.0
UID:b-bob
N:Brown;Bob;;;
FN:Bob Brown
EMAIL:bob@example.com
ORG:Acme
REV:20260201T000000Z
END:VCARD
BEGIN:VCARD
VERSION:3.0
UID:b-dee
N:Diaz;Dee;;;
FN:Dee Diaz
EMAIL:dee@example.com
ORG:Globex
REV:20260201T000000Z
END:VCARD
`

// forget restores the store to what it would be without that source: a
// store that imported a.vcf and b.vcf, then forgot b.vcf, holds what a
// store that imported only a.vcf holds; --dry-run changes nothing and
// prints the same summary.
func TestForgetRestoresStoreWithoutSource(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.vcf"), filepath.Join(dir, "b.vcf")
	os.WriteFile(a, []byte(forgetA), 0o600)
	os.WriteFile(b, []byte(forgetB), 0o600)

	only := filepath.Join(dir, "only-a.db")
	if r := runCLI(t, false, "--db", only, "import", a); r.code != 0 {
		t.Fatalf("import a: %d %s", r.code, r.stderr)
	}
	both := filepath.Join(dir, "both.db")
	for _, f := range []string{a, b} {
		if r := runCLI(t, false, "--db", both, "import", f); r.code != 0 {
			t.Fatalf("import %s: %d %s", f, r.code, r.stderr)
		}
	}
	withB := storeContent(t, both)
	if reflect.DeepEqual(withB, storeContent(t, only)) {
		t.Fatal("b.vcf changed nothing: the test proves nothing")
	}

	dry := runCLI(t, false, "--db", both, "forget", "--dry-run", b)
	if dry.code != 0 || !strings.Contains(dry.stdout, "dry run: nothing changed") {
		t.Fatalf("forget --dry-run: %d %q %s", dry.code, dry.stdout, dry.stderr)
	}
	if got := storeContent(t, both); !reflect.DeepEqual(got, withB) {
		t.Fatalf("--dry-run changed the store:\n%s", strings.Join(got, "\n"))
	}
	runs := statusJSON(t, both).LastRun
	r := runCLI(t, false, "--db", both, "forget", b)
	if r.code != 0 {
		t.Fatalf("forget: %d %s", r.code, r.stderr)
	}
	if strings.TrimSuffix(dry.stdout, " — dry run: nothing changed\n") != strings.TrimSuffix(r.stdout, "\n") {
		t.Errorf("dry run and run differ:\n%s%s", dry.stdout, r.stdout)
	}
	// b.vcf: Bob and Dee deleted, Acme (named by Bob only) too; Ann kept
	// with a.vcf's title, no phone and without b.vcf's UID (an extra
	// value: the cards' UIDs are no record ids); Globex stays (Cy names
	// it).
	if !strings.Contains(r.stdout, "3 item(s); 3 record(s) deleted (1 account(s) for companies), 1 record(s) kept with 3 field(s) set back") {
		t.Errorf("summary %q", r.stdout)
	}
	if got, want := storeContent(t, both), storeContent(t, only); !reflect.DeepEqual(got, want) {
		t.Errorf("after forget:\n%s\nwithout b.vcf:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if st := statusJSON(t, both); st.LastRun == nil || runs == nil || st.LastRun.ID == runs.ID || !strings.HasPrefix(st.LastRun.Command, "forget ") {
		t.Errorf("forget not recorded as a run: %+v", st.LastRun)
	}
	if r := runCLI(t, false, "--db", both, "check"); r.code != 0 {
		t.Errorf("check after forget: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// Forgotten: b.vcf is read again as new, and a second forget has
	// nothing to remove (usage error, exit 2).
	if r := runCLI(t, false, "--db", both, "forget", b); r.code != exitUsage || !strings.Contains(r.stderr, "nothing was imported from it") {
		t.Errorf("forget twice: %d %s", r.code, r.stderr)
	}
	if r := runCLI(t, false, "--db", both, "import", "--json", b); r.code != 0 || !strings.Contains(r.stdout, `"files_read": 1`) {
		t.Errorf("import after forget: %d %s", r.code, r.stdout)
	}
	if got := storeContent(t, both); !reflect.DeepEqual(got, withB) {
		t.Errorf("import after forget differs from the first import:\n%s", strings.Join(got, "\n"))
	}
}

func TestForgetJSONAndQuiet(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o700) // no warning about the store's directory
	b := filepath.Join(dir, "b.vcf")
	os.WriteFile(b, []byte(forgetB), 0o600)
	db := filepath.Join(dir, "crm.db")
	if r := runCLI(t, false, "--db", db, "import", b); r.code != 0 {
		t.Fatalf("import: %d %s", r.code, r.stderr)
	}
	r := runCLI(t, false, "--db", db, "forget", "--dry-run", "--json", b)
	var got struct {
		Source  string `json:"source"`
		Items   int    `json:"items"`
		DryRun  bool   `json:"dry_run"`
		Deleted []struct {
			ID string `json:"id"`
		} `json:"deleted"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); r.code != 0 || err != nil {
		t.Fatalf("forget --json: %d %v %s", r.code, err, r.stdout)
	}
	if got.Source != b || got.Items != 3 || !got.DryRun || len(got.Deleted) != 5 {
		t.Errorf("forget --json: %+v", got)
	}
	// A relative path names the same source; --quiet prints nothing.
	wd, _ := os.Getwd()
	defer os.Chdir(wd)
	os.Chdir(dir)
	if r := runCLI(t, false, "--db", db, "--quiet", "forget", "b.vcf"); r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("forget --quiet: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if n := len(storeContent(t, db)); n != 0 {
		t.Errorf("%d records left", n)
	}
}

// A real PST forgotten after a folder of cards: the store equals one that
// imported the cards only (the PST's mails, meetings and contacts gone, the
// accounts its contacts made too, the cards' contacts as they were).
func TestForgetPST(t *testing.T) {
	pstFile := filepath.Join(fixtures.GoPSTData(t), "support.pst")
	dir := t.TempDir()
	cards := filepath.Join(dir, "a.vcf")
	os.WriteFile(cards, []byte(forgetA), 0o600)
	only := filepath.Join(dir, "only.db")
	if r := runCLI(t, false, "--db", only, "import", cards); r.code != 0 {
		t.Fatalf("import: %d %s", r.code, r.stderr)
	}
	both := filepath.Join(dir, "both.db")
	for _, f := range []string{cards, pstFile} {
		if r := runCLI(t, false, "--db", both, "import", f); r.code != 0 {
			t.Fatalf("import %s: %d %s", f, r.code, r.stderr)
		}
	}
	if len(storeContent(t, both)) <= len(storeContent(t, only)) {
		t.Fatal("the PST brought nothing")
	}
	if r := runCLI(t, false, "--db", both, "forget", pstFile); r.code != 0 {
		t.Fatalf("forget: %d %s", r.code, r.stderr)
	}
	if got, want := storeContent(t, both), storeContent(t, only); !reflect.DeepEqual(got, want) {
		t.Errorf("after forget:\n%s\nwithout the PST:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r := runCLI(t, false, "--db", both, "check"); r.code != 0 {
		t.Errorf("check: %d %s", r.code, r.stdout)
	}
}
