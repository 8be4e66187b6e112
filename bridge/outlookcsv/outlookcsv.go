package outlookcsv

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"crmbridge/bridge/internal/textcodec"
	"crmbridge/crm"
)

// ContactHeader is the header row Outlook writes when it exports a contacts
// folder to CSV (Outlook 2007 to 365, English).
var ContactHeader = []string{
	"Title", "First Name", "Middle Name", "Last Name", "Suffix", "Company", "Department", "Job Title",
	"Business Street", "Business Street 2", "Business Street 3", "Business City", "Business State",
	"Business Postal Code", "Business Country/Region",
	"Home Street", "Home Street 2", "Home Street 3", "Home City", "Home State", "Home Postal Code",
	"Home Country/Region",
	"Other Street", "Other Street 2", "Other Street 3", "Other City", "Other State", "Other Postal Code",
	"Other Country/Region",
	"Assistant's Phone", "Business Fax", "Business Phone", "Business Phone 2", "Callback", "Car Phone",
	"Company Main Phone", "Home Fax", "Home Phone", "Home Phone 2", "ISDN", "Mobile Phone", "Other Fax",
	"Other Phone", "Pager", "Primary Phone", "Radio Phone", "TTY/TDD Phone", "Telex",
	"Account", "Anniversary", "Assistant's Name", "Billing Information", "Birthday", "Business Address PO Box",
	"Categories", "Children", "Directory Server",
	"E-mail Address", "E-mail Type", "E-mail Display Name",
	"E-mail 2 Address", "E-mail 2 Type", "E-mail 2 Display Name",
	"E-mail 3 Address", "E-mail 3 Type", "E-mail 3 Display Name",
	"Gender", "Government ID Number", "Hobby", "Home Address PO Box", "Initials", "Internet Free Busy",
	"Keywords", "Language", "Location", "Manager's Name", "Mileage", "Notes", "Office Location",
	"Organizational ID Number", "Other Address PO Box", "Priority", "Private", "Profession", "Referred By",
	"Sensitivity", "Spouse", "User 1", "User 2", "User 3", "User 4", "Web Page",
}

// TaskHeader is the header row Outlook writes when it exports a tasks
// folder to CSV.
var TaskHeader = []string{
	"Subject", "Start Date", "Due Date", "Reminder On/Off", "Reminder Date", "Reminder Time",
	"Date Completed", "% Complete", "Total Work", "Actual Work", "Billing Information", "Categories",
	"Companies", "Contacts", "Mileage", "Notes", "Priority", "Private", "Role", "Schedule+ Priority",
	"Sensitivity", "Status",
}

// noDate is what Outlook writes in an empty date column.
const noDate = "0/0/00"

// writer writes Outlook CSV rows: a BOM and the header before the first
// row, every field quoted, CRLF line ends (also inside a field).
type writer struct {
	w       *bufio.Writer
	header  []string
	started bool
	index   map[string]int
	err     error // first write error
}

func newWriter(w io.Writer, header []string) writer {
	idx := make(map[string]int, len(header))
	for i, h := range header {
		idx[h] = i
	}
	return writer{w: bufio.NewWriter(w), header: header, index: idx}
}

func (w *writer) start() {
	if w.started {
		return
	}
	w.started = true
	w.w.WriteString("\uFEFF")
	w.row(w.header)
}

func (w *writer) row(fields []string) error {
	if w.err != nil {
		return w.err
	}
	for i, f := range fields {
		if i > 0 {
			w.w.WriteByte(',')
		}
		f = textcodec.ReplaceInvalid(f) // the file is UTF-8 (its BOM says so)
		f = strings.ReplaceAll(strings.ReplaceAll(f, "\r\n", "\n"), "\r", "\n")
		f = strings.ReplaceAll(f, "\n", "\r\n")
		w.w.WriteByte('"')
		w.w.WriteString(strings.ReplaceAll(f, `"`, `""`))
		w.w.WriteByte('"')
	}
	if _, err := w.w.WriteString("\r\n"); err != nil {
		w.err = fmt.Errorf("outlookcsv: write: %w", err)
	}
	return w.err
}

// record returns an empty row and a setter for it by column name.
func (w *writer) record() ([]string, func(col, v string)) {
	row := make([]string, len(w.header))
	return row, func(col, v string) {
		i, ok := w.index[col]
		if !ok {
			panic("outlookcsv: unknown column " + col) // a bug in this package
		}
		row[i] = v
	}
}

