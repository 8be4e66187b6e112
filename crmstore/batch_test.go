package crmstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"crmbridge/crm"
)

func contactIn(key, last string) *crm.Incoming {
	return &crm.Incoming{
		Source:     crm.SourceRef{Kind: "vcf", Key: key, Version: "1"},
		Record:     crm.Record{Entity: crm.Contact, Fields: map[string]string{"lastname": last}},
		ModifiedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

// A new record writes without a savepoint: when a write of it fails, the
// batch holds part of the record and must not commit. Its rows are
// inserted with those of other new records (pending.go), so the failure
// shows at the latest when they are: a later Apply or Commit says so, as a
// store failure; every Apply after it and Commit refuse, and the rollback
// leaves the store as before the batch.
func TestCreationFailureAbortsBatch(t *testing.T) {
	for _, after := range []int{0, 2 * pendingRecords} { // B's rows inserted by Commit, or by a later Apply
		t.Run(fmt.Sprint(after), func(t *testing.T) {
			ctx := context.Background()
			s := openTest(t)
			apply(t, s, contactIn("before", "Before"), PolicyNewest)

			tx, err := s.Begin(ctx)
			must(t, err)
			if _, err := tx.Apply(contactIn("a", "A"), PolicyNewest); err != nil {
				t.Fatal(err)
			}
			// The journal refuses B's creation entry: a failure after B's
			// record and contact rows were written.
			if _, err := tx.exec(`CREATE TEMP TRIGGER refuse_b BEFORE INSERT ON main.journal
				WHEN NEW.record_id IN (SELECT id FROM main.contact WHERE lastname = 'B') BEGIN SELECT RAISE(ABORT, 'refused'); END`); err != nil {
				t.Fatal(err)
			}
			_, err = tx.Apply(contactIn("b", "B"), PolicyNewest)
			for i := 0; err == nil && i < after; i++ {
				_, err = tx.Apply(contactIn(fmt.Sprint("c", i), "C"), PolicyNewest)
			}
			if after > 0 && (!errors.Is(err, ErrBatchAborted) || !IsStoreFailure(err)) {
				t.Fatalf("apply after B: %v, want a store failure (ErrBatchAborted)", err)
			}
			if _, err := tx.Apply(contactIn("d", "D"), PolicyNewest); after > 0 && !errors.Is(err, ErrBatchAborted) {
				t.Fatalf("apply after the batch broke: %v", err)
			}
			if err := tx.Commit(); !errors.Is(err, ErrBatchAborted) || !IsStoreFailure(err) {
				t.Fatalf("commit of a broken batch: %v", err)
			}
			tx.Rollback()
			if n := count(t, s, `SELECT COUNT(*) FROM record`); n != 1 {
				t.Fatalf("%d records after the broken batch, want the 1 from before", n)
			}
			// The next batch applies them all.
			for _, k := range []string{"a", "b", "d"} {
				apply(t, s, contactIn(k, k), PolicyNewest)
			}
			if n := count(t, s, `SELECT COUNT(*) FROM contact`); n != 4 {
				t.Fatalf("%d contacts, want 4", n)
			}
			rep, err := Check(ctx, s.Path())
			if err != nil || len(rep.Problems) != 0 {
				t.Fatalf("check: %+v %v", rep, err)
			}
		})
	}
}

// What an item's creation can be refused for is checked before its first
// write, so a refused item leaves the batch going: an attachment given by
// hash whose content the store does not hold.
func TestCreationRefusedBeforeWriting(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	tx, err := s.Begin(ctx)
	must(t, err)
	bad := &crm.Incoming{
		Source: crm.SourceRef{Kind: "eml", Key: "m1", Version: "1"},
		Record: crm.Record{Entity: crm.Email, Fields: map[string]string{"subject": "s"},
			Attachments: []crm.Attachment{{Name: "a.txt", MimeType: "text/plain", SHA256: "0000"}}},
	}
	_, err = tx.Apply(bad, PolicyNewest)
	if err == nil || IsStoreFailure(err) {
		t.Fatalf("attachment without content: %v, want an item's refusal", err)
	}
	if _, err := tx.Apply(contactIn("a", "A"), PolicyNewest); err != nil {
		t.Fatalf("next item: %v", err)
	}
	must(t, tx.Commit())
	if n := count(t, s, `SELECT COUNT(*) FROM record`); n != 1 {
		t.Fatalf("%d records, want 1", n)
	}
}

// A batch broken by one item's own failure (a constraint it broke, not
// the database) says so (IsItemAbort), and replayed with Careful the same
// failure rolls back that item alone: the others commit.
func TestCarefulReplayIsolatesTheItem(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	refuseB := func(tx *Tx) {
		t.Helper()
		if _, err := tx.exec(`CREATE TEMP TRIGGER IF NOT EXISTS refuse_b BEFORE INSERT ON main.journal
			WHEN NEW.record_id IN (SELECT id FROM main.contact WHERE lastname = 'B') BEGIN SELECT RAISE(ABORT, 'refused'); END`); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := s.Begin(ctx)
	must(t, err)
	refuseB(tx)
	_, err = tx.Apply(contactIn("b", "B"), PolicyNewest)
	if err == nil {
		err = tx.Commit() // B's rows are inserted at the latest there
	}
	if !IsItemAbort(err) {
		t.Fatalf("apply and commit B: %v, want an item's abort", err)
	}
	tx.Rollback()

	tx, err = s.Begin(ctx)
	must(t, err)
	refuseB(tx)
	tx.Careful()
	for _, k := range []string{"A", "B", "C"} {
		_, err := tx.Apply(contactIn(k, k), PolicyNewest)
		if k == "B" {
			if err == nil || IsStoreFailure(err) {
				t.Fatalf("careful apply B: %v, want the item refused alone", err)
			}
		} else if err != nil {
			t.Fatalf("careful apply %s: %v", k, err)
		}
	}
	must(t, tx.Commit())
	if n := count(t, s, `SELECT COUNT(*) FROM contact`); n != 2 {
		t.Fatalf("%d contacts, want A and C", n)
	}
	rep, err := Check(ctx, s.Path())
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("check: %+v %v", rep, err)
	}
}

// A database failure is never an item's abort.
func TestIsItemAbort(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("%w: %w", ErrBatchAborted, errors.New("internal error: boom")), true},
		{fmt.Errorf("%w: %w", ErrBatchAborted, sql.ErrConnDone), false},
		{errors.New("attachment missing"), false},
		{sql.ErrTxDone, false},
	} {
		if got := IsItemAbort(c.err); got != c.want {
			t.Errorf("IsItemAbort(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// Every connection of a store checkpoints its WAL at walCheckpointPages,
// not SQLite's default of 1,000 pages.
func TestWALCheckpointSize(t *testing.T) {
	s := openTest(t)
	for range 3 { // the pool's connections, not only the first
		tx, err := s.Begin(context.Background())
		must(t, err)
		var n int
		must(t, tx.queryRow(`PRAGMA wal_autocheckpoint`).Scan(&n))
		tx.Rollback()
		if n != walCheckpointPages {
			t.Fatalf("wal_autocheckpoint %d, want %d", n, walCheckpointPages)
		}
	}
}
