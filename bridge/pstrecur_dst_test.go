package bridge

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"crmbridge/crm"
	"crmbridge/crmstore"
	"crmbridge/fixtures"
	"crmbridge/pst"
)

// seriesCase is a series as an iCalendar source gives it: a start in a
// zone's local time, a rule, EXDATEs and modified occurrences (overrides,
// RECURRENCE-ID), all local.
type seriesCase struct {
	Subject   string     `json:"subject"`
	TZID      string     `json:"tzid"`  // IANA zone for the independent check
	Zone      string     `json:"-"`     // the record's timezone field (TZID as the source wrote it)
	Start     string     `json:"start"` // local
	Rule      string     `json:"rule"`
	Exdates   []string   `json:"exdates,omitempty"`
	Overrides []override `json:"overrides,omitempty"`
	Cancels   []string   `json:"cancels,omitempty"` // occurrences canceled (a RECURRENCE-ID with STATUS:CANCELLED)
}

type override struct {
	Orig, Start, End, Subject, Location string
}

func (o override) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"orig": o.Orig, "start": o.Start, "end": o.End, "subject": o.Subject})
}

// views are the records an ICS import makes of c: the master (UTC times,
// the TZID in "timezone", the rule and EXDATEs in UTC) and one record per
// override (recurrenceid, same uid).
func (c seriesCase) views(t *testing.T) []*crmstore.View {
	t.Helper()
	loc, err := time.LoadLocation(c.TZID)
	if err != nil {
		t.Fatal(err)
	}
	utc := func(local string) string {
		tm, err := time.ParseInLocation("2006-01-02T15:04", local, loc)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UTC().Format(time.RFC3339)
	}
	start := utc(c.Start)
	st, _ := time.Parse(time.RFC3339, start)
	rec := "RRULE:" + c.Rule
	for _, x := range c.Exdates {
		tm, _ := time.Parse(time.RFC3339, utc(x))
		rec += "\nEXDATE:" + tm.Format("20060102T150405Z")
	}
	zone := c.Zone
	if zone == "" {
		zone = c.TZID
	}
	uid := strings.ReplaceAll(c.Subject, " ", "-") + "@example.com"
	vs := []*crmstore.View{{Record: crm.Record{ID: uid, Entity: crm.Appointment, Fields: map[string]string{
		"subject": c.Subject, "scheduledstart": start, "scheduledend": st.Add(time.Hour).Format(time.RFC3339),
		"timezone": zone, "recurrence": rec, "uid": uid, "location": "Room 1",
	}}}}
	for i, o := range c.Overrides {
		fields := map[string]string{
			"subject": o.Subject, "scheduledstart": utc(o.Start), "scheduledend": utc(o.End),
			"timezone": zone, "uid": uid, "recurrenceid": utc(o.Orig), "seriesid": uid, "location": o.Location,
		}
		vs = append(vs, &crmstore.View{Record: crm.Record{ID: uid + "-" + string(rune('a'+i)), Entity: crm.Appointment, Fields: fields}})
	}
	for i, x := range c.Cancels {
		tm, _ := time.Parse(time.RFC3339, utc(x))
		vs = append(vs, &crmstore.View{Record: crm.Record{ID: uid + "-x" + string(rune('a'+i)), Entity: crm.Appointment, Fields: map[string]string{
			"subject": c.Subject, "scheduledstart": utc(x), "scheduledend": tm.Add(time.Hour).Format(time.RFC3339),
			"timezone": zone, "uid": uid, "recurrenceid": utc(x), "seriesid": uid, "statecode": "2",
		}}})
	}
	return vs
}

// checkSeries writes the cases as one PST and has the independent
// checker (testdata/pstrecur_check.py: pypff reads the file, the blob and
// the TZDEFINITION are decoded from the spec, dateutil and zoneinfo expand
// the iCalendar rule) compare every occurrence.
func checkSeries(t *testing.T, cases []seriesCase) {
	t.Helper()
	var vs []*crmstore.View
	for _, c := range cases {
		vs = append(vs, c.views(t)...)
	}
	checkSeriesViews(t, cases, vs)
}

