package ics

import (
	"testing"
	"time"

	"crmbridge/crm"
)

// TestSchedule checks the iTIP version a VEVENT carries (RFC 5546 2.1.5):
// the calendar's METHOD, SEQUENCE and DTSTAMP; and that an item without
// DTSTART says nothing of its span (a REPLY or CANCEL must not turn an
// all-day event into a timed one), and that every span read satisfies
// crm.CheckSpan.
func TestSchedule(t *testing.T) {
	cal := func(method, body string) string {
		m := ""
		if method != "" {
			m = "METHOD:" + method + "\r\n"
		}
		return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + m + "BEGIN:VEVENT\r\nUID:u\r\n" + body + "END:VEVENT\r\nEND:VCALENDAR\r\n"
	}
	stamp := time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name, data    string
		method        string
		seq           int
		stamp         time.Time
		allDay, start string
		end, warning  string
	}{
		{name: "REQUEST", data: cal("request", "SEQUENCE:3\r\nDTSTAMP:20260102T090000Z\r\nDTSTART:20260105T100000Z\r\n"),
			method: "REQUEST", seq: 3, stamp: stamp, allDay: "false", start: "2026-01-05T10:00:00Z", end: "2026-01-05T10:00:00Z"},
		{name: "no METHOD, no SEQUENCE, no DTSTAMP", data: cal("", "DTSTART;VALUE=DATE:20260105\r\n"),
			allDay: "true", start: "2026-01-05T00:00:00Z", end: "2026-01-06T00:00:00Z"},
		{name: "REPLY without DTSTART", data: cal("REPLY", "SEQUENCE:1\r\nDTSTAMP:20260102T090000Z\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:b@x\r\n"),
			method: "REPLY", seq: 1, stamp: stamp},
		{name: "bad SEQUENCE", data: cal("PUBLISH", "SEQUENCE:-2\r\nDTSTART:20260105T100000Z\r\n"),
			method: "PUBLISH", allDay: "false", start: "2026-01-05T10:00:00Z", end: "2026-01-05T10:00:00Z", warning: `t.ics: line 4: SEQUENCE "-2" is not a non-negative integer, read as 0`},
		{name: "Outlook all-day date-times without DTEND: one day", data: cal("", "X-MICROSOFT-CDO-ALLDAYEVENT:TRUE\r\nDTSTART;TZID=Europe/Moscow:20260105T000000\r\n"),
			allDay: "true", start: "2026-01-05T00:00:00Z", end: "2026-01-06T00:00:00Z"},
		{name: "DATE start, DATE-TIME end: all-day to the end of that day", data: cal("", "DTSTART;VALUE=DATE:20061007\r\nDTEND;TZID=America/New_York:20061009T235900\r\n"),
			allDay: "true", start: "2006-10-07T00:00:00Z", end: "2006-10-10T00:00:00Z", warning: "t.ics: line 3: DTEND is a DATE-TIME but DTSTART a DATE: read as all-day, to the end of DTEND's day"},
	} {
		recs, errs, fatal := readAll(t, c.data, "t.ics")
		if fatal != nil || len(recs) != 1 {
			t.Fatalf("%s: %d records, %v", c.name, len(recs), fatal)
		}
		in := recs[0]
		s := in.Schedule
		if s == nil || s.Method != c.method || s.Sequence != c.seq || !s.Stamp.Equal(c.stamp) {
			t.Errorf("%s: schedule %+v", c.name, s)
		}
		f := in.Record.Fields
		if v, ok := f["isalldayevent"]; v != c.allDay || ok != (c.allDay != "") || f["scheduledstart"] != c.start || f["scheduledend"] != c.end {
			t.Errorf("%s: all-day %q (set %v), %s – %s; want %q, %s – %s", c.name, v, ok, f["scheduledstart"], f["scheduledend"], c.allDay, c.start, c.end)
		}
		if err := crm.CheckSpan(f); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		var warns []string
		for _, e := range errs {
			warns = append(warns, e.Error())
		}
		if c.warning != "" && (len(warns) != 1 || warns[0] != c.warning) || c.warning == "" && len(warns) != 0 {
			t.Errorf("%s: warnings %q, want %q", c.name, warns, c.warning)
		}
	}
}
