package ics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"crmbridge/bridge/internal/textcodec"
	"crmbridge/bridge/wintz"
	"crmbridge/crm"
)

var fixedNow = func() time.Time { return time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC) }

func encode(t testing.TB, recs ...crm.Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	e := NewEncoder(&buf)
	e.Now = fixedNow
	if err := e.Encode(recs...); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return buf.Bytes()
}

// checkLines checks CRLF line ends and the 75-octet fold limit.
func checkLines(t testing.TB, out []byte) {
	t.Helper()
	if !bytes.HasSuffix(out, []byte("\r\n")) {
		t.Errorf("output does not end in CRLF")
	}
	for i, l := range bytes.Split(bytes.TrimSuffix(out, []byte("\r\n")), []byte("\r\n")) {
		if len(l) > 75 {
			t.Errorf("line %d has %d octets: %q", i+1, len(l), l)
		}
		if bytes.ContainsAny(l, "\r\n") {
			t.Errorf("line %d holds a bare CR or LF: %q", i+1, l)
		}
		if !utf8.Valid(l) {
			t.Errorf("line %d splits a UTF-8 sequence: %q", i+1, l)
		}
	}
}

func TestFold(t *testing.T) {
	for _, line := range []string{
		"",
		"SUMMARY:short",
		"SUMMARY:" + strings.Repeat("a", 67),  // exactly 75
		"SUMMARY:" + strings.Repeat("a", 68),  // 76
		"SUMMARY:" + strings.Repeat("é", 200), // two-octet runes
		"SUMMARY:" + strings.Repeat("€", 100), // three-octet runes
		"SUMMARY:" + strings.Repeat("😀x", 50),
	} {
		var buf bytes.Buffer
		fw := textcodec.NewFoldWriter(&buf)
		// Written in pieces, as a streaming writer may be.
		in := line + "\r\n"
		for len(in) > 0 {
			n := min(7, len(in))
			fw.Write([]byte(in[:n]))
			in = in[n:]
		}
		out := buf.Bytes()
		checkLines(t, out)
		unfolded := strings.ReplaceAll(string(out), "\r\n ", "")
		if unfolded != line+"\r\n" {
			t.Errorf("unfold(fold(%q)) = %q", line, unfolded)
		}
	}
}

