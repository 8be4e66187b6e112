package bridge

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"time"

	"crmbridge/bridge/item"
	"crmbridge/crm"
	"crmbridge/crmstore"
)

// A series imported from a PST keeps Outlook's blob (recurrenceblob) and
// the zone of its local times (timezoneblob) beside Outlook's description
// of the pattern (recurrence). While the recurrence is that description,
// not an iCalendar rule, and the record's start and end are still the
// blob's first occurrence, the export writes the blob back as it came.

// keptSeries is a kept blob, ready to write.
type keptSeries struct {
	blob, tz   []byte
	recurType  int32
	start, end time.Time // first and last day (local dates as UTC); end zero: no end
	// StartTimeOffset, EndTimeOffset: minutes from the first day's
	// midnight to an occurrence's start and end (MS-OXOCAL 2.2.1.44.2).
	startOff, endOff uint32
	// The blob's modified instances (ExceptionInfo): original start, new
	// start and end, local wall times as UTC.
	modified []struct{ orig, start, end time.Time }
	// deleted are the blob's DeletedInstanceDates (MS-OXOCAL 2.2.1.44.1):
	// local dates as 00:00 UTC, the original dates of modified instances
	// among them.
	deleted []time.Time
}

// keptRecurrence returns the series kept on the record, ok false when
// there is none or it cannot be read. A blob with modified instances is
// written only with their exception attachments (fold).
func keptRecurrence(f map[string]string) (keptSeries, bool) {
	b, err := hex.DecodeString(f["recurrenceblob"])
	if err != nil || len(b) < 22 || !bytes.HasPrefix(b, []byte{0x04, 0x30, 0x04, 0x30}) {
		return keptSeries{}, false
	}
	le := binary.LittleEndian
	// MS-OXOCAL 2.2.1.44.1: PatternTypeSpecific is 0, 4 or 8 bytes by
	// PatternType.
	p := 22
	switch le.Uint16(b[6:]) {
	case 0x0000: // day
	case 0x0003, 0x000B: // month nth, Hijri month nth
		p += 8
	default: // week, month, month end, Hijri month (end)
		p += 4
	}
	u32 := func() (uint32, bool) {
		if p+4 > len(b) {
			return 0, false
		}
		v := le.Uint32(b[p:])
		p += 4
		return v, true
	}
	p += 12 // EndType, OccurrenceCount, FirstDOW
	deleted, ok := u32()
	if !ok || uint64(deleted)*4 > uint64(len(b)) {
		return keptSeries{}, false
	}
	var deletedDates []time.Time
	for range deleted {
		d, _ := u32()
		deletedDates = append(deletedDates, minutesTime(d))
	}
	modified, ok := u32()
	if !ok || uint64(modified)*4 > uint64(len(b)) {
		return keptSeries{}, false
	}
	p += 4 * int(modified)
	first, ok1 := u32()
	last, ok2 := u32()
	if !ok1 || !ok2 {
		return keptSeries{}, false
	}
	k := keptSeries{blob: b, start: minutesTime(first), deleted: deletedDates}
	// MS-OXOCAL 2.2.1.44.2: ReaderVersion2, WriterVersion2, StartTimeOffset,
	// EndTimeOffset, ExceptionCount, then one ExceptionInfo per exception.
	p += 8
	so, ok1 := u32()
	eo, ok2 := u32()
	if !ok1 || !ok2 {
		return keptSeries{}, false
	}
	k.startOff, k.endOff = so, eo
	if p+2 > len(b) {
		return keptSeries{}, false
	}
	count := int(le.Uint16(b[p:]))
	p += 2
	for range count {
		start, ok1 := u32()
		end, ok2 := u32()
		orig, ok3 := u32()
		if !ok1 || !ok2 || !ok3 || p+2 > len(b) {
			return keptSeries{}, false
		}
		flags := le.Uint16(b[p:])
		p += 2
		for _, f := range []uint16{0x0001, 0x0002, 0x0004, 0x0008, 0x0010, 0x0020, 0x0040, 0x0080, 0x0100} {
			if flags&f == 0 {
				continue
			}
			if f == 0x0001 || f == 0x0010 { // Subject, Location: two lengths, 8-bit text
				if p+4 > len(b) {
					return keptSeries{}, false
				}
				p += 4 + int(le.Uint16(b[p+2:]))
			} else {
				p += 4
			}
		}
		if p > len(b) {
			return keptSeries{}, false
		}
		k.modified = append(k.modified, struct{ orig, start, end time.Time }{minutesTime(orig), minutesTime(start), minutesTime(end)})
	}
	if len(k.modified) != int(modified) {
		return keptSeries{}, false
	}
	if last != endDateNever {
		k.end = minutesTime(last)
	}
	k.recurType = map[uint16]int32{recurFreqDaily: 1, recurFreqWeekly: 2, recurFreqMonthly: 3, recurFreqYearly: 4}[le.Uint16(b[4:])]
	if tz, err := hex.DecodeString(f["timezoneblob"]); err == nil && len(tz) > 0 {
		k.tz = tz
	}
	return k, true
}

