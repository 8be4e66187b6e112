package crmstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"crmbridge/crm"
)

// TestSpanMergedAsOne checks that an appointment's start, end, all-day flag
// and zone merge as one value: when a CLI edit made one of them newer than
// a source's version, the merge keeps all of them or takes all of them,
// never the source's start with the store's end (an all-day event with a
// timed start, or a timed event ending at the old all-day midnight).
func TestSpanMergedAsOne(t *testing.T) {
	t1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := func(kind string, at time.Time, start, end, allDay string) *crm.Incoming {
		return &crm.Incoming{
			Source: crm.SourceRef{Kind: kind, Key: "k", Version: start + end + allDay},
			Record: crm.Record{Entity: crm.Appointment, Fields: map[string]string{
				"subject": "Meet", "scheduledstart": start, "scheduledend": end, "isalldayevent": allDay}},
			Keys:       []string{"uid:u1"},
			ModifiedAt: at,
		}
	}
	for _, c := range []struct {
		name               string
		first              *crm.Incoming
		edit               map[string]string // CLI edit after the first version (newer than the second)
		second             *crm.Incoming     // from another source, no merge base
		start, end, allDay string
	}{
		{
			name:   "timed, end edited; an all-day version keeps the timed span",
			first:  ev("pst", t1, "2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z", "false"),
			edit:   map[string]string{"scheduledend": "2026-01-05T12:00:00Z"},
			second: ev("eml", t1.Add(time.Hour), "2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z", "true"),
			start:  "2026-01-05T10:00:00Z", end: "2026-01-05T12:00:00Z", allDay: "false",
		},
		{
			name:   "all-day, end edited; a timed version keeps the all-day span",
			first:  ev("pst", t1, "2026-01-04T21:00:00Z", "2026-01-05T21:00:00Z", "true"),
			edit:   map[string]string{"scheduledend": "2026-01-06T21:00:00Z"},
			second: ev("eml", t1.Add(time.Hour), "2026-01-05T07:00:00Z", "2026-01-05T08:00:00Z", "false"),
			start:  "2026-01-04T21:00:00Z", end: "2026-01-06T21:00:00Z", allDay: "true",
		},
		{
			name:   "no edit: the newer version's whole span",
			first:  ev("pst", t1, "2026-01-04T21:00:00Z", "2026-01-05T21:00:00Z", "true"),
			second: ev("eml", t1.Add(time.Hour), "2026-01-05T07:00:00Z", "2026-01-05T08:00:00Z", "false"),
			start:  "2026-01-05T07:00:00Z", end: "2026-01-05T08:00:00Z", allDay: "false",
		},
		{
			name:   "an older version keeps the whole span",
			first:  ev("pst", t1.Add(time.Hour), "2026-01-04T21:00:00Z", "2026-01-05T21:00:00Z", "true"),
			second: ev("eml", t1, "2026-01-05T07:00:00Z", "2026-01-05T08:00:00Z", "false"),
			start:  "2026-01-04T21:00:00Z", end: "2026-01-05T21:00:00Z", allDay: "true",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := openTest(t)
			r := apply(t, s, c.first, PolicyNewest)
			if c.edit != nil {
				set(t, s, r.ID, c.edit)
			}
			apply(t, s, c.second, PolicyNewest)
			got := fields(t, s, r.ID)
			if got["scheduledstart"] != c.start || got["scheduledend"] != c.end || got["isalldayevent"] != c.allDay {
				t.Errorf("span %s – %s all-day %s, want %s – %s all-day %s", got["scheduledstart"], got["scheduledend"], got["isalldayevent"], c.start, c.end, c.allDay)
			}
			if err := crm.CheckSpan(got); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestSpanInvariant checks that the store refuses, from a source and from
// a CLI edit, an appointment whose merged span breaks crm.CheckSpan.
func TestSpanInvariant(t *testing.T) {
	s := openTest(t)
	in := &crm.Incoming{
		Source: crm.SourceRef{Kind: "ics", Key: "k", Version: "1"},
		Record: crm.Record{Entity: crm.Appointment, Fields: map[string]string{
			"scheduledstart": "2026-01-05T00:00:00Z", "scheduledend": "2026-01-06T00:00:00Z", "isalldayevent": "true"}},
	}
	r := apply(t, s, in, PolicyNewest)
	// A version that gives only a timed start (its own end and flag
	// absent) would leave an all-day event with a 21:00Z start.
	err := s.Update(context.Background(), func(tx *Tx) error {
		_, err := tx.Apply(&crm.Incoming{
			Source: crm.SourceRef{Kind: "ics", Key: "k", Version: "2"},
			Record: crm.Record{Entity: crm.Appointment, Fields: map[string]string{"scheduledstart": "2026-01-04T21:00:00Z"}},
		}, PolicyNewest)
		return err
	})
	if !errors.Is(err, crm.ErrAllDayMixed) {
		t.Errorf("source version: %v, want %v", err, crm.ErrAllDayMixed)
	}
	err = s.Update(context.Background(), func(tx *Tx) error {
		_, err := tx.Set(r.ID, map[string]string{"scheduledend": "2026-01-05T10:00:00Z"}, "cli")
		return err
	})
	if !errors.Is(err, crm.ErrAllDayMixed) {
		t.Errorf("CLI edit: %v, want %v", err, crm.ErrAllDayMixed)
	}
	err = s.Update(context.Background(), func(tx *Tx) error {
		_, err := tx.Set(r.ID, map[string]string{"scheduledend": "2026-01-04T00:00:00Z"}, "cli")
		return err
	})
	if !errors.Is(err, crm.ErrEndsBeforeStart) {
		t.Errorf("CLI edit: %v, want %v", err, crm.ErrEndsBeforeStart)
	}
	// Moving an all-day event by whole days, or making it timed with
	// both times, is fine.
	set(t, s, r.ID, map[string]string{"scheduledstart": "2026-01-07T00:00:00Z", "scheduledend": "2026-01-09T00:00:00Z"})
	set(t, s, r.ID, map[string]string{"isalldayevent": "false", "scheduledstart": "2026-01-07T10:00:00Z", "scheduledend": "2026-01-07T11:00:00Z"})
	if got := fields(t, s, r.ID); got["scheduledstart"] != "2026-01-07T10:00:00Z" || got["isalldayevent"] != "false" {
		t.Errorf("edits not applied: %v", got)
	}
}
