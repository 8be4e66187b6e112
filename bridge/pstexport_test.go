package bridge

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"crmbridge/crm"
	"crmbridge/crmstore"
	"crmbridge/fixtures"
)

// views returns every record of the PST entities in s.
func views(t *testing.T, s *crmstore.Store) []*crmstore.View {
	t.Helper()
	ctx := context.Background()
	ids, err := s.IDs(ctx, pstEntities)
	if err != nil {
		t.Fatal(err)
	}
	var out []*crmstore.View
	for _, id := range ids {
		v, err := s.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func title(v *crmstore.View) string {
	return string(v.Entity) + "|" + v.Fields["subject"] + v.Fields["fullname"] + v.Fields["listname"]
}

// refName replaces a record id by the name of the record it points at:
// ids are per store.
func refName(s *crmstore.Store, id string) string {
	if id == "" {
		return ""
	}
	v, err := s.Get(context.Background(), id)
	if err != nil {
		return "missing " + id
	}
	return "→ " + title(v) + v.Fields["name"]
}

// recordDiff lists how b (in store sb) differs from a (in sa): fields,
// references by the name they point at, parties, members and attachments
// (name, type, size, content hash).
func recordDiff(sa, sb *crmstore.Store, a, b *crmstore.View) []string {
	var d []string
	names := map[string]bool{}
	for k := range a.Fields {
		names[k] = true
	}
	for k := range b.Fields {
		names[k] = true
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range names {
			if !yield(k) {
				return
			}
		}
	}) {
		x, y := norm(a.Fields[k]), norm(b.Fields[k])
		if f, ok := crm.LookupField(a.Entity, k); ok && f.Kind == crm.Ref {
			x, y = refName(sa, x), refName(sb, y)
		}
		if x != y {
			d = append(d, fmt.Sprintf("%s %q → %q", k, trunc(x), trunc(y)))
		}
	}
	party := func(ps []crm.Party) []string {
		var out []string
		for _, p := range ps {
			out = append(out, fmt.Sprintf("%d %s <%s> %s", p.Role, p.Name, strings.ToLower(p.Address), p.Status))
		}
		return out
	}
	if x, y := party(a.Parties), party(b.Parties); !slices.Equal(x, y) {
		d = append(d, fmt.Sprintf("parties %q → %q", x, y))
	}
	if x, y := party(a.Members), party(b.Members); !slices.Equal(x, y) {
		d = append(d, fmt.Sprintf("members %q → %q", x, y))
	}
	att := func(as []crm.Attachment) []string {
		var out []string
		for _, at := range as {
			out = append(out, fmt.Sprintf("%s %s %d %s %v", at.Name, at.MimeType, at.Size, at.SHA256, at.Inline))
		}
		return out
	}
	if x, y := att(a.Attachments), att(b.Attachments); !slices.Equal(x, y) {
		d = append(d, fmt.Sprintf("attachments %q → %q", x, y))
	}
	return d
}

func trunc(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// TestPSTRoundTrip imports each PST of the corpus (and go-pst's
// support.pst) into a store, exports it with --all --pst, imports that PST
// into a fresh store and compares every record: the same records with the
// same fields, parties, members and attachments. A second import of the
// exported PST, under its own name and under another, changes nothing.
func TestPSTRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	files := fixtures.CorpusFiles(t, "pst")
	files = append(files, filepath.Join(fixtures.GoPSTData(t), "support.pst"))
	ctx := context.Background()
	for _, src := range files {
		t.Run(filepath.Base(src), func(t *testing.T) {
			a := newStore(t)
			importPaths(t, a, ImportOptions{}, src)
			before := views(t, a)
			kinds := map[crm.Entity]int{}
			for _, v := range before {
				kinds[v.Entity]++
			}
			t.Logf("records: %v", kinds)
			out := filepath.Join(t.TempDir(), "out.pst")
			export(t, a, ExportOptions{All: true, PST: out})
			b := newStore(t)
			_, p := importPaths(t, b, ImportOptions{}, out)
			for _, err := range p.errs {
				t.Errorf("import of the exported PST: %v", err)
			}
			after := views(t, b)
			if len(after) != len(before) {
				t.Errorf("%d records exported, %d imported back", len(before), len(after))
			}
			byKey, byTitle := map[string]*crmstore.View{}, map[string][]*crmstore.View{}
			for _, v := range after {
				for _, k := range v.Keys {
					byKey[string(v.Entity)+"|"+k] = v
				}
				byTitle[title(v)] = append(byTitle[title(v)], v)
			}
			var diffs []string
			for _, va := range before {
				var vb *crmstore.View
				for _, k := range va.Keys {
					if vb = byKey[string(va.Entity)+"|"+k]; vb != nil {
						break
					}
				}
				if vb == nil {
					// Tasks and lists have no identity key beyond the PST entry
					// id: match by title, the closest candidate.
					best := -1
					for _, c := range byTitle[title(va)] {
						if n := len(recordDiff(a, b, va, c)); best < 0 || n < best {
							vb, best = c, n
						}
					}
				}
				if vb == nil {
					diffs = append(diffs, fmt.Sprintf("%s %s %q: missing after the round trip", va.Entity, va.ID, title(va)))
					continue
				}
				for _, d := range recordDiff(a, b, va, vb) {
					diffs = append(diffs, fmt.Sprintf("%s %q: %s", va.Entity, title(va), d))
				}
			}
			sort.Strings(diffs)
			for i, d := range diffs {
				if i == 40 {
					t.Errorf("… %d more", len(diffs)-40)
					break
				}
				t.Error(d)
			}
			seq, _ := b.JournalSeq(ctx)
			importPaths(t, b, ImportOptions{}, out)
			copyPath := filepath.Join(t.TempDir(), "copy.pst")
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(copyPath, data, 0o600); err != nil {
				t.Fatal(err)
			}
			importPaths(t, b, ImportOptions{}, copyPath)
			if seq2, _ := b.JournalSeq(ctx); seq2 != seq {
				t.Errorf("re-importing the exported PST changed the store: journal %d → %d", seq, seq2)
			}
		})
	}
}

// TestPSTExportReplacesOnlyItsOwn: an export replaces a PST it wrote, and
// writes the same bytes for the same store; it refuses a PST it did not
// write (or one changed since) unless Force.
func TestPSTExportReplacesOnlyItsOwn(t *testing.T) {
	s := newStore(t)
	importPaths(t, s, ImportOptions{}, filepath.Join(fixtures.GoPSTData(t), "support.pst"))
	out := filepath.Join(t.TempDir(), "out.pst")
	export(t, s, ExportOptions{All: true, PST: out})
	first, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	export(t, s, ExportOptions{All: true, PST: out})
	second, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(first) != string(second) {
		t.Error("the same store gave a different PST")
	}
	// A file changed by someone else: a byte of the header's dwUnique.
	changed := slices.Clone(second)
	changed[40]++
	if err := os.WriteFile(out, changed, 0o600); err != nil {
		t.Fatal(err)
	}
	if res, rep := exportReport(t, s, ExportOptions{All: true, PST: out}); !res[0].Failed || len(rep.problems) != 1 || !strings.Contains(rep.problems[0].Error(), "--force") {
		t.Fatalf("export over a changed PST: %+v %v", res, rep.problems)
	}
	if b, _ := os.ReadFile(out); string(b) != string(changed) {
		t.Fatal("the refused file was touched")
	}
	export(t, s, ExportOptions{All: true, PST: out, Force: true})
	if b, _ := os.ReadFile(out); string(b) != string(first) {
		t.Error("--force did not write the export")
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*")); len(m) > 0 {
		t.Errorf("temporary files left: %v", m)
	}
}

// pstOwnICS and pstOwnVCF are records a PST export used to lose: a task
// (UID, owner and attendee, a reminder counted from its start, 20 % done
// though completed, an extra), an event (CLASS:PUBLIC, a reminder in
// hours, an extra), an occurrence that is not an instance of its series,
// a modified instance, a contact without an e-mail address, with a photo
// and an extra.
const pstOwnICS = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" +
	"BEGIN:VTODO\r\nUID:task-1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260301T090000Z\r\nDUE:20260302T090000Z\r\n" +
	"SUMMARY:Report\r\nSTATUS:COMPLETED\r\nPERCENT-COMPLETE:20\r\nORGANIZER;CN=Boss:mailto:boss@example.com\r\n" +
	"ATTENDEE:mailto:ann@example.com\r\nX-TASK-NOTE:keep me\r\n" +
	"BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VTODO\r\n" +
	"BEGIN:VEVENT\r\nUID:ev-1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260310T100000Z\r\nDTEND:20260310T110000Z\r\n" +
	"SUMMARY:Review\r\nCLASS:PUBLIC\r\nURL:https://example.com/review\r\n" +
	"BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT2H\r\nEND:VALARM\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:series-1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20260219\r\nDTEND;VALUE=DATE:20260220\r\n" +
	"RRULE:FREQ=WEEKLY;COUNT=4;BYDAY=TH\r\nSUMMARY:Series\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:series-1\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID:20260225T230000Z\r\n" +
	"DTSTART;VALUE=DATE:20260227\r\nDTEND;VALUE=DATE:20260228\r\nSUMMARY:Moved\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:series-1\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID;VALUE=DATE:20260305\r\n" +
	"DTSTART;VALUE=DATE:20260306\r\nDTEND;VALUE=DATE:20260307\r\nSUMMARY:Moved instance\r\nEND:VEVENT\r\n" +
	"END:VCALENDAR\r\n"

// pstOwnEML is a flagged mail, as Outlook writes the flag text, with
// the dates and colour crmbridge's own header adds.
const pstOwnEML = "From: a@example.com\r\nTo: b@example.com\r\nSubject: Flagged\r\nMessage-ID: <flag-1@example.com>\r\n" +
	"Date: Mon, 02 Mar 2026 10:00:00 +0000\r\nX-Message-Flag: Call back\r\n" +
	"X-Crmbridge-Flag: status=flagged; start=2026-03-02T00:00:00Z; due=2026-03-04T00:00:00Z; icon=6\r\n\r\nbody\r\n"

const pstOwnVCF = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No Mail\r\nN:Mail;No;;;\r\nTEL;TYPE=WORK:+1 555 0100\r\n" +
	"PHOTO;ENCODING=b;TYPE=PNG:iVBORw0KGgo=\r\nX-CUSTOM-THING:kept\r\nEND:VCARD\r\n"

// TestPSTExportKeepsOwn: records through a PST come back as the same
// records (the record id in crmbridge's property set, a task's UID),
// with their reminders (as the same instant), sensitivity 0, percentage,
// task parties, extras, a contact's photo, an orphan occurrence's
// recurrence id, and a mail's follow-up flag.
func TestPSTExportKeepsOwn(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "in.ics"), pstOwnICS)
	writeFile(t, filepath.Join(dir, "in.vcf"), pstOwnVCF)
	writeFile(t, filepath.Join(dir, "in.eml"), pstOwnEML)
	a := newStore(t)
	importPaths(t, a, ImportOptions{}, filepath.Join(dir, "in.ics"), filepath.Join(dir, "in.vcf"), filepath.Join(dir, "in.eml"))
	out := filepath.Join(t.TempDir(), "out.pst")
	export(t, a, ExportOptions{All: true, PST: out})
	b := newStore(t)
	_, p := importPaths(t, b, ImportOptions{}, out)
	for _, err := range p.errs {
		t.Errorf("import of the export: %v", err)
	}
	ctx := context.Background()
	ids, _ := a.IDs(ctx, []crm.Entity{crm.Task, crm.Appointment, crm.Contact, crm.Email})
	if len(ids) != 7 {
		t.Fatalf("%d records imported, want 7", len(ids))
	}
	for _, id := range ids {
		va, _ := a.Get(ctx, id)
		vb, err := b.Get(ctx, id)
		if err != nil {
			t.Errorf("%s %s %q: not the same record after the PST: %v", va.Entity, id, title(va), err)
			continue
		}
		if va.Entity == crm.Email && va.Fields["flagstatus"] != "2" {
			t.Errorf("the flag of the mail was not imported: %v", va.Fields)
		}
		for _, k := range []string{"uid", "sensitivity", "percentcomplete", "recurrenceid", "scheduledstart", "fullname",
			"flagstatus", "flagrequest", "flagstart", "flagdue", "flagcompleted", "flagicon"} {
			if va.Fields[k] != vb.Fields[k] {
				t.Errorf("%s %q: %s %q → %q", va.Entity, title(va), k, va.Fields[k], vb.Fields[k])
			}
		}
		if x, y := reminderAt(va.Fields), reminderAt(vb.Fields); x != y {
			t.Errorf("%s %q: reminder %q → %q", va.Entity, title(va), x, y)
		}
		if x, y := sorted(extraKeys(va.Extras)), sorted(extraKeys(vb.Extras)); len(minus(x, y)) > 0 { // minus walks sorted lists
			t.Errorf("%s %q: extras lost %q (have %q)", va.Entity, title(va), minus(x, y), y)
		}
		if x, y := sorted(partyKeys(va.Parties)), sorted(partyKeys(vb.Parties)); len(minus(x, y)) > 0 {
			t.Errorf("%s %q: parties lost %q", va.Entity, title(va), minus(x, y))
		}
		if x, y := sorted(attachmentKeys(t, va.Attachments)), sorted(attachmentKeys(t, vb.Attachments)); len(minus(x, y)) > 0 {
			t.Errorf("%s %q: attachments lost", va.Entity, title(va))
		}
	}
}

