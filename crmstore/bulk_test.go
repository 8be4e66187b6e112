package crmstore

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"crmbridge/crm"
)

// indexSQL returns every index of the store by name, with its SQL.
func indexSQL(t *testing.T, s *Store) map[string]string {
	t.Helper()
	rows, err := s.db.Query(`SELECT name, COALESCE(sql, '') FROM sqlite_master WHERE type = 'index'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var n, q string
		if err := rows.Scan(&n, &q); err != nil {
			t.Fatal(err)
		}
		out[n] = q
	}
	return out
}

func bulkContact(i int, name string) *crm.Incoming {
	return &crm.Incoming{
		Source: crm.SourceRef{Kind: "vcf", Key: fmt.Sprintf("c%d", i), Version: "1"},
		Record: crm.Record{Entity: crm.Contact, Fields: map[string]string{"fullname": name,
			"emailaddress1": fmt.Sprintf("p%d@example.com", i)}},
		Keys:       []string{fmt.Sprintf("email:p%d@example.com", i)},
		ModifiedAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

// Deferred indexes: dropped and recorded in one transaction; readers give
// the same answers without them; a read-only Open leaves them deferred;
// the next Open for writing builds them again, with the same definitions.
func TestDeferIndexes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "crm.db")
	opts := Options{Create: true, Write: true, LockTimeout: time.Second, Command: "test"}
	s, err := Open(ctx, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i, n := range []string{"Zoe Zed", "Adam Ant", "Mia Moe"} {
		ids = append(ids, apply(t, s, bulkContact(i, n), PolicyNewest).ID)
	}
	before := indexSQL(t, s)
	list, err := s.List(ctx, ListFilter{})
	if err != nil {
		t.Fatal(err)
	}

	n, err := s.DeferIndexes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(deferrableIndexes) {
		t.Errorf("deferred %d indexes, want %d", n, len(deferrableIndexes))
	}
	during := indexSQL(t, s)
	for _, name := range deferrableIndexes {
		if _, ok := during[name]; ok {
			t.Errorf("index %s still there", name)
		}
		if _, ok := before[name]; !ok {
			t.Errorf("index %s unknown to the schema", name)
		}
	}
	if got := count(t, s, `SELECT COUNT(*) FROM deferredindex`); got != len(deferrableIndexes) {
		t.Errorf("%d deferred indexes recorded, want %d", got, len(deferrableIndexes))
	}
	// A second call finds nothing more to drop and keeps the record.
	if n, err := s.DeferIndexes(ctx); err != nil || n != 0 {
		t.Errorf("second DeferIndexes: %d, %v", n, err)
	}
	// Writes and reads go on without the indexes.
	ids = append(ids, apply(t, s, bulkContact(3, "Bea Bee"), PolicyNewest).ID)
	got, err := s.List(ctx, ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(list)+1 || got[0].Title != "Adam Ant" || got[1].Title != "Bea Bee" || got[3].Title != "Zoe Zed" {
		t.Errorf("list without title indexes: %+v", got)
	}
	for _, id := range ids {
		v, err := s.Get(ctx, ShortID(id))
		if err != nil || v.ID != id {
			t.Errorf("get %s by short id: %v", ShortID(id), err)
		}
	}
	rep, err := Check(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 0 || !strings.Contains(strings.Join(rep.Notes, "\n"), "contact_title") {
		t.Errorf("check of a store with deferred indexes: problems %q, notes %q", rep.Problems, rep.Notes)
	}
	s.Close()

	// Readers do not build.
	r, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := count(t, r, `SELECT COUNT(*) FROM deferredindex`); got != len(deferrableIndexes) {
		t.Errorf("a reader's Open changed the deferred indexes: %d left", got)
	}
	r.Close()

	// The next writer does.
	w, err := Open(ctx, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if after := indexSQL(t, w); !reflect.DeepEqual(after, before) {
		t.Errorf("indexes after rebuild differ:\n%q\nwant\n%q", after, before)
	}
	if got := count(t, w, `SELECT COUNT(*) FROM deferredindex`); got != 0 {
		t.Errorf("%d deferred indexes left after a writer's Open", got)
	}
	if rep, err := Check(ctx, path); err != nil || len(rep.Problems) != 0 || len(rep.Notes) != 0 {
		t.Errorf("check after rebuild: %v %+v", err, rep)
	}
	var plan string
	if err := w.db.QueryRow(`EXPLAIN QUERY PLAN SELECT id FROM record WHERE substr(id, 25) >= 'a' AND substr(id, 25) < 'b'`).Scan(new(int), new(int), new(int), &plan); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "record_tail") {
		t.Errorf("short ids not looked up by record_tail after rebuild: %s", plan)
	}
}

// While the contact e-mail indexes are deferred, party addresses are
// recorded, not resolved; building the indexes resolves them against the
// contacts as they are then, also in the next writer after a kill.
func TestDeferredPartiesResolveAtBuild(t *testing.T) {
	ctx := context.Background()
	for _, killed := range []bool{false, true} {
		t.Run(fmt.Sprintf("killed=%v", killed), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "crm.db")
			opts := Options{Create: true, Write: true, LockTimeout: time.Second, Command: "test"}
			s, err := Open(ctx, path, opts)
			if err != nil {
				t.Fatal(err)
			}
			mail := &crm.Incoming{
				Source: crm.SourceRef{Kind: "eml", Key: "<m1@x>", Version: "1"},
				Record: crm.Record{Entity: crm.Email, Fields: map[string]string{"subject": "Hi"},
					Parties: []crm.Party{{Role: crm.RoleSender, Address: "Bob@Example.com", Name: "Bob"}, {Role: crm.RoleTo, Address: "ann@example.com"}}},
				Keys: []string{"msgid:m1@x"},
			}
			mid := apply(t, s, mail, PolicyNewest).ID
			parties := func(s *Store) []string {
				v, err := s.Get(ctx, mid)
				if err != nil {
					t.Fatal(err)
				}
				return []string{v.Parties[0].ContactID, v.Parties[1].ContactID}
			}
			early := bulkContact(1, "Ann Early")
			early.Record.Fields["emailaddress2"] = "ann@example.com"
			ann := apply(t, s, early, PolicyNewest).ID
			if got := parties(s); got[1] != ann {
				t.Fatalf("before the deferral: %q, want ann %s", got, ann)
			}
			if _, err := s.DeferIndexes(ctx); err != nil {
				t.Fatal(err)
			}
			bob := apply(t, s, &crm.Incoming{
				Source: crm.SourceRef{Kind: "vcf", Key: "bob", Version: "1"},
				Record: crm.Record{Entity: crm.Contact, Fields: map[string]string{"fullname": "Bob", "emailaddress2": "bob@example.COM"}},
				Keys:   []string{"email:bob@example.com"},
			}, PolicyNewest).ID
			// Ann's address moves to a new contact's primary address.
			ann2 := apply(t, s, &crm.Incoming{
				Source: crm.SourceRef{Kind: "vcf", Key: "ann2", Version: "1"},
				Record: crm.Record{Entity: crm.Contact, Fields: map[string]string{"fullname": "Ann Later", "emailaddress1": "ANN@example.com"}},
				Keys:   []string{"other:ann2"},
			}, PolicyNewest).ID
			if got := parties(s); got[0] != "" || got[1] != ann {
				t.Errorf("resolved while deferred: %q", got)
			}
			if n := count(t, s, `SELECT COUNT(*) FROM pendingaddr`); n != 2 {
				t.Errorf("%d addresses pending, want 2", n)
			}
			if rep, err := Check(ctx, path); err != nil || !strings.Contains(strings.Join(rep.Notes, " "), "2 address(es)") {
				t.Errorf("check while pending: %v %q", err, rep.Notes)
			}
			s = endBulkRun(t, s, path, opts, killed)
			defer s.Close()
			// Bob by his second address; Ann's by ann2, whose primary
			// address it is (ann has it second).
			want := []string{bob, ann2}
			if got := parties(s); !reflect.DeepEqual(got, want) {
				t.Errorf("parties after build: %q, want %q", got, want)
			}
			if n := count(t, s, `SELECT COUNT(*) FROM pendingaddr`); n != 0 {
				t.Errorf("%d addresses still pending", n)
			}
			if s.partiesDeferred.Load() {
				t.Error("parties still deferred after the build")
			}
			// Later commits resolve at once again.
			carl := apply(t, s, &crm.Incoming{
				Source: crm.SourceRef{Kind: "vcf", Key: "carl", Version: "1"},
				Record: crm.Record{Entity: crm.Contact, Fields: map[string]string{"fullname": "Carl", "emailaddress1": "carl@example.com"}},
				Keys:   []string{"email:carl@example.com"},
			}, PolicyNewest).ID
			m2 := apply(t, s, &crm.Incoming{
				Source: crm.SourceRef{Kind: "eml", Key: "<m2@x>", Version: "1"},
				Record: crm.Record{Entity: crm.Email, Fields: map[string]string{"subject": "Yo"},
					Parties: []crm.Party{{Role: crm.RoleSender, Address: "carl@example.com"}}},
				Keys: []string{"msgid:m2@x"},
			}, PolicyNewest).ID
			if v, err := s.Get(ctx, m2); err != nil || v.Parties[0].ContactID != carl {
				t.Errorf("after the build, a new party: %v %+v", err, v)
			}
		})
	}
}

// TestStatusNamesDeferredIndexes: status names the indexes a bulk import
// has dropped, as check does, from the drop until they are built again.
func TestStatusNamesDeferredIndexes(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "crm.db"), Options{Create: true, Write: true, LockTimeout: time.Second, Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	apply(t, s, bulkContact(0, "Ada Lovelace"), PolicyNewest)
	deferred := func() []string {
		t.Helper()
		st, err := s.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.DeferredIndexes
	}
	if got := deferred(); got == nil || len(got) != 0 {
		t.Fatalf("before a bulk import: deferred %q, want an empty list", got)
	}
	if _, err := s.DeferIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(slices.Values(deferrableIndexes))
	if got := deferred(); !slices.Equal(got, want) {
		t.Errorf("during a bulk import: deferred %q, want %q", got, want)
	}
	if err := s.BuildDeferred(ctx); err != nil {
		t.Fatal(err)
	}
	if got := deferred(); len(got) != 0 {
		t.Errorf("after the build: deferred %q, want none", got)
	}
}

// endBulkRun ends a bulk run on s, the store at path: as a killed process
// leaves it (closed without building, then opened again, which builds
// what is deferred), or as the import ends it (BuildDeferred). It returns
// the store to go on with.
func endBulkRun(t *testing.T, s *Store, path string, opts Options, killed bool) *Store {
	t.Helper()
	ctx := context.Background()
	if !killed {
		if err := s.BuildDeferred(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	s.Close()
	s, err := Open(ctx, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
