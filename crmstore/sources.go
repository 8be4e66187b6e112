package crmstore

import (
	"context"
	"database/sql"
	"time"
)

// SourceFile is the fingerprint of an imported file.
type SourceFile struct {
	Path   string
	Size   int64
	MTime  time.Time
	SHA256 string
	Kind   string
	Items  int
	Failed int
	// Problems are the file's problems (items or values lost), kept while
	// the file is unchanged: see Store.KnownProblems.
	Problems []string
}

// KindNone is the kind of a file found in an imported folder that holds
// no data crmbridge reads (a README, .DS_Store): remembered so that it is
// noted once, not on every run.
const KindNone = "none"

// SourceProblem is a remembered problem of an imported file.
type SourceProblem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// SourceFile returns what the store knows of an imported file.
func (s *Store) SourceFile(ctx context.Context, path string) (*SourceFile, error) {
	var f SourceFile
	var mt string
	err := s.db.QueryRowContext(ctx, `SELECT path, size, mtime, sha256, kind, items, failed FROM sourcefile WHERE path = ?`, path).
		Scan(&f.Path, &f.Size, &mt, &f.SHA256, &f.Kind, &f.Items, &f.Failed)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	f.MTime, _ = time.Parse(time.RFC3339Nano, mt)
	rows, err := s.db.QueryContext(ctx, `SELECT message FROM sourceproblem WHERE path = ? ORDER BY ord`, path)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return nil, err
		}
		f.Problems = append(f.Problems, m)
	}
	return &f, rows.Err()
}

// KnownProblems returns the remembered problems of every imported file, by
// path and order.
func (s *Store) KnownProblems(ctx context.Context) ([]SourceProblem, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT path, message FROM sourceproblem ORDER BY path, ord`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []SourceProblem{}
	for rows.Next() {
		var p SourceProblem
		if err := rows.Scan(&p.Path, &p.Message); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// SetSourceFile records a file as imported, in the batch that finished it.
func (t *Tx) SetSourceFile(f SourceFile) error {
	_, err := t.exec(`INSERT INTO sourcefile (path, size, mtime, sha256, kind, items, failed, imported_at) VALUES (?,?,?,?,?,?,?,?)
		ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime = excluded.mtime, sha256 = excluded.sha256, kind = excluded.kind,
		items = excluded.items, failed = excluded.failed, imported_at = excluded.imported_at`,
		f.Path, f.Size, f.MTime.UTC().Format(time.RFC3339Nano), f.SHA256, f.Kind, f.Items, f.Failed, t.now)
	if err != nil {
		return err
	}
	if _, err := t.exec(`DELETE FROM sourceproblem WHERE path = ?`, f.Path); err != nil {
		return err
	}
	rows := make([][]any, len(f.Problems))
	for i, m := range f.Problems {
		rows[i] = []any{f.Path, i + 1, m}
	}
	return t.execRows(`INSERT INTO sourceproblem (path, ord, message)`, "", rows)
}
