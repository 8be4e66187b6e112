package crmstore

import (
	"context"
	"testing"
	"time"

	"crmbridge/crm"
)

// A store at schema 23 (provenance with UNIQUE (kind, key)) migrates to
// source keys by hash: every row keeps its id, values and merge base (the
// table rebuild must not cascade into base), gains its key's hash, and is
// found again by its key; the unique index is gone, check finds nothing.
func TestMigrateSourceKeys(t *testing.T) {
	ctx := context.Background()
	const rec = "11111111-1111-1111-1111-111111111111"
	path := storeAt(t, 23, `INSERT INTO record (id, entity, created_at, modified_at) VALUES ('`+rec+`', 'contact', 'x', 'x');
		INSERT INTO contact (id, fullname) VALUES ('`+rec+`', 'Old Name');
		INSERT INTO provenance (id, record_id, kind, key, version, origin, seen_at, sequence, stamp, version_guessed)
			VALUES (7, '`+rec+`', 'vcf', '/a.vcf#u1', 'v1', 'vcf:/a.vcf', 'x', NULL, NULL, 0),
			       (9, '`+rec+`', 'upstream', '`+rec+`', 'etag1', 'upstream', 'x', 3, 's', 1);
		INSERT INTO base (provenance_id, field, value) VALUES (7, 'fullname', 'Old Name'), (9, 'fullname', 'Old Name'), (9, '_memberids', '[]');`)
	s, err := Open(ctx, path, Options{Write: true, LockTimeout: time.Second, Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := s.SchemaVersion(ctx); v != len(migrations) || v < 24 {
		t.Fatalf("version %d, want %d", v, len(migrations))
	}
	if n := count(t, s, `SELECT COUNT(*) FROM base`); n != 3 {
		t.Fatalf("base holds %d rows after the migration, want 3", n)
	}
	for _, c := range []struct {
		id        int64
		kind, key string
		want      int
	}{{7, "vcf", "/a.vcf#u1", 1}, {9, "upstream", rec, 1}} {
		if n := count(t, s, `SELECT COUNT(*) FROM provenance WHERE id = ? AND kh = ? AND kind = ? AND key = ?`,
			c.id, keyHash(c.kind, c.key), c.kind, c.key); n != c.want {
			t.Errorf("provenance %d (%s %s) with its hash: %d rows", c.id, c.kind, c.key, n)
		}
	}
	if n := count(t, s, `SELECT COUNT(*) FROM provenance WHERE id = 9 AND version = 'etag1' AND sequence = 3 AND stamp = 's' AND version_guessed = 1 AND record_id = ?`, rec); n != 1 {
		t.Error("provenance 9 lost a value")
	}
	if n := count(t, s, `SELECT COUNT(*) FROM sqlite_master WHERE tbl_name = 'provenance' AND type = 'index' AND name LIKE 'sqlite_autoindex%'`); n != 0 {
		t.Error("provenance keeps its unique index")
	}
	if n := count(t, s, `SELECT COUNT(*) FROM sqlite_master WHERE tbl_name = 'provenance' AND type = 'trigger'`); n != 3 {
		t.Errorf("provenance has %d tally triggers, want 3", n)
	}
	// Found by its key: the same version changes nothing, its base is
	// the one the migration kept.
	in := &crm.Incoming{Source: crm.SourceRef{Kind: "vcf", Key: "/a.vcf#u1", Version: "v1"},
		Record: crm.Record{Entity: crm.Contact, Fields: map[string]string{"fullname": "Old Name"}}}
	if res := apply(t, s, in, PolicyNewest); res.Outcome != Unchanged || !res.Known || res.ID != rec {
		t.Errorf("the migrated source applied again: %+v", res)
	}
	if err := s.Update(ctx, func(tx *Tx) error {
		ids, ok, err := tx.memberBase(rec)
		if err != nil || !ok || len(ids) != 0 {
			t.Errorf("member base of the migrated upstream source: %v %v %v", ids, ok, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Deleting the record still cascades to its sources and their base.
	if _, err := s.db.Exec(`DELETE FROM record WHERE id = ?`, rec); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT (SELECT COUNT(*) FROM provenance) + (SELECT COUNT(*) FROM base)`); n != 0 {
		t.Errorf("%d provenance and base rows outlive their record", n)
	}
	s.Close()
	rep, err := Check(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 0 {
		t.Errorf("check after the migration: %q", rep.Problems)
	}
}

// The writer keeps a source key on one row: applying one source twice in
// one transaction, in savepoints (careful) or not, and an upstream base set
// twice, leave one row each, whatever the hashes share.
func TestSourceKeyOneRow(t *testing.T) {
	for _, mask := range []uint64{^uint64(0), 0x3} {
		withKeyHashMask(t, mask)
		for _, careful := range []bool{false, true} {
			s := openTest(t)
			tx, err := s.Begin(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if careful {
				tx.Careful()
			}
			for i := 0; i < 3; i++ {
				for _, k := range []int{1, 2, 1, 3} {
					in := keyContact(k, "Name", "p@example.com")
					in.Source.Version = string(rune('a' + i))
					if _, err := tx.Apply(in, PolicyNewest); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			var id string
			if err := s.db.QueryRow(`SELECT id FROM record LIMIT 1`).Scan(&id); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				if err := s.Update(context.Background(), func(tx *Tx) error {
					if err := tx.setUpstreamBase(crm.Contact, id, "e", map[string]string{"fullname": ""}, nil); err != nil {
						return err
					}
					return tx.setMemberBase(id, "e", nil)
				}); err != nil {
					t.Fatal(err)
				}
			}
			if n := count(t, s, `SELECT COUNT(*) FROM (SELECT 1 FROM provenance GROUP BY kind, key HAVING COUNT(*) > 1)`); n != 0 {
				t.Errorf("mask %#x careful %v: %d source keys on more than one row", mask, careful, n)
			}
			if n := count(t, s, `SELECT COUNT(*) FROM provenance`); n != 4 {
				t.Errorf("mask %#x careful %v: %d provenance rows, want 4 (c1, c2, c3, upstream)", mask, careful, n)
			}
			s.Close()
		}
	}
}
