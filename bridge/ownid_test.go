package bridge

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"crmbridge/crm"
	"crmbridge/crmstore"

	"github.com/google/uuid"
)

// UIDs of the tests below: a version 7 UUID as crmbridge mints them, and
// random version 4 ones as Outlook, Google and phones (lower case) and
// Apple (upper case) write them.
const (
	v7UID    = "0190f2a1-7b2c-7d3e-8f40-123456789abc"
	v4UID    = "6f1c2a8e-3b4d-4e5f-9a0b-1c2d3e4f5a6b"
	appleUID = "A1B2C3D4-E5F6-4789-ABCD-0123456789AB"
)

func vcard(uid string) string { return namedCard(uid, "Ann", "Lee") }

func namedCard(uid, first, last string) string {
	return "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uid + "\r\nN:" + last + ";" + first + ";;;\r\nFN:" + first + " " + last + "\r\nEND:VCARD\r\n"
}

func vevent(comp, uid string) string {
	return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Apple Inc.//macOS 14.0//EN\r\nBEGIN:" + comp + "\r\nUID:" + uid +
		"\r\nDTSTAMP:20260301T090000Z\r\nDTSTART:20260302T090000Z\r\nDUE:20260302T100000Z\r\nSUMMARY:Review\r\nEND:" + comp + "\r\nEND:VCALENDAR\r\n"
}

func rfc822(msgid string) string {
	return "From: Ann Lee <ann@example.com>\r\nTo: bob@example.com\r\nSubject: Hello\r\nDate: Mon, 02 Mar 2026 09:00:00 +0000\r\n" +
		"Message-ID: <" + msgid + ">\r\nContent-Type: text/plain\r\n\r\nHello Bob.\r\n"
}

