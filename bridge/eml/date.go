package eml

import (
	"fmt"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// parseDate parses an RFC 5322 date (net/mail.ParseDate) and, when that
// fails, the broken forms common in real mail: missing or misspelt day
// names, two-digit years, missing seconds, dotted times, "GMT+0100" and
// "+01:00" zones, zone names net/mail does not know, trailing comments,
// asctime ("Mon Jan  2 15:04:05 2006") and ISO 8601. A date without a
// zone is taken as UTC.
func parseDate(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	// RFC 5322 3.3's usual form, "Tue, 02 Jan 2024 09:02:20 +0000",
	// parsed at once: net/mail tries its layouts in turn and each miss
	// allocates an error (a tenth of the mbox reader's allocations).
	// parseDateSlow gives the same time for it (TestParseDateFastPath).
	if t, err := time.Parse(time.RFC1123Z, v); err == nil && t.Year() >= 1900 {
		return t, nil
	}
	return parseDateSlow(v)
}

// parseDateSlow is parseDate without its fast path.
func parseDateSlow(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, fmt.Errorf("empty date")
	}
	if !reZoneGMT.MatchString(v) {
		if t, err := mail.ParseDate(v); err == nil && t.Year() >= 1900 {
			// net/mail (through time.Parse) gives a zone abbreviation it
			// does not know, such as CEST, a zero offset: use ours.
			if name, off := t.Zone(); off == 0 && name != "" && name != "UTC" && name != "GMT" && name != "UT" && name != "Z" {
				if o, ok := zones[strings.ToUpper(name)]; ok {
					t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.FixedZone(name, o*60))
				}
			}
			return t, nil
		}
	}
	if t, ok := parseBrokenDate(v); ok {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("unparseable date %q", truncate(v, 80))
}

var (
	reComment  = regexp.MustCompile(`\([^)]*\)`)
	reZoneGMT  = regexp.MustCompile(`(?i)\b(?:GMT|UTC|UT)\s*([+-])\s*(\d{1,2}):?(\d{2})?\b`)
	reColonOff = regexp.MustCompile(`([+-])(\d{2}):(\d{2})$`)
	reDotTime  = regexp.MustCompile(`\b(\d{1,2})\.(\d{2})(?:\.(\d{2}))?\b`)
	// after normalising: day month year time [zone]
	reDMY = regexp.MustCompile(`^(\d{1,2})[\s-]+([A-Za-z]{3,})[\s-,]+(\d{2,4})\s+(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(?:\s+(.*))?$`)
	// month day year time: "Jan 2 2006 15:04"
	reMDY = regexp.MustCompile(`^([A-Za-z]{3,})\s+(\d{1,2}),?\s+(\d{4})\s+(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(?:\s+(.*))?$`)
	// asctime: "Jan  2 15:04:05 [zone] 2006"
	reAsc = regexp.MustCompile(`^([A-Za-z]{3,})\s+(\d{1,2})\s+(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?\s+(?:(\S+)\s+)?(\d{4})$`)
)

var months = map[string]time.Month{
	"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
	"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
	// a few localised abbreviations seen in mail from non-English clients
	"mai": 5, "okt": 10, "dez": 12, "mrz": 3, "mär": 3, "ene": 1, "abr": 4, "ago": 8, "dic": 12,
}

// zones holds the zone abbreviations net/mail does not know, as offsets
// in minutes. RFC 5322 4.3 lists the obsolete US ones; the rest are
// common in the wild.
var zones = map[string]int{
	"UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "BST": 60, "IST": 330,
	"CET": 60, "MET": 60, "MEZ": 60, "CEST": 120, "MEST": 120, "MESZ": 120, "EET": 120, "EEST": 180,
	"MSK": 180, "JST": 540, "KST": 540, "HKT": 480, "SGT": 480, "AEST": 600, "AEDT": 660, "NZST": 720, "NZDT": 780,
	"EST": -300, "EDT": -240, "CST": -360, "CDT": -300, "MST": -420, "MDT": -360, "PST": -480, "PDT": -420,
	"AKST": -540, "AKDT": -480, "HST": -600,
}

