package ics

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"crmbridge/bridge/item"
	"crmbridge/fixtures"
	"crmbridge/internal/recovered"
)

// TestVTimezoneRules checks the offset computed from VTIMEZONE rules
// against Go's tz database for every day of 2023-2025 at 12:00 and around
// the transitions, for the zones as Outlook (1601 DTSTART) and as
// Apple/Mozilla (real DTSTART, UNTIL) write them.
func TestVTimezoneRules(t *testing.T) {
	const outlookEastern = `BEGIN:VCALENDAR
BEGIN:VTIMEZONE
TZID:Eastern Standard Time
BEGIN:STANDARD
DTSTART:16011104T020000
RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010311T020000
RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VTIMEZONE
TZID:Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
DTSTART:19810329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
DTSTART:19961027T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
DTSTART:19810927T030000
RRULE:FREQ=YEARLY;UNTIL=19950924T010000Z;BYMONTH=9;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
BEGIN:VTIMEZONE
TZID:Sydney
BEGIN:STANDARD
DTSTART:20080406T030000
RRULE:FREQ=YEARLY;BYMONTH=4;BYDAY=1SU
TZOFFSETFROM:+1100
TZOFFSETTO:+1000
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:20081005T020000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=1SU
TZOFFSETFROM:+1000
TZOFFSETTO:+1100
END:DAYLIGHT
END:VTIMEZONE
END:VCALENDAR
`
	r := NewReader(strings.NewReader(outlookEastern), "tz.ics")
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next = %v, want io.EOF", err)
	}
	for tzid, iana := range map[string]string{"Eastern Standard Time": "America/New_York", "Berlin": "Europe/Berlin", "Sydney": "Australia/Sydney"} {
		z := r.tzs[tzid]
		if z == nil {
			t.Fatalf("VTIMEZONE %s not read", tzid)
		}
		loc, _ := time.LoadLocation(iana)
		years := []int{2023, 2024, 2025}
		if tzid == "Berlin" {
			years = append(years, 1990) // before UNTIL: September end of DST
		}
		// RFC 5545 3.3.5: in the gap of a forward change the offset before
		// it applies; a repeated hour is its first occurrence.
		if tzid == "Eastern Standard Time" {
			for _, c := range []struct{ local, want string }{
				{"20240310T023000", "2024-03-10T07:30:00Z"}, // gap: EST
				{"20240310T030000", "2024-03-10T07:00:00Z"}, // EDT
				{"20241103T013000", "2024-11-03T05:30:00Z"}, // first 01:30, EDT
				{"20241103T020000", "2024-11-03T07:00:00Z"}, // EST
			} {
				n, _, _, _ := parseNaive(c.local)
				if got := z.toUTC(n).Format(time.RFC3339); got != c.want {
					t.Errorf("%s %s = %s, want %s", tzid, c.local, got, c.want)
				}
			}
		}
		for _, y := range years {
			for d := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() == y; d = d.Add(time.Hour) {
				if d.Hour() != 12 && d.Hour() != 1 && d.Hour() != 4 {
					continue
				}
				want := time.Date(d.Year(), d.Month(), d.Day(), d.Hour(), 0, 0, 0, loc).UTC()
				if got := z.toUTC(d); !got.Equal(want) {
					t.Errorf("%s: %s local = %s, want %s", tzid, d.Format("2006-01-02 15:04"), got, want)
				}
			}
		}
	}
}

func TestTruncated(t *testing.T) {
	data, err := os.ReadFile("testdata/truncated.ics")
	if err != nil {
		t.Fatal(err)
	}
	recs, errs, fatal := readAll(t, string(data), "truncated.ics")
	if fatal != nil || len(recs) != 1 || len(errs) != 1 {
		t.Fatalf("recs %d, errs %v, fatal %v", len(recs), errs, fatal)
	}
	if errs[0].Kept {
		t.Errorf("truncation lost an item: it must not be a warning")
	}
	if !errors.Is(errs[0], ErrTruncated) || errs[0].Pos != "truncated.ics: line 8" {
		t.Errorf("error %v (pos %q), want ErrTruncated at line 8", errs[0], errs[0].Pos)
	}
	// Cut after the last END:VEVENT: still truncated.
	cut := "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nDTSTART:20240101T100000Z\nEND:VEVENT\n"
	recs, errs, _ = readAll(t, cut, "cut.ics")
	if len(recs) != 1 || len(errs) != 1 || !errors.Is(errs[0], ErrTruncated) {
		t.Errorf("cut file: recs %d, errs %v", len(recs), errs)
	}
}

