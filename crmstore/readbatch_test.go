package crmstore

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"crmbridge/crm"
)

// GetBatch reads an entity's columns packed into one text (packColumns):
// values with the packing's own separators, digits, NUL bytes, multi-byte
// and long text, a BLOB and an INTEGER stored in TEXT columns, empty and
// NULL columns come back as Get reads them, column by column.
func TestGetBatchPackedValues(t *testing.T) {
	s := openTest(t)
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	values := map[string]string{
		"firstname":     "3,5,Smith",
		"lastname":      ",",
		"middlename":    "0",
		"nickname":      "a\x00b",
		"department":    "Größere Bestellung – 東京 😀",
		"description":   strings.Repeat("x,1,", 5000),
		"emailaddress1": "a@example.com",
		"suffix":        " ",
	}
	var ids []string
	for i, v := range []map[string]string{values, {"lastname": "Only"}} {
		res := apply(t, s, &crm.Incoming{
			Source:     crm.SourceRef{Kind: "test", Key: "k" + string(rune('a'+i)), Version: "1"},
			Record:     crm.Record{Entity: crm.Contact, Fields: v},
			ModifiedAt: at,
		}, PolicyNewest)
		ids = append(ids, res.ID)
	}
	// Values the store's write path does not make but a column can hold.
	if _, err := s.db.Exec(`UPDATE contact SET jobtitle = x'41004243', pager = 42, fax = '' WHERE id = ?`, ids[0]); err != nil {
		t.Fatal(err)
	}
	sn, err := s.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	got, err := sn.GetBatch(ids, BatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		want, err := sn.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got[id], want) {
			t.Errorf("%s:\nGetBatch %q\nGet      %q", id, got[id].Fields, want.Fields)
		}
	}
	// Ids go to the queries as one JSON array: upper case finds the
	// record, as Get does; quotes, backslashes and non-ASCII find none.
	odd, err := sn.GetBatch([]string{strings.ToUpper(ids[1]), `a"b\`, "é", ids[1] + `"`}, BatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(odd) != 1 || odd[ids[1]] == nil || !reflect.DeepEqual(odd[ids[1]], got[ids[1]]) {
		t.Errorf("odd ids: got %d views %v", len(odd), odd)
	}
	f := got[ids[0]].Fields
	for k, v := range values {
		if f[k] != v {
			t.Errorf("%s = %q, want %q", k, f[k], v)
		}
	}
	if f["jobtitle"] != "A\x00BC" || f["pager"] != "42" {
		t.Errorf("jobtitle %q pager %q, want the blob's bytes and 42", f["jobtitle"], f["pager"])
	}
	if _, ok := f["fax"]; ok {
		t.Error("an empty column is in Fields")
	}
}

// packColumns and unpackColumns over a table wider than one packed text
// (packGroup columns): every value comes back under its own column, NULL
// and empty columns are left out, and a row whose value holds a NUL byte
// is refused whole, whichever group holds it.
func TestPackColumnsWide(t *testing.T) {
	s := openTest(t)
	var cols, defs []string
	for i := range 2*packGroup + 7 {
		c := fmt.Sprintf("c%03d", i)
		cols = append(cols, c)
		defs = append(defs, c+" TEXT")
	}
	if _, err := s.db.Exec(`CREATE TEMP TABLE wide (id TEXT, ` + strings.Join(defs, ", ") + `)`); err != nil {
		t.Fatal(err)
	}
	insert := func(id string, val func(i int) any) {
		args := []any{id}
		for i := range cols {
			args = append(args, val(i))
		}
		if _, err := s.db.Exec(`INSERT INTO wide VALUES (?`+strings.Repeat(", ?", len(cols))+`)`, args...); err != nil {
			t.Fatal(err)
		}
	}
	insert("a", func(i int) any {
		switch i % 3 {
		case 0:
			return nil
		case 1:
			return ""
		}
		return fmt.Sprintf("v%d,é", i)
	})
	for _, at := range []int{0, packGroup - 1, packGroup, len(cols) - 1} {
		insert(fmt.Sprint("nul", at), func(i int) any {
			if i == at {
				return "x\x00y"
			}
			return "z"
		})
	}
	rows, err := s.db.Query(`SELECT t.id, ` + strings.Join(packColumns(cols), ", ") + ` FROM wide t ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		texts := make([]string, len(packColumns(cols)))
		dest := []any{new(string)}
		for i := range texts {
			dest = append(dest, &texts[i])
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		id := *dest[0].(*string)
		vals, ok := unpackColumns(nil, texts, cols)
		got := map[string]string{}
		for _, c := range vals {
			got[c.name] = c.value
		}
		n++
		if id != "a" {
			if ok || len(got) != 0 {
				t.Errorf("%s: unpacked a value with a NUL byte: %v, %d values", id, ok, len(got))
			}
			continue
		}
		want := map[string]string{}
		for i, c := range cols {
			if i%3 == 2 {
				want[c] = fmt.Sprintf("v%d,é", i)
			}
		}
		if !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("a: ok %v\ngot  %q\nwant %q", ok, got, want)
		}
	}
	if err := rows.Err(); err != nil || n != 5 {
		t.Fatalf("%d rows, %v", n, err)
	}
}

// Snapshot.IDs sorts in Go what idsQuery sorts in SQL: the same ids in
// the same order, over ties of created_at, times that differ only in
// their fractional digits, deleted records and other entities.
func TestSnapshotIDsOrder(t *testing.T) {
	s := openTest(t)
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 40 {
		e, f := crm.Contact, "lastname"
		if i%7 == 0 {
			e, f = crm.Account, "name"
		}
		res := apply(t, s, &crm.Incoming{
			Source:     crm.SourceRef{Kind: "test", Key: fmt.Sprint("k", i), Version: "1"},
			Record:     crm.Record{Entity: e, Fields: map[string]string{f: fmt.Sprint("n", i)}},
			ModifiedAt: at,
		}, PolicyNewest)
		created := []string{"2024-01-01T00:00:00Z", "2024-01-01T00:00:00.5Z", "2024-01-01T00:00:00.05Z", "2023-12-31T23:59:59.999999999Z"}[i%4]
		if _, err := s.db.Exec(`UPDATE record SET created_at = ?, deleted = ? WHERE id = ?`, created, i%9 == 4, res.ID); err != nil {
			t.Fatal(err)
		}
	}
	sn, err := s.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	for _, ents := range [][]crm.Entity{{crm.Contact}, {crm.Contact, crm.Account}, {crm.Email}} {
		got, err := sn.IDs(ents)
		if err != nil {
			t.Fatal(err)
		}
		q, args := idsQuery(ents)
		want, err := sn.ids(q, args...)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%v:\nIDs %v\nSQL %v", ents, got, want)
		}
		if len(ents) == 2 && len(got) < 30 {
			t.Errorf("%d ids, want most of 40", len(got))
		}
	}
}
