package bridge

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"crmbridge/crm"
	"crmbridge/crmstore"
	"crmbridge/fixtures"
)

// export runs Export and fails the test on an error or a reported
// problem (exportReport shows them).
func export(t *testing.T, s *crmstore.Store, opts ExportOptions) []ExportResult {
	t.Helper()
	res, rep := exportReport(t, s, opts)
	for _, p := range rep.problems {
		t.Errorf("export problem: %v", p)
	}
	return res
}

// exportRecorder collects what Export reports.
type exportRecorder struct {
	NopExportReporter
	problems, warnings []error
	progress           func(target string, done, total int)
}

func (r *exportRecorder) Problem(err error) { r.problems = append(r.problems, err) }
func (r *exportRecorder) Warning(err error) { r.warnings = append(r.warnings, err) }
func (r *exportRecorder) Progress(target string, done, total int) {
	if r.progress != nil {
		r.progress(target, done, total)
	}
}

// exportNoStartOnly is export for a corpus whose appointments without a
// start are reported (TestExportOmits) and nothing else.
func exportNoStartOnly(t *testing.T, s *crmstore.Store, opts ExportOptions) []ExportResult {
	t.Helper()
	res, rep := exportReport(t, s, opts)
	for _, p := range rep.problems {
		if !errors.Is(p, errNoStart) {
			t.Errorf("export problem: %v", p)
		}
	}
	return res
}

func exportReport(t *testing.T, s *crmstore.Store, opts ExportOptions) ([]ExportResult, *exportRecorder) {
	t.Helper()
	rep := &exportRecorder{}
	opts.Reporter = rep
	res, err := Export(context.Background(), s, opts)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	return res, rep
}

func edit(t *testing.T, s *crmstore.Store, fn func(tx *crmstore.Tx) error) {
	t.Helper()
	tx, err := s.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

const threeCards = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nN:Alpha;Ann;;;\r\nEMAIL:ann@example.com\r\nEND:VCARD\r\n" +
	"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:b\r\nN:Beta;Bob;;;\r\nEMAIL:bob@example.com\r\nEND:VCARD\r\n" +
	"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c\r\nN:Gamma;Cy;;;\r\nEMAIL:cy@example.com\r\nEND:VCARD\r\n"

func cardsIn(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "BEGIN:VCARD")
}

// After one edit of one contact, an incremental export rewrites the file
// with every contact (a single file holds the whole selection); a second
// export writes nothing, and an import from the target itself is not
// echoed back to it.
func TestIncrementalExport(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.vcf")
	os.WriteFile(in, []byte(threeCards), 0o644)
	s := newStore(t)
	importPaths(t, s, ImportOptions{}, in)
	os.Mkdir(filepath.Join(dir, "out"), 0o700)
	out := filepath.Join(dir, "out", "contacts.vcf")
	if r := export(t, s, ExportOptions{VCF: out}); r[0].Records != 3 || cardsIn(t, out) != 3 {
		t.Fatalf("first export: %+v, %d cards", r, cardsIn(t, out))
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Errorf("export file mode %v, want 0600", fi.Mode().Perm())
	}
	if r := export(t, s, ExportOptions{VCF: out}); !r[0].Skipped {
		t.Fatalf("second export wrote %+v", r)
	}
	ids, _ := s.IDs(context.Background(), []crm.Entity{crm.Contact})
	edit(t, s, func(tx *crmstore.Tx) error {
		_, err := tx.Set(ids[1], map[string]string{"jobtitle": "CTO"}, "cli")
		return err
	})
	if r := export(t, s, ExportOptions{VCF: out}); r[0].Records != 3 || cardsIn(t, out) != 3 {
		t.Fatalf("export after one edit: %+v, %d cards", r, cardsIn(t, out))
	}
	b, _ := os.ReadFile(out)
	if !strings.Contains(string(b), "TITLE:CTO") || !strings.Contains(string(b), ids[1]) {
		t.Fatalf("the edit is not in the file:\n%s", b)
	}
	if r := export(t, s, ExportOptions{VCF: out}); !r[0].Skipped {
		t.Fatalf("export after export wrote %+v", r)
	}
	// Someone edits the exported file and we import it: that change came
	// from the target, so exporting to it again writes nothing.
	edited := strings.Replace(string(b), "TITLE:CTO", "TITLE:CEO", 1)
	edited = regexp.MustCompile(`REV:[0-9TZ]+`).ReplaceAllString(edited, "REV:"+time.Now().Add(time.Minute).UTC().Format("20060102T150405Z"))
	os.WriteFile(out, []byte(edited), 0o600)
	sum, _ := importPaths(t, s, ImportOptions{}, out)
	if c := sum.Entities[crm.Contact]; c.Updated != 1 {
		t.Fatalf("import of the edited export: %+v", *c)
	}
	if r := export(t, s, ExportOptions{VCF: out}); !r[0].Skipped {
		t.Fatalf("echo: export wrote %+v back to its own source", r)
	}
	// --all writes everything; no temp files are left behind.
	if r := export(t, s, ExportOptions{VCF: out, All: true}); r[0].Records != 3 {
		t.Fatalf("--all: %+v", r)
	}
	ents, _ := os.ReadDir(filepath.Dir(out))
	if len(ents) != 1 {
		t.Fatalf("files left in the output folder: %v", ents)
	}
}

