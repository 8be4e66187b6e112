package crmstore

import (
	"context"
	"database/sql"
	"fmt"

	"crmbridge/crm"
)

// JournalSeq returns the sequence number of the last journal entry.
func (s *Store) JournalSeq(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM journal`).Scan(&n)
	return n, err
}

// Watermark returns the journal sequence number up to which target (e.g.
// "vcf:/home/me/out.vcf") has been written, 0 if never.
func (s *Store) Watermark(ctx context.Context, target string) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT journal_seq FROM watermark WHERE target = ?`, target).Scan(&n)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	return n, err
}

// SetWatermark records that target holds every change up to seq. Call it
// in the transaction that follows the files being complete on disk.
func (t *Tx) SetWatermark(target string, seq int64) error {
	_, err := t.exec(`INSERT INTO watermark (target, journal_seq, at) VALUES (?,?,?)
		ON CONFLICT (target) DO UPDATE SET journal_seq = excluded.journal_seq, at = excluded.at`, target, seq, t.now)
	if err != nil {
		return fmt.Errorf("set watermark %s: %w", target, err)
	}
	return nil
}

// ChangedSince returns the ids of records of the given entities with
// journal entries in (after, upto] that did not come from target itself
// (origin equal to target, or below it: "vcf:/dir" covers
// "vcf:/dir/a.vcf"), so an export never echoes back what its own target
// gave. Deleted records are included; ids come in journal order.
func (s *Store) ChangedSince(ctx context.Context, entities []crm.Entity, after, upto int64, target string) ([]string, error) {
	if len(entities) == 0 {
		return nil, nil
	}
	q, args := changedQuery(entities, after, upto, target)
	ids, err := s.ids(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("changed records: %w", err)
	}
	return ids, nil
}

// IDs returns the ids of all live records of the given entities, oldest
// first.
func (s *Store) IDs(ctx context.Context, entities []crm.Entity) ([]string, error) {
	if len(entities) == 0 {
		return nil, nil
	}
	q, args := idsQuery(entities)
	return s.ids(ctx, q, args...)
}

func (s *Store) ids(ctx context.Context, q string, args ...any) ([]string, error) {
	return scanIDs(s.db.QueryContext(ctx, q, args...))
}

// scanIDs reads the first column of every row as a record id and closes
// the rows.
func scanIDs(rows *sql.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
