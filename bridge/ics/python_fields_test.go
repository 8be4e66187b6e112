package ics

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"crmbridge/bridge/item"
	"crmbridge/crm"
	"crmbridge/fixtures"

	"github.com/emersion/go-ical"
)

func isItemErr(err error) bool {
	var ie *item.Error
	return errors.As(err, &ie)
}

// pythonDiffersICS lists, per corpus file and field ("file: field"), where
// we deliberately read an event differently from Python's icalendar, and
// why. A listed difference that no longer occurs fails the test, so the
// list stays true.
var pythonDiffersICS = map[string]string{
	// RFC 5545 3.3.11: TEXT escapes are \\ \; \, \N \n only.
	"ical4j__ical4j__src_test_resources_samples_valid_sunbird_sample.ics: summary": `the SUMMARY escapes a double quote (\"), which is no TEXT escape: we read the quote the writer meant, Python keeps the backslash`,
	// Our fixture of Outlook's all-day form.
	"allday.ics: all-day": "X-MICROSOFT-CDO-ALLDAYEVENT:TRUE with midnight-to-midnight date-times is all-day for Outlook and for us; Python's icalendar knows no X- property",
	// RFC 5545 3.3.10: a RECUR value is no TEXT, it has no escapes.
	"eventable__vobject__test_files_ruby_rrule.ics: rrule": `the RRULE escapes its ';' (FREQ=DAILY\;COUNT=10) as TEXT would: we keep the rule line as written (and write it back so), Python drops the backslash`,
	// RFC 5545 3.8.5.2: an RDATE's TZID applies to its DATE-TIME and
	// PERIOD values alike.
	"ical4j__ical4j__src_test_resources_samples_valid_calconnect8.ics: rdate": "RDATE;TZID=Eastern;VALUE=PERIOD: Python's icalendar 4.0.3 drops the TZID of PERIOD values " +
		"(naive 09:00); we read them in the file's Eastern VTIMEZONE (13:00Z in April 2005, EDT), as its DTSTART",
	// RFC 5545 3.1.4: the content is UTF-8.
	"mozilla__releases-comm-central__calendar_test_unit_data_importLatin1.ics: summary": "the file is Latin-1, not UTF-8: we read the invalid bytes as Windows-1252 (å), Python's icalendar replaces them with U+FFFD",
}