func sampleRecords() []crm.Record {
	return []crm.Record{
		{Entity: crm.Appointment, ID: "3f2504e0-4f89-11d3-9a0c-0305e82c3301", Fields: map[string]string{
			"subject":        "Team sync, weekly; agenda — ünïcödé and a long subject that must be folded somewhere",
			"description":    "Line 1\r\nLine 2, with comma; semicolon \\ backslash",
			"location":       "Room 1",
			"scheduledstart": "2024-03-18T09:00:00Z", "scheduledend": "2024-03-18T09:30:00Z",
			"timezone": "W. Europe Standard Time", "uid": "series-1@example.com", "isalldayevent": "false",
			"recurrence":  "RRULE:FREQ=WEEKLY;COUNT=6;BYDAY=MO\nEXDATE;TZID=W. Europe Standard Time:20240408T100000",
			"reminder":    "-PT15M",
			"busystatus":  "1", // tentative
			"categories":  "Work,Project X",
			"sensitivity": "0", "statecode": "3", "statuscode": "5", "ismeeting": "true", "prioritycode": "1",
		}, Parties: []crm.Party{
			{Role: crm.RoleOrganizer, Address: "anna@example.com", Name: "Müller, Anna"},
			{Role: crm.RoleRequired, Address: "bob@example.com", Name: "Bob Jones", Status: "ACCEPTED"},
			{Role: crm.RoleOptional, Address: "carol@example.com", Name: "Carol", Status: "TENTATIVE"},
		}},
		{Entity: crm.Appointment, ID: "3f2504e0-4f89-11d3-9a0c-0305e82c3302", Attachments: []crm.Attachment{
			attachment("agenda; draft.txt", "text/plain", []byte("Agenda\r\n1. status\r\n")),
			attachment("logo.png", "image/png", bytes.Repeat([]byte{0x89, 'P', 'N', 'G', 0, 0xff}, 100)),
		}, Fields: map[string]string{
			"subject": "Team sync (moved)", "uid": "series-1@example.com",
			"recurrenceid":   "2024-04-01T08:00:00Z",
			"scheduledstart": "2024-04-02T12:00:00Z", "scheduledend": "2024-04-02T13:00:00Z",
			"timezone": "W. Europe Standard Time", "isalldayevent": "false", "statecode": "3", "statuscode": "5", "ismeeting": "false",
		}},
		{Entity: crm.Appointment, ID: "3f2504e0-4f89-11d3-9a0c-0305e82c3303", Fields: map[string]string{
			"subject": "Conference", "scheduledstart": "2024-05-01T00:00:00Z", "scheduledend": "2024-05-04T00:00:00Z",
			"isalldayevent": "true", "statecode": "2", "statuscode": "4", "ismeeting": "false", "busystatus": "0",
		}},
		{Entity: crm.Appointment, ID: "3f2504e0-4f89-11d3-9a0c-0305e82c3304", Fields: map[string]string{
			"subject": "Call with Seattle", "scheduledstart": "2024-07-04T16:00:00Z", "scheduledend": "2024-07-04T16:30:00Z",
			"timezone": "Pacific Standard Time", "isalldayevent": "false", "statecode": "3", "statuscode": "5", "ismeeting": "false",
			"globalobjectid": "040000008200e00074c5b7101a82e0080000000000000000000000000000000000000000",
		}},
		{Entity: crm.Task, ID: "3f2504e0-4f89-11d3-9a0c-0305e82c3305", Fields: map[string]string{
			"subject": "Send the offer", "description": "Prices from the 2024 list",
			"scheduledstart": "2024-02-01T09:00:00Z", "scheduledend": "2024-02-05T17:00:00Z",
			"percentcomplete": "40", "prioritycode": "2", "statecode": "0", "statuscode": "3", "uid": "todo-1@example.com",
			"reminder": "2024-02-05T08:00:00Z", "sensitivity": "3",
		}},
		{Entity: crm.Task, ID: "3f2504e0-4f89-11d3-9a0c-0305e82c3306", Fields: map[string]string{
			"subject": "Book the room", "actualend": "2024-02-08T15:30:00Z", "scheduledend": "2024-02-09T00:00:00Z",
			"percentcomplete": "100", "prioritycode": "0", "statecode": "1", "statuscode": "5",
		}},
	}
}