// The count a PST target reports is the records written: a deleted
// record is not in the file nor in the count, an occurrence written
// inside its series counts once, and the count equals the records
// read back from the file. A directory target counts what this export
// wrote, and the files of deleted records as removed.
func TestExportCountsWritten(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "in.ics"), pstOwnICS)
	writeFile(t, filepath.Join(dir, "in.vcf"), threeCards)
	writeFile(t, filepath.Join(dir, "in.eml"), pstOwnEML)
	s := newStore(t)
	importPaths(t, s, ImportOptions{}, filepath.Join(dir, "in.ics"), filepath.Join(dir, "in.vcf"), filepath.Join(dir, "in.eml"))
	ctx := context.Background()
	contacts, _ := s.IDs(ctx, []crm.Entity{crm.Contact})
	mails, _ := s.IDs(ctx, []crm.Entity{crm.Email})
	edit(t, s, func(tx *crmstore.Tx) error { return tx.Delete(contacts[1], "cli") })
	live, _ := s.IDs(ctx, pstEntities)
	out := t.TempDir()
	pstPath, mailDir := filepath.Join(out, "out.pst"), filepath.Join(out, "mail")
	res, rep := exportReport(t, s, ExportOptions{All: true, PST: pstPath, EMLDir: mailDir})
	if len(rep.problems) > 0 {
		t.Fatalf("problems: %v", rep.problems)
	}
	got := map[string]ExportResult{}
	for _, r := range res {
		got[filepath.Base(r.Path)] = r
	}
	b := newStore(t)
	importPaths(t, b, ImportOptions{}, pstPath)
	back, _ := b.IDs(ctx, pstEntities)
	// 2 contacts, the task, 4 appointments (a series, its modified
	// instance, written inside it, and an occurrence of no instance,
	// written on its own), the mail.
	if r := got["out.pst"]; r.Records != len(live) || len(back) != len(live) || len(live) != 8 {
		t.Errorf("pst: %+v, %d live records, %d read back from the file, want 8", r, len(live), len(back))
	}
	if _, err := b.Get(ctx, contacts[1]); err == nil {
		t.Errorf("the deleted contact is in the PST")
	}
	if r := got["mail"]; r.Records != 1 || r.Removed != 0 {
		t.Errorf("eml: %+v, want 1 written", r)
	}
	edit(t, s, func(tx *crmstore.Tx) error { return tx.Delete(mails[0], "cli") })
	res, _ = exportReport(t, s, ExportOptions{All: true, PST: pstPath, EMLDir: mailDir})
	for _, r := range res {
		switch filepath.Base(r.Path) {
		case "out.pst":
			if r.Records != len(live)-1 {
				t.Errorf("pst after deleting the mail: %+v, want %d", r, len(live)-1)
			}
		case "mail":
			if r.Records != 0 || r.Removed != 1 {
				t.Errorf("eml after deleting the mail: %+v, want 0 written, 1 removed", r)
			}
		}
	}
}

// sorted returns ss sorted, for minus.
func sorted(ss []string) []string {
	slices.Sort(ss)
	return ss
}