// File names derived from data never leave the output folder, and two
// records with the same subject do not overwrite each other.
func TestExportFileNamesStayInside(t *testing.T) {
	s := newStore(t)
	subjects := []string{"../../etc/passwd", `..\..\boot.ini`, "CON", "same", "same", "/abs/path", "a\x00b", strings.Repeat("é", 300), ".", ""}
	edit(t, s, func(tx *crmstore.Tx) error {
		for i, subj := range subjects {
			_, err := tx.Apply(&crm.Incoming{
				Source: crm.SourceRef{Kind: "test", Key: fmt.Sprint(i), Version: "1"},
				Record: crm.Record{Entity: crm.Email, Fields: map[string]string{"subject": subj, "description": "body"},
					Parties: []crm.Party{{Role: crm.RoleSender, Address: "a@example.com"}}},
			}, crmstore.PolicyNewest)
			if err != nil {
				return err
			}
		}
		return nil
	})
	root := t.TempDir()
	out := filepath.Join(root, "mail")
	export(t, s, ExportOptions{EMLDir: out, All: true})
	var n int
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
			if filepath.Dir(p) != out {
				t.Errorf("file outside the output folder: %s", p)
			}
		}
		return nil
	})
	if n != len(subjects) {
		t.Fatalf("%d files for %d emails", n, len(subjects))
	}
}

// The seed's example through files: Outlook (a vCard here) changes the
// first name while the CRM side changes the last name: both survive.
func TestSeedExampleThroughFiles(t *testing.T) {
	dir := t.TempDir()
	card := func(first, rev string) string {
		return "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:jeff\r\nN:Smith;" + first + ";;;\r\nFN:" + first + " Smith\r\nEMAIL:jeff@example.com\r\nREV:" + rev + "\r\nEND:VCARD\r\n"
	}
	path := filepath.Join(dir, "outlook.vcf")
	os.WriteFile(path, []byte(card("Jeff", "20260101T090000Z")), 0o644)
	s := newStore(t)
	importPaths(t, s, ImportOptions{}, path)
	ids, _ := s.IDs(context.Background(), []crm.Entity{crm.Contact})
	edit(t, s, func(tx *crmstore.Tx) error {
		_, err := tx.Set(ids[0], map[string]string{"lastname": "Rodman"}, "cli")
		return err
	})
	os.WriteFile(path, []byte(card("John", "20260102T090000Z")), 0o644)
	importPaths(t, s, ImportOptions{}, path)
	v, _ := s.Get(context.Background(), ids[0])
	if v.Fields["firstname"] != "John" || v.Fields["lastname"] != "Rodman" {
		t.Fatalf("got %s %s, want John Rodman", v.Fields["firstname"], v.Fields["lastname"])
	}
	// The CRM side now changes the first name (now, later than the card's
	// REV); an older Outlook change of the first name must not win.
	edit(t, s, func(tx *crmstore.Tx) error {
		_, err := tx.Set(ids[0], map[string]string{"firstname": "Jack"}, "cli")
		return err
	})
	os.WriteFile(path, []byte(card("Johnny", "20260103T090000Z")), 0o644)
	importPaths(t, s, ImportOptions{}, path)
	v, _ = s.Get(context.Background(), ids[0])
	if v.Fields["firstname"] != "Jack" {
		t.Fatalf("older Outlook change overwrote a newer CRM change: %q", v.Fields["firstname"])
	}
	cs, _ := s.Conflicts(context.Background(), true)
	if len(cs) != 1 || cs[0].Field != "firstname" || cs[0].Winner != "local" || cs[0].IncomingValue != "Johnny" {
		t.Fatalf("conflicts: %+v", cs)
	}
}

