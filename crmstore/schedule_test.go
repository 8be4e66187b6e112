package crmstore

import (
	"context"
	"errors"
	"strings"
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

// itipVersion is an iCalendar version of event u1 from file key.
func itipVersion(key, method string, seq int, subject, replier string) *crm.Incoming {
	in := &crm.Incoming{
		Source:   crm.SourceRef{Kind: "ics", Key: "/" + key + "#u1", Version: key},
		Origin:   "ics:/" + key,
		Record:   crm.Record{Entity: crm.Appointment, Fields: map[string]string{"uid": "u1", "subject": subject}},
		Keys:     []string{"uid:u1"},
		Schedule: &crm.Schedule{Method: method, Sequence: seq},
	}
	in.Record.Parties = []crm.Party{{Role: crm.RoleOrganizer, Address: "olga@example.com"}, {Role: crm.RoleRequired, Address: "bob@example.com"}}
	if replier != "" {
		in.Record.Fields = map[string]string{"uid": "u1"}
		in.Record.Parties = []crm.Party{{Role: crm.RoleRequired, Address: replier, Status: "ACCEPTED"}}
	}
	return in
}

// TestForgetSchedule forgets the file that gave an event its newest
// version and a reply: the record holds the version its other sources gave
// (so an older version than the forgotten one applies again), and the
// forgotten reply is no longer applied after a REQUEST.
func TestForgetSchedule(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	r := apply(t, s, itipVersion("a.ics", "REQUEST", 0, "Plan", ""), PolicyNewest)
	apply(t, s, itipVersion("b.ics", "REQUEST", 2, "Plan v2", ""), PolicyNewest)
	apply(t, s, itipVersion("b-reply.ics", "REPLY", 2, "", "bob@example.com"), PolicyNewest)
	for _, f := range []string{"/b.ics", "/b-reply.ics"} {
		if _, err := s.Forget(ctx, f, false); err != nil {
			t.Fatal(err)
		}
	}
	v, err := s.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.Schedule == nil || v.Schedule.Sequence != 0 {
		t.Errorf("after forget: schedule %v, want SEQUENCE 0", v.Schedule)
	}
	res := apply(t, s, itipVersion("c.ics", "REQUEST", 1, "Plan v1", ""), PolicyNewest)
	v, _ = s.Get(ctx, r.ID)
	if res.Note != "" || v.Fields["subject"] != "Plan v1" {
		t.Errorf("SEQUENCE 1 after forgetting SEQUENCE 2: note %q, subject %q", res.Note, v.Fields["subject"])
	}
	for _, p := range v.Parties {
		if p.Address == "bob@example.com" && p.Status != "" {
			t.Errorf("the forgotten reply is still applied: %+v", p)
		}
	}
}

// TestMergeDuplicateSchedule merges two appointments: the one kept holds
// the newer of their versions and the other's replies, so an older
// version of the merged one's event is still refused.
func TestMergeDuplicateSchedule(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	a := apply(t, s, itipVersion("a.ics", "REQUEST", 1, "Plan", ""), PolicyNewest)
	b2 := itipVersion("b.ics", "REQUEST", 3, "Plan", "")
	b2.Keys, b2.Record.Fields["uid"] = []string{"uid:u2"}, "u2"
	b := apply(t, s, b2, PolicyNewest)
	rep := itipVersion("b-reply.ics", "REPLY", 3, "", "bob@example.com")
	rep.Keys, rep.Record.Fields["uid"] = []string{"uid:u2"}, "u2"
	apply(t, s, rep, PolicyNewest)
	if err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.addDuplicate(a.ID, b.ID, "test"); err != nil {
			return err
		}
		_, err := tx.MergeDuplicate(a.ID, b.ID, "cli")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	v, _ := s.Get(ctx, a.ID)
	if v.Schedule == nil || v.Schedule.Sequence != 3 {
		t.Errorf("merged: schedule %v, want SEQUENCE 3", v.Schedule)
	}
	old := itipVersion("b-old.ics", "REQUEST", 2, "Plan (old)", "")
	old.Keys, old.Record.Fields["uid"] = []string{"uid:u2"}, "u2"
	if res := apply(t, s, old, PolicyNewest); res.ID != a.ID || res.Note == "" {
		t.Errorf("an older version of the merged event: %+v", res)
	}
	// A new REQUEST 3 rewrites the attendees; bob's reply, moved, outlives it.
	again := itipVersion("a2.ics", "REQUEST", 3, "Plan", "")
	again.Schedule.Stamp = time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	apply(t, s, again, PolicyNewest)
	v, _ = s.Get(ctx, a.ID)
	for _, p := range v.Parties {
		if p.Address == "bob@example.com" && p.Status != "ACCEPTED" {
			t.Errorf("the merged record lost bob's reply: %+v", p)
		}
	}
}

// A store from before schema 15 did not record the iTIP version each
// source gave, nor whose replies are whose: forgetting a file there says
// so for each record (a warning naming it) rather than silently keeping
// a version no remaining source may have given. Reading a source's same
// version again (import --force) records its version.
func TestForgetUnrecordedVersion(t *testing.T) {
	const id = "22222222-2222-2222-2222-222222222222"
	path := storeAt(t, 14, `INSERT INTO record (id, entity, created_at, modified_at) VALUES ('`+id+`', 'appointment', 'x', 'x');
		INSERT INTO activity (id, activitytypecode, subject, uid) VALUES ('`+id+`', 'appointment', 'Plan v2', 'u1');
		INSERT INTO recordkey (entity, key, record_id) VALUES ('appointment', 'uid:u1', '`+id+`');
		INSERT INTO schedule (record_id, sequence, stamp) VALUES ('`+id+`', 2, '');
		INSERT INTO reply (record_id, address, status, sequence, stamp) VALUES ('`+id+`', 'bob@example.com', 'ACCEPTED', 2, '');
		INSERT INTO provenance (id, record_id, kind, key, version, origin, seen_at) VALUES
			(1, '`+id+`', 'ics', '/a.ics#u1', 'a.ics', 'ics:/a.ics', 'x'), (2, '`+id+`', 'ics', '/b.ics#u1', 'b.ics', 'ics:/b.ics', 'x');`)
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	rep, err := s.Forget(ctx, "/b.ics", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], ShortID(id)) ||
		!strings.Contains(rep.Warnings[0], "SEQUENCE 2") || !strings.Contains(rep.Warnings[0], "1 attendee repl") {
		t.Fatalf("warnings %q, want one naming the record, its kept SEQUENCE 2 and its reply", rep.Warnings)
	}
	// a.ics read again: its version (SEQUENCE 0) is recorded, and the
	// reply's source is still unknown.
	a := itipVersion("a.ics", "REQUEST", 0, "Plan", "")
	apply(t, s, a, PolicyNewest)
	rep, err = s.Forget(ctx, "/b.ics", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Warnings) != 1 || strings.Contains(rep.Warnings[0], "SEQUENCE") {
		t.Fatalf("warnings %q, want only the reply's", rep.Warnings)
	}
	v, err := s.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if v.Schedule == nil || v.Schedule.Sequence != 0 {
		t.Errorf("after forgetting b.ics: schedule %+v, want a.ics's SEQUENCE 0", v.Schedule)
	}
}

