package crmstore

import (
	"cmp"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"crmbridge/crm"
)

// ExportedFile is a file an export target wrote: its absolute path, what
// it holds (a record id, "uid:" and a UID for a calendar object, or ""
// when the file is the whole target) and the SHA-256 (hex) of the bytes
// written. A target overwrites or removes only files it finds unchanged
// since it wrote them.
type ExportedFile struct {
	Path   string
	Item   string
	SHA256 string
}

// ExportedFiles returns the files target wrote, by path, as of the
// snapshot.
func (sn *Snapshot) ExportedFiles(target string) (map[string]ExportedFile, error) {
	rows, err := sn.t.query(`SELECT path, item, sha256 FROM exportfile WHERE target = ?`, target)
	if err != nil {
		return nil, fmt.Errorf("exported files of %s: %w", target, err)
	}
	defer rows.Close()
	out := map[string]ExportedFile{}
	for rows.Next() {
		var f ExportedFile
		if err := rows.Scan(&f.Path, &f.Item, &f.SHA256); err != nil {
			return nil, err
		}
		out[f.Path] = f
	}
	return out, rows.Err()
}

// ExportedFile returns what the store knows of the file at path (written
// by any target), and whether it knows it.
func (sn *Snapshot) ExportedFile(path string) (ExportedFile, bool, error) {
	var f ExportedFile
	err := sn.t.queryRow(`SELECT path, item, sha256 FROM exportfile WHERE path = ?`, path).Scan(&f.Path, &f.Item, &f.SHA256)
	if err == sql.ErrNoRows {
		return f, false, nil
	}
	if err != nil {
		return f, false, fmt.Errorf("exported file %s: %w", path, err)
	}
	return f, true, nil
}

// RecordExport records what an export to target did: the files written
// (or rewritten), the files removed, and the journal sequence number the
// target now holds. Call it in the transaction that follows the files
// being complete on disk.
func (t *Tx) RecordExport(target string, seq int64, written []ExportedFile, removed []string) error {
	if err := t.RecordFiles(target, written, removed); err != nil {
		return err
	}
	return t.SetWatermark(target, seq)
}

// RecordFiles records the files an export to target wrote (or rewrote)
// and removed, without moving its watermark: a batch of a folder target.
func (t *Tx) RecordFiles(target string, written []ExportedFile, removed []string) error {
	for _, p := range removed {
		if _, err := t.exec(`DELETE FROM exportfile WHERE path = ?`, p); err != nil {
			return fmt.Errorf("forget exported file %s: %w", p, err)
		}
	}
	for _, f := range written {
		if _, err := t.exec(`INSERT INTO exportfile (path, target, item, sha256, at) VALUES (?,?,?,?,?)
			ON CONFLICT (path) DO UPDATE SET target = excluded.target, item = excluded.item, sha256 = excluded.sha256, at = excluded.at`,
			f.Path, target, f.Item, f.SHA256, t.now); err != nil {
			return fmt.Errorf("remember exported file %s: %w", f.Path, err)
		}
	}
	return nil
}

// JournalSeq returns the sequence number of the last journal entry, as of
// the snapshot.
func (sn *Snapshot) JournalSeq() (int64, error) {
	var n int64
	err := sn.t.queryRow(`SELECT COALESCE(MAX(seq), 0) FROM journal`).Scan(&n)
	return n, err
}

// Watermark is Store.Watermark as of the snapshot.
func (sn *Snapshot) Watermark(target string) (int64, error) {
	var n int64
	err := sn.t.queryRow(`SELECT journal_seq FROM watermark WHERE target = ?`, target).Scan(&n)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	return n, err
}

// IDs is Store.IDs as of the snapshot. It sorts in Go what idsQuery
// sorts in SQL (created_at, then id, both compared as bytes as SQLite's
// BINARY collation does): SQLite's sorter took a tenth of an export of
// 100,000 contacts, and no index gives that order.
func (sn *Snapshot) IDs(entities []crm.Entity) ([]string, error) {
	if len(entities) == 0 {
		return nil, nil
	}
	args := make([]any, len(entities))
	for i, e := range entities {
		args[i] = string(e)
	}
	rows, err := sn.t.tx.QueryContext(sn.t.ctx, `SELECT concat(id, char(0), created_at) FROM record WHERE deleted = 0 AND entity IN (`+placeholders(len(entities))+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type rec struct{ id, created string }
	var recs []rec
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		i := strings.LastIndexByte(s, 0) // created_at holds no NUL byte
		if i < 0 {
			return nil, fmt.Errorf("record ids: bad row %q", s)
		}
		recs = append(recs, rec{s[:i], s[i+1:]})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(recs, func(a, b rec) int {
		return cmp.Or(strings.Compare(a.created, b.created), strings.Compare(a.id, b.id))
	})
	var ids []string
	if len(recs) > 0 {
		ids = make([]string, len(recs))
	}
	for i, r := range recs {
		ids[i] = r.id
	}
	return ids, nil
}

// ChangedSince is Store.ChangedSince as of the snapshot.
func (sn *Snapshot) ChangedSince(entities []crm.Entity, after, upto int64, target string) ([]string, error) {
	if len(entities) == 0 {
		return nil, nil
	}
	q, args := changedQuery(entities, after, upto, target)
	ids, err := sn.ids(q, args...)
	if err != nil {
		return nil, fmt.Errorf("changed records: %w", err)
	}
	return ids, nil
}

// SameUID returns the ids of the live records of the given entities
// whose uid field is uid (a series master and its exceptions), oldest
// first.
func (sn *Snapshot) SameUID(entities []crm.Entity, uid string) ([]string, error) {
	args := []any{uid}
	for _, e := range entities {
		args = append(args, string(e))
	}
	return sn.ids(`SELECT r.id FROM activity a JOIN record r ON r.id = a.id
		WHERE a.uid = ? AND r.deleted = 0 AND r.entity IN (`+placeholders(len(entities))+`) ORDER BY r.created_at, r.id`, args...)
}

func (sn *Snapshot) ids(q string, args ...any) ([]string, error) {
	return scanIDs(sn.t.tx.QueryContext(sn.t.ctx, q, args...))
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func idsQuery(entities []crm.Entity) (string, []any) {
	args := make([]any, len(entities))
	for i, e := range entities {
		args[i] = string(e)
	}
	return `SELECT id FROM record WHERE deleted = 0 AND entity IN (` + placeholders(len(entities)) + `) ORDER BY created_at, id`, args
}

// changedQuery selects the ids of records with journal entries in
// (after, upto] that did not come from target itself (origin equal to
// target, or below it: "vcf:/dir" covers "vcf:/dir/a.vcf"), in journal
// order.
func changedQuery(entities []crm.Entity, after, upto int64, target string) (string, []any) {
	args := []any{after, upto, target, strings.ReplaceAll(strings.ReplaceAll(target, `\`, `\\`), `%`, `\%`) + "/%"}
	for _, e := range entities {
		args = append(args, string(e))
	}
	return `SELECT record_id FROM journal
		WHERE seq > ? AND seq <= ? AND origin != ? AND origin NOT LIKE ? ESCAPE '\'
		  AND entity IN (` + placeholders(len(entities)) + `)
		GROUP BY record_id ORDER BY MIN(seq)`, args
}

// ImportedSHA256 returns the SHA-256 (hex) of the file at path as it was
// last imported, "" if it never was, as of the snapshot.
func (sn *Snapshot) ImportedSHA256(path string) (string, error) {
	var sum string
	err := sn.t.queryRow(`SELECT sha256 FROM sourcefile WHERE path = ? AND failed = 0`, path).Scan(&sum)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return sum, err
}
