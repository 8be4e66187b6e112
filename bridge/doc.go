// Package bridge maps Outlook items to CRM records and back: it detects
// source files by content, reads them (PST through package pst, vCard,
// iCalendar, EML and mbox through its subpackages), applies each record to
// the store through the three-way field merge, and reports progress and
// per-item problems through a Reporter. It knows nothing of SQL.
package bridge
