package bridge

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"crmbridge/crm"
	"crmbridge/crmstore"
	"crmbridge/pst"
)

// Outlook meeting objects for one occurrence of a series (MS-OXOCAL
// 2.2.1.27: a PidLidGlobalObjectId whose instance date is not zero). The
// series: every Monday at 10:00 in Berlin, five times from 2026-03-16;
// Europe/Berlin moves to summer time on 2026-03-29, so the first two are
// at 09:00Z and the third (2026-03-30) at 08:00Z.
var (
	occurSeries = meeting{class: "IPM.Schedule.Meeting.Request", seq: 0, owner: mt0, subject: "Weekly", loc: "Room A",
		start: time.Date(2026, 3, 16, 9, 0, 0, 0, time.UTC), end: time.Date(2026, 3, 16, 10, 0, 0, 0, time.UTC),
		from: olga, to: []person{olga, bob}, state: 3, modified: mt0,
		// The pattern as an iCalendar rule (as crmbridge's own PSTs keep
		// one), so that both forms of the series give the same record.
		extra: []oprop{{setApptGUID, 0x8232, "RRULE:FREQ=WEEKLY;COUNT=5"}, {setApptGUID, 0x8234, "Europe/Berlin"}}}
	occurSeriesICS = itipMsg("REQUEST", 0, "20260101T090000Z", "DTSTART;TZID=Europe/Berlin:20260316T100000", "DTEND;TZID=Europe/Berlin:20260316T110000",
		"RRULE:FREQ=WEEKLY;COUNT=5", "SUMMARY:Weekly", "LOCATION:Room A", orgLine, "ATTENDEE;CN=Bob:mailto:bob@example.com")
	// third is the date of the third occurrence.
	third = time.Date(2026, 3, 30, 0, 0, 0, 0, time.UTC)
	// tenOClock is PidLidStartRecurrenceTime (PSETID_Meeting 0x000E) of a
	// series starting at 10:00 local time: hours << 12 | minutes << 6 |
	// seconds.
	tenOClock = oprop{setMeetingGUID, 0x000E, int32(10 << 12)}
)

// occurrence returns m as the meeting object of the occurrence on day d
// (the series' start time and zone, PidLidStartRecurrenceTime).
func occurrence(m meeting, d time.Time) meeting {
	m.instance = d
	m.extra = []oprop{{setApptGUID, 0x8234, "Europe/Berlin"}, tenOClock}
	return m
}

// occurCase is a sequence of iTIP messages, as iCalendar and as Outlook
// meeting objects, and the appointments they leave: by recurrence id,
// some fields and the parties ("role address status").
type occurCase struct {
	name    string
	ics     []string
	outlook []meeting
	want    map[string]map[string]string
	people  map[string][]string
	// problems is how many items each form leaves not imported.
	problems int
}

