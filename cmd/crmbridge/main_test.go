package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"crmbridge/crm"
	"crmbridge/crmstore"
	"crmbridge/fixtures"
	"crmbridge/pst"
)

type result struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, tty bool, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"crmbridge"}, args...), &out, &errb, tty)
	return result{code, out.String(), errb.String()}
}

func statusJSON(t *testing.T, db string) crmstore.Status {
	t.Helper()
	r := runCLI(t, false, "--db", db, "status", "--json")
	if r.code != 0 {
		t.Fatalf("status: %d %s", r.code, r.stderr)
	}
	var st crmstore.Status
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, r.stdout)
	}
	return st
}

func TestHelpEveryCommand(t *testing.T) {
	app, _ := newApp(&bytes.Buffer{}, &bytes.Buffer{}, false)
	for _, c := range app.Commands {
		r := runCLI(t, false, c.Name, "--help")
		if r.code != 0 || !strings.Contains(r.stdout, "EXIT STATUS") {
			t.Errorf("%s --help: exit %d, stdout %q", c.Name, r.code, r.stdout)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	db := filepath.Join(t.TempDir(), "crm.db")
	for _, args := range [][]string{
		{"import"},
		{"nosuchcommand"},
		{"--db", db, "list"},
		{"--db", db, "list", "widgets"},
		{"--db", db, "list", "activities", "--type", "memo"},
		{"--db", db, "import", "--conflict", "maybe", "x.pst"},
		{"--db", db, "import", "--no-such-flag", "x.pst"},
		{"--log-level", "loud", "status"},
		{"--db", db, "show"},
	} {
		if r := runCLI(t, false, args...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", args, r.code, exitUsage, r.stderr)
		}
	}
}

// TestInvalidUTF8Refused checks that new and set refuse a value that is
// not UTF-8 with a usage error naming the field and the byte, and change
// nothing.
func TestInvalidUTF8Refused(t *testing.T) {
	db := filepath.Join(t.TempDir(), "crm.db")
	r := runCLI(t, false, "--db", db, "new", "contact", "lastname=Lee", "jobtitle="+strings.Repeat("\x80", 100))
	if r.code != exitUsage || !strings.Contains(r.stderr, "contact.jobtitle: value is not UTF-8 text (byte 0x80 at offset 0)") {
		t.Fatalf("new: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runCLI(t, false, "--db", db, "new", "contact", "lastname=Lee")
	if r.code != 0 {
		t.Fatalf("new: exit %d, stderr %q", r.code, r.stderr)
	}
	id := strings.TrimSpace(r.stdout)
	r = runCLI(t, false, "--db", db, "set", id, "lastname=M\xfcller")
	if r.code != exitUsage || !strings.Contains(r.stderr, "contact.lastname: value is not UTF-8 text (byte 0xFC at offset 1)") {
		t.Fatalf("set: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runCLI(t, false, "--db", db, "show", "--json", id)
	if r.code != 0 || !strings.Contains(r.stdout, `"lastname": "Lee"`) || strings.Contains(r.stdout, "jobtitle") {
		t.Errorf("show after the refused changes: exit %d\n%s", r.code, r.stdout)
	}
}

// pstCounts counts the items of a PST by CRM entity with our reader.
func pstCounts(t *testing.T, path string) map[crm.Entity]int {
	t.Helper()
	f, err := pst.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	counts := map[crm.Entity]int{}
	ents := map[pst.Kind]crm.Entity{pst.KindEmail: crm.Email, pst.KindContact: crm.Contact,
		pst.KindTask: crm.Task, pst.KindAppointment: crm.Appointment, pst.KindDistList: crm.List}
	for it, err := range f.Items(context.Background()) {
		if err != nil {
			continue
		}
		if e, ok := ents[it.Kind]; ok {
			counts[e]++
		}
	}
	return counts
}

func TestImportPSTAndReimport(t *testing.T) {
	data := fixtures.GoPSTData(t)
	src := filepath.Join(data, "support.pst")
	db := filepath.Join(t.TempDir(), "store", "crm.db")
	os.Mkdir(filepath.Dir(db), 0o700) // --db: only in an existing directory
	r := runCLI(t, false, "--db", db, "import", src)
	if r.code != 0 {
		t.Fatalf("import: exit %d\n%s", r.code, r.stderr)
	}
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "import: 1 file(s) read") {
		t.Fatalf("want one summary line, got %q", r.stdout)
	}
	if strings.Contains(r.stderr, "\r") {
		t.Errorf("progress drawn without a terminal: %q", r.stderr)
	}
	st := statusJSON(t, db)
	want := pstCounts(t, src)
	if len(want) == 0 {
		t.Fatal("support.pst read as empty")
	}
	for e, n := range want {
		// Every item is one record unless two items share an identity
		// key (the same Message-ID in two folders).
		if st.Records[e] == 0 || st.Records[e] > n || st.Sources["pst"] < n {
			t.Errorf("%s: %d records for %d items (%d pst sources)", e, st.Records[e], n, st.Sources["pst"])
		}
	}
	if st.Outbox.Pending == 0 {
		t.Error("imported records were not queued for push")
	}
	if fi, err := os.Stat(db); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("store mode: %v %v", fi.Mode(), err)
	}

	// Re-import: unchanged file, then forced re-read: nothing changes.
	for _, args := range [][]string{{"import", src}, {"import", "--force", src}} {
		r = runCLI(t, false, append([]string{"--db", db}, args...)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d %s", args, r.code, r.stderr)
		}
		st2 := statusJSON(t, db)
		if st2.JournalSeq != st.JournalSeq || st2.Outbox.Pending != st.Outbox.Pending {
			t.Errorf("%v: journal %d→%d, outbox %d→%d", args, st.JournalSeq, st2.JournalSeq, st.Outbox.Pending, st2.Outbox.Pending)
		}
		for e, n := range st.Records {
			if st2.Records[e] != n {
				t.Errorf("%v: %s %d→%d", args, e, n, st2.Records[e])
			}
		}
	}
	if !strings.Contains(r.stdout, " 0 created, ") || strings.Contains(r.stdout, "with changes") {
		t.Errorf("forced re-import summary: %s", r.stdout)
	}

	// list and show.
	r = runCLI(t, false, "--db", db, "list", "activities", "--json", "--type", "email")
	var list []crmstore.Summary
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != st.Records[crm.Email] {
		t.Fatalf("list: %v, %d entries, want %d", err, len(list), st.Records[crm.Email])
	}
	r = runCLI(t, false, "--db", db, "show", list[0].ShortID)
	if r.code != 0 || !strings.Contains(r.stdout, list[0].ID) || !strings.Contains(r.stdout, "source") {
		t.Fatalf("show: %d %s %s", r.code, r.stdout, r.stderr)
	}
}

func TestProgressOnTerminal(t *testing.T) {
	src := filepath.Join(t.TempDir(), "a.vcf")
	os.WriteFile(src, []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Doe\r\nEMAIL:ann@example.com\r\nEND:VCARD\r\n"), 0o644)
	db := filepath.Join(t.TempDir(), "crm.db")
	r := runCLI(t, true, "--db", db, "import", src)
	if r.code != 0 || !strings.Contains(r.stderr, "\r") || !strings.Contains(r.stderr, "items") {
		t.Fatalf("no progress on a terminal: %d %q", r.code, r.stderr)
	}
	private := t.TempDir()
	os.Chmod(private, 0o700) // else the store directory is warned about
	r = runCLI(t, true, "--quiet", "--db", filepath.Join(private, "q.db"), "import", src)
	if r.stderr != "" {
		t.Fatalf("--quiet printed %q", r.stderr)
	}
}

// Bad input is reported with its file and skipped; the rest imports and
// the exit status is 1.
func TestBadInputReportedAndSkipped(t *testing.T) {
	dir := t.TempDir()
	bad := append([]byte("!BDN"), bytes.Repeat([]byte{0xA5}, 4096)...)
	os.WriteFile(filepath.Join(dir, "corrupt.pst"), bad, 0o644)
	os.WriteFile(filepath.Join(dir, "good.vcf"), []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Smith;Jeff;;;\r\nFN:Jeff Smith\r\nEMAIL:jeff@example.com\r\nEND:VCARD\r\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "truncated.vcf"), []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe;Ann;;;\r\nFN:Ann Doe\r\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("just some text\n"), 0o644)
	db := filepath.Join(t.TempDir(), "crm.db")
	r := runCLI(t, false, "--db", db, "import", dir)
	if r.code != exitPartial {
		t.Fatalf("exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"corrupt.pst", "truncated.vcf"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not name %s:\n%s", want, r.stderr)
		}
	}
	if !strings.Contains(r.stdout, "1 skipped") {
		t.Errorf("unknown file not listed as skipped: %s", r.stdout)
	}
	if st := statusJSON(t, db); st.Records[crm.Contact] != 1 {
		t.Errorf("contacts: %d, want 1 (the good card)", st.Records[crm.Contact])
	}
}

func TestLockedExit75(t *testing.T) {
	db := filepath.Join(t.TempDir(), "crm.db")
	holder, err := crmstore.Open(context.Background(), db, crmstore.Options{Create: true, Write: true, Command: "crmbridge import (test holder)"})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.vcf"), []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nEND:VCARD\r\n"), 0o644)
	start := time.Now()
	r := runCLI(t, false, "--db", db, "--lock-timeout", "300ms", "import", dir)
	if r.code != exitLocked {
		t.Fatalf("exit %d, want 75: %s", r.code, r.stderr)
	}
	if time.Since(start) < 300*time.Millisecond {
		t.Error("did not wait --lock-timeout")
	}
	if !strings.Contains(r.stderr, "PID") || !strings.Contains(r.stderr, "test holder") {
		t.Errorf("message does not name the holder: %s", r.stderr)
	}
	// Readers still work while a writer holds the lock.
	if r := runCLI(t, false, "--db", db, "status"); r.code != 0 {
		t.Errorf("status while locked: %d %s", r.code, r.stderr)
	}
}

// An import killed with SIGKILL mid-file leaves a consistent store; the
// next run finishes with the same records as an uninterrupted run.
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	src := filepath.Join(fixtures.GoPSTData(t), "enron.pst")
	exe := buildCLI(t)
	cmd := func(db string) *exec.Cmd {
		return exec.Command(exe, "--db", db, "--quiet", "import", "--batch", "50", src)
	}
	ref := filepath.Join(t.TempDir(), "ref.db")
	if out, err := cmd(ref).CombinedOutput(); err != nil {
		t.Fatalf("reference import: %v\n%s", err, out)
	}
	want := statusJSON(t, ref)

	// Kill twice, each time once the import has visibly written something
	// more (the store exists, then its write-ahead log has grown), so the
	// kills land mid-import however fast or loaded the machine is; an
	// import that finishes first is fine too (the resume then finds
	// everything done).
	db := filepath.Join(t.TempDir(), "killed.db")
	for round := 0; round < 2; round++ {
		killWhenWritten(t, cmd(db), db, 0)
	}
	mid := statusJSON(t, db)
	if out, err := cmd(db).CombinedOutput(); err != nil {
		t.Fatalf("resumed import: %v\n%s", err, out)
	}
	got := statusJSON(t, db)
	for e, n := range want.Records {
		if got.Records[e] != n {
			t.Errorf("%s: %d after kill and resume, %d uninterrupted (had %d when killed)", e, got.Records[e], n, mid.Records[e])
		}
	}
	if got.Sources["pst"] != want.Sources["pst"] || got.Attachments != want.Attachments {
		t.Errorf("sources %d/%d attachments %d/%d", got.Sources["pst"], want.Sources["pst"], got.Attachments, want.Attachments)
	}
	if got.Outbox.Pending != want.Outbox.Pending {
		t.Errorf("outbox %d after resume, %d uninterrupted", got.Outbox.Pending, want.Outbox.Pending)
	}
}

// buildCLI builds crmbridge into a temporary folder for tests that run it
// as a real process (to kill or signal it). The binary is built without
// -race: the race detector slows the pure-Go SQLite by two orders of
// magnitude.
func buildCLI(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "crmbridge")
	if out, err := exec.Command("go", "build", "-o", exe, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return exe
}

// killWhenWritten starts c, an import into the store at db, and kills it
// (SIGKILL) once the store and its write-ahead log have grown by more than
// grow bytes, or lets it end if it finishes first: the kill lands
// mid-import however fast or loaded the machine is.
func killWhenWritten(t *testing.T, c *exec.Cmd, db string, grow int64) {
	t.Helper()
	before := storeBytesOnDisk(db)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
wait:
	for storeBytesOnDisk(db) <= before+grow {
		select {
		case <-done:
			break wait
		case <-time.After(5 * time.Millisecond):
		}
	}
	c.Process.Signal(syscall.SIGKILL)
	<-done
}

// storeBytesOnDisk is the size of the store at db and its write-ahead log:
// it grows as an import writes, for tests that kill an import midway.
func storeBytesOnDisk(db string) int64 {
	var n int64
	for _, p := range []string{db, db + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}
