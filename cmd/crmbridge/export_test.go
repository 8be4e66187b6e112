package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"crmbridge/fixtures"
)

// One record a target cannot hold is reported by id and the rest is
// written, with exit status 1; a type no target holds is said, not
// silently nothing.
func TestExportPartialExit1(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "crm.db")
	for _, args := range [][]string{
		{"new", "appointment", "subject=no start"},
		{"new", "contact", "firstname=Ann", "lastname=Lee"},
		{"new", "phonecall", "subject=Called Ann"},
	} {
		if r := runCLI(t, false, append([]string{"--db", db}, args...)...); r.code != 0 {
			t.Fatalf("%v: %d %s", args, r.code, r.stderr)
		}
	}
	r := runCLI(t, false, "--db", db, "export", "--all", "--vcf", filepath.Join(dir, "a.vcf"), "--ics", filepath.Join(dir, "a.ics"))
	if r.code != exitPartial || !strings.Contains(r.stderr, "without a start") || !strings.Contains(r.stdout, "a.vcf: 1 record(s) written") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a.vcf")); !strings.Contains(string(b), "FN:Ann Lee") {
		t.Fatalf("vcf: %s", b)
	}
	r = runCLI(t, false, "--db", db, "export", "--type", "phonecall", "--vcf", filepath.Join(dir, "p.vcf"))
	if r.code != exitPartial || !strings.Contains(r.stderr, "phonecall (1 record(s) not exported; give --csv)") {
		t.Fatalf("--type phonecall --vcf: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	// Phone calls, letters and faxes go to the Outlook journal CSV.
	r = runCLI(t, false, "--db", db, "export", "--type", "phonecall", "--csv", filepath.Join(dir, "o.csv"))
	if r.code != 0 || !strings.Contains(r.stdout, "o-journal.csv: 1 record(s) written") {
		t.Fatalf("--type phonecall --csv: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "o-journal.csv")); !strings.Contains(string(b), `"Called Ann","Phone call"`) {
		t.Fatalf("journal csv: %s", b)
	}
}

// SIGTERM during an export exits 130 like SIGINT, with no temporary file
// left; running it again completes.
func TestExportSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	src := filepath.Join(fixtures.GoPSTData(t), "enron.pst")
	exe := buildCLI(t)
	db := filepath.Join(t.TempDir(), "crm.db")
	if out, err := exec.Command(exe, "--db", db, "--quiet", "import", src).CombinedOutput(); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	mail := filepath.Join(t.TempDir(), "mail")
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		c := exec.Command(exe, "--db", db, "--log-level", "debug", "export", "--eml", mail)
		stderr, err := c.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		// Signal once the export is writing.
		sc := bufio.NewScanner(stderr)
		var log []string
		for sc.Scan() {
			log = append(log, sc.Text())
			if strings.Contains(sc.Text(), "exporting") {
				c.Process.Signal(sig)
				break
			}
		}
		for sc.Scan() {
			log = append(log, sc.Text())
		}
		c.Wait()
		if code := c.ProcessState.ExitCode(); code != exitInterrupted {
			t.Fatalf("%v: exit %d\n%s", sig, code, strings.Join(log, "\n"))
		}
		ents, _ := os.ReadDir(mail)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") {
				t.Errorf("%v: temporary file left: %s", sig, e.Name())
			}
		}
	}
	out, err := exec.Command(exe, "--db", db, "export", "--eml", mail).CombinedOutput()
	if err != nil {
		t.Fatalf("re-run: %v\n%s", err, out)
	}
	ents, _ := os.ReadDir(mail)
	st := statusJSON(t, db)
	if len(ents) != st.Records["email"] {
		t.Fatalf("%d files for %d emails after the re-run\n%s", len(ents), st.Records["email"], out)
	}
}
