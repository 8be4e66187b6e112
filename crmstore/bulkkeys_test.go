package crmstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"crmbridge/crm"
)

// identityDump is what a store decided about identity, without its record
// ids (each store makes its own): each record by its sources, each
// identity key with the sources of its record, possible duplicates, series
// links, contact names and addresses, the journal's length.
func identityDump(t *testing.T, s *Store) []string {
	t.Helper()
	src := func(col string) string {
		return `COALESCE((SELECT group_concat(x, ',') FROM (SELECT p.kind || ':' || p.key AS x FROM provenance p WHERE p.record_id = ` + col + ` ORDER BY 1)), '-')`
	}
	var out []string
	for _, q := range []string{
		`SELECT 'record ' || r.entity || ' ' || r.deleted || ' ' || ` + src("r.id") + ` FROM record r`,
		`SELECT 'key ' || k.entity || ' ' || k.key || ' ' || k.h || ' -> ' || ` + src("k.record_id") + ` FROM recordkey k`,
		`SELECT 'dup ' || ` + src("d.a") + ` || ' ' || ` + src("d.b") + ` || ' ' || d.reason FROM duplicate d`,
		`SELECT 'series ' || ` + src("a.id") + ` || ' -> ' || ` + src("a.seriesid") + ` FROM activity a WHERE a.seriesid IS NOT NULL`,
		`SELECT 'contact ' || ` + src("c.id") + ` || ' ' || COALESCE(c.fullname, '') || ' ' || COALESCE(c.emailaddress1, '') FROM contact c`,
		`SELECT 'journal ' || COUNT(*) FROM journal`,
		`SELECT 'bulkkey ' || COUNT(*) FROM bulkkey`,
		// Source keys: each on one row, with its hash.
		`SELECT 'source ' || g.kind || ':' || g.key || ' ' || g.version || ' ' || g.kh || ' rows ' || g.n || ' -> ' || ` + src("g.rid") + `
			FROM (SELECT kind, key, MAX(version) AS version, MAX(kh) AS kh, COUNT(*) AS n, MIN(record_id) AS rid FROM provenance GROUP BY kind, key) g`,
		`SELECT 'bulkprov ' || COUNT(*) FROM bulkprov`,
	} {
		rows, err := s.db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
			var l string
			if err := rows.Scan(&l); err != nil {
				t.Fatal(err)
			}
			out = append(out, l)
		}
		rows.Close()
	}
	sort.Strings(out)
	return out
}