// TestEncodeRoundTrip writes records and reads them back with Reader:
// every field comes back as written (uid from the record id when the
// record had none).
func TestEncodeRoundTrip(t *testing.T) {
	recs := sampleRecords()
	out := encode(t, recs...)
	checkLines(t, out)
	back, errs, fatal := readAll(t, string(out), "out.ics")
	if fatal != nil || len(errs) > 0 || len(back) != len(recs) {
		t.Fatalf("read back %d records, errs %v, fatal %v\n%s", len(back), errs, fatal, out)
	}
	for i, rec := range recs {
		want := map[string]string{}
		for k, v := range rec.Fields {
			want[k] = strings.ReplaceAll(v, "\r\n", "\n")
		}
		if want["uid"] == "" {
			want["uid"] = uidOf(&rec)
		}
		if g := want["globalobjectid"]; g != "" {
			want["uid"] = strings.ToUpper(g) // the UID, read back as the global object id too
		}
		got := back[i].Record.Fields
		got = maps.Clone(got)
		got["recurrence"], want["recurrence"] = recurrenceSet(got["recurrence"]), recurrenceSet(want["recurrence"])
		if !reflect.DeepEqual(got, want) {
			t.Errorf("record %d:\n got %v\nwant %v", i, got, want)
		}
		if len(back[i].Record.Attachments) != len(rec.Attachments) {
			t.Errorf("record %d: %d attachments, want %d", i, len(back[i].Record.Attachments), len(rec.Attachments))
		} else {
			for j, a := range rec.Attachments {
				g := back[i].Record.Attachments[j]
				if g.Name != a.Name || g.MimeType != a.MimeType || g.Size != a.Size || !bytes.Equal(readAttachment(t, g), readAttachment(t, a)) {
					t.Errorf("record %d attachment %d: %+v, want %+v", i, j, g, a)
				}
			}
		}
		if !reflect.DeepEqual(back[i].Record.Parties, rec.Parties) {
			t.Errorf("record %d parties:\n got %+v\nwant %+v", i, back[i].Record.Parties, rec.Parties)
		}
	}
	if got := back[3].Record.Fields["uid"]; got != "040000008200E00074C5B7101A82E0080000000000000000000000000000000000000000" {
		t.Errorf("UID from globalobjectid = %q", got)
	}
	for _, want := range []string{"METHOD:PUBLISH\r\n", "PRODID:" + ProdID + "\r\n", "TZID:W. Europe Standard Time\r\n", "TZID:Pacific Standard Time\r\n",
		"DTSTART;VALUE=DATE:20240501\r\n", "STATUS:CANCELLED\r\n", "RECURRENCE-ID;TZID=W. Europe Standard Time:20240401T100000\r\n"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("output lacks %q", want)
		}
	}
	// The repeated hour when daylight time ends: the second 02:30 CET
	// (01:30Z) cannot be written as local time; the first (00:30Z) can.
	for _, c := range []struct{ start, want string }{
		{"2024-10-27T00:30:00Z", "DTSTART;TZID=W. Europe Standard Time:20241027T023000\r\n"},
		{"2024-10-27T01:30:00Z", "DTSTART:20241027T013000Z\r\n"},
	} {
		out := encode(t, crm.Record{Entity: crm.Appointment, ID: "x", Fields: map[string]string{
			"scheduledstart": c.start, "timezone": "W. Europe Standard Time"}})
		if !bytes.Contains(out, []byte(c.want)) {
			t.Errorf("start %s: output lacks %q", c.start, c.want)
		}
		back, _, _ := readAll(t, string(out), "dst.ics")
		if len(back) != 1 || back[0].Record.Fields["scheduledstart"] != c.start {
			t.Errorf("start %s read back as %v", c.start, back)
		}
	}
	if err := NewEncoder(&bytes.Buffer{}).Encode(crm.Record{Entity: crm.Contact}); err == nil {
		t.Errorf("Encode(contact) succeeded")
	}
	empty := encode(t)
	if !bytes.HasPrefix(empty, []byte("BEGIN:VCALENDAR\r\n")) || !bytes.HasSuffix(empty, []byte("END:VCALENDAR\r\n")) {
		t.Errorf("empty calendar: %q", empty)
	}
}

// TestEncodeCorpusRoundTrip reads each corpus file and fixture, writes the
// records, reads them again: the fields that the writer writes come back
// unchanged.
func TestEncodeCorpusRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.ics")
	if dir := corpusDirIfPresent(); dir != "" {
		more, _ := filepath.Glob(dir + "/*")
		files = append(files, more...)
	}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := readAll(t, string(data), "in.ics")
		if len(first) == 0 {
			continue
		}
		var recs []crm.Record
		for _, in := range first {
			recs = append(recs, in.Record)
		}
		out := encode(t, recs...)
		checkLines(t, out)
		second, errs, fatal := readAll(t, string(out), "out.ics")
		if fatal != nil || len(second) != len(first) {
			t.Errorf("%s: %d records, then %d (fatal %v, errs %v)", filepath.Base(path), len(first), len(second), fatal, errs)
			continue
		}
		for _, e := range errs {
			t.Errorf("%s: re-read: %v", filepath.Base(path), e)
		}
		for i := range first {
			a, b := first[i].Record.Fields, second[i].Record.Fields
			for k, v := range a {
				w := v
				if k == "sensitivity" && v == "1" {
					w = "2" // personal has no CLASS of its own
				}
				switch k {
				case "timezone":
					if _, err := wintz.Location(v); err != nil && a["timezoneblob"] == "" || a["isalldayevent"] == "true" {
						w = "" // no VTIMEZONE can be generated (no zone name, no rules kept): written in UTC; all-day: dates
					}
				case "recurrence":
					w = recurrenceSet(v)
					b = maps.Clone(b)
					b[k] = recurrenceSet(b[k])
				}
				if b[k] != w {
					t.Errorf("%s #%d %s: %q, then %q", filepath.Base(path), i, k, v, b[k])
				}
			}
			if len(b) > len(a)+1 { // uid may be added
				t.Errorf("%s #%d: fields added: %v → %v", filepath.Base(path), i, a, b)
			}
		}
	}
}