// TestOutlookOccurrence applies Outlook meeting objects that concern one
// occurrence of a series to that occurrence (RECURRENCE-ID, MS-OXCICAL
// 2.1.3.1.1.20.20), as the same messages in iCalendar do: a cancellation
// of the third occurrence cancels it and leaves the series; a request for
// one occurrence moves it; a response to it changes its participation
// only; the series' zone gives the instant across a DST change; an all-day
// series gives a date. Each case is imported as .ics files, as .msg files
// and as one PST, and the three stores must hold the same appointments.
func TestOutlookOccurrence(t *testing.T) {
	at := mt0.Add(2 * time.Hour)
	cancel3 := occurrence(occurSeries, third)
	cancel3.class, cancel3.seq, cancel3.owner, cancel3.state = "IPM.Schedule.Meeting.Canceled", 1, mt0.Add(time.Hour), 7
	cancel3.start, cancel3.end = time.Date(2026, 3, 30, 8, 0, 0, 0, time.UTC), time.Date(2026, 3, 30, 9, 0, 0, 0, time.UTC)
	cancel3ICS := itipMsg("CANCEL", 1, "20260101T100000Z", "RECURRENCE-ID;TZID=Europe/Berlin:20260330T100000",
		"DTSTART;TZID=Europe/Berlin:20260330T100000", "DTEND;TZID=Europe/Berlin:20260330T110000", "SUMMARY:Weekly", "LOCATION:Room A",
		"STATUS:CANCELLED", orgLine, "ATTENDEE;CN=Bob:mailto:bob@example.com")

	move3 := occurrence(occurSeries, third)
	move3.seq, move3.owner, move3.subject, move3.loc = 1, mt0.Add(time.Hour), "Weekly (moved)", "Room B"
	move3.start, move3.end = time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC), time.Date(2026, 3, 31, 13, 0, 0, 0, time.UTC)
	move3ICS := itipMsg("REQUEST", 1, "20260101T100000Z", "RECURRENCE-ID;TZID=Europe/Berlin:20260330T100000",
		"DTSTART;TZID=Europe/Berlin:20260331T140000", "DTEND;TZID=Europe/Berlin:20260331T150000", "SUMMARY:Weekly (moved)", "LOCATION:Room B",
		orgLine, "ATTENDEE;CN=Bob:mailto:bob@example.com")
	accept3 := answer(move3, "IPM.Schedule.Meeting.Resp.Pos", "Accepted: ", bob, at)
	accept3ICS := itipMsg("REPLY", 1, "20260101T110000Z", "RECURRENCE-ID;TZID=Europe/Berlin:20260330T100000", orgLine, bobSays("ACCEPTED"))
	// The same answer without the occurrence held apart.
	accept3Only := answer(occurrence(occurSeries, third), "IPM.Schedule.Meeting.Resp.Pos", "Accepted: ", bob, at)
	accept3OnlyICS := itipMsg("REPLY", 0, "20260101T110000Z", "RECURRENCE-ID;TZID=Europe/Berlin:20260330T100000", orgLine, bobSays("ACCEPTED"))

	// Without PidLidStartRecurrenceTime the occurrence's own start gives
	// the time of day: right for an occurrence not moved.
	cancel2 := cancel3
	cancel2.instance = time.Date(2026, 3, 23, 0, 0, 0, 0, time.UTC)
	cancel2.start, cancel2.end = time.Date(2026, 3, 23, 9, 0, 0, 0, time.UTC), time.Date(2026, 3, 23, 10, 0, 0, 0, time.UTC)
	cancel2.extra = []oprop{{setApptGUID, 0x8234, "Europe/Berlin"}}
	cancel2ICS := itipMsg("CANCEL", 1, "20260101T100000Z", "RECURRENCE-ID;TZID=Europe/Berlin:20260323T100000",
		"DTSTART;TZID=Europe/Berlin:20260323T100000", "DTEND;TZID=Europe/Berlin:20260323T110000", "SUMMARY:Weekly", "LOCATION:Room A",
		"STATUS:CANCELLED", orgLine, "ATTENDEE;CN=Bob:mailto:bob@example.com")
	// With PidLidExceptionReplaceTime, that is the original start.
	cancel4 := cancel3
	cancel4.instance = time.Date(2026, 4, 6, 0, 0, 0, 0, time.UTC)
	cancel4.start, cancel4.end = time.Date(2026, 4, 6, 8, 0, 0, 0, time.UTC), time.Date(2026, 4, 6, 9, 0, 0, 0, time.UTC)
	cancel4.extra = []oprop{{setApptGUID, 0x8234, "Europe/Berlin"}, {setApptGUID, 0x8228, time.Date(2026, 4, 6, 8, 0, 0, 0, time.UTC)}}
	cancel4ICS := itipMsg("CANCEL", 1, "20260101T100000Z", "RECURRENCE-ID:20260406T080000Z",
		"DTSTART;TZID=Europe/Berlin:20260406T100000", "DTEND;TZID=Europe/Berlin:20260406T110000", "SUMMARY:Weekly", "LOCATION:Room A",
		"STATUS:CANCELLED", orgLine, "ATTENDEE;CN=Bob:mailto:bob@example.com")

	allDay := meeting{class: "IPM.Schedule.Meeting.Request", seq: 0, owner: mt0, subject: "Holiday", from: olga, to: []person{olga, bob}, state: 3, modified: mt0,
		start: time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC), end: time.Date(2026, 3, 17, 0, 0, 0, 0, time.UTC),
		extra: []oprop{{setApptGUID, 0x8232, "RRULE:FREQ=WEEKLY;COUNT=5"}, {setApptGUID, 0x8215, true}}}
	allDayICS := itipMsg("REQUEST", 0, "20260101T090000Z", "DTSTART;VALUE=DATE:20260316", "DTEND;VALUE=DATE:20260317",
		"RRULE:FREQ=WEEKLY;COUNT=5", "SUMMARY:Holiday", orgLine, "ATTENDEE;CN=Bob:mailto:bob@example.com")
	allDayCancel := allDay
	allDayCancel.class, allDayCancel.seq, allDayCancel.owner, allDayCancel.state, allDayCancel.instance = "IPM.Schedule.Meeting.Canceled", 1, mt0.Add(time.Hour), 7, third
	allDayCancel.start, allDayCancel.end = third, third.AddDate(0, 0, 1)
	// Outlook's original start of an all-day occurrence is local midnight
	// in UTC (Berlin: 22:00Z the day before); the date is the instance's.
	allDayCancel.extra = []oprop{{setApptGUID, 0x8215, true}, {setApptGUID, 0x8228, time.Date(2026, 3, 29, 22, 0, 0, 0, time.UTC)}}
	allDayCancelICS := itipMsg("CANCEL", 1, "20260101T100000Z", "RECURRENCE-ID;VALUE=DATE:20260330", "DTSTART;VALUE=DATE:20260330", "DTEND;VALUE=DATE:20260331",
		"SUMMARY:Holiday", "STATUS:CANCELLED", orgLine, "ATTENDEE;CN=Bob:mailto:bob@example.com")

	series := map[string]string{"subject": "Weekly", "scheduledstart": "2026-03-16T09:00:00Z", "recurrence": "RRULE:FREQ=WEEKLY;COUNT=5", "statecode": "3"}
	seriesPeople := []string{"5 bob@example.com ", "7 olga@example.com "}
	cases := []occurCase{
		{
			name: "a cancellation of the third occurrence", ics: []string{occurSeriesICS, cancel3ICS}, outlook: []meeting{occurSeries, cancel3},
			want: map[string]map[string]string{"": series,
				"2026-03-30T08:00:00Z": {"subject": "Weekly", "scheduledstart": "2026-03-30T08:00:00Z", "statecode": "2", "statuscode": "4", "recurrence": ""}},
		},
		{
			name: "a request moving the third occurrence, and a response to it", ics: []string{occurSeriesICS, move3ICS, accept3ICS},
			outlook: []meeting{occurSeries, move3, accept3},
			want: map[string]map[string]string{"": series,
				"2026-03-30T08:00:00Z": {"subject": "Weekly (moved)", "location": "Room B", "scheduledstart": "2026-03-31T12:00:00Z", "scheduledend": "2026-03-31T13:00:00Z", "statecode": "3"}},
			people: map[string][]string{"": seriesPeople, "2026-03-30T08:00:00Z": {"5 bob@example.com ACCEPTED", "7 olga@example.com "}},
		},
		{
			// An answer for an occurrence the store holds only inside its
			// series: the occurrence becomes a record of its own (the
			// series at that instant), whose participation it changes;
			// the series' is left as it is.
			name: "a response to an occurrence not held apart", ics: []string{occurSeriesICS, accept3OnlyICS}, outlook: []meeting{occurSeries, accept3Only},
			want: map[string]map[string]string{"": series,
				"2026-03-30T08:00:00Z": {"subject": "Weekly", "location": "Room A", "scheduledstart": "2026-03-30T08:00:00Z", "scheduledend": "2026-03-30T09:00:00Z",
					"timezone": "Europe/Berlin", "recurrence": "", "statecode": "3"}},
			people: map[string][]string{"": seriesPeople, "2026-03-30T08:00:00Z": {"5 bob@example.com ACCEPTED", "7 olga@example.com "}},
		},
		{
			name: "without the series' start time, before the change to summer time", ics: []string{occurSeriesICS, cancel2ICS}, outlook: []meeting{occurSeries, cancel2},
			want: map[string]map[string]string{"": series, "2026-03-23T09:00:00Z": {"scheduledstart": "2026-03-23T09:00:00Z", "statecode": "2"}},
		},
		{
			name: "with the original start", ics: []string{occurSeriesICS, cancel4ICS}, outlook: []meeting{occurSeries, cancel4},
			want: map[string]map[string]string{"": series, "2026-04-06T08:00:00Z": {"scheduledstart": "2026-04-06T08:00:00Z", "statecode": "2"}},
		},
		{
			name: "an all-day series", ics: []string{allDayICS, allDayCancelICS}, outlook: []meeting{allDay, allDayCancel},
			want: map[string]map[string]string{"": {"subject": "Holiday", "isalldayevent": "true", "statecode": "3"},
				"2026-03-30T00:00:00Z": {"subject": "Holiday", "isalldayevent": "true", "scheduledstart": "2026-03-30T00:00:00Z", "statecode": "2"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			var icsPaths, msgPaths []string
			for i, m := range c.ics {
				p := filepath.Join(dir, fmt.Sprintf("%d.ics", i))
				if err := os.WriteFile(p, []byte(m), 0o600); err != nil {
					t.Fatal(err)
				}
				icsPaths = append(icsPaths, p)
			}
			for i, m := range c.outlook {
				p := filepath.Join(dir, fmt.Sprintf("%d.msg", i))
				if err := os.WriteFile(p, m.msgFile().data, 0o600); err != nil {
					t.Fatal(err)
				}
				msgPaths = append(msgPaths, p)
			}
			pstPath := filepath.Join(dir, "meetings.pst")
			writeMeetingsPST(t, pstPath, c.outlook...)
			var stores []map[string]string
			for _, form := range []struct {
				name  string
				paths []string
			}{{"ics", icsPaths}, {"msg", msgPaths}, {"pst", []string{pstPath}}} {
				s := newStore(t)
				sum, p := importPaths(t, s, ImportOptions{}, form.paths...)
				notImported := 0
				for _, l := range sum.Ledger {
					if !l.Balanced() {
						t.Errorf("%s: ledger %+v", form.name, l)
					}
					notImported += l.Found - l.Created - l.Merged
				}
				if notImported != c.problems || len(p.errs) != c.problems {
					t.Errorf("%s: %d not imported, problems %v; want %d", form.name, notImported, p.errs, c.problems)
				}
				recs := occurRecords(t, s)
				if len(recs) != len(c.want) {
					t.Errorf("%s: %d appointments %v, want %d", form.name, len(recs), slices.Sorted(mapKeys(recs)), len(c.want))
				}
				for rid, want := range c.want {
					fields, people, _ := appointmentState(t, s, rid)
					for k, w := range want {
						if fields[k] != w {
							t.Errorf("%s: occurrence %q: %s = %q, want %q", form.name, rid, k, fields[k], w)
						}
					}
					if wp, ok := c.people[rid]; ok && fmt.Sprint(people) != fmt.Sprint(wp) {
						t.Errorf("%s: occurrence %q: parties %q, want %q", form.name, rid, people, wp)
					}
				}
				stores = append(stores, recs)
			}
			for i, name := range []string{"msg", "pst"} {
				for rid, a := range stores[0] {
					if b := stores[i+1][rid]; a != b {
						t.Errorf("occurrence %q: ics and %s differ:\n%s\n%s", rid, name, a, b)
					}
				}
			}
		})
	}
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// occurRecords returns every appointment of s by recurrence id: its fields
// and parties as text, for comparing two stores. The global object id is
// left out: an iCalendar message whose UID is not one has none.
func occurRecords(t *testing.T, s *crmstore.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range occurRecordList(t, s) {
		out[r.rid] = r.text
	}
	return out
}

type occurRecord struct{ key, rid, text string }

func occurRecordList(t *testing.T, s *crmstore.Store) []occurRecord {
	t.Helper()
	ctx := context.Background()
	ls, err := s.List(ctx, crmstore.ListFilter{Entities: []crm.Entity{crm.Appointment}})
	if err != nil {
		t.Fatal(err)
	}
	var out []occurRecord
	for _, r := range ls {
		v, err := s.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, k := range []string{"uid", "recurrenceid", "subject", "location", "scheduledstart", "scheduledend", "isalldayevent", "timezone",
			"recurrence", "statecode", "statuscode", "ismeeting"} {
			fmt.Fprintf(&b, "%s=%q ", k, v.Fields[k])
		}
		if v.Fields["seriesid"] != "" {
			b.WriteString("in a series ")
		}
		var ps []string
		for _, p := range v.Parties {
			ps = append(ps, fmt.Sprintf("%d %s %s", p.Role, strings.ToLower(p.Address), p.Status))
		}
		slices.Sort(ps)
		fmt.Fprintf(&b, "parties %q", ps)
		out = append(out, occurRecord{key: v.Fields["uid"] + "/" + v.Fields["recurrenceid"], rid: v.Fields["recurrenceid"], text: b.String()})
	}
	return out
}

// TestOutlookOccurrenceID maps the instance date of a meeting object's
// global object id to its RECURRENCE-ID (MS-OXCICAL 2.1.3.1.1.20.20) and
// keys it to that occurrence of the series' UID: PidLidExceptionReplaceTime
// when the object has it, else the instance date at the series' start time
// (PidLidStartRecurrenceTime; without it, the object's own start time) in
// the series' zone; a date for an all-day series.
func TestOutlookOccurrenceID(t *testing.T) {
	berlin := oprop{setApptGUID, 0x8234, "Europe/Berlin"}
	req := meeting{class: "IPM.Schedule.Meeting.Request", subject: "Weekly", from: olga, to: []person{olga, bob}, state: 3, modified: mt0,
		start: time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC), end: time.Date(2026, 3, 31, 13, 0, 0, 0, time.UTC)}
	with := func(d time.Time, extra ...oprop) meeting {
		m := req
		m.instance, m.extra = d, extra
		return m
	}
	unmoved := with(time.Date(2026, 3, 23, 0, 0, 0, 0, time.UTC), berlin)
	unmoved.start = time.Date(2026, 3, 23, 9, 0, 0, 0, time.UTC)
	allDay := with(third, oprop{setApptGUID, 0x8215, true})
	allDay.start, allDay.end = time.Date(2026, 3, 29, 22, 0, 0, 0, time.UTC), time.Date(2026, 3, 30, 22, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		m    meeting
		rid  string
	}{
		{"the series itself", with(time.Time{}, berlin, tenOClock), ""},
		{"instance date at the series' start time, summer time", with(third, berlin, tenOClock), "2026-03-30T08:00:00Z"},
		{"instance date at the series' start time, winter time", with(time.Date(2026, 3, 23, 0, 0, 0, 0, time.UTC), berlin, tenOClock), "2026-03-23T09:00:00Z"},
		{"instance date at the series' start time in New York", with(third, oprop{setApptGUID, 0x8234, "Eastern Standard Time"}, tenOClock), "2026-03-30T14:00:00Z"},
		{"instance date at the series' start time, no zone: UTC", with(third, tenOClock), "2026-03-30T10:00:00Z"},
		{"instance date at the object's own start time", unmoved, "2026-03-23T09:00:00Z"},
		{"the original start wins", with(third, berlin, tenOClock, oprop{setApptGUID, 0x8228, time.Date(2026, 3, 30, 7, 30, 0, 0, time.UTC)}), "2026-03-30T07:30:00Z"},
		{"an all-day occurrence is a date", allDay, "2026-03-30T00:00:00Z"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.m.fromMSG(t)
			if got := in.Record.Fields["recurrenceid"]; got != c.rid {
				t.Errorf("recurrenceid %q, want %q", got, c.rid)
			}
			if in.Record.Fields["uid"] != "m1" {
				t.Errorf("uid %q, want the series' m1", in.Record.Fields["uid"])
			}
			wantKey := "uid:m1"
			if c.rid != "" {
				rid, _ := time.Parse(time.RFC3339, c.rid)
				wantKey += "/" + rid.Format("20060102T150405Z")
			}
			if !slices.Contains(in.Keys, wantKey) {
				t.Errorf("keys %q, want %q", in.Keys, wantKey)
			}
		})
	}
}