// TestCorpusFieldsPython compares, for every VEVENT of every corpus file
// (and of our own testdata fixtures) Python's icalendar reads, the values we read with Python's: summary,
// location, all-day-ness (Python: DTSTART is a DATE), the organizer's
// address, each attendee's address and PARTSTAT (addresses without
// "mailto:", case-insensitive), the RRULE (its parts in any order) and the EXDATE and RDATE values (as
// UTC instants, dates or floating times, in any order). Components are matched by UID and SUMMARY
// as TestCorpusTimesPython matches them, which compares start, end and
// recurrence-id as UTC instants. Each difference must be explained in
// pythonDiffersICS.
func TestCorpusFieldsPython(t *testing.T) {
	files := fixtures.CorpusFiles(t, "ics")
	pythonCounts(t, nil) // skips without Python or its icalendar
	// Our own fixtures too: the corpus has few meetings.
	own, _ := filepath.Glob("testdata/*.ics")
	files = append(files, own...)
	raw, err := exec.Command(python, append([]string{"testdata/values.py"}, files...)...).Output()
	if err != nil {
		t.Fatalf("values.py: %v", err)
	}
	var py map[string]json.RawMessage
	if err := json.Unmarshal(raw, &py); err != nil {
		t.Fatal(err)
	}
	diffs := map[string][]string{} // "file: field" → differences
	compared, events := 0, 0
	given := map[string]int{} // field → events where Python has a value
	for _, path := range files {
		name := filepath.Base(path)
		var comps []map[string]any
		if json.Unmarshal(py[path], &comps) != nil {
			continue // Python refuses the file (see TestCorpusCounts)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		recs, _, _ := readAll(t, string(data), name)
		// A reader that has read the file: its time zones resolve the
		// TZIDs of the EXDATE and RDATE lines we keep.
		zr := NewReader(strings.NewReader(string(data)), name)
		for {
			if _, err := zr.Next(); err == io.EOF || err != nil && !isItemErr(err) {
				break
			}
		}
		byUID := map[string][]*crm.Incoming{}
		for _, in := range recs {
			if in.Record.Entity == crm.Appointment {
				byUID[in.Record.Fields["uid"]] = append(byUID[in.Record.Fields["uid"]], in)
			}
		}
		for _, c := range comps {
			if c["name"] != "VEVENT" {
				continue
			}
			uid, _ := c["UID"].(string)
			uid = strings.TrimSpace(uid)
			sum, _ := c["SUMMARY"].(string)
			// The event of that UID with that SUMMARY, else the only one
			// left of that UID (a SUMMARY read differently).
			cands := byUID[uid]
			i := -1
			for j, in := range cands {
				if in.Record.Fields["subject"] == sum {
					i = j
					break
				}
			}
			if i < 0 && len(cands) == 1 {
				i = 0
			}
			if i < 0 {
				diffs[name+": match"] = append(diffs[name+": match"], fmt.Sprintf("UID %q SUMMARY %q: Python reads an event we do not", uid, sum))
				continue
			}
			in := cands[i]
			byUID[uid] = append(cands[:i:i], cands[i+1:]...)
			events++
			for field, d := range compareEvent(zr, in, c, given) {
				compared++
				if d != "" {
					diffs[name+": "+field] = append(diffs[name+": "+field], fmt.Sprintf("UID %q: %s", uid, d))
				}
			}
		}
	}
	keys := make([]string, 0, len(diffs))
	for k := range diffs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		reason, known := pythonDiffersICS[k]
		if !known {
			t.Errorf("%s differs from Python:\n  %s", k, strings.Join(diffs[k], "\n  "))
			continue
		}
		t.Logf("%s differs from Python as expected (%s):\n  %s", k, reason, strings.Join(diffs[k], "\n  "))
	}
	for k, reason := range pythonDiffersICS {
		if _, ok := diffs[k]; !ok {
			t.Errorf("%s is listed in pythonDiffersICS (%s) but now agrees: remove it", k, reason)
		}
	}
	if events < 500 {
		t.Errorf("only %d events compared", events)
	}
	t.Logf("%d events, %d values compared; Python gives a value for %v", events, compared, given)
	for _, f := range []string{"location", "all-day", "organizer", "attendees"} {
		if given[f] < 10 {
			t.Errorf("only %d events with a value for %s", given[f], f)
		}
	}
}

// compareEvent compares one event's values with Python's reading c; each
// field compared maps to "" when they agree, else the difference.
func compareEvent(zr *Reader, in *crm.Incoming, c map[string]any, given map[string]int) map[string]string {
	f := in.Record.Fields
	out := map[string]string{}
	cmp := func(field, ours, theirs string) {
		out[field] = ""
		if theirs != "" && theirs != "false" {
			given[field]++
		}
		if ours != theirs {
			out[field] = fmt.Sprintf("%s %q, Python %q", field, ours, theirs)
		}
	}
	loc, _ := c["LOCATION"].(string)
	cmp("location", f["location"], loc)
	sum, _ := c["SUMMARY"].(string)
	cmp("summary", f["subject"], sum)
	if start, ok := c["DTSTART"].(string); ok {
		cmp("all-day", f["isalldayevent"], fmt.Sprint(len(start) == 10))
	}
	var org string
	if o, ok := c["ORGANIZER"].([]any); ok && len(o) > 0 {
		org = calAddress(fmt.Sprint(o[0]))
	}
	var ours []string
	ourOrg := ""
	for _, p := range in.Record.Parties {
		a := strings.ToLower(p.Address)
		if p.Role == crm.RoleOrganizer {
			if ourOrg == "" {
				ourOrg = a
			}
			continue
		}
		ours = append(ours, a+" "+p.Status)
	}
	cmp("organizer", ourOrg, org)
	var theirs []string
	if as, ok := c["ATTENDEE"].([]any); ok {
		for _, a := range as {
			v, _ := a.([]any)
			if len(v) < 4 {
				continue
			}
			theirs = append(theirs, calAddress(fmt.Sprint(v[0]))+" "+strings.ToUpper(fmt.Sprint(v[3])))
		}
	}
	sort.Strings(ours)
	sort.Strings(theirs)
	cmp("attendees", strings.Join(ours, ", "), strings.Join(theirs, ", "))
	if r, ok := c["RRULE"].(string); ok { // null: icalendar cannot write it back
		var rule string
		for _, l := range strings.Split(f["recurrence"], "\n") {
			if name, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(name, "RRULE") {
				rule = v
				break
			}
		}
		cmp("rrule", ruleParts(rule), ruleParts(r))
	}
	for _, k := range []string{"EXDATE", "RDATE"} {
		var theirs []string
		if vs, ok := c[k].([]any); ok {
			for _, v := range vs {
				theirs = append(theirs, fmt.Sprint(v))
			}
		}
		ours := recurDates(zr, f["recurrence"], k)
		sort.Strings(ours)
		sort.Strings(theirs)
		cmp(strings.ToLower(k), strings.Join(ours, ", "), strings.Join(theirs, ", "))
	}
	return out
}

