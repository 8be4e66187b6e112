package crmstore

import (
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"

	"modernc.org/sqlite"
)

// Identity keys (table recordkey): an e-mail address, a Message-ID, a UID,
// a content digest, each naming at most one record of an entity. They are
// looked up by keyHash, a 64-bit hash of entity and key, through the index
// recordkey_hash: its entries are about 18 bytes, where an index on the
// keys themselves ('content:' and 40 hex digits, with the record id) took
// about 95. Keys are random, so each new record's keys land on random index
// pages; the smaller index keeps those pages in the page cache, where the
// larger one made every insert read and write a page at 100,000 contacts.
// A lookup compares entity and key too: two keys with one hash are two rows.

// keyHashFunc is keyHash as an SQL function, for SQL that looks keys up
// (linkSeries) and for the migration that added the column.
const keyHashFunc = "crm_keyhash"

func init() {
	sqlite.MustRegisterDeterministicScalarFunction(keyHashFunc, 2, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		e, ok1 := args[0].(string)
		k, ok2 := args[1].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%s: want two texts", keyHashFunc)
		}
		return keyHash(e, k), nil
	})
}

// keyHashMask is and-ed with every keyHash: all ones, except in tests
// that make many keys share a hash.
var keyHashMask = ^uint64(0)

// keyHash is the FNV-1a 64-bit hash of entity, a zero byte and key, as
// SQLite's signed integer.
func keyHash(entity, key string) int64 {
	// FNV-1a (draft-eastlake-fnv): offset basis and prime of 64 bits.
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(entity); i++ {
		h = (h ^ uint64(entity[i])) * prime
	}
	h *= prime // the zero byte between them
	for i := 0; i < len(key); i++ {
		h = (h ^ uint64(key[i])) * prime
	}
	return int64(h & keyHashMask)
}

// lookupKey returns the live (not deleted) record of entity e that holds
// identity key k, or "" when none does.
func (t *Tx) lookupKey(e, k string) (string, error) {
	if t.pend.keys[e+"\x00"+k] {
		if err := t.settle(); err != nil {
			return "", err
		}
	}
	if bk := t.s.keys.Load(); bk != nil {
		return t.bulkLookup(bk, e, k, true)
	}
	var id string
	err := t.peek(`SELECT k.record_id FROM recordkey k JOIN record r ON r.id = k.record_id AND r.deleted = 0
		WHERE k.h = ? AND k.entity = ? AND k.key = ?`, keyHash(e, k), e, k).Scan(&id)
	if err == sql.ErrNoRows {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("look up key: %w", err)
	}
	return id, nil
}

// lookupKeys returns, for each of keys that a live record of entity e
// holds, that record: what lookupKey returns for each, in one statement.
func (t *Tx) lookupKeys(e string, keys []string) (map[string]string, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	want := make(map[string]bool, len(keys))
	args := make([]any, 0, len(keys)+1)
	args = append(args, e)
	settle := false
	for _, k := range keys {
		if !want[k] {
			want[k] = true
			args = append(args, keyHash(e, k))
		}
		settle = settle || t.pend.keys[e+"\x00"+k]
	}
	if settle {
		if err := t.settle(); err != nil {
			return nil, err
		}
	}
	if bk := t.s.keys.Load(); bk != nil {
		found := map[string]string{}
		for k := range want {
			id, err := t.bulkLookup(bk, e, k, true)
			if err != nil {
				return nil, err
			}
			if id != "" {
				found[k] = id
			}
		}
		return found, nil
	}
	// Every statement of the transaction is kept prepared: one for each
	// count of distinct keys (a record has a handful).
	rows, err := t.queryNow(`SELECT k.key, k.record_id FROM recordkey k JOIN record r ON r.id = k.record_id AND r.deleted = 0
		WHERE k.entity = ? AND k.h IN (?`+strings.Repeat(",?", len(args)-2)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("look up keys: %w", err)
	}
	defer rows.Close()
	found := map[string]string{}
	for rows.Next() {
		var k, id string
		if err := rows.Scan(&k, &id); err != nil {
			return nil, fmt.Errorf("look up keys: %w", err)
		}
		if _, dup := found[k]; want[k] && !dup {
			found[k] = id
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up keys: %w", err)
	}
	return found, nil
}

// addKey gives identity key k of entity e to record id, unless a record
// (deleted or not) already holds it: a key names one record.
func (t *Tx) addKey(e, k, id string) error {
	if bk := t.s.keys.Load(); bk != nil {
		return t.bulkAddKey(bk, e, k, id)
	}
	if t.buffering() {
		// As below, for many keys in one statement, whose NOT EXISTS
		// sees only the rows before it: a key already pending is not
		// given again.
		pk := e + "\x00" + k
		if t.pend.keys[pk] {
			return nil
		}
		if err := t.later(`INSERT INTO recordkey (h, entity, key, record_id) SELECT * FROM (`,
			`) AS v WHERE NOT EXISTS (SELECT 1 FROM recordkey k WHERE k.h = v.column1 AND k.entity = v.column2 AND k.key = v.column3)`,
			keyHash(e, k), e, k, id); err != nil {
			return fmt.Errorf("store key: %w", err)
		}
		t.pend.keys[pk] = true
		return nil
	}
	if _, err := t.exec(`INSERT INTO recordkey (h, entity, key, record_id) SELECT ?1, ?2, ?3, ?4
		WHERE NOT EXISTS (SELECT 1 FROM recordkey WHERE h = ?1 AND entity = ?2 AND key = ?3)`, keyHash(e, k), e, k, id); err != nil {
		return fmt.Errorf("store key: %w", err)
	}
	return nil
}

// bulkAddKey is addKey in a bulk run: the check through bulkLookup, the
// row appended with the next rowid of the run, and that rowid kept.
func (t *Tx) bulkAddKey(bk *bulkKeys, e, k, id string) error {
	pk := e + "\x00" + k
	if t.buffering() && t.pend.keys[pk] {
		return nil
	}
	if !t.buffering() {
		// The check reads what the pending rows hold.
		if err := t.settle(); err != nil {
			return err
		}
	}
	if held, err := t.bulkLookup(bk, e, k, false); err != nil {
		return fmt.Errorf("store key: %w", err)
	} else if held != "" {
		return nil
	}
	rowid, err := bk.take()
	if err != nil {
		return err
	}
	h := keyHash(e, k)
	if err := t.later(`INSERT INTO recordkey (rowid, h, entity, key, record_id)`, ``, rowid, h, e, k, id); err != nil {
		return fmt.Errorf("store key: %w", err)
	}
	if t.buffering() {
		t.pend.keys[pk] = true
	}
	bk.add(h, rowid)
	return nil
}