// TestBadLines: every problem is reported with its line, and the reader
// goes on.
func TestBadLines(t *testing.T) {
	in := strings.Join([]string{
		"BEGIN:VCALENDAR",        // 1
		"VERSION:2.0",            // 2
		"BEGIN:VEVENT",           // 3
		"UID:one",                // 4
		"this line has no colon", // 5
		"DTSTART;TZID=Nowhere/City:20240101T100000", // 6
		"X-BAD/NAME:1",       // 7
		"SUMMARY:kept",       // 8
		"END:VEVENT",         // 9
		"BEGIN:VTODO",        // 10
		"UID:two",            // 11
		"DTSTART:2024-01-01", // 12
		"BEGIN:VALARM",       // 13
		"TRIGGER:-PT5M",      // 14
		"END:VTODO",          // 15: missing END:VALARM
		"BEGIN:VFREEBUSY",    // 16
		"END:VFREEBUSY",      // 17
		"END:VCALENDAR",      // 18
	}, "\n")
	recs, errs, fatal := readAll(t, in, "bad.ics")
	if fatal != nil || len(recs) != 2 {
		t.Fatalf("recs %d, fatal %v", len(recs), fatal)
	}
	var got []string
	for _, e := range errs {
		got = append(got, e.Pos)
	}
	// The VEVENT with an unknown TZID waits for a VTIMEZONE until
	// END:VCALENDAR: its time zone problem (line 3) and itself come last.
	want := []string{"bad.ics: line 5", "bad.ics: line 7", "bad.ics: line 15", "bad.ics: line 10", "bad.ics: line 16", "bad.ics: line 3"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("error positions %v, want %v\n%v", got, want, errs)
	}
	for _, e := range errs {
		if !e.Kept {
			t.Errorf("%v: every item was kept, want a warning", e)
		}
	}
	if !errors.Is(errs[4], ErrSkipped) {
		t.Errorf("error %v, want ErrSkipped", errs[4])
	}
	if recs[1].Record.Fields["subject"] != "kept" || recs[1].Record.Fields["scheduledstart"] != "2024-01-01T10:00:00Z" {
		t.Errorf("event %v", recs[1].Record.Fields)
	}
	if recs[0].Record.Fields["reminder"] != "-PT5M" {
		t.Errorf("task %v", recs[0].Record.Fields)
	}
}

// TestVTimezoneAfterEvent: a TZID defined by a VTIMEZONE later in the
// calendar still resolves through it.
func TestVTimezoneAfterEvent(t *testing.T) {
	in := strings.Join([]string{
		"BEGIN:VCALENDAR",
		"BEGIN:VEVENT", "UID:late", "DTSTART;TZID=My Zone:20240115T120000", "END:VEVENT",
		"BEGIN:VEVENT", "UID:known", "DTSTART;TZID=Europe/Paris:20240115T120000", "END:VEVENT",
		"BEGIN:VTIMEZONE", "TZID:My Zone", "BEGIN:STANDARD", "DTSTART:19700101T000000",
		"TZOFFSETFROM:+0530", "TZOFFSETTO:+0530", "END:STANDARD", "END:VTIMEZONE",
		"END:VCALENDAR", ""}, "\r\n")
	recs, errs, fatal := readAll(t, in, "late.ics")
	if fatal != nil || len(errs) != 0 || len(recs) != 2 {
		t.Fatalf("recs %d, errs %v, fatal %v", len(recs), errs, fatal)
	}
	got := map[string]string{}
	for _, r := range recs {
		got[r.Record.Fields["uid"]] = r.Record.Fields["scheduledstart"]
	}
	if got["late"] != "2024-01-15T06:30:00Z" || got["known"] != "2024-01-15T11:00:00Z" {
		t.Errorf("starts %v", got)
	}
}

