package crmstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
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
func (s *Store) ChangedSince(ctx context.Context, entities []Entity, after, upto int64, target string) ([]string, error) {
	if len(entities) == 0 {
		return nil, nil
	}
	args := []any{after, upto, target, strings.ReplaceAll(strings.ReplaceAll(target, `\`, `\\`), `%`, `\%`) + "/%"}
	in := make([]string, len(entities))
	for i, e := range entities {
		in[i] = "?"
		args = append(args, string(e))
	}
	rows, err := s.db.QueryContext(ctx, `SELECT record_id, MIN(seq) FROM journal
		WHERE seq > ? AND seq <= ? AND origin != ? AND origin NOT LIKE ? ESCAPE '\'
		  AND entity IN (`+strings.Join(in, ",")+`)
		GROUP BY record_id ORDER BY MIN(seq)`, args...)
	if err != nil {
		return nil, fmt.Errorf("changed records: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		var seq int64
		if err := rows.Scan(&id, &seq); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// IDs returns the ids of all live records of the given entities, oldest
// first.
func (s *Store) IDs(ctx context.Context, entities []Entity) ([]string, error) {
	if len(entities) == 0 {
		return nil, nil
	}
	args := make([]any, len(entities))
	in := make([]string, len(entities))
	for i, e := range entities {
		in[i] = "?"
		args[i] = string(e)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM record WHERE deleted = 0 AND entity IN (`+strings.Join(in, ",")+`) ORDER BY created_at, id`, args...)
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

// Conflict is one recorded conflict: a field changed both in the store and
// by a source.
type Conflict struct {
	ID            int64     `json:"id"`
	RecordID      string    `json:"record_id"`
	Entity        Entity    `json:"entity"`
	Field         string    `json:"field"`
	LocalValue    string    `json:"local_value"`
	LocalAt       time.Time `json:"local_at"`
	LocalBy       string    `json:"local_by"`
	IncomingValue string    `json:"incoming_value"`
	IncomingAt    time.Time `json:"incoming_at"`
	IncomingBy    string    `json:"incoming_by"`
	Policy        string    `json:"policy"`
	Winner        string    `json:"winner"` // local | incoming | none (open)
	At            time.Time `json:"at"`
	Resolved      bool      `json:"resolved"`
}

// Conflicts lists conflicts, newest first; open ones only unless all.
func (s *Store) Conflicts(ctx context.Context, all bool) ([]Conflict, error) {
	q := `SELECT c.id, c.record_id, r.entity, c.field, c.local_value, c.local_at, c.local_by, c.incoming_value, c.incoming_at, c.incoming_by,
		c.policy, c.winner, c.at, c.resolved_at FROM conflict c JOIN record r ON r.id = c.record_id`
	if !all {
		q += ` WHERE c.resolved_at = ''`
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY c.id DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Conflict
	for rows.Next() {
		var c Conflict
		var ent, la, ia, at, res string
		if err := rows.Scan(&c.ID, &c.RecordID, &ent, &c.Field, &c.LocalValue, &la, &c.LocalBy, &c.IncomingValue, &ia, &c.IncomingBy,
			&c.Policy, &c.Winner, &at, &res); err != nil {
			return nil, err
		}
		c.Entity = Entity(ent)
		c.LocalAt, _ = time.Parse(time.RFC3339Nano, la)
		c.IncomingAt, _ = time.Parse(time.RFC3339Nano, ia)
		c.At, _ = time.Parse(time.RFC3339Nano, at)
		c.Resolved = res != ""
		out = append(out, c)
	}
	return out, rows.Err()
}

// ResolveConflict settles conflict id: take "local" keeps (or restores)
// the store's value at the time of the conflict, "incoming" applies the
// source's value. The change is journaled and queued like a CLI edit.
func (t *Tx) ResolveConflict(id int64, take, origin string) error {
	if take != "local" && take != "incoming" {
		return fmt.Errorf("resolve: take local or incoming, not %q", take)
	}
	var recID, field, local, incoming string
	if err := t.queryRow(`SELECT record_id, field, local_value, incoming_value FROM conflict WHERE id = ?`, id).Scan(&recID, &field, &local, &incoming); err != nil {
		return fmt.Errorf("conflict %d: %w", id, ErrNotFound)
	}
	value := local
	if take == "incoming" {
		value = incoming
	}
	if !strings.HasPrefix(field, "_") {
		if _, err := t.Set(recID, map[string]string{field: value}, origin); err != nil {
			return err
		}
	} else if take == "incoming" {
		return fmt.Errorf("conflict %d is on %s: re-import the source with --conflict incoming to take it", id, strings.TrimPrefix(field, "_"))
	}
	_, err := t.exec(`UPDATE conflict SET winner = ?, resolved_at = ? WHERE id = ?`, take, t.now, id)
	return err
}
