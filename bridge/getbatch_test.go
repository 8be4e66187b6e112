package bridge

import (
	"context"
	"io"
	"path/filepath"
	"reflect"
	"testing"

	"crmbridge/crm"
	"crmbridge/crmstore"
	"crmbridge/fixtures"
)

// Snapshot.GetBatch, which an export reads records with, gives for every
// record exactly what Snapshot.Get gives: fields, parties, members,
// attachments (whose content opens), extras, sources and keys, over a
// store filled from the corpus's vCards, iCalendar files, mails, .msg
// files and enron.pst. An id with no record is left out.
func TestGetBatchIsGet(t *testing.T) {
	s := newStore(t)
	var paths []string
	for _, sub := range []string{"vcf", "ics", "eml", "msg"} {
		paths = append(paths, fixtures.CorpusDir(t, sub))
	}
	paths = append(paths, filepath.Join(fixtures.GoPSTData(t), "enron.pst"))
	importPaths(t, s, ImportOptions{}, paths...)
	ctx := context.Background()
	sn, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	ids, err := sn.IDs(crm.Entities())
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) < 2500 {
		t.Fatalf("%d records, want the corpus's and enron's", len(ids))
	}
	missing := "00000000-0000-4000-8000-000000000000"
	withMissing := append(append([]string{}, ids...), missing)
	got, err := sn.GetBatch(withMissing, crmstore.BatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ids) {
		t.Errorf("GetBatch: %d views for %d records (and one missing id)", len(got), len(ids))
	}
	lean, err := sn.GetBatch(withMissing, crmstore.BatchOptions{NoBookkeeping: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(lean) != len(ids) {
		t.Errorf("GetBatch NoBookkeeping: %d views for %d records (and one missing id)", len(lean), len(ids))
	}
	seen := map[crm.Entity]int{}
	opened := 0
	for _, id := range ids {
		want, err := sn.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		v := got[id]
		if v == nil {
			t.Errorf("%s %s: not in GetBatch", want.Entity, id)
			continue
		}
		seen[v.Entity]++
		for i := range v.Attachments {
			if opened < 20 {
				rc, err := v.Attachments[i].Open()
				if err != nil {
					t.Fatalf("%s: open attachment: %v", id, err)
				}
				n, _ := io.Copy(io.Discard, rc)
				rc.Close()
				if n != v.Attachments[i].Size {
					t.Errorf("%s: attachment %q: %d bytes, want %d", id, v.Attachments[i].Name, n, v.Attachments[i].Size)
				}
				opened++
			}
			v.Attachments[i].Open = nil
		}
		for i := range want.Attachments {
			want.Attachments[i].Open = nil
		}
		if !reflect.DeepEqual(v, want) {
			t.Errorf("%s %s:\nGetBatch %+v\nGet      %+v", v.Entity, id, *v, *want)
		}
		if l := lean[id]; l == nil {
			t.Errorf("%s %s: not in GetBatch NoBookkeeping", want.Entity, id)
		} else {
			for i := range l.Attachments {
				l.Attachments[i].Open = nil
			}
			want.Sources, want.Keys = nil, nil
			if !reflect.DeepEqual(l, want) {
				t.Errorf("%s %s:\nGetBatch NoBookkeeping %+v\nGet less bookkeeping   %+v", l.Entity, id, *l, *want)
			}
		}
	}
	if opened == 0 || len(seen) < 3 {
		t.Errorf("the store holds too little to compare: entities %v, %d attachments", seen, opened)
	}
	t.Logf("%d records compared: %v", len(ids), seen)
}
