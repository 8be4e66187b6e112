package wintz

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"
)

// A zone's rules as Windows and Outlook describe them (MS-OXOCAL 2.2.1.41
// TZDEFINITION, 2.2.1.39 TZSTRUCT): per range of years, a standard bias
// and, with daylight saving time, the two yearly changes as "n-th weekday
// of a month at a wall time". Rules turns a Go location into them, and
// RulesLocation turns them back into a Go location, so that a zone known
// only by such rules — a PST's definition, or an iCalendar file's own
// VTIMEZONE under a made-up TZID — is used as any other zone.

// Rule is one TZRULE (MS-OXOCAL 2.2.1.41.1): the zone's rule from Year on,
// until the next rule's year.
type Rule struct {
	Year int
	// Bias, StdBias, DstBias: minutes, west of UTC positive; the offset in
	// standard time is -(Bias+StdBias), in daylight time -(Bias+DstBias).
	Bias, StdBias, DstBias int32
	// Std and Dst are the SYSTEMTIMEs of the changes into standard and into
	// daylight time (year, month, weekday, day, hour, minute, second, ms),
	// in the "day-in-month" form: year 0, day the week 1-5 (5 the last),
	// the time the wall-clock time before the change. A zero month: no
	// daylight saving time.
	Std, Dst [8]uint16
}

func (r Rule) same(o Rule) bool { r.Year = o.Year; return r == o }

// valid checks what a rule's use needs: a year of the Gregorian calendar
// Windows knows (1601-9999, or 0), biases within a day, and SYSTEMTIMEs
// with a real month, weekday, week (1-5) and time of day, both or neither.
func (r Rule) valid() error {
	if r.Year != 0 && (r.Year < 1601 || r.Year > 9999) {
		return fmt.Errorf("year %d", r.Year)
	}
	for _, b := range []int32{r.Bias, r.Bias + r.StdBias, r.Bias + r.DstBias} {
		if b < -24*60 || b > 24*60 {
			return fmt.Errorf("bias %d minutes", b)
		}
	}
	if (r.Std[1] == 0) != (r.Dst[1] == 0) {
		return errors.New("one change of a daylight time pair")
	}
	for _, st := range [][8]uint16{r.Std, r.Dst} {
		if st[1] == 0 {
			continue
		}
		if st[1] > 12 || st[2] > 6 || st[4] > 23 || st[5] > 59 || st[6] > 59 || st[7] > 999 ||
			st[0] == 0 && (st[3] < 1 || st[3] > 5) || st[0] != 0 && (st[3] < 1 || st[3] > 31) {
			return fmt.Errorf("SYSTEMTIME %v", st)
		}
	}
	return nil
}

func (r Rule) dst() bool { return r.Std[1] != 0 && r.Dst[1] != 0 }

func (r Rule) stdOffset() int { return -int(r.Bias+r.StdBias) * 60 }
func (r Rule) dstOffset() int { return -int(r.Bias+r.DstBias) * 60 }