// TestPSTExportOccurrenceGOID exports series with overrides (from Outlook
// meeting objects and from iCalendar, timed in Berlin and all-day) to a
// PST: each override, an exception inside its series, carries a global
// object id with its instance date and PidLidExceptionReplaceTime, its
// clean id none (MS-OXOCAL 2.2.1.27, 2.2.1.28, 2.2.10.2.5), the series an
// id without instance date; imported again into a fresh store, every
// override is keyed to its occurrence as before, the cancelled one (a
// deleted instance in the PST) included.
func TestPSTExportOccurrenceGOID(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i, m := range []meeting{occurSeries, func() meeting {
		m := occurrence(occurSeries, third)
		m.seq, m.owner, m.subject = 1, mt0.Add(time.Hour), "Weekly (moved)"
		m.start, m.end = time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC), time.Date(2026, 3, 31, 13, 0, 0, 0, time.UTC)
		return m
	}(), func() meeting {
		m := occurrence(occurSeries, time.Date(2026, 3, 23, 0, 0, 0, 0, time.UTC))
		m.class, m.seq, m.owner, m.state = "IPM.Schedule.Meeting.Canceled", 1, mt0.Add(time.Hour), 7
		m.start, m.end = time.Date(2026, 3, 23, 9, 0, 0, 0, time.UTC), time.Date(2026, 3, 23, 10, 0, 0, 0, time.UTC)
		return m
	}()} {
		p := filepath.Join(dir, fmt.Sprintf("%d.msg", i))
		if err := os.WriteFile(p, m.msgFile().data, 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	ics := filepath.Join(dir, "h.ics")
	writeFile(t, ics, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"+
		"BEGIN:VEVENT\r\nUID:h1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20260316\r\nDTEND;VALUE=DATE:20260317\r\n"+
		"RRULE:FREQ=WEEKLY;COUNT=5\r\nSUMMARY:Holiday\r\nEND:VEVENT\r\n"+
		"BEGIN:VEVENT\r\nUID:h1\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID;VALUE=DATE:20260330\r\nDTSTART;VALUE=DATE:20260331\r\n"+
		"DTEND;VALUE=DATE:20260401\r\nSUMMARY:Holiday (moved)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
	paths = append(paths, ics)
	a := newStore(t)
	if _, p := importPaths(t, a, ImportOptions{}, paths...); len(p.errs) > 0 {
		t.Fatal(p.errs)
	}
	before := occurRecordsByUID(t, a)
	if len(before) != 5 {
		t.Fatalf("%d appointments before the export, want 5: %v", len(before), before)
	}
	out := filepath.Join(t.TempDir(), "out.pst")
	export(t, a, ExportOptions{All: true, PST: out})

	f, err := pst.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	wantDates := map[string]string{"Weekly (moved)": "2026-03-30", "Holiday (moved)": "2026-03-30"}
	wantReplace := map[string]string{"Weekly (moved)": "2026-03-30T08:00:00Z", "Holiday (moved)": "2026-03-30T00:00:00Z"}
	seen := 0
	for it, err := range f.Items(context.Background()) {
		if err != nil || it.Appointment == nil {
			continue
		}
		if g := it.Appointment.GlobalObjectID; len(g) < 20 || !bytes.Equal(g[16:20], []byte{0, 0, 0, 0}) {
			t.Errorf("series %q: global object id % x, want no instance date", it.Subject, g)
		}
		for _, at := range it.Attachments {
			if !isOccurrence(it, at) {
				continue
			}
			seen++
			o := at.Message.Appointment
			name := at.Message.Subject
			if got := o.InstanceDate.Format(time.DateOnly); o.InstanceDate.IsZero() || got != wantDates[name] {
				t.Errorf("exception %q: instance date %v, want %s", name, o.InstanceDate, wantDates[name])
			}
			if got := o.ExceptionReplaceTime.UTC().Format(time.RFC3339); got != wantReplace[name] {
				t.Errorf("exception %q: PidLidExceptionReplaceTime %s, want %s", name, got, wantReplace[name])
			}
			if c := o.CleanGlobalObjectID; len(c) < 20 || !bytes.Equal(c[16:20], []byte{0, 0, 0, 0}) || !bytes.Equal(c[:16], o.GlobalObjectID[:16]) || !bytes.Equal(c[20:], o.GlobalObjectID[20:]) {
				t.Errorf("exception %q: clean id % x is not the id % x without its date", name, c, o.GlobalObjectID)
			}
			if o.UID != it.Appointment.UID {
				t.Errorf("exception %q: UID %q, series %q", name, o.UID, it.Appointment.UID)
			}
		}
	}
	if seen != 2 {
		t.Errorf("%d exceptions in the PST, want 2", seen)
	}

	b := newStore(t)
	if _, p := importPaths(t, b, ImportOptions{}, out); len(p.errs) > 0 {
		t.Fatal(p.errs)
	}
	after := occurRecordsByUID(t, b)
	for k, x := range before {
		if y := after[k]; x != y {
			t.Errorf("%s after PST → store:\n%s\n%s", k, x, y)
		}
	}
	if len(after) != len(before) {
		t.Errorf("%d appointments after the round trip, want %d", len(after), len(before))
	}
}

// occurRecordsByUID is occurRecords of several series: keyed by UID and
// recurrence id.
func occurRecordsByUID(t *testing.T, s *crmstore.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range occurRecordList(t, s) {
		out[r.key] = r.text
	}
	return out
}