// TestEncodePython parses the writer's output with Python's icalendar and
// compares the values it reads with the records.
func TestEncodePython(t *testing.T) {
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s not found", python)
	}
	if err := exec.Command(python, "-c", "import icalendar").Run(); err != nil {
		t.Skipf("Python module icalendar missing: %v", err)
	}
	recs := sampleRecords()
	path := filepath.Join(t.TempDir(), "out.ics")
	if err := os.WriteFile(path, encode(t, recs...), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, "testdata/values.py", path).Output()
	if err != nil {
		t.Fatalf("values.py: %v", err)
	}
	var got []map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Fatalf("Python reads %d components, want %d", len(got), len(recs))
	}
	check := func(i int, key string, want any) {
		t.Helper()
		if g := got[i][key]; !reflect.DeepEqual(g, want) {
			t.Errorf("component %d %s: Python reads %#v, want %#v", i, key, g, want)
		}
	}
	for i, rec := range recs {
		f := rec.Fields
		check(i, "SUMMARY", f["subject"])
		if f["description"] != "" {
			check(i, "DESCRIPTION", strings.ReplaceAll(f["description"], "\r\n", "\n"))
		}
		if rec.Entity == crm.Appointment {
			check(i, "name", "VEVENT")
			if f["isalldayevent"] == "true" {
				check(i, "DTSTART", f["scheduledstart"][:10])
				check(i, "DTEND", f["scheduledend"][:10])
			} else {
				check(i, "DTSTART", f["scheduledstart"])
				check(i, "DTEND", f["scheduledend"])
			}
			if f["recurrenceid"] != "" {
				check(i, "RECURRENCE-ID", f["recurrenceid"])
			}
		} else {
			check(i, "name", "VTODO")
			check(i, "DUE", f["scheduledend"])
			if f["actualend"] != "" {
				check(i, "COMPLETED", f["actualend"])
			}
		}
	}
	check(0, "UID", "series-1@example.com")
	check(0, "LOCATION", "Room 1")
	check(0, "CATEGORIES", []any{"Work", "Project X"})
	check(0, "ORGANIZER", []any{"mailto:anna@example.com", "Müller, Anna"})
	check(0, "ATTENDEE", []any{
		[]any{"mailto:bob@example.com", "Bob Jones", "REQ-PARTICIPANT", "ACCEPTED"},
		[]any{"mailto:carol@example.com", "Carol", "OPT-PARTICIPANT", "TENTATIVE"},
	})
	check(0, "RRULE", "FREQ=WEEKLY;COUNT=6;BYDAY=MO")
	check(0, "EXDATE", []any{"2024-04-08T08:00:00Z"}) // 10:00 CEST
	check(0, "TRIGGER", "-PT15M")
	check(0, "TRANSP", "OPAQUE")
	check(2, "STATUS", "CANCELLED")
	check(2, "TRANSP", "TRANSPARENT")
	check(4, "PRIORITY", float64(1))
	check(4, "PERCENT-COMPLETE", float64(40))
	check(4, "STATUS", "IN-PROCESS")
	check(4, "CLASS", "CONFIDENTIAL")
	check(5, "PRIORITY", float64(9))
	check(5, "STATUS", "COMPLETED")
}

