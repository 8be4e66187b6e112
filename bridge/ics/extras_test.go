package ics

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"crmbridge/crm"
)

// An event and a task with values no field holds: X- properties, URL,
// GEO, an unknown CLASS, an event STATUS other than CANCELLED, TRANSP
// beside the Outlook busy status, attendee and organizer parameters,
// an attachment by URI, a plain-text X-ALT-DESC, a second alarm and a
// first alarm that says more than a reminder.
const extrasCal = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nX-WR-CALNAME:Work\r\n" +
	"BEGIN:VEVENT\r\nUID:ev1\r\nDTSTAMP:20240101T000000Z\r\nSEQUENCE:2\r\n" +
	"DTSTART:20240105T090000Z\r\nDTEND:20240105T100000Z\r\nSUMMARY:Review\r\n" +
	"X-GOOGLE-CONFERENCE:https://meet.example/abc\r\nURL:https://example.org/ev1\r\nGEO:37.386013;-122.082932\r\n" +
	"CLASS:X-SECRET\r\nSTATUS:TENTATIVE\r\nTRANSP:TRANSPARENT\r\nX-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE\r\n" +
	"CREATED:20231201T120000Z\r\nX-ALT-DESC:plain\\, alt\r\n" +
	"ORGANIZER;CN=Boss;SENT-BY=\"mailto:sec@example.org\":mailto:boss@example.org\r\n" +
	"ATTENDEE;CN=Ann;ROLE=CHAIR;PARTSTAT=ACCEPTED;RSVP=TRUE;CUTYPE=INDIVIDUAL:mailto:ann@example.org\r\n" +
	"ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION:mailto:bob@example.org\r\n" +
	"ATTACH;FMTTYPE=application/pdf:https://example.org/agenda.pdf\r\n" +
	"BEGIN:VALARM\r\nACTION:AUDIO\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n" +
	"BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT1H\r\nEND:VALARM\r\n" +
	"END:VEVENT\r\n" +
	"BEGIN:VTODO\r\nUID:td1\r\nDTSTAMP:20240101T000000Z\r\nSUMMARY:Do\r\nSTATUS:NEEDS-ACTION\r\n" +
	"X-APPLE-SORT-ORDER:42\r\nCLASS:PRIVATE\r\nIMAGE;VALUE=BINARY;ENCODING=BASE64;FMTTYPE=image/png:iVBORw0KGgo=\r\n" +
	"BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\n" +
	"END:VTODO\r\nEND:VCALENDAR\r\n"

func sortedExtras(xs []crm.Extra) []crm.Extra {
	xs = append([]crm.Extra(nil), xs...)
	sort.Slice(xs, func(i, j int) bool {
		return fmt.Sprint(xs[i].Name, xs[i].Value, xs[i].Params) < fmt.Sprint(xs[j].Name, xs[j].Value, xs[j].Params)
	})
	return xs
}

func TestExtras(t *testing.T) {
	wantEvent := []crm.Extra{
		{Name: "ATTACH", Value: "https://example.org/agenda.pdf", Params: map[string]string{"FMTTYPE": "application/pdf"}},
		{Name: "ATTENDEE", Value: "mailto:ann@example.org", Params: map[string]string{"ROLE": "CHAIR", "RSVP": "TRUE", "CUTYPE": "INDIVIDUAL"}},
		{Name: "CLASS", Value: "X-SECRET"},
		{Name: "CREATED", Value: "20231201T120000Z"},
		{Name: "GEO", Value: "37.386013;-122.082932"},
		{Name: "ORGANIZER", Value: "mailto:boss@example.org", Params: map[string]string{"SENT-BY": "mailto:sec@example.org"}},
		{Name: "STATUS", Value: "TENTATIVE"},
		{Name: "TRANSP", Value: "TRANSPARENT"},
		{Name: "URL", Value: "https://example.org/ev1"},
		{Name: "VALARM", Value: "ACTION:AUDIO\r\nTRIGGER:-PT15M"},
		{Name: "VALARM", Value: "ACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT1H"},
		{Name: "X-ALT-DESC", Value: "plain\\, alt"},
		{Name: "X-GOOGLE-CONFERENCE", Value: "https://meet.example/abc"},
	}
	wantTodo := []crm.Extra{
		{Name: "IMAGE", Value: "iVBORw0KGgo=", Params: map[string]string{"VALUE": "BINARY", "ENCODING": "BASE64", "FMTTYPE": "image/png"}},
		{Name: "X-APPLE-SORT-ORDER", Value: "42"},
	}

	check := func(stage string, recs []*crm.Incoming) {
		t.Helper()
		if len(recs) != 2 {
			t.Fatalf("%s: %d items", stage, len(recs))
		}
		for i, want := range [][]crm.Extra{wantEvent, wantTodo} {
			if got := sortedExtras(recs[i].Record.Extras); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: %s extras\n got %q\nwant %q", stage, recs[i].Record.Entity, got, want)
			}
		}
		ev := recs[0].Record.Fields
		if ev["reminder"] != "-PT15M" || ev["busystatus"] != "1" || ev["sensitivity"] != "" {
			t.Errorf("%s: reminder %q busystatus %q sensitivity %q", stage, ev["reminder"], ev["busystatus"], ev["sensitivity"])
		}
		if td := recs[1].Record.Fields; td["reminder"] != "-PT5M" || td["sensitivity"] != "2" {
			t.Errorf("%s: task reminder %q sensitivity %q", stage, td["reminder"], td["sensitivity"])
		}
	}
	recs, errs, fatal := readAll(t, extrasCal, "x.ics")
	if fatal != nil || len(errs) != 0 {
		t.Fatal(fatal, errs)
	}
	check("read", recs)

	// Written back and read again: every extra comes back as it was.
	var out []crm.Record
	for _, in := range recs {
		out = append(out, in.Record)
	}
	var buf bytes.Buffer
	enc := NewEncoder(&buf)
	enc.Warn = func(rec *crm.Record, err error) { t.Errorf("warn %s: %v", rec.Entity, err) }
	if err := enc.Encode(out...); err != nil {
		t.Fatal(err)
	}
	recs2, errs, fatal := readAll(t, buf.String(), "out.ics")
	if fatal != nil || len(errs) != 0 {
		t.Fatal(fatal, errs)
	}
	check("round trip", recs2)
	if t.Failed() {
		t.Logf("%s", buf.Bytes())
	}
}

