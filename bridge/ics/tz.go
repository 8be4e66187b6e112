package ics

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
)

// zone turns a wall-clock time ("naive": its fields read in time.UTC) into
// an instant.
type zone interface {
	toUTC(naive time.Time) time.Time
}

// locZone is a zone backed by Go's tz database.
type locZone struct{ loc *time.Location }

func (z locZone) toUTC(n time.Time) time.Time {
	return time.Date(n.Year(), n.Month(), n.Day(), n.Hour(), n.Minute(), n.Second(), 0, z.loc).UTC()
}

// vtimezone is a VTIMEZONE component evaluated by its own STANDARD and
// DAYLIGHT observances (../rfc/5545:3.6.5), so that a TZID that is neither
// an IANA nor a Windows name ("Custom 3", "GMT +1") still resolves, and a
// Windows name resolves to the rules the file gives.
type vtimezone struct {
	obs   []observance
	cache map[onsetKey][]time.Time // rule onsets by observance and year
}

type onsetKey struct{ obs, year int }

// maxOnsetCache bounds the cached years of rule onsets per VTIMEZONE.
const maxOnsetCache = 512

// onsets returns observance i's rule onsets in year y, cached.
func (z *vtimezone) onsets(i, y int) []time.Time {
	k := onsetKey{i, y}
	if on, ok := z.cache[k]; ok {
		return on
	}
	o := &z.obs[i]
	on := o.rule.onsets(y)
	if z.cache == nil {
		z.cache = make(map[onsetKey][]time.Time)
	}
	if len(z.cache) < maxOnsetCache {
		z.cache[k] = on
	}
	return on
}

// observance is one STANDARD or DAYLIGHT sub-component.
type observance struct {
	dst      bool      // a DAYLIGHT observance
	start    time.Time // DTSTART, naive local time (in the "from" offset)
	from, to int       // TZOFFSETFROM, TZOFFSETTO in seconds east of UTC
	rule     *obsRule
	rdates   []time.Time // naive
}

// obsRule is an observance's RRULE, expanded by rrule-go over naive local
// times (DTSTART as written, read in time.UTC).
type obsRule struct {
	opt rrule.ROption
	r   *rrule.RRule // from DTSTART as written
}

// parseVTimezone reads a VTIMEZONE component. It fails when no observance
// is usable.
func parseVTimezone(c *ical.Component) (*vtimezone, error) {
	z := &vtimezone{}
	var firstErr error
	for _, ch := range c.Children {
		if ch.Name != ical.CompTimezoneStandard && ch.Name != ical.CompTimezoneDaylight {
			continue
		}
		o, err := parseObservance(ch)
		o.dst = ch.Name == ical.CompTimezoneDaylight
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: %w", ch.Name, err)
			}
			continue
		}
		z.obs = append(z.obs, o)
	}
	if len(z.obs) == 0 {
		if firstErr == nil {
			firstErr = fmt.Errorf("no STANDARD or DAYLIGHT observance")
		}
		return nil, firstErr
	}
	return z, nil
}

func parseObservance(c *ical.Component) (observance, error) {
	var o observance
	p := c.Props.Get(ical.PropDateTimeStart)
	if p == nil {
		return o, fmt.Errorf("no DTSTART")
	}
	st, _, _, err := parseNaive(p.Value)
	if err != nil {
		return o, fmt.Errorf("DTSTART: %w", err)
	}
	o.start = st
	var okTo, okFrom bool
	if p := c.Props.Get(ical.PropTimezoneOffsetTo); p != nil {
		o.to, okTo = parseUTCOffset(p.Value)
	}
	if p := c.Props.Get(ical.PropTimezoneOffsetFrom); p != nil {
		o.from, okFrom = parseUTCOffset(p.Value)
	}
	if !okTo {
		return o, fmt.Errorf("no valid TZOFFSETTO")
	}
	if !okFrom {
		o.from = o.to
	}
	if p := c.Props.Get(ical.PropRecurrenceRule); p != nil {
		r, err := parseObsRule(p.Value, st, o.from)
		if err != nil {
			return o, fmt.Errorf("RRULE: %w", err)
		}
		o.rule = r
	}
	for _, p := range c.Props.Values(ical.PropRecurrenceDates) {
		for _, v := range strings.Split(p.Value, ",") {
			if t, _, _, err := parseNaive(strings.TrimSpace(v)); err == nil {
				o.rdates = append(o.rdates, t)
			}
		}
		if len(o.rdates) > 10000 {
			break
		}
	}
	sort.Slice(o.rdates, func(i, j int) bool { return o.rdates[i].Before(o.rdates[j]) })
	return o, nil
}

