// Package wintz resolves the time zone names that calendar files carry to Go
// locations: IANA names ("Europe/Berlin", also behind the path prefixes some
// producers add, "/mozilla.org/20050126_1/Europe/Berlin"), Windows time zone
// ids as Outlook and Exchange write them ("W. Europe Standard Time"), Windows
// display names ("(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm,
// Vienna") and bare UTC offsets ("(UTC+01:00) somewhere", "GMT+0100").
// Windows ids map to IANA through CLDR's windowsZones table, typed as Go
// source in zones.go; the IANA database is embedded (time/tzdata), so the
// result does not depend on the machine's zoneinfo.
package wintz
