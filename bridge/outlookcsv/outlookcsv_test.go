package outlookcsv

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"crmbridge/bridge/internal/textcodec"
	"crmbridge/crm"
	"crmbridge/fixtures"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func contacts() []crm.Record {
	return []crm.Record{
		{ID: "c1", Entity: crm.Contact, Fields: map[string]string{
			"salutation": "Dr.", "firstname": "Jürgen", "middlename": "Karl", "lastname": "Müller",
			"suffix": "Jr.", "fullname": "Jürgen Müller", "company": "Bäcker, \"Söhne\" GmbH", "department": "Vertrieb",
			"jobtitle": "Leiter", "emailaddress1": "j@example.de", "emailaddress2": "jm@example.org",
			"telephone1": "+49 30 1", "telephone2": "+49 30 2", "telephone3": "+49 30 3", "mobilephone": "+49 171 4",
			"fax": "+49 30 5", "pager": "+49 30 6",
			"address1_line1": "Hauptstraße 1", "address1_line2": "Hinterhaus", "address1_city": "Berlin",
			"address1_postalcode": "10115", "address1_country": "Deutschland", "address1_postofficebox": "PF 12",
			"address2_line1": "Gartenweg 2", "address2_city": "Potsdam", "address2_stateorprovince": "Brandenburg",
			"address3_city": "Köln",
			"birthdate":     "1965-07-04", "anniversary": "1990-12-31", "description": "Zeile 1\nZeile 2, \"zitiert\"",
			"categories": "Kunden,VIP", "websiteurl": "http://www.example.de/", "spousesname": "Anna",
		}},
		{ID: "a1", Entity: crm.Account, Fields: map[string]string{"name": "Contoso Ltd", "telephone1": "+1 555 0100"}},
	}
}

func tasks() []crm.Record {
	return []crm.Record{
		{Entity: crm.Task, Fields: map[string]string{
			"subject": "Call back", "scheduledstart": "2024-03-04T23:30:00Z", "scheduledend": "2024-03-08T16:00:00Z",
			"reminder": "2024-03-08T08:00:00Z", "prioritycode": "2", "percentcomplete": "50", "statecode": "0",
			"description": "Ask about\r\nthe offer", "categories": "Work,Urgent", "sensitivity": "2",
		}},
		{Entity: crm.Task, Fields: map[string]string{
			"subject": "Done already", "scheduledend": "2024-02-01", "statecode": "1",
			"actualend": "2024-02-02T10:00:00Z", "prioritycode": "0",
		}},
		{Entity: crm.Task, Fields: map[string]string{"subject": "Bare"}},
	}
}

var berlin = time.FixedZone("CET", 3600)