// TestGeneratedVTimezone generates VTIMEZONEs for a span of years and
// evaluates them with the reader's rules: every hour of 2018-2030 (inside
// and, through the RRULEs, after the span) gets Go's offset.
func TestGeneratedVTimezone(t *testing.T) {
	for _, name := range []string{"Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Tokyo", "America/Sao_Paulo", "Pacific/Auckland", "America/Santiago"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		c := vtimezoneFor(name, loc, 2018, 2024)
		z, err := parseVTimezone(c)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		last := 2030
		if name == "America/Santiago" {
			last = 2025 // rule with a Saturday-based changeover not expressed as n-th weekday
		}
		bad := 0
		for u := time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC); u.Year() <= last; u = u.Add(15 * time.Minute) {
			// Every 15 minutes on days with a change, else once a day.
			_, o1 := u.In(loc).Zone()
			_, o2 := u.Add(24 * time.Hour).In(loc).Zone()
			_, o0 := u.Add(-24 * time.Hour).In(loc).Zone()
			if o1 == o2 && o1 == o0 && u.Minute() == 0 && u.Hour() == 0 {
				u = u.Add(24*time.Hour - 15*time.Minute)
				continue
			}
			local := u.In(loc)
			naive := time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), local.Minute(), 0, 0, time.UTC)
			got := z.toUTC(naive)
			if !got.Equal(u) && !ambiguous(loc, naive) {
				if bad++; bad <= 5 {
					t.Errorf("%s: %s local → %s, want %s", name, naive.Format("2006-01-02 15:04"), got, u)
				}
			}
		}
	}
}

// ambiguous reports whether naive local time occurs twice in loc (the
// hour repeated when daylight saving time ends). There RFC 5545 3.3.5
// means the first occurrence, the reader's choice; Go picks either.
func ambiguous(loc *time.Location, naive time.Time) bool {
	offs := map[int]bool{}
	for d := -26; d <= 26; d++ {
		_, off := naive.Add(time.Duration(d) * time.Hour).In(loc).Zone()
		offs[off] = true
	}
	count := 0
	for off := range offs {
		u := naive.Add(-time.Duration(off) * time.Second).In(loc)
		if u.Format("20060102T150405") == naive.Format("20060102T150405") {
			count++
		}
	}
	return count > 1
}

// FuzzEncode writes arbitrary text in the free-text fields: Encode must
// succeed, respect the line rules, and the reader must read the same text
// back.
func FuzzEncode(f *testing.F) {
	f.Add("subject", "line1\nline2", "Name, \"Quoted\"", "W. Europe Standard Time")
	f.Add("a;b,c\\d", "\r\n\r", "\x00\x7f", "")
	f.Add(strings.Repeat("é", 100), "x", "y", "(UTC+01:00) Amsterdam")
	f.Add(strings.Repeat("\x80", 100), "a\xffb\xe2\x82", "\xc3", "\xfe")
	f.Fuzz(func(t *testing.T, subject, desc, name, tz string) {
		// Raw bytes: a store written before input was validated may hold
		// bytes that are not UTF-8; the writer gives U+FFFD for each.
		rec := crm.Record{Entity: crm.Appointment, ID: "x", Fields: map[string]string{
			"subject": subject, "description": desc, "timezone": tz,
			"scheduledstart": "2024-03-18T09:00:00Z", "scheduledend": "2024-03-18T10:00:00Z",
		}, Parties: []crm.Party{{Role: crm.RoleRequired, Address: "a@example.com", Name: name}}}
		out := encode(t, rec)
		checkLines(t, out)
		back, _, fatal := readAll(t, string(out), "fuzz.ics")
		if fatal != nil || len(back) != 1 {
			t.Fatalf("re-read: %d records, %v\n%q", len(back), fatal, out)
		}
		norm := func(s string) string {
			s = textcodec.ReplaceInvalid(s)
			s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
			return s
		}
		if strings.TrimSpace(subject) != "" && back[0].Record.Fields["subject"] != norm(subject) {
			t.Errorf("subject %q came back %q", subject, back[0].Record.Fields["subject"])
		}
		if strings.TrimSpace(desc) != "" && back[0].Record.Fields["description"] != norm(desc) {
			t.Errorf("description %q came back %q", desc, back[0].Record.Fields["description"])
		}
		if back[0].Record.Fields["scheduledstart"] != "2024-03-18T09:00:00Z" {
			t.Errorf("start came back %q (tz %q)", back[0].Record.Fields["scheduledstart"], tz)
		}
	})
}