// parseUTCOffset reads "+0100", "-0530", "+013000" (../rfc/5545:3.3.14).
func parseUTCOffset(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if len(s) != 5 && len(s) != 7 || (s[0] != '+' && s[0] != '-') {
		return 0, false
	}
	h, err1 := strconv.Atoi(s[1:3])
	m, err2 := strconv.Atoi(s[3:5])
	sec := 0
	var err3 error
	if len(s) == 7 {
		sec, err3 = strconv.Atoi(s[5:7])
	}
	if err1 != nil || err2 != nil || err3 != nil || h > 23 || m > 59 || sec > 59 {
		return 0, false
	}
	off := h*3600 + m*60 + sec
	if s[0] == '-' {
		off = -off
	}
	return off, true
}

// parseObsRule reads an observance's RRULE (../rfc/5545:3.8.5.3) with
// start, its DTSTART, as the first onset. A UTC UNTIL is moved to local time
// by from, the offset in effect before the onset (../rfc/5545:3.6.5: "the
// UNTIL rule part MUST be specified in UTC time"); a DATE UNTIL includes its
// whole day. Only YEARLY and MONTHLY rules are taken: a time zone changes
// its offset a few times a year, and a finer rule would only cost time.
func parseObsRule(v string, start time.Time, from int) (*obsRule, error) {
	opt, err := rrule.StrToROptionInLocation(strings.ToUpper(strings.TrimSpace(v)), time.UTC)
	if err != nil {
		return nil, err
	}
	if opt.Freq != rrule.YEARLY && opt.Freq != rrule.MONTHLY {
		return nil, fmt.Errorf("FREQ=%s not supported in a time zone", opt.Freq)
	}
	if opt.Interval > 1000 {
		return nil, fmt.Errorf("bad INTERVAL %d", opt.Interval)
	}
	if !opt.Until.IsZero() {
		_, date, utc, err := parseNaive(untilValue(v))
		switch {
		case err != nil:
			return nil, fmt.Errorf("bad UNTIL: %w", err)
		case date:
			opt.Until = opt.Until.Add(24*time.Hour - time.Second)
		case utc:
			opt.Until = opt.Until.Add(time.Duration(from) * time.Second)
		}
	}
	if opt.Freq == rrule.YEARLY && len(opt.Byweekday) > 0 && len(opt.Bymonth) == 0 && len(opt.Byyearday) == 0 && len(opt.Byweekno) == 0 {
		// "BYDAY=-1SU" alone is the year's last Sunday (../rfc/5545:3.3.10);
		// an observance means the last Sunday of its DTSTART's month, as
		// the producers that leave BYMONTH out intend.
		opt.Bymonth = []int{int(start.Month())}
	}
	if opt.Until.IsZero() {
		// rrule-go ends a rule without UNTIL 2^63 ns (292 years) after
		// DTSTART, and Outlook starts its observances in 1601.
		opt.Until = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	}
	opt.Dtstart = start
	r, err := rrule.NewRRule(*opt)
	if err != nil {
		return nil, err
	}
	return &obsRule{opt: *opt, r: r}, nil
}

// untilValue returns the UNTIL part of an RRULE value.
func untilValue(v string) string {
	for _, part := range strings.Split(v, ";") {
		if k, val, _ := strings.Cut(part, "="); strings.EqualFold(strings.TrimSpace(k), "UNTIL") {
			return val
		}
	}
	return ""
}

