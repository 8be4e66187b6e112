// Package crm is the CRM model that every other package speaks: records
// of Dataverse entities (contact, account, email, task, appointment, ...)
// with their fields as canonical text, activity parties, attachments, list
// members, the field schema with its value parsing, and the provenance of
// an imported version (SourceRef, Incoming).
//
// It knows no SQL, no file format and no Outlook: crmstore persists crm
// records, the format packages under bridge read and write them, and the
// upstream client sends them.
package crm
