package crmstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"crmbridge/crm"
)

// scanStore is a store whose records' creation order differs from the
// order they were written in (rowid), with creation times shared by
// several records, every kind of row Get reads (parties, attachments of
// an e-mail and of a contact, extras, members, a schedule, provenance,
// keys), a value only column by column reads (a NUL byte), a deleted
// record and a record whose entity row is missing.
func scanStore(t *testing.T) *Store {
	t.Helper()
	s := openTest(t)
	t0 := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	clock := t0
	s.now = func() time.Time { return clock }
	att := func(name, content string) crm.Attachment {
		return crm.Attachment{Name: name, MimeType: "image/png", Open: func() (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader(content)), nil
		}}
	}
	in := []struct {
		at time.Duration // creation time after t0
		in crm.Incoming
	}{
		{3 * time.Hour, crm.Incoming{Record: crm.Record{Entity: crm.Contact, Fields: map[string]string{"firstname": "Late", "emailaddress1": "late@example.com"},
			Extras: []crm.Extra{{Name: "X-A", Value: "1"}, {Name: "TEL", Value: "2", Params: map[string]string{"TYPE": "home"}}}}, Keys: []string{"email:late@example.com"}}},
		{time.Hour, crm.Incoming{Record: crm.Record{Entity: crm.Contact, Fields: map[string]string{"lastname": "Early"},
			Attachments: []crm.Attachment{att("photo.png", "png")}}}},
		{2 * time.Hour, crm.Incoming{Record: crm.Record{Entity: crm.Email, Fields: map[string]string{"subject": "Hi"},
			Parties:     []crm.Party{{Role: crm.RoleSender, Address: "ann@example.com", Name: "Ann"}, {Role: crm.RoleTo, Address: "late@example.com"}},
			Attachments: []crm.Attachment{att("a.txt", "a"), att("b.txt", "b")}}, Keys: []string{"msgid:m1@x"}}},
		{2 * time.Hour, crm.Incoming{Record: crm.Record{Entity: crm.Task, Fields: map[string]string{"subject": "Call back"}},
			Schedule: &crm.Schedule{Sequence: 2, Stamp: t0}}},
		{0, crm.Incoming{Record: crm.Record{Entity: crm.List, Fields: map[string]string{"listname": "Friends"},
			Members: []crm.Party{{Address: "ann@example.com"}, {Address: "late@example.com"}}}}},
		{2 * time.Hour, crm.Incoming{Record: crm.Record{Entity: crm.Contact, Fields: map[string]string{"lastname": "Same time"}}}},
		{4 * time.Hour, crm.Incoming{Record: crm.Record{Entity: crm.Contact, Fields: map[string]string{"lastname": "Deleted"}}}},
	}
	var ids []string
	for i, c := range in {
		clock = t0.Add(c.at)
		c.in.Source = crm.SourceRef{Kind: "test", Key: fmt.Sprint(i), Version: "1"}
		c.in.ModifiedAt = clock
		ids = append(ids, apply(t, s, &c.in, PolicyNewest).ID)
	}
	tx, err := s.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Delete(ids[len(ids)-1], "cli"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// Written last, created first; a creation time two share, the later
	// written with the smaller id; a NUL byte; no contact row.
	stamp := t0.Add(-time.Hour).Format(time.RFC3339Nano)
	if _, err := s.db.Exec(`
		INSERT INTO record (id, entity, created_at, modified_at) VALUES ('ffffffff-0000-7000-8000-000000000001', 'contact', ?1, ?1);
		INSERT INTO contact (id, lastname, nickname) VALUES ('ffffffff-0000-7000-8000-000000000001', 'First', 'a'||char(0)||'b');
		INSERT INTO record (id, entity, created_at, modified_at) VALUES ('00000000-0000-7000-8000-000000000001', 'contact', ?1, ?1);
		INSERT INTO contact (id, lastname) VALUES ('00000000-0000-7000-8000-000000000001', 'Also first');
		INSERT INTO record (id, entity, created_at, modified_at) VALUES ('11111111-0000-7000-8000-000000000001', 'contact', ?2, ?2);`,
		stamp, t0.Add(time.Hour).Format(time.RFC3339Nano)); err != nil {
		t.Fatal(err)
	}
	return s
}

