// Package ics reads and writes iCalendar files (RFC 5545, and vCalendar 1.0
// as far as it goes). Reader turns each VEVENT into an appointment and each
// VTODO into a task, one component at a time, keeping the current component
// and the file's VTIMEZONEs in memory; VJOURNAL and VFREEBUSY come back as
// *item.Error wrapping ErrSkipped, a file cut short as ErrTruncated. It
// parses content lines itself (line numbers, vCalendar 1.0 quoted-printable,
// lenient parameters) into go-ical's Prop and Component types instead of
// using go-ical's Decoder, which builds the whole calendar in memory, stops
// at the first malformed line, reports no line numbers and returns a bare
// io.EOF for a truncated file. A TZID that is an IANA name uses the IANA
// database; any other uses the file's VTIMEZONE rules, then package wintz
// (Windows ids and display names); go-ical's Prop.DateTime, which ignores
// VTIMEZONE, is never used. Encoder writes appointments and tasks as one
// METHOD:PUBLISH calendar, with a VTIMEZONE generated from Go's tz data for
// every TZID it uses, through go-ical's Encoder and a writer that folds
// lines at 75 octets.
package ics
