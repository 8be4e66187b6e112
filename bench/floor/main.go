// Command floor measures what SQLite itself costs for a store crmbridge
// wrote, with none of crmbridge's work: no parsing, no merging, no
// bookkeeping. It is make bench's yardstick for the import and export
// goals, which are stated against gzip: when the floor alone is above a
// goal, the goal cannot be met by this design (an SQLite store written
// through modernc.org/sqlite), whatever crmbridge does.
//
//	floor -write STORE    copy every row of STORE, held in memory, into a
//	                      fresh file: one transaction, 16 rows per INSERT,
//	                      the indexes built at the end (the cheapest order)
//	floor -read STORE     read the columns an --all --vcf export needs
//	                      (contact and record) in two full scans, a
//	                      contact's 54 columns packed into one text
//
// It prints "wall rss user sys" of the measured phase alone (seconds,
// KiB, seconds, seconds; rss is 0), the format bench.sh's measure writes,
// to the file named by -o, and a table per table on stderr.
package main

import (
	"database/sql"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "modernc.org/sqlite"
)

func main() {
	write := flag.String("write", "", "store whose rows to write again")
	read := flag.String("read", "", "store whose contacts to read")
	out := flag.String("o", "", `file to append "wall 0 user sys" to`)
	flag.Parse()
	var m phase
	var err error
	switch {
	case *write != "":
		m, err = writeFloor(*write)
	case *read != "":
		m, err = readFloor(*read)
	default:
		err = fmt.Errorf("give -write STORE or -read STORE")
	}
	if err != nil {
		log.Fatalf("floor: %v", err)
	}
	line := fmt.Sprintf("%.2f 0 %.2f %.2f\n", m.wall.Seconds(), m.user.Seconds(), m.sys.Seconds())
	if *out == "" {
		fmt.Print(line)
		return
	}
	f, err := os.OpenFile(*out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err == nil {
		_, err = f.WriteString(line)
		err = joinClose(err, f)
	}
	if err != nil {
		log.Fatalf("floor: %v", err)
	}
}

func joinClose(err error, f *os.File) error {
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// phase is the wall and CPU time of what is measured.
type phase struct{ wall, user, sys time.Duration }

// clock accumulates phases: start, then stop adds the time since start.
type clock struct {
	phase
	t0     time.Time
	u0, s0 time.Duration
}

func cpu() (user, sys time.Duration) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

func (c *clock) start() { c.t0 = time.Now(); c.u0, c.s0 = cpu() }

func (c *clock) stop() {
	u, s := cpu()
	c.wall += time.Since(c.t0)
	c.user += u - c.u0
	c.sys += s - c.s0
}

func openRO(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// writeFloor copies src's tables, one at a time: it reads a table into
// memory (not measured), then inserts it (measured); the commit, the
// indexes and the checkpoint are measured too. The copy is a fresh file
// in a new directory beside nothing, removed at the end, with crmbridge's
// own journal settings (WAL, synchronous NORMAL).
func writeFloor(src string) (phase, error) {
	var c clock
	s, err := openRO(src)
	if err != nil {
		return c.phase, err
	}
	defer s.Close()
	dir, err := os.MkdirTemp("", "floor")
	if err != nil {
		return c.phase, err
	}
	defer os.RemoveAll(dir)
	dst := filepath.Join(dir, "copy.db")
	d, err := sql.Open("sqlite", "file:"+dst+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(OFF)")
	if err != nil {
		return c.phase, fmt.Errorf("open %s: %w", dst, err)
	}
	defer d.Close()
	d.SetMaxOpenConns(1)
	tables, indexes, err := schema(s)
	if err != nil {
		return c.phase, err
	}
	for _, t := range tables {
		if _, err := d.Exec(t.sql); err != nil {
			return c.phase, fmt.Errorf("create %s: %w", t.name, err)
		}
	}
	tx, err := d.Begin()
	if err != nil {
		return c.phase, err
	}
	defer tx.Rollback()
	for _, t := range tables {
		rows, ncol, err := readTable(s, t.name)
		if err != nil {
			return c.phase, err
		}
		if len(rows) == 0 {
			continue
		}
		per := max(1, min(16, 32000/ncol)) // SQLite's limit on bound values
		one := "(" + strings.TrimSuffix(strings.Repeat("?,", ncol), ",") + ")"
		before := c.wall
		c.start()
		for i := 0; i < len(rows); i += per {
			j := min(i+per, len(rows))
			q := `INSERT INTO "` + t.name + `" VALUES ` + strings.TrimSuffix(strings.Repeat(one+",", j-i), ",")
			args := make([]any, 0, (j-i)*ncol)
			for _, r := range rows[i:j] {
				args = append(args, r...)
			}
			if _, err := tx.Exec(q, args...); err != nil {
				return c.phase, fmt.Errorf("insert into %s: %w", t.name, err)
			}
		}
		c.stop()
		fmt.Fprintf(os.Stderr, "floor: %-16s %8d rows %6.2f s\n", t.name, len(rows), (c.wall - before).Seconds())
	}
	before := c.wall
	c.start()
	for _, q := range indexes {
		if _, err := tx.Exec(q); err != nil {
			return c.phase, fmt.Errorf("%s: %w", q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return c.phase, err
	}
	if _, err := d.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return c.phase, err
	}
	c.stop()
	fmt.Fprintf(os.Stderr, "floor: indexes, commit, checkpoint %6.2f s\n", (c.wall - before).Seconds())
	return c.phase, nil
}

type table struct{ name, sql string }

// schema returns src's tables and CREATE INDEX statements, SQLite's own
// (sqlite_*) left out: the copy's autoindexes come with its tables.
func schema(s *sql.DB) ([]table, []string, error) {
	rows, err := s.Query(`SELECT type, name, sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND type IN ('table', 'index') ORDER BY rowid`)
	if err != nil {
		return nil, nil, fmt.Errorf("read schema: %w", err)
	}
	defer rows.Close()
	var tables []table
	var indexes []string
	for rows.Next() {
		var typ, name, q string
		if err := rows.Scan(&typ, &name, &q); err != nil {
			return nil, nil, err
		}
		if typ == "table" {
			tables = append(tables, table{name, q})
		} else {
			indexes = append(indexes, q)
		}
	}
	return tables, indexes, rows.Err()
}

// readTable returns every row of table name as driver values.
func readTable(s *sql.DB, name string) ([][]any, int, error) {
	rows, err := s.Query(`SELECT * FROM "` + name + `"`)
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", name, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, 0, err
	}
	var all [][]any
	for rows.Next() {
		v := make([]any, len(cols))
		p := make([]any, len(cols))
		for i := range v {
			p[i] = &v[i]
		}
		if err := rows.Scan(p...); err != nil {
			return nil, 0, fmt.Errorf("read %s: %w", name, err)
		}
		all = append(all, v)
	}
	return all, len(cols), rows.Err()
}

// readFloor scans the contact and record tables in full, as cheaply as
// database/sql allows: the contact's columns packed into one text by
// concat (as crmstore's GetBatch reads them), the bytes not copied
// (sql.RawBytes). An export also looks each record up by id, encodes and
// writes: none of that is here.
func readFloor(src string) (phase, error) {
	var c clock
	s, err := openRO(src)
	if err != nil {
		return c.phase, err
	}
	defer s.Close()
	s.SetMaxOpenConns(1)
	var cols []string
	rows, err := s.Query(`SELECT name FROM pragma_table_info('contact') WHERE name != 'id' ORDER BY cid`)
	if err != nil {
		return c.phase, err
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return c.phase, err
		}
		cols = append(cols, `"`+n+`"`)
	}
	if err := rows.Err(); err != nil {
		return c.phase, err
	}
	rows.Close()
	var qs []string
	for len(cols) > 0 { // concat takes at most 127 arguments before SQLite 3.48
		g := cols[:min(len(cols), 60)]
		cols = cols[len(g):]
		qs = append(qs, "concat("+strings.Join(g, ", char(0), ")+")")
	}
	c.start()
	for _, q := range []string{
		"SELECT id, " + strings.Join(qs, ", ") + " FROM contact",
		"SELECT id, entity, created_at, modified_at, deleted FROM record",
	} {
		n, err := scanAll(s, q)
		if err != nil {
			return c.phase, err
		}
		fmt.Fprintf(os.Stderr, "floor: %d rows: %.60s\n", n, q)
	}
	c.stop()
	return c.phase, nil
}

func scanAll(s *sql.DB, q string) (int, error) {
	rows, err := s.Query(q)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	v := make([]sql.RawBytes, len(cols))
	p := make([]any, len(cols))
	for i := range v {
		p[i] = &v[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(p...); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}
