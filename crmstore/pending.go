package crmstore

import (
	"fmt"
	"sort"
	"strings"

	"crmbridge/crm"
)

// New records' rows are written a chunk of records at a time: a creation
// (after its checks, when it writes without a savepoint, see protect)
// hands its rows to later, and the rows of up to pendingRecords creations
// go into each table with one INSERT of many rows (execRows) instead of
// one INSERT per row: about 10 statements per new contact become 10 per
// 16 contacts. SQLite does the same b-tree work either way; what is saved
// is the cost of each statement (database/sql, binding, the VDBE program's
// start and halt, opening cursors), about a fifth of a creation's.
//
// Every read and write of the transaction sees the pending rows: exec,
// query and queryRow insert them first (settle). The few reads a creation
// makes before writing use peek instead, which does not, and each of them
// first asks whether the pending rows hold what it looks up (the source
// item, the identity key, the record id), and settles when they do. So
// whatever a statement reads, it reads what it would have read had every
// row been written at once.
//
// A pending row that fails to insert fails the batch (ErrBatchAborted),
// as its creation would have: the importer then replays the batch
// carefully (Careful), where nothing is pending and the item fails alone.
// The failure is reported by a later Apply or by Commit, not by the
// creation's own Apply.

// pendingRecords is how many creations are held before their rows are
// inserted: execRows' largest chunk, so that full chunks reuse one
// statement. A prepared INSERT of many rows is large (SQLite compiles the
// code of each row): 64 rows measured 5 MB more peak RSS than 16 in an
// import of 20,000 contacts, for 7 % less CPU.
const pendingRecords = 16

// pendingRows holds the rows of new records not yet inserted.
type pendingRows struct {
	tables  []*pendingTable             // in the order of their first row
	byStmt  map[[2]string]*pendingTable // by head and tail
	records int

	// What the pending rows hold, for peek's callers.
	ids     map[string]bool // record ids
	sources map[string]bool // provenance kind "\x00" key
	keys    map[string]bool // identity keys: entity "\x00" key

	// The rowids the pending rows take, assigned here because base rows
	// and outbox entries need them before the insert. Valid while only
	// pending rows are written: settle clears them (known false) before
	// any other statement, which may insert provenance or journal rows.
	known    bool
	nextProv int64 // provenance id
	nextSeq  int64 // journal seq (AUTOINCREMENT: above any seq ever used)
	lastSeq  int64 // MAX(seq) of the journal, pending rows included
}

// pendingTable is the pending rows of one INSERT (see execRows).
type pendingTable struct {
	head, tail string
	rows       [][]any
}

func (p *pendingRows) empty() bool { return len(p.tables) == 0 }

// buffering reports whether the item being applied hands its rows to
// later: a creation writing without a savepoint. An item in a savepoint
// writes at once, so that rolling back to it undoes all it wrote.
func (t *Tx) buffering() bool {
	return t.item == itemBare && !t.careful
}

// later inserts row (with execRows' head and tail) now, or with the
// pending rows when the item is buffering.
func (t *Tx) later(head, tail string, row ...any) error {
	if !t.buffering() {
		return t.execRows(head, tail, [][]any{row})
	}
	p := &t.pend
	if p.byStmt == nil {
		p.byStmt = map[[2]string]*pendingTable{}
		p.ids, p.sources, p.keys = map[string]bool{}, map[string]bool{}, map[string]bool{}
	}
	k := [2]string{head, tail}
	pt := p.byStmt[k]
	if pt == nil {
		pt = &pendingTable{head: head, tail: tail}
		p.byStmt[k] = pt
		p.tables = append(p.tables, pt)
	}
	pt.rows = append(pt.rows, row)
	return nil
}

// laterRows is later for each of rows.
func (t *Tx) laterRows(head, tail string, rows [][]any) error {
	if !t.buffering() {
		return t.execRows(head, tail, rows)
	}
	for _, r := range rows {
		if err := t.later(head, tail, r...); err != nil {
			return err
		}
	}
	return nil
}

// laterRecord starts a new record's pending rows: when pendingRecords are
// held, they are inserted first.
func (t *Tx) laterRecord(id string) error {
	if !t.buffering() {
		return nil
	}
	if t.pend.records >= pendingRecords {
		if err := t.flush(); err != nil {
			return err
		}
	}
	t.pend.records++
	return nil
}

// pendingIDs returns the next provenance id and journal seq the pending
// rows take, reading them from the store when not known.
func (t *Tx) pendingIDs() error {
	p := &t.pend
	if p.known {
		return nil
	}
	err := t.peek(`SELECT (SELECT COALESCE(MAX(id), 0) FROM provenance),
		(SELECT COALESCE(MAX(seq), 0) FROM journal),
		COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'journal'), 0)`).Scan(&p.nextProv, &p.lastSeq, &p.nextSeq)
	if err != nil {
		return fmt.Errorf("next ids: %w", err)
	}
	p.nextProv++
	// SQLite's AUTOINCREMENT: one above the largest seq the table ever
	// held (sqlite_sequence) or holds.
	p.nextSeq = max(p.nextSeq, p.lastSeq) + 1
	p.known = true
	return nil
}

// settle inserts the pending rows before a statement that may read or
// write what they hold.
func (t *Tx) settle() error {
	if t.pend.empty() {
		t.pend.known = false
		return nil
	}
	return t.flush()
}

// flush inserts the pending rows, table by table, each table's rows in
// the order they were written, tables in the order of their foreign keys
// (pendingRank). A failure breaks the batch.
func (t *Tx) flush() error {
	p := t.pend
	t.pend = pendingRows{}
	sort.SliceStable(p.tables, func(i, j int) bool { return pendingRank(p.tables[i].head) < pendingRank(p.tables[j].head) })
	for _, pt := range p.tables {
		if err := t.execRowsNow(pt.head, pt.tail, pt.rows); err != nil {
			if t.broken == nil {
				t.broken = fmt.Errorf("%w: insert new records into %s: %w", ErrBatchAborted, pendingTableName(pt.head), err)
			}
			return t.broken
		}
	}
	return nil
}

// pendingRank orders the tables of pending rows by their foreign keys: a
// record, then its entity row, then its provenance (a source of it), then
// the rest (rows of the record, of its entity row or of its provenance).
func pendingRank(head string) int {
	switch table := pendingTableName(head); {
	case table == "record":
		return 0
	case table == tableOf(crm.Entity(table)) && crm.Entity(table).Valid() || table == "activity":
		return 1
	case table == "provenance":
		return 2
	}
	return 3
}

// pendingTableName returns the table of an INSERT's head.
func pendingTableName(head string) string {
	table, _, _ := strings.Cut(strings.TrimPrefix(head, "INSERT INTO "), " ")
	return strings.Trim(table, `"`)
}
