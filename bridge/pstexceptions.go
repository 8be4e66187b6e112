package bridge

import (
	"encoding/binary"
	"slices"
	"strconv"
	"time"
	"unicode/utf16"

	"crmbridge/crm"
	"crmbridge/crmstore"
	"crmbridge/pstwrite"
)

// Modified and deleted occurrences of a series (MS-OXOCAL 2.2.1.44.2,
// 2.2.10.1). An iCalendar source gives a modified occurrence as a VEVENT
// with the series' UID and a RECURRENCE-ID, which the store keeps as an
// appointment record of its own (recurrenceid, seriesid); Outlook keeps
// it inside the series: the original date among the deleted instance
// dates, the new date among the modified ones, an ExceptionInfo and an
// ExtendedException in the blob, and an exception attachment holding the
// occurrence as an embedded message.

// ExceptionInfo OverrideFlags (MS-OXOCAL 2.2.1.44.2).
const (
	aroSubject    = 0x0001
	aroLocation   = 0x0010
	aroBusyStatus = 0x0020
	aroSubType    = 0x0080
)

// exception is one modified occurrence, times as local wall times in the
// form the blob holds them (as UTC).
type exception struct {
	v                 *crmstore.View
	orig, start, end  time.Time
	origUTC           time.Time
	subject, location string
	busy              int32
	allDay            bool
	flags             uint16
}

// foldExceptions picks, from the members of the series' UID, the
// occurrences the blob can hold: appointments with a recurrence id that
// is an occurrence of the rule, not excluded, at most one per original
// date. A canceled one (statecode 2) becomes a deleted instance; the
// others become exceptions. It records them in r and returns the records
// folded into the series; every other member stays an appointment of its
// own.
func (r *recurrence) foldExceptions(master *crmstore.View, members []*crmstore.View) []*crmstore.View {
	if r.rule == nil {
		return nil
	}
	mf := master.Fields
	taken := map[time.Time]bool{}
	for _, d := range r.deleted {
		taken[d] = true // an EXDATE: no occurrence to modify
	}
	var folded []*crmstore.View
	for _, v := range members {
		f := v.Fields
		if v.ID == master.ID || v.Entity != crm.Appointment || f["recurrenceid"] == "" || f["uid"] != mf["uid"] {
			continue
		}
		origUTC, err := time.Parse(time.RFC3339, f["recurrenceid"])
		if err != nil {
			continue
		}
		orig := origUTC.In(r.loc)
		if occ := r.rule.Between(orig, orig, true); len(occ) != 1 || !occ[0].Equal(orig) {
			continue // not an occurrence of the series
		}
		day := midnight(orig)
		if taken[day] {
			continue
		}
		if f["statecode"] == "2" { // canceled: a deleted occurrence
			taken[day] = true
			r.deleted = append(r.deleted, day)
			folded = append(folded, v)
			continue
		}
		start, err1 := time.Parse(time.RFC3339, f["scheduledstart"])
		end, err2 := time.Parse(time.RFC3339, f["scheduledend"])
		if err1 != nil || err2 != nil || end.Before(start) {
			continue
		}
		taken[day] = true
		wall := func(t time.Time) time.Time {
			t = t.In(r.loc)
			return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), 0, 0, time.UTC)
		}
		e := exception{v: v, orig: wall(orig), start: wall(start), end: wall(end), origUTC: origUTC,
			subject: f["subject"], location: f["location"], allDay: f["isalldayevent"] == "true"}
		if e.subject != mf["subject"] {
			e.flags |= aroSubject
		}
		if e.location != mf["location"] {
			e.flags |= aroLocation
		}
		if n, err := strconv.Atoi(f["busystatus"]); err == nil && f["busystatus"] != mf["busystatus"] {
			e.flags |= aroBusyStatus
			e.busy = int32(n)
		}
		if e.allDay != (mf["isalldayevent"] == "true") {
			e.flags |= aroSubType
		}
		r.deleted = append(r.deleted, day) // the original date: MS-OXOCAL 2.2.1.44.1 DeletedInstanceDates
		r.exceptions = append(r.exceptions, e)
		folded = append(folded, v)
	}
	slices.SortFunc(r.deleted, func(a, b time.Time) int { return a.Compare(b) })
	r.deleted = slices.Compact(r.deleted)
	slices.SortStableFunc(r.exceptions, func(a, b exception) int { return a.start.Compare(b.start) })
	return folded
}

