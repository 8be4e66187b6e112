package ics

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"crmbridge/crmstore"
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
			case crmstore.Appointment:
				if in.Record.Fields["recurrenceid"] != "" {
					exceptions++
				} else {
					masters++
				}
			case crmstore.Task:
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
func checkInvariants(t testing.TB, in *crmstore.Incoming) {
	t.Helper()
	rec := in.Record
	if rec.Entity != crmstore.Appointment && rec.Entity != crmstore.Task {
		t.Errorf("%s: entity %q", in.Pos, rec.Entity)
	}
	if in.Source.Kind != "ics" || in.Source.Key == "" || !strings.HasPrefix(in.Source.Version, "sha256:") {
		t.Errorf("%s: source %+v", in.Pos, in.Source)
	}
	for k, v := range rec.Fields {
		fd, ok := crmstore.LookupField(rec.Entity, k)
		if !ok {
			t.Errorf("%s: field %q not in the %s schema", in.Pos, k, rec.Entity)
			continue
		}
		if !validValue(fd.Kind, v) {
			t.Errorf("%s: field %s = %q is not a valid %v", in.Pos, k, v, fd.Kind)
		}
	}
	if s, e := rec.Fields["scheduledstart"], rec.Fields["scheduledend"]; rec.Entity == crmstore.Appointment && s != "" && e != "" && e < s {
		t.Errorf("%s: ends %s before it starts %s", in.Pos, e, s)
	}
}
