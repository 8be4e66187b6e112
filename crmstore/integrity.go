package crmstore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
)

// ErrDamaged is returned (in a *DamagedError) when the store file fails
// its integrity check: it is refused, never written to.
var ErrDamaged = errors.New("crmstore: store is damaged")

// ErrNotStore is returned (in a *DamagedError) when the file at the store
// path is not a crmbridge store: an empty file, another SQLite database or
// anything else. It is refused, never initialised.
var ErrNotStore = errors.New("crmstore: not a crmbridge store")

// DamagedError says which file was refused and why. It matches ErrDamaged
// or ErrNotStore with errors.Is.
type DamagedError struct {
	Path   string
	Kind   error  // ErrDamaged or ErrNotStore
	Detail string // what the check found
}

func (e *DamagedError) Error() string {
	if e.Kind == ErrNotStore {
		return fmt.Sprintf("%s is not a crmbridge store (%s)", e.Path, e.Detail)
	}
	return fmt.Sprintf("store %s is damaged (%s)", e.Path, e.Detail)
}

// Unwrap lets errors.Is(err, ErrDamaged) or ErrNotStore match.
func (e *DamagedError) Unwrap() error { return e.Kind }

// IsDamaged reports whether err says the store file was refused as damaged
// or as not a crmbridge store.
func IsDamaged(err error) bool {
	return errors.Is(err, ErrDamaged) || errors.Is(err, ErrNotStore)
}

// applicationID marks a crmbridge store in the SQLite header
// (PRAGMA application_id, header offset 68): "CRMB".
const applicationID = 0x43524d42

// sqliteMagic is the first 16 bytes of every SQLite 3 database
// (https://sqlite.org/fileformat2.html#the_database_header).
const sqliteMagic = "SQLite format 3\x00"

// header is what checkHeader reads from the 100-byte database header.
type header struct {
	pageSize    int64
	pages       int64 // in-header database size, 0 when not valid
	userVersion uint32
	appID       uint32
}

