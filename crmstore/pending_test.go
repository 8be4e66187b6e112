package crmstore

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"crmbridge/crm"
)

// heldCreations is a batch whose items read what earlier items of the same
// batch created: a version applied again, a later version of a new
// record, another source of it by e-mail address (names agreeing, and
// not), a key a deleted record holds, a suggested id that is taken, an
// e-mail whose parties are new contacts. More new records than
// pendingRecords, so that rows are inserted both by Apply and by Commit.
func heldCreations() []*crm.Incoming {
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	contact := func(src, key, ver, id, first, last, email string) *crm.Incoming {
		return &crm.Incoming{
			Source:     crm.SourceRef{Kind: src, Key: key, Version: ver},
			Record:     crm.Record{ID: id, Entity: crm.Contact, Fields: map[string]string{"firstname": first, "lastname": last, "emailaddress1": email}},
			Keys:       []string{"email:" + email, "content:" + key + ver},
			ModifiedAt: at,
		}
	}
	var b []*crm.Incoming
	for i := range pendingRecords + 6 {
		b = append(b, contact("vcf", fmt.Sprint("c", i), "1", fmt.Sprintf("00000000-0000-7000-8000-%012d", i+1), "Ann", fmt.Sprint("Lee", i), fmt.Sprintf("c%d@example.org", i)))
		if i%3 == 0 { // extra values (a card's UID, an X- property)
			b[len(b)-1].Record.Extras = []crm.Extra{{Name: "UID", Value: fmt.Sprint("u", i)}, {Name: "X-A", Value: "v", Params: map[string]string{"TYPE": "home"}}}
		}
		switch i {
		case 3:
			b = append(b, contact("vcf", "c1", "1", "", "Ann", "Lee1", "c1@example.org")) // applied again
		case 5:
			v := contact("vcf", "c2", "2", "", "Ann", "Lee-Smith", "c2@example.org") // a later version
			v.ModifiedAt = at.Add(time.Hour)
			b = append(b, v)
		case 7:
			b = append(b, contact("ics", "x4", "1", "", "", "Lee4", "c4@example.org"))     // same person
			b = append(b, contact("ics", "x5", "1", "", "Bob", "Stone", "c5@example.org")) // same address, not the same
		case 9:
			b = append(b, contact("vcf", "g", "1", "", "Gus", "Gone", "gone@example.org")) // the deleted record's key
			b = append(b, contact("vcf", "t", "1", pendingGoneID, "Tia", "Taken", "t@example.org"))
			b = append(b, &crm.Incoming{
				Source: crm.SourceRef{Kind: "eml", Key: "m1", Version: "1"},
				Record: crm.Record{Entity: crm.Email, Fields: map[string]string{"subject": "hello"},
					Parties: []crm.Party{{Role: 1, Address: "C3@example.org", Name: "Ann"}, {Role: 2, Address: "nobody@example.org"}}},
				Keys:       []string{"msgid:m1"},
				ModifiedAt: at,
			})
		case 11: // attachments: new content, the same again, and by hash only
			for j, open := range []bool{true, true, false} {
				a := crm.Attachment{Name: "a.txt", MimeType: "text/plain", Size: 5, SHA256: pendingBlobHash}
				if open {
					a.Open = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("hello")), nil }
				}
				b = append(b, &crm.Incoming{
					Source:     crm.SourceRef{Kind: "eml", Key: fmt.Sprint("a", j), Version: "1"},
					Record:     crm.Record{Entity: crm.Email, Fields: map[string]string{"subject": fmt.Sprint("with attachment ", j)}, Attachments: []crm.Attachment{a}},
					Keys:       []string{fmt.Sprint("msgid:a", j)},
					ModifiedAt: at,
				})
			}
		}
	}
	return b
}

const pendingGoneID = "00000000-0000-7000-8000-999999999999"

// pendingBlobHash is the SHA-256 of "hello".
const pendingBlobHash = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