// recurrenceSet normalizes recurrence lines for comparison: the writer
// emits them in go-ical's order (by property name), and drops lines whose
// TZID no VTIMEZONE can be generated for.
func recurrenceSet(v string) string {
	var lines []string
	for _, l := range strings.Split(v, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if p, err := parseLine(l); err == nil {
			if id := p.Params.Get("TZID"); id != "" {
				if _, err := wintz.Location(id); err != nil {
					continue
				}
			}
			if strings.HasPrefix(l, "RRULE:") || strings.HasPrefix(l, "EXRULE:") {
				l = strings.ReplaceAll(l, " ", "") // the writer drops spaces in rules
			}
		}
		lines = append(lines, l)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestEncodeCorpusPython writes the records of every corpus file and
// fixture and parses each output with Python's icalendar: it must accept
// every file and read the same UID, SUMMARY, start, end and due times.
func TestEncodeCorpusPython(t *testing.T) {
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s not found", python)
	}
	if err := exec.Command(python, "-c", "import icalendar").Run(); err != nil {
		t.Skipf("Python module icalendar missing: %v", err)
	}
	files, _ := filepath.Glob("testdata/*.ics")
	if dir := corpusDirIfPresent(); dir != "" {
		more, _ := filepath.Glob(dir + "/*")
		files = append(files, more...)
	}
	tmp := t.TempDir()
	written := map[string][]crm.Record{}
	var outs []string
	for i, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		recs, _, _ := readAll(t, string(data), filepath.Base(path))
		if len(recs) == 0 {
			continue
		}
		var rs []crm.Record
		for _, in := range recs {
			rs = append(rs, in.Record)
		}
		out := filepath.Join(tmp, fmt.Sprintf("%03d-%s", i, filepath.Base(path)))
		if err := os.WriteFile(out, encode(t, rs...), 0o600); err != nil {
			t.Fatal(err)
		}
		written[out] = rs
		outs = append(outs, out)
	}
	raw, err := exec.Command(python, append([]string{"testdata/values.py"}, outs...)...).Output()
	if err != nil {
		t.Fatalf("values.py: %v", err)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	for _, out := range outs {
		name := filepath.Base(out)
		var comps []map[string]any
		if err := json.Unmarshal(got[out], &comps); err != nil {
			t.Errorf("%s: Python icalendar refuses our output: %s", name, got[out])
			continue
		}
		rs := written[out]
		if len(comps) != len(rs) {
			t.Errorf("%s: Python reads %d components, we wrote %d", name, len(comps), len(rs))
			continue
		}
		for i, rec := range rs {
			f := rec.Fields
			c := comps[i]
			want := map[string]string{"UID": uidOf(&rec), "SUMMARY": f["subject"]}
			timeKeys := map[string]string{"DTSTART": "scheduledstart", "DTEND": "scheduledend", "RECURRENCE-ID": "recurrenceid"}
			if rec.Entity == crm.Task {
				timeKeys = map[string]string{"DTSTART": "scheduledstart", "DUE": "scheduledend", "COMPLETED": "actualend"}
			}
			for k, field := range timeKeys {
				v := f[field]
				if v != "" && f["isalldayevent"] == "true" && strings.HasSuffix(v, "T00:00:00Z") {
					v = v[:10]
				}
				want[k] = v
			}
			for k, w := range want {
				g, _ := c[k].(string)
				if strings.TrimSpace(w) == "" {
					continue
				}
				if g != w {
					t.Errorf("%s #%d %s: Python reads %q, want %q", name, i, k, g, w)
				}
			}
		}
	}
}

func attachment(name, mt string, b []byte) crm.Attachment {
	return crm.Attachment{Name: name, MimeType: mt, Size: int64(len(b)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}
}

func readAttachment(t testing.TB, a crm.Attachment) []byte {
	t.Helper()
	rc, err := a.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
