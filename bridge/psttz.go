package bridge

import (
	"encoding/hex"
	"time"

	"crmbridge/bridge/wintz"
)

// Outlook's time-zone properties for a series in a zone with daylight
// saving time (MS-OXOCAL 2.2.1.39-2.2.1.43). The record keeps the zone's
// name (its "timezone" field: an iCalendar TZID, a Windows zone id or
// display name); its rules come from Go's tz data through bridge/wintz,
// or, for a name that is no zone's, from the rules kept on the record.

// pstZone is the zone a record's series is laid out in.
type pstZone struct {
	loc   *time.Location
	key   string       // TZDEFINITION KeyName: the Windows zone id when there is one
	rules []wintz.Rule // the rules kept on the record, for a zone known by them alone
	def   []byte       // and the definition they were kept as
}

// recordZone resolves the record's zone: its time-zone name through
// package wintz, else the rules kept with it (timezoneblob: what the ICS
// reader keeps of a VTIMEZONE under a TZID that is no zone name, or a
// PST's definition of a series' zone); UTC when neither gives one (the
// record's times are UTC, so every occurrence is still at the right
// instant, only not following the zone's DST).
func recordZone(name, blob string) pstZone {
	if name == "" {
		return pstZone{loc: time.UTC, key: "UTC"}
	}
	if loc, err := wintz.Location(name); err == nil {
		key := name
		if w, ok := wintz.Windows(loc.String()); ok {
			key = w
		}
		return pstZone{loc: loc, key: key}
	}
	if b, err := hex.DecodeString(blob); err == nil && len(b) > 0 {
		if _, rules, _, err := wintz.ParseDefinition(b); err == nil {
			if loc, err := wintz.RulesLocation(name, rules); err == nil {
				return pstZone{loc: loc, key: name, rules: rules, def: b}
			}
		}
	}
	return pstZone{loc: time.UTC, key: "UTC"}
}

// tzStruct is PidLidTimeZoneStruct (MS-OXOCAL 2.2.1.39) for the zone's
// rule in year y: the zone the recurrence blob's local times are in.
func (z pstZone) tzStruct(y int) []byte {
	r := wintz.YearRule(z.loc, y)
	if z.rules != nil {
		r, _ = wintz.RuleAt(z.rules, y)
	}
	r.Year = 0 // wStandardYear, wDaylightYear: 0, the rule holds every year
	return r.AppendTZI(make([]byte, 0, 48), true)
}

// openEndYears is how far a series without end has its zone's rules
// written: what the tz data knows of later changes is within it.
const openEndYears = 30

// tzDefinition is a TZDEFINITION (MS-OXOCAL 2.2.1.41) with the zone's
// rules over the years from to to: one TZRULE per change of the rules
// (each holds from its wYear on), as Outlook writes a zone's dynamic
// rules, so that a series across such a change (a country moving its
// dates or dropping daylight time) keeps its local time on both sides.
// The first rule, from year from, is marked TZRULE_FLAG_EFFECTIVE_TZREG;
// recur marks it also as the rule of the recurrence's PidLidTimeZoneStruct
// (TZRULE_FLAG_RECUR_CURRENT_TZREG, in PidLidAppointmentTimeZoneDefinitionRecur;
// the display definitions, StartDisplay and EndDisplay, carry only the
// first flag).
//
// A zone known by the definition kept on the record is written as it was
// kept — flagged as a series' for the recurrence (wintz.RecurDefinition) —
// so that reading the PST back gives the same bytes.
func (z pstZone) tzDefinition(from, to int, recur bool) []byte {
	if z.def != nil {
		if recur {
			return wintz.RecurDefinition(z.def)
		}
		if !wintz.HasRecurRule(z.def) {
			return z.def // a display definition
		}
		_, mark := wintz.RuleAt(z.rules, from)
		return wintz.Definition(z.key, z.rules, mark, false)
	}
	return wintz.Definition(z.key, wintz.Rules(z.loc, from, to), 0, recur)
}