// norm ignores what formats legitimately change: line endings and
// surrounding space.
func norm(s string) string {
	return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
}

// Exported files parse in independent readers: Python's vobject and
// icalendar, and khard and khal list a vdir export.
func TestExportReadByOthers(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import vobject, icalendar").Run(); err != nil {
		t.Skip("Debian python3-vobject and python3-icalendar not installed")
	}
	a := newStore(t)
	importPaths(t, a, ImportOptions{}, fixtures.CorpusDir(t, "vcf"), fixtures.CorpusDir(t, "ics"))
	st := status(t, a)
	out := t.TempDir()
	exportNoStartOnly(t, a, ExportOptions{All: true, VCF: filepath.Join(out, "c.vcf"), ICS: filepath.Join(out, "cal.ics")})
	script := `
import sys, vobject, icalendar
cards = list(vobject.readComponents(open(sys.argv[1], encoding="utf-8").read()))
cal = icalendar.Calendar.from_ical(open(sys.argv[2], "rb").read())
print(len(cards), len(cal.walk("VEVENT")), len(cal.walk("VTODO")))
`
	b, err := exec.Command(py, "-c", script, filepath.Join(out, "c.vcf"), filepath.Join(out, "cal.ics")).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, b)
	}
	events := 0 // appointments without a start are not exported (TestExportOmits)
	appts, _ := a.IDs(context.Background(), []crm.Entity{crm.Appointment})
	for _, id := range appts {
		if v, _ := a.Get(context.Background(), id); v.Fields["scheduledstart"] != "" {
			events++
		}
	}
	want := fmt.Sprintf("%d %d %d", st.Records[crm.Contact], events, st.Records[crm.Task])
	if got := strings.TrimSpace(string(b)); got != want {
		t.Fatalf("vobject/icalendar read %s (contacts events todos), want %s", got, want)
	}

	khard, err1 := exec.LookPath("khard")
	khal, err2 := exec.LookPath("khal")
	if err1 != nil || err2 != nil {
		t.Skip("khard or khal not installed")
	}
	// khal fails outright on some edge cases of the corpus that are valid
	// iCalendar (RFC 7529 RSCALE rules, exceptions mixing dates and
	// times), so the vdir holds the calendars Outlook, Exchange and Google
	// wrote, and every event in it must be listed.
	cal := newStore(t)
	var files []string
	for _, f := range fixtures.CorpusFiles(t, "ics") {
		base := strings.ToLower(filepath.Base(f))
		for _, w := range []string{"outlook", "exchange", "google", "office-2012-owa", "windows-quoted"} {
			if strings.Contains(base, w) {
				files = append(files, f)
				break
			}
		}
	}
	importPaths(t, cal, ImportOptions{}, files...)
	vdir := t.TempDir()
	export(t, a, ExportOptions{All: true, Split: true, VCF: filepath.Join(vdir, "contacts")})
	exportNoStartOnly(t, cal, ExportOptions{All: true, Split: true, ICS: filepath.Join(vdir, "calendar"), Types: []crm.Entity{crm.Appointment}})
	home := t.TempDir()
	env := append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_DATA_HOME="+filepath.Join(home, ".local"), "TZ=UTC", "COLUMNS=10000")
	os.MkdirAll(filepath.Join(home, ".config", "khard"), 0o700)
	os.WriteFile(filepath.Join(home, ".config", "khard", "khard.conf"), []byte("[addressbooks]\n[[crm]]\npath = "+filepath.Join(vdir, "contacts")+"\n[general]\ndebug = no\n"), 0o600)
	cmd := exec.Command(khard, "list", "--parsable")
	cmd.Env = env
	b, err = cmd.Output()
	if err != nil {
		t.Fatalf("khard: %v\n%s", err, b)
	}
	if n := len(strings.Split(strings.TrimSpace(string(b)), "\n")); n != st.Records[crm.Contact] {
		t.Errorf("khard lists %d contacts, want %d\n%s", n, st.Records[crm.Contact], b)
	}
	os.MkdirAll(filepath.Join(home, ".config", "khal"), 0o700)
	os.WriteFile(filepath.Join(home, ".config", "khal", "config"), []byte("[calendars]\n[[crm]]\npath = "+filepath.Join(vdir, "calendar")+"\ntype = calendar\n[locale]\ntimeformat = %H:%M\ndateformat = %Y-%m-%d\nlongdateformat = %Y-%m-%d\ndatetimeformat = %Y-%m-%d %H:%M\nlongdatetimeformat = %Y-%m-%d %H:%M\ndefault_timezone = UTC\nlocal_timezone = UTC\n"), 0o600)
	cmd = exec.Command(khal, "search", "--format", "{uid}", "")
	cmd.Env = env
	b, err = cmd.Output()
	if err != nil {
		t.Fatalf("khal: %v\n%s", err, b)
	}
	ids, _ := cal.IDs(context.Background(), []crm.Entity{crm.Appointment})
	found := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		found[strings.TrimSpace(l)] = true
	}
	for _, id := range ids {
		v, _ := cal.Get(context.Background(), id)
		uid := v.Fields["uid"]
		if uid == "" {
			uid = id
		}
		if v.Fields["scheduledstart"] != "" && !found[uid] {
			t.Errorf("khal does not list %q (%s)", v.Fields["subject"], uid)
		}
	}
}

