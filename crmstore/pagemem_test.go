package crmstore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
	"modernc.org/libc"
)

// TestPageArena: slots are handed out lowest first, packed pageBlockSize
// apart, reused after free, and none is given when all are in use.
func TestPageArena(t *testing.T) {
	a, err := newPageArena(10 * pageBlockSize)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	slot := func(p uintptr) int {
		t.Helper()
		if !a.owns(p) {
			t.Fatalf("%#x is not a slot of the arena", p)
		}
		return int((p - a.base) / pageBlockSize)
	}
	var ps []uintptr
	for i := range 10 {
		p := a.alloc()
		if got := slot(p); got != i {
			t.Fatalf("alloc %d: slot %d, want %d", i, got, i)
		}
		ps = append(ps, p)
	}
	if p := a.alloc(); p != 0 {
		t.Fatalf("full arena: alloc = slot %d, want none", slot(p))
	}
	a.free(ps[7])
	a.free(ps[3])
	if got := slot(a.alloc()); got != 3 {
		t.Errorf("after freeing 7 and 3: slot %d, want 3", got)
	}
	if got := slot(a.alloc()); got != 7 {
		t.Errorf("then: slot %d, want 7", got)
	}
	if inUse, peak := a.stats(); inUse != 10 || peak != 10 {
		t.Errorf("stats = %d in use, peak %d; want 10, 10", inUse, peak)
	}
	for _, p := range []uintptr{a.base - 1, a.base + 10*pageBlockSize, 0} {
		if a.owns(p) {
			t.Errorf("owns(%#x) outside the arena [%#x, %#x)", p, a.base, a.base+10*pageBlockSize)
		}
	}
}