// keyContact is a contact from source c<i> named name with the identity
// keys email:<e> of each of emails.
func keyContact(i int, name string, emails ...string) *crm.Incoming {
	in := &crm.Incoming{
		Source: crm.SourceRef{Kind: "vcf", Key: fmt.Sprintf("c%d", i), Version: "1"},
		Record: crm.Record{Entity: crm.Contact, Fields: map[string]string{"fullname": name,
			"emailaddress1": emails[0]}},
		ModifiedAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for _, e := range emails {
		in.Keys = append(in.Keys, "email:"+e)
	}
	return in
}

func keyAppointment(key, uid, recurrence string) *crm.Incoming {
	f := map[string]string{"subject": "Meet " + key, "uid": uid,
		"scheduledstart": "2026-01-02T11:00:00Z", "scheduledend": "2026-01-02T12:00:00Z"}
	k := "uid:" + uid
	if recurrence != "" {
		f["recurrenceid"] = recurrence
		k += "#" + recurrence
	}
	return &crm.Incoming{
		Source: crm.SourceRef{Kind: "ics", Key: key, Version: "1"},
		Record: crm.Record{Entity: crm.Appointment, Fields: f},
		Keys:   []string{k},
	}
}

// keyBatch is one transaction of a keys test: its items, whether every
// item writes in a savepoint, whether it is rolled back.
type keyBatch struct {
	items    []*crm.Incoming
	careful  bool
	rollback bool
}

// keyRun is the items a bulk run applies, in batches: new contacts,
// contacts whose keys the store had before the run, keys this run gave in
// an earlier batch or in the same one, a name that disagrees (a second
// contact, a possible duplicate), a new version of an item, a rolled-back
// batch whose keys must not be found later, and an appointment exception
// read before its master.
func keyRun() []keyBatch {
	var b []keyBatch
	var news []*crm.Incoming
	for i := 5; i < 20; i++ {
		news = append(news, keyContact(i, fmt.Sprintf("Name %d", i), fmt.Sprintf("p%d@example.com", i)))
	}
	b = append(b, keyBatch{items: news[:8]}, keyBatch{items: news[8:]})
	b = append(b, keyBatch{items: []*crm.Incoming{
		keyContact(20, "Name 2", "p2@example.com"),                      // a key the store had: merged
		keyContact(21, "Name 7", "p7@example.com"),                      // a key of this run: merged
		keyContact(22, "Other Person", "p8@example.com"),                // names disagree: a second contact
		keyContact(23, "Name 9", "p30@example.com", "p9@example.com"),   // second key matches
		keyContact(24, "Name 24", "p24@example.com", "p24@example.com"), // one key twice
		keyContact(25, "Name 25", "p25@example.com"),
		keyContact(26, "Name 25", "p25@example.com"), // a key of this batch
		keyAppointment("u1#r1", "u1", "2026-01-02T10:00:00Z"),
	}})
	b = append(b, keyBatch{rollback: true, items: []*crm.Incoming{
		keyContact(40, "Name 40", "p40@example.com"),
		keyContact(41, "Name 41", "p41@example.com"),
	}})
	b = append(b, keyBatch{careful: true, items: []*crm.Incoming{
		keyContact(42, "Name 42", "p40@example.com"), // the rolled-back key: new
		keyContact(43, "Name 43", "p43@example.com"),
		keyContact(44, "Name 43", "p43@example.com"),
		keyContact(45, "Name 3", "p3@example.com"),
		keyAppointment("u1", "u1", ""),
	}})
	v2 := keyContact(5, "Name 5", "p5@example.com", "p50@example.com")
	v2.Source.Version = "2"
	b = append(b, keyBatch{items: []*crm.Incoming{v2,
		keyContact(46, "Name 5", "p50@example.com"), // a key the new version added
		keyContact(47, "Name 47", "p41@example.com"),
		keyContact(48, "Name 19", "p19@example.com"),
	}})
	// Source keys again (provenance_kh deferred too): items the store had
	// before the run, of an earlier batch, of this batch, of the
	// rolled-back batch (new), in a careful batch and not.
	pre1v2 := keyContact(1, "Name 1", "p1@example.com")
	pre1v2.Source.Version = "2"
	pre1v2.Record.Fields["jobtitle"] = "Chief"
	run6v2 := keyContact(6, "Name 6", "p6@example.com")
	run6v2.Source.Version = "2"
	run6v2.Record.Fields["jobtitle"] = "Chief"
	b = append(b, keyBatch{items: []*crm.Incoming{
		keyContact(0, "Name 0", "p0@example.com"), // unchanged, the store's
		pre1v2, // a new version of the store's
		keyContact(10, "Name 10", "p10@example.com"), // unchanged, this run's
		run6v2, // a new version of this run's
		keyContact(41, "Name 41", "p41@example.com"), // rolled back: new
		keyContact(49, "Name 49", "p49@example.com"),
		keyContact(49, "Name 49", "p49@example.com"), // this batch's, unchanged
	}})
	b = append(b, keyBatch{careful: true, items: []*crm.Incoming{
		keyContact(2, "Name 2", "p2@example.com"),
		keyContact(12, "Name 12", "p12@example.com"),
		keyContact(49, "Name 49", "p49@example.com"),
		keyContact(50, "Name 50", "p50b@example.com"),
		keyContact(50, "Name 50", "p50b@example.com"),
	}})
	return b
}

// applyKeyBatch applies b and returns each item's decision: its source,
// outcome and whether the store knew the source.
func applyKeyBatch(t *testing.T, s *Store, b keyBatch) []string {
	t.Helper()
	tx, err := s.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if b.careful {
		tx.Careful()
	}
	var out []string
	for _, in := range b.items {
		res, err := tx.Apply(in, PolicyNewest)
		if err != nil && !errors.Is(err, ErrConflict) {
			tx.Rollback()
			t.Fatalf("apply %s: %v", in.Source.Key, err)
		}
		out = append(out, fmt.Sprintf("%s v%s: %v known %v", in.Source.Key, in.Source.Version, res.Outcome, res.Known))
	}
	if b.rollback {
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return out
}

// withKeyHashMask makes keyHash keep only the bits of mask for the test:
// many keys share a hash.
func withKeyHashMask(t *testing.T, mask uint64) {
	old := keyHashMask
	keyHashMask = mask
	t.Cleanup(func() { keyHashMask = old })
}

// A bulk run defers recordkey_hash too and finds identity keys without
// it: the store's keys before the run (table bulkkey), this run's (in
// memory). Whatever the hashes (every key its own, or a few shared by
// all: lookups compare the keys), with or without the filter of the
// store's earlier keys, and whether the run ends or is killed (the next
// writer builds), the store ends as one that never deferred.
func TestBulkKeysSameStore(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		mask    uint64
		preMax  int
		killed  bool
		preKeys int
		maxKeys int64
	}{
		{"distinct", ^uint64(0), 1 << 20, false, 5, 0},
		{"distinct-killed", ^uint64(0), 1 << 20, true, 5, 0},
		{"fresh", ^uint64(0), 1 << 20, false, 0, 0},
		{"shared-low", 0x7, 1 << 20, false, 5, 0},
		{"shared-high", 0x7 << 61, 1 << 20, true, 5, 0},
		{"shared-nofilter", 0x3, 0, false, 5, 0},
		{"distinct-nofilter", ^uint64(0), 0, true, 5, 0},
		{"bounded", ^uint64(0), 1 << 20, false, 5, 10},
		{"bounded-shared", 0x7, 1 << 20, true, 5, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withKeyHashMask(t, tc.mask)
			old := bulkPreFilterMax
			bulkPreFilterMax = tc.preMax
			oldMax := bulkMaxKeys
			if tc.maxKeys > 0 {
				bulkMaxKeys = tc.maxKeys
			}
			t.Cleanup(func() { bulkPreFilterMax, bulkMaxKeys = old, oldMax })
			var pre []*crm.Incoming
			for i := 0; i < tc.preKeys; i++ {
				pre = append(pre, keyContact(i, fmt.Sprintf("Name %d", i), fmt.Sprintf("p%d@example.com", i)))
			}
			ref := openTest(t)
			applyKeyBatch(t, ref, keyBatch{items: pre})
			var refDecisions, decisions []string
			for _, b := range keyRun() {
				refDecisions = append(refDecisions, applyKeyBatch(t, ref, b)...)
			}

			path := filepath.Join(t.TempDir(), "crm.db")
			opts := Options{Create: true, Write: true, LockTimeout: time.Second, Command: "test"}
			s, err := Open(ctx, path, opts)
			if err != nil {
				t.Fatal(err)
			}
			applyKeyBatch(t, s, keyBatch{items: pre})
			if _, err := s.DeferIndexes(ctx); err != nil {
				t.Fatal(err)
			}
			if _, ok := indexSQL(t, s)["recordkey_hash"]; ok {
				t.Fatal("recordkey_hash not deferred")
			}
			if _, ok := indexSQL(t, s)["provenance_kh"]; ok {
				t.Fatal("provenance_kh not deferred")
			}
			if n := count(t, s, `SELECT COUNT(*) FROM bulkkey`); n != tc.preKeys {
				t.Errorf("bulkkey holds %d keys, want the store's %d", n, tc.preKeys)
			}
			if n := count(t, s, `SELECT COUNT(*) FROM bulkprov`); n != tc.preKeys {
				t.Errorf("bulkprov holds %d keys, want the store's %d", n, tc.preKeys)
			}
			for _, b := range keyRun() {
				decisions = append(decisions, applyKeyBatch(t, s, b)...)
			}
			for _, ix := range []string{"recordkey_hash", "provenance_kh"} {
				if _, ok := indexSQL(t, s)[ix]; ok != (tc.maxKeys > 0) {
					t.Errorf("%s built during the run: %v, want %v", ix, ok, tc.maxKeys > 0)
				}
			}
			if !reflect.DeepEqual(decisions, refDecisions) {
				t.Errorf("bulk decisions differ:\n%s\nwant\n%s", strings.Join(decisions, "\n"), strings.Join(refDecisions, "\n"))
			}
			s = endBulkRun(t, s, path, opts, tc.killed)
			defer s.Close()
			if got, want := indexSQL(t, s), indexSQL(t, ref); !reflect.DeepEqual(got, want) {
				t.Errorf("indexes after the run:\n%q\nwant\n%q", got, want)
			}
			got, want := identityDump(t, s), identityDump(t, ref)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("bulk store differs:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			// The run's decisions, so that the comparison is not of two
			// equally wrong stores.
			for _, l := range []string{
				"record contact 0 vcf:c2,vcf:c20",
				"record contact 0 vcf:c21,vcf:c7",
				"record contact 0 vcf:c22",
				"record contact 0 vcf:c23,vcf:c9",
				"record contact 0 vcf:c42",
				"record contact 0 vcf:c25,vcf:c26",
				"record contact 0 vcf:c43,vcf:c44",
				"record contact 0 vcf:c46,vcf:c5",
				"record contact 0 vcf:c47",
				"record contact 0 vcf:c19,vcf:c48",
				"series ics:u1#r1 -> ics:u1",
				"bulkkey 0",
				"bulkprov 0",
				"record contact 0 vcf:c41",
			} {
				// Without the store's c2, c20 comes first and c2 (in the
				// careful batch) merges into it: the same line.
				if !contains(got, l) {
					t.Errorf("bulk store lacks %q", l)
				}
			}
			for _, d := range []string{
				"c1 v2: updated known true", "c6 v2: updated known true",
				"c10 v1: unchanged known true", "c41 v1: created known false",
				"c49 v1: created known false", "c49 v1: unchanged known true",
				"c50 v1: created known false", "c50 v1: unchanged known true",
			} {
				if tc.preKeys == 0 && strings.HasPrefix(d, "c1 ") {
					d = "c1 v2: created known false"
				}
				if !contains(decisions, d) {
					t.Errorf("bulk decisions lack %q:\n%s", d, strings.Join(decisions, "\n"))
				}
			}
			if tc.preKeys > 0 && !contains(decisions, "c0 v1: unchanged known true") {
				t.Errorf("bulk decisions lack the store's unchanged c0:\n%s", strings.Join(decisions, "\n"))
			}
		})
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// bulkKeys finds every rowid added under its hash, among few others, and
// says whether the store's earlier keys may hold a hash by their upper 32
// bits.
func TestBulkKeysCandidates(t *testing.T) {
	b := &bulkKeys{base: 1000, next: 1000, pre: []uint32{7, 1 << 31}}
	r := rand.New(rand.NewSource(1))
	hs := make([]int64, 50000)
	for i := range hs {
		hs[i] = int64(r.Uint64())
		if i%100 == 1 {
			hs[i] = hs[i-1] // a shared hash
		}
		row, err := b.take()
		if err != nil {
			t.Fatal(err)
		}
		b.add(hs[i], row)
	}
	extra := 0
	for i, h := range hs {
		rows, _ := b.candidates(h, nil)
		if !slices.Contains(rows, int64(1000+i)) {
			t.Fatalf("hash %d: rowid %d not among %v", i, 1000+i, rows)
		}
		extra += len(rows) - 1
	}
	if extra > 2*len(hs)/100+10 {
		t.Errorf("%d candidates beyond the row looked for", extra)
	}
	for _, c := range []struct {
		h   int64
		pre bool
	}{{7 << 32, true}, {7<<32 | 0xffff, true}, {8 << 32, false}, {-1 << 63, true}, {-1, false}} {
		if _, pre := b.candidates(c.h, nil); pre != c.pre {
			t.Errorf("hash %#x: earlier keys may hold it: %v, want %v", uint64(c.h), pre, c.pre)
		}
	}
	// A rowid below the run's first (a source row the store freed and
	// SQLite gave again) or beyond an entry's 32 bits is found too.
	for _, r := range []int64{999, 1, 1000 + 1<<32} {
		b.add(hs[0], r)
		if rows, _ := b.candidates(hs[0], nil); !slices.Contains(rows, r) || !slices.Contains(rows, 1000) {
			t.Errorf("rowid %d under hash %#x: candidates %v", r, uint64(hs[0]), rows)
		}
	}
	b.next = b.base + 1<<32
	if _, err := b.take(); err == nil {
		t.Error("a run of 2^32 keys took one more")
	}
}

// What a bulk run holds to find keys is counted (BulkKeyBytes, which cmd's
// memory limit allows on top) while the run looks keys up, and no longer
// once it stops: at BuildDeferred, or when the store is closed.
func TestBulkKeyBytes(t *testing.T) {
	ctx := context.Background()
	for _, end := range []string{"build", "close"} {
		before := BulkKeyBytes()
		path := filepath.Join(t.TempDir(), "crm.db")
		s, err := Open(ctx, path, Options{Create: true, Write: true, LockTimeout: time.Second, Command: "test"})
		if err != nil {
			t.Fatal(err)
		}
		applyKeyBatch(t, s, keyBatch{items: []*crm.Incoming{keyContact(1, "Name 1", "p1@example.com")}})
		if _, err := s.DeferIndexes(ctx); err != nil {
			t.Fatal(err)
		}
		var items []*crm.Incoming
		for i := 2; i < 400; i++ {
			items = append(items, keyContact(i, fmt.Sprintf("Name %d", i), fmt.Sprintf("p%d@example.com", i)))
		}
		applyKeyBatch(t, s, keyBatch{items: items})
		// 4,096 buckets of each kind: their first 16 entries at least.
		// Every array the run holds, and nothing else.
		var want int64
		for _, bk := range []*bulkKeys{s.keys.Load(), s.provKeys.Load()} {
			for _, b := range bk.buckets {
				want += int64(cap(b)) * 8
			}
			want += int64(cap(bk.pre)) * 4
		}
		if held := BulkKeyBytes() - before; held != want || held == 0 {
			t.Errorf("%s: %d bytes counted during the run, the arrays hold %d", end, held, want)
		}
		if end == "build" {
			if err := s.BuildDeferred(ctx); err != nil {
				t.Fatal(err)
			}
			if held := BulkKeyBytes() - before; held != 0 {
				t.Errorf("%d bytes held after BuildDeferred", held)
			}
		}
		s.Close()
		if held := BulkKeyBytes() - before; held != 0 {
			t.Errorf("%s: %d bytes held after Close", end, held)
		}
	}
}
