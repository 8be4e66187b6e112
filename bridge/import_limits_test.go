package bridge

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"crmbridge/crm"
)

// TestImportReportsWhatDataverseCannotHold: a value longer than its
// Dataverse column and a date before 1753 are each reported at import (a
// warning naming file, item, field and limit), and kept whole in the
// store; a value that fits is not reported, nor an unchanged re-import.
func TestImportReportsWhatDataverseCannotHold(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("Quarterly review ", 15) // 255 characters
	ics := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:ev-1\r\nDTSTAMP:20240101T000000Z\r\n" +
		"DTSTART:20240102T100000Z\r\nDTEND:20240102T110000Z\r\nSUMMARY:" + long + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	vcf := "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c-1\r\nN:Tradescant;John;;;\r\nFN:John Tradescant\r\nBDAY:1604-08-09\r\n" +
		"ADR;TYPE=WORK:PO Box 1234567890123456789012;;1 Garden Lane;Lambeth;;SE1;England\r\nEND:VCARD\r\n" +
		"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c-2\r\nN:Short;Sam;;;\r\nFN:Sam Short\r\nBDAY:1990-01-02\r\nEND:VCARD\r\n"
	os.WriteFile(filepath.Join(dir, "cal.ics"), []byte(ics), 0o644)
	os.WriteFile(filepath.Join(dir, "people.vcf"), []byte(vcf), 0o644)
	s := newStore(t)
	sum, p := importPaths(t, s, ImportOptions{}, dir)
	if len(p.errs) > 0 {
		t.Fatal(p.errs)
	}
	var msgs []string
	for _, w := range p.warns {
		msgs = append(msgs, w.Error())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range [][]string{
		{"cal.ics", "appointment.subject", "255 characters", "200"},
		{"people.vcf", "contact.birthdate", "1604-08-09", "1753-01-01"},
		{"people.vcf", "contact.address1_postofficebox", "20"},
	} {
		found := false
		for _, m := range msgs {
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(m, w)
			}
			found = found || ok
		}
		if !found {
			t.Errorf("no warning with %q in:\n%s", want, all)
		}
	}
	if len(msgs) != 3 || sum.Warnings != 3 || strings.Contains(all, "Short") {
		t.Errorf("%d warnings (summary %d), want 3:\n%s", len(msgs), sum.Warnings, all)
	}
	ids, _ := s.IDs(context.Background(), []crm.Entity{crm.Appointment})
	if v, _ := s.Get(context.Background(), ids[0]); v.Fields["subject"] != long {
		t.Errorf("subject not kept whole: %q", v.Fields["subject"])
	}
	_, p = importPaths(t, s, ImportOptions{Force: true}, dir)
	if len(p.warns) != 0 {
		t.Errorf("re-import of unchanged items warned again: %v", p.warns)
	}
}