// TestPageArenaTrim: the memory of unused slots at the top goes back to
// the system once they span pageTrimBytes, and not before.
func TestPageArenaTrim(t *testing.T) {
	n := 3 * pageTrimBytes / pageBlockSize
	a, err := newPageArena(n * pageBlockSize)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	resident := func() int {
		t.Helper()
		vec := make([]byte, (len(a.mem)+4095)/4096)
		// mincore(2): bit 0 of each byte says whether the page is resident.
		if _, _, e := unix.Syscall(unix.SYS_MINCORE, a.base, uintptr(len(a.mem)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
			t.Fatal(e)
		}
		r := 0
		for _, v := range vec {
			r += int(v & 1)
		}
		return r * 4096
	}
	ps := make([]uintptr, n)
	for i := range ps {
		ps[i] = a.alloc()
		clear(a.mem[ps[i]-a.base : ps[i]-a.base+pageBlockSize]) // touch
		a.mem[ps[i]-a.base] = 1
	}
	all := resident()
	if all < n*pageBlockSize-4096 {
		t.Fatalf("%d slots touched, %d bytes resident", n, all)
	}
	// Freeing slots below the top gives nothing back.
	for i := range n / 2 {
		a.free(ps[i])
	}
	if r := resident(); r != all {
		t.Errorf("free below the top: %d bytes resident, want %d", r, all)
	}
	// Freeing the top one by one: nothing until pageTrimBytes are free
	// above the highest slot in use, then those.
	k := n - 1
	for ; (n-k)*pageBlockSize < pageTrimBytes-pageBlockSize; k-- {
		a.free(ps[k])
		if r := resident(); r != all {
			t.Fatalf("%d slots free at the top: %d bytes resident, want %d", n-k, r, all)
		}
	}
	for ; resident() == all && k >= n/2; k-- {
		a.free(ps[k])
	}
	if r := resident(); r > all-pageTrimBytes+4096 || r < k*pageBlockSize {
		t.Errorf("%d of %d slots in use: %d bytes resident, want about %d", k+1, n, r, (k+1)*pageBlockSize)
	}
	// Slots given back are handed out again, zeroed.
	for p := a.alloc(); p != 0; p = a.alloc() {
		if p == ps[n-1] {
			if a.mem[p-a.base] != 0 {
				t.Errorf("slot %d given back and out again holds %d, want 0", n-1, a.mem[p-a.base])
			}
			return
		}
	}
	t.Errorf("slot %d was not handed out again", n-1)
}

// TestPageMemMethods: the methods SQLite calls serve page-sized requests
// from the arena and every other from the default allocator, and
// realloc moves the content between the two.
func TestPageMemMethods(t *testing.T) {
	openTestStore(t) // installs the methods
	if !pageMem.ok {
		t.Fatal("the page memory methods are not installed")
	}
	tls := libc.NewTLS()
	defer tls.Close()
	// A scratch buffer outside the Go heap: libc copies into it.
	scratch, err := unix.Mmap(-1, 0, 8192, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(scratch)
	sp := uintptr(unsafe.Pointer(&scratch[0]))
	fill := func(p uintptr, n int) {
		for i := range n {
			scratch[i] = byte(i * 7)
		}
		libc.Xmemcpy(tls, p, sp, libc.Tsize_t(n))
	}
	check := func(what string, p uintptr, n int) {
		t.Helper()
		clear(scratch)
		libc.Xmemcpy(tls, sp, p, libc.Tsize_t(n))
		for i := range n {
			if scratch[i] != byte(i*7) {
				t.Fatalf("%s: byte %d = %d, want %d", what, i, scratch[i], byte(i*7))
			}
		}
	}
	for _, tc := range []struct {
		n     int32
		arena bool
		size  int32
	}{
		{1, false, 1}, {100, false, 100}, {4088, false, 4088},
		{4089, true, pageBlockSize}, {4096, true, pageBlockSize}, {4096 + 280, true, pageBlockSize}, {pageBlockSize, true, pageBlockSize},
		{pageBlockSize + 1, false, pageBlockSize + 1}, {65536, false, 65536},
	} {
		p := memMalloc(tls, tc.n)
		if p == 0 {
			t.Fatalf("malloc(%d) failed", tc.n)
		}
		if got := pageMem.arena.owns(p); got != tc.arena {
			t.Errorf("malloc(%d): in the arena %v, want %v", tc.n, got, tc.arena)
		}
		if got := memSize(tls, p); got < tc.size {
			t.Errorf("size(malloc(%d)) = %d, want at least %d", tc.n, got, tc.size)
		}
		if r := memRoundup(tls, tc.n); tc.arena && r != pageBlockSize || r < tc.n {
			t.Errorf("roundup(%d) = %d", tc.n, r)
		}
		memFree(tls, p)
	}

	// arena -> arena: in place.
	p := memMalloc(tls, 4200)
	fill(p, 4200)
	if q := memRealloc(tls, p, pageBlockSize); q != p {
		t.Errorf("realloc within a slot moved the block")
	}
	// arena -> default: copied, the slot freed.
	inUse, _ := pageMem.arena.stats()
	q := memRealloc(tls, p, 6000)
	if q == 0 || pageMem.arena.owns(q) {
		t.Fatalf("realloc to 6000: %#x", q)
	}
	check("arena -> 6000", q, 4200)
	if now, _ := pageMem.arena.stats(); now != inUse-1 {
		t.Errorf("realloc out of the arena: %d slots in use, want %d", now, inUse-1)
	}
	// arena -> smaller: copied up to the new size.
	p = memMalloc(tls, 4200)
	fill(p, 4200)
	q = memRealloc(tls, p, 1000)
	if pageMem.arena.owns(q) {
		t.Fatal("realloc to 1000 stayed in the arena")
	}
	check("arena -> 1000", q, 1000)
	// default -> page size: stays with the default allocator.
	r := memRealloc(tls, q, 4200)
	if r == 0 || pageMem.arena.owns(r) {
		t.Fatalf("realloc of a default block to 4200: %#x", r)
	}
	check("1000 -> 4200", r, 1000)
	memFree(tls, r)
}

// TestPageCacheInArena: the pages SQLite caches for a store are arena
// slots, about 4.5 KiB each.
func TestPageCacheInArena(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	if !pageMem.ok {
		t.Fatal("the page memory methods are not installed")
	}
	// A table of some 400 pages, then a scan of it with a cache that can
	// hold it all.
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE pagemem_t(x TEXT)`); err != nil {
		t.Fatal(err)
	}
	row := strings.Repeat("x", 3000)
	for range 400 {
		if _, err := s.db.ExecContext(ctx, `INSERT INTO pagemem_t VALUES (?)`, row); err != nil {
			t.Fatal(err)
		}
	}
	// Two connections: the one that wrote has the pages in its cache;
	// the second starts empty.
	writer, err := s.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	before, _ := pageMem.arena.stats()
	if _, err := conn.ExecContext(ctx, `PRAGMA cache_size = 1000`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM pagemem_t WHERE x != ''`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	after, _ := pageMem.arena.stats()
	if after-before < 300 {
		t.Errorf("scanning 400 pages added %d arena slots (%d -> %d), want at least 300", after-before, before, after)
	}
}

func openTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "crm.db"), Options{Create: true, Write: true, LockTimeout: time.Second, Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
