package crmstore

import (
	"context"
	"strings"
	"time"

	"crmbridge/crm"
)

// Status summarizes the store.
type Status struct {
	Path    string             `json:"path"`
	Schema  int                `json:"schema_version"`
	Records map[crm.Entity]int `json:"records"`
	Sources map[string]int     `json:"sources"` // provenance rows per source kind
	Files   int                `json:"files_imported"`
	// KnownProblems are the remembered problems of imported files that
	// were unchanged since (import --recheck reads them again).
	KnownProblems []SourceProblem `json:"known_problems"`
	Outbox        OutboxStatus    `json:"outbox"`
	Conflicts     int             `json:"conflicts_open"`
	JournalSeq    int64           `json:"journal_seq"`
	LastRun       *Run            `json:"last_run,omitempty"`
	Attachments   int             `json:"attachments"`
	BlobBytes     int64           `json:"attachment_bytes"`
	// DeferredIndexes are the indexes a bulk import dropped and has not
	// built again yet: it is running, or it was killed and the next
	// command that writes builds them. Reads are correct meanwhile, some
	// slower.
	DeferredIndexes []string `json:"deferred_indexes"`
}

// OutboxStatus counts outbox entries by state. OldestPending is when the
// oldest entry not yet confirmed upstream (pending or in flight, not dead)
// was queued.
type OutboxStatus struct {
	Pending       int        `json:"pending"`
	InFlight      int        `json:"in_flight"`
	Dead          int        `json:"dead"`
	OldestPending *time.Time `json:"oldest_pending,omitempty"`
}

// Status returns counts of records, sources, outbox and the last run.
func (s *Store) Status(ctx context.Context) (*Status, error) {
	st := &Status{Path: s.path, Records: map[crm.Entity]int{}, Sources: map[string]int{}}
	var err error
	if st.Schema, err = s.SchemaVersion(ctx); err != nil {
		return nil, err
	}
	// The counts come from the tally (migration 13), which triggers keep
	// in step with the rows: reading it costs the same at any size.
	rows, err := s.db.QueryContext(ctx, `SELECT name, n FROM tally WHERE n != 0`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			rows.Close()
			return nil, err
		}
		kind, key, _ := strings.Cut(name, ":")
		switch kind {
		case "record":
			st.Records[crm.Entity(key)] = int(n)
		case "source":
			st.Sources[key] = int(n)
		case "outbox":
			switch key {
			case "pending":
				st.Outbox.Pending = int(n)
			case "inflight":
				st.Outbox.InFlight = int(n)
			case "dead":
				st.Outbox.Dead = int(n)
			}
		case "attachment":
			st.Attachments = int(n)
		case "blob_bytes":
			st.BlobBytes = n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Each MIN reads one entry of the index outbox_state.
	row := s.db.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM sourcefile WHERE kind <> 'none'),
		(SELECT COALESCE(MIN(m), '') FROM (SELECT MIN(created_at) AS m FROM outbox WHERE state = 'pending'
			UNION ALL SELECT MIN(created_at) FROM outbox WHERE state = 'inflight')),
		(SELECT COUNT(*) FROM conflict WHERE resolved_at = ''),
		(SELECT COALESCE(MAX(seq), 0) FROM journal)`)
	var oldest string
	if err := row.Scan(&st.Files, &oldest, &st.Conflicts, &st.JournalSeq); err != nil {
		return nil, err
	}
	if oldest != "" {
		if t, err := time.Parse(time.RFC3339Nano, oldest); err == nil {
			st.Outbox.OldestPending = &t
		}
	}
	if st.KnownProblems, err = s.KnownProblems(ctx); err != nil {
		return nil, err
	}
	if st.DeferredIndexes, err = s.DeferredIndexes(ctx); err != nil {
		return nil, err
	}
	if st.DeferredIndexes == nil {
		st.DeferredIndexes = []string{}
	}
	runs, err := s.Runs(ctx, 1)
	if err != nil {
		return nil, err
	}
	if len(runs) > 0 {
		st.LastRun = &runs[0]
	}
	return st, nil
}
