package crmstore

import (
	"context"
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
	rows, err := s.db.QueryContext(ctx, `SELECT entity, COUNT(*) FROM record WHERE deleted = 0 GROUP BY entity`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var e string
		var n int
		if err := rows.Scan(&e, &n); err != nil {
			rows.Close()
			return nil, err
		}
		st.Records[crm.Entity(e)] = n
	}
	rows.Close()
	rows, err = s.db.QueryContext(ctx, `SELECT kind, COUNT(*) FROM provenance GROUP BY kind`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			rows.Close()
			return nil, err
		}
		st.Sources[k] = n
	}
	rows.Close()
	row := s.db.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM sourcefile WHERE kind <> 'none'),
		(SELECT COUNT(*) FROM outbox WHERE state = 'pending'),
		(SELECT COUNT(*) FROM outbox WHERE state = 'inflight'),
		(SELECT COUNT(*) FROM outbox WHERE state = 'dead'),
		(SELECT COALESCE(MIN(created_at), '') FROM outbox WHERE state IN ('pending', 'inflight')),
		(SELECT COUNT(*) FROM conflict WHERE resolved_at = ''),
		(SELECT COALESCE(MAX(seq), 0) FROM journal),
		(SELECT COUNT(*) FROM attachment),
		(SELECT COALESCE(SUM(size), 0) FROM blob)`)
	var oldest string
	if err := row.Scan(&st.Files, &st.Outbox.Pending, &st.Outbox.InFlight, &st.Outbox.Dead, &oldest, &st.Conflicts, &st.JournalSeq, &st.Attachments, &st.BlobBytes); err != nil {
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
	runs, err := s.Runs(ctx, 1)
	if err != nil {
		return nil, err
	}
	if len(runs) > 0 {
		st.LastRun = &runs[0]
	}
	return st, nil
}
