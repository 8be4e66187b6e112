package bridge

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"crmbridge/crm"
	"crmbridge/crmstore"
	"crmbridge/fixtures"
)

// checkLedger asserts the item ledger of an import: every file's found =
// created + merged + not imported, per entity too; each item not imported
// is one problem listed; and what the ledger says was created is what the
// store holds (counts committed, nothing else).
func checkLedger(t *testing.T, s *crmstore.Store, sum *Summary) {
	t.Helper()
	created := map[crm.Entity]int{}
	for _, l := range sum.Ledger {
		if !l.Balanced() {
			t.Errorf("%s: ledger does not balance: found %d, created %d, merged %d, not imported %d; %s",
				l.Path, l.Found, l.Created, l.Merged, l.NotImported, entityLine(l.Entities))
		}
		if len(l.Problems) != l.NotImported {
			t.Errorf("%s: %d not imported but %d problems listed", l.Path, l.NotImported, len(l.Problems))
		}
		for _, p := range l.Problems {
			if !strings.Contains(p, filepath.Base(l.Path)) {
				t.Errorf("%s: problem does not name the file: %s", l.Path, p)
			}
		}
		for e, c := range l.Entities {
			created[e] += c.Created
		}
	}
	for e, c := range sum.Entities {
		if !c.Balanced() {
			t.Errorf("summary %s does not balance: %+v", e, *c)
		}
	}
	st, err := s.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for e, n := range st.Records {
		want := created[e]
		if e == crm.Account {
			want += sum.Accounts
		}
		if n != want {
			t.Errorf("store holds %d %s record(s), the ledger created %d", n, e, want)
		}
	}
	for e, n := range created {
		if _, ok := st.Records[e]; !ok && n > 0 {
			t.Errorf("ledger created %d %s, the store holds none", n, e)
		}
	}
}

func entityLine(m map[crm.Entity]*Counts) string {
	var b strings.Builder
	for _, e := range sortedEntities(m) {
		c := m[e]
		fmt.Fprintf(&b, "%s %d/%d/%d/%d ", e, c.Found, c.Created, c.Merged, c.NotImported)
	}
	return b.String()
}

// The ledger balances on every corpus file, and its created counts are
// what the store holds.
func TestLedgerCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	for _, sub := range []string{"vcf", "ics", "eml", "mbox", "msg", "pst"} {
		t.Run(sub, func(t *testing.T) {
			dir := fixtures.CorpusDir(t, sub)
			s := newStore(t)
			sum, _ := importPaths(t, s, ImportOptions{Detail: true}, dir)
			checkLedger(t, s, sum)
			// A forced re-import finds the same items and creates none.
			sum2, _ := importPaths(t, s, ImportOptions{Force: true, Detail: true}, dir)
			for i, l := range sum2.Ledger {
				if l.Created != 0 || i < len(sum.Ledger) && l.Found != sum.Ledger[i].Found {
					t.Errorf("re-import of %s: found %d (first %d), created %d", l.Path, l.Found, sum.Ledger[i].Found, l.Created)
				}
				if len(l.MergedInto) != l.Merged {
					t.Errorf("re-import of %s: %d merged, %d named", l.Path, l.Merged, len(l.MergedInto))
				}
			}
		})
	}
}

// ledgerCase imports one file, written from text, into a fresh store.
func ledgerImport(t *testing.T, name, text string) (*crmstore.Store, *Summary) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	sum, _ := importPaths(t, s, ImportOptions{Detail: true}, path)
	checkLedger(t, s, sum)
	return s, sum
}

const ledgerCard = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Lee\r\nN:Lee;Ann;;;\r\nEMAIL:ann@example.org\r\nEND:VCARD\r\n"