// TestManyBadLines: problems are reported in bounded memory.
func TestManyBadLines(t *testing.T) {
	in := "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\n" + strings.Repeat("garbage\n", 5000) + "END:VEVENT\nEND:VCALENDAR\n"
	recs, errs, fatal := readAll(t, in, "many.ics")
	if fatal != nil || len(recs) != 1 {
		t.Fatalf("recs %d, fatal %v", len(recs), fatal)
	}
	if len(errs) != maxQueued+1 || !strings.Contains(errs[len(errs)-1].Error(), "4000 more problems") {
		t.Errorf("%d errors, last %v", len(errs), errs[len(errs)-1])
	}
}

// TestNotICS: a file that is not iCalendar stops early with a fatal error
// instead of reporting every line.
func TestNotICS(t *testing.T) {
	in := strings.Repeat("hello world\n", 1000)
	_, errs, fatal := readAll(t, in, "notes.txt")
	if fatal == nil || len(errs) > 20 {
		t.Errorf("fatal %v after %d item errors", fatal, len(errs))
	}
	if _, _, fatal := readAll(t, "", "empty.ics"); fatal != nil {
		t.Errorf("empty file: %v", fatal)
	}
}

// TestStableKeys: reading the same file twice gives the same keys and
// versions; DTSTAMP does not change the version, SUMMARY does.
func TestStableKeys(t *testing.T) {
	a := "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTAMP:20240101T000000Z\nDTSTART:20240101T100000Z\nSUMMARY:x\nEND:VEVENT\nEND:VCALENDAR\n"
	b := strings.Replace(a, "DTSTAMP:20240101", "DTSTAMP:20240202", 1)
	c := strings.Replace(a, "SUMMARY:x", "SUMMARY:y", 1)
	ra, _, _ := readAll(t, a, "a.ics")
	ra2, _, _ := readAll(t, a, "a.ics")
	rb, _, _ := readAll(t, b, "b.ics")
	rc, _, _ := readAll(t, c, "c.ics")
	if ra[0].Source != ra2[0].Source || ra[0].Source != rb[0].Source {
		t.Errorf("sources differ: %+v %+v %+v", ra[0].Source, ra2[0].Source, rb[0].Source)
	}
	if !strings.HasPrefix(ra[0].Source.Key, "sha:") {
		t.Errorf("UID-less key %q", ra[0].Source.Key)
	}
	if rc[0].Source.Version == ra[0].Source.Version || rc[0].Source.Key == ra[0].Source.Key {
		t.Errorf("changed summary: same version or key: %+v %+v", rc[0].Source, ra[0].Source)
	}
}