// checkSeriesViews is checkSeries for records made otherwise (by an
// import): the cases say what the checker expects of them.
func checkSeriesViews(t *testing.T, cases []seriesCase, vs []*crmstore.View) {
	t.Helper()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import pypff, dateutil, zoneinfo").Run(); err != nil {
		t.Skip("python3 with pypff and dateutil not installed")
	}
	dir := t.TempDir()
	if d := os.Getenv("PSTW_KEEP"); d != "" {
		dir = d
	}
	path := filepath.Join(dir, "series.pst")
	writeViews(t, path, vs...)
	arg, _ := json.Marshal(cases)
	out, err := exec.Command(py, "testdata/pstrecur_check.py", path, string(arg)).CombinedOutput()
	if err != nil {
		t.Fatalf("checker: %v\n%s", err, out)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			t.Error(l)
		}
	}
	// pffexport (libpff) writes each exception attachment's embedded
	// message as an appointment inside the series' Attachments folder:
	// subject and UTC start as the override has them.
	if _, err := exec.LookPath("pffexport"); err != nil {
		return
	}
	target := filepath.Join(dir, "pff")
	if b, err := exec.Command("pffexport", "-q", "-t", target, path).CombinedOutput(); err != nil {
		t.Fatalf("pffexport: %v\n%s", err, b)
	}
	got := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(target+".export", "*", "Calendar", "*", "Attachments", "*", "*", "Appointment.txt"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		var subj, start string
		for _, l := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(l, ":")
			switch strings.TrimSpace(k) {
			case "Subject":
				subj = strings.TrimSpace(v)
			case "Start time":
				if tm, err := time.Parse("Jan 02, 2006 15:04:05.000000000 MST", strings.TrimSpace(v)); err == nil {
					start = tm.UTC().Format(time.RFC3339)
				}
			}
		}
		got[subj+" "+start] = true
	}
	want := 0
	for _, c := range cases {
		for _, v := range c.views(t)[1:] {
			if v.Fields["statecode"] == "2" {
				continue
			}
			want++
			// pffexport's dump drops a subject's first character when it
			// is not ASCII (noted in issue 16's notes): compare the rest.
			subj := v.Fields["subject"]
			if r := []rune(subj); r[0] > 0x7F {
				subj = string(r[1:])
			}
			if !got[subj+" "+v.Fields["scheduledstart"]] {
				t.Errorf("pffexport: no exception %q at %s in %v", subj, v.Fields["scheduledstart"], got)
			}
		}
	}
	if len(files) != want {
		t.Errorf("pffexport: %d exception appointments, want %d", len(files), want)
	}
}

// TestRecurrenceDST: series in zones with daylight saving time keep their
// local time across the change (Europe and US, IANA and Windows names).
func TestRecurrenceDST(t *testing.T) {
	checkSeries(t, []seriesCase{
		{Subject: "berlin weekly", TZID: "Europe/Berlin", Start: "2024-03-04T09:00", Rule: "FREQ=WEEKLY;BYDAY=MO;COUNT=8"},
		{Subject: "new york daily", TZID: "America/New_York", Start: "2024-10-30T08:30", Rule: "FREQ=DAILY;COUNT=10"},
		{Subject: "berlin biweekly", TZID: "Europe/Berlin", Start: "2024-09-03T10:00", Rule: "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;UNTIL=20241115T090000Z",
			Exdates: []string{"2024-10-29T10:00"}},
		{Subject: "windows name", TZID: "Europe/Berlin", Zone: "W. Europe Standard Time", Start: "2024-03-20T18:15", Rule: "FREQ=WEEKLY;COUNT=4"},
		{Subject: "sydney weekly", TZID: "Australia/Sydney", Start: "2024-03-25T09:00", Rule: "FREQ=WEEKLY;COUNT=4"},
		{Subject: "no dst", TZID: "Asia/Tokyo", Start: "2024-03-25T09:00", Rule: "FREQ=DAILY;COUNT=3"},
	})
}