// check notes the iTIP versions and replies a store from before schema 15
// did not record per source (not problems: the store is sound).
func TestCheckNotesUnrecordedVersions(t *testing.T) {
	path := storeAt(t, 14, `INSERT INTO record (id, entity, created_at, modified_at) VALUES ('r1', 'appointment', 'x', 'x');
		INSERT INTO activity (id, activitytypecode, subject) VALUES ('r1', 'appointment', 'Plan');
		INSERT INTO schedule (record_id, sequence, stamp) VALUES ('r1', 1, '');
		INSERT INTO reply (record_id, address, status, sequence, stamp) VALUES ('r1', 'bob@example.com', 'ACCEPTED', 1, '');
		INSERT INTO provenance (record_id, kind, key, version, origin, seen_at) VALUES ('r1', 'ics', '/a.ics#u1', 'a', 'ics:/a.ics', 'x');`)
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	rep, err := Check(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Notes) != 2 || !strings.HasPrefix(rep.Notes[0], "1 source item(s)") || !strings.HasPrefix(rep.Notes[1], "1 attendee repl") {
		t.Errorf("notes %q, want one for the version and one for the reply", rep.Notes)
	}
	if len(rep.Problems) != 0 {
		t.Errorf("problems %q", rep.Problems)
	}
}

