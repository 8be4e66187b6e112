package bridge

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"crmbridge/crmstore"
	"crmbridge/fixtures"
	"crmbridge/pst"
	"crmbridge/pstwrite"
)

// appointmentBlobs reads, per subject, the recurrence blob and the
// recurrence time zone of every appointment in the PST at path.
func appointmentBlobs(t *testing.T, path string) map[string][2][]byte {
	t.Helper()
	f, err := pst.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][2][]byte{}
	for it, err := range f.Items(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		if a := it.Appointment; a != nil && len(a.RecurrenceBlob) > 0 {
			out[it.Subject] = [2][]byte{a.RecurrenceBlob, a.TimeZoneRecur}
		}
	}
	return out
}

// TestPSTRecurrenceBlobKept: a series from a PST whose pattern the record
// holds only as Outlook's description ("every 2nd Tuesday ...") keeps
// Outlook's blob and its time zone through PST -> store -> PST, byte for
// byte. The source is a PST of our own with a blob as Outlook writes one.
func TestPSTRecurrenceBlobKept(t *testing.T) {
	// A monthly series, 2nd Tuesday, 10:00-11:00 local, from 2024-01-09,
	// 6 occurrences, in W. Europe Standard Time.
	z := recordZone("Europe/Berlin", "")
	rc := &recurrence{freq: recurFreqMonthly, pattern: patternMonthNth, period: 1, specific: []uint32{0x04, 2},
		firstDOW: 0, endType: endAfterN, count: 6,
		start: time.Date(2024, 1, 9, 0, 0, 0, 0, time.UTC), end: time.Date(2024, 6, 11, 0, 0, 0, 0, time.UTC),
		startMin: 600, duration: 60}
	rc.firstDateTime = 0 // MS-OXOCAL 2.2.1.44.1: months since 1601 modulo a period of 1: January 1601
	blob := rc.blob()
	tzRecur := z.tzDefinition(2024, 2024, true)
	appt := func(lid uint32) pstwrite.Key { return pstwrite.LID(pstwrite.PSETIDAppointment, lid) }
	src := filepath.Join(t.TempDir(), "src.pst")
	start := time.Date(2024, 1, 9, 9, 0, 0, 0, time.UTC)
	writeXPST(t, src, "Calendar", "IPF.Appointment", &pstwrite.Message{Props: []pstwrite.Prop{
		pstwrite.String(pstwrite.Tag(0x001A), "IPM.Appointment"),
		pstwrite.String(pstwrite.Tag(0x0037), "jour fixe"),
		pstwrite.Time(pstwrite.Tag(0x3008), start),
		pstwrite.Time(appt(0x820D), start), pstwrite.Time(appt(0x820E), start.Add(time.Hour)),
		pstwrite.Bool(appt(0x8223), true),
		pstwrite.String(appt(0x8232), "every 2nd Tuesday of every 1 month(s) from 10:00 to 11:00"),
		pstwrite.String(appt(0x8234), "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna"),
		pstwrite.Binary(appt(0x8216), blob),
		pstwrite.Binary(appt(0x8260), tzRecur),
	}})
	s := newStore(t)
	importPaths(t, s, ImportOptions{}, src)
	out := filepath.Join(t.TempDir(), "out.pst")
	export(t, s, ExportOptions{All: true, PST: out})
	got := appointmentBlobs(t, out)["jour fixe"]
	if !bytes.Equal(got[0], blob) {
		t.Errorf("recurrence blob\n%x, want\n%x", got[0], blob)
	}
	if !bytes.Equal(got[1], tzRecur) {
		t.Errorf("recurrence time zone\n%x, want\n%x", got[1], tzRecur)
	}
}

