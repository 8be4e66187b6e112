package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// import --json gives the item ledger: a duplicate within the file is
// merged into the record its first copy created, named by id; the merge
// is named at --log-level info too.
func TestImportJSONLedger(t *testing.T) {
	dir := t.TempDir()
	card := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Lee\r\nN:Lee;Ann;;;\r\nEMAIL:ann@example.org\r\nEND:VCARD\r\n"
	path := filepath.Join(dir, "dup.vcf")
	if err := os.WriteFile(path, []byte(card+card+"BEGIN:VCARD\r\nVERSION:3.0\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "crm.db")
	r := runCLI(t, false, "--db", db, "--log-level", "info", "import", "--json", path)
	if r.code != exitPartial {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}
	var got struct {
		Entities map[string]struct{ Found, Created, Merged, NotImported int }
		Files    []struct {
			Path       string
			Found      int
			Created    int
			Merged     int
			NotImp     int                        `json:"not_imported"`
			MergedInto []struct{ Pos, ID string } `json:"merged_into"`
			Problems   []string
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if len(got.Files) != 1 {
		t.Fatalf("files: %s", r.stdout)
	}
	f := got.Files[0]
	if f.Found != 3 || f.Created != 1 || f.Merged != 1 || f.NotImp != 1 || len(f.Problems) != 1 || len(f.MergedInto) != 1 {
		t.Fatalf("ledger: %s", r.stdout)
	}
	if m := f.MergedInto[0]; m.Pos != "dup.vcf: line 7" || len(m.ID) != 36 {
		t.Errorf("merged into %+v", m)
	}
	if !strings.Contains(r.stderr, "msg=merged") || !strings.Contains(r.stderr, f.MergedInto[0].ID) {
		t.Errorf("merge not named in the log: %s", r.stderr)
	}
	if c := got.Entities["contact"]; c.Found != 3 || c.Created != 1 || c.Merged != 1 {
		t.Errorf("entities: %s", r.stdout)
	}
}

// Two cards with different N and FN sharing one e-mail address are two
// contacts and a possible duplicate, which duplicates lists and merge
// settles.
func TestDuplicatesCommand(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "two.vcf")
	cards := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Forrest Hoge\r\nN:Hoge;Forrest;;;\r\nEMAIL:fh@example.com\r\nTEL:+1 555 0100\r\nEND:VCARD\r\n" +
		"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:boogie\r\nN:boogie;;;;\r\nEMAIL:fh@example.com\r\nTEL:+1 555 0199\r\nEND:VCARD\r\n"
	if err := os.WriteFile(path, []byte(cards), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "crm.db")
	if r := runCLI(t, false, "--db", db, "import", path); r.code != 0 || !strings.Contains(r.stdout, "contact: 2 found, 2 created") {
		t.Fatalf("import: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r := runCLI(t, false, "--db", db, "duplicates", "--json")
	var ds []struct{ A, B, NameA, NameB string }
	if err := json.Unmarshal([]byte(r.stdout), &ds); err != nil || len(ds) != 1 {
		t.Fatalf("duplicates: %v %s", err, r.stdout)
	}
	if r := runCLI(t, false, "--db", db, "duplicates", "merge", ds[0].B, ds[0].A); r.code != 0 {
		t.Fatalf("merge: %d %s", r.code, r.stderr)
	}
	if st := statusJSON(t, db); st.Records["contact"] != 1 {
		t.Fatalf("after merge: %v", st.Records)
	}
	if r := runCLI(t, false, "--db", db, "duplicates", "dismiss", ds[0].B, ds[0].A); r.code == 0 {
		t.Fatalf("a settled pair dismissed: %s", r.stdout)
	}
}
