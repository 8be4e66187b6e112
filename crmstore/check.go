package crmstore

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// CheckReport is what Check found. A store is sound when Problems is
// empty.
type CheckReport struct {
	Path      string   `json:"path"`
	Schema    int      `json:"schema_version"`
	Integrity string   `json:"integrity"` // "ok", or what integrity_check said
	Problems  []string `json:"problems"`
	// Notes say what the store holds less exactly than crmbridge now
	// records it (not problems: see notices).
	Notes []string `json:"notes"`
}

// Check runs the full check of the store at path, reading only: the
// header, SQLite's integrity_check (every page, b-tree and index entry),
// foreign keys, and crmbridge's own invariants: every outbox entry points
// at a record, every activity party and list member at a record or an
// address, the journal's sequence has no gaps, the tally status reads
// matches the rows, and each attachment content's chunks make it up. Unlike Open it reports a damaged store rather than
// refusing it; err is for a file it could not
// read at all. A sound store is recorded as verified (see Open).
func Check(ctx context.Context, path string) (*CheckReport, error) {
	rep := &CheckReport{Path: path, Problems: []string{}, Notes: []string{}}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("check %s: %w", path, err)
	}
	if _, err := checkHeader(path); err != nil {
		if IsDamaged(err) {
			rep.Integrity = err.Error()
			rep.Problems = append(rep.Problems, err.Error())
			return rep, nil
		}
		return nil, err
	}
	db, err := openDB("file:" + uriPathEscaper.Replace(path) + "?_pragma=busy_timeout(30000)")
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&rep.Schema); err != nil {
		rep.Integrity = err.Error()
		rep.Problems = append(rep.Problems, err.Error())
		return rep, nil
	}
	rep.Integrity = "ok"
	if err := pragmaCheck(ctx, db, path, "integrity_check"); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if de, ok := err.(*DamagedError); ok {
			rep.Integrity = de.Detail
		}
		rep.Problems = append(rep.Problems, "integrity_check: "+rep.Integrity)
		// The invariants below would read the same damaged pages.
		return rep, nil
	}
	for _, inv := range invariants {
		if rep.Schema < inv.since {
			continue // a rule over columns a later migration adds
		}
		rows, err := db.QueryContext(ctx, inv.query)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %v", inv.name, err))
			continue
		}
		n := 0
		for rows.Next() {
			var what string
			if err := rows.Scan(&what); err != nil {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %v", inv.name, err))
				break
			}
			if n++; n <= 20 {
				rep.Problems = append(rep.Problems, inv.name+": "+what)
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %v", inv.name, err))
		}
		if n > 20 {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %d more", inv.name, n-20))
		}
	}
	for _, n := range notices {
		var c int
		if err := db.QueryRowContext(ctx, n.query).Scan(&c); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %v", n.name, err))
			continue
		}
		if c > 0 {
			rep.Notes = append(rep.Notes, fmt.Sprintf(n.says, c))
		}
	}
	// Indexes a bulk import dropped (bulk.go) and has not built yet: not
	// a problem, the next write command builds them.
	if names, err := deferredNames(ctx, db); err == nil && len(names) > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d index(es) dropped by a bulk import that has not finished (%s): "+
			"list and short ids are slower until the next write command (or the import's end) builds them", len(names), strings.Join(names, ", ")))
	}
	var pending int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pendingaddr`).Scan(&pending); err == nil && pending > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d address(es) of activity parties or list members not yet resolved to contacts by a bulk import that has not finished: "+
			"the next write command resolves them", pending))
	}
	if len(rep.Problems) == 0 {
		db.Close()
		markVerified(path)
	}
	return rep, nil
}

// notices count what a store made by an older crmbridge holds less
// exactly (migrations 15 and 16 could not know it); each says so in one
// sentence with the count.
var notices = []struct{ name, query, says string }{
	{"guessed versions", `SELECT COUNT(*) FROM provenance WHERE version_guessed = 1 AND sequence IS NOT NULL`,
		"%d source item(s) imported before crmbridge recorded the iTIP version each gave: forget keeps their event's version (with a warning); import --force of their files records it"},
	{"replies of unknown source", `SELECT COUNT(*) FROM reply WHERE origin = ''`,
		"%d attendee repl(ies) imported before crmbridge recorded their source: forget keeps them (with a warning)"},
	{"parties known by name", `SELECT (SELECT COUNT(*) FROM activityparty WHERE COALESCE(contact_id, '') = '' AND address = '' AND ` + nameOnlyBefore22 + `)
			+ (SELECT COUNT(*) FROM listmember WHERE COALESCE(contact_id, '') = '' AND address = '' AND ` + nameOnlyBefore22 + `)`,
		"%d activity part(ies) or list member(s) known by a name only, as crmbridge before schema 22 stored an address it could not read: " +
			"the next write command (import, edit, push...) gives each its name as its address (migration 22); until then push cannot send their records"},
}

// nameOnlyBefore22 is the SQL condition of a party row (activityparty or
// listmember) with a name, in a store migration 22 has not repaired yet.
const nameOnlyBefore22 = `trim(name) != '' AND (SELECT user_version FROM pragma_user_version) < 22`

// invariants are crmbridge's own rules over the schema; each query yields
// one line per violation. A rule with since applies to stores at that
// schema version or later.
var invariants = []struct {
	name, query string
	since       int
}{
	{name: "foreign key", query: `SELECT "table" || ' row ' || rowid || ' -> ' || parent FROM pragma_foreign_key_check`},
	{name: "outbox entry without its record", query: `SELECT 'outbox ' || seq || ' (' || op || ' ' || record_id || ')' FROM outbox WHERE record_id NOT IN (SELECT id FROM record)`},
	// The party rule (crm.Party). A party known by a name only in a
	// store before migration 22 is not damage: that migration repairs it
	// (see notices).
	{name: "activity party without record or address", query: `SELECT 'activity ' || activity_id || ' party ' || ord FROM activityparty
		WHERE (COALESCE(contact_id, '') != '' AND contact_id NOT IN (SELECT id FROM record))
		   OR (COALESCE(contact_id, '') = '' AND address = '' AND NOT (` + nameOnlyBefore22 + `))`},
	{name: "list member without record or address", query: `SELECT 'list ' || list_id || ' member ' || ord FROM listmember
		WHERE (COALESCE(contact_id, '') != '' AND contact_id NOT IN (SELECT id FROM record))
		   OR (COALESCE(contact_id, '') = '' AND address = '' AND NOT (` + nameOnlyBefore22 + `))`},
	// Source keys (migration 24): the writer keeps a key on one row, and
	// each row's kh is its key's hash, or lookups miss it. Through
	// provenance_kh when built, by sorting the hashes when a bulk import
	// deferred it.
	{name: "source key recorded twice", query: `SELECT kind || ' ' || key || ': ' || COUNT(*) || ' rows' FROM provenance
		WHERE kh IN (SELECT kh FROM provenance GROUP BY kh HAVING COUNT(*) > 1) GROUP BY kh, kind, key HAVING COUNT(*) > 1`, since: 24},
	{name: "source key hash", query: `SELECT 'provenance ' || id || ' (' || kind || ' ' || key || ')' FROM provenance WHERE kh != ` + keyHashFunc + `(kind, key)`, since: 24},
	{name: "journal gap", query: `SELECT 'after seq ' || j.seq || ' next is ' || (SELECT MIN(seq) FROM journal WHERE seq > j.seq)
		FROM journal j WHERE j.seq < (SELECT MAX(seq) FROM journal) AND NOT EXISTS (SELECT 1 FROM journal k WHERE k.seq = j.seq + 1)`},
	// Attachment content (migration 20): a blob's chunks are numbered
	// from 0 without gaps and hold its size in bytes, at most chunkSize each.
	{name: "attachment content", query: `SELECT 'blob ' || b.sha256 || ': ' || b.size || ' bytes, chunks hold ' || COALESCE(c.bytes, 0) ||
			' in ' || COALESCE(c.k, 0) || ' numbered to ' || COALESCE(c.last, -1)
		FROM blob b LEFT JOIN (SELECT sha256, SUM(length(data)) AS bytes, COUNT(*) AS k, MAX(n) AS last, MIN(n) AS first,
			MAX(length(data)) AS big FROM blobchunk GROUP BY sha256) c ON c.sha256 = b.sha256
		WHERE COALESCE(c.bytes, 0) != b.size OR (c.k IS NOT NULL AND (c.first != 0 OR c.last != c.k - 1 OR c.big > ` + chunkSizeSQL + `))`},
	{name: "journal start", query: `SELECT 'first seq is ' || MIN(seq) FROM journal HAVING MIN(seq) != 1`},
	// The tally (migration 13) is what status reads instead of counting.
	{name: "tally", query: `WITH actual(name, n) AS (
			SELECT 'record:' || entity, COUNT(*) FROM record WHERE deleted = 0 GROUP BY entity
			UNION ALL SELECT 'source:' || kind, COUNT(*) FROM provenance GROUP BY kind
			UNION ALL SELECT 'outbox:' || state, COUNT(*) FROM outbox GROUP BY state
			UNION ALL SELECT 'attachment', COUNT(*) FROM attachment
			UNION ALL SELECT 'blob_bytes', COALESCE(SUM(size), 0) FROM blob),
		names(name) AS (SELECT name FROM actual UNION SELECT name FROM tally)
		SELECT names.name || ': counted ' || COALESCE(t.n, 0) || ', actual ' || COALESCE(a.n, 0)
		FROM names LEFT JOIN actual a ON a.name = names.name LEFT JOIN tally t ON t.name = names.name
		WHERE COALESCE(a.n, 0) != COALESCE(t.n, 0)`},
}
