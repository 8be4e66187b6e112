package crmstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"crmbridge/crm"
	"crmbridge/internal/recovered"

	"modernc.org/sqlite"
)

// Tx is one write transaction: a batch of applied records. Statements are
// prepared once per Tx. A Tx is not safe for concurrent use.
type Tx struct {
	s     *Store
	ctx   context.Context
	tx    *sql.Tx
	conn  *sql.Conn // Begin's connection, back to the pool when tx ends
	stmts map[string]*sql.Stmt
	now   string

	// Party resolution is derived work done once per batch, at Commit:
	// addrs are the addresses of parties written and of contact e-mail
	// addresses changed in this batch.
	addrs map[string]bool
	// series is set when an appointment was applied in this batch: its
	// exceptions are linked to their master at Commit.
	series bool

	// item is the state of the item being applied (see item).
	item itemState
	// broken is set when an item failed after writing without a savepoint:
	// the batch holds part of it, so it must not commit.
	broken error
	// careful makes every item undoable (see Careful).
	careful bool
	// pend holds new records' rows not yet inserted (pending.go).
	pend pendingRows
	// heads caches insertRow's INSERT of each entity.
	heads map[crm.Entity]string
	// fields is apply's buffer of field versions.
	fields []FieldVersions
	// keyBuf is bulkLookup's buffer of candidate rows.
	keyBuf []int64
	// rowArgs is execRowsNow's buffer of statement arguments.
	rowArgs []any
}

// Careful makes every later item of the transaction write inside a
// savepoint, a new record's creation too, so that whatever an item fails
// for rolls back that item alone. The importer replays a batch that one
// item broke (IsItemAbort) this way.
func (t *Tx) Careful() { t.careful = true }

// itemState says how the item being applied protects its writes.
type itemState int

const (
	itemClean     itemState = iota // nothing written yet
	itemSavepoint                  // writes inside SAVEPOINT item
	itemBare                       // writes without a savepoint
)

// ErrBatchAborted says a write failed where it could not be undone alone:
// the transaction (the batch) cannot commit and is rolled back. The items
// applied in it are not in the store; the next run applies them again.
var ErrBatchAborted = errors.New("crmstore: write failed, batch aborted")

// Begin starts a write transaction.
func (s *Store) Begin(ctx context.Context) (*Tx, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	reads, writes := cacheIO(conn)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("begin: %w", err)
	}
	t := &Tx{s: s, ctx: ctx, conn: conn, tx: tx, stmts: map[string]*sql.Stmt{}, now: s.stamp(),
		addrs: map[string]bool{}}
	if err := t.sizeCache(reads, writes); err != nil {
		tx.Rollback()
		conn.Close()
		return nil, err
	}
	return t, nil
}

// Page cache bounds, in pages of 4 KiB (SQLite's default cache is 2 MiB).
// minCachePages is also the smallest bound of nextCacheSize; a write
// transaction starts from firstCachePages.
const (
	firstCachePages = 256
	minCachePages   = 512
	maxCachePages   = 2048
)

// nextCacheSize is the page cache, in pages, of a write transaction in a
// store of storePages pages, after a batch that ran with cur pages and read
// reads pages from the file (pages not in the cache: evicted, or not yet
// read by this connection) while writing writes pages to it.
//
// The cache grows only where it pays. A batch inserts into indexes with
// random keys (identity keys, e-mail addresses, titles), whose pages are
// spread over the whole store: once the store outgrows the cache, the
// batch spills dirty pages to the WAL and reads them back, several page
// writes and reads per record (20,000 contacts with a cache of 1 MiB:
// 92,000 pages read and 91,000 written; with 8 MiB, 246 and 19,000). Other
// batches mostly write pages that are read once or never (message bodies,
// attachment content: enron.pst reads 1,676 pages and writes 6,070 over
// its import with 1 MiB, 1,312 and 5,798 with 5 MiB), and a larger cache
// only holds them longer, while every cached page is resident memory
// (8 KiB with modernc's allocator, which rounds a 4 KiB page and its
// header up to a power of two).
//
// So the cache starts at firstCachePages and doubles after a batch that
// read back more than a quarter of what it wrote and more than a quarter of
// the cache. It never exceeds a quarter of the store, at least
// minCachePages and at most maxCachePages: a small store keeps a small
// cache, and peak RSS grows with the store up to that bound, not with every
// write. It does not shrink below what it grew to within the bound: a
// cache once filled keeps its memory in the process anyway.
func nextCacheSize(cur, storePages, reads, writes int64) int64 {
	bound := min(max(storePages/4, minCachePages), maxCachePages)
	cur = max(cur, firstCachePages)
	if reads > writes/4 && reads > cur/4 {
		cur *= 2
	}
	return min(cur, bound)
}