func writeContacts(t *testing.T) []byte {
	var buf bytes.Buffer
	w := NewContactWriter(&buf)
	for _, r := range contacts() {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeTasks(t *testing.T) []byte {
	var buf bytes.Buffer
	w := NewTaskWriter(&buf)
	w.Location = berlin
	for _, r := range tasks() {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// parse reads out back with encoding/csv, checking the BOM and the CRLF
// line ends on the way.
func parse(t *testing.T, out []byte, header []string) []map[string]string {
	t.Helper()
	if !bytes.HasPrefix(out, []byte("\xEF\xBB\xBF")) {
		t.Fatal("no UTF-8 byte order mark")
	}
	if bytes.Contains(bytes.ReplaceAll(out, []byte("\r\n"), nil), []byte("\n")) || !bytes.HasSuffix(out, []byte("\r\n")) {
		t.Error("a line does not end with CRLF")
	}
	rows, err := csv.NewReader(bytes.NewReader(out[3:])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rows[0], header) {
		t.Fatalf("header %q", rows[0])
	}
	var recs []map[string]string
	for _, r := range rows[1:] {
		m := map[string]string{}
		for i, h := range header {
			m[h] = r[i]
		}
		recs = append(recs, m)
	}
	return recs
}

func TestContactWriter(t *testing.T) {
	if len(ContactHeader) != 92 || len(TaskHeader) != 22 {
		t.Fatalf("%d contact, %d task columns; Outlook writes 92 and 22", len(ContactHeader), len(TaskHeader))
	}
	out := writeContacts(t)
	// A newline inside a field is written CRLF, as Outlook writes it
	// (encoding/csv reads it back as LF).
	if !bytes.Contains(out, []byte("\"Zeile 1\r\nZeile 2, \"\"zitiert\"\"\"")) {
		t.Error("Notes not written with CRLF and doubled quotes")
	}
	recs := parse(t, out, ContactHeader)
	if len(recs) != 2 {
		t.Fatalf("%d rows", len(recs))
	}
	want := map[string]string{
		"Title": "Dr.", "First Name": "Jürgen", "Middle Name": "Karl", "Last Name": "Müller", "Suffix": "Jr.",
		"Company": "Bäcker, \"Söhne\" GmbH", "Department": "Vertrieb", "Job Title": "Leiter",
		"Business Street": "Hauptstraße 1", "Business Street 2": "Hinterhaus", "Business City": "Berlin",
		"Business Postal Code": "10115", "Business Country/Region": "Deutschland", "Business Address PO Box": "PF 12",
		"Home Street": "Gartenweg 2", "Home City": "Potsdam", "Home State": "Brandenburg", "Other City": "Köln",
		"Business Phone": "+49 30 1", "Home Phone": "+49 30 2", "Other Phone": "+49 30 3", "Mobile Phone": "+49 171 4",
		"Business Fax": "+49 30 5", "Pager": "+49 30 6",
		"Birthday": "7/4/1965", "Anniversary": "12/31/1990",
		"E-mail Address": "j@example.de", "E-mail Type": "SMTP", "E-mail Display Name": "Jürgen Müller (j@example.de)",
		"E-mail 2 Address": "jm@example.org", "E-mail 3 Address": "",
		"Notes": "Zeile 1\nZeile 2, \"zitiert\"", "Categories": "Kunden;VIP", "Web Page": "http://www.example.de/",
		"Spouse": "Anna", "Gender": "Unspecified", "Priority": "Normal", "Private": "False", "Sensitivity": "Normal",
	}
	for k, v := range want {
		if recs[0][k] != v {
			t.Errorf("%s = %q, want %q", k, recs[0][k], v)
		}
	}
	if recs[1]["Company"] != "Contoso Ltd" || recs[1]["Business Phone"] != "+1 555 0100" || recs[1]["Birthday"] != noDate {
		t.Errorf("account row %v", recs[1])
	}
}

func TestTaskWriter(t *testing.T) {
	recs := parse(t, writeTasks(t), TaskHeader)
	want := []map[string]string{
		{"Subject": "Call back", "Start Date": "3/5/2024", "Due Date": "3/8/2024", "Reminder On/Off": "True",
			"Reminder Date": "3/8/2024", "Reminder Time": "9:00:00 AM", "Date Completed": "", "% Complete": "50%",
			"Notes": "Ask about\nthe offer", "Categories": "Work;Urgent", "Priority": "High", "Private": "True",
			"Sensitivity": "Private", "Status": "In Progress"},
		{"Subject": "Done already", "Due Date": "2/1/2024", "Reminder On/Off": "False", "Date Completed": "2/2/2024",
			"% Complete": "100%", "Priority": "Low", "Private": "False", "Sensitivity": "Normal", "Status": "Completed"},
		{"Subject": "Bare", "Start Date": "", "Due Date": "", "% Complete": "0%", "Priority": "Normal", "Status": "Not Started"},
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
}

func TestGolden(t *testing.T) {
	for name, out := range map[string][]byte{"contacts.csv": writeContacts(t), "tasks.csv": writeTasks(t)} {
		fixtures.Golden(t, filepath.Join("testdata", name), out, *update)
	}
}

// TestPythonCSV reads both files with Python's csv module (utf-8-sig
// strips the BOM), an independent reader, and compares every cell with
// what encoding/csv reads.
func TestPythonCSV(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("/usr/bin/python3 not found: Python csv check skipped")
	}
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		out    []byte
		header []string
	}{"contacts.csv": {writeContacts(t), ContactHeader}, "tasks.csv": {writeTasks(t), TaskHeader}} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, tc.out, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("/usr/bin/python3", "-c", `
import csv, json, sys
with open(sys.argv[1], encoding='utf-8-sig', newline='') as f:
    r = csv.DictReader(f)
    print(json.dumps({'header': r.fieldnames, 'rows': list(r)}))
`, p)
		js, err := cmd.Output()
		if err != nil {
			t.Fatalf("python csv: %v", err)
		}
		var py struct {
			Header []string            `json:"header"`
			Rows   []map[string]string `json:"rows"`
		}
		if err := json.Unmarshal(js, &py); err != nil {
			t.Fatal(err)
		}
		for _, r := range py.Rows {
			for k, v := range r {
				r[k] = strings.ReplaceAll(v, "\r\n", "\n") // encoding/csv drops the CR
			}
		}
		if !reflect.DeepEqual(py.Header, tc.header) {
			t.Errorf("%s: Python reads header %q", name, py.Header)
		}
		if got := parse(t, tc.out, tc.header); !reflect.DeepEqual(py.Rows, got) {
			t.Errorf("%s: Python reads\n%v\nencoding/csv reads\n%v", name, py.Rows, got)
		}
	}
}

func TestEmptyAndErrors(t *testing.T) {
	var buf bytes.Buffer
	if err := NewTaskWriter(&buf).Flush(); err != nil {
		t.Fatal(err)
	}
	if want := "\uFEFF\"" + strings.Join(TaskHeader, `","`) + "\"\r\n"; buf.String() != want {
		t.Errorf("empty task file %q", buf.String())
	}
	if err := NewContactWriter(&buf).Write(crm.Record{Entity: crm.Task}); err == nil {
		t.Error("a task written as a contact")
	}
	if err := NewTaskWriter(&buf).Write(crm.Record{Entity: crm.Contact}); err == nil {
		t.Error("a contact written as a task")
	}
	w := NewContactWriter(failWriter{})
	for i := 0; i < 200; i++ { // more than bufio's buffer
		w.Write(contacts()[0])
	}
	if err := w.Flush(); err == nil || !errors.Is(err, errFail) {
		t.Errorf("Flush after a failed write: %v", err)
	}
}

var errFail = errors.New("disk full")

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errFail }

func TestDisplayNameWithoutFullName(t *testing.T) {
	var buf bytes.Buffer
	w := NewContactWriter(&buf)
	if err := w.Write(crm.Record{Entity: crm.Contact, Fields: map[string]string{
		"firstname": "Ann", "lastname": "Lee", "emailaddress1": "ann@example.com"}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	recs := parse(t, buf.Bytes(), ContactHeader)
	if got := recs[0]["E-mail Display Name"]; got != "Ann Lee (ann@example.com)" {
		t.Errorf("display name %q", got)
	}
}

// FuzzWriters writes a contact and a task whose text values are arbitrary
// bytes, not cleaned: every row must parse back with encoding/csv, and
// every cell holds the value written, with each invalid byte as U+FFFD.
func FuzzWriters(f *testing.F) {
	f.Add("Lee", "Ann", "a\nb")
	f.Add(strings.Repeat("\x80", 100), "M\xfcller", "\"q\",\r\x00\xe2\x82")
	f.Fuzz(func(t *testing.T, last, first, note string) {
		want := func(s string) string {
			s = textcodec.ReplaceInvalid(s)
			// Written as CRLF; encoding/csv gives a line end in a quoted
			// field back as LF.
			return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
		}
		var buf bytes.Buffer
		cw := NewContactWriter(&buf)
		if err := cw.Write(crm.Record{Entity: crm.Contact, Fields: map[string]string{
			"lastname": last, "firstname": first, "description": note, "fullname": "x",
		}}); err != nil {
			t.Fatal(err)
		}
		if err := cw.Flush(); err != nil {
			t.Fatal(err)
		}
		if !utf8.Valid(buf.Bytes()) {
			t.Fatalf("not UTF-8: %q", buf.Bytes())
		}
		rows := parse(t, buf.Bytes(), ContactHeader)
		if len(rows) != 1 || rows[0]["Last Name"] != want(last) || rows[0]["First Name"] != want(first) || rows[0]["Notes"] != want(note) {
			t.Fatalf("rows %q", rows)
		}
		buf.Reset()
		tw := NewTaskWriter(&buf)
		if err := tw.Write(crm.Record{Entity: crm.Task, Fields: map[string]string{"subject": last, "description": note}}); err != nil {
			t.Fatal(err)
		}
		if err := tw.Flush(); err != nil {
			t.Fatal(err)
		}
		rows = parse(t, buf.Bytes(), TaskHeader)
		if len(rows) != 1 || rows[0]["Subject"] != want(last) || rows[0]["Notes"] != want(note) {
			t.Fatalf("rows %q", rows)
		}
	})
}
