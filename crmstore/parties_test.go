package crmstore

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"crmbridge/crm"
)

// The party rule (crm.Party) is enforced where parties are written: an
// activity party without an address, or a list member with neither an
// address nor a contact, is refused with crm.ErrPartyNoAddress before
// anything is written, so the import reports the item and the store
// stays one that check passes.
func TestApplyRefusesPartyWithoutAddress(t *testing.T) {
	for _, tc := range []struct {
		name string
		rec  crm.Record
	}{
		{"name only", crm.Record{Entity: crm.Email, Fields: map[string]string{"subject": "s"},
			Parties: []crm.Party{{Role: crm.RoleTo, Address: "a@x.example"}, {Role: crm.RoleSender, Name: "Ann Lee"}}}},
		{"blank", crm.Record{Entity: crm.Appointment, Fields: map[string]string{"subject": "s"},
			Parties: []crm.Party{{Role: crm.RoleRequired, Address: "  "}}}},
		{"contact without address", crm.Record{Entity: crm.Email, Fields: map[string]string{"subject": "s"},
			Parties: []crm.Party{{Role: crm.RoleTo, ContactID: "00000000-0000-0000-0000-000000000001"}}}},
		{"member", crm.Record{Entity: crm.List, Fields: map[string]string{"listname": "l"},
			Members: []crm.Party{{Name: "Bob"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t)
			tx, err := s.Begin(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			_, err = tx.Apply(&crm.Incoming{Source: crm.SourceRef{Kind: "eml", Key: "k", Version: "1"}, Record: tc.rec}, PolicyNewest)
			if !errors.Is(err, crm.ErrPartyNoAddress) {
				t.Errorf("apply: %v, want %v", err, crm.ErrPartyNoAddress)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if n := count(t, s, `SELECT COUNT(*) FROM record`); n != 0 {
				t.Errorf("%d record(s) written", n)
			}
			rep, err := Check(context.Background(), s.Path())
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Problems) > 0 {
				t.Errorf("check: %v", rep.Problems)
			}
		})
	}
	// A list member known by its contact alone is a member.
	s := openTest(t)
	c := apply(t, s, &crm.Incoming{Source: crm.SourceRef{Kind: "vcf", Key: "bob", Version: "1"},
		Record: crm.Record{Entity: crm.Contact, Fields: map[string]string{"lastname": "Bob"}}}, PolicyNewest)
	apply(t, s, &crm.Incoming{Source: crm.SourceRef{Kind: "pst", Key: "l", Version: "1"},
		Record: crm.Record{Entity: crm.List, Fields: map[string]string{"listname": "l"}, Members: []crm.Party{{ContactID: c.ID}}}}, PolicyNewest)
}

// A store made before schema 22 holds parties known by a name only (an
// address the importer could not read, a PST recipient without an
// address). check calls them a note, not damage, and the next write
// command's migration 22 gives each its name as its address (and resolves
// it like any address); a party with nothing goes. Afterwards check finds
// nothing.
func TestMigrateNameOnlyParties(t *testing.T) {
	const mail, list = "33333333-3333-3333-3333-333333333333", "44444444-4444-4444-4444-444444444444"
	path := storeAt(t, 21, `INSERT INTO record (id, entity, created_at, modified_at) VALUES (?1, 'email', 'x', 'x');
		INSERT INTO activity (id, activitytypecode, subject) VALUES (?1, 'email', 'Hi');
		INSERT INTO activityparty (activity_id, ord, role, address, name, status) VALUES
			(?1, 0, 1, '', 'develop!nextmime@ebony@sblab.att.com', ''),
			(?1, 1, 2, 'ann@example.com', 'Ann', ''),
			(?1, 2, 3, '', 'Bob Roe', ''),
			(?1, 3, 4, '', '', '');
		INSERT INTO record (id, entity, created_at, modified_at) VALUES (?2, 'list', 'x', 'x');
		INSERT INTO list (id, listname) VALUES (?2, 'L');
		INSERT INTO listmember (list_id, ord, address, name) VALUES (?2, 0, '', 'Carl'), (?2, 1, 'dee@example.com', 'Dee');`, mail, list)
	ctx := context.Background()
	rep, err := Check(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(rep.Notes, "\n")
	if len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "activity party without record or address: activity "+mail+" party 3") ||
		!strings.Contains(notes, "3 activity part(ies) or list member(s) known by a name only") {
		t.Fatalf("check before migration: problems %q, notes %q", rep.Problems, rep.Notes)
	}
	s, err := Open(ctx, path, Options{Write: true, LockTimeout: time.Second, Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.Get(ctx, mail)
	if err != nil {
		t.Fatal(err)
	}
	want := []crm.Party{{Role: 1, Address: "develop!nextmime@ebony@sblab.att.com", Name: "develop!nextmime@ebony@sblab.att.com"},
		{Role: 2, Address: "ann@example.com", Name: "Ann"}, {Role: 3, Address: "Bob Roe", Name: "Bob Roe"}}
	if !reflect.DeepEqual(v.Parties, want) {
		t.Errorf("parties %+v, want %+v", v.Parties, want)
	}
	if v, err = s.Get(ctx, list); err != nil {
		t.Fatal(err)
	}
	if wantM := []crm.Party{{Address: "Carl", Name: "Carl"}, {Address: "dee@example.com", Name: "Dee"}}; !reflect.DeepEqual(v.Members, wantM) {
		t.Errorf("members %+v, want %+v", v.Members, wantM)
	}
	// The new addresses resolve like any other: a contact with one gets
	// its party.
	c := apply(t, s, &crm.Incoming{Source: crm.SourceRef{Kind: "vcf", Key: "bob", Version: "1"},
		Record: crm.Record{Entity: crm.Contact, Fields: map[string]string{"lastname": "Roe", "emailaddress1": "bob roe"}}}, PolicyNewest)
	if n := count(t, s, `SELECT COUNT(*) FROM activityparty WHERE contact_id = ?`, c.ID); n != 1 {
		t.Errorf("%d parties resolved to the contact, want 1", n)
	}
	s.Close()
	if rep, err = Check(ctx, path); err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) > 0 || strings.Contains(strings.Join(rep.Notes, "\n"), "name only") {
		t.Errorf("check after migration: problems %q, notes %q", rep.Problems, rep.Notes)
	}
}