// cacheIO returns the pages conn read from the file and wrote to it since
// it was last asked, 0 and 0 when the driver cannot say.
func cacheIO(conn *sql.Conn) (reads, writes int64) {
	conn.Raw(func(dc any) error {
		if st, ok := dc.(sqlite.DBStatus); ok {
			r, _, _ := st.Status(sqlite.DBStatusCacheMiss, true)
			w, _, _ := st.Status(sqlite.DBStatusCacheWrite, true)
			reads, writes = int64(r), int64(w)
		}
		return nil
	})
	return reads, writes
}

// sizeCache sets the connection's page cache for this batch (nextCacheSize),
// given the pages the previous batch read from the file.
func (t *Tx) sizeCache(reads, writes int64) error {
	var pages int64
	if err := t.tx.QueryRowContext(t.ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	n := nextCacheSize(t.s.cachePages.Load(), pages, reads, writes)
	t.s.cachePages.Store(n)
	if _, err := t.tx.ExecContext(t.ctx, fmt.Sprintf(`PRAGMA cache_size = %d`, n)); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	return nil
}

// stmt returns a prepared statement for query, preparing it once per Tx.
//
// Statements are also kept by the Store, so that the many short
// transactions of a push (one per confirmed record) do not prepare the same
// SQL again each time: database/sql keeps a statement prepared on each
// connection it has used, and Tx.Stmt reuses it.
func (t *Tx) stmt(query string) (*sql.Stmt, error) {
	if st, ok := t.stmts[query]; ok {
		return st, nil
	}
	var st *sql.Stmt
	if shared, err := t.s.shared(t.ctx, query); err == nil && shared != nil {
		st = t.tx.StmtContext(t.ctx, shared)
	} else {
		if st, err = t.tx.PrepareContext(t.ctx, query); err != nil {
			return nil, fmt.Errorf("prepare %q: %w", firstLine(query), err)
		}
	}
	t.stmts[query] = st
	return st, nil
}

// maxShared bounds the statements a Store keeps: SQL built for varying
// column sets beyond it is prepared per transaction.
const maxShared = 256

// shared returns the Store's prepared statement for query, preparing it
// once, or nil when the cache is full.
func (s *Store) shared(ctx context.Context, query string) (*sql.Stmt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.stmts[query]; ok {
		return st, nil
	}
	if s.stmts == nil || len(s.stmts) >= maxShared {
		return nil, nil // closed, or full
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s.stmts[query] = st
	return st, nil
}

func firstLine(q string) string {
	q = strings.TrimSpace(q)
	if i := strings.IndexByte(q, '\n'); i > 0 {
		return q[:i]
	}
	return q
}

// exec runs a statement, after the pending rows (settle).
func (t *Tx) exec(query string, args ...any) (sql.Result, error) {
	if err := t.settle(); err != nil {
		return nil, err
	}
	return t.execNow(query, args...)
}

// execNow runs a statement, leaving the pending rows pending.
func (t *Tx) execNow(query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(t.ctx, args...)
}

// execRows inserts rows with one statement per chunk: head is
// "INSERT INTO t (a, b)", tail an optional "ON CONFLICT ..." clause. Every
// row has the same number of values. Chunks hold a power of two of rows,
// up to pendingRecords: any number of rows takes at most 5 prepared
// statements of each INSERT, where one per count of rows would fill the
// statement cache with large statements.
func (t *Tx) execRows(head, tail string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	if err := t.settle(); err != nil {
		return err
	}
	return t.execRowsNow(head, tail, rows)
}

// execRowsNow is execRows leaving the pending rows pending.
func (t *Tx) execRowsNow(head, tail string, rows [][]any) error {
	for len(rows) > 0 {
		n := pendingRecords
		for n > len(rows) {
			n /= 2
		}
		args := t.rowArgs[:0]
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		_, err := t.execNow(t.s.rowsQuery(head, tail, n, len(rows[0])), args...)
		clear(args) // keeps no value alive past the statement
		t.rowArgs = args[:0]
		if err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// rowsKey is the shape of a multi-row INSERT.
type rowsKey struct {
	head, tail string
	rows, cols int
}

// rowsQuery returns the INSERT of rows rows of cols values each: head
// VALUES (?,…),… tail. The text is built once per shape and kept by the
// Store (a few dozen shapes: one per table and power of two of rows), not
// once per chunk: building it was 6 % of the bytes an enron.pst import
// allocated.
func (s *Store) rowsQuery(head, tail string, rows, cols int) string {
	k := rowsKey{head, tail, rows, cols}
	s.rowsMu.Lock()
	defer s.rowsMu.Unlock()
	if q, ok := s.rowsQueries[k]; ok {
		return q
	}
	var b strings.Builder
	b.WriteString(head)
	b.WriteString(" VALUES ")
	one := "(?" + strings.Repeat(",?", cols-1) + ")"
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(one)
	}
	b.WriteString(" ")
	b.WriteString(tail)
	if s.rowsQueries == nil {
		s.rowsQueries = map[rowsKey]string{}
	}
	s.rowsQueries[k] = b.String()
	return b.String()
}

// row is the result of queryRow: an *sql.Row, or the error of inserting
// the pending rows before it.
type row struct {
	r   *sql.Row
	err error
}

// Scan is sql.Row's Scan.
func (r row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return r.r.Scan(dest...)
}

// queryRow runs a query of one row, after the pending rows (settle).
func (t *Tx) queryRow(query string, args ...any) row {
	if err := t.settle(); err != nil {
		return row{err: err}
	}
	return t.peek(query, args...)
}

// peek runs a query of one row leaving the pending rows pending: for the
// reads of a creation that check first that the pending rows do not hold
// what they look up (see pending.go).
func (t *Tx) peek(query string, args ...any) row {
	st, err := t.stmt(query)
	if err != nil {
		return row{r: t.tx.QueryRowContext(t.ctx, query, args...)}
	}
	return row{r: st.QueryRowContext(t.ctx, args...)}
}

// query runs a query, after the pending rows (settle).
func (t *Tx) query(query string, args ...any) (*sql.Rows, error) {
	if err := t.settle(); err != nil {
		return nil, err
	}
	return t.queryNow(query, args...)
}

// queryNow is query leaving the pending rows pending, as peek.
func (t *Tx) queryNow(query string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(t.ctx, args...)
}

// savepoint runs fn inside a SAVEPOINT, so that a failing item rolls back
// alone and the batch goes on. Savepoints do not nest here, so one name
// (and one prepared statement each) serves every item.
func (t *Tx) savepoint(fn func() error) (err error) {
	return t.runItem(func() error {
		if err := t.protect(true); err != nil {
			return err
		}
		return fn()
	})
}

// runItem runs fn, one item's work, which calls protect before its first
// write. When fn fails, what it wrote inside its savepoint is rolled back
// and the batch goes on; what it wrote without one breaks the batch: Apply
// and Commit then fail with ErrBatchAborted (a store failure), and the
// caller's rollback leaves the store as it was before the batch.
func (t *Tx) runItem(fn func() error) (err error) {
	if t.broken != nil {
		return t.broken
	}
	outer := t.item // an item's work may run another's (Set inside Apply)
	t.item = itemClean
	defer func() {
		if r := recover(); r != nil {
			recovered.Note(r)
			err = fmt.Errorf("internal error: %v", r)
		}
		switch t.item {
		case itemSavepoint:
			if err != nil {
				_, _ = t.exec("ROLLBACK TO item")
			}
			_, _ = t.exec("RELEASE item")
		case itemBare:
			if err != nil {
				if t.broken == nil { // not yet: pending rows failed (flush)
					t.broken = fmt.Errorf("%w: %w", ErrBatchAborted, err)
				}
				err = t.broken
			}
		}
		t.item = outer
	}()
	return fn()
}

// protect is called before an item's first write (again later is
// harmless). undoable opens a savepoint, so that the item can fail after
// writing and roll back alone. A new record's creation passes false: it
// checks and reads all it needs before its first write, so that what can
// still fail after it is the store itself, which fails the batch anyway;
// it then spares the savepoint's sub-journal, a copy of every page the
// item changes.
func (t *Tx) protect(undoable bool) error {
	if t.item != itemClean {
		return nil
	}
	if !undoable && !t.careful {
		t.item = itemBare
		return nil
	}
	if _, err := t.exec("SAVEPOINT item"); err != nil {
		return err
	}
	t.item = itemSavepoint
	return nil
}

// Commit does the batch's derived work, then commits: it resolves
// activity parties and list members to contacts, and links appointment
// exceptions to their series master. Callers never do either themselves.
func (t *Tx) Commit() error {
	if t.broken != nil {
		t.Rollback()
		return t.broken
	}
	if err := t.settle(); err != nil {
		t.Rollback()
		return err
	}
	if err := t.resolveParties(); err != nil {
		t.Rollback()
		return err
	}
	if t.series {
		link := t.linkSeries
		if bk := t.s.keys.Load(); bk != nil {
			link = func() error { return t.bulkLinkSeries(bk) }
		}
		if err := link(); err != nil {
			t.Rollback()
			return err
		}
		t.series = false
	}
	for _, st := range t.stmts {
		st.Close()
	}
	t.stmts = nil
	err := t.tx.Commit()
	t.release()
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	t.s.keysBounded(t.ctx)
	return nil
}

// Rollback abandons the transaction. It is safe to call after Commit.
func (t *Tx) Rollback() error {
	t.pend = pendingRows{}
	for _, st := range t.stmts {
		st.Close()
	}
	t.stmts = nil
	err := t.tx.Rollback()
	t.release()
	if err == sql.ErrTxDone {
		return nil
	}
	return err
}

// release returns the connection of a transaction Begin started to the
// pool (a Snapshot's Tx has none of its own).
func (t *Tx) release() {
	if t.conn != nil {
		t.conn.Close()
	}
}

// Update runs fn in one write transaction: committed when fn returns nil,
// rolled back otherwise.
func (s *Store) Update(ctx context.Context, fn func(t *Tx) error) error {
	tx, err := s.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
