package wintz

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // resolve IANA names without the host's zoneinfo
)

// ErrUnknown is returned (wrapped) by Location for a name it cannot resolve.
var ErrUnknown = errors.New("wintz: unknown time zone")

type zone struct {
	display string // Windows display name, "(UTC+01:00) Amsterdam, ..."
	windows string // Windows time zone id, "W. Europe Standard Time"
	iana    string // CLDR golden zone (territory 001)
}

var (
	byWindows = map[string]*zone{} // lower-case Windows id → zone
	byDisplay = map[string]*zone{} // normalized display name → zone
	byIANA    = map[string]*zone{} // IANA name → zone (golden zones only)
)

func init() {
	for i := range zones {
		z := &zones[i]
		byWindows[strings.ToLower(z.windows)] = z
		byDisplay[normDisplay(z.display)] = z
		byIANA[z.iana] = z
	}
	for old, cur := range legacy {
		byWindows[strings.ToLower(old)] = byWindows[strings.ToLower(cur)]
	}
}

// normDisplay lower-cases a display name and drops its offset prefix and
// spacing, so "(GMT+01:00) Amsterdam, Berlin, ..." (the pre-2010 spelling)
// and "(UTC+01:00) Amsterdam,Berlin,..." find the same zone.
func normDisplay(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if strings.HasPrefix(s, "(") {
		if i := strings.IndexByte(s, ')'); i > 0 {
			s = s[i+1:]
		}
	}
	s = strings.ReplaceAll(s, "&", "and")
	var b strings.Builder
	for _, r := range s {
		if r != ' ' && r != '\t' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// IANA returns the IANA zone that CLDR maps a Windows time zone id (or its
// display name) to, e.g. "W. Europe Standard Time" → "Europe/Berlin".
// Case is ignored.
func IANA(windows string) (string, bool) {
	w := strings.TrimSpace(windows)
	if z, ok := byWindows[strings.ToLower(w)]; ok {
		return z.iana, true
	}
	// A display name, with or without its "(UTC+01:00) " prefix (older
	// Outlook versions wrote "Canberra, Melbourne, Sydney").
	if n := normDisplay(w); len(n) >= 4 {
		if z, ok := byDisplay[n]; ok {
			return z.iana, true
		}
	}
	return "", false
}

// Windows returns the Windows time zone id whose CLDR golden zone is iana,
// e.g. "America/New_York" → "Eastern Standard Time".
func Windows(iana string) (string, bool) {
	if z, ok := byIANA[iana]; ok {
		return z.windows, true
	}
	return "", false
}

// cache holds resolved names; bounded, because names come from input.
var cache struct {
	sync.Mutex
	m map[string]*time.Location
}

const maxCache = 512

// Location resolves a TZID as a calendar file writes it: surrounding
// quotes and space are removed, then it is tried as an IANA name (also
// after a "/vendor/version/" path prefix), a Windows id, a Windows display
// name (exact, else its first city that names an IANA zone), and finally a
// bare offset "(UTC+01:00)", "GMT+01:00", "UTC-0500", which yields a fixed
// zone. The error wraps ErrUnknown.
func Location(tzid string) (*time.Location, error) {
	name := strings.TrimSpace(strings.Trim(strings.TrimSpace(tzid), `"'`))
	cache.Lock()
	loc, ok := cache.m[name]
	cache.Unlock()
	if ok {
		return loc, nil
	}
	loc = resolve(name)
	if loc == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknown, tzid)
	}
	cache.Lock()
	if cache.m == nil {
		cache.m = make(map[string]*time.Location)
	}
	if len(cache.m) < maxCache {
		cache.m[name] = loc
	}
	cache.Unlock()
	return loc, nil
}

