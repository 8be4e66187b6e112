package crmstore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"crmbridge/crm"
)

func person(kind, key, first, last, email string) *crm.Incoming {
	f := map[string]string{"firstname": first, "lastname": last, "emailaddress1": email}
	return &crm.Incoming{
		Source:     crm.SourceRef{Kind: kind, Key: key, Version: "1"},
		Record:     crm.Record{Entity: crm.Contact, Fields: f},
		Keys:       []string{"email:" + strings.ToLower(email)},
		ModifiedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
	}
}

// Two people sharing one e-mail address stay two contacts and become a
// possible duplicate; a name that abbreviates the other merges.
func TestIdentityNamesMustAgree(t *testing.T) {
	s := openTest(t)
	a := apply(t, s, person("vcf", "1", "Forrest", "Hoge", "fh@example.com"), PolicyNewest)
	b := apply(t, s, person("vcf", "2", "", "boogie", "fh@example.com"), PolicyNewest)
	if b.Outcome != Created || b.ID == a.ID {
		t.Fatalf("different names merged: %+v", b)
	}
	c := apply(t, s, person("pst", "3", "F.", "Hoge", "FH@example.com"), PolicyNewest)
	if c.ID != a.ID {
		t.Fatalf("abbreviated name not merged: %+v", c)
	}
	ds, err := s.Duplicates(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].A != b.ID || ds[0].B != a.ID || ds[0].NameA != "boogie" || ds[0].NameB != "Forrest Hoge" {
		t.Fatalf("duplicates %+v", ds)
	}

	// Dismissed: listed no more, both stay.
	if err := s.Update(context.Background(), func(tx *Tx) error { return tx.DismissDuplicate(a.ID[:8], b.ID[:8]) }); err != nil {
		t.Fatal(err)
	}
	if ds, _ := s.Duplicates(context.Background(), false); len(ds) != 0 {
		t.Fatalf("after dismiss: %+v", ds)
	}
	if err := s.Update(context.Background(), func(tx *Tx) error { return tx.DismissDuplicate(a.ID, b.ID) }); err == nil {
		t.Fatal("a settled pair dismissed again")
	}
}

// Merging a possible duplicate keeps the first record, fills its empty
// fields from the second, adds its extras, points its sources there and
// deletes the second; a re-import of the second's source then updates the
// kept record.
func TestMergeDuplicate(t *testing.T) {
	s := openTest(t)
	a := apply(t, s, person("vcf", "1", "Forrest", "Hoge", "fh@example.com"), PolicyNewest)
	in := person("vcf", "2", "", "boogie", "fh@example.com")
	in.Record.Fields["jobtitle"] = "Drummer"
	in.Record.Extras = []crm.Extra{{Name: "X-SKYPE", Value: "boog"}}
	b := apply(t, s, in, PolicyNewest)
	var kept string
	err := s.Update(context.Background(), func(tx *Tx) error {
		var err error
		kept, err = tx.MergeDuplicate(a.ID, b.ID, "cli")
		return err
	})
	if err != nil || kept != a.ID {
		t.Fatalf("merge: %v %s", err, kept)
	}
	v, err := s.Get(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.Fields["lastname"] != "Hoge" || v.Fields["jobtitle"] != "Drummer" || len(v.Extras) != 1 || len(v.Sources) != 2 {
		t.Fatalf("kept record %+v", v)
	}
	if vb, err := s.Get(context.Background(), b.ID); err != nil || !vb.Deleted {
		t.Fatalf("merged record not deleted: %v %+v", err, vb)
	}
	in2 := person("vcf", "2", "", "boogie", "fh@example.com")
	in2.Source.Version = "2"
	in2.Record.Fields["jobtitle"] = "Bassist"
	if r := apply(t, s, in2, PolicyNewest); r.ID != a.ID {
		t.Fatalf("re-import after merge went to %s", r.ID)
	}
	if ds, _ := s.Duplicates(context.Background(), true); len(ds) != 1 || ds[0].Settled != "merged" {
		t.Fatalf("duplicates %+v", ds)
	}
}

// A version of an appointment that would end before it starts once
// merged is refused; the previous version stays.
func TestRefuseEndBeforeStart(t *testing.T) {
	s := openTest(t)
	ev := func(version, start, end string) *crm.Incoming {
		f := map[string]string{"subject": "Meet"}
		if start != "" {
			f["scheduledstart"] = start
		}
		if end != "" {
			f["scheduledend"] = end
		}
		return &crm.Incoming{
			Source: crm.SourceRef{Kind: "ics", Key: "uid-1", Version: version},
			Record: crm.Record{Entity: crm.Appointment, Fields: f},
			Keys:   []string{"uid:uid-1"},
		}
	}
	r := apply(t, s, ev("1", "2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z"), PolicyNewest)
	// A later version moves only the end, to before the start.
	err := s.Update(context.Background(), func(tx *Tx) error {
		_, err := tx.Apply(ev("2", "2026-01-05T10:00:00Z", "2026-01-05T09:00:00Z"), PolicyNewest)
		return err
	})
	if !errors.Is(err, ErrEndsBeforeStart) {
		t.Fatalf("apply: %v", err)
	}
	if got := fields(t, s, r.ID); got["scheduledend"] != "2026-01-05T11:00:00Z" {
		t.Fatalf("previous version not kept: %v", got)
	}
	// A new record that ends before it starts is refused too.
	err = s.Update(context.Background(), func(tx *Tx) error {
		in := ev("1", "2026-02-05T10:00:00Z", "2026-02-05T09:00:00Z")
		in.Source.Key, in.Keys = "uid-2", []string{"uid:uid-2"}
		_, err := tx.Apply(in, PolicyNewest)
		return err
	})
	if !errors.Is(err, ErrEndsBeforeStart) {
		t.Fatalf("new record: %v", err)
	}
}
