package wintz

import (
	"testing"
	"time"
)

// TestRulesFollowZone derives each zone's TZRULEs from Go's tz data over
// a span of years, rebuilds a location from them alone (through a
// TZDEFINITION and back), and compares the UTC offset of every hour of the
// span with the zone's: the rules must carry the zone's history — the US
// and Australian date changes of 2007/2008, Brazil's varying dates and
// its end of daylight time in 2019, Turkey's and Russia's moves to
// permanent offsets — as one rule per change.
func TestRulesFollowZone(t *testing.T) {
	for _, tc := range []struct {
		zone     string
		from, to int
		minRules int
	}{
		{"Europe/Berlin", 1996, 2030, 1},
		{"America/New_York", 2000, 2030, 2},
		{"Australia/Sydney", 2000, 2030, 2},
		{"America/Sao_Paulo", 2010, 2030, 3},
		{"Europe/Istanbul", 2010, 2025, 3},
		{"Europe/Moscow", 2008, 2020, 3},
		{"Asia/Tokyo", 2000, 2030, 1},
		{"Asia/Kolkata", 2000, 2030, 1},
	} {
		t.Run(tc.zone, func(t *testing.T) {
			loc, err := time.LoadLocation(tc.zone)
			if err != nil {
				t.Fatal(err)
			}
			rules := Rules(loc, tc.from, tc.to)
			if len(rules) < tc.minRules || len(rules) > 1024 {
				t.Errorf("%d rules, want at least %d", len(rules), tc.minRules)
			}
			key, back, recur, err := ParseDefinition(Definition("Test Zone", rules, len(rules)-1, true))
			if err != nil || key != "Test Zone" || recur != len(rules)-1 || len(back) != len(rules) {
				t.Fatalf("definition read back: %q, %d rules, recur %d, %v", key, len(back), recur, err)
			}
			for i := range rules {
				if back[i] != rules[i] {
					t.Fatalf("rule %d read back as %+v, want %+v", i, back[i], rules[i])
				}
			}
			got, err := RulesLocation("Test Zone", back)
			if err != nil {
				t.Fatal(err)
			}
			bad := 0
			for at := time.Date(tc.from, 1, 1, 0, 0, 0, 0, loc); at.Year() <= tc.to+5; at = at.Add(time.Hour) {
				_, want := at.In(loc).Zone()
				_, off := at.In(got).Zone()
				if off != want {
					if bad++; bad <= 5 {
						t.Errorf("%s: offset %d, want %d", at.UTC().Format(time.RFC3339), off, want)
					}
				}
			}
			if bad > 5 {
				t.Errorf("%d hours with a wrong offset", bad)
			}
		})
	}
}

// TestYearRuleWindowsForm checks the rule of years with daylight time in
// the form Windows writes (MS-OXOCAL 2.2.1.41.1 with the SYSTEMTIME
// day-in-month form): Berlin 2024 from the last Sunday of March 02:00 to
// the last Sunday of October 03:00, bias -60, daylight bias -60; Brazil
// 2019, which left daylight time on February 17 for good: daylight time
// from January 1 00:00 (a Tuesday) to the third Sunday of February 00:00.
func TestYearRuleWindowsForm(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	want := Rule{Year: 2024, Bias: -60, DstBias: -60, Dst: [8]uint16{0, 3, 0, 5, 2, 0, 0, 0}, Std: [8]uint16{0, 10, 0, 5, 3, 0, 0, 0}}
	if got := YearRule(berlin, 2024); got != want {
		t.Errorf("Berlin 2024: %+v, want %+v", got, want)
	}
	sp, _ := time.LoadLocation("America/Sao_Paulo")
	want = Rule{Year: 2019, Bias: 180, DstBias: -60, Dst: [8]uint16{0, 1, 2, 1, 0, 0, 0, 0}, Std: [8]uint16{0, 2, 0, 3, 0, 0, 0, 0}}
	if got := YearRule(sp, 2019); got != want {
		t.Errorf("Sao Paulo 2019: %+v, want %+v", got, want)
	}
}

// FuzzParseDefinition reads raw bytes as a TZDEFINITION: no panic; what
// reads encodes back to a definition that reads the same, and its rules
// give a location (or a clear error) without hanging.
func FuzzParseDefinition(f *testing.F) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	sp, _ := time.LoadLocation("America/Sao_Paulo")
	f.Add(Definition("W. Europe Standard Time", Rules(berlin, 2020, 2024), 0, true))
	f.Add(Definition("E. South America Standard Time", Rules(sp, 2015, 2022), 2, false))
	f.Add([]byte{0x02, 0x01, 0x06, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		key, rules, recur, err := ParseDefinition(b)
		if err != nil {
			return
		}
		k2, r2, recur2, err := ParseDefinition(Definition(key, rules, recur, recur >= 0))
		if err != nil || k2 != key || len(r2) != len(rules) || recur2 != recur {
			t.Fatalf("re-encoded: %q %d rules recur %d (%v), want %q %d rules recur %d", k2, len(r2), recur2, err, key, len(rules), recur)
		}
		for i := range rules {
			if r2[i] != rules[i] {
				t.Fatalf("rule %d: %+v, want %+v", i, r2[i], rules[i])
			}
		}
		if len(rules) <= 8 {
			_, _ = RulesLocation(key, rules) // must only return
		}
	})
}
