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
	return &f, nil
}

// SetSourceFile records a file as imported, in the batch that finished it.
func (t *Tx) SetSourceFile(f SourceFile) error {
	_, err := t.exec(`INSERT INTO sourcefile (path, size, mtime, sha256, kind, items, failed, imported_at) VALUES (?,?,?,?,?,?,?,?)
		ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime = excluded.mtime, sha256 = excluded.sha256, kind = excluded.kind,
		items = excluded.items, failed = excluded.failed, imported_at = excluded.imported_at`,
		f.Path, f.Size, f.MTime.UTC().Format(time.RFC3339Nano), f.SHA256, f.Kind, f.Items, f.Failed, t.now)
	return err
}