func parseBrokenDate(v string) (time.Time, bool) {
	s := reComment.ReplaceAllString(v, " ")
	s = reZoneGMT.ReplaceAllStringFunc(s, func(m string) string {
		g := reZoneGMT.FindStringSubmatch(m)
		mm := g[3]
		if mm == "" {
			mm = "00"
		}
		return fmt.Sprintf("%s%02s%s", g[1], g[2], mm)
	})
	s = strings.TrimSpace(s)
	s = reColonOff.ReplaceAllString(s, "$1$2$3")
	// ISO 8601 and friends.
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05 -0700", "2006-01-02 15:04:05", "2006-01-02 15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	// Drop a leading day name, with or without comma, in any language.
	if i := strings.IndexAny(s, ", "); i > 0 && !isDigit(s[0]) {
		if _, isMonth := monthOf(s[:i]); !isMonth {
			s = strings.TrimLeft(s[i:], ", ")
		}
	}
	s = reDotTime.ReplaceAllStringFunc(s, func(m string) string { return strings.ReplaceAll(m, ".", ":") })
	s = strings.Join(strings.Fields(s), " ")

	var day, year, hh, mi, ss int
	var mon time.Month
	var zone string
	var ok bool
	if g := reDMY.FindStringSubmatch(s); g != nil {
		day, _ = strconv.Atoi(g[1])
		mon, ok = monthOf(g[2])
		year, _ = strconv.Atoi(g[3])
		hh, _ = strconv.Atoi(g[4])
		mi, _ = strconv.Atoi(g[5])
		ss, _ = strconv.Atoi(g[6])
		zone = g[7]
	} else if g := reMDY.FindStringSubmatch(s); g != nil {
		mon, ok = monthOf(g[1])
		day, _ = strconv.Atoi(g[2])
		year, _ = strconv.Atoi(g[3])
		hh, _ = strconv.Atoi(g[4])
		mi, _ = strconv.Atoi(g[5])
		ss, _ = strconv.Atoi(g[6])
		zone = g[7]
	} else if g := reAsc.FindStringSubmatch(s); g != nil {
		mon, ok = monthOf(g[1])
		day, _ = strconv.Atoi(g[2])
		hh, _ = strconv.Atoi(g[3])
		mi, _ = strconv.Atoi(g[4])
		ss, _ = strconv.Atoi(g[5])
		zone = g[6]
		year, _ = strconv.Atoi(g[7])
	}
	if !ok {
		return time.Time{}, false
	}
	switch {
	case year < 50:
		year += 2000 // RFC 5322 4.3: 00-49 is 2000-2049
	case year < 1000:
		year += 1900
	}
	if day < 1 || day > 31 || hh > 24 || mi > 59 || ss > 60 || year > 9999 {
		return time.Time{}, false
	}
	off, ok := zoneOffset(zone)
	if !ok {
		return time.Time{}, false
	}
	t := time.Date(year, mon, day, hh, mi, ss, 0, time.FixedZone("", off*60))
	if t.Day() != day { // 31 Feb
		return time.Time{}, false
	}
	return t, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func monthOf(s string) (time.Month, bool) {
	s = strings.ToLower(strings.TrimSuffix(s, "."))
	if len(s) < 3 {
		return 0, false
	}
	m, ok := months[s[:3]]
	if !ok {
		m, ok = months[s]
	}
	return m, ok
}

// zoneOffset returns the offset in minutes of the first word of z: a
// numeric offset (+0100, -5, +1) or a known abbreviation; empty is UTC.
func zoneOffset(z string) (int, bool) {
	f := strings.Fields(z)
	if len(f) == 0 {
		return 0, true
	}
	w := f[0]
	if w[0] == '+' || w[0] == '-' {
		digits := w[1:]
		n, err := strconv.Atoi(digits)
		if err != nil {
			return 0, false
		}
		var mins int
		switch len(digits) {
		case 1, 2:
			mins = n * 60
		case 3, 4:
			mins = n/100*60 + n%100
		default:
			return 0, false
		}
		if mins > 14*60 {
			return 0, false
		}
		if w[0] == '-' {
			mins = -mins
		}
		return mins, true
	}
	if off, ok := zones[strings.ToUpper(w)]; ok {
		return off, true
	}
	if len(w) == 4 && isDigit(w[0]) && isDigit(w[1]) && isDigit(w[2]) && isDigit(w[3]) {
		// An offset that lost its sign ("0500"): east, as Python reads it.
		n, _ := strconv.Atoi(w)
		if mins := n/100*60 + n%100; n%100 < 60 && mins <= 14*60 {
			return mins, true
		}
	}
	// RFC 5322 4.3: military zones (one letter) and other obsolete or
	// unknown zone names ("H0500", "EST5EDT", "MEZ-1") SHOULD be taken as
	// -0000, unless a known abbreviation leads the word.
	i := 0
	for i < len(w) && (w[i] >= 'A' && w[i] <= 'Z' || w[i] >= 'a' && w[i] <= 'z') {
		i++
	}
	if i == 0 {
		return 0, false // digits, punctuation: not a zone
	}
	if off, ok := zones[strings.ToUpper(w[:i])]; ok && i < len(w) {
		return off, true
	}
	return 0, true
}