// An identifier read from a file becomes the record's id only when
// crmbridge minted it (a version 7 UUID, claimID): a foreign random UID
// gives a new version 7 id and stays what it was (the source key, the
// uid field, exported back); a second import of the file changes nothing.
func TestFileIDMintedOnly(t *testing.T) {
	for _, tc := range []struct {
		name, file, body string
		e                crm.Entity
		uid              string // the identifier the item carries
		isID             bool   // it is the record's id
	}{
		{"vCard v4 GUID", "a.vcf", vcard(v4UID), crm.Contact, v4UID, false},
		{"vCard Apple v4", "a.vcf", vcard(appleUID), crm.Contact, appleUID, false},
		{"vCard from crmbridge's export", "a.vcf", vcard(v7UID), crm.Contact, v7UID, true},
		{"vCard v7 upper case", "a.vcf", vcard(strings.ToUpper(v7UID)), crm.Contact, strings.ToUpper(v7UID), true},
		{"vCard nil UUID", "a.vcf", vcard("00000000-0000-0000-0000-000000000000"), crm.Contact, "00000000-0000-0000-0000-000000000000", false},
		{"vCard version 7, Microsoft variant", "a.vcf", vcard("0190f2a1-7b2c-7d3e-cf40-123456789abc"), crm.Contact, "0190f2a1-7b2c-7d3e-cf40-123456789abc", false},
		{"vCard v7 in a URN", "a.vcf", vcard("urn:uuid:" + v7UID), crm.Contact, "urn:uuid:" + v7UID, false},
		{"event Apple v4", "a.ics", vevent("VEVENT", appleUID), crm.Appointment, appleUID, false},
		{"event v7", "a.ics", vevent("VEVENT", v7UID), crm.Appointment, v7UID, true},
		{"task v4", "a.ics", vevent("VTODO", v4UID), crm.Task, v4UID, false},
		{"task v7", "a.ics", vevent("VTODO", v7UID), crm.Task, v7UID, true},
		{"mail crmbridge.invalid v4", "a.eml", rfc822(v4UID + "@crmbridge.invalid"), crm.Email, v4UID, false},
		{"mail crmbridge.invalid v7", "a.eml", rfc822(v7UID + "@crmbridge.invalid"), crm.Email, v7UID, true},
		{"mail v7 elsewhere", "a.eml", rfc822(v7UID + "@example.com"), crm.Email, v7UID, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			path := filepath.Join(dir, tc.file)
			if err := os.WriteFile(path, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			s := newStore(t)
			sum, p := importPaths(t, s, ImportOptions{}, path)
			if len(p.errs) > 0 {
				t.Fatal(p.errs)
			}
			ids, err := s.IDs(ctx, []crm.Entity{tc.e})
			if err != nil || len(ids) != 1 {
				t.Fatalf("%s records %v, %v; summary %+v", tc.e, ids, err, sum.Entities[tc.e])
			}
			id := ids[0]
			u, err := uuid.Parse(id)
			if err != nil || u.Version() != 7 || u.String() != id {
				t.Errorf("record id %s is not a lower-case UUIDv7", id)
			}
			if got := id == strings.ToLower(tc.uid); got != tc.isID {
				t.Errorf("record id %s, UID %s: record id is the UID = %v, want %v", id, tc.uid, got, tc.isID)
			}
			v, err := s.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			// The identifier is kept as before, whatever the id.
			out := t.TempDir()
			var opts ExportOptions
			switch tc.e {
			case crm.Contact:
				if len(v.Sources) != 1 || v.Sources[0].Key != path+"#"+tc.uid {
					t.Errorf("sources %+v, want key %s#%s", v.Sources, path, tc.uid)
				}
				opts.VCF = filepath.Join(out, "out.vcf")
			case crm.Appointment, crm.Task:
				if v.Fields["uid"] != tc.uid {
					t.Errorf("uid field %q, want %q", v.Fields["uid"], tc.uid)
				}
				opts.ICS = filepath.Join(out, "out.ics")
			case crm.Email:
				if !strings.Contains(v.Fields["messageid"], tc.uid) {
					t.Errorf("messageid %q", v.Fields["messageid"])
				}
				opts.EMLDir = filepath.Join(out, "mail")
				if err := os.Mkdir(opts.EMLDir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			// Exported, the identifier is written back (and a card whose
			// UID is not its id carries the id beside it).
			exportReport(t, s, opts)
			var written strings.Builder
			filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					b, _ := os.ReadFile(p)
					written.Write(b)
				}
				return nil
			})
			wantUID := tc.uid
			if tc.isID {
				wantUID = id
			}
			for _, w := range map[crm.Entity][]string{
				crm.Contact:     {"\r\nUID:" + wantUID + "\r\n"},
				crm.Appointment: {"\r\nUID:" + wantUID + "\r\n"},
				crm.Task:        {"\r\nUID:" + wantUID + "\r\n"},
				crm.Email:       {tc.uid},
			}[tc.e] {
				if !strings.Contains(written.String(), w) {
					t.Errorf("export does not hold %q:\n%s", w, written.String())
				}
			}
			if got := strings.Contains(written.String(), "X-CRMBRIDGE-ID:"+id+"\r\n"); got != (tc.e == crm.Contact && !tc.isID) {
				t.Errorf("export holds X-CRMBRIDGE-ID:%s = %v:\n%s", id, got, written.String())
			}
			// The export read back: here, the same record; in a fresh
			// store, the same id when it was crmbridge's (a card carries
			// it), else an id of its own.
			sum, p = importPaths(t, s, ImportOptions{}, out)
			if len(p.errs) > 0 {
				t.Fatal(p.errs)
			}
			if again, _ := s.IDs(ctx, []crm.Entity{tc.e}); len(again) != 1 || again[0] != id {
				t.Errorf("after importing the export: %v, want [%s]; %+v", again, id, sum.Entities[tc.e])
			}
			fresh := newStore(t)
			importPaths(t, fresh, ImportOptions{}, out)
			ids2, _ := fresh.IDs(ctx, []crm.Entity{tc.e})
			if len(ids2) != 1 || (ids2[0] == id) != (tc.isID || tc.e == crm.Contact) {
				t.Errorf("export into a fresh store: %v (id %s, UID %s)", ids2, id, tc.uid)
			}
			if len(ids2) == 1 && tc.e == crm.Contact {
				v2, _ := fresh.Get(ctx, ids2[0])
				if !reflect.DeepEqual(v2.Extras, v.Extras) {
					t.Errorf("extras in a fresh store %+v, want %+v", v2.Extras, v.Extras)
				}
			}
			// Idempotent: the file again is the same record, unchanged.
			sum, p = importPaths(t, s, ImportOptions{Force: true}, path)
			if len(p.errs) > 0 {
				t.Fatal(p.errs)
			}
			if c := sum.Entities[tc.e]; c == nil || c.Created != 0 || c.Updated != 0 || c.Unchanged != 1 {
				t.Errorf("second import: %+v", c)
			}
			if again, _ := s.IDs(ctx, []crm.Entity{tc.e}); len(again) != 1 || again[0] != id {
				t.Errorf("after the second import: %v, want [%s]", again, id)
			}
		})
	}
}