// minutesTime is the time m minutes after 1601-01-01 00:00 UTC (the
// inverse of minutes1601; a time.Duration cannot span the four
// centuries).
func minutesTime(m uint32) time.Time {
	return time.Unix(int64(m)*60-11644473600, 0).UTC()
}

// tzStructOf is PidLidTimeZoneStruct (MS-OXOCAL 2.2.1.39) of a
// TZDEFINITION (2.2.1.41): the fields of its rule marked
// TZRULE_FLAG_RECUR_CURRENT_TZREG, else of its last rule; nil when the
// definition cannot be read.
func tzStructOf(def []byte) []byte {
	le := binary.LittleEndian
	if len(def) < 6 {
		return nil
	}
	p := 4 + int(le.Uint16(def[2:]))
	if p > len(def) || p < 6 {
		return nil
	}
	n := int(le.Uint16(def[p-2:]))
	var rule []byte
	for i := 0; i < n && p+66 <= len(def); i, p = i+1, p+66 {
		rule = def[p : p+66]
		if le.Uint16(rule[4:])&0x0001 != 0 {
			break
		}
	}
	if rule == nil {
		return nil
	}
	year := rule[6:8]
	b := append([]byte(nil), rule[22:34]...) // lBias, lStandardBias, lDaylightBias
	b = append(b, year...)                   // wStandardYear
	b = append(b, rule[34:50]...)            // stStandardDate
	b = append(b, year...)                   // wDaylightYear
	return append(b, rule[50:66]...)         // stDaylightDate
}

// agrees reports whether the blob still describes the record: its first
// occurrence (first day + StartTimeOffset, + EndTimeOffset, wall times in
// loc) is the record's start and end. A series the user moved in the
// store (scheduledstart, scheduledend) no longer agrees: the blob, with
// the old times, must not win over the record.
func (k keptSeries) agrees(f map[string]string, loc *time.Location) bool {
	wall := func(v string) (time.Time, bool) {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return time.Time{}, false
		}
		l := t.In(loc)
		return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), 0, 0, time.UTC), true
	}
	start, ok1 := wall(f["scheduledstart"])
	end, ok2 := wall(f["scheduledend"])
	return ok1 && ok2 && start.Equal(k.start.Add(time.Duration(k.startOff)*time.Minute)) &&
		end.Equal(k.start.Add(time.Duration(k.endOff)*time.Minute))
}

// fold matches the blob's modified instances with the occurrence records
// among members (what the import made of their exception attachments):
// each must have one with the same original start, start and end. It
// returns them as exceptions to attach, ok false when one has none (the
// occurrence was changed or removed since: the blob no longer says what
// the series is).
func (k keptSeries) fold(master *crmstore.View, members []*crmstore.View, loc *time.Location) ([]exception, bool) {
	utc := func(wall time.Time) time.Time {
		return time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), 0, 0, loc).UTC()
	}
	var out []exception
	for _, m := range k.modified {
		found := false
		for _, v := range members {
			f := v.Fields
			if v.ID == master.ID || v.Entity != crm.Appointment || f["uid"] != master.Fields["uid"] || f["recurrenceid"] != item.FormatTime(utc(m.orig)) ||
				f["scheduledstart"] != item.FormatTime(utc(m.start)) || f["scheduledend"] != item.FormatTime(utc(m.end)) {
				continue
			}
			out = append(out, exception{v: v, orig: m.orig, start: m.start, end: m.end, origUTC: utc(m.orig), subject: f["subject"]})
			found = true
			break
		}
		if !found {
			return nil, false
		}
	}
	return out, true
}
