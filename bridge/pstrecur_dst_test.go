package bridge

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"crmbridge/crm"
	"crmbridge/crmstore"
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
	return vs
}

// checkSeries writes the cases as one PST and has the independent
// checker (testdata/pstrecur_check.py: pypff reads the file, the blob and
// the TZDEFINITION are decoded from the spec, dateutil and zoneinfo expand
// the iCalendar rule) compare every occurrence.
func checkSeries(t *testing.T, cases []seriesCase) {
	t.Helper()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import pypff, dateutil, zoneinfo").Run(); err != nil {
		t.Skip("python3 with pypff and dateutil not installed")
	}
	var vs []*crmstore.View
	for _, c := range cases {
		vs = append(vs, c.views(t)...)
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
