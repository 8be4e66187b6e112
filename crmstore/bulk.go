package crmstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// deferrableIndexes are the indexes a bulk load drops at its start and
// builds again at its end (DeferIndexes, BuildDeferred). Their keys are
// random (names, subjects, e-mail addresses, the random part of ids):
// once one outgrows the page cache, every record inserted reads one of
// its pages and every commit writes one page per record back, so a large
// import slows down as the store grows. Built once at the end, each is
// one sorted pass. They are read by list (the title indexes, migration
// 13), by short-id lookups (record_tail, migration 8) and by party
// resolution (contact_email1-3): without them list and show answer the
// same, slower, and party resolution waits for them (resolveParties,
// pendingaddr). The last, recordkey_hash, is the import's own lookup of
// identity keys: while it is deferred the import finds them as
// bulkkeys.go says.
var deferrableIndexes = []string{
	"record_tail",
	"contact_title", "account_title", "lead_title", "opportunity_title", "list_title", "activity_title",
	"contact_email1", "contact_email2", "contact_email3",
	// Read by the import itself: while deferred, the run finds identity
	// and source keys as bulkkeys.go says.
	"recordkey_hash", "provenance_kh",
}

// deferredKeys are the deferrable indexes of keys the import reads: the
// table their key hashes come from, and the side table that holds the
// store's keys (hash, rowid) while the index is deferred (bulkkeys.go).
var deferredKeys = map[string]struct{ table, from, side string }{
	"recordkey_hash": {"recordkey", `SELECT h, rowid FROM recordkey INDEXED BY recordkey_hash ORDER BY h, rowid`, "bulkkey"},
	"provenance_kh":  {"provenance", `SELECT kh, id FROM provenance INDEXED BY provenance_kh ORDER BY kh, id`, "bulkprov"},
}

// DeferIndexes drops the deferrable indexes the store has and records
// their definitions in table deferredindex in the same transaction, so
// that whatever happens to this process, the store says what to build:
// BuildDeferred, which the next Open for writing also runs. It returns how
// many indexes it dropped.
func (s *Store) DeferIndexes(ctx context.Context) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("defer indexes: %w", err)
	}
	defer tx.Rollback()
	n := 0
	var keys, provKeys *bulkKeys
	for _, name := range deferrableIndexes {
		var q string
		err := tx.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?`, name).Scan(&q)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("defer index %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO deferredindex (name, sql) VALUES (?, ?)`, name, q); err != nil {
			return 0, fmt.Errorf("defer index %s: %w", name, err)
		}
		if dk, ok := deferredKeys[name]; ok {
			b, err := deferKeys(ctx, tx, dk.table, dk.from, dk.side)
			if err != nil {
				return 0, fmt.Errorf("defer index %s: %w", name, err)
			}
			if name == "recordkey_hash" {
				keys = b
			} else {
				provKeys = b
			}
		}
		if _, err := tx.ExecContext(ctx, `DROP INDEX `+quoteIdent(name)); err != nil {
			return 0, fmt.Errorf("defer index %s: %w", name, err)
		}
		n++
	}
	var emails int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM deferredindex WHERE name LIKE 'contact\_email%' ESCAPE '\'`).Scan(&emails); err != nil {
		return 0, fmt.Errorf("defer indexes: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("defer indexes: %w", err)
	}
	if emails > 0 {
		s.partiesDeferred.Store(true)
	}
	if keys != nil {
		s.keys.Swap(keys).release()
	}
	if provKeys != nil {
		s.provKeys.Swap(provKeys).release()
	}
	return n, nil
}

