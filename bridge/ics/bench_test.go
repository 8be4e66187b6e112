package ics

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"crmbridge/crm"
)

func benchCalendar(n int) []byte {
	var b bytes.Buffer
	b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
	b.WriteString("BEGIN:VTIMEZONE\r\nTZID:W. Europe Standard Time\r\nBEGIN:STANDARD\r\nDTSTART:16010101T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\nEND:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "BEGIN:VEVENT\r\nUID:%d@example.com\r\nDTSTAMP:20240101T000000Z\r\nDTSTART;TZID=W. Europe Standard Time:20240%d15T100000\r\nDTEND;TZID=W. Europe Standard Time:20240%d15T110000\r\nSUMMARY:Meeting %d\r\nDESCRIPTION:%s\r\nORGANIZER;CN=Anna:mailto:anna@example.com\r\nATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN=Bob:mailto:bob@example.com\r\nBEGIN:VALARM\r\nTRIGGER:-PT15M\r\nACTION:DISPLAY\r\nEND:VALARM\r\nEND:VEVENT\r\n",
			i, i%9+1, i%9+1, i, strings.Repeat("text ", 40))
	}
	b.WriteString("END:VCALENDAR\r\n")
	return b.Bytes()
}

// BenchmarkReader reads a calendar of 1,000 Outlook-style meetings.
func BenchmarkReader(b *testing.B) {
	data := benchCalendar(1000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r := NewReader(bytes.NewReader(data), "bench.ics")
		n := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 1000 {
			b.Fatalf("%d records", n)
		}
	}
}

// BenchmarkEncoder writes 1,000 meetings with a time zone.
func BenchmarkEncoder(b *testing.B) {
	var recs []crm.Record
	r := NewReader(bytes.NewReader(benchCalendar(1000)), "bench.ics")
	for {
		in, err := r.Next()
		if err != nil {
			break
		}
		recs = append(recs, in.Record)
	}
	var out bytes.Buffer
	for b.Loop() {
		out.Reset()
		e := NewEncoder(&out)
		e.Now = fixedNow
		if err := e.Encode(recs...); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(out.Len()))
}
