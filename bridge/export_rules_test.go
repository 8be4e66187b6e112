package bridge

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"crmbridge/crm"
	"crmbridge/crmstore"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// unfold joins folded iCalendar/vCard lines.
func unfold(s string) string { return strings.ReplaceAll(s, "\r\n ", "") }

// twoRules is an RFC 2445 event with two RRULEs (valid there; RFC 5545
// says SHOULD NOT), a second whose extra rule never ends, and a task.
const twoRules = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" +
	"BEGIN:VEVENT\r\nUID:two-rules\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nSUMMARY:Two rules\r\n" +
	"RRULE:FREQ=WEEKLY;COUNT=3;BYDAY=MO\r\nRRULE:FREQ=MONTHLY;COUNT=2;BYMONTHDAY=15\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:endless\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nSUMMARY:Endless\r\n" +
	"RRULE:FREQ=WEEKLY;COUNT=3;BYDAY=MO\r\nRRULE:FREQ=DAILY\r\nEND:VEVENT\r\n" +
	"BEGIN:VTODO\r\nUID:todo-1\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:A task\r\nEND:VTODO\r\n" +
	"END:VCALENDAR\r\n"

// One record a format cannot hold as stored never stops the others: an
// event with two RRULEs goes out with the first and the extra rule's
// occurrences as RDATEs (a warning names it), or without an endless extra
// rule (a warning too); an appointment without a start is left out and
// reported by id; every other record and every other target is written.
func TestExportIsolatesRecords(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "in.ics"), twoRules)
	writeFile(t, filepath.Join(dir, "in.vcf"), threeCards)
	s := newStore(t)
	importPaths(t, s, ImportOptions{}, filepath.Join(dir, "in.ics"), filepath.Join(dir, "in.vcf"))
	var noStart string
	edit(t, s, func(tx *crmstore.Tx) error {
		var err error
		noStart, err = tx.Create(crm.Appointment, map[string]string{"subject": "no start"}, "cli")
		if err != nil {
			return err
		}
		_, err = tx.Apply(&crm.Incoming{
			Source: crm.SourceRef{Kind: "test", Key: "m1", Version: "1"},
			Record: crm.Record{Entity: crm.Email, Fields: map[string]string{"subject": "hello", "description": "body"},
				Parties: []crm.Party{{Role: crm.RoleSender, Address: "a@example.com"}}},
		}, crmstore.PolicyNewest)
		return err
	})
	out := t.TempDir()
	res, rep := exportReport(t, s, ExportOptions{All: true, VCF: filepath.Join(out, "a.vcf"), ICS: filepath.Join(out, "a.ics"),
		EMLDir: filepath.Join(out, "mail"), CSV: filepath.Join(out, "outlook.csv")})
	got := map[string]ExportResult{}
	for _, r := range res {
		got[filepath.Base(r.Path)] = r
		if r.Failed {
			t.Errorf("%s not written", r.Path)
		}
	}
	if r := got["a.ics"]; r.Records != 3 || r.Omitted != 1 {
		t.Errorf("ics: %+v, want 3 written, 1 omitted", r)
	}
	if r := got["a.vcf"]; r.Records != 3 {
		t.Errorf("vcf: %+v", r)
	}
	if r := got["mail"]; r.Records != 1 {
		t.Errorf("eml: %+v", r)
	}
	if r := got["outlook-contacts.csv"]; r.Records != 3 {
		t.Errorf("csv contacts: %+v", r)
	}
	if r := got["outlook-tasks.csv"]; r.Records != 1 {
		t.Errorf("csv tasks: %+v", r)
	}
	if len(rep.problems) != 1 || !strings.Contains(rep.problems[0].Error(), noStart) {
		t.Errorf("problems %v, want one naming %s", rep.problems, noStart)
	}
	var warned []string
	for _, w := range rep.warnings {
		warned = append(warned, w.Error())
	}
	if len(warned) != 2 || !strings.Contains(strings.Join(warned, "\n"), "written as 2 RDATE") || !strings.Contains(strings.Join(warned, "\n"), "never ends") {
		t.Errorf("warnings %q, want the RDATEs and the endless rule", warned)
	}
	cal := unfold(readFile(t, filepath.Join(out, "a.ics")))
	events := strings.Split(cal, "BEGIN:VEVENT")
	if len(events) != 3 {
		t.Fatalf("want 2 events:\n%s", cal)
	}
	for _, ev := range events[1:] {
		if n := strings.Count(ev, "\r\nRRULE:"); n != 1 {
			t.Errorf("%d RRULEs in\n%s", n, ev)
		}
		if strings.Contains(ev, "UID:two-rules") && !strings.Contains(ev, "\r\nRDATE:20260115T100000Z,20260215T100000Z\r\n") {
			t.Errorf("the extra rule's occurrences are not RDATEs:\n%s", ev)
		}
	}
	// An independent reader takes every occurrence: 3 Mondays and the
	// 15th of January and of February.
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import icalendar, dateutil").Run(); err != nil {
		t.Skip("python3-icalendar and python3-dateutil not installed")
	}
	script := `
import sys, icalendar
from dateutil.rrule import rruleset, rrulestr
cal = icalendar.Calendar.from_ical(open(sys.argv[1], "rb").read())
for ev in cal.walk("VEVENT"):
    if str(ev["UID"]) != "two-rules":
        continue
    start = ev.decoded("DTSTART")
    rs = rruleset()
    rs.rrule(rrulestr(ev["RRULE"].to_ical().decode(), dtstart=start))
    rd = ev.get("RDATE")
    for r in (rd if isinstance(rd, list) else [rd]):
        for d in r.dts:
            rs.rdate(d.dt)
    print(" ".join(d.strftime("%m%d") for d in rs))
`
	b, err := exec.Command(py, "-c", script, filepath.Join(out, "a.ics")).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, b)
	}
	if got := strings.TrimSpace(string(b)); got != "0105 0112 0115 0119 0215" {
		t.Errorf("icalendar+dateutil occurrences %q", got)
	}
}

