package outlookcsv

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"crmbridge/crm"
)

func journal() []crm.Record {
	return []crm.Record{
		{Entity: crm.PhoneCall, Fields: map[string]string{
			"subject": "Called Ann", "actualstart": "2024-03-04T09:00:00Z", "actualend": "2024-03-04T09:25:30Z",
			"scheduledstart": "2024-03-04T08:00:00Z", "phonenumber": "+49 30 1", "directioncode": "true",
			"description": "Offer accepted,\r\n\"finally\"", "categories": "Sales,VIP", "sensitivity": "2",
		}, Parties: []crm.Party{{Role: crm.RoleTo, Name: "Ann Lee", Address: "ann@example.com"}, {Role: crm.RoleTo, Address: "bob@example.com"}}},
		{Entity: crm.Letter, Fields: map[string]string{
			"subject": "Contract", "scheduledstart": "2024-03-05T23:30:00Z", "scheduledend": "2024-03-06T00:30:00Z",
			"address": "Hauptstraße 1, Berlin",
		}},
		{Entity: crm.Fax, Fields: map[string]string{"subject": "Invoice", "faxnumber": "+1 555 0199", "numberofpages": "3", "directioncode": "false"}},
	}
}

func writeJournal(t *testing.T) []byte {
	var buf bytes.Buffer
	w := NewJournalWriter(&buf)
	w.Location = berlin
	for _, r := range journal() {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Phone calls, letters and faxes are written as Outlook journal entries:
// entry type, local start, duration in minutes, contacts, categories,
// sensitivity; the values a journal entry has no field for lead the
// notes.
func TestJournalWriter(t *testing.T) {
	recs := parse(t, writeJournal(t), JournalHeader)
	want := []map[string]string{
		{"Subject": "Called Ann", "Entry Type": "Phone call", "Start Date": "3/4/2024", "Start Time": "10:00:00 AM",
			"Duration": "26 minutes", "Contacts": "Ann Lee;bob@example.com", "Categories": "Sales;VIP",
			"Notes": "Phone number: +49 30 1\nDirection: outgoing\n\nOffer accepted,\n\"finally\"", "Private": "True", "Sensitivity": "Private"},
		{"Subject": "Contract", "Entry Type": "Letter", "Start Date": "3/6/2024", "Start Time": "12:30:00 AM",
			"Duration": "60 minutes", "Contacts": "", "Notes": "Address: Hauptstraße 1, Berlin", "Private": "False", "Sensitivity": "Normal"},
		{"Subject": "Invoice", "Entry Type": "Fax", "Start Date": "", "Start Time": "", "Duration": "0 minutes",
			"Notes": "Fax number: +1 555 0199\nNumber of pages: 3\nDirection: incoming"},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d rows", len(recs))
	}
	for i, w := range want {
		for k, v := range w {
			if recs[i][k] != v {
				t.Errorf("row %d: %s = %q, want %q", i+1, k, recs[i][k], v)
			}
		}
	}
	if err := NewJournalWriter(&bytes.Buffer{}).Write(crm.Record{Entity: crm.Task}); err == nil {
		t.Error("a task written as a journal entry")
	}
	path := filepath.Join("testdata", "journal.csv")
	out := writeJournal(t)
	if *update {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want, err := os.ReadFile(path); err != nil || !bytes.Equal(out, want) {
		t.Errorf("%s differs (%v); got:\n%s", path, err, out)
	}
}
