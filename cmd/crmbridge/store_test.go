package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"crmbridge/fixtures"
)

// storeCommands are the command lines that use the store, one per
// subcommand (and form), with ID standing for a record id.
func storeCommands(dir string) [][]string {
	return [][]string{
		{"status"},
		{"status", "--json"},
		{"list", "contacts"},
		{"show", "ID"},
		{"conflicts"},
		{"conflicts", "resolve", "--take", "local", "1"},
		{"new", "contact", "lastname=Lee"},
		{"set", "ID", "jobtitle=CTO"},
		{"delete", "ID"},
		{"link", "ID", "--regarding", "ID"},
		{"import", filepath.Join(dir, "one.vcf")},
		{"export", "--vcf", filepath.Join(dir, "out.vcf")},
		{"push"},
		{"pull"},
		{"sync"},
		{"check"},
		{"backup", filepath.Join(dir, "backup.db")},
		{"forget", filepath.Join(dir, "one.vcf")},
		{"forget", "--dry-run", filepath.Join(dir, "one.vcf")},
	}
}

// damage cases for a store file (see crmstore's TestOpenRefusesDamagedStore
// for the library side).
var storeDamages = map[string]func([]byte) []byte{
	"bytes flipped mid-file": func(b []byte) []byte {
		// At the start of the middle page: its b-tree header and cell
		// pointers. (Flipped bytes inside a record's text are not
		// structure: SQLite keeps no page checksums to find them.)
		mid := len(b) / 2 / 4096 * 4096
		for i := mid; i < mid+64; i++ {
			b[i] ^= 0xff
		}
		return b
	},
	"page zeroed": func(b []byte) []byte {
		mid := len(b) / 2 / 4096 * 4096
		clear(b[mid : mid+4096])
		return b
	},
	"truncated": func(b []byte) []byte { return b[:len(b)/2] },
	"0 bytes":   func([]byte) []byte { return nil },
}

// A damaged store (or an empty file at its path) is refused by every
// command with exit 65 and a message naming the path, and left
// byte-identical.
func TestDamagedStoreRefusedByEveryCommand(t *testing.T) {
	dir := t.TempDir()
	var vcf bytes.Buffer
	if err := fixtures.WriteVCards(&vcf, 1500, 1); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "many.vcf"), vcf.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "one.vcf"), []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lee;Ann;;;\r\nFN:Ann Lee\r\nEND:VCARD\r\n"), 0o644)
	good := filepath.Join(dir, "good.db")
	if r := runCLI(t, false, "--db", good, "import", filepath.Join(dir, "many.vcf")); r.code != 0 {
		t.Fatalf("import: %d %s", r.code, r.stderr)
	}
	orig, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	configure(t, "http://127.0.0.1:9/api/data/v9.2/") // push/pull reach the store check first
	for name, damage := range storeDamages {
		t.Run(name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "crm.db")
			bad := damage(bytes.Clone(orig))
			if err := os.WriteFile(db, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, args := range storeCommands(dir) {
				for i := range args {
					if args[i] == "ID" {
						args[i] = "0192f0c4"
					}
				}
				r := runCLI(t, false, append([]string{"--db", db}, args...)...)
				if r.code != exitDamaged {
					t.Errorf("%v: exit %d, want %d\n%s", args, r.code, exitDamaged, r.stderr)
				}
				if !strings.Contains(r.stderr, db) {
					t.Errorf("%v: message does not name %s:\n%s", args, db, r.stderr)
				}
				if got, _ := os.ReadFile(db); !bytes.Equal(got, bad) {
					t.Fatalf("%v changed the store file", args)
				}
			}
		})
	}
}

