package main

import (
	"database/sql"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"crmbridge/crmstore"
	"crmbridge/fixtures"
)

// storeIndexes returns the store's index definitions by name.
func storeIndexes(t *testing.T, db string) map[string]string {
	t.Helper()
	d, err := sql.Open("sqlite", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rows, err := d.Query(`SELECT name, COALESCE(sql, '') FROM sqlite_master WHERE type = 'index'`)
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

// identityKeys returns the store's identity keys (entity, key, hash) and
// source keys (kind, key, hash, rows) in order, and fails t when bulkkey
// or bulkprov is not empty.
func identityKeys(t *testing.T, db string) []string {
	t.Helper()
	d, err := sql.Open("sqlite", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var left int
	if err := d.QueryRow(`SELECT (SELECT COUNT(*) FROM bulkkey) + (SELECT COUNT(*) FROM bulkprov)`).Scan(&left); err != nil || left != 0 {
		t.Errorf("bulkkey, bulkprov: %d rows left, %v", left, err)
	}
	// Identity keys, and source keys (one row each, with the hash).
	rows, err := d.Query(`SELECT entity || ' ' || key || ' ' || h FROM recordkey
		UNION ALL SELECT 'source ' || kind || ' ' || key || ' ' || kh || ' rows ' || COUNT(*) FROM provenance GROUP BY kind, key ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		t.Error("no identity keys")
	}
	return out
}

func checkJSON(t *testing.T, db string) crmstore.CheckReport {
	t.Helper()
	r := runCLI(t, false, "--db", db, "check", "--json")
	var rep crmstore.CheckReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("check --json: %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	return rep
}

// A bulk import (indexes deferred at its start, built at its end) killed
// with SIGKILL at any moment leaves a store that readers answer from and
// the next run finishes: the same records, the same indexes, nothing left
// deferred, as an uninterrupted run.
func TestBulkKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	src := filepath.Join(t.TempDir(), "cards.vcf")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := fixtures.WriteVCards(f, 3000, 7); err != nil {
		t.Fatal(err)
	}
	f.Close()
	exe := buildCLI(t)
	cmd := func(db string) *exec.Cmd {
		return exec.Command(exe, "--db", db, "--quiet", "import", "--bulk", "on", "--batch", "100", src)
	}
	ref := filepath.Join(t.TempDir(), "ref.db")
	if out, err := cmd(ref).CombinedOutput(); err != nil {
		t.Fatalf("reference import: %v\n%s", err, out)
	}
	want := statusJSON(t, ref)
	wantIdx := storeIndexes(t, ref)
	for _, name := range []string{"contact_title", "record_tail", "recordkey_hash", "provenance_kh"} {
		if wantIdx[name] == "" {
			t.Fatalf("reference store lacks index %s", name)
		}
	}

	db := filepath.Join(t.TempDir(), "killed.db")
	deferredSeen := false
	for round := 0; round < 3; round++ {
		killWhenWritten(t, cmd(db), db, int64(round)*64<<10)
		// Readers answer from the killed store, without building.
		if r := runCLI(t, false, "--db", db, "list", "contacts", "--limit", "5"); r.code != 0 {
			t.Fatalf("list after kill: %d %s", r.code, r.stderr)
		}
		rep := checkJSON(t, db)
		if len(rep.Problems) != 0 {
			t.Fatalf("check after kill: %q", rep.Problems)
		}
		if strings.Contains(strings.Join(rep.Notes, " "), "contact_title") {
			deferredSeen = true
		}
	}
	if !deferredSeen {
		t.Log("no kill landed while the indexes were deferred")
	}
	if out, err := cmd(db).CombinedOutput(); err != nil {
		t.Fatalf("resumed import: %v\n%s", err, out)
	}
	got := statusJSON(t, db)
	for e, n := range want.Records {
		if got.Records[e] != n {
			t.Errorf("%s: %d after kill and resume, %d uninterrupted", e, got.Records[e], n)
		}
	}
	if got.Sources["vcf"] != want.Sources["vcf"] || got.Outbox.Pending != want.Outbox.Pending || got.JournalSeq != want.JournalSeq {
		t.Errorf("sources %d/%d outbox %d/%d journal %d/%d (resumed/uninterrupted)", got.Sources["vcf"], want.Sources["vcf"],
			got.Outbox.Pending, want.Outbox.Pending, got.JournalSeq, want.JournalSeq)
	}
	if k, w := identityKeys(t, db), identityKeys(t, ref); !reflect.DeepEqual(k, w) {
		t.Errorf("identity keys after resume: %d, uninterrupted %d (or they differ)", len(k), len(w))
	}
	if gotIdx := storeIndexes(t, db); !reflect.DeepEqual(gotIdx, wantIdx) {
		t.Errorf("indexes after resume:\n%q\nuninterrupted:\n%q", gotIdx, wantIdx)
	}
	if rep := checkJSON(t, db); len(rep.Problems) != 0 || len(rep.Notes) != 0 {
		t.Errorf("check after resume: %+v", rep)
	}
	if fi, err := os.Stat(db); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("store mode after resume: %v", err)
	}
}