// A duplicate inside one source, on a fresh store, is merged into the
// record its first copy created, and named.
func TestLedgerDuplicateInSource(t *testing.T) {
	_, sum := ledgerImport(t, "dup.vcf", ledgerCard+ledgerCard)
	l := sum.Ledger[0]
	if l.Found != 2 || l.Created != 1 || l.Merged != 1 || l.NotImported != 0 {
		t.Fatalf("ledger %d found, %d created, %d merged, %d not imported", l.Found, l.Created, l.Merged, l.NotImported)
	}
	if len(l.MergedInto) != 1 || l.MergedInto[0].Pos != "dup.vcf: line 7" || l.MergedInto[0].ID == "" || l.MergedInto[0].Again {
		t.Fatalf("merged into %+v", l.MergedInto)
	}
	if !strings.Contains(sum.String(), "contact: 2 found, 1 created, 1 merged, 0 not imported") {
		t.Errorf("summary: %s", sum)
	}
}

// A calendar cut short imports the events it holds whole; the cut one is
// one item not imported, and no empty appointment is left behind.
func TestLedgerTruncatedCalendar(t *testing.T) {
	ev := func(uid string) string {
		return "BEGIN:VEVENT\r\nUID:" + uid + "\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nSUMMARY:ev " + uid + "\r\nEND:VEVENT\r\n"
	}
	text := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n" + ev("a") + ev("b") + "BEGIN:VEVENT\r\nUID:c\r\nDTSTART:2026"
	s, sum := ledgerImport(t, "cut.ics", text)
	l := sum.Ledger[0]
	if l.Found != 3 || l.Created != 2 || l.NotImported != 1 {
		t.Fatalf("ledger %d found, %d created, %d merged, %d not imported: %v", l.Found, l.Created, l.Merged, l.NotImported, l.Problems)
	}
	ls, err := s.List(context.Background(), crmstore.ListFilter{Entities: []crm.Entity{crm.Appointment}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 2 {
		t.Fatalf("%d appointments, want 2", len(ls))
	}
	for _, a := range ls {
		v, err := s.Get(context.Background(), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if v.Fields["subject"] == "" || v.Fields["scheduledstart"] == "" {
			t.Errorf("empty appointment left: %v", v.Fields)
		}
	}
}

// Counts are counts committed: the items of a batch whose commit failed
// are not imported (each named), not created.
func TestLedgerFailedCommit(t *testing.T) {
	var text string
	for i := range 5 {
		text += strings.Replace(ledgerCard, "ann@", fmt.Sprintf("ann%d@", i), 1)
	}
	path := filepath.Join(t.TempDir(), "five.vcf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	calls := 0
	commitTx = func(tx *crmstore.Tx) error {
		if calls++; calls == 3 {
			tx.Rollback()
			return errors.New("disk full")
		}
		return tx.Commit()
	}
	t.Cleanup(func() { commitTx = (*crmstore.Tx).Commit })
	sum, err := Import(context.Background(), s, []string{path}, ImportOptions{BatchSize: 2, Reporter: &problems{}})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("import: %v", err)
	}
	commitTx = (*crmstore.Tx).Commit
	checkLedger(t, s, sum)
	l := sum.Ledger[0]
	// Batches: 2 committed, 2 committed, then the third commit fails.
	if l.Created != 4 || l.NotImported != 1 || l.Found != 5 {
		t.Fatalf("ledger %d found, %d created, %d not imported: %v", l.Found, l.Created, l.NotImported, l.Problems)
	}
	if !strings.Contains(l.Problems[0], "five.vcf: line 25") || !strings.Contains(l.Problems[0], "disk full") {
		t.Errorf("problem %q", l.Problems[0])
	}
}

// FuzzImportLedger imports arbitrary bytes (seeded with every text
// format) and checks the ledger. A panic fails the run.
func FuzzImportLedger(f *testing.F) {
	f.Add([]byte(ledgerCard + ledgerCard + "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:X\r\n"))
	f.Add([]byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTART:20260101T100000Z\r\nEND:VEVENT\r\nBEGIN:VTODO\r\nUID:2\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"))
	f.Add([]byte("From a@b Mon Jan  1 00:00:00 2024\nFrom: a@b\nSubject: one\nMessage-ID: <1@b>\n\nbody\n\nFrom a@b Mon Jan  1 00:00:00 2024\nFrom: a@b\nSubject: one\nMessage-ID: <1@b>\n\nbody\n"))
	f.Add([]byte("From: a@b\r\nTo: c@d\r\nSubject: hi\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhello\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "in")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s := newStore(t)
		p := &problems{}
		sum, err := Import(context.Background(), s, []string{path}, ImportOptions{Reporter: p})
		if err != nil {
			t.Fatalf("import: %v", err)
		}
		for _, e := range p.errs {
			if strings.Contains(e.Error(), "internal error") {
				t.Fatalf("panic: %v", e)
			}
		}
		checkLedger(t, s, sum)
	})
}

// Cards identical in every field merge even without an e-mail address or
// UID; a card that differs in one field does not.
func TestIdenticalItemsMerge(t *testing.T) {
	card := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bob Jones\r\nN:Jones;Bob;;;\r\nTEL:+1 555 0100\r\nEND:VCARD\r\n"
	other := strings.Replace(card, "0100", "0101", 1)
	_, sum := ledgerImport(t, "same.vcf", card+card+card+other)
	l := sum.Ledger[0]
	if l.Found != 4 || l.Created != 2 || l.Merged != 2 {
		t.Fatalf("ledger %d found, %d created, %d merged", l.Found, l.Created, l.Merged)
	}
}

// Two versions of one UID in two files: the second would end before the
// first's start; it is refused as one item not imported, and the first
// version stays.
func TestVersionEndingBeforeStartRefused(t *testing.T) {
	dir := t.TempDir()
	v1 := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:m1\r\nDTSTAMP:20260101T000000Z\r\nSEQUENCE:0\r\n" +
		"DTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nSUMMARY:Meet\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	v2 := strings.NewReplacer("DTSTART:20260105T100000Z\r\n", "", "DTEND:20260105T110000Z", "DTEND:20260105T090000Z",
		"SEQUENCE:0", "SEQUENCE:1", "DTSTAMP:20260101", "DTSTAMP:20260102").Replace(v1)
	p1, p2 := filepath.Join(dir, "1.ics"), filepath.Join(dir, "2.ics")
	os.WriteFile(p1, []byte(v1), 0o600)
	os.WriteFile(p2, []byte(v2), 0o600)
	s := newStore(t)
	importPaths(t, s, ImportOptions{}, p1)
	sum, p := importPaths(t, s, ImportOptions{}, p2)
	if l := sum.Ledger[0]; !l.Balanced() || l.NotImported != 1 || len(p.errs) != 1 || !strings.Contains(p.errs[0].Error(), "2.ics") {
		t.Fatalf("ledger %+v, problems %v", l, p.errs)
	}
	ls, _ := s.List(context.Background(), crmstore.ListFilter{Entities: []crm.Entity{crm.Appointment}})
	v, _ := s.Get(context.Background(), ls[0].ID)
	if len(ls) != 1 || v.Fields["scheduledend"] != "2026-01-05T11:00:00Z" || v.Fields["scheduledstart"] != "2026-01-05T10:00:00Z" {
		t.Fatalf("appointments %d, %v", len(ls), v.Fields)
	}
}

// A new record's rows are inserted with those of the next new records,
// at the latest by the commit (crmstore pending.go): one whose insert
// fails there breaks its batch like one whose Apply fails, and loses
// nothing else. The store refuses the journal entry of the file's last
// card (a trigger): the batch is read again item by item, that card alone
// is reported, the others are created.
func TestLedgerItemBreaksBatchAtCommit(t *testing.T) {
	var text string
	for i := range 5 {
		text += strings.Replace(ledgerCard, "N:Lee;Ann;;;", fmt.Sprintf("N:Lee%d;Ann;;;", i), 1)
	}
	path := filepath.Join(t.TempDir(), "five.vcf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	db, err := sql.Open("sqlite", s.Path())
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`CREATE TRIGGER refuse_lee4 BEFORE INSERT ON journal
		WHEN NEW.record_id IN (SELECT id FROM contact WHERE lastname = 'Lee4') BEGIN SELECT RAISE(ABORT, 'refused'); END`)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	p := &problems{}
	sum, err := Import(context.Background(), s, []string{path}, ImportOptions{Reporter: p})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	checkLedger(t, s, sum)
	if l := sum.Ledger[0]; l.Found != 5 || l.Created != 4 || l.NotImported != 1 {
		t.Fatalf("ledger %d found, %d created, %d not imported (%v)", l.Found, l.Created, l.NotImported, l.Problems)
	}
	if len(p.errs) != 1 || !strings.Contains(p.errs[0].Error(), "five.vcf: line 25") || !strings.Contains(p.errs[0].Error(), "refused") {
		t.Errorf("problems %v", p.errs)
	}
}

// An item that breaks its batch (it failed after writing without a
// savepoint: crmstore.IsItemAbort) loses nothing else: the file is read
// again, the batch applied item by item, and that item alone is reported,
// once. Counts are those of one clean pass: a contact whose value is too
// long for Dataverse, in the broken batch, is warned about in each pass
// but counted once.
func TestLedgerItemBreaksBatch(t *testing.T) {
	var text string
	for i := range 7 {
		card := strings.Replace(ledgerCard, "ann@", fmt.Sprintf("ann%d@", i), 1)
		if i == 3 {
			card = strings.Replace(card, "N:Lee;Ann;;;", "N:Lee;Ann;;;\r\nTITLE:"+strings.Repeat("t", 120), 1)
		}
		text += card
	}
	path := filepath.Join(t.TempDir(), "seven.vcf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	tries := 0
	applyTx = func(tx *crmstore.Tx, in *crm.Incoming, p crmstore.Policy) (crmstore.Result, error) {
		if in.Record.Fields["emailaddress1"] != "ann4@example.org" {
			return tx.Apply(in, p)
		}
		if tries++; tries == 1 {
			// Written, then broken: the batch must not commit.
			tx.Apply(in, p)
			return crmstore.Result{}, fmt.Errorf("%w: %w", crmstore.ErrBatchAborted, errors.New("internal error: boom"))
		}
		return crmstore.Result{}, errors.New("refused")
	}
	t.Cleanup(func() { applyTx = (*crmstore.Tx).Apply })
	p := &problems{}
	sum, err := Import(context.Background(), s, []string{path}, ImportOptions{BatchSize: 3, Reporter: p})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	applyTx = (*crmstore.Tx).Apply
	checkLedger(t, s, sum)
	l := sum.Ledger[0]
	// Batches: cards 0-2 committed; 3, 4 broken, read again: 3 created, 4
	// refused; 5, 6 created.
	if l.Found != 7 || l.Created != 6 || l.NotImported != 1 || tries != 2 {
		t.Fatalf("ledger %d found, %d created, %d not imported (%v), %d tries", l.Found, l.Created, l.NotImported, l.Problems, tries)
	}
	if len(p.errs) != 1 || !strings.Contains(p.errs[0].Error(), "seven.vcf: line 26") || !strings.Contains(p.errs[0].Error(), "refused") {
		t.Errorf("problems %v", p.errs)
	}
	if sum.Warnings != 1 {
		t.Errorf("%d warnings counted, want 1 (the title); reported: %v", sum.Warnings, p.warns)
	}
	if ls, err := s.List(context.Background(), crmstore.ListFilter{Entities: []crm.Entity{crm.Contact}}); err != nil || len(ls) != 6 {
		t.Errorf("%d contacts in the store, want 6 (%v)", len(ls), err)
	}
}