func (w *writer) flush() error {
	w.start()
	if w.err != nil {
		return w.err
	}
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("outlookcsv: write: %w", err)
	}
	return nil
}

// ContactWriter writes contacts (and accounts, as company-only rows) in
// Outlook's contact CSV format. Call Flush at the end; nothing may be
// written until then. A ContactWriter is not safe for concurrent use.
type ContactWriter struct{ w writer }

// NewContactWriter returns a ContactWriter that writes to w.
func NewContactWriter(w io.Writer) *ContactWriter {
	return &ContactWriter{w: newWriter(w, ContactHeader)}
}

// Write writes one contact or account record as a row.
func (cw *ContactWriter) Write(rec crm.Record) error {
	f := rec.Fields
	switch rec.Entity {
	case crm.Contact:
	case crm.Account:
		g := map[string]string{"company": f["name"]}
		for k, v := range f {
			if k != "name" {
				g[k] = v
			}
		}
		f = g
	default:
		return fmt.Errorf("outlookcsv: cannot write a %s record as a contact", rec.Entity)
	}
	cw.w.start()
	row, set := cw.w.record()
	for col, field := range map[string]string{
		"Title": "salutation", "First Name": "firstname", "Middle Name": "middlename", "Last Name": "lastname",
		"Suffix": "suffix", "Company": "company", "Department": "department", "Job Title": "jobtitle",
		"Business Fax": "fax", "Business Phone": "telephone1", "Home Phone": "telephone2",
		"Mobile Phone": "mobilephone", "Other Phone": "telephone3", "Pager": "pager",
		"Notes": "description", "Spouse": "spousesname", "Web Page": "websiteurl",
	} {
		set(col, f[field])
	}
	for n, prefix := range map[string]string{"1": "Business", "2": "Home", "3": "Other"} {
		a := "address" + n + "_"
		set(prefix+" Street", f[a+"line1"])
		set(prefix+" Street 2", f[a+"line2"])
		set(prefix+" Street 3", f[a+"line3"])
		set(prefix+" City", f[a+"city"])
		set(prefix+" State", f[a+"stateorprovince"])
		set(prefix+" Postal Code", f[a+"postalcode"])
		set(prefix+" Country/Region", f[a+"country"])
		set(prefix+" Address PO Box", f[a+"postofficebox"])
	}
	set("Birthday", date(f["birthdate"]))
	set("Anniversary", date(f["anniversary"]))
	// Outlook separates categories with ';' in its CSV files.
	set("Categories", strings.Join(splitList(f["categories"]), ";"))
	name := f["fullname"]
	if name == "" {
		var parts []string
		for _, k := range []string{"firstname", "middlename", "lastname"} {
			if v := f[k]; v != "" {
				parts = append(parts, v)
			}
		}
		name = strings.Join(parts, " ")
	}
	for i, col := range []string{"E-mail", "E-mail 2", "E-mail 3"} {
		addr := f["emailaddress"+strconv.Itoa(i+1)]
		if addr == "" {
			continue
		}
		set(col+" Address", addr)
		set(col+" Type", "SMTP")
		// Outlook's display name for an e-mail entry: "Name (address)".
		if name != "" {
			set(col+" Display Name", name+" ("+addr+")")
		} else {
			set(col+" Display Name", addr)
		}
	}
	set("Notes", withExtraNotes(f["description"], cw.w.placeExtras(row, rec.Extras)))
	// Outlook's values for columns we hold no data for.
	if row[cw.w.index["Gender"]] == "" {
		set("Gender", "Unspecified")
	}
	set("Priority", "Normal")
	set("Private", "False")
	set("Sensitivity", "Normal")
	return cw.w.row(row)
}

// Flush writes the header if no row was written, and any buffered data.
func (cw *ContactWriter) Flush() error { return cw.w.flush() }

// TaskWriter writes tasks in Outlook's task CSV format. Call Flush at the
// end. A TaskWriter is not safe for concurrent use.
type TaskWriter struct {
	w writer
	// Location is the time zone in which task dates and reminder times
	// are written (Outlook reads them as local times). Default time.Local.
	Location *time.Location
}

// NewTaskWriter returns a TaskWriter that writes to w.
func NewTaskWriter(w io.Writer) *TaskWriter {
	return &TaskWriter{w: newWriter(w, TaskHeader), Location: time.Local}
}