// deferKeys copies the store's keys (hash, rowid: the rows of from, read
// from table in the order of the index being deferred, so appended) into side, and
// returns what the run keeps in memory: where its own keys' rowids start,
// and the filter of the copied hashes when there are few enough.
func deferKeys(ctx context.Context, tx *sql.Tx, table, from, side string) (*bulkKeys, error) {
	if _, err := tx.ExecContext(ctx, `INSERT INTO `+side+` (h, rid) `+from); err != nil {
		return nil, err
	}
	b := &bulkKeys{table: side}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(rowid), 0) + 1, (SELECT COUNT(*) FROM `+side+`) FROM `+table).Scan(&b.base, &n); err != nil {
		return nil, err
	}
	b.next = b.base
	switch {
	case n == 0:
	case n > bulkPreFilterMax:
		b.preAll = true
	default:
		b.pre = make([]uint32, 0, n)
		rows, err := tx.QueryContext(ctx, `SELECT h FROM `+side)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var h int64
			if err := rows.Scan(&h); err != nil {
				return nil, err
			}
			b.pre = append(b.pre, uint32(uint64(h)>>32))
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		slices.Sort(b.pre)
		b.hold(int64(cap(b.pre)) * 4)
	}
	return b, nil
}

// DeferredIndexes returns the names of the indexes DeferIndexes dropped
// and BuildDeferred has not built yet.
func (s *Store) DeferredIndexes(ctx context.Context) ([]string, error) {
	return deferredNames(ctx, s.db)
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func deferredNames(ctx context.Context, db queryer) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT name FROM deferredindex ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("deferred indexes: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("deferred indexes: %w", err)
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// BuildDeferred builds every index DeferIndexes dropped, each in its own
// transaction with the removal of its record, then resolves the party
// addresses recorded meanwhile (pendingaddr), a batch of them per
// transaction: a process killed meanwhile leaves the rest recorded, and
// the next writer finishes. The caller holds the write lock
// (Options.Write).
func (s *Store) BuildDeferred(ctx context.Context) error {
	names, err := s.DeferredIndexes(ctx)
	if err != nil {
		return err
	}
	// Lookups from here on read the table (recordkey_hash is built in
	// this call or the next writer's).
	s.EndBulkLookups()
	if err := s.buildIndexes(ctx, names); err != nil {
		return err
	}
	s.partiesDeferred.Store(false)
	return s.resolvePending(ctx)
}

// pendingBatch is how many recorded party addresses resolvePending
// resolves per transaction.
const pendingBatch = 2000

// resolvePending resolves the party addresses recorded while the contact
// e-mail indexes were deferred, and forgets them.
func (s *Store) resolvePending(ctx context.Context) error {
	// Every Open for writing comes here: ask before taking a write
	// transaction.
	var pending bool
	if err := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pendingaddr)`).Scan(&pending); err != nil {
		return fmt.Errorf("resolve parties: %w", err)
	}
	if !pending {
		return nil
	}
	for {
		var addrs []string
		err := s.Update(ctx, func(t *Tx) error {
			rows, err := t.query(`SELECT addr FROM pendingaddr ORDER BY addr LIMIT ?`, pendingBatch)
			if err != nil {
				return err
			}
			for rows.Next() {
				var a string
				if err := rows.Scan(&a); err != nil {
					rows.Close()
					return err
				}
				addrs = append(addrs, a)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if err := t.resolveAddrs(addrs); err != nil {
				return err
			}
			for _, a := range addrs {
				if _, err := t.exec(`DELETE FROM pendingaddr WHERE addr = ?`, a); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("resolve parties: %w", err)
		}
		if len(addrs) < pendingBatch {
			return nil
		}
	}
}

// buildIndexes builds the deferred indexes names (see BuildDeferred).
func (s *Store) buildIndexes(ctx context.Context, names []string) error {
	if len(names) == 0 {
		return nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("build indexes: %w", err)
	}
	defer conn.Close()
	// CREATE INDEX sorts its keys, in memory up to the page cache's size
	// and in temporary files beyond. The store's connections keep
	// temporary files in memory (temp_store in Open's DSN): for the sort
	// of a million keys that is tens of MiB, so this one sorts on disk.
	// The sort's share of memory is the page cache's size (SQLite's
	// vdbesort.c), and the build writes the index through that cache once
	// each: the smallest cache (Tx.sizeCache sets it again for the next
	// batch) keeps the build's peak RSS near the import's.
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA temp_store = FILE; PRAGMA cache_size = %d`, minCachePages)); err != nil {
		return fmt.Errorf("build indexes: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA temp_store = MEMORY`)
	for _, name := range names {
		if err := buildOne(ctx, conn, name); err != nil {
			return err
		}
	}
	return nil
}

func buildOne(ctx context.Context, conn *sql.Conn, name string) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("build index %s: %w", name, err)
	}
	defer tx.Rollback()
	var q string
	if err := tx.QueryRowContext(ctx, `SELECT sql FROM deferredindex WHERE name = ?`, name).Scan(&q); errors.Is(err, sql.ErrNoRows) {
		return nil // built meanwhile
	} else if err != nil {
		return fmt.Errorf("build index %s: %w", name, err)
	}
	if _, err := tx.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("build index %s: %w", name, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM deferredindex WHERE name = ?`, name); err != nil {
		return fmt.Errorf("build index %s: %w", name, err)
	}
	if dk, ok := deferredKeys[name]; ok {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+dk.side); err != nil {
			return fmt.Errorf("build index %s: %w", name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("build index %s: %w", name, err)
	}
	return nil
}

// quoteIdent quotes an SQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Bytes returns the size of the store's database, in bytes (its pages,
// the write-ahead log not counted).
func (s *Store) Bytes(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT page_count * page_size FROM pragma_page_count, pragma_page_size`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store size: %w", err)
	}
	return n, nil
}
