package crmstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrExists is returned by Backup when the destination already exists.
var ErrExists = errors.New("crmstore: file exists")

// Backup writes a consistent copy of the store to dest while it may be in
// use (SQLite's VACUUM INTO reads one snapshot; writers are not blocked).
// The copy is made in a private (0700) directory next to dest, made 0600
// and synced, then renamed into place, so dest never exists half-written
// or readable by others. An existing dest is refused with ErrExists.
func (s *Store) Backup(ctx context.Context, dest string) error {
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Errorf("backup to %s: %w", dest, ErrExists)
	}
	tmpDir, err := os.MkdirTemp(filepath.Dir(dest), ".crmbridge-backup-*")
	if err != nil {
		return fmt.Errorf("backup to %s: %w", dest, err)
	}
	defer os.RemoveAll(tmpDir)
	tmp := filepath.Join(tmpDir, "crm.db")
	if _, err := s.db.ExecContext(ctx, "VACUUM INTO ?", tmp); err != nil {
		return fmt.Errorf("backup to %s: %w", dest, err)
	}
	f, err := os.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("backup to %s: %w", dest, err)
	}
	err = f.Chmod(0o600)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("backup to %s: %w", dest, err)
	}
	// link, not rename: a dest created meanwhile is not replaced.
	if err := os.Link(tmp, dest); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("backup to %s: %w", dest, ErrExists)
		}
		return fmt.Errorf("backup to %s: %w", dest, err)
	}
	if d, err := os.Open(filepath.Dir(dest)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