// A mistyped --db does not grow a directory tree; without HOME and
// XDG_DATA_HOME there is no default store (never a relative path).
func TestNoStoreByAccident(t *testing.T) {
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo", "sub", "crm.db")
	r := runCLI(t, false, "--db", typo, "new", "contact", "lastname=Lee")
	if r.code != exitUsage || !strings.Contains(r.stderr, filepath.Join(dir, "typo", "sub")) {
		t.Errorf("missing directory: exit %d, want 2 naming it: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "typo")); err == nil {
		t.Error("a directory was created for a mistyped --db")
	}
	// Read commands never create a store.
	if r := runCLI(t, false, "--db", filepath.Join(dir, "crm.db"), "status"); r.code == 0 {
		t.Errorf("status on a missing store: exit 0")
	}
	if _, err := os.Stat(filepath.Join(dir, "crm.db")); err == nil {
		t.Error("status created a store")
	}

	cwd := t.TempDir()
	t.Chdir(cwd)
	t.Setenv("HOME", "")
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("CRMBRIDGE_DB", "")
	r = runCLI(t, false, "new", "contact", "lastname=Lee")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--db") {
		t.Errorf("no HOME: exit %d, want 2 asking for --db: %s", r.code, r.stderr)
	}
	if ents, _ := os.ReadDir(cwd); len(ents) != 0 {
		t.Errorf("no HOME: created %v in the current folder", ents)
	}

	// The default path: its directories are made 0700.
	data := filepath.Join(t.TempDir(), "data")
	t.Setenv("XDG_DATA_HOME", data)
	if r := runCLI(t, false, "new", "contact", "lastname=Lee"); r.code != 0 {
		t.Fatalf("default store: %d %s", r.code, r.stderr)
	}
	if fi, err := os.Stat(filepath.Join(data, "crmbridge")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("default store directory: %v %v, want 0700", fi, err)
	}
}

// "conflicts resolve ID --take incoming", README's form, parses in every
// argument order: the conflict is looked up (not found here), never a
// flag error.
func TestConflictsResolveArgumentOrder(t *testing.T) {
	db := filepath.Join(t.TempDir(), "crm.db")
	if r := runCLI(t, false, "--db", db, "new", "contact", "lastname=Lee"); r.code != 0 {
		t.Fatalf("new: %d %s", r.code, r.stderr)
	}
	for _, args := range [][]string{
		{"conflicts", "resolve", "7", "--take", "incoming"},
		{"conflicts", "resolve", "--take", "incoming", "7"},
		{"conflicts", "resolve", "7", "--take=incoming"},
	} {
		r := runCLI(t, false, append([]string{"--db", db}, args...)...)
		if r.code != exitPartial || !strings.Contains(r.stderr, "conflict 7") {
			t.Errorf("%v: exit %d, want 1 (conflict 7 not found): %s", args, r.code, r.stderr)
		}
	}
}

// check reports a sound store (exit 0) and a damaged one (exit 65, the
// file unchanged); backup writes a copy that check passes.
func TestCheckAndBackupCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "crm.db")
	if r := runCLI(t, false, "--db", db, "new", "contact", "lastname=Lee"); r.code != 0 {
		t.Fatalf("new: %d %s", r.code, r.stderr)
	}
	if r := runCLI(t, false, "--db", db, "check"); r.code != 0 || !strings.Contains(r.stdout, "integrity\tok") {
		t.Fatalf("check sound store: %d %q %s", r.code, r.stdout, r.stderr)
	}
	backup := filepath.Join(dir, "backup.db")
	if r := runCLI(t, false, "--db", db, "backup", backup); r.code != 0 {
		t.Fatalf("backup: %d %s", r.code, r.stderr)
	}
	if r := runCLI(t, false, "--db", backup, "list", "contacts"); r.code != 0 || !strings.Contains(r.stdout, "Lee") {
		t.Fatalf("list the backup: %d %q %s", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, false, "--db", db, "backup", backup); r.code != exitUsage {
		t.Errorf("backup over an existing file: exit %d, want 2", r.code)
	}
	b, _ := os.ReadFile(db)
	bad := storeDamages["truncated"](bytes.Clone(b))
	os.WriteFile(db, bad, 0o600)
	r := runCLI(t, false, "--db", db, "check")
	if r.code != exitDamaged || !strings.Contains(r.stdout, "problem") {
		t.Errorf("check damaged store: %d %q %s", r.code, r.stdout, r.stderr)
	}
	if got, _ := os.ReadFile(db); !bytes.Equal(got, bad) {
		t.Error("check changed the damaged store")
	}
}