// YearRule derives loc's rule in year y from the changes of its UTC
// offset that year (a change of name or daylight flag alone is none):
//
//   - none: no daylight time, the year's offset;
//   - two, there and back: daylight time between them, or, when the year
//     begins in it (southern hemisphere), before the first and after the
//     second;
//   - one forward (a country moving to a later offset, or into permanent
//     daylight time): daylight time from it to the end of the year;
//   - one back (leaving daylight time for good, or an earlier standard
//     offset): daylight time from January 1 to it.
//
// The last two are how Windows' own dynamic rules write such years: a
// change into daylight time on January 1 at 00:00, or out of it on
// December 31 at 23:59:59.999. A year with more changes keeps the offset
// of January 1 without daylight time: a TZRULE cannot hold it.
func YearRule(loc *time.Location, y int) Rule {
	begin := time.Date(y, 1, 1, 0, 0, 0, 0, loc)
	end := time.Date(y+1, 1, 1, 0, 0, 0, 0, loc)
	type change struct {
		at       time.Time
		from, to int
	}
	var cs []change
	for t := begin; len(cs) < 4; {
		_, next := t.ZoneBounds()
		if next.IsZero() || !next.Before(end) {
			break
		}
		_, from := next.Add(-time.Second).Zone()
		_, to := next.Zone()
		if from != to {
			cs = append(cs, change{next, from, to})
		}
		t = next
	}
	_, startOff := begin.Zone()
	r := Rule{Year: y}
	// at is the SYSTEMTIME of a change, in the wall time before it
	// (Windows: DaylightDate in standard time, StandardDate in daylight
	// time), week 5 the last such weekday of the month.
	at := func(c change) [8]uint16 {
		w := c.at.UTC().Add(time.Duration(c.from) * time.Second)
		week := uint16((w.Day()-1)/7 + 1)
		if w.AddDate(0, 0, 7).Month() != w.Month() {
			week = 5
		}
		return [8]uint16{0, uint16(w.Month()), uint16(w.Weekday()), week, uint16(w.Hour()), uint16(w.Minute()), 0, 0}
	}
	newYear := [8]uint16{0, 1, uint16(time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).Weekday()), 1, 0, 0, 0, 0}
	yearEnd := [8]uint16{0, 12, uint16(time.Date(y, 12, 31, 0, 0, 0, 0, time.UTC).Weekday()), 5, 23, 59, 59, 999}
	set := func(std, dst int, into, out [8]uint16) {
		r.Bias, r.DstBias = int32(-std/60), int32(-(dst-std)/60)
		r.Dst, r.Std = into, out
	}
	switch {
	case len(cs) == 0:
		r.Bias = int32(-startOff / 60)
	case len(cs) == 2 && cs[0].from == cs[1].to && cs[0].to > cs[0].from:
		set(cs[0].from, cs[0].to, at(cs[0]), at(cs[1]))
	case len(cs) == 2 && cs[0].from == cs[1].to:
		set(cs[0].to, cs[0].from, at(cs[1]), at(cs[0]))
	case len(cs) == 1 && cs[0].to > cs[0].from:
		set(cs[0].from, cs[0].to, at(cs[0]), yearEnd)
	case len(cs) == 1:
		set(cs[0].to, cs[0].from, newYear, at(cs[0]))
	default:
		r.Bias = int32(-startOff / 60)
	}
	return r
}