// recurDates reads the values of the name (EXDATE or RDATE) lines of a
// recurrence as values.py writes them: UTC instants ("...Z"), dates
// (YYYY-MM-DD), floating times (without zone); a PERIOD by its start.
// TZIDs resolve as zr (a Reader that has read the file) resolves them.
func recurDates(zr *Reader, recurrence, name string) []string {
	var out []string
	for _, l := range strings.Split(recurrence, "\n") {
		head, vals, ok := cutUnquoted(l, ':')
		if !ok {
			continue
		}
		parts := splitUnquoted(head, ';')
		if !strings.EqualFold(parts[0], name) {
			continue
		}
		p := ical.NewProp(name)
		for _, kv := range parts[1:] {
			k, v, _ := strings.Cut(kv, "=")
			p.Params.Set(strings.ToUpper(k), v)
		}
		for _, v := range strings.Split(vals, ",") {
			v, _, _ = strings.Cut(v, "/") // PERIOD: its start
			p.Value = strings.TrimSpace(v)
			w, _, err := zr.timeOf(p)
			if err != nil {
				out = append(out, "unreadable "+v)
				continue
			}
			_, _, utc, _ := parseNaive(p.Value)
			switch {
			case w.date:
				out = append(out, w.t.Format("2006-01-02"))
			case w.tzid == "" && !utc && zr.floating == nil:
				out = append(out, w.t.Format("2006-01-02T15:04:05"))
			default:
				out = append(out, w.t.UTC().Format("2006-01-02T15:04:05Z"))
			}
		}
	}
	return out
}

// cutUnquoted cuts s around the first sep outside double quotes.
func cutUnquoted(s string, sep byte) (before, after string, ok bool) {
	q := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '"':
			q = !q
		case s[i] == sep && !q:
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// splitUnquoted splits s at each sep outside double quotes.
func splitUnquoted(s string, sep byte) []string {
	var out []string
	for {
		b, a, ok := cutUnquoted(s, sep)
		out = append(out, b)
		if !ok {
			return out
		}
		s = a
	}
}

// ruleParts is a RECUR value (RFC 5545 3.3.10) with its parts sorted and
// upper case: writers order the parts as they like.
func ruleParts(v string) string {
	var ps []string
	for _, p := range strings.Split(strings.ToUpper(strings.TrimSpace(v)), ";") {
		if p != "" {
			ps = append(ps, p)
		}
	}
	sort.Strings(ps)
	return strings.Join(ps, ";")
}

// calAddress is a CAL-ADDRESS as we store a party's address: without
// "mailto:", lower case.
func calAddress(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 7 && strings.EqualFold(s[:7], "mailto:") {
		s = s[7:]
	}
	return strings.ToLower(strings.TrimSpace(s))
}