// A single-file target always holds every live record it selects: after
// an edit, after a delete, and it is never emptied while the selection is
// not; the count is the count written.
func TestExportSingleFileHoldsSelection(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "in.vcf"), threeCards)
	s := newStore(t)
	importPaths(t, s, ImportOptions{}, filepath.Join(dir, "in.vcf"))
	out := filepath.Join(t.TempDir(), "out.vcf")
	if r := export(t, s, ExportOptions{VCF: out}); r[0].Records != 3 || cardsIn(t, out) != 3 {
		t.Fatalf("first: %+v %d", r, cardsIn(t, out))
	}
	ids, _ := s.IDs(context.Background(), []crm.Entity{crm.Contact})
	edit(t, s, func(tx *crmstore.Tx) error { return tx.Delete(ids[0], "cli") })
	if r := export(t, s, ExportOptions{VCF: out}); r[0].Records != 2 || cardsIn(t, out) != 2 {
		t.Fatalf("after a delete: %+v, %d cards", r, cardsIn(t, out))
	}
	if strings.Contains(readFile(t, out), ids[0]) {
		t.Fatalf("the deleted contact is still in the file")
	}
	edit(t, s, func(tx *crmstore.Tx) error {
		_, err := tx.Set(ids[2], map[string]string{"jobtitle": "CFO"}, "cli")
		return err
	})
	if r := export(t, s, ExportOptions{VCF: out}); r[0].Records != 2 || cardsIn(t, out) != 2 || !strings.Contains(readFile(t, out), "TITLE:CFO") {
		t.Fatalf("after an edit: %+v, %d cards", r, cardsIn(t, out))
	}
	// A calendar too: a deleted appointment disappears.
	edit(t, s, func(tx *crmstore.Tx) error {
		for _, subj := range []string{"one", "two"} {
			if _, err := tx.Create(crm.Appointment, map[string]string{"subject": subj, "scheduledstart": "2026-12-01T10:00:00Z"}, "cli"); err != nil {
				return err
			}
		}
		return nil
	})
	ics := filepath.Join(filepath.Dir(out), "cal.ics")
	export(t, s, ExportOptions{ICS: ics})
	appts, _ := s.IDs(context.Background(), []crm.Entity{crm.Appointment})
	edit(t, s, func(tx *crmstore.Tx) error { return tx.Delete(appts[0], "cli") })
	if r := export(t, s, ExportOptions{ICS: ics}); r[0].Records != 1 || strings.Count(readFile(t, ics), "BEGIN:VEVENT") != 1 || !strings.Contains(readFile(t, ics), "SUMMARY:two") {
		t.Fatalf("after deleting an appointment: %+v\n%s", r, readFile(t, ics))
	}
}