// Rules returns loc's rules over the years from to to: one per change of
// rule, the first from year from (it holds before too, as Outlook reads
// a definition). A zone that changed its rules in between — a country
// dropping daylight time, moving its dates or its standard offset — so
// gets several, as Outlook writes them from the Windows registry.
func Rules(loc *time.Location, from, to int) []Rule {
	var out []Rule
	for y := from; y <= max(from, to); y++ {
		r := YearRule(loc, y)
		if len(out) > 0 && out[len(out)-1].same(r) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// RuleAt returns the rule in effect in year y: the last one from y or
// before, else the first.
func RuleAt(rules []Rule, y int) (Rule, int) {
	i := 0
	for k, r := range rules {
		if r.Year <= y {
			i = k
		}
	}
	return rules[i], i
}

// maxKeyName bounds a TZDEFINITION's KeyName (MS-OXOCAL 2.2.1.41: at most
// 260 characters).
const maxKeyName = 260

// TZDEFINITION flags (MS-OXOCAL 2.2.1.41.1).
const (
	ruleRecurCurrent = 0x0001 // TZRULE_FLAG_RECUR_CURRENT_TZREG
	ruleEffective    = 0x0002 // TZRULE_FLAG_EFFECTIVE_TZREG
)

// Definition encodes a TZDEFINITION (MS-OXOCAL 2.2.1.41) named key (its
// first 260 UTF-16 units) with rules (at most 1024, in year order). Rule mark carries
// TZRULE_FLAG_EFFECTIVE_TZREG, and with recur also
// TZRULE_FLAG_RECUR_CURRENT_TZREG (the rule of a recurring series'
// PidLidTimeZoneStruct).
func Definition(key string, rules []Rule, mark int, recur bool) []byte {
	le := binary.LittleEndian
	k := utf16.Encode([]rune(key))
	k = k[:min(len(k), maxKeyName)]
	b := []byte{0x02, 0x01}                    // bMajorVersion, bMinorVersion
	b = le.AppendUint16(b, uint16(6+2*len(k))) // cbHeader
	b = le.AppendUint16(b, 0x0002)             // wReserved
	b = le.AppendUint16(b, uint16(len(k)))
	for _, c := range k {
		b = le.AppendUint16(b, c)
	}
	b = le.AppendUint16(b, uint16(len(rules))) // cRules
	for i, r := range rules {
		flags := uint16(0)
		if i == mark {
			flags = ruleEffective
			if recur {
				flags |= ruleRecurCurrent
			}
		}
		b = append(b, 0x02, 0x01)      // TZRULE bMajorVersion, bMinorVersion
		b = le.AppendUint16(b, 0x003E) // wReserved
		b = le.AppendUint16(b, flags)
		b = le.AppendUint16(b, uint16(r.Year)) // wYear: the rule holds from this year
		b = append(b, make([]byte, 14)...)     // X
		b = r.AppendTZI(b, false)
	}
	return b
}

// AppendTZI appends the rule's biases and SYSTEMTIMEs as a TZRULE holds
// them, or with years as a TZSTRUCT (MS-OXOCAL 2.2.1.39: wStandardYear
// and wDaylightYear before each SYSTEMTIME).
func (r Rule) AppendTZI(b []byte, years bool) []byte {
	le := binary.LittleEndian
	b = le.AppendUint32(b, uint32(r.Bias))
	b = le.AppendUint32(b, uint32(r.StdBias))
	b = le.AppendUint32(b, uint32(r.DstBias))
	for _, st := range [][8]uint16{r.Std, r.Dst} {
		if years {
			b = le.AppendUint16(b, uint16(r.Year))
		}
		for _, v := range st {
			b = le.AppendUint16(b, v)
		}
	}
	return b
}

// RecurDefinition returns definition b as a recurring series' (MS-OXOCAL
// 2.2.1.41.1): b itself when a rule is flagged TZRULE_FLAG_RECUR_CURRENT_TZREG
// or b cannot be read, else b with that flag on its effective rule (a
// display definition kept as a zone's rules).
func RecurDefinition(b []byte) []byte {
	key, rules, mark, err := ParseDefinition(b)
	if err != nil || mark < 0 || HasRecurRule(b) {
		return b
	}
	return Definition(key, rules, mark, true)
}

// HasRecurRule reports whether a rule of definition b (as ParseDefinition
// reads it) is flagged TZRULE_FLAG_RECUR_CURRENT_TZREG.
func HasRecurRule(b []byte) bool {
	_, rules, _, err := ParseDefinition(b)
	if err != nil {
		return false
	}
	p := 4 + int(binary.LittleEndian.Uint16(b[2:]))
	for i := range rules {
		if binary.LittleEndian.Uint16(b[p+66*i+4:])&ruleRecurCurrent != 0 {
			return true
		}
	}
	return false
}

// ErrDefinition is returned for a TZDEFINITION that cannot be read.
var ErrDefinition = errors.New("not a time zone definition")

// ParseDefinition reads a TZDEFINITION (MS-OXOCAL 2.2.1.41): its key name
// and rules, and the index of the rule flagged as a recurring series'
// (TZRULE_FLAG_RECUR_CURRENT_TZREG), else of the one flagged effective
// (TZRULE_FLAG_EFFECTIVE_TZREG: a display definition's), -1 when none is.
func ParseDefinition(b []byte) (key string, rules []Rule, recur int, err error) {
	le := binary.LittleEndian
	recur = -1
	recurFlag := false
	if len(b) < 6 || b[0] != 0x02 {
		return "", nil, -1, ErrDefinition
	}
	p := 4 + int(le.Uint16(b[2:])) // past cbHeader
	if p > len(b) || p < 8 {
		return "", nil, -1, ErrDefinition
	}
	cch := int(le.Uint16(b[6:]))
	if 8+2*cch+2 > p {
		return "", nil, -1, ErrDefinition
	}
	k := make([]uint16, cch)
	for i := range k {
		k[i] = le.Uint16(b[8+2*i:])
	}
	n := int(le.Uint16(b[p-2:]))
	if n == 0 || n > 1024 || p+66*n > len(b) {
		return "", nil, -1, ErrDefinition
	}
	for i := range n {
		t := b[p+66*i:]
		r := Rule{Year: int(le.Uint16(t[6:]))}
		if le.Uint16(t[4:])&ruleRecurCurrent != 0 && (recur < 0 || !recurFlag) {
			recur, recurFlag = i, true
		} else if le.Uint16(t[4:])&ruleEffective != 0 && recur < 0 {
			recur = i
		}
		r.Bias, r.StdBias, r.DstBias = int32(le.Uint32(t[22:])), int32(le.Uint32(t[26:])), int32(le.Uint32(t[30:]))
		for j := range 8 {
			r.Std[j] = le.Uint16(t[34+2*j:])
			r.Dst[j] = le.Uint16(t[50+2*j:])
		}
		if len(rules) > 0 && r.Year < rules[len(rules)-1].Year {
			return "", nil, -1, fmt.Errorf("%w: rule for %d after %d", ErrDefinition, r.Year, rules[len(rules)-1].Year)
		}
		if err := r.valid(); err != nil {
			return "", nil, -1, fmt.Errorf("%w: rule %d: %v", ErrDefinition, i+1, err)
		}
		rules = append(rules, r)
	}
	return string(utf16.Decode(k)), rules, recur, nil
}

// change returns the wall time of a change in year y: the SYSTEMTIME's
// n-th weekday of its month (5: the last), or its date when it names a
// year (the "absolute" form).
func change(st [8]uint16, y int) time.Time {
	m := time.Month(st[1])
	if st[0] != 0 {
		return time.Date(y, m, int(st[3]), int(st[4]), int(st[5]), int(st[6]), 0, time.UTC)
	}
	first := time.Date(y, m, 1, int(st[4]), int(st[5]), int(st[6]), 0, time.UTC)
	d := first.AddDate(0, 0, (int(st[2])-int(first.Weekday())+7)%7+7*(max(int(st[3]), 1)-1))
	for d.Month() != m {
		d = d.AddDate(0, 0, -7)
	}
	return d
}

// Transition is a change of a zone's UTC offset at an instant.
type Transition struct {
	At     time.Time
	Offset int // seconds east of UTC from At on
	DST    bool
}

// RulesLocation returns a Go location named name that follows rules: the
// transitions of every year from the first rule's to 50 years after the
// last's, and the last rule as a POSIX TZ string for the years after.
// Before the first rule's year, that rule holds. (Transitions, not the TZ
// string alone, because Time.ZoneBounds does not step from one year to
// the next in a zone's TZ string: from its December 31 it returns the
// same bounds again.)
func RulesLocation(name string, rules []Rule) (*time.Location, error) {
	if len(rules) == 0 {
		return nil, ErrDefinition
	}
	for i, r := range rules {
		if err := r.valid(); err != nil {
			return nil, fmt.Errorf("%w: rule %d: %v", ErrDefinition, i+1, err)
		}
	}
	first, last := rules[0], rules[len(rules)-1]
	var txs []Transition
	curOff := first.stdOffset()
	add := func(at time.Time, off int, dst bool) {
		txs = append(txs, Transition{at, off, dst})
		curOff = off
	}
	// From the year before the first rule's (which that rule governs too),
	// so that the first year begins in the right state.
	// Calendars need no year before 1900 (Outlook writes 1601 for "always").
	for y := max(first.Year-1, 1900); y <= max(last.Year, 1900)+50; y++ {
		r, _ := RuleAt(rules, y)
		newYear := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
		begin := func() time.Time { return newYear.Add(-time.Duration(curOff) * time.Second) }
		if !r.dst() {
			add(begin(), r.stdOffset(), false)
			continue
		}
		intoWall, outWall := change(r.Dst, y), change(r.Std, y)
		into := intoWall.Add(-time.Duration(r.stdOffset()) * time.Second)
		out := outWall.Add(-time.Duration(r.dstOffset()) * time.Second)
		switch {
		case intoWall.Equal(newYear): // daylight time from January 1 (see YearRule)
			add(begin(), r.dstOffset(), true)
			add(out, r.stdOffset(), false)
		case outWall.Before(intoWall): // southern hemisphere: the year begins in daylight time
			add(begin(), r.dstOffset(), true)
			add(out, r.stdOffset(), false)
			add(into, r.dstOffset(), true)
		case outWall.Equal(time.Date(y, 12, 31, 23, 59, 59, 0, time.UTC)):
			// daylight time to the end of the year (see YearRule): the next
			// year's rule says what follows, from its first second.
			add(begin(), r.stdOffset(), false)
			add(into, r.dstOffset(), true)
		default:
			add(begin(), r.stdOffset(), false)
			add(into, r.dstOffset(), true)
			add(out, r.stdOffset(), false)
		}
	}
	return TransitionsLocation(name, Transition{Offset: first.stdOffset()}, txs, posixTZ(last))
}

// TransitionsLocation returns a Go location named name with offset
// initial.Offset before the first transition, then txs (in time order;
// one that changes nothing, or does not come after the one before, is
// dropped), then extend, a POSIX TZ string ("" for none: the last
// offset holds). It is built as tz data (TZif version 2, RFC 8536).
func TransitionsLocation(name string, initial Transition, txs []Transition, extend string) (*time.Location, error) {
	type ttype struct {
		off int
		dst bool
	}
	types := []ttype{{initial.Offset, initial.DST}}
	typeOf := func(off int, dst bool) byte {
		for i, t := range types {
			if t == (ttype{off, dst}) {
				return byte(i)
			}
		}
		types = append(types, ttype{off, dst})
		return byte(len(types) - 1)
	}
	var ats []int64
	var idx []byte
	cur := byte(0)
	for _, t := range txs {
		k := typeOf(t.Offset, t.DST)
		if k == cur || len(ats) > 0 && t.At.Unix() <= ats[len(ats)-1] {
			continue
		}
		ats, idx, cur = append(ats, t.At.Unix()), append(idx, k), k
	}
	if len(types) > 255 {
		return nil, errors.New("too many offsets in a time zone")
	}
	var chars []byte
	abbr := make([]byte, len(types))
	for i, t := range types {
		abbr[i] = byte(len(chars))
		chars = append(append(chars, offsetName(t.off)...), 0)
	}
	be := binary.BigEndian
	d := []byte("TZif2")
	d = append(d, make([]byte, 15+24)...) // version 1 header: no version 1 data
	d = append(d, "TZif2"...)
	d = append(d, make([]byte, 15)...)
	for _, n := range []int{0, 0, 0, len(ats), len(types), len(chars)} {
		d = be.AppendUint32(d, uint32(n))
	}
	for _, at := range ats {
		d = be.AppendUint64(d, uint64(at))
	}
	d = append(d, idx...)
	for i, t := range types {
		d = be.AppendUint32(d, uint32(int32(t.off)))
		d = append(d, b2i(t.dst), abbr[i])
	}
	d = append(d, chars...)
	d = append(d, '\n')
	d = append(d, extend...)
	d = append(d, '\n')
	return time.LoadLocationFromTZData(name, d)
}

func b2i(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// offsetName names an offset as the tz database does for zones without
// an abbreviation: "+01", "-0330".
func offsetName(off int) string {
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	if off%3600 == 0 {
		return fmt.Sprintf("%s%02d", sign, off/3600)
	}
	return fmt.Sprintf("%s%02d%02d", sign, off/3600, off/60%60)
}

// posixTZ is the rule as a POSIX TZ string ("<+01>-1<+02>,M3.5.0/2,M10.5.0/3"),
// which tz data uses for the years after its last transition.
func posixTZ(r Rule) string {
	off := func(sec int) string { // POSIX offsets are west of UTC
		sec = -sec
		sign := ""
		if sec < 0 {
			sign, sec = "-", -sec
		}
		return fmt.Sprintf("%s%d:%02d", sign, sec/3600, sec/60%60)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<%s>%s", offsetName(r.stdOffset()), off(r.stdOffset()))
	if !r.dst() || r.Dst[0] != 0 || r.Std[0] != 0 {
		return b.String()
	}
	at := func(st [8]uint16) string {
		return fmt.Sprintf("M%d.%d.%d/%d:%02d:%02d", st[1], max(st[3], 1), st[2], st[4], st[5], st[6])
	}
	fmt.Fprintf(&b, "<%s>%s,%s,%s", offsetName(r.dstOffset()), off(r.dstOffset()), at(r.Dst), at(r.Std))
	return b.String()
}
