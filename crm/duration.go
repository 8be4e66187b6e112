package crm

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseDuration reads an RFC 5545 duration (3.3.6: "-PT15M", "P1DT2H",
// "P2W"), the form a relative reminder is stored in, leniently:
// surrounding space, a week count after "T" ("PT1W") and mixed weeks and
// days are accepted; months and years, which are not durations, are not.
func ParseDuration(v string) (time.Duration, error) {
	bad := func(why string) error {
		s := v
		if len(s) > 40 {
			s = s[:40] + "..."
		}
		return fmt.Errorf("bad duration %q%s", s, why)
	}
	s := strings.ToUpper(strings.TrimSpace(v))
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if !strings.HasPrefix(s, "P") || len(s) < 3 {
		return 0, bad("")
	}
	s = s[1:]
	var d time.Duration
	timePart := false
	for s != "" {
		if s[0] == 'T' {
			timePart = true
			s = s[1:]
			continue
		}
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i == len(s) || i > 9 {
			return 0, bad("")
		}
		n, _ := strconv.Atoi(s[:i])
		var unit time.Duration
		switch s[i] {
		case 'W':
			unit = 7 * 24 * time.Hour
		case 'D':
			unit = 24 * time.Hour
		case 'H':
			unit = time.Hour
		case 'M':
			if !timePart {
				return 0, bad(": months are not durations")
			}
			unit = time.Minute
		case 'S':
			unit = time.Second
		default:
			return 0, bad("")
		}
		d += time.Duration(n) * unit
		s = s[i+1:]
	}
	if neg {
		d = -d
	}
	return d, nil
}