// A file crmbridge did not write, or one changed since, is refused by
// name (the other targets are written) unless Force; the folder must
// exist and is never created.
func TestExportNeverOverwritesForeignFiles(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "mine.vcf")
	writeFile(t, src, threeCards)
	s := newStore(t)
	importPaths(t, s, ImportOptions{}, src)
	edit(t, s, func(tx *crmstore.Tx) error {
		_, err := tx.Create(crm.Task, map[string]string{"subject": "t"}, "cli")
		return err
	})
	ids, _ := s.IDs(context.Background(), []crm.Entity{crm.Contact})
	edit(t, s, func(tx *crmstore.Tx) error {
		_, err := tx.Set(ids[0], map[string]string{"jobtitle": "CTO"}, "cli")
		return err
	})

	// The user's own (imported) file.
	ics := filepath.Join(dir, "c.ics")
	res, rep := exportReport(t, s, ExportOptions{VCF: src, ICS: ics})
	if !res[0].Failed || len(rep.problems) != 1 || !strings.Contains(rep.problems[0].Error(), src) || !errors.Is(rep.problems[0], ErrNotOurs) {
		t.Fatalf("user's file: %+v %v", res, rep.problems)
	}
	if readFile(t, src) != threeCards {
		t.Fatalf("the user's file was changed")
	}
	if res[1].Failed || strings.Count(readFile(t, ics), "BEGIN:VTODO") != 1 {
		t.Fatalf("the other target was not written: %+v", res[1])
	}
	res, rep = exportReport(t, s, ExportOptions{VCF: src, Force: true})
	if res[0].Failed || len(rep.problems) != 0 || cardsIn(t, src) != 3 {
		t.Fatalf("--force: %+v %v", res, rep.problems)
	}

	// Our file, changed since by someone else (and not imported).
	out := filepath.Join(dir, "out.vcf")
	export(t, s, ExportOptions{VCF: out})
	writeFile(t, out, readFile(t, out)+"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Hand Made\r\nEND:VCARD\r\n")
	edit(t, s, func(tx *crmstore.Tx) error {
		_, err := tx.Set(ids[1], map[string]string{"jobtitle": "CEO"}, "cli")
		return err
	})
	res, rep = exportReport(t, s, ExportOptions{VCF: out})
	if !res[0].Failed || len(rep.problems) != 1 || !strings.Contains(readFile(t, out), "Hand Made") {
		t.Fatalf("changed file: %+v %v", res, rep.problems)
	}

	// No folder: refused, not created.
	missing := filepath.Join(dir, "no", "such", "x.vcf")
	res, rep = exportReport(t, s, ExportOptions{VCF: missing, EMLDir: filepath.Join(dir, "nope", "mail")})
	if len(res) != 2 || !res[0].Failed || !res[1].Failed || len(rep.problems) != 2 {
		t.Fatalf("missing folders: %+v %v", res, rep.problems)
	}
	if _, err := os.Stat(filepath.Join(dir, "no")); err == nil {
		t.Fatalf("the export created the user's folders")
	}
}