// TestRecurrenceZoneHistory: series that span a change of their zone's
// rules get one TZRULE per rule (MS-OXOCAL 2.2.1.41.1, each from its
// wYear on), as Outlook writes a zone's dynamic rules: the US moved its
// dates in 2007, Brazil dropped daylight time in 2019, Turkey kept summer
// time for good in 2016. The checker reads each occurrence with the rule
// of its year; with the start year's rule alone, the occurrences after
// the change were an hour off.
func TestRecurrenceZoneHistory(t *testing.T) {
	checkSeries(t, []seriesCase{
		{Subject: "new york 2006-2007", TZID: "America/New_York", Start: "2006-03-06T09:00", Rule: "FREQ=WEEKLY;BYDAY=MO;COUNT=60"},
		{Subject: "sao paulo 2018-2019", TZID: "America/Sao_Paulo", Start: "2018-10-01T09:00", Rule: "FREQ=WEEKLY;BYDAY=MO;COUNT=70"},
		{Subject: "istanbul 2016-2017", TZID: "Europe/Istanbul", Start: "2016-01-04T09:00", Rule: "FREQ=WEEKLY;BYDAY=MO;COUNT=70"},
		{Subject: "new york no end", TZID: "America/New_York", Start: "2006-03-06T09:00", Rule: "FREQ=WEEKLY;BYDAY=MO"},
	})
}

// TestRecurrenceCustomZone: a series whose TZID is neither an IANA nor a
// Windows name, defined by the file's own VTIMEZONE (hand-written EU
// rules), imported from ICS: its PST series follows those rules across
// the March change (the checker expands it in Europe/Berlin, the zone of
// the same law). Before the ICS reader kept the VTIMEZONE's rules, it was
// laid out in UTC: from April on an hour off.
func TestRecurrenceCustomZone(t *testing.T) {
	src := filepath.Join(t.TempDir(), "custom.ics")
	ics := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//custom zone//EN\r\n" +
		"BEGIN:VTIMEZONE\r\nTZID:Büro Zeit\r\n" +
		"BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n" +
		"BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\n" +
		"END:VTIMEZONE\r\n" +
		"BEGIN:VEVENT\r\nUID:custom-zone@example.com\r\nDTSTAMP:20240101T000000Z\r\nSUMMARY:weekly in a custom zone\r\n" +
		"DTSTART;TZID=Büro Zeit:20240304T090000\r\nDTEND;TZID=Büro Zeit:20240304T100000\r\n" +
		"RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=8\r\nEXDATE;TZID=Büro Zeit:20240408T090000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	if err := os.WriteFile(src, []byte(ics), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	importPaths(t, s, ImportOptions{}, src)
	checkSeriesViews(t, []seriesCase{{Subject: "weekly in a custom zone", TZID: "Europe/Berlin", Start: "2024-03-04T09:00",
		Rule: "FREQ=WEEKLY;BYDAY=MO;COUNT=8", Exdates: []string{"2024-04-08T09:00"}}}, views(t, s))
}

// TestRecurrenceExceptions: modified occurrences (records with the
// series' UID and a recurrence id) go into the series as ExceptionInfo /
// ExtendedException with exception attachments, canceled ones and
// EXDATEs as deleted instances; the independent checker finds every
// occurrence, every exception's times and subject, and one exception
// attachment each.
func TestRecurrenceExceptions(t *testing.T) {
	checkSeries(t, []seriesCase{
		{Subject: "team meeting", TZID: "Europe/Berlin", Start: "2024-03-04T09:00", Rule: "FREQ=WEEKLY;BYDAY=MO;COUNT=8",
			Exdates: []string{"2024-03-25T09:00"},
			Overrides: []override{
				{Orig: "2024-03-11T09:00", Start: "2024-03-12T10:00", End: "2024-03-12T11:30", Subject: "team meeting (moved)", Location: "Room 1"},
				{Orig: "2024-04-08T09:00", Start: "2024-04-08T09:30", End: "2024-04-08T10:30", Subject: "team meeting", Location: "Room 2"},
			},
			Cancels: []string{"2024-04-15T09:00"}},
		{Subject: "standup", TZID: "America/New_York", Start: "2024-10-30T08:30", Rule: "FREQ=DAILY;COUNT=10",
			Overrides: []override{{Orig: "2024-11-04T08:30", Start: "2024-11-04T09:00", End: "2024-11-04T09:15", Subject: "Überstunde ☕", Location: "Room 1"}}},
	})
}