// Write writes one task record as a row.
func (tw *TaskWriter) Write(rec crm.Record) error {
	if rec.Entity != crm.Task {
		return fmt.Errorf("outlookcsv: cannot write a %s record as a task", rec.Entity)
	}
	f := rec.Fields
	loc := tw.Location
	if loc == nil {
		loc = time.Local
	}
	tw.w.start()
	row, set := tw.w.record()
	set("Subject", f["subject"])
	set("Start Date", localDate(f["scheduledstart"], loc))
	set("Due Date", localDate(f["scheduledend"], loc))
	set("Reminder On/Off", "False")
	if t, ok := reminderTime(f); ok {
		set("Reminder On/Off", "True")
		set("Reminder Date", mdy(t.In(loc)))
		set("Reminder Time", t.In(loc).Format("3:04:05 PM"))
	}
	set("Contacts", partyNames(rec.Parties))
	completed := f["statecode"] == "1"
	if completed {
		set("Date Completed", localDate(f["actualend"], loc))
	}
	pct := f["percentcomplete"]
	if n, err := strconv.Atoi(pct); err == nil && n >= 0 && n <= 100 {
		pct = strconv.Itoa(n)
	} else if completed {
		pct = "100"
	} else {
		pct = "0"
	}
	set("% Complete", pct+"%")
	set("Total Work", "0 hours")
	set("Actual Work", "0 hours")
	set("Categories", strings.Join(splitList(f["categories"]), ";"))
	set("Notes", withExtraNotes(f["description"], extraLines(rec.Extras)))
	set("Priority", map[string]string{"0": "Low", "2": "High"}[f["prioritycode"]])
	if row[tw.w.index["Priority"]] == "" {
		set("Priority", "Normal")
	}
	// Outlook's sensitivity values: 0 normal, 1 personal, 2 private, 3 confidential.
	sens := map[string]string{"1": "Personal", "2": "Private", "3": "Confidential"}[f["sensitivity"]]
	if sens == "" {
		sens = "Normal"
	}
	set("Sensitivity", sens)
	set("Private", "False")
	if f["sensitivity"] == "2" {
		set("Private", "True")
	}
	status := "Not Started"
	switch {
	case completed:
		status = "Completed"
	case f["statecode"] == "2":
		status = "Deferred"
	case pct != "0":
		status = "In Progress"
	}
	set("Status", status)
	return tw.w.row(row)
}

// Flush writes the header if no row was written, and any buffered data.
func (tw *TaskWriter) Flush() error { return tw.w.flush() }

// date turns a store date (YYYY-MM-DD) into Outlook's M/D/YYYY, or Outlook's
// empty-date value.
func date(v string) string {
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return noDate
	}
	return mdy(t)
}

// localDate turns a store time (RFC 3339) into a M/D/YYYY date in loc; an
// all-day date stored as a date is taken as it is.
func localDate(v string, loc *time.Location) string {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return mdy(t.In(loc))
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return mdy(t)
	}
	return ""
}

func mdy(t time.Time) string { return t.Format("1/2/2006") }

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// reminderTime is when a task's reminder goes off: the stored time, or a
// stored duration ("-PT15M", from an iCalendar TRIGGER) from the start,
// which a TRIGGER is relative to (RFC 5545 3.8.6.3); Outlook's columns
// hold a date and a time only.
func reminderTime(f map[string]string) (time.Time, bool) {
	rem := strings.TrimSpace(f["reminder"])
	if t, err := time.Parse(time.RFC3339, rem); err == nil {
		return t, true
	}
	d, err := crm.ParseDuration(rem)
	if err != nil {
		return time.Time{}, false
	}
	start, err := time.Parse(time.RFC3339, f["scheduledstart"])
	if err != nil {
		return time.Time{}, false
	}
	return start.Add(d), true
}

// partyNames lists the parties by name (else address), ";"-separated as
// Outlook writes its Contacts column; a ";" inside a name becomes ",".
func partyNames(ps []crm.Party) string {
	var names []string
	for _, p := range ps {
		n := strings.TrimSpace(p.Name)
		if n == "" {
			n = strings.TrimSpace(p.Address)
		}
		if n != "" {
			names = append(names, strings.ReplaceAll(n, ";", ","))
		}
	}
	return strings.Join(names, ";")
}