// ansi is s in the 8-bit form of ExceptionInfo's Subject and Location:
// Latin-1, '?' for what it cannot hold (the Unicode text is in the
// ExtendedException).
func ansi(s string) []byte {
	var b []byte
	for _, c := range s {
		if c > 0xFF {
			c = '?'
		}
		b = append(b, byte(c))
	}
	return b
}

func appendText16(b []byte, s string) []byte {
	u := utf16.Encode([]rune(s))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(u)))
	for _, c := range u {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return b
}

// info appends the ExceptionInfo (MS-OXOCAL 2.2.1.44.2).
func (e exception) info(b []byte) []byte {
	le := binary.LittleEndian
	b = le.AppendUint32(b, minutes1601(e.start))
	b = le.AppendUint32(b, minutes1601(e.end))
	b = le.AppendUint32(b, minutes1601(e.orig))
	b = le.AppendUint16(b, e.flags)
	text := func(s string) {
		a := ansi(s)
		b = le.AppendUint16(b, uint16(len(a)+1)) // SubjectLength / LocationLength
		b = le.AppendUint16(b, uint16(len(a)))   // ...Length2
		b = append(b, a...)
	}
	if e.flags&aroSubject != 0 {
		text(e.subject)
	}
	if e.flags&aroLocation != 0 {
		text(e.location)
	}
	if e.flags&aroBusyStatus != 0 {
		b = le.AppendUint32(b, uint32(e.busy))
	}
	if e.flags&aroSubType != 0 {
		sub := uint32(0)
		if e.allDay {
			sub = 1
		}
		b = le.AppendUint32(b, sub)
	}
	return b
}

// extended appends the ExtendedException (MS-OXOCAL 2.2.1.44.3, present
// because WriterVersion2 is 0x3009): a ChangeHighlight of 4 bytes, then,
// when the subject or location is overridden, the times again and the
// Unicode texts.
func (e exception) extended(b []byte) []byte {
	le := binary.LittleEndian
	b = le.AppendUint32(b, 4) // ChangeHighlightSize
	b = le.AppendUint32(b, 0) // ChangeHighlightValue
	b = le.AppendUint32(b, 0) // ReservedBlockEE1Size
	if e.flags&(aroSubject|aroLocation) != 0 {
		b = le.AppendUint32(b, minutes1601(e.start))
		b = le.AppendUint32(b, minutes1601(e.end))
		b = le.AppendUint32(b, minutes1601(e.orig))
		if e.flags&aroSubject != 0 {
			b = appendText16(b, e.subject)
		}
		if e.flags&aroLocation != 0 {
			b = appendText16(b, e.location)
		}
		b = le.AppendUint32(b, 0) // ReservedBlockEE2Size
	}
	return b
}

// exceptionAttachment is the exception attachment object of e (MS-OXOCAL
// 2.2.10.1.1): hidden, afException, the original and new times, and the
// occurrence as an embedded message of class
// IPM.OLE.CLASS.{00061055-0000-0000-C000-000000000046} (2.2.10.1.2) with
// its own subject, location, times and attendees and
// PidLidExceptionReplaceTime, the original start in UTC.
func exceptionAttachment(e exception, depth int) (pstwrite.Attachment, error) {
	tag := pstwrite.Tag
	m, _, err := pstMessageAt(e.v, depth+1, nil)
	if err != nil {
		return pstwrite.Attachment{}, err
	}
	m.Props = append(m.Props,
		pstwrite.String(tag(tagMessageClass), "IPM.OLE.CLASS.{00061055-0000-0000-C000-000000000046}"),
		pstwrite.Time(pstwrite.LID(pstwrite.PSETIDAppointment, 0x8228), e.origUTC)) // PidLidExceptionReplaceTime
	return pstwrite.Attachment{
		Props: []pstwrite.Prop{
			pstwrite.Int32(tag(tagAttachMethod), 5), // afEmbeddedMessage
			pstwrite.String(tag(tagDisplayName), e.subject),
			pstwrite.Int32(tag(tagRenderingPosition), -1),
			pstwrite.Time(tag(0x7FF9), e.origUTC), // PidTagExceptionReplaceTime
			pstwrite.Time(tag(0x7FFB), e.start),   // PidTagExceptionStartTime (local)
			pstwrite.Time(tag(0x7FFC), e.end),     // PidTagExceptionEndTime (local)
			pstwrite.Int32(tag(0x7FFD), 0x2),      // PidTagAttachmentFlags: afException
			pstwrite.Bool(tag(0x7FFE), true),      // PidTagAttachmentHidden
		},
		Embedded: m,
	}, nil
}
