package crmstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"crmbridge/crm"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "sub", "crm.db"), Options{Create: true, CreateDir: true, Write: true, LockTimeout: time.Second, Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		checkTally(t, s)
		s.Close()
	})
	return s
}

// checkTally fails t when the tally status reads (kept by triggers) does
// not match the rows: every test's store is checked at its end, whatever
// the test did to it.
func checkTally(t *testing.T, s *Store) {
	t.Helper()
	if s.db == nil {
		return // closed by the test
	}
	for _, inv := range invariants {
		if inv.name != "tally" {
			continue
		}
		rows, err := s.db.Query(inv.query)
		if err != nil {
			t.Errorf("tally: %v", err)
			return
		}
		defer rows.Close()
		for rows.Next() {
			var what string
			if err := rows.Scan(&what); err != nil {
				t.Errorf("tally: %v", err)
				return
			}
			t.Errorf("tally: %s", what)
		}
		return
	}
	t.Error("no tally invariant")
}

func apply(t *testing.T, s *Store, in *crm.Incoming, p Policy) Result {
	t.Helper()
	tx, err := s.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	res, err := tx.Apply(in, p)
	if err != nil && !errors.Is(err, ErrConflict) {
		tx.Rollback()
		t.Fatalf("apply: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return res
}

func outlookJeff(version, first, last string, at time.Time) *crm.Incoming {
	return &crm.Incoming{
		Source:     crm.SourceRef{Kind: "pst", Key: "jeff-entry", Version: version},
		Record:     crm.Record{Entity: crm.Contact, Fields: map[string]string{"firstname": first, "lastname": last, "emailaddress1": "jeff@example.com"}},
		Keys:       []string{"email:jeff@example.com"},
		ModifiedAt: at,
	}
}

func fields(t *testing.T, s *Store, id string) map[string]string {
	t.Helper()
	v, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return v.Fields
}

func set(t *testing.T, s *Store, id string, f map[string]string) {
	t.Helper()
	tx, err := s.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Set(id, f, "cli"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, s *Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The seed's example: Outlook changes the first name, the CRM side the
// last name; both survive.
func TestMergeDifferentFields(t *testing.T) {
	s := openTest(t)
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	res := apply(t, s, outlookJeff("v1", "Jeff", "Smith", t0), PolicyNewest)
	if res.Outcome != Created {
		t.Fatalf("first import: %v", res.Outcome)
	}
	s.now = func() time.Time { return t0.Add(2 * time.Hour) }
	set(t, s, res.ID, map[string]string{"lastname": "Rodman"})
	res2 := apply(t, s, outlookJeff("v2", "John", "Smith", t0.Add(time.Hour)), PolicyNewest)
	if res2.ID != res.ID || res2.Outcome != Updated || res2.Conflicts != 0 {
		t.Fatalf("second import: %+v", res2)
	}
	got := fields(t, s, res.ID)
	if got["firstname"] != "John" || got["lastname"] != "Rodman" || got["fullname"] != "John Rodman" {
		t.Fatalf("got %s %s (%s), want John Rodman", got["firstname"], got["lastname"], got["fullname"])
	}
	if n := count(t, s, `SELECT COUNT(*) FROM conflict`); n != 0 {
		t.Fatalf("%d conflicts recorded, want 0", n)
	}
}

// The old client's flaw fixed: a CRM-side change made later than the
// Outlook change is not overwritten by the older Outlook value, and the
// conflict is recorded.
//
// The same holds when the source's earlier version did not give the field
// at all (v1 without a first name): a source that knew the record and
// said nothing of a field had it empty, so a value it gives now is its
// change, and the CRM's value is the other. Before, that field had no
// merge base, the policy decided without recording a conflict, and under
// --conflict fail the source's value was dropped without a word.
func TestMergeOlderChangeDoesNotWin(t *testing.T) {
	for _, v1First := range []string{"Jeff", ""} {
		testMergeOlderChangeDoesNotWin(t, v1First)
	}
}

func testMergeOlderChangeDoesNotWin(t *testing.T, v1First string) {
	for _, tc := range []struct {
		policy     Policy
		outlookAt  time.Duration // after t0; the CRM change is at t0+2h
		wantFirst  string
		wantWinner string
		wantErr    bool
	}{
		{PolicyNewest, time.Hour, "Jack", "local", false},
		{PolicyNewest, 3 * time.Hour, "John", "incoming", false},
		{PolicyLocal, 3 * time.Hour, "Jack", "local", false},
		{PolicyIncoming, time.Hour, "John", "incoming", false},
		{PolicyFail, 3 * time.Hour, "Jack", "none", true},
	} {
		t.Run("v1="+v1First+"/"+string(tc.policy)+"/"+tc.outlookAt.String(), func(t *testing.T) {
			s := openTest(t)
			t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
			v1 := outlookJeff("v1", v1First, "Smith", t0)
			if v1First == "" {
				delete(v1.Record.Fields, "firstname")
			}
			res := apply(t, s, v1, PolicyNewest)
			s.now = func() time.Time { return t0.Add(2 * time.Hour) }
			set(t, s, res.ID, map[string]string{"firstname": "Jack"})
			tx, _ := s.Begin(context.Background())
			r2, err := tx.Apply(outlookJeff("v2", "John", "Smith", t0.Add(tc.outlookAt)), tc.policy)
			if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, ErrConflict)) {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if r2.Conflicts != 1 {
				t.Fatalf("conflicts = %d, want 1", r2.Conflicts)
			}
			if got := fields(t, s, res.ID)["firstname"]; got != tc.wantFirst {
				t.Fatalf("firstname = %q, want %q", got, tc.wantFirst)
			}
			var winner, local, incoming string
			if err := s.db.QueryRow(`SELECT winner, local_value, incoming_value FROM conflict`).Scan(&winner, &local, &incoming); err != nil {
				t.Fatal(err)
			}
			if winner != tc.wantWinner || local != "Jack" || incoming != "John" {
				t.Fatalf("conflict = %s %s/%s", winner, local, incoming)
			}
		})
	}
}

func TestReimportChangesNothing(t *testing.T) {
	s := openTest(t)
	in := outlookJeff("v1", "Jeff", "Smith", time.Now())
	in.Record.Entity = crm.Contact
	apply(t, s, in, PolicyNewest)
	j := count(t, s, `SELECT COUNT(*) FROM journal`)
	o := count(t, s, `SELECT COUNT(*) FROM outbox`)
	res := apply(t, s, outlookJeff("v1", "Jeff", "Smith", time.Now()), PolicyNewest)
	if res.Outcome != Unchanged {
		t.Fatalf("re-import: %v", res.Outcome)
	}
	// A new version with the same values changes nothing either.
	res = apply(t, s, outlookJeff("v2", "Jeff", "Smith", time.Now()), PolicyNewest)
	if res.Outcome != Unchanged {
		t.Fatalf("same values, new version: %v", res.Outcome)
	}
	if j2, o2 := count(t, s, `SELECT COUNT(*) FROM journal`), count(t, s, `SELECT COUNT(*) FROM outbox`); j2 != j || o2 != o {
		t.Fatalf("journal %d→%d, outbox %d→%d", j, j2, o, o2)
	}
}

// A contact from another source with the same primary e-mail address is
// the same contact, and the sources merge field by field.
func TestCrossSourceIdentity(t *testing.T) {
	s := openTest(t)
	a := apply(t, s, outlookJeff("v1", "Jeff", "Smith", time.Now()), PolicyNewest)
	b := apply(t, s, &crm.Incoming{
		Source: crm.SourceRef{Kind: "vcf", Key: "uid-1", Version: "x"},
		Record: crm.Record{Entity: crm.Contact, Fields: map[string]string{"firstname": "Jeff", "mobilephone": "+1 555 0100", "emailaddress1": "Jeff@Example.com"}},
		Keys:   []string{"email:jeff@example.com"},
	}, PolicyNewest)
	if a.ID != b.ID {
		t.Fatalf("two records %s %s for one address", a.ID, b.ID)
	}
	got := fields(t, s, a.ID)
	if got["lastname"] != "Smith" || got["mobilephone"] != "+1 555 0100" {
		t.Fatalf("merged fields: %v", got)
	}
}

func TestPartiesAttachmentsAndResolution(t *testing.T) {
	s := openTest(t)
	apply(t, s, outlookJeff("v1", "Jeff", "Smith", time.Now()), PolicyNewest)
	content := "hello attachment"
	mail := func(v string) *crm.Incoming {
		return &crm.Incoming{
			Source: crm.SourceRef{Kind: "eml", Key: "<m1@x>", Version: v},
			Record: crm.Record{Entity: crm.Email, Fields: map[string]string{"subject": "Hi"},
				Parties: []crm.Party{{Role: crm.RoleSender, Address: "ann@example.com", Name: "Ann"}, {Role: crm.RoleTo, Address: "JEFF@example.com", Name: "Jeff"}},
				Attachments: []crm.Attachment{{Name: "a.txt", MimeType: "text/plain", Open: func() (io.ReadCloser, error) {
					return io.NopCloser(strings.NewReader(content)), nil
				}}, {Name: "b.txt", MimeType: "text/plain", Open: func() (io.ReadCloser, error) {
					return io.NopCloser(strings.NewReader(content)), nil
				}}},
			},
			Keys: []string{"msgid:m1@x"},
		}
	}
	res := apply(t, s, mail("1"), PolicyNewest)
	v, err := s.Get(context.Background(), res.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Parties) != 2 || v.Parties[1].ContactID == "" || v.Parties[0].ContactID != "" || v.Parties[1].Address != "JEFF@example.com" {
		t.Fatalf("parties: %+v", v.Parties)
	}
	sum := sha256.Sum256([]byte(content))
	if len(v.Attachments) != 2 || v.Attachments[0].SHA256 != hex.EncodeToString(sum[:]) || v.Attachments[0].Size != int64(len(content)) {
		t.Fatalf("attachments: %+v", v.Attachments)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM blob`); n != 1 {
		t.Fatalf("%d blobs for two attachments of the same content, want 1", n)
	}
	rc, err := v.Attachments[1].Open()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	if string(b) != content {
		t.Fatalf("content %q", b)
	}
	// Re-importing the same content under a new version: unchanged.
	if r := apply(t, s, mail("2"), PolicyNewest); r.Outcome != Unchanged {
		t.Fatalf("re-import with same parties: %v %v", r.Outcome, r.Changed)
	}
}

func TestStoreFileMode(t *testing.T) {
	s := openTest(t)
	for _, p := range []string{s.Path(), s.Path() + "-wal", s.Path() + ".lock"} {
		fi, err := os.Stat(p)
		if err != nil {
			if p == s.Path()+"-wal" {
				continue
			}
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", p, fi.Mode().Perm())
		}
	}
	fi, _ := os.Stat(filepath.Dir(s.Path()))
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("store directory mode %v, want 0700", fi.Mode().Perm())
	}
}

func TestLockNamesHolder(t *testing.T) {
	s := openTest(t)
	start := time.Now()
	_, err := Open(context.Background(), s.Path(), Options{Write: true, LockTimeout: 300 * time.Millisecond, Command: "second"})
	var le *LockedError
	if !errors.As(err, &le) || !IsLocked(err) {
		t.Fatalf("second writer: %v", err)
	}
	if time.Since(start) < 300*time.Millisecond {
		t.Fatalf("did not wait for the lock timeout")
	}
	if le.Holder.PID != os.Getpid() || le.Holder.Command != "test" || !strings.Contains(err.Error(), "PID") {
		t.Fatalf("holder: %v", err)
	}
	// Readers are not blocked.
	r, err := Open(context.Background(), s.Path(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	s.Close()
	w, err := Open(context.Background(), s.Path(), Options{Write: true, LockTimeout: time.Second})
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	w.Close()
}

// storeAt makes a store file at schema version schema (migrations 1 to
// schema only), runs setup on it with args, and returns its path: a store
// as an older crmbridge left it, for migration tests to open.
func storeAt(t *testing.T, schema int, setup string, args ...any) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "old.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := migrateTo(context.Background(), db, schema); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(setup, args...); err != nil {
		t.Fatal(err)
	}
	return path
}

// A store at schema version 1 with data migrates forward and keeps it.
func TestMigrateOldStore(t *testing.T) {
	path := storeAt(t, 1, `INSERT INTO record (id, entity, created_at, modified_at) VALUES ('11111111-1111-1111-1111-111111111111', 'contact', 'x', 'x');
		INSERT INTO contact (id, lastname) VALUES ('11111111-1111-1111-1111-111111111111', 'Old');`)
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := s.SchemaVersion(context.Background()); v != len(migrations) {
		t.Fatalf("version %d, want %d", v, len(migrations))
	}
	if got := fields(t, s, "11111111-1111-1111-1111-111111111111")["lastname"]; got != "Old" {
		t.Fatalf("lastname %q after migration", got)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM conflict`); n != 0 {
		t.Fatal("conflict table missing")
	}
}

// Every field of the schema registry has a column in its table.
func TestSchemaColumns(t *testing.T) {
	s := openTest(t)
	for _, e := range crm.Entities() {
		rows, err := s.db.Query(`SELECT name FROM pragma_table_info(?)`, tableOf(e))
		if err != nil {
			t.Fatal(err)
		}
		cols := map[string]bool{}
		for rows.Next() {
			var n string
			rows.Scan(&n)
			cols[n] = true
		}
		rows.Close()
		for _, f := range crm.Fields(e) {
			if !cols[f.Name] {
				t.Errorf("%s.%s has no column in table %s", e, f.Name, tableOf(e))
			}
		}
	}
}

// A second source's first version of a known record is no conflict: the
// newer value wins, and no conflict is recorded.
func TestFirstVersionFromAnotherSource(t *testing.T) {
	s := openTest(t)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	a := apply(t, s, outlookJeff("v1", "Jeff", "Smith", t0), PolicyNewest)
	card := func(key string, at time.Time) *crm.Incoming {
		return &crm.Incoming{
			Source: crm.SourceRef{Kind: "vcf", Key: key, Version: "1"},
			// "J. Smith": a name that agrees with "Jeff Smith" (identity
			// merges by e-mail only then), with a value of its own.
			Record:     crm.Record{Entity: crm.Contact, Fields: map[string]string{"firstname": "J.", "lastname": "Smith", "emailaddress1": "jeff@example.com"}},
			Keys:       []string{"email:jeff@example.com"},
			ModifiedAt: at,
		}
	}
	if r := apply(t, s, card("old", t0.Add(-time.Hour)), PolicyNewest); r.Conflicts != 0 || r.Outcome != Unchanged {
		t.Fatalf("older card: %+v", r)
	}
	if got := fields(t, s, a.ID)["firstname"]; got != "Jeff" {
		t.Fatalf("older card overwrote firstname: %q", got)
	}
	if r := apply(t, s, card("new", t0.Add(time.Hour)), PolicyNewest); r.Conflicts != 0 || r.Outcome != Updated {
		t.Fatalf("newer card: %+v", r)
	}
	if got := fields(t, s, a.ID); got["firstname"] != "J." || got["fullname"] != "J. Smith" {
		t.Fatalf("newer card: %v", got)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM conflict`); n != 0 {
		t.Fatalf("%d conflicts", n)
	}
}

// Long values are kept as digests in the merge base and journal; the
// merge still tells a source's change from the store's.
func TestLongValuesMergeByDigest(t *testing.T) {
	s := openTest(t)
	long := strings.Repeat("body text ", 100)
	mail := func(v, body string) *crm.Incoming {
		return &crm.Incoming{Source: crm.SourceRef{Kind: "eml", Key: "m", Version: v},
			Record: crm.Record{Entity: crm.Email, Fields: map[string]string{"subject": "s", "description": body}}, ModifiedAt: time.Now()}
	}
	r := apply(t, s, mail("1", long), PolicyNewest)
	set(t, s, r.ID, map[string]string{"description": long + "edited in the CRM"})
	// The source sends its unchanged body under a new version: the CRM
	// edit stays, and no conflict.
	if r2 := apply(t, s, mail("2", long), PolicyNewest); r2.Outcome != Unchanged || r2.Conflicts != 0 {
		t.Fatalf("%+v", r2)
	}
	if got := fields(t, s, r.ID)["description"]; got != long+"edited in the CRM" {
		t.Fatalf("CRM edit lost: %q", got[len(got)-20:])
	}
	var j string
	s.db.QueryRow(`SELECT new FROM journal WHERE field = 'description' ORDER BY seq LIMIT 1`).Scan(&j)
	if !strings.HasPrefix(j, "sha256:") || !strings.HasSuffix(j, ":1017") {
		t.Fatalf("journal keeps %q", j)
	}
}

func TestIsStoreFailure(t *testing.T) {
	s := openTest(t)
	tx, _ := s.Begin(context.Background())
	_, err := tx.exec(`INSERT INTO attachment (record_id, ord, name, mimetype, contentid, inline, size, sha256) VALUES ('x', 0, '', '', '', 0, 0, 'nosuchblob')`)
	tx.Rollback()
	if err == nil || IsStoreFailure(err) {
		t.Fatalf("a refused row is not a store failure: %v", err)
	}
	// A store whose file became read-only under us fails as a store.
	ro, err := Open(context.Background(), s.Path(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	ro.db.SetMaxOpenConns(1) // the pragma is per connection
	if _, err := ro.db.Exec(`PRAGMA query_only = 1`); err != nil {
		t.Fatal(err)
	}
	_, err = ro.db.Exec(`INSERT INTO run (command, started_at) VALUES ('x', 'y')`)
	if err == nil || !IsStoreFailure(err) {
		t.Fatalf("write to a read-only store: %v", err)
	}
}

// A store path holding URI metacharacters opens that very file, created
// 0600, not a file named by the path's prefix.
func TestOpenPathWithURICharacters(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a#1.db", "b?x=1.db", "c%41.db"} {
		path := filepath.Join(dir, name)
		s, err := Open(context.Background(), path, Options{Create: true, Write: true, LockTimeout: time.Second, Command: "test"})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s.Close()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v", name, fi.Mode().Perm())
		}
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		switch n := e.Name(); {
		case n == "a#1.db", n == "b?x=1.db", n == "c%41.db", strings.HasSuffix(n, ".lock"), strings.HasSuffix(n, ".verified"), strings.HasSuffix(n, "-wal"), strings.HasSuffix(n, "-shm"):
		default:
			t.Errorf("stray file %q", n)
		}
	}
}

// Contacts added in one batch resolve the parties of every address they
// bring, however many addresses the batch touches (asked about in chunks,
// usedAddrs), and a party whose address no contact has (a name kept as
// the address, by the party rule of crm.Party) stays unresolved.
func TestResolveManyAddressesInOneBatch(t *testing.T) {
	s := openTest(t)
	const n = 2*usedChunk + 17
	addr := func(i int) string { return fmt.Sprintf("p%03d@example.com", i) }
	// Mails from parties at addresses 0, usedChunk+1 and n-1 (the first,
	// second and third chunk), and one party known by its name.
	for i, a := range []string{addr(0), addr(usedChunk + 1), addr(n - 1), "P"} {
		apply(t, s, &crm.Incoming{
			Source: crm.SourceRef{Kind: "eml", Key: fmt.Sprintf("<m%d@x>", i), Version: "1"},
			Record: crm.Record{Entity: crm.Email, Fields: map[string]string{"subject": "Hi"},
				Parties: []crm.Party{{Role: crm.RoleSender, Address: strings.ToUpper(a), Name: "P"}}},
			Keys: []string{fmt.Sprintf("msgid:m%d@x", i)},
		}, PolicyNewest)
	}
	tx, err := s.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for i := range n {
		res, err := tx.Apply(&crm.Incoming{
			Source: crm.SourceRef{Kind: "vcf", Key: fmt.Sprint(i), Version: "1"},
			Record: crm.Record{Entity: crm.Contact, Fields: map[string]string{"lastname": fmt.Sprint("P", i), "emailaddress1": addr(i)}},
			Keys:   []string{"email:" + addr(i)},
		}, PolicyNewest)
		if err != nil {
			t.Fatal(err)
		}
		ids[addr(i)] = res.ID
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	rows, err := s.db.Query(`SELECT lower(address), COALESCE(contact_id, '') FROM activityparty`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var a, c string
		if err := rows.Scan(&a, &c); err != nil {
			t.Fatal(err)
		}
		seen++
		if c != ids[a] {
			t.Errorf("party %q: contact %q, want %q", a, c, ids[a])
		}
	}
	if seen != 4 {
		t.Fatalf("%d parties, want 4", seen)
	}
}
