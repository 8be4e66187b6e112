package ics

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"crmbridge/crm"
	"crmbridge/fixtures"
)

const python = "/usr/bin/python3"

// pythonCounts runs testdata/count.py (Python's icalendar, else vobject)
// over files, or skips the test when Python or its modules are missing.
func pythonCounts(t *testing.T, files []string) map[string]map[string]any {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s not found: the independent reader (Python icalendar) is needed", python)
	}
	if err := exec.Command(python, "-c", "import icalendar").Run(); err != nil {
		t.Skipf("Python module icalendar missing (Debian python3-icalendar): %v", err)
	}
	if len(files) == 0 {
		return nil
	}
	out, err := exec.Command(python, append([]string{"testdata/count.py"}, files...)...).Output()
	if err != nil {
		t.Fatalf("count.py: %v", err)
	}
	var m map[string]map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("count.py output: %v", err)
	}
	return m
}

// TestCorpusCounts reads every corpus file and compares, per file, the
// number of VEVENT masters (appointments without recurrenceid), VEVENT
// exceptions (with recurrenceid) and VTODOs with what Python's icalendar
// counts (vobject where icalendar refuses the file). Files neither Python
// reader accepts are listed with our errors and their lines.
func TestCorpusCounts(t *testing.T) {
	files := fixtures.CorpusFiles(t, "ics")
	want := pythonCounts(t, files)
	compared := 0
	for _, path := range files {
		name := filepath.Base(path)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		recs, errs, fatal := readAll(t, string(data), name)
		if fatal != nil {
			t.Errorf("%s: fatal error: %v", name, fatal)
			continue
		}
		var masters, exceptions, todos float64
		for _, in := range recs {
			checkInvariants(t, in)
			switch in.Record.Entity {
			case crm.Appointment:
				if in.Record.Fields["recurrenceid"] != "" {
					exceptions++
				} else {
					masters++
				}
			case crm.Task:
				todos++
			}
		}
		w := want[name]
		if e, ok := w["error"]; ok {
			var lines []string
			for _, ie := range errs {
				if !errors.Is(ie, ErrSkipped) {
					lines = append(lines, ie.Error())
				}
			}
			t.Logf("malformed (no Python reader accepts it): %s: %v\n  ours: %d appointments, %d tasks; %s", name, e, int(masters+exceptions), int(todos), strings.Join(lines, "\n  "))
			continue
		}
		compared++
		if masters != w["masters"] || exceptions != w["exceptions"] || todos != w["todos"] {
			t.Errorf("%s: masters/exceptions/todos = %v/%v/%v, %s counts %v/%v/%v", name,
				masters, exceptions, todos, w["reader"], w["masters"], w["exceptions"], w["todos"])
		}
	}
	if compared < 60 {
		t.Errorf("only %d files compared", compared)
	}
}

// checkInvariants checks what every record must satisfy.
func checkInvariants(t testing.TB, in *crm.Incoming) {
	t.Helper()
	rec := in.Record
	if rec.Entity != crm.Appointment && rec.Entity != crm.Task {
		t.Errorf("%s: entity %q", in.Pos, rec.Entity)
	}
	if in.Source.Kind != "ics" || in.Source.Key == "" || !strings.HasPrefix(in.Source.Version, "sha256:") {
		t.Errorf("%s: source %+v", in.Pos, in.Source)
	}
	for k, v := range rec.Fields {
		fd, ok := crm.LookupField(rec.Entity, k)
		if !ok {
			t.Errorf("%s: field %q not in the %s schema", in.Pos, k, rec.Entity)
			continue
		}
		if err := crm.ValidateValue(rec.Entity, k, v); err != nil || !validValue(fd.Kind, v) {
			t.Errorf("%s: field %s = %q is not a valid %v (%v)", in.Pos, k, v, fd.Kind, err)
		}
	}
	for _, a := range rec.Attachments {
		if a.Name == "" || a.MimeType == "" || a.Open == nil || int64(len(readAttachment(t, a))) != a.Size {
			t.Errorf("%s: attachment %+v", in.Pos, a)
		}
	}
	if rec.Entity == crm.Appointment {
		// The store refuses a span that breaks it: the reader never gives one.
		if err := crm.CheckSpan(rec.Fields); err != nil {
			t.Errorf("%s: %v", in.Pos, err)
		}
	}
}

// TestCorpusTimesPython compares the start, end, due and recurrence-id
// times we read from every corpus file with those Python's icalendar
// reads (where it gives a time-zone-aware value), matching components by
// UID and SUMMARY.
func TestCorpusTimesPython(t *testing.T) {
	files := fixtures.CorpusFiles(t, "ics")
	pythonCounts(t, nil) // skips without Python
	raw, err := exec.Command(python, append([]string{"testdata/values.py"}, files...)...).Output()
	if err != nil {
		t.Fatalf("values.py: %v", err)
	}
	var py map[string]json.RawMessage
	if err := json.Unmarshal(raw, &py); err != nil {
		t.Fatal(err)
	}
	compared := 0
	for _, path := range files {
		var comps []map[string]any
		if json.Unmarshal(py[path], &comps) != nil {
			continue // Python refuses the file (see TestCorpusCounts)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		recs, _, _ := readAll(t, string(data), filepath.Base(path))
		byKey := map[[2]string][]map[string]string{}
		for _, in := range recs {
			f := in.Record.Fields
			k := [2]string{f["uid"], f["subject"]}
			byKey[k] = append(byKey[k], f)
		}
		for _, c := range comps {
			uid, _ := c["UID"].(string)
			sum, _ := c["SUMMARY"].(string)
			k := [2]string{strings.TrimSpace(uid), sum}
			if len(byKey[k]) == 0 {
				continue
			}
			f := byKey[k][0]
			byKey[k] = byKey[k][1:]
			pairs := [][2]string{{"DTSTART", "scheduledstart"}, {"RECURRENCE-ID", "recurrenceid"}}
			if c["name"] == "VEVENT" {
				pairs = append(pairs, [2]string{"DTEND", "scheduledend"})
			} else {
				pairs = append(pairs, [2]string{"DUE", "scheduledend"})
			}
			for _, p := range pairs {
				pv, ok := c[p[0]].(string)
				if !ok || strings.HasPrefix(pv, "floating:") {
					continue
				}
				ov := f[p[1]]
				if len(pv) == 10 && len(ov) >= 10 { // a DATE: ours is midnight UTC
					ov = ov[:10]
				}
				compared++
				if pv != ov {
					t.Errorf("%s: %s %s: Python reads %s, we %s (TZID %q)", filepath.Base(path), uid, p[0], pv, ov, f["timezone"])
				}
			}
		}
	}
	if compared < 1000 {
		t.Errorf("only %d times compared", compared)
	}
	t.Logf("%d times compared", compared)
}