// TestRecurrenceExceptionsReadBack: the import reads a series' exception
// attachments back as records of their own (uid, recurrenceid, their
// times, subject and location), not as attached files of the series.
func TestRecurrenceExceptionsReadBack(t *testing.T) {
	c := seriesCase{Subject: "review", TZID: "Europe/Berlin", Start: "2024-03-04T09:00", Rule: "FREQ=WEEKLY;BYDAY=MO;COUNT=8",
		Overrides: []override{
			{Orig: "2024-03-11T09:00", Start: "2024-03-12T10:00", End: "2024-03-12T11:30", Subject: "review (moved)", Location: "Room 1"},
			{Orig: "2024-04-08T09:00", Start: "2024-04-08T09:30", End: "2024-04-08T10:30", Subject: "review", Location: "Room 2"},
		}}
	vs := c.views(t)
	path := filepath.Join(t.TempDir(), "r.pst")
	writeViews(t, path, vs...)
	f, err := pst.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []*crm.Incoming
	for it, err := range f.Items(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		in := FromPST("r.pst", it)
		got = append(got, in)
		got = append(got, pstOccurrences(in, it)...)
	}
	if len(got) != len(vs) {
		t.Fatalf("%d records read back, want %d", len(got), len(vs))
	}
	if n := len(got[0].Record.Attachments); n != 0 {
		t.Errorf("series: %d attachments, want none", n)
	}
	for i, v := range vs {
		for _, k := range []string{"subject", "scheduledstart", "scheduledend", "uid", "recurrenceid", "location", "recurrence"} {
			if g := got[i].Record.Fields[k]; g != v.Fields[k] {
				t.Errorf("record %d: %s %q, want %q", i, k, g, v.Fields[k])
			}
		}
	}
	if got[1].Source.Key == got[0].Source.Key || got[1].Source.Key == got[2].Source.Key {
		t.Errorf("occurrences need keys of their own: %q %q %q", got[0].Source.Key, got[1].Source.Key, got[2].Source.Key)
	}
}

// TestPSTOccurrencesRoundTripCorpus: the modified occurrences of the ICS
// corpus that go into their series come back from the PST, imported into
// a fresh store, as occurrence records with the same UID, recurrence id,
// times and subject. An occurrence without a subject of its own (an
// override without SUMMARY: two in the corpus) comes back with the
// series' subject, as Outlook shows it: the PST reader cannot tell an
// empty subject from none.
func TestPSTOccurrencesRoundTripCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	a := newStore(t)
	importPaths(t, a, ImportOptions{}, fixtures.CorpusDir(t, "ics"))
	out := filepath.Join(t.TempDir(), "ics.pst")
	export(t, a, ExportOptions{All: true, PST: out})
	subjects := map[string]string{} // series' subject by uid
	for _, v := range views(t, a) {
		if v.Entity == crm.Appointment && v.Fields["recurrenceid"] == "" {
			subjects[v.Fields["uid"]] = v.Fields["subject"]
		}
	}
	key := func(v *crmstore.View) string {
		f := v.Fields
		subj := f["subject"]
		if subj == "" {
			subj = subjects[f["uid"]]
		}
		return f["uid"] + "|" + f["recurrenceid"] + "|" + f["scheduledstart"] + "|" + f["scheduledend"] + "|" + firstLine(subj)
	}
	sn, err := a.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	group := sameUID([]crm.Entity{crm.Appointment})
	var want []string
	for _, v := range views(t, a) {
		if v.Entity != crm.Appointment || v.Fields["recurrenceid"] == "" {
			continue
		}
		_, members, err := group(sn, v)
		if err != nil {
			t.Fatal(err)
		}
		if foldedIntoSeries(v, members) {
			want = append(want, key(v))
		}
	}
	sn.Close()
	if len(want) == 0 {
		t.Skip("no modified occurrence in the ICS corpus goes into a series")
	}
	b := newStore(t)
	importPaths(t, b, ImportOptions{}, out)
	got := map[string]bool{}
	for _, v := range views(t, b) {
		if v.Entity == crm.Appointment && v.Fields["recurrenceid"] != "" {
			got[key(v)] = true
		}
	}
	for _, k := range want {
		if !got[k] {
			t.Errorf("occurrence %q not read back from the PST", k)
		}
	}
	t.Logf("%d occurrences through their series", len(want))
}
