package bridge

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"crmbridge/crmstore"
	"crmbridge/fixtures"
)

// bulkInputs writes a generated VCF (n cards) and mbox (m messages, whose
// parties some cards' addresses resolve) into a folder.
func bulkInputs(t *testing.T, n, m int) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []struct {
		name  string
		write func(*os.File) error
	}{
		{"cards.vcf", func(f *os.File) error { return fixtures.WriteVCards(f, n, 1) }},
		{"mail.mbox", func(f *os.File) error { return fixtures.WriteMbox(f, m, 1) }},
	} {
		out, err := os.Create(filepath.Join(dir, f.name))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.write(out); err != nil {
			t.Fatal(err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Cards for the mail's senders, half read before the mail and half
	// after, so that parties resolve both ways.
	mbox, err := os.ReadFile(filepath.Join(dir, "mail.mbox"))
	if err != nil {
		t.Fatal(err)
	}
	var cards [2]strings.Builder
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^From: .*<([^>]+)>`).FindAllSubmatch(mbox, -1) {
		a := string(m[1])
		if seen[a] {
			continue
		}
		seen[a] = true
		fmt.Fprintf(&cards[len(seen)%2], "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Sender %d\r\nEMAIL:%s\r\nEND:VCARD\r\n", len(seen), a)
	}
	if len(seen) < 4 {
		t.Fatalf("%d senders in the generated mail", len(seen))
	}
	for i, name := range []string{"a-senders.vcf", "z-senders.vcf"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(cards[i].String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// listed is a store's listing without record ids (each store makes its
// own): entity, title, detail and time, sorted.
func listed(t *testing.T, s *crmstore.Store) []crmstore.Summary {
	t.Helper()
	l, err := s.List(context.Background(), crmstore.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range l {
		l[i].ID, l[i].ShortID = "", ""
	}
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.Entity != b.Entity {
			return a.Entity < b.Entity
		}
		if a.Title != b.Title {
			return a.Title < b.Title
		}
		return a.Detail+a.When < b.Detail+b.When
	})
	return l
}

// readsDuring checks, from the reporter, that while a bulk import runs
// its indexes are deferred and a reader's listing is still in title
// order.
type readsDuring struct {
	NopReporter
	t       *testing.T
	s       *crmstore.Store
	at      int
	checked bool
}

func (r *readsDuring) Progress(items int) {
	if items != r.at {
		return
	}
	r.checked = true
	ctx := context.Background()
	if names, err := r.s.DeferredIndexes(ctx); err != nil || !slices.Contains(names, "recordkey_hash") || !slices.Contains(names, "contact_title") {
		r.t.Errorf("mid-import: deferred indexes %q, %v", names, err)
	}
	l, err := r.s.List(ctx, crmstore.ListFilter{})
	if err != nil || len(l) == 0 {
		r.t.Fatalf("list mid-import: %d, %v", len(l), err)
	}
	for i := 1; i < len(l); i++ {
		if l[i-1].Entity == l[i].Entity && l[i-1].Title > l[i].Title {
			r.t.Fatalf("list mid-import out of order: %q before %q", l[i-1].Title, l[i].Title)
		}
	}
	if v, err := r.s.Get(ctx, l[len(l)-1].ShortID); err != nil || v.ID != l[len(l)-1].ID {
		r.t.Errorf("short id mid-import: %v", err)
	}
}

// A bulk import gives the store an import without it gives: the same
// records, parties resolved the same, the same indexes at the end; a
// re-import of the unchanged files does not defer the indexes again.
func TestBulkImportSameStore(t *testing.T) {
	dir := bulkInputs(t, 600, 150)
	ref := newStore(t)
	importPaths(t, ref, ImportOptions{Bulk: BulkOff, BatchSize: 100}, dir)
	if names, _ := ref.DeferredIndexes(context.Background()); len(names) != 0 {
		t.Fatalf("--bulk off deferred %q", names)
	}

	s := newStore(t)
	rd := &readsDuring{t: t, s: s, at: 350}
	if _, err := Import(context.Background(), s, []string{dir}, ImportOptions{Bulk: BulkOn, BatchSize: 100, Reporter: rd}); err != nil {
		t.Fatal(err)
	}
	if !rd.checked {
		t.Fatal("the reporter never saw item 350")
	}
	if names, err := s.DeferredIndexes(context.Background()); err != nil || len(names) != 0 {
		t.Fatalf("after a bulk import: deferred %q, %v", names, err)
	}
	want, got := status(t, ref), status(t, s)
	for e, n := range want.Records {
		if got.Records[e] != n {
			t.Errorf("%s: %d with bulk, %d without", e, got.Records[e], n)
		}
	}
	if got.JournalSeq != want.JournalSeq || got.Outbox.Pending != want.Outbox.Pending {
		t.Errorf("journal %d/%d outbox %d/%d (bulk/not)", got.JournalSeq, want.JournalSeq, got.Outbox.Pending, want.Outbox.Pending)
	}
	wl, gl := listed(t, ref), listed(t, s)
	if len(wl) != len(gl) {
		t.Fatalf("list: %d with bulk, %d without", len(gl), len(wl))
	}
	for i := range wl {
		if wl[i].Entity != gl[i].Entity || wl[i].Title != gl[i].Title || wl[i].Detail != gl[i].Detail || wl[i].When != gl[i].When {
			t.Fatalf("list entry %d: %+v with bulk, %+v without", i, gl[i], wl[i])
		}
	}
	// Each party's address and the contact it resolved to (by name: ids
	// differ between stores).
	resolved := func(s *crmstore.Store) (out []string) {
		db, err := sql.Open("sqlite", "file:"+s.Path()+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rows, err := db.Query(`SELECT lower(p.address) || ' -> ' || COALESCE(c.fullname, '-') FROM activityparty p
			LEFT JOIN contact c ON c.id = p.contact_id ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var r string
			rows.Scan(&r)
			out = append(out, r)
			if !strings.HasSuffix(r, " -> -") {
				n++
			}
		}
		if n == 0 {
			t.Fatal("no party resolved")
		}
		return out
	}
	if r, w := resolved(s), resolved(ref); !reflect.DeepEqual(r, w) {
		t.Errorf("resolved parties differ: %d with bulk, %d without", len(r), len(w))
	}

	// Unchanged: nothing read, nothing deferred (a reader's check shows).
	sum, _ := importPaths(t, s, ImportOptions{Bulk: BulkAuto}, dir)
	if sum.FilesUnchanged != 4 {
		t.Errorf("re-import: %d files unchanged, want 4", sum.FilesUnchanged)
	}
	if got2 := status(t, s); got2.JournalSeq != got.JournalSeq {
		t.Errorf("re-import changed the journal: %d -> %d", got.JournalSeq, got2.JournalSeq)
	}
}

// BulkAuto's rule: a large file new to the store, at least an eighth of
// it.
func TestBulkWorth(t *testing.T) {
	for _, c := range []struct {
		size, store int64
		known, want bool
	}{
		{49 << 20, 0, false, true},           // 100,000 cards into a fresh store
		{49 << 20, 280 << 20, false, true},   // the next 100,000
		{49 << 20, 280 << 20, true, false},   // the same file again (--force, or changed)
		{1 << 20, 0, false, false},           // small: its indexes fit the cache
		{49 << 20, 4000 << 20, false, false}, // a fraction of a large store
	} {
		if got := bulkWorth(c.size, c.store, c.known); got != c.want {
			t.Errorf("bulkWorth(%d, %d, %v) = %v, want %v", c.size, c.store, c.known, got, c.want)
		}
	}
}
