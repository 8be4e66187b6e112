// Package outlookcsv writes CRM contacts and tasks in the CSV format that
// Outlook's Import and Export wizard writes and reads ("Comma Separated
// Values"): Outlook's own English column headers in Outlook's order, every
// field quoted, CRLF line ends, dates as M/D/YYYY, and UTF-8 with a byte
// order mark, which is how Outlook recognises UTF-8 (without it, it reads
// the file in the ANSI code page).
package outlookcsv
