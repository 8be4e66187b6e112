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

// TestEscapedTZID checks that a TZID is matched after RFC 5545 rules: the
// VTIMEZONE's TZID is a text value (3.3.11: "\," is a comma) while the
// TZID parameter is quoted when it holds a comma (3.2); writers also leave
// it unquoted, escaped or not. All name the same zone, defined here with
// Pacific rules (UTC-8 in winter), so 10:00 local is 18:00Z, not 10:00Z
// as floating time.
func TestEscapedTZID(t *testing.T) {
	const vtz = "BEGIN:VTIMEZONE\r\nTZID:Pacific Time (US & Canada)\\, Tijuana\r\n" +
		"BEGIN:STANDARD\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:-0700\r\nTZOFFSETTO:-0800\r\nRRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11\r\nEND:STANDARD\r\n" +
		"BEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:-0800\r\nTZOFFSETTO:-0700\r\nRRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
	for _, param := range []string{
		`TZID="Pacific Time (US & Canada), Tijuana"`,
		`TZID=Pacific Time (US & Canada)\, Tijuana`,
		`TZID=Pacific Time (US & Canada), Tijuana`,
		`TZID="Pacific Time (US & Canada)\, Tijuana"`,
	} {
		t.Run(param, func(t *testing.T) {
			in := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n" + vtz +
				"BEGIN:VEVENT\r\nUID:tz\r\nDTSTAMP:20240101T000000Z\r\nDTSTART;" + param + ":20240115T100000\r\n" +
				"DTEND;" + param + ":20240715T110000\r\nSUMMARY:s\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
			recs, errs, fatal := readAll(t, in, "t.ics")
			if fatal != nil || len(errs) != 0 || len(recs) != 1 {
				t.Fatalf("%d items, errors %v, fatal %v", len(recs), errs, fatal)
			}
			f := recs[0].Record.Fields
			if f["scheduledstart"] != "2024-01-15T18:00:00Z" || f["scheduledend"] != "2024-07-15T18:00:00Z" {
				t.Errorf("start %s end %s", f["scheduledstart"], f["scheduledend"])
			}
			if f["timezone"] != "Pacific Time (US & Canada), Tijuana" {
				t.Errorf("timezone %q", f["timezone"])
			}
		})
	}
}
