package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A problem with one value of a card that is imported is a warning, as it
// is in an iCalendar file: exit 0, the card counted as created, the value
// named on stderr. A card lost is a problem: exit 1.
func TestVCFFieldWarningsExit0(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	warn := filepath.Join(dir, "warn.vcf")
	os.WriteFile(warn, []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lee;Ann;;;\r\nFN:Ann Lee\r\nEMAIL:ann@example.com\r\n"+
		"this line has no colon\r\nEND:VCARD\r\n"), 0o600)
	db := filepath.Join(dir, "crm.db")
	r := runCLI(t, false, "--db", db, "import", "--json", warn)
	var sum importResult
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatalf("import --json: %v\n%s", err, r.stdout)
	}
	c := sum.Entities["contact"]
	if r.code != 0 || c == nil || c.Found != 1 || c.Created != 1 || c.NotImported != 0 || sum.Warnings < 1 || sum.Problems != 0 {
		t.Fatalf("field warnings: exit %d, %+v, warnings %d problems %d\n%s", r.code, c, sum.Warnings, sum.Problems, r.stderr)
	}
	if !strings.Contains(r.stderr, "warn.vcf: line 6") {
		t.Errorf("the values are not named: %s", r.stderr)
	}

	lost := filepath.Join(dir, "lost.vcf")
	os.WriteFile(lost, []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lee;Bo;;;\r\nEMAIL:bo@example.com\r\n"), 0o600)
	if r := runCLI(t, false, "--db", db, "import", lost); r.code != 1 {
		t.Errorf("a lost card: exit %d, want 1\n%s", r.code, r.stderr)
	}
}

// Under cron: the known problems of an unchanged file are remembered, not
// reported again (exit 0) until the file changes or import --recheck;
// status lists them. A non-data file in a folder is noted once.
func TestKnownProblemsRemembered(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	src := filepath.Join(dir, "in")
	os.Mkdir(src, 0o700)
	lost := filepath.Join(src, "lost.vcf")
	os.WriteFile(lost, []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lee;Ann;;;\r\nEMAIL:ann@example.com\r\nEND:VCARD\r\n"+
		"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lee;Bo;;;\r\nEMAIL:bo@example.com\r\n"), 0o600)
	os.WriteFile(filepath.Join(src, "README.txt"), []byte("exported from the old CRM\n"), 0o600)
	db := filepath.Join(dir, "crm.db")

	r := runCLI(t, false, "--db", db, "import", src)
	if r.code != 1 || !strings.Contains(r.stderr, "lost.vcf: line 6") || !strings.Contains(r.stderr, "README.txt") {
		t.Fatalf("first import: exit %d\n%s", r.code, r.stderr)
	}
	for i := 0; i < 2; i++ {
		r = runCLI(t, false, "--db", db, "import", src)
		if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "1 with known problems") {
			t.Fatalf("unchanged import %d: exit %d, stdout %q, stderr %q", i, r.code, r.stdout, r.stderr)
		}
	}
	if r := runCLI(t, false, "--db", db, "--quiet", "import", src); r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("--quiet unchanged: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, false, "--db", db, "status")
	if !strings.Contains(r.stdout, "known problems") || !strings.Contains(r.stdout, "lost.vcf: line 6") {
		t.Errorf("status does not list the known problem:\n%s", r.stdout)
	}
	st := statusJSON(t, db)
	if len(st.KnownProblems) != 1 || st.KnownProblems[0].Path != lost || !strings.Contains(st.KnownProblems[0].Message, "line 6") {
		t.Errorf("status --json known_problems: %+v", st.KnownProblems)
	}
	// --recheck reads it again and reports again; the README is not noted
	// again.
	r = runCLI(t, false, "--db", db, "import", "--recheck", src)
	if r.code != 1 || !strings.Contains(r.stderr, "lost.vcf: line 6") || strings.Contains(r.stderr, "README.txt") {
		t.Errorf("--recheck: exit %d\n%s", r.code, r.stderr)
	}
	// A changed file is read again: a new problem exits 1.
	os.WriteFile(lost, []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lee;Cy;;;\r\nEMAIL:cy@example.com\r\n"), 0o600)
	r = runCLI(t, false, "--db", db, "import", src)
	if r.code != 1 || !strings.Contains(r.stderr, "lost.vcf: line 1") {
		t.Errorf("changed file: exit %d\n%s", r.code, r.stderr)
	}
	if st := statusJSON(t, db); len(st.KnownProblems) != 1 || !strings.Contains(st.KnownProblems[0].Message, "line 1") {
		t.Errorf("known problems after the change: %+v", st.KnownProblems)
	}
}

// Folder import progress on a terminal says which file of how many, and
// the bytes of the files done out of all.
func TestFolderProgressFileNOfM(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	src := filepath.Join(dir, "in")
	os.Mkdir(src, 0o700)
	card := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Doe\r\nEMAIL:ann@example.com\r\nEND:VCARD\r\n" // 72 bytes
	os.WriteFile(filepath.Join(src, "a.vcf"), []byte(card), 0o600)
	os.WriteFile(filepath.Join(src, "b.vcf"), []byte(strings.Replace(card, "ann", "bob", 1)), 0o600)
	os.WriteFile(filepath.Join(src, "c.vcf"), []byte(strings.Replace(card, "ann", "cy", 1)), 0o600)
	r := runCLI(t, true, "--db", filepath.Join(dir, "crm.db"), "import", src)
	if r.code != 0 {
		t.Fatalf("import: %d %s", r.code, r.stderr)
	}
	for _, want := range []string{"file 1 of 3", "file 2 of 3", "file 3 of 3", "0 B of 215 B", "144 B of 215 B"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("progress lacks %q: %q", want, r.stderr)
		}
	}
}

// --quiet prints nothing on success for export, push, pull and sync; a
// failure still prints, with its exit status.
func TestQuietExportPushPull(t *testing.T) {
	_, url, _ := newFakeUpstream(t)
	configure(t, url)
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	db := filepath.Join(dir, "crm.db")
	if r := runCLI(t, false, "--db", db, "import", writeCards(t, t.TempDir(), 3)); r.code != 0 {
		t.Fatal(r.stderr)
	}
	for _, args := range [][]string{
		{"export", "--vcf", filepath.Join(dir, "out.vcf")},
		{"push"},
		{"pull"},
		{"sync"},
	} {
		r := runCLI(t, false, append([]string{"--db", db, "--quiet"}, args...)...)
		if r.code != 0 || r.stdout != "" || r.stderr != "" {
			t.Errorf("--quiet %v: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
	// Without --quiet the same commands print their summary.
	if r := runCLI(t, false, "--db", db, "export", "--all", "--vcf", filepath.Join(dir, "out.vcf")); r.code != 0 || !strings.Contains(r.stdout, "record(s) written") {
		t.Errorf("export: %d %q", r.code, r.stdout)
	}
	// A failure prints under --quiet and keeps its exit status.
	os.WriteFile(filepath.Join(dir, "foreign.vcf"), []byte("not ours"), 0o600)
	r := runCLI(t, false, "--db", db, "--quiet", "export", "--vcf", filepath.Join(dir, "foreign.vcf"))
	if r.code == 0 || r.stderr == "" {
		t.Errorf("--quiet failing export: exit %d, stderr %q", r.code, r.stderr)
	}
}
