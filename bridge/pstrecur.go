package bridge

import (
	"encoding/binary"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/teambition/rrule-go"
)

// Outlook's recurrence blob (MS-OXOCAL 2.2.1.44). The record's times are
// UTC and its recurrence an iCalendar RRULE (with EXDATEs) that repeats
// in the wall time of the record's zone (RFC 5545 3.3.10: DTSTART's
// TZID), so the series is laid out in that zone's local time, and the
// time-zone properties (psttz.go) give Outlook the zone's rules: every
// occurrence lands at the same local time on both sides of a DST change.
const (
	recurFreqDaily   = 0x200A
	recurFreqWeekly  = 0x200B
	recurFreqMonthly = 0x200C
	recurFreqYearly  = 0x200D

	patternDay      = 0x0000
	patternWeek     = 0x0001
	patternMonth    = 0x0002
	patternMonthNth = 0x0003

	endAfterDate  = 0x00002021
	endAfterN     = 0x00002022
	endNever      = 0x00002023
	endDateNever  = 0x5AE980DF // 4500-08-31 23:59, in minutes since 1601
	minutesPerDay = 1440
)

var icalDays = map[string]uint32{"SU": 0x01, "MO": 0x02, "TU": 0x04, "WE": 0x08, "TH": 0x10, "FR": 0x20, "SA": 0x40}
var icalDOW = map[string]uint32{"SU": 0, "MO": 1, "TU": 2, "WE": 3, "TH": 4, "FR": 5, "SA": 6}

// minutes1601 is t in minutes since 1601-01-01 00:00 UTC.
func minutes1601(t time.Time) uint32 {
	return uint32((t.Unix() + 11644473600) / 60)
}

