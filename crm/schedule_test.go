package crm

import (
	"errors"
	"testing"
	"time"
)

func TestScheduleCompare(t *testing.T) {
	d1 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	d2 := d1.Add(time.Hour)
	for _, c := range []struct {
		name string
		a, b Schedule
		want int
	}{
		{"higher sequence wins", Schedule{Sequence: 2, Stamp: d1}, Schedule{Sequence: 1, Stamp: d2}, 1},
		{"lower sequence loses whatever the stamp", Schedule{Sequence: 0, Stamp: d2}, Schedule{Sequence: 1, Stamp: d1}, -1},
		{"equal sequence: later stamp wins", Schedule{Sequence: 1, Stamp: d2}, Schedule{Sequence: 1, Stamp: d1}, 1},
		{"equal sequence: earlier stamp loses", Schedule{Sequence: 1, Stamp: d1}, Schedule{Sequence: 1, Stamp: d2}, -1},
		{"same version", Schedule{Sequence: 1, Stamp: d1}, Schedule{Sequence: 1, Stamp: d1}, 0},
		{"unknown stamp is not older", Schedule{Sequence: 1}, Schedule{Sequence: 1, Stamp: d1}, 0},
		{"unknown stamp is not newer", Schedule{Sequence: 1, Stamp: d1}, Schedule{Sequence: 1}, 0},
		{"sequence decides even without stamps", Schedule{Sequence: 3}, Schedule{Sequence: 2}, 1},
		{"method does not matter", Schedule{Method: "CANCEL", Sequence: 1, Stamp: d1}, Schedule{Method: "REQUEST", Sequence: 1, Stamp: d1}, 0},
	} {
		if got := c.a.Compare(c.b); got != c.want {
			t.Errorf("%s: Compare = %d, want %d", c.name, got, c.want)
		}
		if got := c.b.Compare(c.a); got != -c.want {
			t.Errorf("%s (reversed): Compare = %d, want %d", c.name, got, -c.want)
		}
	}
}

func TestScheduleChanges(t *testing.T) {
	for m, want := range map[string]bool{"": true, "PUBLISH": true, "REQUEST": true, "ADD": true, "CANCEL": true,
		"REPLY": false, "COUNTER": false, "DECLINECOUNTER": false, "REFRESH": false} {
		if got := (Schedule{Method: m}).Changes(); got != want {
			t.Errorf("%q: Changes = %v, want %v", m, got, want)
		}
	}
}

func TestCheckSpan(t *testing.T) {
	for _, c := range []struct {
		name               string
		start, end, allDay string
		want               error
	}{
		{"timed", "2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z", "false", nil},
		{"timed, empty", "2026-01-05T10:00:00Z", "2026-01-05T10:00:00Z", "false", nil},
		{"timed, ends before start", "2026-01-05T10:00:00Z", "2026-01-05T09:00:00Z", "false", ErrEndsBeforeStart},
		{"all-day ends before start", "2026-01-05T00:00:00Z", "2026-01-04T00:00:00Z", "true", ErrEndsBeforeStart},
		{"all-day DATE, one day", "2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z", "true", nil},
		{"all-day DATE, three days", "2026-01-05T00:00:00Z", "2026-01-08T00:00:00Z", "true", nil},
		{"all-day DATE, empty (DTEND = DTSTART)", "2026-01-05T00:00:00Z", "2026-01-05T00:00:00Z", "true", nil},
		{"all-day at Moscow midnight (Outlook)", "2026-01-04T21:00:00Z", "2026-01-05T21:00:00Z", "true", nil},
		{"all-day over a DST change (Berlin, spring)", "2026-03-28T23:00:00Z", "2026-03-30T22:00:00Z", "true", nil},
		{"all-day over a DST change (Berlin, autumn)", "2026-10-24T22:00:00Z", "2026-10-26T23:00:00Z", "true", nil},
		{"all-day flag with a timed start and a DATE end", "2026-01-04T21:00:00Z", "2026-01-06T00:00:00Z", "true", ErrAllDayMixed},
		{"all-day flag with timed times", "2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z", "true", ErrAllDayMixed},
		{"all-day flag, half a day", "2026-01-05T00:00:00Z", "2026-01-05T12:00:00Z", "true", ErrAllDayMixed},
		{"all-day flag, 22 hours", "2026-01-05T00:00:00Z", "2026-01-05T22:00:00Z", "true", ErrAllDayMixed},
		{"no end", "2026-01-05T10:00:00Z", "", "true", nil},
		{"no start", "", "2026-01-05T10:00:00Z", "false", nil},
	} {
		err := CheckSpan(map[string]string{"scheduledstart": c.start, "scheduledend": c.end, "isalldayevent": c.allDay})
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%s: CheckSpan = %v, want %v", c.name, err, c.want)
		}
	}
}
