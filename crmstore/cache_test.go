package crmstore

import (
	"context"
	"strings"
	"testing"
)

func TestNextCacheSize(t *testing.T) {
	const big = 1 << 20 // pages: a store of 4 GiB, whose quarter is beyond maxCachePages
	tests := []struct {
		name                           string
		cur, storePages, reads, writes int64
		want                           int64
	}{
		{"first batch of a new store", 0, 84, 0, 0, firstCachePages},
		{"first batch of a large store", 0, big, 0, 0, firstCachePages},
		{"content written once, read little", 256, 4729, 600, 5172, 256},
		{"reads a quarter of what it wrote, not more", 256, big, 1000, 4000, 256},
		{"read more than a quarter of what it wrote", 256, big, 1001, 4000, 512},
		{"read-only batch reading a few pages", 256, big, 64, 0, 256},
		{"read-only batch reading more than a quarter of the cache", 256, big, 65, 0, 512},
		{"reads below a quarter of a larger cache", 1024, big, 256, 0, 1024},
		{"doubles once per batch", 512, big, 1e6, 1e6, 1024},
		{"bounded by a quarter of the store", 1024, 5000, 1e6, 1e6, 1250},
		{"a small store keeps minCachePages", 256, 100, 1e6, 1e6, minCachePages},
		{"bounded by maxCachePages", 2048, big, 1e6, 1e6, maxCachePages},
		{"does not shrink with a quiet batch", 2048, big, 0, 100, 2048},
		{"shrinks to the bound after the store shrank", 2048, 4000, 0, 0, 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := nextCacheSize(tc.cur, tc.storePages, tc.reads, tc.writes); got != tc.want {
				t.Errorf("nextCacheSize(%d, %d, %d, %d) = %d, want %d", tc.cur, tc.storePages, tc.reads, tc.writes, got, tc.want)
			}
		})
	}
}

// TestCacheIO checks the counters the rule reads: pages a connection wrote
// to the file and read back from it, each counted once.
func TestCacheIO(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cacheIO(conn) // what opening and migrating the store did
	row := strings.Repeat("x", 1000)
	// 2,000 rows of 1,000 bytes: about 500 pages of 4 KiB.
	if _, err := conn.ExecContext(ctx, `CREATE TABLE cachetest(v TEXT);
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2000)
		INSERT INTO cachetest SELECT ? || i FROM n`, row); err != nil {
		t.Fatal(err)
	}
	reads, writes := cacheIO(conn)
	if writes < 450 || reads > 50 {
		t.Errorf("after writing ~500 pages: reads %d, writes %d; want writes >= 450, few reads", reads, writes)
	}
	if r, w := cacheIO(conn); r != 0 || w != 0 {
		t.Errorf("counters not reset: reads %d, writes %d", r, w)
	}
	// A cache of 16 pages cannot keep them: scanning the table reads them
	// back from the file.
	var n int
	if err := conn.QueryRowContext(ctx, `PRAGMA cache_size = 16; SELECT 1`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM cachetest WHERE v LIKE '%9'`).Scan(&n); err != nil || n != 200 {
		t.Fatalf("scan: %d rows, %v", n, err)
	}
	reads, writes = cacheIO(conn)
	if reads < 450 || writes != 0 {
		t.Errorf("after scanning ~500 pages with a 16-page cache: reads %d, writes %d; want reads >= 450, no writes", reads, writes)
	}
}

// TestBeginSizesCache checks that a write transaction runs with the cache
// the rule gives, starting from firstCachePages on a new store.
func TestBeginSizesCache(t *testing.T) {
	s := openTest(t)
	tx, err := s.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var n int64
	if err := tx.tx.QueryRow(`PRAGMA cache_size`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != firstCachePages || s.cachePages.Load() != firstCachePages {
		t.Errorf("cache_size %d, store's %d; want %d", n, s.cachePages.Load(), firstCachePages)
	}
}