// midnight is the date of t in t's own location, as 00:00 UTC: how the
// blob holds local dates (minutes since 1601 of the local wall time).
func midnight(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// recurrence is a series in Outlook's terms, ready to encode.
type recurrence struct {
	freq, pattern      uint16
	firstDateTime      uint32
	period             uint32
	specific           []uint32 // PatternTypeSpecific
	firstDOW           uint32
	endType, count     uint32
	start, end         time.Time // first and last occurrence dates (00:00 UTC); end zero: no end
	deleted            []time.Time
	exceptions         []exception // modified occurrences, by start
	loc                *time.Location
	rule               *rrule.RRule
	startMin, duration uint32 // start within the day and length, in minutes
	recurType          int32  // PidLidRecurrenceType
}

// parseRecurrence maps the record's "recurrence" text (RRULE and EXDATE
// lines, RFC 5545 3.8.5) to an Outlook series starting at start, laid out
// in the wall time of loc. ok is false for what Outlook cannot express
// (RSCALE, BYSETPOS alone, several BYMONTHDAY or BYMONTH values,
// sub-daily rules, ...).
func parseRecurrence(text string, start, end time.Time, loc *time.Location) (*recurrence, bool) {
	var rule string
	var exdates []string
	for _, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.ToUpper(strings.Split(name, ";")[0]) {
		case "RRULE":
			if rule != "" {
				return nil, false // several rules: no Outlook form
			}
			rule = value
		case "EXDATE":
			exdates = append(exdates, strings.Split(value, ",")...)
		}
	}
	if rule == "" || start.IsZero() {
		return nil, false
	}
	parts := map[string]string{}
	for _, p := range strings.Split(rule, ";") {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return nil, false
		}
		parts[strings.ToUpper(strings.TrimSpace(k))] = strings.ToUpper(strings.ReplaceAll(v, " ", ""))
	}
	r := &recurrence{firstDOW: 1} // RFC 5545: WKST defaults to Monday
	interval := uint32(1)
	for k, v := range parts {
		switch k {
		case "FREQ", "BYDAY", "BYMONTHDAY", "BYMONTH", "COUNT", "UNTIL", "WKST":
		case "INTERVAL":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 999 {
				return nil, false
			}
			interval = uint32(n)
		default:
			return nil, false // RSCALE, BYSETPOS, BYHOUR, ...
		}
	}
	if d, ok := icalDOW[parts["WKST"]]; ok {
		r.firstDOW = d
	}
	start = start.In(loc)
	startDay := midnight(start)
	var mask uint32
	var nth uint32
	if by := parts["BYDAY"]; by != "" {
		for _, d := range strings.Split(by, ",") {
			i := len(d) - 2
			if i < 0 {
				return nil, false
			}
			bit, ok := icalDays[d[i:]]
			if !ok {
				return nil, false
			}
			mask |= bit
			if i > 0 {
				n, err := strconv.Atoi(d[:i])
				switch {
				case err != nil || n == 0 || n < -1 || n > 4:
					return nil, false
				case n == -1:
					n = 5 // MS-OXOCAL: 5 is the last
				}
				if nth != 0 && nth != uint32(n) {
					return nil, false
				}
				nth = uint32(n)
			}
		}
	}
	monthDay := uint32(startDay.Day())
	if v := parts["BYMONTHDAY"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 31 {
			return nil, false
		}
		monthDay = uint32(n)
	}
	month := int(startDay.Month())
	if v := parts["BYMONTH"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 12 {
			return nil, false
		}
		month = n
	}
	// FirstDateTime for monthly and yearly series (MS-OXOCAL 2.2.1.44.1):
	// minutes from 1601-01-01 to the first of the month that is the start's
	// month count since 1601-01, modulo the period.
	monthFirst := func(period uint32) uint32 {
		m := (uint32(startDay.Year()-1601)*12 + uint32(startDay.Month()) - 1) % period
		return minutes1601(time.Date(1601, time.Month(1+m), 1, 0, 0, 0, 0, time.UTC))
	}
	var first uint32
	switch parts["FREQ"] {
	case "DAILY":
		r.recurType = 1
		if mask != 0 {
			// "Every weekday": a daily series with a week pattern of 1.
			if interval != 1 || nth != 0 {
				return nil, false
			}
			r.freq, r.pattern, r.period, r.specific = recurFreqDaily, patternWeek, 1, []uint32{mask}
			first = weekFirst(startDay, r.firstDOW, 1)
		} else {
			r.freq, r.pattern, r.period = recurFreqDaily, patternDay, interval*minutesPerDay
			first = minutes1601(startDay) % r.period
		}
	case "WEEKLY":
		r.recurType = 2
		if nth != 0 || parts["BYMONTHDAY"] != "" || parts["BYMONTH"] != "" {
			return nil, false
		}
		if mask == 0 {
			mask = 1 << uint(startDay.Weekday())
		}
		r.freq, r.pattern, r.period, r.specific = recurFreqWeekly, patternWeek, interval, []uint32{mask}
		first = weekFirst(startDay, r.firstDOW, interval)
	case "MONTHLY", "YEARLY":
		r.recurType, r.freq, r.period = 3, recurFreqMonthly, interval
		if parts["FREQ"] == "YEARLY" {
			r.recurType, r.freq, r.period = 4, recurFreqYearly, 12*interval
		} else if parts["BYMONTH"] != "" {
			return nil, false
		}
		switch {
		case mask != 0 && nth != 0 && parts["BYMONTHDAY"] == "":
			r.pattern, r.specific = patternMonthNth, []uint32{mask, nth}
		case mask == 0:
			r.pattern, r.specific = patternMonth, []uint32{monthDay}
		default:
			return nil, false
		}
		if r.freq == recurFreqYearly && month != int(startDay.Month()) {
			return nil, false // the series would not start on its first occurrence
		}
		first = monthFirst(r.period)
	default:
		return nil, false
	}
	r.firstDateTime = first
	r.start = startDay
	r.startMin = uint32(start.Hour()*60 + start.Minute())
	if !end.IsZero() && end.After(start) {
		r.duration = uint32(end.Sub(start) / time.Minute)
	}
	// The occurrences, for the last date and the count (RRULE semantics:
	// EXDATEs do not shorten a COUNT).
	opt, err := rrule.StrToROption(rule)
	if err != nil {
		return nil, false
	}
	opt.Dtstart = start
	rr, err := rrule.NewRRule(*opt)
	if err != nil {
		return nil, false
	}
	r.loc, r.rule = loc, rr
	switch {
	case parts["COUNT"] != "" || parts["UNTIL"] != "":
		occ := rr.All()
		if len(occ) == 0 || len(occ) > 999 && parts["COUNT"] != "" {
			return nil, false
		}
		r.endType, r.count = endAfterDate, uint32(len(occ))
		if parts["COUNT"] != "" {
			r.endType = endAfterN
		}
		r.end = midnight(occ[len(occ)-1].In(loc))
	default:
		r.endType, r.count = endNever, 10 // Outlook's value for a series without end
	}
	for _, x := range exdates {
		// A UTC EXDATE names the occurrence by its instant: its date is
		// the local one. A local or floating one, or a date, is the date.
		x = strings.TrimSpace(x)
		if t, err := time.Parse("20060102T150405Z", x); err == nil {
			r.deleted = append(r.deleted, midnight(t.In(loc)))
			continue
		}
		if len(x) < 8 {
			continue
		}
		d, err := time.Parse("20060102", x[:8])
		if err != nil {
			continue
		}
		r.deleted = append(r.deleted, d)
	}
	slices.SortFunc(r.deleted, func(a, b time.Time) int { return a.Compare(b) })
	r.deleted = slices.Compact(r.deleted)
	return r, true
}

