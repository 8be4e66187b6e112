package ics

import (
	"encoding/hex"
	"fmt"
	"sort"
	"time"

	"github.com/emersion/go-ical"

	"crmbridge/bridge/wintz"
)

// maxTZYears bounds the span of years a generated VTIMEZONE lists
// transitions for.
const maxTZYears = 60

// vtimezoneFor generates a VTIMEZONE for loc from Go's tz data
// (../rfc/5545:3.6.5): the offset in effect on January 1 of minY, then
// every transition up to the end of maxY+1, and, when the zone's last
// transitions follow a yearly "n-th weekday of a month" rule (checked
// against the next years), an RRULE on them so times after the span
// resolve too.
func vtimezoneFor(tzid string, loc *time.Location, minY, maxY int) *ical.Component {
	if maxY-minY > maxTZYears {
		minY = maxY - maxTZYears
	}
	c := ical.NewComponent(ical.CompTimezone)
	c.Props.SetText(ical.PropTimezoneID, tzid)

	begin := time.Date(minY, 1, 1, 0, 0, 0, 0, loc)
	limit := time.Date(maxY+2, 1, 1, 0, 0, 0, 0, loc)
	name, off := begin.Zone()
	c.Children = append(c.Children, observanceComp(begin.IsDST(), begin.UTC().Add(time.Duration(off)*time.Second), off, off, name))

	type transition struct {
		at       time.Time
		from, to int
		dst      bool
		name     string
	}
	var trs []transition
	t := begin
	for i := 0; i < maxTZYears*4+8; i++ {
		_, end := t.ZoneBounds()
		if end.IsZero() || !end.Before(limit) {
			break
		}
		_, from := end.Add(-time.Second).Zone()
		name, to := end.In(loc).Zone()
		trs = append(trs, transition{end, from, to, end.In(loc).IsDST(), name})
		t = end
	}
	// Yearly rules for the transitions of the last year, when they hold.
	rules := map[int]string{}
	lastYear := maxY + 1
	for i, tr := range trs {
		local := tr.at.UTC().Add(time.Duration(tr.from) * time.Second) // wall time before the change
		if local.Year() != lastYear {
			continue
		}
		if r, ok := yearlyRuleOf(local, loc, tr.from, tr.to); ok {
			rules[i] = r
		}
	}
	for i, tr := range trs {
		local := tr.at.UTC().Add(time.Duration(tr.from) * time.Second)
		oc := observanceComp(tr.dst, local, tr.from, tr.to, tr.name)
		if r, ok := rules[i]; ok {
			p := ical.NewProp(ical.PropRecurrenceRule)
			p.Value = r
			oc.Props.Set(p)
		}
		c.Children = append(c.Children, oc)
	}
	return c
}

func observanceComp(dst bool, local time.Time, from, to int, name string) *ical.Component {
	kind := ical.CompTimezoneStandard
	if dst {
		kind = ical.CompTimezoneDaylight
	}
	oc := ical.NewComponent(kind)
	p := ical.NewProp(ical.PropDateTimeStart)
	p.Value = local.Format("20060102T150405")
	oc.Props.Set(p)
	setRaw(oc, ical.PropTimezoneOffsetFrom, formatOffset(from))
	setRaw(oc, ical.PropTimezoneOffsetTo, formatOffset(to))
	if name != "" && isToken(name) || len(name) > 0 && (name[0] == '+' || name[0] == '-') {
		oc.Props.SetText(ical.PropTimezoneName, name)
	}
	return oc
}

