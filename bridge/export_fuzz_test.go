package bridge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"testing"
	"time"

	"crmbridge/crm"
	"crmbridge/crmstore"
)

// maxFuzzOutput bounds what one record may make a writer produce: a
// writer that loops (a folding loop that never advances) fails here
// instead of filling memory.
const maxFuzzOutput = 64 << 20

type boundedWriter struct{ n int }

var errTooMuch = errors.New("writer produced more than 64 MiB for one small record")

func (w *boundedWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	if w.n > maxFuzzOutput {
		return 0, errTooMuch
	}
	return len(p), nil
}

// fuzzRecords builds one record of each exported entity whose every field,
// party and attachment name holds a piece of data (split at 0xFF), raw:
// invalid UTF-8, controls, CR/LF, huge values.
func fuzzRecords(data []byte) []*crmstore.View {
	pieces := bytes.Split(data, []byte{0xff})
	piece := func(i int) string { return string(pieces[i%len(pieces)]) }
	var out []*crmstore.View
	for ei, e := range []crm.Entity{crm.Contact, crm.Account, crm.Appointment, crm.Task, crm.Email, crm.List, crm.PhoneCall, crm.Letter, crm.Fax} {
		v := &crmstore.View{Record: crm.Record{ID: fmt.Sprintf("01a22b2e-0000-7000-8000-%012d", ei), Entity: e, Fields: map[string]string{}},
			ModifiedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
		for i, f := range crm.Fields(e) {
			v.Fields[f.Name] = piece(i + ei)
		}
		for role := crm.RoleSender; role <= crm.RoleOrganizer; role++ {
			v.Parties = append(v.Parties, crm.Party{Role: role, Address: piece(role), Name: piece(role + 1), Status: piece(role + 2)})
		}
		v.Members = v.Parties
		content := []byte(piece(3))
		v.Attachments = []crm.Attachment{{Name: piece(1), MimeType: piece(2), ContentID: piece(4), Inline: len(content)%2 == 0, Size: int64(len(content)),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(content)), nil }}}
		out = append(out, v)
	}
	return out
}

// FuzzExportWriters drives every export writer (vCard 2.1/3.0/4.0 file and
// vdir, iCalendar file and vdir, EML, the three Outlook CSVs, PST messages) with
// arbitrary field values, as stored and as the export cleans them: none
// may panic, loop or produce unbounded output, and a single-file target
// always writes a whole file.
func FuzzExportWriters(f *testing.F) {
	f.Add([]byte("Ann\xffLee\xff2026-01-05T10:00:00Z\xffRRULE:FREQ=DAILY;COUNT=2\nRRULE:FREQ=WEEKLY;UNTIL=20260301T000000Z"))
	f.Add(bytes.Repeat([]byte{0x80}, 300)) // a run of continuation bytes (the fold hang)
	f.Add([]byte("\xc3\xff\xe2\x82\xff\r\n\x00\u202e\xff" + string(bytes.Repeat([]byte("é"), 200))))
	f.Add([]byte("RRULE:FREQ=SECONDLY;COUNT=5;BYMONTH=2;BYMONTHDAY=30\nRRULE:FREQ=YEARLY;COUNT=100000\xff2026-01-05T10:00:00Z"))
	f.Add([]byte("=?utf-8?q?x?=\xff\"<>,;:\\\xffBEGIN:VEVENT\r\nEND:VCALENDAR"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, clean := range []bool{false, true} {
			for _, version := range []string{"2.1", "3.0", "4.0"} {
				x := &exporter{opts: ExportOptions{VCF: "a.vcf", ICS: "a.ics", EMLDir: "mail", CSV: "o.csv", PST: "o.pst", VCardVersion: version}}
				xs := &exporter{opts: ExportOptions{VCF: "vdir", ICS: "cal", Split: true, VCardVersion: version}}
				var tgs []*target
				for _, ex := range []*exporter{x, xs} {
					ts, err := ex.targets()
					if err != nil {
						t.Fatal(err)
					}
					tgs = append(tgs, ts...)
				}
				for _, tg := range tgs {
					if tg.kind == "pst" {
						continue // below, message by message
					}
					var recs []*crmstore.View
					for _, v := range fuzzRecords(data) {
						for _, e := range tg.ents {
							if v.Entity == e {
								if clean {
									cleanView(v, nil)
								}
								recs = append(recs, v)
							}
						}
					}
					noop := func(*crmstore.View, error) {}
					switch {
					case tg.writeFile != nil:
						var seq iter.Seq[*crmstore.View] = func(yield func(*crmstore.View) bool) {
							for _, v := range recs {
								if !yield(v) {
									return
								}
							}
						}
						if _, err := tg.writeFile(&boundedWriter{}, seq, noop, noop); err != nil {
							t.Fatalf("%s (version %s, clean %v): %v", tg.kind, version, clean, err)
						}
					case tg.encode != nil:
						for _, v := range recs {
							if tg.kind == "ics" && calendarRecord(v) != nil {
								continue
							}
							tg.name(v.ID, []*crmstore.View{v})
							err := tg.encode(&boundedWriter{}, []*crmstore.View{v}, noop)
							if errors.Is(err, errTooMuch) {
								t.Fatalf("%s split: %v", tg.kind, err)
							}
						}
					}
				}
			}
			for _, v := range fuzzRecords(data) {
				if clean {
					cleanView(v, nil)
				}
				pstMessage(v) // an error is a refused record; a panic fails
			}
		}
	})
}
