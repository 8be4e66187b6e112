package eml

import (
	"strings"
	"testing"
	"time"
)

// sameTime reports whether a and b are the same instant with the same
// zone name and offset (what the store and the writers use).
func sameTime(a, b time.Time) bool {
	an, ao := a.Zone()
	bn, bo := b.Zone()
	return a.Equal(b) && an == bn && ao == bo
}

// parseDate's fast path gives what the general parser gives, for the dates
// it takes; the ones it does not take go through the general parser.
func TestParseDateFastPath(t *testing.T) {
	for _, v := range []string{
		"Tue, 02 Jan 2024 09:02:20 +0000",
		"Tue, 02 Jan 2024 04:08:35 -0500",
		"Sun, 31 Dec 1899 23:59:59 +0100", // before 1900: general parser's rule
		"Mon, 01 Jan 1753 00:00:00 +0000",
		"Wed, 29 Feb 2023 10:00:00 +0000", // no such day
		"Tue, 02 Jan 2024 09:02:20 +0000 (UTC)",
		"Tue, 2 Jan 2024 09:02:20 +0000",
		"Tue, 02 Jan 2024 09:02:20 GMT",
		"Tue, 02 Jan 2024 09:02:20 +1400",
		"Fri, 02 Jan 2024 09:02:20 +0000", // wrong weekday
		"  Tue, 02 Jan 2024 09:02:20 +0000 ",
	} {
		got, gerr := parseDate(v)
		want, werr := parseDateSlow(strings.TrimSpace(v))
		if (gerr != nil) != (werr != nil) || !sameTime(got, want) {
			t.Errorf("%q: got %v (%v), general parser %v (%v)", v, got, gerr, want, werr)
		}
	}
}

// envelopeDate's fast path (asctime, no zone) gives what the general
// parser gives for the same line.
func TestEnvelopeDateFastPath(t *testing.T) {
	slow := func(line string) time.Time {
		f := strings.Fields(line)
		for _, n := range []int{5, 6, len(f) - 2} {
			if n >= 1 && n <= len(f)-2 {
				if t, err := parseDateSlow(strings.Join(f[len(f)-n:], " ")); err == nil {
					return t
				}
			}
		}
		return time.Time{}
	}
	for _, line := range []string{
		"From a@b Tue Jan  2 09:02:20 2024",
		"From a@b Tue Jan 12 09:02:20 2024",
		"From - Tue Jan  2 09:02:20 2024",
		"From a@b Tue Jan  2 09:02:20 +0100 2024",
		"From a@b Tue Jan  2 09:02:20 CET 2024",
		"From a@b Thu Feb 30 09:02:20 2024",
		"From a@b  Sat Dec 31 23:59:60 1999",
		"From MAILER-DAEMON Mon Jan  1 00:00:00 1900",
	} {
		if got, want := envelopeDate(line), slow(line); !sameTime(got, want) {
			t.Errorf("%q: got %v, general parser %v", line, got, want)
		}
	}
}
