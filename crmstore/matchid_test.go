package crmstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"crmbridge/crm"
)

// An item's MatchID is the record holding that id when it is of the same
// entity and not deleted (also a record created earlier in the same
// batch); otherwise the item is a new record, which never takes the id
// (a suggested Record.ID, by contrast, it takes when free).
func TestMatchID(t *testing.T) {
	const (
		live  = "11111111-2222-4333-8444-555555555555"
		gone  = "22222222-2222-4333-8444-555555555555"
		event = "33333333-2222-4333-8444-555555555555"
		free  = "44444444-2222-4333-8444-555555555555"
	)
	for _, careful := range []bool{false, true} {
		t.Run(fmt.Sprint("careful=", careful), func(t *testing.T) {
			ctx := context.Background()
			s := openTest(t)
			for _, r := range []struct {
				id string
				e  crm.Entity
			}{{live, crm.Contact}, {gone, crm.Contact}, {event, crm.Appointment}} {
				in := contactIn("old-"+r.id, "Old")
				in.Record.ID, in.Record.Entity = r.id, r.e
				if r.e == crm.Appointment {
					in.Record.Fields = map[string]string{"subject": "Review"}
				}
				apply(t, s, in, PolicyNewest)
			}
			must(t, s.Update(ctx, func(tx *Tx) error { return tx.Delete(gone, "cli") }))

			tx, err := s.Begin(ctx)
			must(t, err)
			defer tx.Rollback()
			if careful {
				tx.Careful()
			}
			// A record created in this batch, then named by a later item.
			first, err := tx.Apply(contactIn("new", "New"), PolicyNewest)
			must(t, err)
			for _, tc := range []struct {
				name, match string
				want        string // the record's id; "" a new one
			}{
				{"live contact", live, live},
				{"this batch's contact", first.ID, first.ID},
				{"deleted contact", gone, ""},
				{"an appointment's id", event, ""},
				{"no record", free, ""},
			} {
				in := contactIn("file-"+tc.name, "Named "+tc.name)
				in.MatchID = tc.match
				in.ModifiedAt = in.ModifiedAt.Add(time.Hour) // newer: its name is taken
				res, err := tx.Apply(in, PolicyNewest)
				must(t, err)
				switch {
				case tc.want != "" && (res.ID != tc.want || res.Outcome != Updated):
					t.Errorf("%s: %s %s, want %s updated", tc.name, res.ID, res.Outcome, tc.want)
				case tc.want == "" && (res.Outcome != Created || res.ID == tc.match || res.ID == ""):
					t.Errorf("%s: %s %s, want a new record with an id of its own", tc.name, res.ID, res.Outcome)
				}
			}
			must(t, tx.Commit())
		})
	}
}