// TestReplyHoldsOccurrenceApart applies an answer for one occurrence of a
// series that the store holds only inside the series: the occurrence
// becomes a record of its own (the series at that instant, with the
// series' version) whose participation the answer changes; the series
// keeps its own. An answer to an older version of the series does not
// apply to the occurrence either; an answer naming an occurrence of an
// event that is no series is still refused; forgetting the answer's file
// removes the occurrence it made.
func TestReplyHoldsOccurrenceApart(t *testing.T) {
	ctx := context.Background()
	series := func(s *Store, recurrence string) *Result {
		in := itipVersion("a.ics", "REQUEST", 1, "Weekly", "")
		in.Record.Fields["scheduledstart"], in.Record.Fields["scheduledend"] = "2026-03-16T09:00:00Z", "2026-03-16T10:00:00Z"
		in.Record.Fields["location"], in.Record.Fields["timezone"] = "Room A", "Europe/Berlin"
		if recurrence != "" {
			in.Record.Fields["recurrence"] = recurrence
		}
		r := apply(t, s, in, PolicyNewest)
		return &r
	}
	reply := func(key string, seq int) *crm.Incoming {
		in := itipVersion(key, "REPLY", seq, "", "bob@example.com")
		in.Record.Fields["recurrenceid"] = "2026-03-30T08:00:00Z"
		in.Keys = []string{"uid:u1/20260330T080000Z"}
		return in
	}

	s := openTest(t)
	sr := series(s, "RRULE:FREQ=WEEKLY;COUNT=5")
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tx.Apply(reply("r.ics", 1), PolicyNewest)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if res.Outcome != Created || res.ID == sr.ID || !strings.Contains(res.Note, "held apart") {
		t.Fatalf("result %+v, want a new record of the occurrence", res)
	}
	occ, err := s.Get(ctx, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"uid": "u1", "recurrenceid": "2026-03-30T08:00:00Z", "scheduledstart": "2026-03-30T08:00:00Z",
		"scheduledend": "2026-03-30T09:00:00Z", "subject": "Weekly", "location": "Room A", "timezone": "Europe/Berlin", "recurrence": "", "seriesid": sr.ID} {
		if occ.Fields[k] != v {
			t.Errorf("occurrence %s = %q, want %q", k, occ.Fields[k], v)
		}
	}
	status := func(v *View) string {
		for _, p := range v.Parties {
			if p.Address == "bob@example.com" {
				return p.Status
			}
		}
		return "missing"
	}
	if st := status(occ); st != "ACCEPTED" {
		t.Errorf("occurrence: bob %q, want ACCEPTED", st)
	}
	if occ.Schedule == nil || occ.Schedule.Sequence != 1 {
		t.Errorf("occurrence schedule %v, want the series' SEQUENCE 1", occ.Schedule)
	}
	sv, _ := s.Get(ctx, sr.ID)
	if st := status(sv); st != "" {
		t.Errorf("series: bob %q, want unchanged", st)
	}

	// An answer to SEQUENCE 0 of another occurrence: held apart (it is an
	// occurrence), but the answer is older than the series' version.
	old := reply("r0.ics", 0)
	old.Record.Fields["recurrenceid"], old.Keys = "2026-04-06T08:00:00Z", []string{"uid:u1/20260406T080000Z"}
	res0 := apply(t, s, old, PolicyNewest)
	if v, _ := s.Get(ctx, res0.ID); status(v) != "" || !strings.Contains(res0.Note, "answers SEQUENCE 0") {
		t.Errorf("an answer to an older version: bob %q, note %q", status(v), res0.Note)
	}

	rep, err := s.Forget(ctx, "/r.ics", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Deleted) != 1 || rep.Deleted[0].ID != res.ID {
		t.Errorf("forget the answer: deleted %+v, want the occurrence it made", rep.Deleted)
	}

	s2 := openTest(t)
	series(s2, "")
	tx, err = s2.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Apply(reply("r.ics", 1), PolicyNewest); !errors.Is(err, ErrUnknownEvent) {
		t.Errorf("an answer for an occurrence of an event that is no series: %v, want ErrUnknownEvent", err)
	}
}
