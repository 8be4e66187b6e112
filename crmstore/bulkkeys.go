package crmstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// While a bulk load runs, the identity-key index recordkey_hash is
// deferred too (DeferIndexes): its keys are random 64-bit hashes, and at a
// million contacts it was 9,000 pages, four times the page cache, with
// each batch of about 5,000 new keys rewriting 40 % of its leaves: most of
// what such an import wrote. The import reads it (every item's keys are
// looked up), so the run keeps what the lookups need:
//
//   - the keys the store held before the run: their hashes and rowids in
//     table bulkkey, copied in index order in the transaction that drops
//     the index (a sequential write), read only during the run, plus an
//     in-memory filter of their hashes' upper 32 bits when they are few
//     enough (bulkPreFilterMax), so that a new key asks the table nothing;
//   - the keys the run adds: recordkey rows with rowids the run assigns
//     (from one above the largest), appended, and in memory each key's
//     hash bits and rowid, 8 bytes a key (bulkKeys).
//
// Both give candidate rows only: every lookup reads the rows themselves and
// compares entity and key, as with the index (two keys with one hash are
// two rows). So a candidate that is not there (a batch rolled back, a
// record forgotten) or is another key is simply not found, and nothing in
// memory needs undoing with a transaction. At the end the index is built
// again in one sorted pass (BuildDeferred), in the transaction that empties
// bulkkey; a process killed before leaves both recorded, and the next
// writer builds. Without bulkKeys (another process, or after
// EndBulkLookups), the same SQL as always answers, from the table.

// bulkPreFilterMax is how many keys the store may hold before a bulk run
// for their filter to be kept in memory (4 bytes each); with more, every
// lookup asks bulkkey. A variable for tests.
var bulkPreFilterMax = 1 << 21

// bulkMaxKeys bounds the keys a bulk run keeps in memory, identity and
// source keys together (8 bytes each, plus the buckets' spare room of at
// most an eighth, bulkGrow): past it the run builds recordkey_hash and
// provenance_kh at its next commit and finds keys through them from then
// on (keysBounded). 4 Mi keys (about 36 MB) hold a million contacts' 3.6
// million; beyond, the rest of the run inserts into the indexes, as before
// bulk runs deferred them. A variable for tests.
var bulkMaxKeys int64 = 1 << 22

// bulkHeld is the memory, in bytes, that every bulkKeys of the process
// holds (BulkKeyBytes).
var bulkHeld atomic.Int64

// BulkKeyBytes returns the memory, in bytes, a bulk run holds to find keys
// while their indexes are deferred: pointer-free arrays the GC does not
// scan, that live exactly as long as the run's lookups. The process's soft
// memory limit (cmd) adds it to what it allows rather than counting it as
// heap to collect: counted as heap, a million contacts' 2.6 million
// identity keys (about 23 MB) put the live heap above cmd's 28 MiB limit,
// and the GC ran without pause (1M import: 585 s of CPU against 250).
func BulkKeyBytes() int64 { return bulkHeld.Load() }

// bulkBucketBits is how many upper bits of a hash choose its bucket; the
// next 32 bits are kept in the entry.
const bulkBucketBits = 12

// bulkKeys holds the identity keys (or the source keys: provenance_kh,
// the same way) a bulk run added, by hash.
type bulkKeys struct {
	mu    sync.Mutex
	table string // where the store's keys before the run are: bulkkey, bulkprov
	base  int64  // the first rowid of the run
	next  int64  // the next rowid the run gives (take)
	n     int64  // the keys added
	// held is the bytes of the arrays below, counted in bulkHeld.
	held int64
	// odd holds the keys whose rowid is below base or too far above it
	// for an entry's 32 bits: a source row may take a rowid the store
	// freed during the run (SQLite gives one above the largest left).
	odd map[int64][]int64
	// buckets[h's upper bits] is sorted entries: the next 32 bits of h,
	// then the rowid's offset from base.
	buckets [1 << bulkBucketBits][]uint64
	// pre is the sorted upper 32 bits of the hashes of the store's keys
	// before the run (bulkkey), when preAll is false; with preAll, every
	// lookup asks bulkkey. Neither: the store had none.
	pre    []uint32
	preAll bool
}

func bulkSplit(h int64) (bucket int, mid uint64) {
	u := uint64(h)
	return int(u >> (64 - bulkBucketBits)), (u >> (32 - bulkBucketBits)) & 0xffffffff
}

// add records that rowid holds a key with hash h.
func (b *bulkKeys) add(h, rowid int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n++
	if rowid < b.base || rowid-b.base >= 1<<32 {
		if b.odd == nil {
			b.odd = map[int64][]int64{}
		}
		b.odd[h] = append(b.odd[h], rowid)
		return
	}
	bk, mid := bulkSplit(h)
	e := mid<<32 | uint64(rowid-b.base)
	s := b.buckets[bk]
	if len(s) == cap(s) {
		// Grown by an eighth (append doubles small slices and grows
		// large ones by a quarter): the spare room is memory held.
		g := make([]uint64, len(s), bulkGrow(cap(s)))
		copy(g, s)
		b.hold(int64(cap(g)-cap(s)) * 8)
		s = g
	}
	i, _ := slices.BinarySearch(s, e)
	b.buckets[bk] = slices.Insert(s, i, e)
}

// bulkGrow is the capacity a full bucket of capacity c grows to.
func bulkGrow(c int) int { return c + c/8 + 16 }

// hold counts n more bytes held by b (bulkHeld).
func (b *bulkKeys) hold(n int64) {
	b.held += n
	bulkHeld.Add(n)
}