// checkHeader reads the file's SQLite header without opening it as a
// database (opening may write) and checks what costs one read and a stat:
// that it is a SQLite file at all, and that it is not shorter than its
// header says (a truncated copy).
func checkHeader(path string) (header, error) {
	var h header
	f, err := os.Open(path)
	if err != nil {
		return h, fmt.Errorf("open store %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return h, fmt.Errorf("open store %s: %w", path, err)
	}
	if fi.IsDir() {
		return h, &DamagedError{Path: path, Kind: ErrNotStore, Detail: "a directory"}
	}
	if fi.Size() == 0 {
		return h, &DamagedError{Path: path, Kind: ErrNotStore, Detail: "an empty file"}
	}
	b := make([]byte, 100)
	n, err := io.ReadFull(f, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return h, fmt.Errorf("read store %s: %w", path, err)
	}
	if n < len(sqliteMagic) || string(b[:len(sqliteMagic)]) != sqliteMagic {
		return h, &DamagedError{Path: path, Kind: ErrNotStore, Detail: "not an SQLite database"}
	}
	if n < 100 {
		return h, &DamagedError{Path: path, Kind: ErrDamaged, Detail: fmt.Sprintf("truncated: %d bytes, shorter than the database header", n)}
	}
	// fileformat2 1.3.2: the page size is a power of two between 512 and
	// 32768, or 1 meaning 65536.
	h.pageSize = int64(binary.BigEndian.Uint16(b[16:18]))
	if h.pageSize == 1 {
		h.pageSize = 65536
	}
	if h.pageSize < 512 || h.pageSize&(h.pageSize-1) != 0 {
		return h, &DamagedError{Path: path, Kind: ErrDamaged, Detail: fmt.Sprintf("invalid page size %d in the header", h.pageSize)}
	}
	// fileformat2 1.3.7: the in-header database size is valid only when
	// the change counter (offset 24) equals the version-valid-for number
	// (offset 92).
	if binary.BigEndian.Uint32(b[24:28]) == binary.BigEndian.Uint32(b[92:96]) {
		h.pages = int64(binary.BigEndian.Uint32(b[28:32]))
	}
	h.userVersion = binary.BigEndian.Uint32(b[60:64])
	h.appID = binary.BigEndian.Uint32(b[68:72])
	if h.appID != 0 && h.appID != applicationID {
		return h, &DamagedError{Path: path, Kind: ErrNotStore, Detail: fmt.Sprintf("an SQLite database of another application (application_id %#x)", h.appID)}
	}
	if h.appID == 0 && h.userVersion == 0 {
		return h, &DamagedError{Path: path, Kind: ErrNotStore, Detail: "an SQLite database without crmbridge's schema"}
	}
	// With a WAL holding frames, the file may be shorter than its header
	// says: a checkpoint cut short (a full disk, a kill) wrote page 1 but
	// not the pages after it, and the WAL still holds them. quick_check,
	// which reads through the WAL, judges that case.
	if wal, err := os.Stat(path + "-wal"); err == nil && wal.Size() > 0 {
		return h, nil
	}
	if fi.Size()%h.pageSize != 0 || fi.Size() < h.pages*h.pageSize {
		return h, &DamagedError{Path: path, Kind: ErrDamaged, Detail: fmt.Sprintf("truncated: %d bytes, the header says %d pages of %d", fi.Size(), h.pages, h.pageSize)}
	}
	return h, nil
}

// quickCheck runs SQLite's quick_check (every page and b-tree is read and
// checked for structure, without the index-content cross-check of
// integrity_check) and checks that the schema is crmbridge's. It reads
// only.
func quickCheck(ctx context.Context, db *sql.DB, path string, legacy bool) error {
	if err := pragmaCheck(ctx, db, path, "quick_check"); err != nil {
		return err
	}
	if legacy {
		// Stores from before the application id: the schema must be ours.
		var n int
		err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('record', 'journal', 'outbox', 'provenance')`).Scan(&n)
		if err != nil {
			return &DamagedError{Path: path, Kind: ErrDamaged, Detail: err.Error()}
		}
		if n != 4 {
			return &DamagedError{Path: path, Kind: ErrNotStore, Detail: "an SQLite database without crmbridge's schema"}
		}
	}
	return nil
}

// pragmaCheck runs PRAGMA quick_check or integrity_check and turns any
// answer other than "ok" (or a failure to run it) into a *DamagedError.
func pragmaCheck(ctx context.Context, db *sql.DB, path, pragma string) error {
	rows, err := db.QueryContext(ctx, "PRAGMA "+pragma+"(20)")
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &DamagedError{Path: path, Kind: ErrDamaged, Detail: err.Error()}
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return &DamagedError{Path: path, Kind: ErrDamaged, Detail: err.Error()}
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &DamagedError{Path: path, Kind: ErrDamaged, Detail: err.Error()}
	}
	if len(msgs) == 1 && msgs[0] == "ok" {
		return nil
	}
	if len(msgs) == 0 {
		msgs = []string{pragma + " returned nothing"}
	}
	return &DamagedError{Path: path, Kind: ErrDamaged, Detail: strings.Join(msgs, "; ")}
}

// fingerprint identifies one state of the store file: any write to it, by
// SQLite or by anything else (a disk tool, a copy over it), changes its
// ctime, which no user tool can set back.
type fingerprint struct {
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime_ns"`
	Ctime int64  `json:"ctime_ns"`
}

// verifiedPath is the file that remembers the fingerprint of the store's
// last verified state: the state quick_check passed, or that only SQLite
// wrote to since. Open skips quick_check while the fingerprint matches,
// so that a large store costs a stat, not a read of every page, to open.
func verifiedPath(path string) string { return path + ".verified" }

func fingerprintOf(path string) (fingerprint, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return fingerprint{}, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fingerprint{}, false
	}
	return fingerprint{Dev: uint64(st.Dev), Ino: st.Ino, Size: fi.Size(),
		Mtime: fi.ModTime().UnixNano(), Ctime: statCtime(st)}, true
}

// isVerified reports whether the store file is in the state last
// recorded as verified.
func isVerified(path string) bool {
	fp, ok := fingerprintOf(path)
	if !ok {
		return false
	}
	b, err := os.ReadFile(verifiedPath(path))
	if err != nil {
		return false
	}
	var rec fingerprint
	return json.Unmarshal(b, &rec) == nil && rec == fp
}

// markVerified records the store file's current state as verified. It is
// best effort: without the record the next Open runs quick_check.
func markVerified(path string) {
	fp, ok := fingerprintOf(path)
	if !ok {
		return
	}
	b, _ := json.Marshal(fp)
	tmp := verifiedPath(path) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		os.Remove(tmp)
		return
	}
	if err := os.Rename(tmp, verifiedPath(path)); err != nil {
		os.Remove(tmp)
	}
}

// forgetVerified removes the record, so that the next Open checks.
func forgetVerified(path string) { os.Remove(verifiedPath(path)) }
