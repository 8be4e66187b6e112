package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"crmbridge/crm"
	"crmbridge/fixtures"
)

// On a full disk (a 3 MiB tmpfs, mounted when the test runs as root) an
// import stops with exit 1; the printed and the stored summary count only
// what committed and say what was rolled back; the store passes check.
func TestDiskFullHonestSummary(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	src := filepath.Join(fixtures.GoPSTData(t), "enron.pst")
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	db := filepath.Join(dir, "crm.db")
	r := runCLI(t, false, "--db", db, "import", src)
	if r.code != exitPartial || !strings.Contains(r.stderr, "full") {
		t.Fatalf("exit %d, want 1 naming the full disk:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "rolled back") || !strings.Contains(r.stdout, "not imported") {
		t.Errorf("summary does not say what was rolled back: %s", r.stdout)
	}
	st := statusJSON(t, db)
	created := -1
	for _, f := range strings.Split(r.stdout, ";") {
		f = strings.TrimSpace(f)
		if rest, ok := strings.CutPrefix(f, "email: "); ok {
			for _, part := range strings.Split(rest, ",") {
				var n int
				var what string
				if _, err := fmt.Sscan(strings.TrimSpace(part), &n, &what); err == nil && what == "created" {
					created = n
				}
			}
		}
	}
	if created < 0 {
		t.Fatalf("no email count in the summary: %s", r.stdout)
	}
	if st.Records[crm.Email] != created {
		t.Errorf("summary says %d email(s) created, the store holds %d:\n%s", created, st.Records[crm.Email], r.stdout)
	}
	if st.LastRun == nil || !strings.Contains(r.stdout, st.LastRun.Summary) {
		t.Errorf("stored summary %+v is not the printed one %q", st.LastRun, r.stdout)
	}
	if r := runCLI(t, false, "--db", db, "check"); r.code != 0 {
		t.Errorf("check after disk full: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
