package ics

import (
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
)

// maxRDates bounds the occurrences an extra rule is listed as.
const maxRDates = 1000

// extraRule writes a second (or later) RRULE of an event in the nearest
// form that every reader takes, and tells warn what it did.
//
// RFC 2445 allowed several RRULEs; RFC 5545 3.8.5.3 says RRULE "SHOULD
// NOT" occur more than once, go-ical refuses a second one, Python's
// icalendar reads a list that khal then fails on, and Outlook's recurrence
// pattern holds one rule. Two VEVENTs with the same UID and no
// RECURRENCE-ID are two masters of one event (RFC 5545 3.8.4.7), which
// CalDAV servers and khal refuse; a second UID would make a second event
// on the way back in. So the extra rule's occurrences become RDATEs
// (RFC 5545 3.8.5.2) of the same event: one UID, one record on re-import,
// every occurrence listed by khal and icalendar (dateutil's rruleset).
// Outlook ignores RDATE (its pattern cannot hold the union either): the
// warning says so. Only a bounded rule (COUNT or UNTIL) of daily or
// coarser frequency is listed, at most maxRDates occurrences; any other
// is left out, with the warning naming it.
func extraRule(c *ical.Component, p *ical.Prop, start time.Time, allDay bool, loc *time.Location, tzid string, warn func(error)) {
	report := func(format string, args ...any) {
		if warn != nil {
			warn(fmt.Errorf(format, args...))
		}
	}
	if start.IsZero() {
		report("extra RRULE:%s left out: the event has no start", p.Value)
		return
	}
	in := time.UTC
	if loc != nil && !allDay {
		in = loc
	}
	opt, err := rrule.StrToROptionInLocation(p.Value, in)
	if err != nil {
		report("extra RRULE:%s left out: %v", p.Value, err)
		return
	}
	if opt.Count == 0 && opt.Until.IsZero() {
		report("extra RRULE:%s left out: it never ends, so its occurrences cannot be listed as RDATEs", p.Value)
		return
	}
	if opt.Freq > rrule.DAILY {
		report("extra RRULE:%s left out: only daily or coarser rules are listed as RDATEs", p.Value)
		return
	}
	opt.Dtstart = start.In(in)
	r, err := rrule.NewRRule(*opt)
	if err != nil {
		report("extra RRULE:%s left out: %v", p.Value, err)
		return
	}
	next := r.Iterator()
	var vals []string
	truncated := false
	for {
		t, ok := next()
		if !ok {
			break
		}
		if len(vals) == maxRDates {
			truncated = true
			break
		}
		switch {
		case allDay:
			vals = append(vals, t.Format("20060102"))
		case loc != nil && tzid != "":
			vals = append(vals, t.In(loc).Format("20060102T150405"))
		default:
			vals = append(vals, t.UTC().Format("20060102T150405Z"))
		}
	}
	if len(vals) == 0 {
		report("extra RRULE:%s left out: it has no occurrence", p.Value)
		return
	}
	rd := ical.NewProp(ical.PropRecurrenceDates)
	switch {
	case allDay:
		rd.Params.Set(ical.ParamValue, "DATE")
	case loc != nil && tzid != "":
		rd.Params.Set(ical.PropTimezoneID, tzid)
	}
	rd.Value = strings.Join(vals, ",")
	c.Props.Add(rd)
	msg := fmt.Sprintf("extra RRULE:%s written as %d RDATE(s) (Outlook ignores RDATE)", p.Value, len(vals))
	if truncated {
		msg += fmt.Sprintf("; occurrences after the first %d left out", maxRDates)
	}
	report("%s", msg)
}
