package crmstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" driver (pure Go)
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrNoStore is returned by Open for a store that does not exist when
// Options.Create is false.
var ErrNoStore = errors.New("crmstore: no store")

// ErrNoDir is returned by Open when asked to create a store in a directory
// that does not exist and Options.CreateDir is false: a mistyped path must
// not grow a directory tree.
var ErrNoDir = errors.New("crmstore: the store's directory does not exist")

// Options control Open.
type Options struct {
	// Write takes the store's exclusive write lock, waiting up to
	// LockTimeout for another writer to finish.
	Write       bool
	LockTimeout time.Duration
	// Command describes the holder in the lock file ("crmbridge import").
	Command string
	// Create creates the store (0600) when missing, in an existing
	// directory.
	Create bool
	// CreateDir also creates the store's missing directories (0700): for
	// the default path only.
	CreateDir bool
	// Warn, when set, receives warnings that do not stop Open (a store
	// directory others can read).
	Warn func(msg string)
}

// Store is the local CRM store: one SQLite file. A Store is safe for
// concurrent use; writes go through one Tx at a time.
type Store struct {
	db   *sql.DB
	path string
	lock *fileLock
	opts Options
	now  func() time.Time
	// verified is set when Open found the file sound: Close then records
	// the state SQLite left it in as verified (see verifiedPath).
	verified bool

	mu     sync.Mutex
	failed error                // a store failure seen by Fail
	stmts  map[string]*sql.Stmt // prepared once per Store (see Tx.stmt)

	rowsMu      sync.Mutex
	rowsQueries map[rowsKey]string // built once per Store (see rowsQuery)

	// partiesDeferred is set while this process holds the contact e-mail
	// indexes deferred (bulk.go): commits record party addresses in
	// pendingaddr instead of resolving them.
	partiesDeferred atomic.Bool
	// cachePages is the page cache of the last write transaction, in pages
	// (Tx.sizeCache).
	cachePages atomic.Int64
	// keys is set while this process holds recordkey_hash deferred
	// (bulkkeys.go): identity keys are found through it.
	keys atomic.Pointer[bulkKeys]
	// provKeys is set while this process holds provenance_kh deferred:
	// source keys are found through it (bulkkeys.go, provkeys.go).
	provKeys atomic.Pointer[bulkKeys]
}

// Open opens (and if needed creates and migrates) the store at path.
//
// Before anything is written, an existing file is checked: it must be a
// crmbridge store (an empty file or another database is refused with
// ErrNotStore, never initialised) and pass SQLite's quick_check (a damaged
// file is refused with ErrDamaged). Both come as a *DamagedError naming
// the path; the file is left as it was.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	created := false
	var hdr header
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if !opts.Create {
			return nil, fmt.Errorf("%w at %s", ErrNoStore, path)
		}
		if err := makeDir(filepath.Dir(path), opts.CreateDir); err != nil {
			return nil, err
		}
		if err := createStore(ctx, path); err != nil {
			return nil, err
		}
		created = true
	} else if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	warnDir(filepath.Dir(path), opts.Warn)
	hdr, err := checkHeader(path)
	if err != nil {
		return nil, err
	}
	s := &Store{path: path, opts: opts, now: time.Now, stmts: map[string]*sql.Stmt{}}
	if opts.Write {
		l, err := acquireLock(ctx, path+".lock", opts.LockTimeout, opts.Command)
		if err != nil {
			return nil, err
		}
		s.lock = l
	}
	// No journal_mode in the DSN: it would write to the file on connect,
	// before the checks below. WAL is persistent once set (at creation).
	// RFC 3986 / SQLite URI filenames: '?' starts the query and '#' the
	// fragment, and "%HH" is decoded, so those three are escaped; a path
	// "a#1.db" would otherwise open "a".
	// wal_autocheckpoint: a checkpoint copies each page once, its last
	// version, whatever the number of commits that wrote it since the last
	// checkpoint. A bulk import rewrites the same index pages (random keys:
	// identity keys, e-mail addresses, titles) in every batch; checkpointing
	// every 16,384 pages (64 MiB of WAL, on disk only while the store is
	// open) instead of SQLite's 1,000 copies them fewer times (20,000
	// contacts: 163,000 pwrite and 65,000 pread calls at 1,000 pages,
	// 138,000 and 41,000 at 4,096; 100,000 contacts: 1,946 MB written at
	// 4,096 pages, 1,656 MB at 16,384).
	dsn := "file:" + uriPathEscaper.Replace(path) + "?_pragma=foreign_keys(1)&_pragma=busy_timeout(30000)&_pragma=synchronous(NORMAL)&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(" + strconv.Itoa(walCheckpointPages) + ")&_txlock=immediate"
	db, err := openDB(dsn)
	if err != nil {
		s.lock.release()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	s.db = db
	if !created && !isVerified(path) {
		if err := quickCheck(ctx, db, path, hdr.appID == 0); err != nil {
			s.Close()
			return nil, err
		}
	}
	s.verified = true
	if _, err := db.ExecContext(ctx, "PRAGMA journal_mode = WAL"); err != nil && (created || opts.Write) {
		s.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("migrate store %s: %w", path, err)
	}
	// Indexes a bulk import dropped and did not build (it was killed):
	// the first writer builds them (bulk.go).
	if opts.Write {
		if err := s.BuildDeferred(ctx); err != nil {
			s.Close()
			return nil, fmt.Errorf("open store %s: %w", path, err)
		}
	}
	return s, nil
}

