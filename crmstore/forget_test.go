package crmstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"crmbridge/crm"
)

// fromFile is a contact read from the vCard file at path, as the importer
// gives it: provenance keyed by the file, origin "vcf:" + path.
func fromFile(path, uid string, f map[string]string, at time.Time) *crm.Incoming {
	return &crm.Incoming{
		Source:     crm.SourceRef{Kind: "vcf", Key: path + "#" + uid, Version: at.Format(time.RFC3339)},
		Record:     crm.Record{Entity: crm.Contact, Fields: f},
		Keys:       []string{"email:" + f["emailaddress1"]},
		ModifiedAt: at,
		Origin:     "vcf:" + path,
	}
}

func imported(t *testing.T, s *Store, path string) {
	t.Helper()
	if err := s.Update(context.Background(), func(tx *Tx) error {
		return tx.SetSourceFile(SourceFile{Path: path, Kind: "vcf", MTime: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}
}

func forget(t *testing.T, s *Store, path string) *ForgetReport {
	t.Helper()
	var rep *ForgetReport
	if err := s.Update(context.Background(), func(tx *Tx) error {
		var err error
		rep, err = tx.Forget(path)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestForgetRecordOnlyThatFileBrought(t *testing.T) {
	s := openTest(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ann := apply(t, s, fromFile("/b.vcf", "ann", map[string]string{"firstname": "Ann", "lastname": "Lee", "emailaddress1": "ann@example.com"}, t0), PolicyNewest)
	imported(t, s, "/b.vcf")
	outboxBefore := count(t, s, `SELECT COUNT(*) FROM outbox`)

	rep := forget(t, s, "/b.vcf")
	if len(rep.Deleted) != 1 || rep.Deleted[0].ID != ann.ID || len(rep.Reverted) != 0 || rep.Items != 1 {
		t.Fatalf("report %+v", rep)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM record WHERE id = ? AND deleted = 1`, ann.ID); n != 1 {
		t.Fatal("record not deleted")
	}
	for q, want := range map[string]int{
		`SELECT COUNT(*) FROM provenance`: 0,
		`SELECT COUNT(*) FROM recordkey`:  0,
		`SELECT COUNT(*) FROM sourcefile`: 0,
		`SELECT COUNT(*) FROM outbox WHERE op = 'delete' AND record_id = '` + ann.ID + `'`:       1,
		`SELECT COUNT(*) FROM journal WHERE origin = 'forget:vcf:/b.vcf' AND field = '_deleted'`: 1,
	} {
		if n := count(t, s, q); n != want {
			t.Errorf("%s = %d, want %d", q, n, want)
		}
	}
	if n := count(t, s, `SELECT COUNT(*) FROM outbox`); n != outboxBefore+1 {
		t.Errorf("outbox %d entries, want %d", n, outboxBefore+1)
	}
	// Importing the file again makes a new record.
	again := apply(t, s, fromFile("/b.vcf", "ann", map[string]string{"firstname": "Ann", "lastname": "Lee", "emailaddress1": "ann@example.com"}, t0), PolicyNewest)
	if again.ID == ann.ID || again.Outcome != Created {
		t.Fatalf("re-import after forget: %+v", again)
	}
}

func TestForgetRevertsSharedRecord(t *testing.T) {
	s := openTest(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// a.vcf brings Ann; b.vcf, later, gives a phone and a new job title.
	a := apply(t, s, fromFile("/a.vcf", "ann", map[string]string{"firstname": "Ann", "lastname": "Lee", "emailaddress1": "ann@example.com", "jobtitle": "Engineer"}, t0), PolicyNewest)
	imported(t, s, "/a.vcf")
	b := apply(t, s, fromFile("/b.vcf", "ann", map[string]string{"firstname": "Ann", "lastname": "Lee", "emailaddress1": "ann@example.com", "jobtitle": "CTO", "telephone1": "+1 555 0100"}, t0.Add(time.Hour)), PolicyNewest)
	imported(t, s, "/b.vcf")
	if b.ID != a.ID {
		t.Fatal("not merged")
	}
	// A CRM edit after both: kept whatever happens.
	set(t, s, a.ID, map[string]string{"department": "R&D"})

	rep := forget(t, s, "/b.vcf")
	if len(rep.Deleted) != 0 || len(rep.Reverted) != 1 {
		t.Fatalf("report %+v", rep)
	}
	got := fields(t, s, a.ID)
	want := map[string]string{"jobtitle": "Engineer", "telephone1": "", "department": "R&D", "firstname": "Ann", "emailaddress1": "ann@example.com"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if n := count(t, s, `SELECT COUNT(*) FROM provenance WHERE origin = 'vcf:/b.vcf'`); n != 0 {
		t.Error("b.vcf's provenance kept")
	}
	if n := count(t, s, `SELECT COUNT(*) FROM provenance WHERE origin = 'vcf:/a.vcf'`); n != 1 {
		t.Error("a.vcf's provenance lost")
	}
	if n := count(t, s, `SELECT COUNT(*) FROM outbox WHERE record_id = ? AND op = 'update' AND fields LIKE '%jobtitle%'`, a.ID); n < 1 {
		t.Error("reverted fields not queued upstream")
	}
}

// A record b.vcf created and a.vcf merged into later: the fields b.vcf set
// at creation that a.vcf does not give go empty; the record stays.
func TestForgetCreatorOfSharedRecord(t *testing.T) {
	s := openTest(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := apply(t, s, fromFile("/b.vcf", "ann", map[string]string{"firstname": "Ann", "lastname": "Lee", "emailaddress1": "ann@example.com", "telephone1": "+1 555 0100"}, t0), PolicyNewest)
	imported(t, s, "/b.vcf")
	a := apply(t, s, fromFile("/a.vcf", "ann", map[string]string{"firstname": "Ann", "lastname": "Lee", "emailaddress1": "ann@example.com"}, t0), PolicyNewest)
	if a.ID != b.ID {
		t.Fatal("not merged")
	}
	rep := forget(t, s, "/b.vcf")
	if len(rep.Deleted) != 0 || len(rep.Reverted) != 1 || len(rep.Reverted[0].Fields) != 1 {
		t.Fatalf("report %+v", rep)
	}
	got := fields(t, s, a.ID)
	if got["telephone1"] != "" || got["firstname"] != "Ann" || got["emailaddress1"] != "ann@example.com" {
		t.Fatalf("fields %v", got)
	}
}

// A record only b.vcf brought, edited in the CRM since: it keeps every
// value and loses only the provenance.
func TestForgetKeepsEditedRecord(t *testing.T) {
	s := openTest(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := apply(t, s, fromFile("/b.vcf", "ann", map[string]string{"firstname": "Ann", "lastname": "Lee", "emailaddress1": "ann@example.com"}, t0), PolicyNewest)
	imported(t, s, "/b.vcf")
	set(t, s, b.ID, map[string]string{"jobtitle": "CTO"})
	rep := forget(t, s, "/b.vcf")
	if len(rep.Deleted) != 0 || len(rep.Reverted) != 1 || len(rep.Reverted[0].Fields) != 0 {
		t.Fatalf("report %+v", rep)
	}
	got := fields(t, s, b.ID)
	if got["firstname"] != "Ann" || got["jobtitle"] != "CTO" {
		t.Fatalf("fields %v", got)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM provenance WHERE record_id = ?`, b.ID); n != 0 {
		t.Error("provenance kept")
	}
}

func TestForgetCompanyAccount(t *testing.T) {
	s := openTest(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	account := func(name string) string {
		return apply(t, s, &crm.Incoming{
			Source: crm.SourceRef{Kind: "company", Key: "account:" + name, Version: name},
			Record: crm.Record{Entity: crm.Account, Fields: map[string]string{"name": name}},
			Keys:   []string{"account:" + name}, Origin: "company",
		}, PolicyLocal).ID
	}
	acme, globex := account("acme"), account("globex")
	apply(t, s, fromFile("/b.vcf", "ann", map[string]string{"firstname": "Ann", "emailaddress1": "ann@example.com", "parentcustomerid": acme}, t0), PolicyNewest)
	apply(t, s, fromFile("/b.vcf", "bob", map[string]string{"firstname": "Bob", "emailaddress1": "bob@example.com", "parentcustomerid": globex}, t0), PolicyNewest)
	apply(t, s, fromFile("/a.vcf", "cy", map[string]string{"firstname": "Cy", "emailaddress1": "cy@example.com", "parentcustomerid": globex}, t0), PolicyNewest)
	imported(t, s, "/b.vcf")
	rep := forget(t, s, "/b.vcf")
	if rep.Accounts != 1 || len(rep.Deleted) != 3 {
		t.Fatalf("report %+v", rep)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM record WHERE id = ? AND deleted = 1`, acme); n != 1 {
		t.Error("acme (named by b.vcf only) kept")
	}
	if n := count(t, s, `SELECT COUNT(*) FROM record WHERE id = ? AND deleted = 0`, globex); n != 1 {
		t.Error("globex (named by a.vcf too) deleted")
	}
}

func TestForgetUnknownSource(t *testing.T) {
	s := openTest(t)
	err := s.Update(context.Background(), func(tx *Tx) error {
		_, err := tx.Forget("/nowhere.vcf")
		return err
	})
	if !errors.Is(err, ErrUnknownSource) {
		t.Fatalf("err = %v", err)
	}
}
