package outlookcsv

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"crmbridge/crm"
)

// JournalHeader is the header row of the journal CSV: the fields of an
// Outlook journal entry (MS-OXOJRNL 2.2: PidLidLogType "Entry Type",
// PidLidLogStart, PidLidLogDuration in minutes, PidLidContacts,
// PidLidCompanies, Categories, the body) under the names Outlook's
// Import/Export wizard maps for a Journal folder, with start date and
// time in separate columns as in Outlook's calendar CSV. Outlook maps a
// column by its exact name; any other column can be mapped by hand in
// the wizard ("Map Custom Fields").
var JournalHeader = []string{
	"Subject", "Entry Type", "Start Date", "Start Time", "Duration", "Contacts", "Companies",
	"Categories", "Notes", "Billing Information", "Mileage", "Private", "Sensitivity",
}

// entryTypes are the journal entry types (PidLidLogType, as Outlook
// names them in its Entry type list) of the CRM-only activities.
var entryTypes = map[crm.Entity]string{
	crm.PhoneCall: "Phone call",
	crm.Letter:    "Letter",
	crm.Fax:       "Fax",
}

// JournalEntities are the record types a JournalWriter writes.
var JournalEntities = []crm.Entity{crm.PhoneCall, crm.Letter, crm.Fax}

// JournalWriter writes phone calls, letters and faxes (activities
// Outlook has no item for) as Outlook journal entries. Call Flush at the
// end. A JournalWriter is not safe for concurrent use.
type JournalWriter struct {
	w writer
	// Location is the time zone in which start dates and times are
	// written (Outlook reads them as local times). Default time.Local.
	Location *time.Location
}

// NewJournalWriter returns a JournalWriter that writes to w.
func NewJournalWriter(w io.Writer) *JournalWriter {
	return &JournalWriter{w: newWriter(w, JournalHeader), Location: time.Local}
}

// Write writes one phone call, letter or fax as a row: the start is the
// actual start, else the scheduled one; the duration (whole minutes, as
// PidLidLogDuration) is the time to the matching end; Contacts are the
// parties' names (else addresses), separated by ";" as Outlook writes
// lists; the phone or fax number, number of pages, postal address and
// direction, which a journal entry has no field for, start the notes as
// "Label: value" lines so that no value is lost.
func (jw *JournalWriter) Write(rec crm.Record) error {
	typ, ok := entryTypes[rec.Entity]
	if !ok {
		return fmt.Errorf("outlookcsv: cannot write a %s record as a journal entry", rec.Entity)
	}
	f := rec.Fields
	loc := jw.Location
	if loc == nil {
		loc = time.Local
	}
	jw.w.start()
	row, set := jw.w.record()
	set("Subject", f["subject"])
	set("Entry Type", typ)
	start, end := f["actualstart"], f["actualend"]
	if _, err := time.Parse(time.RFC3339, start); err != nil {
		start, end = f["scheduledstart"], f["scheduledend"]
	}
	if t, err := time.Parse(time.RFC3339, start); err == nil {
		set("Start Date", mdy(t.In(loc)))
		set("Start Time", t.In(loc).Format("3:04:05 PM"))
		if e, err := time.Parse(time.RFC3339, end); err == nil && !e.Before(t) {
			set("Duration", strconv.Itoa(int(e.Sub(t).Round(time.Minute)/time.Minute))+" minutes")
		}
	}
	if row[jw.w.index["Duration"]] == "" {
		set("Duration", "0 minutes")
	}
	set("Contacts", partyNames(rec.Parties))
	set("Categories", strings.Join(splitList(f["categories"]), ";"))
	var notes []string
	for _, l := range []struct{ label, field string }{
		{"Phone number", "phonenumber"}, {"Fax number", "faxnumber"}, {"Number of pages", "numberofpages"}, {"Address", "address"},
	} {
		if v := strings.TrimSpace(f[l.field]); v != "" {
			notes = append(notes, l.label+": "+v)
		}
	}
	switch f["directioncode"] {
	case "true":
		notes = append(notes, "Direction: outgoing")
	case "false":
		notes = append(notes, "Direction: incoming")
	}
	if d := f["description"]; d != "" {
		if len(notes) > 0 {
			notes = append(notes, "")
		}
		notes = append(notes, d)
	}
	set("Notes", withExtraNotes(strings.Join(notes, "\n"), extraLines(rec.Extras)))
	sens := map[string]string{"1": "Personal", "2": "Private", "3": "Confidential"}[f["sensitivity"]]
	if sens == "" {
		sens = "Normal"
	}
	set("Sensitivity", sens)
	set("Private", "False")
	if f["sensitivity"] == "2" {
		set("Private", "True")
	}
	return jw.w.row(row)
}

// Flush writes the header if no row was written, and any buffered data.
func (jw *JournalWriter) Flush() error { return jw.w.flush() }