// createStore makes an empty store at path: an SQLite file already marked as
// crmbridge's (application_id) and in WAL mode, built under a temporary
// name and linked into place, so that a process killed at any point leaves
// either no file or one Open accepts. The file is 0600 whatever the umask;
// SQLite gives its -wal and -shm files the same mode.
func createStore(ctx context.Context, path string) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".new-*")
	if err != nil {
		return fmt.Errorf("create store %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	err = f.Chmod(0o600)
	f.Close()
	if err != nil {
		return fmt.Errorf("create store %s: %w", path, err)
	}
	db, err := openDB("file:" + uriPathEscaper.Replace(tmp))
	if err != nil {
		return fmt.Errorf("create store %s: %w", path, err)
	}
	_, err = db.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d; PRAGMA journal_mode = WAL", applicationID))
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("create store %s: %w", path, err)
	}
	// link, not rename: never replace a store another process made
	// meanwhile (then that one is used).
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create store %s: %w", path, err)
	}
	return nil
}

// makeDir checks that dir exists, or creates it (0700) when all is set.
func makeDir(dir string, all bool) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("create store: %s is not a directory", dir)
		}
		return nil
	}
	if !all {
		return fmt.Errorf("%w: %s (a store is created only in an existing directory, or at the default path)", ErrNoDir, dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create store directory: %w", err)
	}
	// MkdirAll applies the umask; the directory holds customers' data.
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("create store directory: %w", err)
	}
	return nil
}

// warnDir warns when the store's directory is open to group or others.
func warnDir(dir string, warn func(string)) {
	if warn == nil {
		return
	}
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o077 != 0 {
		warn(fmt.Sprintf("store directory %s is accessible to other users (mode %04o): chmod 700 %s", dir, fi.Mode().Perm(), dir))
	}
}

var uriPathEscaper = strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23")

// Path returns the store's file name.
func (s *Store) Path() string { return s.path }

// Close closes the database and releases the write lock.
func (s *Store) Close() error {
	var err error
	s.EndBulkLookups()
	s.mu.Lock()
	for _, st := range s.stmts {
		st.Close()
	}
	s.stmts = nil
	s.mu.Unlock()
	if s.db != nil {
		err = s.db.Close()
		s.db = nil
		if err == nil && s.verified && !IsCorrupt(s.failed) {
			markVerified(s.path)
		} else {
			forgetVerified(s.path)
		}
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
			if migrationNoFK[v] != nil {
				// A no-op inside a transaction: set on the connection,
				// and back before it returns to the pool.
				if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
					return err
				}
				defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA foreign_keys = ON`)
			}
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
			var faults int
			if tables := migrationNoFK[v]; tables != nil {
				// What the store held before (a damaged store's faults
				// are check's to report, not a reason to refuse it).
				if faults, err = foreignKeyFaults(ctx, tx, tables); err != nil {
					return fmt.Errorf("step %d: %w", v+1, err)
				}
			}
			if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
				return fmt.Errorf("step %d: %w", v+1, err)
			}
			if step := migrationCode[v]; step != nil {
				if err := step(ctx, tx); err != nil {
					return fmt.Errorf("step %d: %w", v+1, err)
				}
			}
			if tables := migrationNoFK[v]; tables != nil {
				after, err := foreignKeyFaults(ctx, tx, tables)
				if err != nil {
					return fmt.Errorf("step %d: %w", v+1, err)
				}
				if after > faults {
					return fmt.Errorf("step %d: %d row(s) of %s lost their foreign key", v+1, after-faults, strings.Join(tables, ", "))
				}
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

// foreignKeyFaults counts the rows of tables whose foreign key names no
// row (PRAGMA foreign_key_check).
func foreignKeyFaults(ctx context.Context, tx *sql.Tx, tables []string) (int, error) {
	n := 0
	for _, tb := range tables {
		var c int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM pragma_foreign_key_check(?)`, tb).Scan(&c); err != nil {
			return 0, fmt.Errorf("foreign keys of %s: %w", tb, err)
		}
		n += c
	}
	return n, nil
}

func (s *Store) stamp() string { return s.now().UTC().Format(time.RFC3339Nano) }

// IsCorrupt reports whether err says SQLite found the file damaged while
// using it (SQLITE_CORRUPT, SQLITE_NOTADB), or is a *DamagedError.
func IsCorrupt(err error) bool {
	if IsDamaged(err) {
		return true
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return true
	}
	return false
}

// Fail tells the store that a command ended with err. A corruption error
// makes the next Open run the full quick_check again.
func (s *Store) Fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if IsCorrupt(err) {
		s.failed = err
	}
}

// walCheckpointPages is the WAL size, in pages, at which a commit
// checkpoints (see Open).
const walCheckpointPages = 16384

// IsStoreFailure reports whether err says the database itself failed (an
// I/O error, a full disk, a read-only or corrupt file), as opposed to one
// record being refused, or a batch that cannot commit (ErrBatchAborted):
// the caller should stop rather than go on.
func IsStoreFailure(err error) bool {
	return errors.Is(err, ErrBatchAborted) || isDatabaseFailure(err)
}

// IsItemAbort reports whether err is a batch broken by one item's own
// failure (ErrBatchAborted for a cause that is not the database's: a
// constraint the item broke, an internal error): a replay of the batch
// with Tx.Careful fails that item alone.
func IsItemAbort(err error) bool {
	return errors.Is(err, ErrBatchAborted) && !isDatabaseFailure(err)
}

// isDatabaseFailure reports whether err says the database file or its
// connection failed.
func isDatabaseFailure(err error) bool {
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
