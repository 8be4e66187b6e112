package outlookcsv

import (
	"bytes"
	"testing"

	"crmbridge/crm"
)

// A reminder relative to the task's start (an iCalendar TRIGGER such as
// -PT15M, RFC 5545 3.8.6.3: relative to DTSTART unless RELATED=END) is
// written as the absolute date and time Outlook's columns hold; the
// task's owner and attendees go to Contacts (names, else addresses,
// ";"-separated).
func TestTaskWriterRelativeReminderAndContacts(t *testing.T) {
	var buf bytes.Buffer
	w := NewTaskWriter(&buf)
	w.Location = berlin
	for _, r := range []crm.Record{
		{Entity: crm.Task, Fields: map[string]string{"subject": "a", "scheduledstart": "2024-03-04T09:00:00Z", "reminder": "-PT15M"},
			Parties: []crm.Party{{Role: crm.RoleOrganizer, Name: "Olga Owner", Address: "o@example.com"}, {Role: crm.RoleRequired, Address: "ann@example.com"}}},
		{Entity: crm.Task, Fields: map[string]string{"subject": "b", "scheduledstart": "2024-03-04T09:00:00Z", "reminder": "P1DT2H"}},
		{Entity: crm.Task, Fields: map[string]string{"subject": "c", "reminder": "-PT15M"}}, // no start: nothing to be relative to
	} {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	recs := parse(t, buf.Bytes(), TaskHeader)
	want := []map[string]string{
		{"Reminder On/Off": "True", "Reminder Date": "3/4/2024", "Reminder Time": "9:45:00 AM", "Contacts": "Olga Owner;ann@example.com"},
		{"Reminder On/Off": "True", "Reminder Date": "3/5/2024", "Reminder Time": "12:00:00 PM", "Contacts": ""},
		{"Reminder On/Off": "False", "Reminder Date": "", "Reminder Time": ""},
	}
	for i, w := range want {
		for k, v := range w {
			if recs[i][k] != v {
				t.Errorf("row %d: %s = %q, want %q", i+1, k, recs[i][k], v)
			}
		}
	}
}
