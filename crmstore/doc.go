// Package crmstore persists crm records in one SQLite file: the schema and
// its forward-only migrations, the three-way field merge of incoming
// versions (apply.go), CLI edits (edit.go), parties and attachments, the
// journal and per-target export watermarks (watermark.go), conflicts, the
// outbox of changes for the upstream (outbox.go) and what comes back from
// it (upstream.go), import runs and source files, and the write lock.
//
// A Store is safe for concurrent use; a Tx is one write transaction and is
// not. Writes need the lock that Open takes with Options.Write.
package crmstore