// noOpen is v with its attachments' Open functions cleared (functions are
// never DeepEqual).
func noOpen(v *View) *View {
	if v == nil {
		return nil
	}
	c := *v
	c.Attachments = slices.Clone(v.Attachments)
	for i := range c.Attachments {
		c.Attachments[i].Open = nil
	}
	return &c
}

// Scan hands out the records IDs lists, in that order, each as GetBatch
// reads it (a record GetBatch leaves out comes as its id alone), for any
// chunk size and set of entities, with and without bookkeeping; Count
// counts them.
func TestScanMatchesIDsAndGetBatch(t *testing.T) {
	s := scanStore(t)
	sn, err := s.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	for _, es := range [][]crm.Entity{
		{crm.Contact},
		{crm.Email},
		{crm.Appointment, crm.Task},
		{crm.Contact, crm.Email, crm.Task, crm.List},
		crm.Entities(),
	} {
		ids, err := sn.IDs(es)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := sn.Count(es); err != nil || n != len(ids) {
			t.Errorf("%v: Count %d, %v; IDs lists %d", es, n, err, len(ids))
		}
		for _, opt := range []BatchOptions{{}, {NoBookkeeping: true}} {
			want, err := sn.GetBatch(ids, opt)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range []int{1, 2, 3, 1000} {
				// The chunks are completed after the scan, on another
				// goroutine: Records reads nothing from the store.
				var chunks []*ScanChunk
				err := sn.Scan(es, n, opt, func(c *ScanChunk) error {
					if c.Len() == 0 || c.Len() > n {
						t.Errorf("%v n=%d: chunk of %d", es, n, c.Len())
					}
					chunks = append(chunks, c)
					return nil
				})
				if err != nil {
					t.Fatalf("%v n=%d: %v", es, n, err)
				}
				var gotMissing []string
				for _, c := range chunks {
					gotMissing = append(gotMissing, c.Missing()...)
				}
				done := make(chan []Scanned)
				go func() {
					var all []Scanned
					for _, c := range chunks {
						all = append(all, c.Records()...)
					}
					done <- all
				}()
				var got, missing []string
				for _, c := range <-done {
					got = append(got, c.ID)
					if c.View == nil {
						missing = append(missing, c.ID)
					}
					if !reflect.DeepEqual(noOpen(c.View), noOpen(want[c.ID])) {
						t.Errorf("%v n=%d %+v: %s:\nScan     %+v\nGetBatch %+v", es, n, opt, c.ID, noOpen(c.View), noOpen(want[c.ID]))
					}
					if c.View != nil {
						for _, a := range c.View.Attachments {
							if rc, err := a.Open(); err != nil {
								t.Errorf("%s: open %s: %v", c.ID, a.Name, err)
							} else {
								rc.Close()
							}
						}
					}
				}
				if !slices.Equal(got, ids) {
					t.Errorf("%v n=%d: Scan order\n%v\nIDs order\n%v", es, n, got, ids)
				}
				if !slices.Equal(missing, gotMissing) {
					t.Errorf("%v n=%d: Missing %v, views missing for %v", es, n, gotMissing, missing)
				}
			}
		}
	}
	// The store holds what the cases above need.
	var views, missing, parties, members, atts, extras, sched, nul int
	if err := sn.Scan(crm.Entities(), 4, BatchOptions{}, func(chunk *ScanChunk) error {
		for _, c := range chunk.Records() {
			v := c.View
			if v == nil {
				missing++
				continue
			}
			views++
			parties += len(v.Parties)
			members += len(v.Members)
			atts += len(v.Attachments)
			extras += len(v.Extras)
			if v.Schedule != nil {
				sched++
			}
			if strings.Contains(v.Fields["nickname"], "\x00") {
				nul++
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if views != 8 || missing != 1 || parties != 2 || members != 2 || atts != 3 || extras != 2 || sched != 1 || nul != 1 {
		t.Errorf("store: %d views, %d missing, %d parties, %d members, %d attachments, %d extras, %d schedules, %d NUL values",
			views, missing, parties, members, atts, extras, sched, nul)
	}
}

// An error from fn ends the scan and is what Scan returns.
func TestScanStopsOnError(t *testing.T) {
	s := scanStore(t)
	sn, err := s.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	stop := errors.New("stop")
	calls := 0
	err = sn.Scan([]crm.Entity{crm.Contact}, 2, BatchOptions{}, func(*ScanChunk) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("Scan: %v after %d calls, want %v after 1", err, calls, stop)
	}
	// The snapshot is still usable.
	if _, err := sn.IDs([]crm.Entity{crm.Contact}); err != nil {
		t.Fatal(err)
	}
}

// Scan's queries walk record_entity in their order: SQLite sorts nothing
// (a sort would hold every row, entity columns and all, before the
// first).
func TestScanPlan(t *testing.T) {
	s := openTest(t)
	for _, e := range crm.Entities() {
		for _, side := range []bool{true, false} {
			q, _, _ := scanQuery(e, side, side)
			rows, err := s.db.Query(`EXPLAIN QUERY PLAN `+q, string(e))
			if err != nil {
				t.Fatalf("%s: %v", e, err)
			}
			var plan []string
			for rows.Next() {
				var id, parent, notused int
				var detail string
				if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			rows.Close()
			if p := strings.Join(plan, "\n"); strings.Contains(p, "TEMP B-TREE") || !strings.Contains(p, "record_entity") {
				t.Errorf("%s: plan\n%s", e, p)
			}
		}
	}
}

// Records says that a view's field values are valid UTF-8 when it checked
// them (every record read from packed texts), and not for one holding an
// invalid byte nor for one read column by column (a NUL byte) nor for a
// record without its entity row; a record changed after its creation has
// both its times, one never changed the same time twice.
func TestScanValidUTF8AndTimes(t *testing.T) {
	s := scanStore(t)
	created := time.Date(2024, 5, 6, 8, 8, 9, 0, time.UTC) // "Early": t0 + 1h
	changed := created.Add(90 * time.Minute)
	if _, err := s.db.Exec(`UPDATE contact SET firstname = CAST(x'41ff42' AS TEXT) WHERE lastname = 'Also first'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(`UPDATE record SET modified_at = ? WHERE id = (SELECT id FROM contact WHERE lastname = 'Early')`, changed.Format(time.RFC3339Nano)); err != nil {
		t.Fatal(err)
	}
	sn, err := s.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	var recs []Scanned
	if err := sn.Scan([]crm.Entity{crm.Contact}, 2, BatchOptions{}, func(c *ScanChunk) error {
		recs = append(recs, c.Records()...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		if r.View == nil {
			seen["(missing)"] = true
			if r.ValidUTF8 {
				t.Errorf("%s without its contact row: ValidUTF8", r.ID)
			}
			continue
		}
		last := r.View.Fields["lastname"]
		seen[last] = true
		if want := last != "Also first" && last != "First"; r.ValidUTF8 != want {
			t.Errorf("%q: ValidUTF8 %v, want %v", last, r.ValidUTF8, want)
		}
		switch last {
		case "Early":
			if !r.View.CreatedAt.Equal(created) || !r.View.ModifiedAt.Equal(changed) {
				t.Errorf("Early: created %v, modified %v; want %v, %v", r.View.CreatedAt, r.View.ModifiedAt, created, changed)
			}
		case "Same time":
			if r.View.CreatedAt.IsZero() || r.View.ModifiedAt != r.View.CreatedAt {
				t.Errorf("Same time: created %v, modified %v; want one time", r.View.CreatedAt, r.View.ModifiedAt)
			}
		}
	}
	for _, want := range []string{"Early", "Also first", "First", "Same time", "(missing)"} {
		if !seen[want] {
			t.Errorf("no record %q scanned (seen %v)", want, seen)
		}
	}
}
