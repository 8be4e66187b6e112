package wintz

import (
	"errors"
	"testing"
	"time"
)

func TestIANA(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Pacific Standard Time", "America/Los_Angeles"},
		{"W. Europe Standard Time", "Europe/Berlin"},
		{"w. europe standard time", "Europe/Berlin"},
		{"Romance Standard Time", "Europe/Paris"},
		{"GMT Standard Time", "Europe/London"},
		{"Eastern Standard Time", "America/New_York"},
		{"Central Standard Time", "America/Chicago"},
		{"Tokyo Standard Time", "Asia/Tokyo"},
		{"India Standard Time", "Asia/Calcutta"},
		{"AUS Eastern Standard Time", "Australia/Sydney"},
		{"China Standard Time", "Asia/Shanghai"},
		{"Russian Standard Time", "Europe/Moscow"},
		{"E. South America Standard Time", "America/Sao_Paulo"},
		{"UTC", "Etc/UTC"},
		{"Mid-Atlantic Standard Time", "Etc/GMT+2"}, // legacy id
		{"(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna", "Europe/Berlin"},
		{"(GMT+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna", "Europe/Berlin"},
		{"(UTC-08:00) Pacific Time (US & Canada)", "America/Los_Angeles"},
		{"(UTC-05:00) Eastern Time (US and Canada)", "America/New_York"},
		{"Canberra, Melbourne, Sydney", "Australia/Sydney"}, // Outlook 2003 TZID
		{"Hawaii", "Pacific/Honolulu"},
	}
	for _, tt := range tests {
		got, ok := IANA(tt.in)
		if !ok || got != tt.want {
			t.Errorf("IANA(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
	for _, bad := range []string{"", "Europe/Berlin", "Nowhere Standard Time", "Amsterdam, Berlin", "UTC-0"} {
		if got, ok := IANA(bad); ok {
			t.Errorf("IANA(%q) = %q, want no mapping", bad, got)
		}
	}
}

func TestWindows(t *testing.T) {
	if got, ok := Windows("Europe/Berlin"); !ok || got != "W. Europe Standard Time" {
		t.Errorf("Windows(Europe/Berlin) = %q, %v", got, ok)
	}
	if _, ok := Windows("Europe/Amsterdam"); ok {
		t.Errorf("Windows(Europe/Amsterdam): not a golden zone, want no mapping")
	}
}

// TestTableLoads checks that every zone of the typed table exists in the
// embedded IANA database and that the display name's offset matches the
// zone's standard offset (January or July, whichever is smaller, because
// the display names give standard time).
func TestTableLoads(t *testing.T) {
	seen := map[string]bool{}
	for _, z := range zones {
		if seen[z.windows] {
			t.Errorf("duplicate Windows id %q", z.windows)
		}
		seen[z.windows] = true
		loc, err := time.LoadLocation(z.iana)
		if err != nil {
			t.Errorf("%s: %v", z.iana, err)
			continue
		}
		want, ok := parseOffset(z.display)
		if !ok {
			t.Errorf("%s: display name %q has no offset", z.windows, z.display)
			continue
		}
		// Standard offset in 2021 (the table's typeVersion).
		_, jan := time.Date(2021, 1, 15, 12, 0, 0, 0, loc).Zone()
		_, jul := time.Date(2021, 7, 15, 12, 0, 0, 0, loc).Zone()
		std := min(jan, jul)
		if z.iana == "Europe/Volgograd" {
			continue // moved from +04 to +03 in December 2020; CLDR's comment predates it
		}
		if std != want && jan != want && jul != want {
			t.Errorf("%s (%s): display offset %d, zone offsets %d/%d", z.windows, z.iana, want, jan, jul)
		}
	}
	if len(zones) < 130 {
		t.Errorf("only %d zones in the table", len(zones))
	}
}

func TestLocation(t *testing.T) {
	tests := []struct {
		in     string
		name   string // want loc.String(), or "" to check offset only
		offset int    // seconds east at 2024-01-15 12:00 UTC
	}{
		{"W. Europe Standard Time", "Europe/Berlin", 3600},
		{`"W. Europe Standard Time"`, "Europe/Berlin", 3600},
		{" Pacific Standard Time ", "America/Los_Angeles", -8 * 3600},
		{"Europe/Amsterdam", "Europe/Amsterdam", 3600},
		{"/mozilla.org/20050126_1/America/New_York", "America/New_York", -5 * 3600},
		{"/freeassociation.sourceforge.net/Tzfile/Europe/London", "Europe/London", 0},
		{"US/Eastern", "US/Eastern", -5 * 3600},
		{"(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna", "Europe/Berlin", 3600},
		// Not the table's spelling: the first city that names a zone.
		{"(UTC+01:00) Stockholm, Somewhere", "Europe/Stockholm", 3600},
		{"(UTC+05:30) Nowhere City", "", 5*3600 + 1800},
		{"GMT-0300", "", -3 * 3600},
		{"UTC", "Etc/UTC", 0},
	}
	at := time.Date(2024, 1, 15, 12, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		loc, err := Location(tt.in)
		if err != nil {
			t.Errorf("Location(%q): %v", tt.in, err)
			continue
		}
		if tt.name != "" && loc.String() != tt.name {
			t.Errorf("Location(%q) = %s, want %s", tt.in, loc, tt.name)
		}
		if _, off := at.In(loc).Zone(); off != tt.offset {
			t.Errorf("Location(%q) offset %d, want %d", tt.in, off, tt.offset)
		}
	}
	for _, bad := range []string{"", "Local", "Nowhere Standard Time", "../../etc/passwd", "Mars/Olympus_Mons", "(UTC+25:00) x"} {
		if loc, err := Location(bad); err == nil {
			t.Errorf("Location(%q) = %v, want error", bad, loc)
		} else if !errors.Is(err, ErrUnknown) {
			t.Errorf("Location(%q) error %v does not wrap ErrUnknown", bad, err)
		}
	}
}

// TestLoadIANARemembers: a zone loaded once is not read again, whether it
// exists or not, and gives time.LoadLocation's answer.
func TestLoadIANARemembers(t *testing.T) {
	for _, name := range []string{"America/New_York", "Europe/Berlin", "No/Such_Zone"} {
		want, wantErr := time.LoadLocation(name)
		got, err := LoadIANA(name)
		if (err != nil) != (wantErr != nil) || err == nil && got.String() != want.String() {
			t.Fatalf("LoadIANA(%q) = %v, %v; time.LoadLocation: %v, %v", name, got, err, want, wantErr)
		}
		if allocs := testing.AllocsPerRun(100, func() { LoadIANA(name) }); allocs != 0 {
			t.Errorf("LoadIANA(%q) again: %.0f allocations, want 0 (read from the zone file again?)", name, allocs)
		}
		if again, _ := LoadIANA(name); again != got {
			t.Errorf("LoadIANA(%q) gave another *time.Location the second time", name)
		}
	}
}
