package ics

import (
	"bytes"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"

	"crmbridge/bridge/wintz"
)

// customZoneICS has a TZID that is neither an IANA nor a Windows name,
// defined only by its own VTIMEZONE: the European Union's rules (UTC+1,
// daylight time from the last Sunday of March 02:00 to the last Sunday of
// October 03:00), written by hand. The series is weekly at 09:00 local
// across the March change.
const customZoneICS = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//custom zone//EN\r\n" +
	"BEGIN:VTIMEZONE\r\nTZID:Büro Zeit\r\n" +
	"BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n" +
	"BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\n" +
	"END:VTIMEZONE\r\n" +
	"BEGIN:VEVENT\r\nUID:custom-zone@example.com\r\nDTSTAMP:20240101T000000Z\r\nSUMMARY:weekly in a custom zone\r\n" +
	"DTSTART;TZID=Büro Zeit:20240304T090000\r\nDTEND;TZID=Büro Zeit:20240304T100000\r\n" +
	"RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=8\r\nEXDATE;TZID=Büro Zeit:20240408T090000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"

// TestCustomZoneKept: the reader keeps a custom VTIMEZONE's rules on the
// record (timezoneblob: a TZDEFINITION, MS-OXOCAL 2.2.1.41), as rules a
// Windows zone of the same law has; the writer writes the times back as
// local times with that TZID and a VTIMEZONE that gives the same instants,
// and reading that file gives the same record.
func TestCustomZoneKept(t *testing.T) {
	recs, errs, fatal := readAll(t, customZoneICS, "custom.ics")
	if fatal != nil || len(errs) > 0 || len(recs) != 1 {
		t.Fatalf("read: %v %v, %d records", fatal, errs, len(recs))
	}
	f := recs[0].Record.Fields
	if f["timezone"] != "Büro Zeit" || f["scheduledstart"] != "2024-03-04T08:00:00Z" {
		t.Fatalf("timezone %q, start %s", f["timezone"], f["scheduledstart"])
	}
	b, err := hex.DecodeString(f["timezoneblob"])
	if err != nil || len(b) == 0 {
		t.Fatalf("timezoneblob %q", f["timezoneblob"])
	}
	key, rules, _, err := wintz.ParseDefinition(b)
	// The rule as Windows writes "W. Europe Standard Time" (hand-written
	// here, not derived): bias -60, daylight bias -60, into daylight time
	// the last (5th) Sunday (0) of March at 02:00, out of it the last
	// Sunday of October at 03:00.
	want := wintz.Rule{Year: 2024, Bias: -60, DstBias: -60, Dst: [8]uint16{0, 3, 0, 5, 2, 0, 0, 0}, Std: [8]uint16{0, 10, 0, 5, 3, 0, 0, 0}}
	if err != nil || key != "Büro Zeit" || len(rules) != 1 || rules[0] != want {
		t.Fatalf("definition: %q %+v %v, want one rule %+v", key, rules, err, want)
	}

	var buf bytes.Buffer
	if err := NewEncoder(&buf).Encode(recs[0].Record); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, s := range []string{"DTSTART;TZID=Büro Zeit:20240304T090000", "EXDATE;TZID=Büro Zeit:20240408T090000", "TZID:Büro Zeit"} {
		if !strings.Contains(out, s) {
			t.Errorf("written file lacks %q:\n%s", s, out)
		}
	}
	back, errs, fatal := readAll(t, out, "out.ics")
	if fatal != nil || len(errs) > 0 || len(back) != 1 {
		t.Fatalf("read back: %v %v, %d records", fatal, errs, len(back))
	}
	for _, k := range []string{"scheduledstart", "scheduledend", "timezone", "timezoneblob"} {
		if g := back[0].Record.Fields[k]; g != f[k] {
			t.Errorf("read back %s %q, want %q", k, g, f[k])
		}
	}
	lines := func(s string) []string { l := strings.Split(s, "\n"); slices.Sort(l); return l }
	if g := back[0].Record.Fields["recurrence"]; !slices.Equal(lines(g), lines(f["recurrence"])) {
		t.Errorf("read back recurrence %q, want %q", g, f["recurrence"])
	}
	// The written VTIMEZONE gives the instants of Europe/Berlin for local
	// times from the series' year on (a generated VTIMEZONE starts with
	// the first year it is used in).
	r := NewReader(strings.NewReader(out), "out.ics")
	for {
		if _, err := r.Next(); err != nil {
			break
		}
	}
	z, err := r.zoneFor("Büro Zeit")
	if _, ok := z.(*vtimezone); !ok || err != nil {
		t.Fatalf("written zone: %T %v", z, err)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for d := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC); d.Year() < 2030; d = d.AddDate(0, 0, 1) {
		if got, want := z.toUTC(d), time.Date(d.Year(), d.Month(), d.Day(), 12, 0, 0, 0, berlin).UTC(); !got.Equal(want) {
			t.Errorf("written zone: %s local is %s, want %s", d.Format("2006-01-02 15:04"), got, want)
			break
		}
	}
}