func resolve(name string) *time.Location {
	if name == "" || len(name) > 200 {
		return nil
	}
	if iana, ok := IANA(name); ok {
		return load(iana)
	}
	if loc := load(name); loc != nil {
		return loc
	}
	// "/freeassociation.sourceforge.net/Tzfile/Europe/London",
	// "/mozilla.org/20050126_1/America/New_York": try each suffix.
	if strings.Contains(name, "/") {
		parts := strings.Split(strings.Trim(name, "/"), "/")
		for i := 0; i < len(parts); i++ {
			if loc := load(strings.Join(parts[i:], "/")); loc != nil {
				return loc
			}
		}
	}
	// A display name this table does not spell the same way: take the
	// first listed city that is an IANA zone's city.
	if strings.HasPrefix(name, "(") {
		if i := strings.IndexByte(name, ')'); i > 0 {
			for _, city := range strings.Split(name[i+1:], ",") {
				city = strings.TrimSpace(city)
				if iana, ok := cityIndex()[strings.ToLower(city)]; ok {
					return load(iana)
				}
				if city == "" || strings.ContainsAny(city, "/.") {
					continue
				}
				for _, area := range areas {
					if loc := load(area + "/" + strings.ReplaceAll(city, " ", "_")); loc != nil {
						return loc
					}
				}
			}
		}
	}
	if off, ok := parseOffset(name); ok {
		return time.FixedZone(name, off)
	}
	return nil
}

// load is time.LoadLocation restricted to names that cannot depend on the
// host ("Local") and to plausible zone names.
func load(name string) *time.Location {
	// IANA names never hold spaces, colons or quotes.
	if name == "" || strings.EqualFold(name, "local") || strings.ContainsAny(name, " \\:\"") {
		return nil
	}
	loc, err := LoadIANA(name)
	if err != nil {
		return nil
	}
	return loc
}

// ianaZones memoizes LoadIANA: name → ianaZone.
var ianaZones sync.Map

type ianaZone struct {
	loc *time.Location
	err error
}

// LoadIANA is time.LoadLocation, remembered per name for the life of the
// process, failures too. time.LoadLocation reads and parses the zone's
// file on every call (about 30 µs and 13 allocations): once per
// date-time of every event was 4 % of an ICS import's CPU.
func LoadIANA(name string) (*time.Location, error) {
	if z, ok := ianaZones.Load(name); ok {
		return z.(ianaZone).loc, z.(ianaZone).err
	}
	loc, err := time.LoadLocation(name)
	ianaZones.Store(name, ianaZone{loc, err})
	return loc, err
}

// areas are the IANA regions tried for a city of a display name.
var areas = []string{"Europe", "America", "Asia", "Africa", "Australia", "Pacific", "Atlantic", "Indian"}

var (
	cityOnce sync.Once
	cities   map[string]string
)

// cityIndex maps the city part of every golden IANA zone ("berlin",
// "new york") to the zone.
func cityIndex() map[string]string {
	cityOnce.Do(func() {
		cities = make(map[string]string)
		for _, z := range zones {
			i := strings.LastIndexByte(z.iana, '/')
			if i < 0 || strings.HasPrefix(z.iana, "Etc/") {
				continue
			}
			city := strings.ToLower(strings.ReplaceAll(z.iana[i+1:], "_", " "))
			cities[city] = z.iana
		}
	})
	return cities
}

var offsetRE = regexp.MustCompile(`^\(?(?:UTC|GMT)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?\)?`)

// parseOffset reads a leading "(UTC+01:00)", "GMT-0500", "UTC+1" as seconds
// east of UTC.
func parseOffset(s string) (int, bool) {
	m := offsetRE.FindStringSubmatch(strings.ToUpper(s))
	if m == nil {
		if u := strings.ToUpper(s); u == "UTC" || u == "GMT" || strings.HasPrefix(u, "(UTC)") || strings.HasPrefix(u, "(GMT)") {
			return 0, true
		}
		return 0, false
	}
	h, _ := strconv.Atoi(m[2])
	mi := 0
	if m[3] != "" {
		mi, _ = strconv.Atoi(m[3])
	}
	if h > 14 || mi > 59 {
		return 0, false
	}
	off := h*3600 + mi*60
	if m[1] == "-" {
		off = -off
	}
	return off, true
}
