// Package ics reads and writes iCalendar files (RFC 5545, and vCalendar 1.0
// as far as it goes): Reader turns each VEVENT into an appointment and each
// VTODO into a task, one component at a time, keeping only the current
// component and the file's VTIMEZONEs in memory. It parses content lines
// itself (with line numbers, vCalendar 1.0 quoted-printable, and lenient
// parameters) into go-ical's Prop and Component types instead of using
// go-ical's Decoder, which builds the whole calendar in memory, stops at the
// first malformed line, reports no line numbers and returns a bare io.EOF
// for a truncated file. Times with a TZID are resolved through the file's
// VTIMEZONE rules, then through package wintz (IANA, Windows ids and display
// names), never through go-ical's Prop.DateTime, which ignores VTIMEZONE.
package ics
