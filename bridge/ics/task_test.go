package ics

import (
	"reflect"
	"strings"
	"testing"

	"crmbridge/crm"
)

// A task's owner and attendees (VTODO ORGANIZER and ATTENDEE, RFC 5545
// 3.6.2) and its reminder, relative or absolute (VALARM TRIGGER), are
// written and read back as they were.
func TestEncodeTaskPartiesAndReminder(t *testing.T) {
	for _, rem := range []string{"-PT15M", "2026-03-01T08:00:00Z"} {
		rec := crm.Record{ID: "01a22b1e-8161-7571-b7c8-ccfa5cf7cae9", Entity: crm.Task, Fields: map[string]string{
			"subject": "Prepare offer", "scheduledstart": "2026-03-01T09:00:00Z", "scheduledend": "2026-03-02T17:00:00Z",
			"reminder": rem, "statecode": "0", "statuscode": "2", "prioritycode": "1"},
			Parties: []crm.Party{
				{Role: crm.RoleOrganizer, Address: "owner@example.com", Name: "Olga Owner"},
				{Role: crm.RoleRequired, Address: "ann@example.com", Name: "Ann", Status: "ACCEPTED"},
				{Role: crm.RoleOptional, Address: "bob@example.com", Status: "NEEDS-ACTION"},
			}}
		out := encode(t, rec)
		for _, want := range []string{"BEGIN:VTODO", "ORGANIZER;CN=Olga Owner:mailto:owner@example.com", "BEGIN:VALARM"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("%s: no %q in\n%s", rem, want, out)
			}
		}
		back, errs, fatal := readAll(t, string(out), "t.ics")
		if fatal != nil || len(errs) > 0 || len(back) != 1 {
			t.Fatalf("read back %d, %v %v", len(back), errs, fatal)
		}
		if !reflect.DeepEqual(back[0].Record.Parties, rec.Parties) {
			t.Errorf("%s: parties\n got %+v\nwant %+v", rem, back[0].Record.Parties, rec.Parties)
		}
		if got := back[0].Record.Fields["reminder"]; got != rem {
			t.Errorf("reminder %q, want %q", got, rem)
		}
	}
}