// TestStreaming reads a generated calendar of 20,000 events and checks
// that the heap stays small (the reader keeps one component at a time).
func TestStreaming(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const n = 20000
	pr, pw := io.Pipe()
	go func() {
		fmt.Fprint(pw, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(pw, "BEGIN:VEVENT\r\nUID:%d@example.com\r\nDTSTART;TZID=W. Europe Standard Time:20240101T100000\r\nDURATION:PT1H\r\nSUMMARY:event %d %s\r\nEND:VEVENT\r\n", i, i, strings.Repeat("x", 200))
		}
		fmt.Fprint(pw, "END:VCALENDAR\r\n")
		pw.Close()
	}()
	r := NewReader(pr, "big.ics")
	var peak uint64
	var ms runtime.MemStats
	count := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		var ie *item.Error
		if errors.As(err, &ie) {
			t.Fatalf("unexpected %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		count++
		if count%10000 == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	if count != n {
		t.Errorf("read %d events, want %d", count, n)
	}
	if peak > 16<<20 {
		t.Errorf("heap %d MiB after GC while streaming", peak>>20)
	}
}

// FuzzReader feeds arbitrary bytes: the reader must not panic, must end,
// and every record must satisfy the invariants.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;TZID=X:20240101T100000\nEND:VEVENT\nEND:VCALENDAR\n",
		"BEGIN:VCALENDAR\nBEGIN:VTIMEZONE\nTZID:X\nBEGIN:STANDARD\nDTSTART:16010101T000000\nRRULE:FREQ=YEARLY;BYDAY=-5SU;BYMONTHDAY=-1\nTZOFFSETTO:+0100\nEND:STANDARD\nEND:VTIMEZONE\nBEGIN:VEVENT\nDTSTART;TZID=X:20240101T100000\nRRULE:FREQ=DAILY\nBEGIN:VALARM\nTRIGGER:-P1D\nEND:VALARM\nEND:VEVENT\nEND:VCALENDAR\n",
		"BEGIN:VCALENDAR\nBEGIN:VTODO\nDUE;VALUE=DATE:20240101\nPRIORITY:x\nEND:VTODO\n",
		"BEGIN:VCALENDAR\nVERSION:1.0\nBEGIN:VEVENT\nSUMMARY;QUOTED-PRINTABLE:a=\nb\nATTENDEE;\"x\":y\nEND:VEVENT\n",
	} {
		f.Add([]byte(s))
	}
	if dir := corpusDirIfPresent(); dir != "" {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if b, err := os.ReadFile(dir + "/" + e.Name()); err == nil && len(b) < 100<<10 {
				f.Add(b)
			}
		}
	}
	for _, name := range []string{"exchange_recurring.ics", "allday.ics", "todo.ics", "vcal10.vcs"} {
		if b, err := os.ReadFile("testdata/" + name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recovered.FailOnPanic(t)
		recs, errs, _ := readAll(t, string(data), "fuzz.ics")
		for _, in := range recs {
			checkInvariants(t, in)
		}
		for _, e := range errs {
			if !strings.HasPrefix(e.Pos, "fuzz.ics: line ") {
				t.Errorf("error without line: %v", e)
			}
		}
	})
}

func corpusDirIfPresent() string {
	dir := fixtures.Root() + "/../shared/corpus/ics"
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	return dir
}

