package bridge

import (
	"encoding/binary"
	"time"
	"unicode/utf16"

	"crmbridge/bridge/wintz"
)

// Outlook's time-zone properties for a series in a zone with daylight
// saving time (MS-OXOCAL 2.2.1.39-2.2.1.43). The record keeps the zone's
// name (its "timezone" field: an iCalendar TZID, a Windows zone id or
// display name); its rules come from Go's tz data through bridge/wintz.

// pstZone is the zone a record's series is laid out in.
type pstZone struct {
	loc *time.Location
	key string // TZDEFINITION KeyName: the Windows zone id when there is one
}

// recordZone resolves the record's time-zone name; UTC when it has none
// or it is unknown (the record's times are UTC, so every occurrence is
// still at the right instant, only not following the zone's DST).
func recordZone(name string) pstZone {
	if name != "" {
		if loc, err := wintz.Location(name); err == nil {
			key := name
			if w, ok := wintz.Windows(loc.String()); ok {
				key = w
			}
			return pstZone{loc: loc, key: key}
		}
	}
	return pstZone{loc: time.UTC, key: "UTC"}
}

// tzRule is one TZRULE's fields (MS-OXOCAL 2.2.1.41.1), also the body of
// a TZSTRUCT (2.2.1.39): biases in minutes, west of UTC positive, and the
// transition dates as SYSTEMTIMEs in the "day-in-month" form (wYear 0,
// wDay the week 1-5, 5 the last).
type tzRule struct {
	bias, stdBias, dstBias int32
	std, dst               [8]uint16 // SYSTEMTIME: year, month, dow, day, hour, minute, second, ms
}

// ruleFor derives the zone's rule in year y from its transitions that
// year: none (a zone without DST that year) or two (into and out of DST).
func (z pstZone) ruleFor(y int) tzRule {
	begin := time.Date(y, 1, 1, 0, 0, 0, 0, z.loc)
	end := time.Date(y+1, 1, 1, 0, 0, 0, 0, z.loc)
	type change struct {
		at       time.Time
		from, to int
		dst      bool
	}
	var cs []change
	for t := begin; len(cs) < 4; {
		_, next := t.ZoneBounds()
		if next.IsZero() || !next.Before(end) {
			break
		}
		_, from := next.Add(-time.Second).Zone()
		_, to := next.Zone()
		cs = append(cs, change{next, from, to, next.In(z.loc).IsDST()})
		t = next
	}
	var r tzRule
	if len(cs) != 2 || cs[0].dst == cs[1].dst {
		_, off := time.Date(y, 7, 1, 0, 0, 0, 0, z.loc).Zone()
		if !time.Date(y, 7, 1, 0, 0, 0, 0, z.loc).IsDST() {
			_, off = time.Date(y, 1, 1, 0, 0, 0, 0, z.loc).Zone()
		}
		r.bias = int32(-off / 60)
		return r
	}
	for _, c := range cs {
		// SYSTEMTIME of the change, in the wall time before it (Windows:
		// DaylightDate in standard time, StandardDate in daylight time).
		w := c.at.UTC().Add(time.Duration(c.from) * time.Second)
		week := uint16((w.Day()-1)/7 + 1)
		if w.AddDate(0, 0, 7).Month() != w.Month() {
			week = 5 // the last such weekday of the month
		}
		st := [8]uint16{0, uint16(w.Month()), uint16(w.Weekday()), week, uint16(w.Hour()), uint16(w.Minute()), 0, 0}
		if c.dst {
			r.dst = st
			r.dstBias = int32(-(c.to - c.from) / 60)
			r.bias = int32(c.from / -60)
		} else {
			r.std = st
		}
	}
	return r
}

func (r tzRule) appendTo(b []byte, years bool) []byte {
	le := binary.LittleEndian
	b = le.AppendUint32(b, uint32(r.bias))
	b = le.AppendUint32(b, uint32(r.stdBias))
	b = le.AppendUint32(b, uint32(r.dstBias))
	for _, st := range [][8]uint16{r.std, r.dst} {
		if years {
			b = le.AppendUint16(b, 0) // wStandardYear / wDaylightYear
		}
		for _, v := range st {
			b = le.AppendUint16(b, v)
		}
	}
	return b
}

// tzStruct is PidLidTimeZoneStruct (MS-OXOCAL 2.2.1.39) for the zone's
// rule in year y: the zone the recurrence blob's local times are in.
func (z pstZone) tzStruct(y int) []byte {
	return z.ruleFor(y).appendTo(make([]byte, 0, 48), true)
}

// tzDefinition is a TZDEFINITION (MS-OXOCAL 2.2.1.41) with one rule, the
// zone's rule in year y, effective from that year on. recur marks it as
// the rule the recurrence uses (PidLidAppointmentTimeZoneDefinitionRecur,
// TZRULE_FLAG_RECUR_CURRENT_TZREG); the display definitions (StartDisplay,
// EndDisplay) carry only TZRULE_FLAG_EFFECTIVE_TZREG.
func (z pstZone) tzDefinition(y int, recur bool) []byte {
	le := binary.LittleEndian
	key := utf16.Encode([]rune(z.key))
	b := []byte{0x02, 0x01}
	b = le.AppendUint16(b, uint16(6+2*len(key))) // cbHeader
	b = le.AppendUint16(b, 0x0002)               // wReserved
	b = le.AppendUint16(b, uint16(len(key)))
	for _, c := range key {
		b = le.AppendUint16(b, c)
	}
	b = le.AppendUint16(b, 1) // cRules
	flags := uint16(0x0002)   // TZRULE_FLAG_EFFECTIVE_TZREG
	if recur {
		flags |= 0x0001 // TZRULE_FLAG_RECUR_CURRENT_TZREG
	}
	b = append(b, 0x02, 0x01)      // TZRULE versions
	b = le.AppendUint16(b, 0x003E) // wReserved
	b = le.AppendUint16(b, flags)
	b = le.AppendUint16(b, uint16(y)) // wYear: the rule holds from this year
	b = append(b, make([]byte, 14)...)
	return z.ruleFor(y).appendTo(b, false)
}