// TestPSTRecurrenceBlobEditedStart: when the user moves a kept series in
// the store (its start and end), the kept blob, which holds the old start
// (StartDate, StartTimeOffset, EndTimeOffset), no longer describes the
// record and must not win: the series is written from the record (here a
// single appointment with the pattern text: the record has no RRULE), at
// the record's new times. Before the rule, the old blob was written with
// the new PidLidAppointmentStartWhole: Outlook would show the series at
// 10:00 while the appointment says 11:30.
func TestPSTRecurrenceBlobEditedStart(t *testing.T) {
	z := recordZone("Europe/Berlin", "")
	rc := &recurrence{freq: recurFreqMonthly, pattern: patternMonthNth, period: 1, specific: []uint32{0x04, 2},
		firstDOW: 0, endType: endAfterN, count: 6,
		start: time.Date(2024, 1, 9, 0, 0, 0, 0, time.UTC), end: time.Date(2024, 6, 11, 0, 0, 0, 0, time.UTC),
		startMin: 600, duration: 60}
	blob := rc.blob()
	appt := func(lid uint32) pstwrite.Key { return pstwrite.LID(pstwrite.PSETIDAppointment, lid) }
	src := filepath.Join(t.TempDir(), "src.pst")
	start := time.Date(2024, 1, 9, 9, 0, 0, 0, time.UTC)
	writeXPST(t, src, "Calendar", "IPF.Appointment", &pstwrite.Message{Props: []pstwrite.Prop{
		pstwrite.String(pstwrite.Tag(0x001A), "IPM.Appointment"),
		pstwrite.String(pstwrite.Tag(0x0037), "jour fixe"),
		pstwrite.Time(appt(0x820D), start), pstwrite.Time(appt(0x820E), start.Add(time.Hour)),
		pstwrite.Bool(appt(0x8223), true),
		pstwrite.String(appt(0x8232), "every 2nd Tuesday of every 1 month(s) from 10:00 to 11:00"),
		pstwrite.String(appt(0x8234), "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna"),
		pstwrite.Binary(appt(0x8216), blob),
		pstwrite.Binary(appt(0x8260), z.tzDefinition(2024, 2024, true)),
	}})
	s := newStore(t)
	importPaths(t, s, ImportOptions{}, src)
	var id string
	for _, v := range views(t, s) {
		if v.Fields["subject"] == "jour fixe" {
			id = v.ID
		}
	}
	// The user moves the series to 11:30-12:30 local.
	err := s.Update(context.Background(), func(tx *crmstore.Tx) error {
		_, err := tx.Set(id, map[string]string{"scheduledstart": "2024-01-09T10:30:00Z", "scheduledend": "2024-01-09T11:30:00Z"}, "test")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.pst")
	export(t, s, ExportOptions{All: true, PST: out})
	if got, ok := appointmentBlobs(t, out)["jour fixe"]; ok && bytes.Equal(got[0], blob) {
		t.Errorf("the kept blob (10:00 local) was written for a series moved to 11:30")
	}
	// The unedited blob still wins while it agrees with the record: the
	// same export without the edit keeps it (TestPSTRecurrenceBlobKept).
}

// TestPSTRecurrenceBlobKeptCorpus: every recurring appointment of the
// corpus PSTs keeps its blob and recurrence time zone through
// PST -> store -> PST.
func TestPSTRecurrenceBlobKeptCorpus(t *testing.T) {
	files := fixtures.CorpusFiles(t, "pst")
	files = append(files, filepath.Join(fixtures.GoPSTData(t), "support.pst"))
	n := 0
	for _, src := range files {
		want := appointmentBlobs(t, src)
		if len(want) == 0 {
			continue
		}
		s := newStore(t)
		importPaths(t, s, ImportOptions{}, src)
		out := filepath.Join(t.TempDir(), "out.pst")
		export(t, s, ExportOptions{All: true, PST: out})
		got := appointmentBlobs(t, out)
		for subj, w := range want {
			n++
			if !bytes.Equal(got[subj][0], w[0]) || !bytes.Equal(got[subj][1], w[1]) {
				t.Errorf("%s: %q: blob %x tz %x, want %x tz %x", filepath.Base(src), subj, got[subj][0], got[subj][1], w[0], w[1])
			}
		}
	}
	t.Logf("%d recurring appointments", n)
}

// TestPSTRecurrenceBlobKeptWithExceptions: a series from a PST with a
// modified occurrence keeps its blob byte for byte, and the occurrence
// (a record of its own in the store) goes back as its exception
// attachment. The source PST is our own: an Outlook-style series (the
// pattern as Outlook's description) with one exception.
func TestPSTRecurrenceBlobKeptWithExceptions(t *testing.T) {
	c := seriesCase{Subject: "planning", TZID: "Europe/Berlin", Start: "2024-03-04T09:00", Rule: "FREQ=WEEKLY;BYDAY=MO;COUNT=6",
		Overrides: []override{{Orig: "2024-03-11T09:00", Start: "2024-03-12T10:00", End: "2024-03-12T11:00", Subject: "planning (moved)", Location: "Room 1"}}}
	vs := c.views(t)
	m, _, err := pstMessageAt(vs[0], 0, vs)
	if err != nil {
		t.Fatal(err)
	}
	// Outlook keeps its description of the pattern, not an iCalendar rule.
	m.Props = append(m.Props, pstwrite.String(pstwrite.LID(pstwrite.PSETIDAppointment, 0x8232), "every Monday from 09:00 to 10:00"))
	src := filepath.Join(t.TempDir(), "src.pst")
	writeXPST(t, src, "Calendar", "IPF.Appointment", m)
	want := appointmentBlobs(t, src)["planning"]
	s := newStore(t)
	importPaths(t, s, ImportOptions{}, src)
	if n := len(views(t, s)); n != 2 {
		t.Fatalf("%d records imported, want the series and its occurrence", n)
	}
	out := filepath.Join(t.TempDir(), "out.pst")
	export(t, s, ExportOptions{All: true, PST: out})
	got := appointmentBlobs(t, out)["planning"]
	if !bytes.Equal(got[0], want[0]) || !bytes.Equal(got[1], want[1]) {
		t.Errorf("blob %x tz %x, want %x tz %x", got[0], got[1], want[0], want[1])
	}
	f, err := pst.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	items, occ := 0, 0
	for it, err := range f.Items(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		items++
		for _, a := range it.Attachments {
			if isOccurrence(it, a) {
				occ++
				if a.Message.Subject != "planning (moved)" {
					t.Errorf("occurrence subject %q", a.Message.Subject)
				}
			}
		}
	}
	if items != 1 || occ != 1 {
		t.Errorf("%d items with %d exception attachments, want 1 and 1", items, occ)
	}
}

// TestMinutesTime: blob times (minutes since 1601) read back as the
// times written, in this century and at the blob's "no end" date.
func TestMinutesTime(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2024, 3, 11, 9, 0, 0, 0, time.UTC),
		time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(4500, 8, 31, 23, 59, 0, 0, time.UTC),
	} {
		if got := minutesTime(minutes1601(tm)); !got.Equal(tm) {
			t.Errorf("%s: read back as %s", tm, got)
		}
	}
}
