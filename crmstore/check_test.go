package crmstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"crmbridge/crm"
)

// checkedStore makes a closed store with a contact, an e-mail activity
// whose parties are one resolved contact and one bare address, and a CLI
// edit in the outbox.
func checkedStore(t *testing.T) string {
	t.Helper()
	s := openTest(t)
	apply(t, s, outlookJeff("1", "Jeff", "Smith", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)), PolicyNewest)
	apply(t, s, &crm.Incoming{
		Source: crm.SourceRef{Kind: "eml", Key: "<m1@example.com>", Version: "1"},
		Record: crm.Record{Entity: crm.Email, Fields: map[string]string{"subject": "hello"},
			Parties: []crm.Party{{Role: crm.RoleSender, Address: "jeff@example.com"}, {Role: crm.RoleTo, Address: "ann@example.com"}}},
		Keys: []string{"msgid:<m1@example.com>"},
	}, PolicyNewest)
	if err := s.Update(context.Background(), func(tx *Tx) error {
		_, err := tx.Create(crm.Contact, map[string]string{"lastname": "Lee"}, "cli")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	return s.Path()
}

func TestCheckSoundStore(t *testing.T) {
	path := checkedStore(t)
	rep, err := Check(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Integrity != "ok" || len(rep.Problems) != 0 || rep.Schema != len(migrations) {
		t.Fatalf("sound store: %+v", rep)
	}
}

// Each invariant, broken by hand, is reported by name.
func TestCheckInvariants(t *testing.T) {
	for _, c := range []struct{ name, sql, want string }{
		{"outbox", `DELETE FROM contact WHERE lastname = 'Lee'; DELETE FROM fieldstate WHERE record_id NOT IN (SELECT id FROM contact UNION SELECT id FROM activity);
			DELETE FROM record WHERE id NOT IN (SELECT id FROM contact UNION SELECT id FROM activity)`, "outbox entry without its record"},
		{"party", `UPDATE activityparty SET contact_id = '00000000-0000-0000-0000-000000000000' WHERE role = 1`, "activity party without record or address"},
		{"party address", `UPDATE activityparty SET address = '' WHERE contact_id IS NULL`, "activity party without record or address"},
		{"journal", `DELETE FROM journal WHERE seq = 2`, "journal gap"},
		{"tally", `UPDATE tally SET n = n + 1 WHERE name = 'record:contact'`, "tally: record:contact: counted 3, actual 2"},
		{"tally without rows", `DELETE FROM tally WHERE name = 'outbox:pending'`, "tally: outbox:pending: counted 0, actual"},
		// Migration 24: the writer keeps a source key on one row, with its
		// hash.
		{"source key twice", `INSERT INTO provenance (record_id, kind, key, kh, version, origin, seen_at)
			SELECT record_id, kind, key, kh, 'x', origin, seen_at FROM provenance WHERE kind = 'eml'`, "source key recorded twice: eml <m1@example.com>: 2 rows"},
		{"source key hash", `UPDATE provenance SET kh = kh + 1 WHERE kind = 'eml'`, "source key hash: provenance"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := checkedStore(t)
			db, err := sql.Open("sqlite", "file:"+path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(c.sql); err != nil {
				t.Fatal(err)
			}
			db.Close()
			rep, err := Check(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(rep.Problems, "\n"), c.want) {
				t.Fatalf("problems %q, want %q", rep.Problems, c.want)
			}
		})
	}
}

// A damaged store is reported, not refused, and left as it was.
func TestCheckDamagedStore(t *testing.T) {
	orig, err := os.ReadFile(closedStore(t, 2000))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			path := t.TempDir() + "/crm.db"
			bad := d.do(bytes.Clone(orig))
			os.WriteFile(path, bad, 0o600)
			rep, err := Check(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Problems) == 0 || rep.Integrity == "ok" {
				t.Fatalf("damage not reported: %+v", rep)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, bad) {
				t.Fatal("check changed the file")
			}
		})
	}
}

// dumpTables returns every row of every table of the database at path, in
// a stable order.
func dumpTables(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables []string
	rows, err := db.Query(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	var b strings.Builder
	for _, tb := range tables {
		order := "1, 2"
		var ncol int
		db.QueryRow(`SELECT COUNT(*) FROM pragma_table_info(?)`, tb).Scan(&ncol)
		if ncol == 1 {
			order = "1"
		}
		rows, err := db.Query(`SELECT * FROM "` + tb + `" ORDER BY ` + order)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			rows.Scan(ptrs...)
			fmt.Fprintf(&b, "%s %q\n", tb, vals)
		}
		rows.Close()
	}
	var uv, app int
	db.QueryRow(`PRAGMA user_version`).Scan(&uv)
	db.QueryRow(`PRAGMA application_id`).Scan(&app)
	fmt.Fprintf(&b, "user_version %d application_id %d\n", uv, app)
	return b.String()
}

// A backup holds exactly what the store holds, is 0600, opens as a store
// and passes Check; an existing destination is refused.
func TestBackupEqualsStore(t *testing.T) {
	path := checkedStore(t)
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dest := t.TempDir() + "/backup.db"
	if err := s.Backup(context.Background(), dest); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dest); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup: %v %v, want mode 0600", fi, err)
	}
	if got, want := dumpTables(t, dest), dumpTables(t, path); got != want {
		t.Fatalf("backup differs from the store:\n%s\n---\n%s", got, want)
	}
	if rep, err := Check(context.Background(), dest); err != nil || len(rep.Problems) != 0 {
		t.Fatalf("check backup: %v %+v", err, rep)
	}
	if err := s.Backup(context.Background(), dest); !errors.Is(err, ErrExists) {
		t.Fatalf("second backup to the same file: %v", err)
	}
	// Only the copy (and Check's record that it is sound).
	ents, _ := os.ReadDir(filepath.Dir(dest))
	for _, e := range ents {
		if e.Name() != "backup.db" && e.Name() != "backup.db.verified" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// The tally follows changes no store code makes today (a record removed
// for good, a blob replaced, a source renamed): the triggers, not the
// callers, keep it.
func TestTallyFollowsRows(t *testing.T) {
	path := checkedStore(t)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO blob (sha256, size) VALUES ('x', 3)`,
		`INSERT INTO blobchunk (sha256, n, data) VALUES ('x', 0, x'010203')`,
		`INSERT INTO attachment (record_id, ord, name, mimetype, contentid, inline, size, sha256)
			SELECT id, 0, 'a.txt', 'text/plain', '', 0, 3, 'x' FROM activity`,
		`UPDATE blob SET size = 5`,
		`UPDATE blobchunk SET data = x'0102030405'`,
		`UPDATE provenance SET kind = 'renamed' WHERE kind = 'eml'`,
		`UPDATE outbox SET state = 'dead'`,
		`DELETE FROM outbox WHERE record_id IN (SELECT id FROM activity)`,
		`DELETE FROM record WHERE id IN (SELECT id FROM activity)`, // cascades to attachment and provenance
		`UPDATE record SET entity = 'lead', deleted = 1 WHERE id IN (SELECT id FROM contact LIMIT 1)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM tally WHERE name IN ('record:email', 'attachment') AND n != 0`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("tally after removing the activity: %d rows not 0 (%v)", n, err)
	}
	db.Close()
	rep, err := Check(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 0 {
		t.Fatalf("problems: %q", rep.Problems)
	}
}