// In a folder target, a file in the way that crmbridge did not write is
// refused for its record alone, and a file changed since it was written is
// left in place when its record is deleted.
func TestExportFolderKeepsForeignFiles(t *testing.T) {
	s := newStore(t)
	var ids []string
	edit(t, s, func(tx *crmstore.Tx) error {
		for i := range 3 {
			r, err := tx.Apply(&crm.Incoming{
				Source: crm.SourceRef{Kind: "test", Key: fmt.Sprint(i), Version: "1"},
				Record: crm.Record{Entity: crm.Email, Fields: map[string]string{"subject": fmt.Sprint("mail ", i), "description": "body"},
					Parties: []crm.Party{{Role: crm.RoleSender, Address: "a@example.com"}}},
			}, crmstore.PolicyNewest)
			if err != nil {
				return err
			}
			ids = append(ids, r.ID)
		}
		return nil
	})
	mail := filepath.Join(t.TempDir(), "mail")
	export(t, s, ExportOptions{EMLDir: mail})
	files, _ := filepath.Glob(filepath.Join(mail, "*.eml"))
	if len(files) != 3 {
		t.Fatalf("%d files", len(files))
	}
	name := func(id string) string {
		m, _ := filepath.Glob(filepath.Join(mail, "*"+id+".eml"))
		if len(m) != 1 {
			t.Fatalf("no file for %s", id)
		}
		return m[0]
	}
	foreign, changed := name(ids[0]), name(ids[1])
	writeFile(t, foreign, "not ours")
	writeFile(t, changed, readFile(t, changed)+"\r\nedited")
	edit(t, s, func(tx *crmstore.Tx) error {
		if _, err := tx.Set(ids[0], map[string]string{"description": "new body"}, "cli"); err != nil {
			return err
		}
		if _, err := tx.Set(ids[2], map[string]string{"description": "new body"}, "cli"); err != nil {
			return err
		}
		return tx.Delete(ids[1], "cli")
	})
	res, rep := exportReport(t, s, ExportOptions{EMLDir: mail})
	if res[0].Records != 1 || res[0].Omitted != 1 || res[0].Removed != 0 {
		t.Fatalf("%+v", res[0])
	}
	if len(rep.problems) != 1 || !strings.Contains(rep.problems[0].Error(), foreign) || len(rep.warnings) != 1 || !strings.Contains(rep.warnings[0].Error(), changed) {
		t.Fatalf("problems %v warnings %v", rep.problems, rep.warnings)
	}
	if readFile(t, foreign) != "not ours" || !strings.HasSuffix(readFile(t, changed), "edited") || !strings.Contains(readFile(t, name(ids[2])), "new body") {
		t.Fatalf("files changed that were not ours, or ours not written")
	}
}

// masterAndOverride is a weekly series with one moved occurrence (same
// UID, RECURRENCE-ID) and a second event.
const masterAndOverride = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" +
	"BEGIN:VEVENT\r\nUID:series-1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nSUMMARY:Weekly\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:series-1\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID:20260112T100000Z\r\nDTSTART:20260113T100000Z\r\nDTEND:20260113T110000Z\r\nSUMMARY:Weekly (moved)\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:other/../x y\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260107T100000Z\r\nDTEND:20260107T110000Z\r\nSUMMARY:Other\r\nEND:VEVENT\r\n" +
	"END:VCALENDAR\r\n"