// Rows held and inserted many at a time (pending.go) make the same store,
// and the same results, as rows inserted one statement at a time (a
// Careful batch, where nothing is held).
func TestPendingRowsAsWritten(t *testing.T) {
	build := func(careful bool) (string, []string) {
		ctx := context.Background()
		s := openTest(t)
		gone := contactIn("gone", "Gone")
		gone.Record.ID = pendingGoneID
		gone.Keys = []string{"email:gone@example.org"}
		apply(t, s, gone, PolicyNewest)
		must(t, s.Update(ctx, func(tx *Tx) error { return tx.Delete(pendingGoneID, "cli") }))

		tx, err := s.Begin(ctx)
		must(t, err)
		if careful {
			tx.Careful()
		}
		var results []string
		for _, in := range heldCreations() {
			res, err := tx.Apply(in, PolicyNewest)
			if err != nil {
				t.Fatalf("apply %s: %v", in.Source.Key, err)
			}
			results = append(results, fmt.Sprintf("%s %s %v %v", res.ID, res.Outcome, res.Known, res.Changed))
		}
		must(t, tx.Commit())
		return dumpStore(t, s, results)
	}
	want, wantRes := build(true)
	got, gotRes := build(false)
	if strings.Join(gotRes, "\n") != strings.Join(wantRes, "\n") {
		t.Errorf("results differ:\n%s", lineDiff(wantRes, gotRes))
	}
	if got != want {
		t.Errorf("stores differ:\n%s", lineDiff(strings.Split(want, "\n"), strings.Split(got, "\n")))
	}
	for _, w := range []string{"duplicate|", "journal|", "activityparty|", "attachment|", "blobchunk|", "extra|"} {
		if !strings.Contains(want, w) {
			t.Errorf("the batch wrote no %s rows: it does not test what it should", strings.TrimSuffix(w, "|"))
		}
	}
}

// dumpStore returns every row of the tables a creation writes, minus the
// times of the transaction (they differ between two stores), with record
// ids numbered in the order the records were inserted; and results with
// the same numbering.
func dumpStore(t *testing.T, s *Store, results []string) (string, []string) {
	t.Helper()
	ids := map[string]string{}
	rows, err := s.db.Query(`SELECT id FROM record ORDER BY rowid`)
	must(t, err)
	for rows.Next() {
		var id string
		must(t, rows.Scan(&id))
		ids[id] = fmt.Sprint("r", len(ids))
	}
	must(t, rows.Err())
	rows.Close()
	uuidRE := regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	norm := func(s string) string {
		return uuidRE.ReplaceAllStringFunc(s, func(id string) string {
			if n, ok := ids[id]; ok {
				return n
			}
			return "unknown-id"
		})
	}
	skip := map[string]bool{"created_at": true, "modified_at": true, "seen_at": true, "at": true}
	var out []string
	for _, table := range []string{"record", "contact", "activity", "activityparty", "provenance", "base", "fieldstate",
		"journal", "outbox", "recordkey", "duplicate", "attachment", "blob", "blobchunk", "extra", "sqlite_sequence"} {
		order := " ORDER BY rowid"
		if table == "base" || table == "fieldstate" || table == "duplicate" || table == "blobchunk" || table == "extra" {
			order = ""
		}
		rows, err := s.db.Query(`SELECT * FROM ` + table + order)
		must(t, err)
		cols, err := rows.Columns()
		must(t, err)
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			must(t, rows.Scan(ptrs...))
			line := []string{table}
			for i, c := range cols {
				if skip[c] && !(table == "fieldstate" && c == "modified_at") {
					continue
				}
				line = append(line, c+"="+vals[i].String)
			}
			out = append(out, norm(strings.Join(line, "|")))
		}
		must(t, rows.Err())
		rows.Close()
	}
	for i, r := range results {
		results[i] = norm(r)
	}
	return strings.Join(out, "\n"), results
}

// lineDiff lists the lines only in a (-) or only in b (+).
func lineDiff(a, b []string) string {
	in := func(xs []string) map[string]int {
		m := map[string]int{}
		for _, x := range xs {
			m[x]++
		}
		return m
	}
	ma, mb := in(a), in(b)
	var d []string
	for x, n := range ma {
		if mb[x] < n {
			d = append(d, "- "+x)
		}
	}
	for x, n := range mb {
		if ma[x] < n {
			d = append(d, "+ "+x)
		}
	}
	sort.Strings(d)
	if len(d) == 0 {
		return "(same lines, another order)"
	}
	return strings.Join(d, "\n")
}

// Pending rows go into their tables in the order of the foreign keys
// between them, whatever table the batch wrote first.
func TestPendingRank(t *testing.T) {
	heads := []string{
		`INSERT INTO record (id, entity, created_at, modified_at)`,
		`INSERT INTO "contact" ("id", "firstname")`,
		`INSERT INTO "activity" ("id", "activitytypecode")`,
		`INSERT INTO "account" ("id", "name")`,
		`INSERT INTO provenance (id, record_id, kind, key, version, origin, seen_at, sequence, stamp)`,
		`INSERT INTO base (provenance_id, field, value)`,
		`INSERT INTO activityparty (activity_id, ord, role, address, name, status)`,
		`INSERT INTO recordkey (h, entity, key, record_id) SELECT * FROM (`,
	}
	want := []int{0, 1, 1, 1, 2, 3, 3, 3}
	for i, h := range heads {
		if got := pendingRank(h); got != want[i] {
			t.Errorf("pendingRank(%s) = %d, want %d", h, got, want[i])
		}
	}
}