// release stops counting what b holds: the run no longer uses it.
func (b *bulkKeys) release() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	bulkHeld.Add(-b.held)
	b.held = 0
}

// take returns the rowid for a new key of the run.
func (b *bulkKeys) take() (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.next-b.base >= 1<<32 {
		return 0, fmt.Errorf("store key: more than %d keys in one bulk run", int64(1)<<32)
	}
	r := b.next
	b.next++
	return r, nil
}

// candidates appends to rows the rowids the run gave keys whose hash may
// be h, and reports whether the store's earlier keys (bulkkey) may hold
// h too.
func (b *bulkKeys) candidates(h int64, rows []int64) ([]int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bk, mid := bulkSplit(h)
	s := b.buckets[bk]
	i, _ := slices.BinarySearch(s, mid<<32)
	for ; i < len(s) && s[i]>>32 == mid; i++ {
		rows = append(rows, b.base+int64(s[i]&0xffffffff))
	}
	rows = append(rows, b.odd[h]...)
	pre := b.preAll
	if !pre && b.pre != nil {
		_, pre = slices.BinarySearch(b.pre, uint32(uint64(h)>>32))
	}
	return rows, pre
}

// count returns how many keys the run added; 0 for nil.
func (b *bulkKeys) count() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

// keysBounded builds recordkey_hash and provenance_kh, after a commit,
// when the run's keys in memory (both kinds together) passed bulkMaxKeys,
// and forgets them: the rest of the run finds keys through the indexes. A
// build that fails leaves the index deferred, as a killed run does
// (lookups read the table meanwhile, and BuildDeferred builds it at the
// end).
func (s *Store) keysBounded(ctx context.Context) {
	if s.keys.Load().count()+s.provKeys.Load().count() <= bulkMaxKeys {
		return
	}
	s.EndBulkLookups()
	_ = s.buildIndexes(context.WithoutCancel(ctx), []string{"recordkey_hash", "provenance_kh"})
}

// EndBulkLookups forgets what this process keeps in memory to find
// identity and source keys while recordkey_hash and provenance_kh are
// deferred, before BuildDeferred: lookups meanwhile read the table
// (correct, slow).
func (s *Store) EndBulkLookups() {
	s.keys.Swap(nil).release()
	s.provKeys.Swap(nil).release()
}

// keyRows returns the rowids of recordkey rows (provenance rows, for
// provKeys) that may hold a key with hash h, in a bulk run (bk not nil).
func (t *Tx) keyRows(bk *bulkKeys, h int64, rows []int64) ([]int64, error) {
	rows, pre := bk.candidates(h, rows[:0])
	if !pre {
		return rows, nil
	}
	// bulkkey and bulkprov are written only by DeferIndexes and
	// BuildDeferred: the pending rows never hold them.
	r, err := t.queryNow(`SELECT rid FROM `+bk.table+` WHERE h = ?`, h)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	for r.Next() {
		var id int64
		if err := r.Scan(&id); err != nil {
			return nil, err
		}
		rows = append(rows, id)
	}
	return rows, r.Err()
}

// keyAt returns the record of the recordkey row rowid when it holds key k
// (hash h) of entity e, and whether that record is deleted; "" when it
// does not.
func (t *Tx) keyAt(rowid, h int64, e, k string) (id string, deleted bool, err error) {
	err = t.peek(`SELECT k.record_id, r.deleted FROM recordkey k JOIN record r ON r.id = k.record_id
		WHERE k.rowid = ? AND k.h = ? AND k.entity = ? AND k.key = ?`, rowid, h, e, k).Scan(&id, &deleted)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return id, deleted, err
}

// bulkLookup returns the record holding key k of entity e in a bulk run:
// a live one when live, any otherwise.
func (t *Tx) bulkLookup(bk *bulkKeys, e, k string, live bool) (string, error) {
	h := keyHash(e, k)
	rows, err := t.keyRows(bk, h, t.keyBuf)
	t.keyBuf = rows
	if err != nil {
		return "", fmt.Errorf("look up key: %w", err)
	}
	for _, r := range rows {
		id, deleted, err := t.keyAt(r, h, e, k)
		if err != nil {
			return "", fmt.Errorf("look up key: %w", err)
		}
		if id != "" && (!live || !deleted) {
			return id, nil
		}
	}
	return "", nil
}

// bulkLinkSeries is linkSeries in a bulk run: the exceptions' masters
// found through bulkLookup rather than the deferred index.
func (t *Tx) bulkLinkSeries(bk *bulkKeys) error {
	rows, err := t.query(`SELECT id, uid FROM activity
		WHERE activitytypecode = 'appointment' AND recurrenceid IS NOT NULL AND uid IS NOT NULL AND seriesid IS NULL`)
	if err != nil {
		return fmt.Errorf("link series: %w", err)
	}
	var todo [][2]string
	for rows.Next() {
		var id, uid string
		if err := rows.Scan(&id, &uid); err != nil {
			rows.Close()
			return fmt.Errorf("link series: %w", err)
		}
		todo = append(todo, [2]string{id, uid})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("link series: %w", err)
	}
	for _, a := range todo {
		master, err := t.bulkLookup(bk, "appointment", "uid:"+a[1], false)
		if err != nil {
			return fmt.Errorf("link series: %w", err)
		}
		if master == "" {
			continue
		}
		if _, err := t.exec(`UPDATE activity SET seriesid = ? WHERE id = ?`, master, a[0]); err != nil {
			return fmt.Errorf("link series: %w", err)
		}
	}
	return nil
}
