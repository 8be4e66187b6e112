package outlookcsv

import (
	"bytes"
	"testing"

	"crmbridge/crm"
)

// Extra values go to the Outlook columns that hold them while those are
// empty; the rest (a fourth e-mail, a second title, a number whose
// columns are taken) to the end of Notes after NotesMarker.
func TestContactExtras(t *testing.T) {
	rec := crm.Record{Entity: crm.Contact, Fields: map[string]string{
		"firstname": "Ann", "lastname": "Lee", "telephone2": "+1 555 0001", "fax": "+1 555 0009",
		"description": "met at the fair",
	}, Extras: []crm.Extra{
		{Name: "EMAIL", Value: "a4@example.org", Params: map[string]string{"TYPE": "home"}},
		{Name: "TEL", Value: "+1 555 0002", Params: map[string]string{"TYPE": "home"}},
		{Name: "TEL", Value: "+1 555 0003", Params: map[string]string{"TYPE": "home,fax"}},
		{Name: "TEL", Value: "+1 555 0004", Params: map[string]string{"TYPE": "work,fax"}},
		{Name: "TEL", Value: "+1 555 0005", Params: map[string]string{"TYPE": "fax"}},
		{Name: "TEL", Value: "+1 555 0006", Params: map[string]string{"TYPE": "work"}},
		{Name: "TEL", Value: "+1 555 0007", Params: map[string]string{"TYPE": "car"}},
		{Name: "TEL", Value: "+1 555 0008"},
		{Name: "TITLE", Value: "Author"},
		{Name: "URL", Value: "https://ann.example.org/"},
		{Name: "X-MS-MANAGER", Value: "Bob"},
		{Name: "GENDER", Value: "F"},
		{Name: "X-SKYPE", Value: "ann.lee"},
		{Name: "X-MS-TEL", Value: "+1 555 0010", Params: map[string]string{"TYPE": "assistant"}},
		{Name: "X-MS-TEL", Value: "+1 555 0011", Params: map[string]string{"TYPE": "telex"}},
	}}
	var buf bytes.Buffer
	w := NewContactWriter(&buf)
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	got := parse(t, buf.Bytes(), ContactHeader)[0]
	want := map[string]string{
		"Home Phone": "+1 555 0001", "Home Phone 2": "+1 555 0002", "Home Fax": "+1 555 0003",
		"Business Fax": "+1 555 0009", "Other Fax": "+1 555 0004", "Business Phone 2": "+1 555 0006",
		"Car Phone": "+1 555 0007", "Other Phone": "+1 555 0008", "Web Page": "https://ann.example.org/",
		"Manager's Name": "Bob", "Gender": "Female", "Assistant's Phone": "+1 555 0010", "Telex": "+1 555 0011",
		"Notes": "met at the fair\n\n" + NotesMarker + "\nEMAIL;TYPE=home: a4@example.org\n" +
			"TEL;TYPE=fax: +1 555 0005\nTITLE: Author\nX-SKYPE: ann.lee",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestTaskExtras(t *testing.T) {
	var buf bytes.Buffer
	w := NewTaskWriter(&buf)
	if err := w.Write(crm.Record{Entity: crm.Task, Fields: map[string]string{"subject": "Do"},
		Extras: []crm.Extra{{Name: "X-APPLE-SORT-ORDER", Value: "42"}}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := parse(t, buf.Bytes(), TaskHeader)[0]["Notes"]; got != NotesMarker+"\nX-APPLE-SORT-ORDER: 42" {
		t.Errorf("Notes %q", got)
	}
}

func TestJournalExtras(t *testing.T) {
	var buf bytes.Buffer
	w := NewJournalWriter(&buf)
	if err := w.Write(crm.Record{Entity: crm.PhoneCall, Fields: map[string]string{"subject": "Call", "description": "talked"},
		Extras: []crm.Extra{{Name: "X-A", Value: "1"}}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := parse(t, buf.Bytes(), JournalHeader)[0]["Notes"]; got != "talked\n\n"+NotesMarker+"\nX-A: 1" {
		t.Errorf("Notes %q", got)
	}
}
