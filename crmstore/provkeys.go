package crmstore

import (
	"database/sql"
	"errors"
	"fmt"
)

// Source keys (table provenance): each source item the store holds, by
// its kind and key (a file's path and the item's UID, Message-ID or
// place; an upstream record's id), names one provenance row. They are
// looked up by keyHash(kind, key), stored as provenance.kh and indexed by
// provenance_kh (migration 24), as identity keys are (keys.go): an index
// entry is about 18 bytes, where the unique index on (kind, key) took
// about 75 for a path#UUID key. A lookup compares kind and key too (two
// keys with one hash are two rows), and the writer keeps a key on one row:
// it inserts a row only where the lookup found none (Tx.saveProvenance,
// Tx.upstreamSource), and the inserts below refuse a key already held.
// While a bulk import defers provenance_kh, the run finds keys as
// bulkkeys.go says.

// peekSource scans into dest the row of query (its WHERE clause ends in
// the provenance row p's key test, which peekSource appends) for source
// key (kind, key); args are query's own, before the key test. It returns
// sql.ErrNoRows when no row holds the key.
func (t *Tx) peekSource(query string, args []any, kind, key string, dest ...any) error {
	h := keyHash(kind, key)
	if bk := t.s.provKeys.Load(); bk != nil {
		rows, err := t.keyRows(bk, h, t.keyBuf)
		t.keyBuf = rows
		if err != nil {
			return err
		}
		for _, r := range rows {
			err := t.peek(query+` p.id = ? AND p.kh = ? AND p.kind = ? AND p.key = ?`, append(args, r, h, kind, key)...).Scan(dest...)
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		return sql.ErrNoRows
	}
	return t.peek(query+` p.kh = ? AND p.kind = ? AND p.key = ?`, append(args, h, kind, key)...).Scan(dest...)
}

// sourceID returns the provenance row of source key (kind, key), 0 when
// none.
func (t *Tx) sourceID(kind, key string) (int64, error) {
	if t.pend.sources[kind+"\x00"+key] {
		if err := t.settle(); err != nil {
			return 0, err
		}
	}
	var id int64
	err := t.peekSource(`SELECT p.id FROM provenance p WHERE`, nil, kind, key, &id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("look up source %s %s: %w", kind, key, err)
	}
	return id, nil
}

// sourceHeld is the error of an insert of a source key a row already
// holds: the writer looked it up first, so it is a fault of the store's
// own code, never of the input.
func sourceHeld(kind, key string) error {
	return fmt.Errorf("source %s %s: already recorded", kind, key)
}

// upstreamSource returns the upstream provenance row of record id, made
// with version when missing; with update, an existing row takes version
// and now as well.
func (t *Tx) upstreamSource(id, version string, update bool) (int64, error) {
	provID, err := t.sourceID("upstream", id)
	if err != nil {
		return 0, err
	}
	if provID != 0 {
		if update {
			if _, err := t.exec(`UPDATE provenance SET record_id = ?, version = ?, seen_at = ? WHERE id = ?`, id, version, t.now, provID); err != nil {
				return 0, err
			}
		}
		return provID, nil
	}
	return t.insertSource(id, "upstream", id, version, "upstream", nil, nil)
}

// insertSource inserts a provenance row for source key (kind, key), which
// the caller looked up and found in no row, and returns its id.
func (t *Tx) insertSource(recID, kind, key, version, origin string, seq, stamp any) (int64, error) {
	if err := t.settle(); err != nil {
		return 0, err
	}
	h := keyHash(kind, key)
	bk := t.s.provKeys.Load()
	var id int64
	var err error
	if bk != nil {
		// provenance_kh is deferred: the check is the caller's lookup.
		err = t.queryRow(`INSERT INTO provenance (record_id, kind, key, kh, version, origin, seen_at, sequence, stamp) VALUES (?,?,?,?,?,?,?,?,?)
			RETURNING id`, recID, kind, key, h, version, origin, t.now, seq, stamp).Scan(&id)
	} else {
		err = t.queryRow(`INSERT INTO provenance (record_id, kind, key, kh, version, origin, seen_at, sequence, stamp)
			SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9
			WHERE NOT EXISTS (SELECT 1 FROM provenance WHERE kh = ?4 AND kind = ?2 AND key = ?3)
			RETURNING id`, recID, kind, key, h, version, origin, t.now, seq, stamp).Scan(&id)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return 0, sourceHeld(kind, key)
	}
	if err != nil {
		return 0, fmt.Errorf("insert provenance: %w", err)
	}
	if bk != nil {
		bk.add(h, id)
	}
	return id, nil
}