// yearlyRuleOf describes the transition at wall time local (in the old
// offset) as "FREQ=YEARLY;BYMONTH=m;BYDAY=nDD" if the same rule gives
// loc's transitions of the same kind in each of the next three years.
func yearlyRuleOf(local time.Time, loc *time.Location, from, to int) (string, bool) {
	n := (local.Day()-1)/7 + 1
	if local.AddDate(0, 0, 7).Month() != local.Month() {
		n = -1
	}
	wd := [...]string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}[local.Weekday()]
	rule := fmt.Sprintf("FREQ=YEARLY;BYMONTH=%d;BYDAY=%d%s", int(local.Month()), n, wd)
	r, err := parseObsRule(rule, local, from)
	if err != nil {
		return "", false
	}
	for y := local.Year() + 1; y <= local.Year()+3; y++ {
		ons := r.onsets(y)
		if len(ons) != 1 {
			return "", false
		}
		at := ons[0].Add(-time.Duration(from) * time.Second) // instant of the change
		_, before := at.Add(-time.Second).In(loc).Zone()
		_, after := at.In(loc).Zone()
		if before != from || after != to {
			return "", false
		}
	}
	return rule, true
}

// formatOffset formats seconds east of UTC as "+0100" or "+013045".
func formatOffset(off int) string {
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	s := fmt.Sprintf("%c%02d%02d", sign, off/3600, off/60%60)
	if off%60 != 0 {
		s += fmt.Sprintf("%02d", off%60)
	}
	return s
}

// ruleYears is how many years from a record's start its zone's rules are
// kept for (customZone): enough for a series; the last rule holds after.
const ruleYears = 20

// customZone returns the rules of a zone that only the file's VTIMEZONE
// defines — a TZID that is no IANA name and that package wintz does not
// resolve — from the year of start on, as the record's "timezoneblob": a
// TZDEFINITION (MS-OXOCAL 2.2.1.41, hex), the form a PST keeps a zone
// in, one TZRULE per change of the rules. "" for any other zone: its name
// gives its rules. The first rule is marked effective, as a PST's
// display definition of the start has it, so that the same rules read
// back from a PST are the same bytes. Cached per calendar, zone and year.
func (r *Reader) customZone(tzid string, start time.Time) string {
	z, err := r.zoneFor(tzid)
	vz, ok := z.(*vtimezone)
	if err != nil || !ok {
		return ""
	}
	if _, err := wintz.Location(tzid); err == nil {
		return ""
	}
	y := start.Add(time.Duration(vz.offsetAt(start)) * time.Second).Year()
	key := fmt.Sprintf("%s\x00%d", tzid, y)
	if def, ok := r.tzDefs[key]; ok {
		return def
	}
	initial, txs := vz.transitions(y-1, y+ruleYears+1)
	loc, err := wintz.TransitionsLocation(tzid, initial, txs, "")
	def := ""
	if err == nil {
		def = hex.EncodeToString(wintz.Definition(tzid, wintz.Rules(loc, y, y+ruleYears), 0, false))
	}
	if r.tzDefs == nil {
		r.tzDefs = map[string]string{}
	}
	if len(r.tzDefs) < maxTimezones {
		r.tzDefs[key] = def
	}
	return def
}

// transitions lists the zone's changes of offset in years y0 to y1: every
// observance's onsets (DTSTART, RRULE, RDATE), each at its local time in
// the offset before it (../rfc/5545:3.6.5), in time order, and the offset
// in effect when y0 begins.
func (z *vtimezone) transitions(y0, y1 int) (wintz.Transition, []wintz.Transition) {
	var txs []wintz.Transition
	for i := range z.obs {
		o := &z.obs[i]
		add := func(n time.Time) {
			if n.Year() >= y0 && n.Year() <= y1 {
				txs = append(txs, wintz.Transition{At: n.Add(-time.Duration(o.from) * time.Second), Offset: o.to, DST: o.dst})
			}
		}
		add(o.start)
		if o.rule != nil {
			for y := max(y0, o.start.Year()); y <= y1; y++ {
				for _, on := range z.onsets(i, y) {
					if on.After(o.start) {
						add(on)
					}
				}
			}
		}
		for _, rd := range o.rdates {
			add(rd)
		}
	}
	sort.SliceStable(txs, func(i, j int) bool { return txs[i].At.Before(txs[j].At) })
	begin := time.Date(y0, 1, 1, 0, 0, 0, 0, time.UTC)
	return wintz.Transition{Offset: z.offsetAt(begin)}, txs
}
