package crmstore

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"crmbridge/crm"
)

// baseRows returns the merge base rows of source (kind, key), field to value.
func baseRows(t *testing.T, s *Store, kind, key string) map[string]string {
	t.Helper()
	rows, err := s.db.Query(`SELECT b.field, b.value FROM base b JOIN provenance p ON p.id = b.provenance_id WHERE p.kind = ? AND p.key = ?`, kind, key)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var f, v string
		if err := rows.Scan(&f, &v); err != nil {
			t.Fatal(err)
		}
		out[f] = v
	}
	return out
}

// A source's first version is one merge base row (every field it gave, as
// one JSON object); a later version adds rows for the fields it changed,
// which override that row: the three-way merge reads the same base either
// way.
func TestBaseOneRowForANewSource(t *testing.T) {
	s := openTest(t)
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	res := apply(t, s, outlookJeff("v1", "Jeff", "Smith", t0), PolicyNewest)
	got := baseRows(t, s, "pst", "jeff-entry")
	want := `{"emailaddress1":"jeff@example.com","firstname":"Jeff","lastname":"Smith"}`
	if len(got) != 1 || got[baseAll] != want {
		t.Fatalf("base of a new source: %q, want one row %s", got, want)
	}
	// The CRM changes the last name; the source the first name: both stay.
	s.now = func() time.Time { return t0.Add(2 * time.Hour) }
	set(t, s, res.ID, map[string]string{"lastname": "Rodman"})
	if r := apply(t, s, outlookJeff("v2", "John", "Smith", t0.Add(time.Hour)), PolicyNewest); r.Conflicts != 0 || r.Outcome != Updated {
		t.Fatalf("v2: %+v", r)
	}
	got = baseRows(t, s, "pst", "jeff-entry")
	if len(got) != 2 || got["firstname"] != "John" || got[baseAll] != want {
		t.Fatalf("base after v2: %q", got)
	}
	if f := fields(t, s, res.ID); f["firstname"] != "John" || f["lastname"] != "Rodman" {
		t.Fatalf("after v2: %q", f)
	}
	// Now the source changes the last name too: its base (Smith, from the
	// first row) differs from both sides, a conflict the newer CRM edit wins.
	if r := apply(t, s, outlookJeff("v3", "John", "Smyth", t0.Add(90*time.Minute)), PolicyNewest); r.Conflicts != 1 {
		t.Fatalf("v3: %+v, want one conflict", r)
	}
	if f := fields(t, s, res.ID); f["lastname"] != "Rodman" {
		t.Fatalf("after v3: %q", f)
	}
	// A version that changes nothing it gave before is unchanged, with no
	// conflict, though the CRM changed a field: base John = theirs John.
	if r := apply(t, s, outlookJeff("v4", "John", "Smyth", t0.Add(3*time.Hour)), PolicyNewest); r.Conflicts != 0 || r.Outcome != Unchanged {
		t.Fatalf("v4: %+v", r)
	}
}

// A record created by a pull has its upstream merge base in one row; a
// later pull gives fields never synced the base "" (fillUpstreamBase), but
// not those that row holds: a local edit of a field the server did not
// change is kept, with no conflict.
func TestPullBaseRowKeepsLocalEdit(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	id := "0a0b0c0d-0000-4000-8000-00000000abce"
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	if _, err := s.PullApply(ctx, crm.Contact, id, map[string]string{"lastname": "Pulled", "jobtitle": "Boss"}, `W/"3"`, t0, PolicyNewest); err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return t0.Add(2 * time.Hour) }
	set(t, s, id, map[string]string{"jobtitle": "Chief"})
	res, err := s.PullApply(ctx, crm.Contact, id, map[string]string{"lastname": "Pulled2", "jobtitle": "Boss", "department": "Sales"}, `W/"4"`, t0.Add(time.Hour), PolicyNewest)
	if err != nil {
		t.Fatal(err)
	}
	f := fields(t, s, id)
	if res.Conflicts != 0 || f["jobtitle"] != "Chief" || f["lastname"] != "Pulled2" || f["department"] != "Sales" {
		t.Fatalf("second pull: %+v, fields %q", res, f)
	}
}

// A new record's journal entry and outbox entry do not list its fields:
// the journal names the merge base row that holds them, the outbox entry
// stands for every field with a value. Push still sends the fields the
// record was created with, and one cleared since (as empty), and no other.
func TestCreationEntriesNameNoFields(t *testing.T) {
	s := openTest(t)
	in := contactIn("a", "Doe")
	in.Record.Fields["firstname"] = "Ann"
	in.Record.Fields["jobtitle"] = "Boss"
	in.Record.Fields["department"] = ""
	res := apply(t, s, in, PolicyNewest)
	var fieldsCol, created string
	if err := s.db.QueryRow(`SELECT fields FROM outbox WHERE record_id = ?`, res.ID).Scan(&fieldsCol); err != nil || fieldsCol != `["*"]` {
		t.Fatalf("outbox fields %q %v", fieldsCol, err)
	}
	if err := s.db.QueryRow(`SELECT new FROM journal WHERE record_id = ? AND field = '_created'`, res.ID).Scan(&created); err != nil || !strings.HasPrefix(created, "base:") {
		t.Fatalf("journal _created %q %v", created, err)
	}
	tx, err := s.Begin(context.Background())
	must(t, err)
	fs, err := tx.createdFields(created)
	tx.Rollback()
	if want := []string{"firstname", "jobtitle", "lastname"}; err != nil || !slices.Equal(fs, want) {
		t.Fatalf("created with %q %v, want %q", fs, err, want)
	}
	set(t, s, res.ID, map[string]string{"jobtitle": ""})
	c := pending(t, s, 10)
	want := map[string]string{"firstname": "Ann", "lastname": "Doe", "jobtitle": ""} // fullname: Dataverse derives it
	if len(c) != 1 || c[0].Op != OutboxCreate || !maps.Equal(c[0].Fields, want) {
		t.Fatalf("pending %+v, want a create of %q", c, want)
	}
}

// encodeBaseAll writes what encoding/json writes for the same map (an
// encoder without HTML escaping), so that either reads the other's rows.
func TestEncodeBaseAllIsJSON(t *testing.T) {
	for _, m := range []map[string]string{
		{},
		{"a": ""},
		{"lastname": "Doe", "firstname": "Ann", "_parties": `[{"r":1,"a":"x@y","n":"X <y>"}]`},
		{"d": "quote \" backslash \\ slash / <&> \b\f\n\r\t \x00\x01\x1f\x7f é 😀 \u2028\u2029 bad \xff\xfe end"},
	} {
		checkEncodeBaseAll(t, m)
	}
}

func checkEncodeBaseAll(t *testing.T, m map[string]string) {
	t.Helper()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		t.Fatal(err)
	}
	if got, want := encodeBaseAll(m), strings.TrimSuffix(b.String(), "\n"); got != want {
		t.Fatalf("encodeBaseAll(%q)\n got %s\nwant %s", m, got, want)
	}
}

func FuzzEncodeBaseAll(f *testing.F) {
	f.Add([]byte("k"), []byte("v \" \\ \x00 \xff \u2028"))
	f.Fuzz(func(t *testing.T, k, v []byte) {
		checkEncodeBaseAll(t, map[string]string{string(k): string(v), "z": string(k) + string(v)})
	})
}