// A store an earlier version wrote holds records whose id is a foreign
// UID (it took any UUID) or an id crmbridge minted before ids were
// version 7, or the server's: a file naming such an id (crmbridge's own
// export of the record, or the foreign file read from another place) is
// that record when it is one of the same entity, not deleted; otherwise
// the item is a new record with an id of its own (never the foreign one).
func TestFileIDLegacyStore(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	const (
		liveC  = "11111111-2222-4333-8444-555555555555" // a contact
		goneC  = "22222222-2222-4333-8444-555555555555" // a deleted contact
		liveA  = "33333333-2222-4333-8444-555555555555" // an appointment
		pulled = "44444444-2222-1333-8444-555555555555" // a contact with the server's id (version 1)
	)
	edit(t, s, func(tx *crmstore.Tx) error {
		for _, r := range []struct {
			id string
			e  crm.Entity
			f  map[string]string
		}{
			{liveC, crm.Contact, map[string]string{"firstname": "Ann", "lastname": "Lee"}},
			{goneC, crm.Contact, map[string]string{"firstname": "Gus", "lastname": "Gone"}},
			{liveA, crm.Appointment, map[string]string{"subject": "Review", "uid": liveA, "scheduledstart": "2026-03-02T09:00:00Z"}},
			{pulled, crm.Contact, map[string]string{"firstname": "Pam", "lastname": "Pulled"}},
		} {
			// As an earlier version imported a file with that UID.
			if _, err := tx.Apply(&crm.Incoming{
				Source: crm.SourceRef{Kind: "vcf", Key: "/old/place.vcf#" + r.id, Version: "1"},
				Record: crm.Record{ID: r.id, Entity: r.e, Fields: r.f},
			}, crmstore.PolicyNewest); err != nil {
				return err
			}
		}
		return tx.Delete(goneC, "cli")
	})
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// crmbridge's export of the contacts: their UIDs are their ids.
	out := filepath.Join(t.TempDir(), "out.vcf")
	exportReport(t, s, ExportOptions{VCF: out})
	b, err := os.ReadFile(out)
	if err != nil || !strings.Contains(string(b), "UID:"+liveC+"\r\n") || !strings.Contains(string(b), "UID:"+pulled+"\r\n") {
		t.Fatalf("export (%v):\n%s", err, b)
	}
	before, _ := s.IDs(ctx, crm.Entities())
	sum, p := importPaths(t, s, ImportOptions{}, out)
	if len(p.errs) > 0 {
		t.Fatal(p.errs)
	}
	if c := sum.Entities[crm.Contact]; c == nil || c.Created != 0 || c.Updated+c.Unchanged != 2 {
		t.Errorf("re-import of the export: %+v, want the 2 contacts found", c)
	}
	// Foreign files naming them, read from another place: the same.
	sum, p = importPaths(t, s, ImportOptions{}, write("moved.vcf", vcard(liveC)), write("moved.ics", vevent("VEVENT", liveA)))
	if len(p.errs) > 0 {
		t.Fatal(p.errs)
	}
	for _, e := range []crm.Entity{crm.Contact, crm.Appointment} {
		if c := sum.Entities[e]; c == nil || c.Created != 0 || c.Updated+c.Unchanged != 1 {
			t.Errorf("%s from another place: %+v, want found", e, c)
		}
	}
	if after, _ := s.IDs(ctx, crm.Entities()); len(after) != len(before) {
		t.Fatalf("records %v, want %v", after, before)
	}
	// The deleted contact's id, and the appointment's id on a card: new
	// contacts, with ids of their own.
	sum, p = importPaths(t, s, ImportOptions{}, write("gone.vcf", namedCard(goneC, "Gus", "Gone")), write("other.vcf", namedCard(liveA, "Rita", "Review")))
	if len(p.errs) > 0 {
		t.Fatal(p.errs)
	}
	if c := sum.Entities[crm.Contact]; c == nil || c.Created != 2 {
		t.Errorf("cards naming a deleted contact and an appointment: %+v, want 2 created", c)
	}
	after, _ := s.IDs(ctx, []crm.Entity{crm.Contact})
	for _, id := range after {
		if id == liveC || id == pulled {
			continue
		}
		if u, err := uuid.Parse(id); err != nil || u.Version() != 7 {
			t.Errorf("new contact %s: not a UUIDv7", id)
		}
	}
	if len(after) != 4 {
		t.Errorf("contacts %v, want the 2 old ones and 2 new", after)
	}
}

// A card's UID, kept when it is no record id, names the card: two cards
// identical in every value but their UIDs are still one record (the
// content key leaves the UID out), and each UID stays its source's key.
func TestCardUIDNotContent(t *testing.T) {
	dir := t.TempDir()
	for i, uid := range []string{v4UID, appleUID} {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.vcf", i)), []byte(vcard(uid)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := newStore(t)
	sum, p := importPaths(t, s, ImportOptions{}, dir)
	if len(p.errs) > 0 {
		t.Fatal(p.errs)
	}
	if c := sum.Entities[crm.Contact]; c == nil || c.Created != 1 {
		t.Fatalf("contacts %+v, want 1 created", c)
	}
	ids, _ := s.IDs(context.Background(), []crm.Entity{crm.Contact})
	v, err := s.Get(context.Background(), ids[0])
	if err != nil || len(v.Sources) != 2 {
		t.Fatalf("sources %+v, %v", v, err)
	}
}