// FuzzExtrasWrite writes an appointment with one extra of raw name, value
// and parameter, and a VALARM extra of raw lines: Encode never fails on
// them (what it cannot write goes to Warn), the output reads back as one
// event, and an extra the writer wrote comes back.
func FuzzExtrasWrite(f *testing.F) {
	f.Add("X-A", "v\\, w", "X-P", "q", "ACTION:AUDIO\r\nTRIGGER:-PT5M")
	f.Add("ATTENDEE", "mailto:a@example.com", "RSVP", "TRUE", "TRIGGER;VALUE=DATE-TIME:20240101T000000Z")
	f.Add("STATUS", "x\r\ny", "A\"B", "\"", "\x00\xff")
	f.Add("TRANSP", "TRANSPARENT", "", "", "")
	f.Fuzz(func(t *testing.T, name, value, pname, pvalue, alarm string) {
		x := crm.Extra{Name: name, Value: value}
		if pname != "" {
			x.Params = map[string]string{pname: pvalue}
		}
		rec := crm.Record{Entity: crm.Appointment, ID: "x", Fields: map[string]string{
			"subject": "s", "scheduledstart": "2024-03-18T09:00:00Z", "scheduledend": "2024-03-18T10:00:00Z",
		}, Parties: []crm.Party{{Role: crm.RoleRequired, Address: "a@example.com"}},
			Extras: []crm.Extra{x, {Name: "VALARM", Value: alarm}}}
		var buf bytes.Buffer
		enc := NewEncoder(&buf)
		warned := 0
		enc.Warn = func(*crm.Record, error) { warned++ }
		if err := enc.Encode(rec); err != nil {
			t.Fatalf("encode: %v", err)
		}
		back, _, fatal := readAll(t, buf.String(), "fuzz.ics")
		if fatal != nil || len(back) != 1 {
			t.Fatalf("re-read: %d records, %v\n%q", len(back), fatal, buf.Bytes())
		}
		if back[0].Record.Fields["subject"] != "s" {
			t.Fatalf("subject %q\n%q", back[0].Record.Fields["subject"], buf.Bytes())
		}
	})
}

// TestExtrasCorpusRoundTrip reads every corpus and testdata calendar,
// writes its records and reads them again: every extra value comes back,
// and none is added, except what the writer reports through Warn.
func TestExtrasCorpusRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.ics")
	if dir := corpusDirIfPresent(); dir != "" {
		more, _ := filepath.Glob(dir + "/*")
		files = append(files, more...)
	}
	total, warnedTotal := 0, 0
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
		for i, in := range first {
			rec := in.Record
			rec.ID = fmt.Sprint("r", i) // to know which record Warn names
			recs = append(recs, rec)
		}
		var buf bytes.Buffer
		enc := NewEncoder(&buf)
		warned := map[int]bool{}
		enc.Warn = func(rec *crm.Record, err error) {
			for i := range recs {
				if recs[i].ID == rec.ID && rec.ID != "" {
					warned[i] = true
				}
			}
		}
		if err := enc.Encode(recs...); err != nil {
			t.Errorf("%s: %v", filepath.Base(path), err)
			continue
		}
		warnedTotal += len(warned)
		second, _, fatal := readAll(t, buf.String(), "out.ics")
		if fatal != nil || len(second) != len(first) {
			continue // TestEncodeCorpusRoundTrip reports it
		}
		for i := range first {
			total += len(first[i].Record.Extras)
			a, b := sortedExtras(first[i].Record.Extras), sortedExtras(second[i].Record.Extras)
			if !reflect.DeepEqual(a, b) && !warned[i] {
				t.Errorf("%s #%d: extras\n  %q\nthen\n  %q", filepath.Base(path), i, a, b)
			}
		}
	}
	t.Logf("%d extra values in %d files; %d records with an extra the writer could not write", total, len(files), warnedTotal)
}
