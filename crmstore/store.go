package crmstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" driver (pure Go)
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrNoStore is returned by Open for a store that does not exist when
// Options.Create is false.
var ErrNoStore = errors.New("crmstore: no store")

// Options control Open.
type Options struct {
	// Write takes the store's exclusive write lock, waiting up to
	// LockTimeout for another writer to finish.
	Write       bool
	LockTimeout time.Duration
	// Command describes the holder in the lock file ("crmbridge import").
	Command string
	// Create creates the store (0600, its directory 0700) when missing.
	Create bool
}

// Store is the local CRM store: one SQLite file. A Store is safe for
// concurrent use; writes go through one Tx at a time.
type Store struct {
	db   *sql.DB
	path string
	lock *fileLock
	now  func() time.Time

	mu    sync.Mutex
	stmts map[string]*sql.Stmt // prepared once per Store (see Tx.stmt)
}

// Open opens (and if needed creates and migrates) the store at path.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if !opts.Create {
			return nil, fmt.Errorf("%w at %s", ErrNoStore, path)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create store directory: %w", err)
		}
		// Create the file ourselves so that it is 0600 whatever the umask;
		// SQLite gives its -wal and -shm files the same mode.
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create store %s: %w", path, err)
		}
		if f != nil {
			f.Close()
		}
	} else if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{path: path, now: time.Now, stmts: map[string]*sql.Stmt{}}
	if opts.Write {
		l, err := acquireLock(ctx, path+".lock", opts.LockTimeout, opts.Command)
		if err != nil {
			return nil, err
		}
		s.lock = l
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=busy_timeout(30000)&_pragma=synchronous(NORMAL)&_pragma=temp_store(MEMORY)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		s.lock.release()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	s.db = db
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("migrate store %s: %w", path, err)
	}
	return s, nil
}

// Path returns the store's file name.
func (s *Store) Path() string { return s.path }

// Close closes the database and releases the write lock.
func (s *Store) Close() error {
	var err error
	s.mu.Lock()
	for _, st := range s.stmts {
		st.Close()
	}
	s.stmts = nil
	s.mu.Unlock()
	if s.db != nil {
		err = s.db.Close()
	}
	if lerr := s.lock.release(); err == nil {
		err = lerr
	}
	return err
}

// SchemaVersion returns the store's PRAGMA user_version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}

// migrate applies the migrations the store has not seen yet, each in its
// own transaction together with the user_version bump.
func (s *Store) migrate(ctx context.Context) error {
	return migrateTo(ctx, s.db, len(migrations))
}

func migrateTo(ctx context.Context, db *sql.DB, target int) error {
	for {
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		var v int
		if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			conn.Close()
			return err
		}
		if v > len(migrations) {
			conn.Close()
			return fmt.Errorf("store schema version %d is newer than this crmbridge knows (%d): upgrade crmbridge", v, len(migrations))
		}
		if v >= target {
			conn.Close()
			return nil
		}
		err = func() error {
			defer conn.Close()
			tx, err := conn.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			// Re-check inside the write transaction: another process may
			// have migrated meanwhile.
			var cur int
			if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&cur); err != nil {
				return err
			}
			if cur != v {
				return nil
			}
			if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
				return fmt.Errorf("step %d: %w", v+1, err)
			}
			if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
				return err
			}
			return tx.Commit()
		}()
		if err != nil {
			return err
		}
	}
}

func (s *Store) stamp() string { return s.now().UTC().Format(time.RFC3339Nano) }

// IsStoreFailure reports whether err says the database itself failed (an
// I/O error, a full disk, a read-only or corrupt file), as opposed to one
// record being refused: the caller should stop rather than go on.
func IsStoreFailure(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return errors.Is(err, sql.ErrConnDone) || errors.Is(err, sql.ErrTxDone)
	}
	switch se.Code() & 0xff { // primary result code
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CORRUPT,
		sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_NOMEM:
		return true
	}
	return false
}
