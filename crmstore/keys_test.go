package crmstore

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"hash/fnv"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"crmbridge/crm"
)

// keyHash is FNV-1a 64 over entity, a zero byte and key (compared with
// the standard library's FNV-1a).
func TestKeyHash(t *testing.T) {
	for _, c := range [][2]string{{"", ""}, {"contact", "email:a@example.com"}, {"appointment", "uid:ü-1"}} {
		h := fnv.New64a()
		h.Write([]byte(c[0] + "\x00" + c[1]))
		if got, want := uint64(keyHash(c[0], c[1])), h.Sum64(); got != want {
			t.Errorf("keyHash(%q, %q) = %#x, want %#x", c[0], c[1], got, want)
		}
	}
	if keyHash("contact", "email:a@example.com") == keyHash("contactemail:a@example.com", "") {
		t.Fatal("the separator between entity and key is not hashed")
	}
}

// Two keys with one hash are two keys: a lookup compares the key itself,
// and a key is stored even when another key has its hash.
func TestKeyHashCollision(t *testing.T) {
	s := openTest(t)
	a := apply(t, s, &crm.Incoming{
		Source: crm.SourceRef{Kind: "vcf", Key: "a", Version: "1"},
		Record: crm.Record{Entity: crm.Contact, Fields: map[string]string{"lastname": "Ames", "emailaddress1": "ames@example.com"}},
		Keys:   []string{"email:ames@example.com"},
	}, PolicyNewest)
	// A row whose hash is that of the key B will give, for another key.
	const keyB = "email:bell@example.com"
	if _, err := s.db.Exec(`INSERT INTO recordkey (h, entity, key, record_id) VALUES (?, 'contact', 'email:other@example.com', ?)`,
		keyHash("contact", keyB), a.ID); err != nil {
		t.Fatal(err)
	}
	b := apply(t, s, &crm.Incoming{
		Source: crm.SourceRef{Kind: "vcf", Key: "b", Version: "1"},
		Record: crm.Record{Entity: crm.Contact, Fields: map[string]string{"lastname": "Ames", "emailaddress1": "bell@example.com"}},
		Keys:   []string{keyB},
	}, PolicyNewest)
	if b.ID == a.ID || b.Outcome != Created {
		t.Fatalf("B merged into A by a hash collision: %+v", b)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM recordkey WHERE key = ? AND record_id = ?`, keyB, b.ID); n != 1 {
		t.Fatalf("B's key stored %d times", n)
	}
	c := apply(t, s, &crm.Incoming{
		Source: crm.SourceRef{Kind: "vcf", Key: "c", Version: "1"},
		Record: crm.Record{Entity: crm.Contact, Fields: map[string]string{"lastname": "Ames", "mobilephone": "1"}},
		Keys:   []string{keyB},
	}, PolicyNewest)
	if c.ID != b.ID {
		t.Fatalf("C with B's key: record %s, want %s", c.ID, b.ID)
	}
	// A key names one record: a second record never takes it.
	tx, err := s.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.addKey("contact", keyB, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM recordkey WHERE key = ?`, keyB); n != 1 {
		t.Fatalf("key held by %d rows", n)
	}
}

