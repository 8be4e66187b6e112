package ics

import (
	"strings"
	"testing"
)

// TestByteOrderMark checks that a UTF-8 byte order mark at the start of the
// file, or of a calendar appended to another, is not read as part of a
// line: no warning, no event lost.
func TestByteOrderMark(t *testing.T) {
	cal := func(uid string) string {
		return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
			"\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240101T100000Z\r\nSUMMARY:s\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	}
	for _, tc := range []struct{ name, in string }{
		{"start", "\ufeff" + cal("a") + cal("b")},
		{"appended", "\ufeff" + cal("a") + "\ufeff" + cal("b")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, errs, fatal := readAll(t, tc.in, "t.ics")
			if fatal != nil || len(errs) != 0 || len(recs) != 2 {
				t.Fatalf("%d items, errors %v, fatal %v", len(recs), errs, fatal)
			}
			if a, b := recs[0].Record.Fields["uid"], recs[1].Record.Fields["uid"]; a != "a" || b != "b" {
				t.Errorf("uids %q %q", a, b)
			}
		})
	}
}

// TestOversizedValue checks the per-value limit: a folded ATTACH longer
// than maxLineBytes is skipped whole with one warning, and the event keeps
// its other properties.
func TestOversizedValue(t *testing.T) {
	if testing.Short() {
		t.Skip("reads ~10 MB")
	}
	fold := " " + strings.Repeat("QUFB", 18) + "Q\r\n"
	in := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:big\r\nDTSTAMP:20240101T000000Z\r\n" +
		"ATTACH;ENCODING=BASE64;VALUE=BINARY;FMTTYPE=image/jpeg;X-FILENAME=a.jpg:QUFB\r\n" +
		strings.Repeat(fold, maxLineBytes/(len(fold)-3)+100) +
		"DTSTART:20240101T100000Z\r\nSUMMARY:kept\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	recs, errs, fatal := readAll(t, in, "t.ics")
	if fatal != nil || len(recs) != 1 {
		t.Fatalf("%d items, errors %v, fatal %v", len(recs), errs, fatal)
	}
	f := recs[0].Record.Fields
	if f["subject"] != "kept" || f["scheduledstart"] != "2024-01-01T10:00:00Z" || len(recs[0].Record.Attachments) != 0 {
		t.Errorf("fields %v, %d attachments", f, len(recs[0].Record.Attachments))
	}
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "t.ics: line 7: content line too long") {
		t.Errorf("errors %v", errs)
	}
}