// An appointment without a start cannot be a published VEVENT: it is
// omitted, counted and reported by id, and the rest is written.
func TestExportOmits(t *testing.T) {
	s := newStore(t)
	edit(t, s, func(tx *crmstore.Tx) error {
		if _, err := tx.Create(crm.Appointment, map[string]string{"subject": "no start"}, "cli"); err != nil {
			return err
		}
		_, err := tx.Create(crm.Appointment, map[string]string{"subject": "ok", "scheduledstart": "2026-12-01T10:00:00Z", "scheduledend": "2026-12-01T11:00:00Z"}, "cli")
		return err
	})
	out := filepath.Join(t.TempDir(), "c.ics")
	r, rep := exportReport(t, s, ExportOptions{ICS: out})
	if r[0].Records != 1 || r[0].Omitted != 1 {
		t.Fatalf("%+v", r)
	}
	ids, _ := s.IDs(context.Background(), []crm.Entity{crm.Appointment})
	if len(rep.problems) != 1 || !strings.Contains(rep.problems[0].Error(), ids[0]) {
		t.Fatalf("problems %v, want one naming %s", rep.problems, ids[0])
	}
	b, _ := os.ReadFile(out)
	if strings.Count(string(b), "BEGIN:VEVENT") != 1 || !strings.Contains(string(b), "SUMMARY:ok") {
		t.Fatalf("%s", b)
	}
}