// A vdir holds one file per UID: a series master and its overrides
// together, the master first, under a name that does not change.
func TestExportVdirOneFilePerUID(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "in.ics"), masterAndOverride)
	s := newStore(t)
	importPaths(t, s, ImportOptions{}, filepath.Join(dir, "in.ics"))
	vdir := filepath.Join(dir, "cal")
	export(t, s, ExportOptions{ICS: vdir, Split: true})
	list := func() map[string]string {
		ents, _ := os.ReadDir(vdir)
		m := map[string]string{}
		for _, e := range ents {
			m[e.Name()] = readFile(t, filepath.Join(vdir, e.Name()))
		}
		return m
	}
	first := list()
	if len(first) != 2 {
		t.Fatalf("files %v, want one per UID", first)
	}
	series, ok := first["series-1.ics"]
	if !ok || strings.Count(series, "BEGIN:VEVENT") != 2 || strings.Index(series, "RECURRENCE-ID") < strings.Index(series, "RRULE") {
		t.Fatalf("series file:\n%s", series)
	}
	for name := range first {
		if name != "series-1.ics" && (strings.ContainsAny(name, "/ ") || !strings.HasSuffix(name, ".ics")) {
			t.Errorf("unsafe name %q", name)
		}
	}
	// Moving the override again rewrites the same file; --all writes the
	// same names and bytes.
	appts, _ := s.IDs(context.Background(), []crm.Entity{crm.Appointment})
	var override string
	for _, id := range appts {
		if v, _ := s.Get(context.Background(), id); v.Fields["recurrenceid"] != "" {
			override = id
		}
	}
	edit(t, s, func(tx *crmstore.Tx) error {
		_, err := tx.Set(override, map[string]string{"scheduledstart": "2026-01-14T10:00:00Z", "scheduledend": "2026-01-14T11:00:00Z"}, "cli")
		return err
	})
	export(t, s, ExportOptions{ICS: vdir, Split: true})
	second := list()
	if len(second) != 2 || !strings.Contains(second["series-1.ics"], "DTSTART:20260114T100000Z") || strings.Count(second["series-1.ics"], "BEGIN:VEVENT") != 2 {
		t.Fatalf("after moving the override: %v", second)
	}
	export(t, s, ExportOptions{ICS: vdir, Split: true, All: true})
	third := list()
	for name, b := range second {
		if third[name] != b {
			t.Errorf("%s changed on a re-export of the same records", name)
		}
	}
	// Deleting the override rewrites the file with the master alone;
	// deleting the master too removes it.
	edit(t, s, func(tx *crmstore.Tx) error { return tx.Delete(override, "cli") })
	export(t, s, ExportOptions{ICS: vdir, Split: true})
	if b := list()["series-1.ics"]; strings.Count(b, "BEGIN:VEVENT") != 1 {
		t.Fatalf("after deleting the override:\n%s", b)
	}
	for _, id := range appts {
		if v, _ := s.Get(context.Background(), id); v.Fields["uid"] == "series-1" && !v.Deleted {
			edit(t, s, func(tx *crmstore.Tx) error { return tx.Delete(id, "cli") })
		}
	}
	if r := export(t, s, ExportOptions{ICS: vdir, Split: true}); r[0].Removed != 1 || len(list()) != 1 {
		t.Fatalf("after deleting the series: %+v %v", r, list())
	}
}

// A cancelled export stops, leaves no temporary file and records what it
// completed; running again finishes the job without refusing its own
// files.
func TestExportInterruptedResumes(t *testing.T) {
	s := newStore(t)
	edit(t, s, func(tx *crmstore.Tx) error {
		for i := range 40 {
			_, err := tx.Apply(&crm.Incoming{
				Source: crm.SourceRef{Kind: "test", Key: fmt.Sprint(i), Version: "1"},
				Record: crm.Record{Entity: crm.Email, Fields: map[string]string{"subject": fmt.Sprint("mail ", i), "description": "body"},
					Parties: []crm.Party{{Role: crm.RoleSender, Address: "a@example.com"}}},
			}, crmstore.PolicyNewest)
			if err != nil {
				return err
			}
		}
		return nil
	})
	mail := filepath.Join(t.TempDir(), "mail")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep := &exportRecorder{progress: func(_ string, done, _ int) {
		if done == 21 {
			cancel()
		}
	}}
	_, err := Export(ctx, s, ExportOptions{EMLDir: mail, BatchSize: 8, Reporter: rep})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled export: %v", err)
	}
	ents, _ := os.ReadDir(mail)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
	if len(ents) == 0 || len(ents) >= 40 {
		t.Fatalf("%d files after the interruption", len(ents))
	}
	res := export(t, s, ExportOptions{EMLDir: mail})
	if ents, _ := os.ReadDir(mail); len(ents) != 40 || res[0].Records != 40 {
		t.Fatalf("re-run: %+v, %d files", res, len(ents))
	}
	if r := export(t, s, ExportOptions{EMLDir: mail}); !r[0].Skipped {
		t.Fatalf("third run: %+v", r)
	}
}
