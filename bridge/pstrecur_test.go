package bridge

import (
	"iter"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/teambition/rrule-go"

	"crmbridge/crm"
	"crmbridge/crmstore"
)

// TestRecurrenceReadByReadpst writes appointments with iCalendar rules as
// PidLidAppointmentRecur blobs and has readpst (libpst decodes the blob
// itself) turn them back into RRULEs: both rules must give the same
// occurrences. A rule Outlook cannot express gets no blob.
func TestRecurrenceReadByReadpst(t *testing.T) {
	if _, err := exec.LookPath("readpst"); err != nil {
		t.Skip("readpst not installed")
	}
	cases := []struct {
		start, rule string
		blob        bool
	}{
		{"2024-03-01T09:00:00Z", "RRULE:FREQ=DAILY;COUNT=5", true},
		{"2024-03-01T09:00:00Z", "RRULE:FREQ=DAILY;INTERVAL=3;UNTIL=20240320T090000Z", true},
		{"2024-03-01T09:00:00Z", "RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=10", true},
		{"2024-03-05T09:00:00Z", "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;COUNT=6", true},
		{"2024-03-01T09:00:00Z", "RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;COUNT=10", true},
		{"2024-03-15T09:00:00Z", "RRULE:FREQ=MONTHLY;BYMONTHDAY=15;COUNT=6", true},
		{"2024-03-14T09:00:00Z", "RRULE:FREQ=MONTHLY;BYDAY=2TH;COUNT=6", true},
		{"2024-03-29T09:00:00Z", "RRULE:FREQ=MONTHLY;BYDAY=-1FR;COUNT=6", true},
		{"2024-03-01T00:00:00Z", "RRULE:FREQ=YEARLY;COUNT=4", true},
		{"2024-03-03T09:00:00Z", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=1SU;COUNT=3", true},
		{"2024-03-01T09:00:00Z", "RRULE:FREQ=WEEKLY", true},
		{"2013-02-10T00:00:00Z", "RRULE:RSCALE=CHINESE;FREQ=YEARLY", false},
		{"2024-03-01T09:00:00Z", "RRULE:FREQ=HOURLY;COUNT=3", false},
	}
	var vs []*crmstore.View
	for i, c := range cases {
		start, _ := time.Parse(time.RFC3339, c.start)
		vs = append(vs, &crmstore.View{Record: crm.Record{ID: "r", Entity: crm.Appointment, Fields: map[string]string{
			"subject": "case " + string(rune('A'+i)), "scheduledstart": c.start,
			"scheduledend": start.Add(time.Hour).Format(time.RFC3339), "recurrence": c.rule,
		}}})
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "r.pst")
	seq := iter.Seq[*crmstore.View](func(yield func(*crmstore.View) bool) {
		for _, v := range vs {
			if !yield(v) {
				return
			}
		}
	})
	omit := func(v *crmstore.View, err error) { t.Errorf("%s omitted: %v", v.Fields["subject"], err) }
	if _, err := writePST(out, seq, omit, func() error { return nil }, nil); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("readpst", "-j", "1", "-S", "-o", dir, out).CombinedOutput(); err != nil {
		t.Fatalf("readpst: %v\n%s", err, b)
	}
	got := map[string]string{} // subject -> RRULE readpst wrote
	files, _ := filepath.Glob(filepath.Join(dir, "crmbridge", "Calendar", "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		subj := regexp.MustCompile(`(?m)^SUMMARY:(.*?)\r?$`).FindStringSubmatch(string(b))
		rule := regexp.MustCompile(`(?m)^RRULE:(.*?)\r?$`).FindStringSubmatch(string(b))
		if subj != nil && rule != nil {
			got[subj[1]] = rule[1]
		}
	}
	if len(files) != len(cases) {
		t.Fatalf("readpst wrote %d appointments, want %d", len(files), len(cases))
	}
	occurrences := func(rule string, start time.Time) []time.Time {
		opt, err := rrule.StrToROption(rule)
		if err != nil {
			t.Fatalf("%s: %v", rule, err)
		}
		opt.Dtstart = start
		r, err := rrule.NewRRule(*opt)
		if err != nil {
			t.Fatalf("%s: %v", rule, err)
		}
		return r.Between(start, start.AddDate(3, 0, 0), true)
	}
	for i, c := range cases {
		subj := "case " + string(rune('A'+i))
		rule, ok := got[subj]
		if ok != c.blob {
			t.Errorf("%s: readpst rule %q, blob expected %v", c.rule, rule, c.blob)
			continue
		}
		if !ok {
			continue
		}
		// libpst writes Outlook's "fifth" (meaning last) as BYSETPOS=5, and
		// joins BYDAY values with ';' instead of ','.
		rule = strings.Replace(rule, "BYSETPOS=5", "BYSETPOS=-1", 1)
		rule = regexp.MustCompile(`;(SU|MO|TU|WE|TH|FR|SA)\b`).ReplaceAllString(rule, ",$1")
		start, _ := time.Parse(time.RFC3339, c.start)
		want := occurrences(strings.TrimPrefix(c.rule, "RRULE:"), start)
		have := occurrences(rule, start)
		if len(want) != len(have) {
			t.Errorf("%s: readpst %q gives %d occurrences in 3 years, want %d", c.rule, rule, len(have), len(want))
			continue
		}
		for k := range want {
			if !want[k].Equal(have[k]) {
				t.Errorf("%s: readpst %q: occurrence %d at %s, want %s", c.rule, rule, k, have[k], want[k])
				break
			}
		}
	}
}