// onsets returns the rule's onsets (naive local time) in year y.
//
// rrule-go walks every year from DTSTART, and Outlook writes 1601: so a
// rule without COUNT is started again from the last year before y that the
// interval reaches, keeping DTSTART's month, day and time. A YEARLY or
// MONTHLY rule's set in a year depends only on that year, its BY parts and
// DTSTART's month, day and time, so the onsets in y are the same. A
// February 29 DTSTART is not moved (the other years have none).
func (r *obsRule) onsets(y int) []time.Time {
	rr := r.r
	st := r.opt.Dtstart
	iv := max(r.opt.Interval, 1)
	if r.opt.Count == 0 && y-st.Year() > iv && !(st.Month() == time.February && st.Day() == 29) {
		k := (y - 1 - st.Year()) / iv * iv
		opt := r.opt
		opt.Dtstart = st.AddDate(k, 0, 0)
		if moved, err := rrule.NewRRule(opt); err == nil {
			rr = moved
		}
	}
	return rr.Between(time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(y+1, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Second), true)
}

// offsetAt returns the UTC offset in effect at naive local time t: that of
// the observance with the latest onset at or before t (onsets compared as
// local times, as libical does). Before the first onset, the earliest
// observance's TZOFFSETFROM applies. ../rfc/5545:3.3.5: a local time that
// occurs twice (the hour repeated when daylight time ends) is the first
// occurrence, and one in the gap when it starts is read with the offset
// before the gap; so a change that moves clocks forward counts from the
// end of its gap.
func (z *vtimezone) offsetAt(t time.Time) int {
	var best time.Time
	bestOff, found := 0, false
	consider := func(on time.Time, o *observance) {
		if o.to > o.from {
			on = on.Add(time.Duration(o.to-o.from) * time.Second)
		}
		if on.After(t) {
			return
		}
		if !found || on.After(best) {
			best, bestOff, found = on, o.to, true
		}
	}
	earliest := -1
	for i := range z.obs {
		o := &z.obs[i]
		if earliest < 0 || o.start.Before(z.obs[earliest].start) {
			earliest = i
		}
		consider(o.start, o)
		if o.rule != nil {
			for _, y := range []int{t.Year() - 1, t.Year()} {
				for _, on := range z.onsets(i, y) {
					if on.Before(o.start) {
						continue
					}
					consider(on, o)
				}
			}
		}
		// The latest RDATE at or before t.
		k := sort.Search(len(o.rdates), func(i int) bool { return o.rdates[i].After(t) })
		if k > 0 {
			consider(o.rdates[k-1], o)
		}
	}
	if !found {
		return z.obs[earliest].from
	}
	return bestOff
}

func (z *vtimezone) toUTC(n time.Time) time.Time {
	return n.Add(-time.Duration(z.offsetAt(n)) * time.Second)
}

// parseNaive parses an iCalendar DATE or DATE-TIME value
// (../rfc/5545:3.3.4, 3.3.5) as a naive time. date reports a DATE value;
// utc a trailing Z. It accepts a missing seconds field ("T1030"), which some
// producers write.
func parseNaive(v string) (t time.Time, date, utc bool, err error) {
	v = strings.TrimSpace(v)
	if strings.HasSuffix(v, "Z") || strings.HasSuffix(v, "z") {
		utc = true
		v = v[:len(v)-1]
	}
	var layout string
	switch len(v) {
	case 8:
		layout, date = "20060102", true
	case 15:
		layout = "20060102T150405"
	case 13:
		layout = "20060102T1504"
	default:
		return time.Time{}, false, false, fmt.Errorf("bad date-time %q", trunc(v))
	}
	t, err = time.Parse(layout, strings.ToUpper(v))
	if err != nil {
		return time.Time{}, false, false, fmt.Errorf("bad date-time %q", trunc(v))
	}
	return t, date, utc, nil
}