// TestObservanceRuleOnsets checks the observance rules through rrule-go
// against dates read off a calendar.
func TestObservanceRuleOnsets(t *testing.T) {
	d := func(y int, m time.Month, day, h int) time.Time { return time.Date(y, m, day, h, 0, 0, 0, time.UTC) }
	tests := []struct {
		rule  string
		start time.Time
		from  int // seconds east of UTC before the onset
		year  int
		want  []time.Time
	}{
		// Outlook's 1601 DTSTART: rrule-go alone stops 292 years after it.
		{"FREQ=YEARLY;BYDAY=2SU;BYMONTH=3", d(1601, 1, 1, 2), -5 * 3600, 2025, []time.Time{d(2025, 3, 9, 2)}},
		// No BYMONTH: DTSTART's month.
		{"FREQ=YEARLY;BYDAY=-1SU", d(1996, 10, 27, 3), 7200, 2025, []time.Time{d(2025, 10, 26, 3)}},
		{"FREQ=YEARLY;BYMONTH=4;BYDAY=1SU;COUNT=3", d(1987, 4, 5, 2), -5 * 3600, 1989, []time.Time{d(1989, 4, 2, 2)}},
		{"FREQ=YEARLY;BYMONTH=4;BYDAY=1SU;COUNT=3", d(1987, 4, 5, 2), -5 * 3600, 1990, nil},
		// A DATE UNTIL includes its day.
		{"FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU;UNTIL=20061029", d(1967, 10, 29, 2), -4 * 3600, 2006, []time.Time{d(2006, 10, 29, 2)}},
		{"FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU;UNTIL=20061029", d(1967, 10, 29, 2), -4 * 3600, 2007, nil},
		// A UTC UNTIL is compared in local time: 02:00 CET is 01:00Z.
		{"FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU;UNTIL=20100328T010000Z", d(1981, 3, 29, 2), 3600, 2010, []time.Time{d(2010, 3, 28, 2)}},
		{"FREQ=YEARLY;BYMONTH=10;BYMONTHDAY=-1", d(2000, 10, 31, 3), 3600, 2025, []time.Time{d(2025, 10, 31, 3)}},
		{"FREQ=YEARLY;INTERVAL=2;BYMONTH=3;BYDAY=1SU", d(2020, 3, 1, 2), 0, 2021, nil},
		{"FREQ=YEARLY;INTERVAL=2;BYMONTH=3;BYDAY=1SU", d(2020, 3, 1, 2), 0, 2022, []time.Time{d(2022, 3, 6, 2)}},
		{"FREQ=YEARLY;INTERVAL=2;BYMONTH=3;BYDAY=1SU", d(2020, 3, 1, 2), 0, 2030, []time.Time{d(2030, 3, 3, 2)}},
		{"FREQ=YEARLY;INTERVAL=2;BYMONTH=3;BYDAY=1SU", d(2020, 3, 1, 2), 0, 2031, nil},
		{"FREQ=YEARLY;INTERVAL=3;BYMONTH=11;BYDAY=1SU", d(1601, 1, 1, 2), 0, 2026, nil},                            // 425 years: not a multiple of 3
		{"FREQ=YEARLY;INTERVAL=3;BYMONTH=11;BYDAY=1SU", d(1601, 1, 1, 2), 0, 2027, []time.Time{d(2027, 11, 7, 2)}}, // 426
	}
	for _, tt := range tests {
		r, err := parseObsRule(tt.rule, tt.start, tt.from)
		if err != nil {
			t.Errorf("%s: %v", tt.rule, err)
			continue
		}
		if got := r.onsets(tt.year); !slices.Equal(got, tt.want) {
			t.Errorf("%s from %s, onsets in %d = %v, want %v", tt.rule, tt.start, tt.year, got, tt.want)
		}
	}
	for _, bad := range []string{"FREQ=DAILY", "FREQ=HOURLY;BYMONTH=3", "FREQ=YEARLY;BYMONTH=13", "FREQ=YEARLY;INTERVAL=5000"} {
		if _, err := parseObsRule(bad, d(2000, 1, 1, 0), 0); err == nil {
			t.Errorf("%s: accepted, want an error", bad)
		}
	}
}

// An ORGANIZER or ATTENDEE with neither an address nor a CN is no party
// (crm.Party's rule); it is left out with a warning, not silently. One
// with a CN only is a party (the importer gives it the name as address).
func TestPartyWithoutAddressOrName(t *testing.T) {
	in := strings.Join([]string{
		"BEGIN:VCALENDAR", "VERSION:2.0", "BEGIN:VEVENT", "UID:p", "DTSTART:20240101T100000Z", // 1-5
		"ORGANIZER:",                      // 6
		"ATTENDEE;PARTSTAT=ACCEPTED:",     // 7
		"ATTENDEE;CN=Joe:",                // 8
		"ATTENDEE:mailto:ann@example.com", // 9
		"END:VEVENT", "END:VCALENDAR",
	}, "\r\n")
	recs, errs, fatal := readAll(t, in, "p.ics")
	if fatal != nil || len(recs) != 1 {
		t.Fatalf("recs %d, fatal %v", len(recs), fatal)
	}
	var warns []string
	for _, e := range errs {
		if !e.Kept {
			t.Errorf("not kept: %v", e)
		}
		warns = append(warns, e.Error())
	}
	got := strings.Join(warns, "\n")
	for _, want := range []string{"ORGANIZER without an address or a CN: left out", "ATTENDEE without an address or a CN: left out"} {
		if !strings.Contains(got, want) {
			t.Errorf("no warning %q in %q", want, got)
		}
	}
	if len(errs) != 2 {
		t.Errorf("warnings %q, want 2", warns)
	}
	if n := len(recs[0].Record.Parties); n != 2 {
		t.Errorf("parties %+v, want Joe and ann", recs[0].Record.Parties)
	}
}
