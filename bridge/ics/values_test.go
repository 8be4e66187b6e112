package ics

import (
	"bytes"
	"os"
	"testing"

	"crmbridge/crm"
	"crmbridge/fixtures"
)

// TestFixtureValues checks the values worked out by hand from the
// fixtures (CET is UTC+1, CEST UTC+2 from 2024-03-31, PDT UTC-7).
func TestFixtureValues(t *testing.T) {
	tests := []struct {
		file  string
		index int // among records
		field string
		want  string
	}{
		{"exchange_recurring.ics", 0, "scheduledstart", "2024-03-18T09:00:00Z"},
		{"exchange_recurring.ics", 0, "scheduledend", "2024-03-18T09:30:00Z"},
		{"exchange_recurring.ics", 0, "subject", "Team sync, weekly"},
		{"exchange_recurring.ics", 0, "description", "Weekly sync, agenda:\n1. status\n2. risks, open items"},
		{"exchange_recurring.ics", 0, "recurrence", "RRULE:FREQ=WEEKLY;COUNT=6;INTERVAL=1;BYDAY=MO;WKST=SU\nEXDATE;TZID=W. Europe Standard Time:20240408T100000"},
		{"exchange_recurring.ics", 0, "reminder", "-PT15M"},
		{"exchange_recurring.ics", 0, "busystatus", "1"}, // TENTATIVE
		{"exchange_recurring.ics", 0, "statuscode", "5"},
		{"exchange_recurring.ics", 0, "ismeeting", "true"},
		{"exchange_recurring.ics", 0, "timezone", "W. Europe Standard Time"},
		{"exchange_recurring.ics", 1, "recurrenceid", "2024-04-01T08:00:00Z"},
		{"exchange_recurring.ics", 1, "scheduledstart", "2024-04-02T12:00:00Z"},
		{"exchange_recurring.ics", 1, "sensitivity", "2"},
		{"exchange_recurring.ics", 2, "scheduledstart", "2024-07-04T16:00:00Z"},
		{"exchange_recurring.ics", 2, "busystatus", "0"}, // TRANSP:TRANSPARENT
		{"exchange_recurring.ics", 3, "scheduledstart", "2024-01-10T08:00:00Z"},
		{"exchange_recurring.ics", 3, "scheduledend", "2024-01-10T09:30:00Z"},
		{"exchange_recurring.ics", 3, "statecode", "2"},
		{"exchange_recurring.ics", 3, "statuscode", "4"},
		{"allday.ics", 0, "scheduledstart", "2024-05-01T00:00:00Z"},
		{"allday.ics", 0, "scheduledend", "2024-05-04T00:00:00Z"},
		{"allday.ics", 0, "isalldayevent", "true"},
		{"allday.ics", 1, "scheduledend", "2024-12-26T00:00:00Z"},
		{"allday.ics", 2, "scheduledstart", "2024-06-10T00:00:00Z"},
		{"allday.ics", 2, "isalldayevent", "true"},
		{"allday.ics", 3, "scheduledstart", "2024-01-15T07:30:00Z"}, // floating, X-WR-TIMEZONE Europe/Berlin
		{"todo.ics", 0, "prioritycode", "2"},
		{"todo.ics", 0, "percentcomplete", "40"},
		{"todo.ics", 0, "statecode", "0"},
		{"todo.ics", 0, "statuscode", "3"},
		{"todo.ics", 0, "scheduledend", "2024-02-05T17:00:00Z"},
		{"todo.ics", 1, "actualend", "2024-02-08T15:30:00Z"},
		{"todo.ics", 1, "statecode", "1"},
		{"todo.ics", 1, "prioritycode", "0"},
		{"todo.ics", 2, "statecode", "2"},
		{"todo.ics", 2, "statuscode", "6"},
		{"todo.ics", 2, "prioritycode", "1"},
		{"vcal10.vcs", 0, "subject", "Réunion avec Zoé"},
		{"vcal10.vcs", 0, "description", "Ligne 1\nLigne 2"},
		{"vcal10.vcs", 0, "scheduledstart", "2024-03-01T20:00:00Z"}, // TZ:-05:00
		{"vcal10.vcs", 0, "scheduledend", "2024-03-01T21:00:00Z"},
		{"vcal10.vcs", 0, "reminder", "2024-03-01T19:45:00Z"},
		{"vcal10.vcs", 1, "scheduledend", "2024-03-02T12:00:00Z"},
	}
	cache := map[string][]*crm.Incoming{}
	for _, tt := range tests {
		recs, ok := cache[tt.file]
		if !ok {
			data, err := os.ReadFile("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			recs, _, _ = readAll(t, string(data), tt.file)
			cache[tt.file] = recs
		}
		if tt.index >= len(recs) {
			t.Errorf("%s: only %d records", tt.file, len(recs))
			continue
		}
		if got := recs[tt.index].Record.Fields[tt.field]; got != tt.want {
			t.Errorf("%s #%d %s = %q, want %q", tt.file, tt.index, tt.field, got, tt.want)
		}
	}
	// Parties of the master: organizer, required, two optional.
	recs := cache["exchange_recurring.ics"]
	ps := recs[0].Record.Parties
	want := []crm.Party{
		{Role: crm.RoleOrganizer, Address: "anna.mueller@example.com", Name: "Müller, Anna"},
		{Role: crm.RoleRequired, Address: "bob@example.com", Name: "Bob Jones", Status: "ACCEPTED"},
		{Role: crm.RoleOptional, Address: "Carol@Example.com", Name: "Carol, C.", Status: "NEEDS-ACTION"},
		{Role: crm.RoleOptional, Address: "room1@example.com", Status: "TENTATIVE"},
	}
	if len(ps) != len(want) {
		t.Fatalf("parties %+v", ps)
	}
	for i := range want {
		if ps[i] != want[i] {
			t.Errorf("party %d = %+v, want %+v", i, ps[i], want[i])
		}
	}
	if k := recs[1].Keys; len(k) != 1 || k[0] != "uid:"+recs[1].Record.Fields["uid"]+"/20240401T080000Z" {
		t.Errorf("exception keys %v", k)
	}
}

// TestCorpusAttachment: the inline ATTACH of an Aspose (Outlook) export,
// 10,767 bytes as Python's icalendar + base64 decode it.
func TestCorpusAttachment(t *testing.T) {
	dir := fixtures.CorpusDir(t, "ics")
	data, err := os.ReadFile(dir + "/aspose-email__Aspose.Email-for-Java__Examples_src_main_resources_email_appWithAttachments.ics")
	if err != nil {
		t.Skipf("corpus file missing: %v", err)
	}
	recs, _, _ := readAll(t, string(data), "app.ics")
	if len(recs) != 1 || len(recs[0].Record.Attachments) != 1 {
		t.Fatalf("records %d", len(recs))
	}
	a := recs[0].Record.Attachments[0]
	b := readAttachment(t, a)
	if a.Name != "sample.xlsx" || len(b) != 10767 || a.Size != 10767 || !bytes.HasPrefix(b, []byte("PK\x03\x04")) {
		t.Errorf("attachment %s %s %d bytes %q...", a.Name, a.MimeType, len(b), b[:4])
	}
}
