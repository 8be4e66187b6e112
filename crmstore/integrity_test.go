package crmstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"crmbridge/crm"
)

// closedStore makes a store with n contacts and closes it (the WAL is
// checkpointed into the file), returning its path.
func closedStore(t *testing.T, n int) string {
	t.Helper()
	s := openTest(t)
	tx, err := s.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		in := &crm.Incoming{
			Source: crm.SourceRef{Kind: "vcf", Key: fmt.Sprintf("uid-%d", i), Version: "1"},
			Record: crm.Record{Entity: crm.Contact, Fields: map[string]string{
				"firstname": fmt.Sprintf("First%d", i), "lastname": fmt.Sprintf("Last%d", i),
				"emailaddress1": fmt.Sprintf("p%d@example.com", i), "description": fmt.Sprintf("note %d about this contact", i),
			}},
			Keys: []string{fmt.Sprintf("email:p%d@example.com", i)},
		}
		if _, err := tx.Apply(in, PolicyNewest); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return s.Path()
}

// damages are ways a store file gets damaged (or replaced), each with the
// error Open must give.
var damages = []struct {
	name string
	want error
	do   func(b []byte) []byte
}{
	{"bytes flipped mid-file", ErrDamaged, func(b []byte) []byte {
		// At the start of the middle page: its b-tree header and cell
		// pointers. (Flipped bytes inside a record's text are not
		// structure: SQLite keeps no page checksums to find them.)
		mid := len(b) / 2 / 4096 * 4096
		for i := mid; i < mid+64; i++ {
			b[i] ^= 0xff
		}
		return b
	}},
	{"page zeroed", ErrDamaged, func(b []byte) []byte {
		const page = 4096
		mid := len(b) / 2 / page * page
		clear(b[mid : mid+page])
		return b
	}},
	{"truncated", ErrDamaged, func(b []byte) []byte { return b[:len(b)/2] }},
	{"truncated at a page", ErrDamaged, func(b []byte) []byte { return b[:len(b)/2/4096*4096] }},
	{"header only", ErrDamaged, func(b []byte) []byte { return b[:60] }},
	{"0 bytes", ErrNotStore, func(b []byte) []byte { return nil }},
	{"text file", ErrNotStore, func(b []byte) []byte { return []byte("BEGIN:VCARD\r\nEND:VCARD\r\n") }},
}

// A damaged store, or a file that is not a store, is refused by Open for
// reading and for writing, and left byte-identical.
func TestOpenRefusesDamagedStore(t *testing.T) {
	good := closedStore(t, 2000)
	orig, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(orig) < 40*4096 {
		t.Fatalf("store of %d bytes: too small for the damage cases", len(orig))
	}
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "crm.db")
			if err := os.WriteFile(path, orig, 0o600); err != nil {
				t.Fatal(err)
			}
			// Opened once whole: the state is recorded as verified, and
			// the damage below (in place, as a disk or a tool would do
			// it) must still be found.
			s, err := Open(context.Background(), path, Options{})
			if err != nil {
				t.Fatalf("sound copy: %v", err)
			}
			s.Close()
			if _, err := os.Stat(verifiedPath(path)); err != nil {
				t.Fatalf("no verified record after a clean open: %v", err)
			}
			bad := d.do(bytes.Clone(orig))
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, opts := range []Options{{}, {Write: true, Create: true, LockTimeout: time.Second}} {
				s, err := Open(context.Background(), path, opts)
				if err == nil {
					s.Close()
					t.Fatalf("Open(write=%v) accepted the store", opts.Write)
				}
				var de *DamagedError
				if !errors.Is(err, d.want) || !errors.As(err, &de) || de.Path != path || !IsDamaged(err) {
					t.Fatalf("Open(write=%v): %v, want %v naming %s", opts.Write, err, d.want, path)
				}
				got, _ := os.ReadFile(path)
				if !bytes.Equal(got, bad) {
					t.Fatalf("Open(write=%v) changed the file", opts.Write)
				}
			}
		})
	}
}

// Another application's SQLite database is refused, never migrated.
func TestOpenRefusesForeignDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('mine')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before, _ := os.ReadFile(path)
	for _, uv := range []bool{false, true} {
		if uv {
			// With a user_version, as many applications set.
			db, _ := sql.Open("sqlite", "file:"+path)
			db.Exec(`PRAGMA user_version = 2`)
			db.Close()
			before, _ = os.ReadFile(path)
		}
		_, err = Open(context.Background(), path, Options{Write: true, Create: true, LockTimeout: time.Second})
		if !errors.Is(err, ErrNotStore) {
			t.Fatalf("user_version set %v: %v, want ErrNotStore", uv, err)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
			t.Fatal("foreign database changed")
		}
	}
}

// A store is created in an existing directory, or with CreateDir; a
// missing directory is refused otherwise and nothing is created.
func TestCreateOnlyWhereTheDirectoryExists(t *testing.T) {
	dir := t.TempDir()
	typo := filepath.Join(dir, "no", "such", "crm.db")
	_, err := Open(context.Background(), typo, Options{Write: true, Create: true, LockTimeout: time.Second})
	if !errors.Is(err, ErrNoDir) {
		t.Fatalf("missing directory: %v, want ErrNoDir", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "no")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a directory was created")
	}
	s, err := Open(context.Background(), filepath.Join(dir, "crm.db"), Options{Write: true, Create: true, LockTimeout: time.Second})
	if err != nil {
		t.Fatalf("existing directory: %v", err)
	}
	s.Close()
}

// A store directory others can read is warned about; one we create is 0700.
func TestStoreDirectoryMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	var warned []string
	s, err := Open(context.Background(), filepath.Join(dir, "crm.db"), Options{Write: true, Create: true, LockTimeout: time.Second,
		Warn: func(m string) { warned = append(warned, m) }})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if len(warned) != 1 {
		t.Fatalf("warnings %q, want one about %s", warned, dir)
	}
	made := filepath.Join(t.TempDir(), "a", "b")
	s, err = Open(context.Background(), filepath.Join(made, "crm.db"), Options{Write: true, Create: true, CreateDir: true, LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, d := range []string{made, filepath.Dir(made)} {
		if fi, _ := os.Stat(d); fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %04o, want 0700", d, fi.Mode().Perm())
		}
	}
}

// A store whose creation was cut short after the file appeared (killed
// before its first migration) is still crmbridge's: Open migrates it.
func TestOpenStoreKilledDuringCreation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crm.db")
	if err := createStore(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Fatalf("left behind: %v", ents)
	}
	s, err := Open(context.Background(), path, Options{Write: true, LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := s.SchemaVersion(context.Background()); v != len(migrations) {
		t.Fatalf("schema %d, want %d", v, len(migrations))
	}
}
