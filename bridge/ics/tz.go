package ics

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"
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
	on := o.rule.onsets(y, o.start)
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
	start    time.Time // DTSTART, naive local time (in the "from" offset)
	from, to int       // TZOFFSETFROM, TZOFFSETTO in seconds east of UTC
	rule     *yearlyRule
	rdates   []time.Time // naive
}

// yearlyRule is the subset of RRULE that time zone observances use:
// FREQ=YEARLY with BYMONTH, BYDAY (with or without ordinal), BYMONTHDAY,
// INTERVAL, UNTIL and COUNT.
type yearlyRule struct {
	interval  int
	months    []time.Month
	days      []weekdayNum
	monthDays []int
	until     time.Time // naive; zero: none
	untilUTC  bool
	lastYear  int // from COUNT; 0: none
}

type weekdayNum struct {
	n  int // 0: every such weekday; 1..5 or -1..-5
	wd time.Weekday
}

var weekdays = map[string]time.Weekday{"SU": time.Sunday, "MO": time.Monday, "TU": time.Tuesday,
	"WE": time.Wednesday, "TH": time.Thursday, "FR": time.Friday, "SA": time.Saturday}

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
		r, err := parseYearlyRule(p.Value, st)
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

func parseYearlyRule(v string, start time.Time) (*yearlyRule, error) {
	r := &yearlyRule{interval: 1}
	freq := ""
	count := 0
	for _, part := range strings.Split(strings.ToUpper(v), ";") {
		k, val, _ := strings.Cut(part, "=")
		switch k {
		case "FREQ":
			freq = val
		case "INTERVAL":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > 1000 {
				return nil, fmt.Errorf("bad INTERVAL %q", val)
			}
			r.interval = n
		case "COUNT":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("bad COUNT %q", val)
			}
			count = n
		case "UNTIL":
			t, _, utc, err := parseNaive(val)
			if err != nil {
				return nil, fmt.Errorf("bad UNTIL %q", val)
			}
			if len(val) == 8 { // a date: the whole day is included
				t = t.Add(24*time.Hour - time.Second)
			}
			r.until, r.untilUTC = t, utc
		case "BYMONTH":
			for _, s := range strings.Split(val, ",") {
				n, err := strconv.Atoi(s)
				if err != nil || n < 1 || n > 12 {
					return nil, fmt.Errorf("bad BYMONTH %q", val)
				}
				r.months = append(r.months, time.Month(n))
			}
		case "BYMONTHDAY":
			for _, s := range strings.Split(val, ",") {
				n, err := strconv.Atoi(s)
				if err != nil || n == 0 || n < -31 || n > 31 {
					return nil, fmt.Errorf("bad BYMONTHDAY %q", val)
				}
				r.monthDays = append(r.monthDays, n)
			}
		case "BYDAY":
			for _, s := range strings.Split(val, ",") {
				s = strings.TrimSpace(s)
				if len(s) < 2 {
					return nil, fmt.Errorf("bad BYDAY %q", val)
				}
				wd, ok := weekdays[s[len(s)-2:]]
				if !ok {
					return nil, fmt.Errorf("bad BYDAY %q", val)
				}
				n := 0
				if num := s[:len(s)-2]; num != "" {
					var err error
					n, err = strconv.Atoi(strings.TrimPrefix(num, "+"))
					if err != nil || n == 0 || n < -5 || n > 5 {
						return nil, fmt.Errorf("bad BYDAY %q", val)
					}
				}
				r.days = append(r.days, weekdayNum{n, wd})
			}
		}
	}
	if freq != "YEARLY" {
		return nil, fmt.Errorf("FREQ=%s not supported in a time zone", freq)
	}
	if len(r.months) == 0 {
		r.months = []time.Month{start.Month()}
	}
	if count > 0 {
		// Observance rules give one onset per month listed per year.
		per := len(r.months)
		r.lastYear = start.Year() + ((count+per-1)/per-1)*r.interval
	}
	return r, nil
}

// onsets returns the rule's onsets (naive local time) in year y.
func (r *yearlyRule) onsets(y int, start time.Time) []time.Time {
	if y < start.Year() || (y-start.Year())%r.interval != 0 || (r.lastYear != 0 && y > r.lastYear) {
		return nil
	}
	h, mi, s := start.Clock()
	var out []time.Time
	for _, m := range r.months {
		first := time.Date(y, m, 1, h, mi, s, 0, time.UTC)
		ndays := first.AddDate(0, 1, -1).Day()
		var days []int
		switch {
		case len(r.days) > 0:
			for _, wd := range r.days {
				var cands []int
				for d := 1 + (int(wd.wd)-int(first.Weekday())+7)%7; d <= ndays; d += 7 {
					cands = append(cands, d)
				}
				switch {
				case wd.n > 0 && wd.n <= len(cands):
					cands = cands[wd.n-1 : wd.n]
				case wd.n < 0 && -wd.n <= len(cands):
					cands = cands[len(cands)+wd.n : len(cands)+wd.n+1]
				case wd.n != 0:
					cands = nil
				}
				for _, d := range cands {
					if len(r.monthDays) == 0 || containsDay(r.monthDays, d, ndays) {
						days = append(days, d)
					}
				}
			}
		case len(r.monthDays) > 0:
			for d := 1; d <= ndays; d++ {
				if containsDay(r.monthDays, d, ndays) {
					days = append(days, d)
				}
			}
		default:
			if start.Day() <= ndays {
				days = []int{start.Day()}
			}
		}
		for _, d := range days {
			out = append(out, time.Date(y, m, d, h, mi, s, 0, time.UTC))
		}
	}
	return out
}

func containsDay(list []int, d, ndays int) bool {
	for _, x := range list {
		if x == d || (x < 0 && ndays+1+x == d) {
			return true
		}
	}
	return false
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
					if on.Before(o.start) || !o.rule.before(on, o.from) {
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

// before reports whether onset on is not after the rule's UNTIL.
func (r *yearlyRule) before(on time.Time, from int) bool {
	if r.until.IsZero() {
		return true
	}
	if r.untilUTC {
		return !on.Add(-time.Duration(from) * time.Second).After(r.until)
	}
	return !on.After(r.until)
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