// A store at schema 16 (identity keys by key) keeps its keys through the
// migration to hashed keys: a version from another source with the same
// key merges into the record, and the series link by UID still finds it.
func TestMigrateRecordKeys(t *testing.T) {
	const id, appt = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
	path := storeAt(t, 16, `INSERT INTO record (id, entity, created_at, modified_at) VALUES (?1, 'contact', 'x', 'x'), (?2, 'appointment', 'x', 'x');
		INSERT INTO contact (id, lastname, emailaddress1) VALUES (?1, 'Old', 'old@example.com');
		INSERT INTO activity (id, activitytypecode, subject, uid) VALUES (?2, 'appointment', 'Series', 'u1');
		INSERT INTO recordkey (entity, key, record_id) VALUES ('contact', 'email:old@example.com', ?1), ('appointment', 'uid:u1', ?2);`, id, appt)
	s, err := Open(context.Background(), path, Options{Write: true, LockTimeout: time.Second, Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := count(t, s, `SELECT COUNT(*) FROM recordkey WHERE h = `+keyHashFunc+`(entity, key)`); n != 2 {
		t.Fatalf("%d keys hashed after the migration, want 2", n)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM recordkey WHERE h = ?`, keyHash("contact", "email:old@example.com")); n != 1 {
		t.Fatal("the SQL function and keyHash disagree")
	}
	res := apply(t, s, &crm.Incoming{
		Source: crm.SourceRef{Kind: "vcf", Key: "new", Version: "1"},
		Record: crm.Record{Entity: crm.Contact, Fields: map[string]string{"lastname": "Old", "mobilephone": "+1 555 0100"}},
		Keys:   []string{"email:old@example.com"},
	}, PolicyNewest)
	if res.ID != id {
		t.Fatalf("version with the old record's key: record %s, want %s", res.ID, id)
	}
	exc := apply(t, s, &crm.Incoming{
		Source: crm.SourceRef{Kind: "ics", Key: "u1#r1", Version: "1"},
		Record: crm.Record{Entity: crm.Appointment, Fields: map[string]string{"subject": "Moved", "uid": "u1", "recurrenceid": "2026-01-02T10:00:00Z",
			"scheduledstart": "2026-01-02T11:00:00Z", "scheduledend": "2026-01-02T12:00:00Z"}},
		Keys: []string{"uid:u1#2026-01-02T10:00:00Z"},
	}, PolicyNewest)
	if got := fields(t, s, exc.ID)["seriesid"]; got != appt {
		t.Fatalf("exception's seriesid %q, want the migrated master %s", got, appt)
	}
}

// A store at schema 17 gets the party address index with contact ids
// (migration 18), and its parties still resolve to a contact added later.
func TestMigratePartyAddressIndex(t *testing.T) {
	const mail = "33333333-3333-3333-3333-333333333333"
	path := storeAt(t, 17, `INSERT INTO record (id, entity, created_at, modified_at) VALUES (?1, 'email', 'x', 'x');
		INSERT INTO activity (id, activitytypecode, subject) VALUES (?1, 'email', 'Hi');
		INSERT INTO activityparty (activity_id, ord, role, address, name, status) VALUES (?1, 0, 1, 'Ann@Example.com', 'Ann', '');`, mail)
	s, err := Open(context.Background(), path, Options{Write: true, LockTimeout: time.Second, Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := count(t, s, `SELECT COUNT(*) FROM pragma_index_info('activityparty_address')`); n != 2 {
		t.Fatalf("activityparty_address has %d columns, want 2 (address, contact)", n)
	}
	c := apply(t, s, &crm.Incoming{
		Source: crm.SourceRef{Kind: "vcf", Key: "ann", Version: "1"},
		Record: crm.Record{Entity: crm.Contact, Fields: map[string]string{"lastname": "Ann", "emailaddress1": "ann@example.com"}},
		Keys:   []string{"email:ann@example.com"},
	}, PolicyNewest)
	if n := count(t, s, `SELECT COUNT(*) FROM activityparty WHERE contact_id = ?`, c.ID); n != 1 {
		t.Fatalf("%d parties resolved to the new contact, want 1", n)
	}
}

// Every query that finds an identity key by its text goes through the
// hash index (recordkey_hash): recordkey has no index on (entity, key), so
// a lookup by key alone reads the whole table, once per item. The rule is
// checked on every SQL text of the package's sources.
func TestRecordKeyLookupsUseHash(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING || !strings.Contains(lit.Value, "recordkey") {
				return true
			}
			q := lit.Value
			if strings.Contains(q, "CREATE TABLE") || strings.Contains(q, "CREATE INDEX") {
				return true // schema, not a lookup
			}
			checked++
			byKey := strings.Contains(q, "key = ") && !strings.Contains(q, "record_id, key")
			if byKey && !strings.Contains(q, "h = ") {
				t.Errorf("%s: a query finds a recordkey by key without its hash h (a scan of the table): %s", fset.Position(lit.Pos()), q)
			}
			return true
		})
	}
	if checked == 0 {
		t.Fatal("no recordkey query found: the check reads nothing")
	}
}