// weekFirst is FirstDateTime of a weekly series: minutes from 1601-01-01
// to the first day (FirstDOW) of the start's week, modulo the period in
// minutes (MS-OXOCAL 2.2.1.44.1).
func weekFirst(startDay time.Time, firstDOW, weeks uint32) uint32 {
	back := (int(startDay.Weekday()) - int(firstDOW) + 7) % 7
	weekStart := startDay.AddDate(0, 0, -back)
	return minutes1601(weekStart) % (weeks * 7 * minutesPerDay)
}

// blob encodes PidLidAppointmentRecur: a RecurrencePattern (MS-OXOCAL
// 2.2.1.44.1) and the appointment fields of 2.2.1.44.2 with the modified
// instances (ExceptionInfo, ExtendedException).
func (r *recurrence) blob() []byte {
	le := binary.LittleEndian
	b := make([]byte, 0, 128)
	b = le.AppendUint16(b, 0x3004) // ReaderVersion
	b = le.AppendUint16(b, 0x3004) // WriterVersion
	b = le.AppendUint16(b, r.freq)
	b = le.AppendUint16(b, r.pattern)
	b = le.AppendUint16(b, 0) // CalendarType: Gregorian
	b = le.AppendUint32(b, r.firstDateTime)
	b = le.AppendUint32(b, r.period)
	b = le.AppendUint32(b, 0) // SlidingFlag
	for _, v := range r.specific {
		b = le.AppendUint32(b, v)
	}
	b = le.AppendUint32(b, r.endType)
	b = le.AppendUint32(b, r.count)
	b = le.AppendUint32(b, r.firstDOW)
	b = le.AppendUint32(b, uint32(len(r.deleted)))
	for _, d := range r.deleted {
		b = le.AppendUint32(b, minutes1601(d))
	}
	b = le.AppendUint32(b, uint32(len(r.exceptions))) // ModifiedInstanceCount
	for _, e := range r.exceptions {
		b = le.AppendUint32(b, minutes1601(midnight(e.start)))
	}
	b = le.AppendUint32(b, minutes1601(r.start))
	if r.end.IsZero() {
		b = le.AppendUint32(b, endDateNever)
	} else {
		b = le.AppendUint32(b, minutes1601(r.end))
	}
	b = le.AppendUint32(b, 0x3006) // ReaderVersion2
	b = le.AppendUint32(b, 0x3009) // WriterVersion2
	b = le.AppendUint32(b, r.startMin)
	b = le.AppendUint32(b, r.startMin+r.duration)
	b = le.AppendUint16(b, uint16(len(r.exceptions))) // ExceptionCount
	for _, e := range r.exceptions {
		b = e.info(b)
	}
	b = le.AppendUint32(b, 0) // ReservedBlock1Size
	for _, e := range r.exceptions {
		b = e.extended(b)
	}
	b = le.AppendUint32(b, 0) // ReservedBlock2Size
	return b
}
