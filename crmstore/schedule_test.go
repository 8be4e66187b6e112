package crmstore

import (
	"testing"
	"time"

	"crmbridge/crm"
)

// TestNewerVersionReplaces checks that a newer whole version of a
// scheduled event (REQUEST) clears the organizer's fields it lacks that an
// older scheduled version set, leaves a field a CLI edit set since, and
// that neither a version of the same SEQUENCE nor a CANCEL clears
// anything.
func TestNewerVersionReplaces(t *testing.T) {
	t1 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	ev := func(key, method string, seq int, f map[string]string) *crm.Incoming {
		f["uid"] = "u1"
		return &crm.Incoming{
			Source:   crm.SourceRef{Kind: "ics", Key: key, Version: key},
			Origin:   "ics:/" + key,
			Record:   crm.Record{Entity: crm.Appointment, Fields: f},
			Keys:     []string{"uid:u1"},
			Schedule: &crm.Schedule{Method: method, Sequence: seq},
		}
	}
	full := func() map[string]string {
		return map[string]string{"subject": "Plan", "location": "Room A", "description": "Agenda", "categories": "Work",
			"scheduledstart": "2026-01-05T10:00:00Z", "scheduledend": "2026-01-05T11:00:00Z"}
	}
	bare := func() map[string]string { return map[string]string{"subject": "Plan v2"} }
	for _, c := range []struct {
		name   string
		plain  bool // the first version has no schedule (a plain appointment)
		edit   map[string]string
		second *crm.Incoming
		want   map[string]string
	}{
		{"newer REQUEST", false, nil, ev("b", "REQUEST", 1, bare()),
			map[string]string{"subject": "Plan v2", "location": "", "description": "", "categories": "Work",
				"scheduledstart": "2026-01-05T10:00:00Z", "scheduledend": "2026-01-05T11:00:00Z"}},
		{"newer REQUEST with a start only", false, nil, ev("b", "REQUEST", 1, map[string]string{"scheduledstart": "2026-01-06T10:00:00Z"}),
			map[string]string{"subject": "", "location": "", "scheduledstart": "2026-01-06T10:00:00Z", "scheduledend": ""}},
		{"newer REQUEST, location edited since", false, map[string]string{"location": "Room C"}, ev("b", "REQUEST", 1, bare()),
			map[string]string{"subject": "Plan v2", "location": "Room C", "description": ""}},
		{"same SEQUENCE", false, nil, ev("b", "REQUEST", 0, bare()),
			map[string]string{"location": "Room A", "description": "Agenda"}},
		{"a REQUEST after a version without schedule", true, nil, ev("b", "REQUEST", 1, bare()),
			map[string]string{"location": "Room A", "description": "Agenda"}},
		{"newer CANCEL", false, nil, ev("b", "CANCEL", 1, bare()),
			map[string]string{"subject": "Plan", "location": "Room A", "description": "Agenda"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := openTest(t)
			first := ev("a", "REQUEST", 0, full())
			if c.plain {
				first.Schedule = nil
			}
			r := apply(t, s, first, PolicyNewest)
			if c.edit != nil {
				set(t, s, r.ID, c.edit)
			}
			c.second.ModifiedAt = t1
			apply(t, s, c.second, PolicyNewest)
			got := fields(t, s, r.ID)
			for k, v := range c.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}
