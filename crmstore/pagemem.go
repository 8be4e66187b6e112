package crmstore

import (
	"database/sql"
	"math/bits"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLite's page cache (pcache1) allocates each cached page as one block:
// the page (4,096 bytes) followed by its headers (PgHdr1, PgHdr and the
// b-tree's MemPage: about 250 bytes more). The default allocator behind
// modernc.org/sqlite (modernc.org/memory, through sqlite3MemMalloc, which
// adds an 8-byte size prefix) serves a block of that size from a
// power-of-two slot of 8 KiB, and both 4 KiB OS pages of the slot are
// touched, so every cached page costs 8 KiB of resident memory: the page
// cache, the largest C allocation of an import, is half waste.
//
// pageMemory closes that gap with SQLite's own hook for it,
// SQLITE_CONFIG_MALLOC (https://sqlite.org/c3ref/mem_methods.html): its
// methods serve requests of pageBlockMin..pageBlockSize bytes from
// fixed-size slots packed end to end in one mapping (pageArena), and hand
// every other request to the methods SQLite had (the default allocator),
// unchanged. A cached page then costs pageBlockSize bytes, 4.5 KiB, not 8.
//
// The methods must be installed before SQLite is initialised, which the
// first connection of the process does; installPageMemory is therefore
// called before every sql.Open of this package (openDB). When a
// connection was opened before (by another package), SQLite refuses the
// configuration and the default allocator stays: only memory is lost.
const (
	// pageBlockSize is a slot: a 4 KiB page and up to 512 bytes of
	// headers (SQLite 3.5x, 64-bit: 4,096 + 280).
	pageBlockSize = 4096 + 512
	// pageBlockMin is the smallest request a slot serves. Below it the
	// default allocator's 4 KiB slot is no worse (4,088 bytes and the
	// 8-byte prefix).
	pageBlockMin = 4096 - 8 + 1
	// pageArenaBytes is the address space reserved for slots: 58,254
	// pages, far above any cache crmbridge sets (maxCachePages per
	// connection). Only slots in use are backed by memory; when the
	// arena is full, requests go to the default allocator.
	pageArenaBytes = 256 << 20
	// pageTrimBytes: slots above the highest one in use are given back to
	// the system (madvise) once they span this much, not one by one, so
	// that a cache growing and shrinking around one size does not fault
	// pages in and out.
	pageTrimBytes = 1 << 20
)

// pageArena hands out pageBlockSize slots from one anonymous mapping,
// always the lowest free slot, so that the slots in use stay packed at
// the start. It is safe for concurrent use.
type pageArena struct {
	mem   []byte  // the mapping, fixed for the arena's life
	base  uintptr // &mem[0]
	slots int     // capacity

	mu    sync.Mutex
	used  []uint64 // bitmap of slots in use
	low   int      // no free slot in the words before used[low]
	hi    int      // slots [hi, slots) are free
	top   int      // slots [top, slots) are free and not resident
	inUse int
	peak  int
}

// newPageArena reserves address space for bytes/pageBlockSize slots. The
// mapping is MAP_NORESERVE: untouched slots cost no memory.
func newPageArena(bytes int) (*pageArena, error) {
	n := bytes / pageBlockSize
	m, err := unix.Mmap(-1, 0, n*pageBlockSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON|mapNoReserve)
	if err != nil {
		return nil, err
	}
	return &pageArena{mem: m, base: uintptr(unsafe.Pointer(&m[0])), slots: n, used: make([]uint64, (n+63)/64)}, nil
}

// close unmaps the arena; no slot may be in use.
func (a *pageArena) close() error {
	return unix.Munmap(a.mem)
}

// alloc returns a free slot, or 0 when there is none.
func (a *pageArena) alloc() uintptr {
	a.mu.Lock()
	defer a.mu.Unlock()
	for w := a.low; w < len(a.used); w++ {
		if a.used[w] == ^uint64(0) {
			continue
		}
		i := w*64 + bits.TrailingZeros64(^a.used[w])
		if i >= a.slots {
			break
		}
		a.low = w
		a.used[w] |= 1 << (i % 64)
		a.hi = max(a.hi, i+1)
		a.top = max(a.top, i+1)
		a.inUse++
		a.peak = max(a.peak, a.inUse)
		return a.base + uintptr(i)*pageBlockSize
	}
	a.low = len(a.used)
	return 0
}

// owns reports whether p is a slot of the arena.
func (a *pageArena) owns(p uintptr) bool {
	return p >= a.base && p < a.base+uintptr(a.slots)*pageBlockSize
}

// free returns slot p (owns(p) must hold).
func (a *pageArena) free(p uintptr) {
	i := int((p - a.base) / pageBlockSize)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.used[i/64] &^= 1 << (i % 64)
	a.low = min(a.low, i/64)
	a.inUse--
	if i == a.hi-1 {
		for a.hi > 0 && a.used[(a.hi-1)/64]&(1<<((a.hi-1)%64)) == 0 {
			a.hi--
		}
		a.trim()
	}
}

// trim gives the memory of the free slots above the highest one in use
// back to the system once they span pageTrimBytes.
func (a *pageArena) trim() {
	from := (a.hi*pageBlockSize + 4095) &^ 4095
	to := min((a.top*pageBlockSize+4095)&^4095, len(a.mem))
	if to-from < pageTrimBytes {
		return
	}
	if unix.Madvise(a.mem[from:to], unix.MADV_DONTNEED) != nil {
		return
	}
	a.top = a.hi
}

// stats returns the slots in use and the most ever in use.
func (a *pageArena) stats() (inUse, peak int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inUse, a.peak
}

// pageMem is the process's arena and the methods SQLite had before
// installPageMemory replaced them.
var pageMem struct {
	once  sync.Once
	arena *pageArena
	def   sqlite3.Tsqlite3_mem_methods
	ok    bool // SQLite accepted the methods
}

// installPageMemory installs the page-slot allocator as SQLite's memory
// methods, once per process, if SQLite is not initialised yet.
func installPageMemory() {
	pageMem.once.Do(func() {
		arena, err := newPageArena(pageArenaBytes)
		if err != nil {
			return
		}
		// The two methods tables (ours, and the one SQLite fills in with
		// its own) live in the arena's first slot, taken for good: SQLite
		// reads and writes them through C pointers, so they must not be
		// in Go memory.
		tables := arena.alloc()
		size := unsafe.Sizeof(sqlite3.Tsqlite3_mem_methods{})
		def := (*sqlite3.Tsqlite3_mem_methods)(unsafe.Pointer(&arena.mem[size]))
		m := (*sqlite3.Tsqlite3_mem_methods)(unsafe.Pointer(&arena.mem[0]))
		vaList := tables + 2*size
		tls := libc.NewTLS()
		defer tls.Close()
		if sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_GETMALLOC, libc.VaList(vaList, tables+size)) != sqlite3.SQLITE_OK {
			arena.close()
			return
		}
		pageMem.def = *def
		pageMem.arena = arena
		*m = *def
		m.FxMalloc = cFunc(memMalloc)
		m.FxFree = cFunc(memFree)
		m.FxRealloc = cFunc(memRealloc)
		m.FxSize = cFunc(memSize)
		m.FxRoundup = cFunc(memRoundup)
		// SQLITE_MISUSE when SQLite is initialised already: the default
		// allocator stays.
		if sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_MALLOC, libc.VaList(vaList, tables)) != sqlite3.SQLITE_OK {
			pageMem.arena = nil
			arena.close()
			return
		}
		pageMem.ok = true
	})
}

// cFunc returns f as a C function pointer for the transpiled SQLite, which
// calls a pointer p as *(*func(...))(unsafe.Pointer(&struct{ uintptr }{p})):
// p is the address of f's function value (https://golang.org/s/go11func),
// static for a top-level function.
func cFunc[T any](f T) uintptr {
	return *(*uintptr)(unsafe.Pointer(&struct{ f T }{f}))
}

// The methods. SQLite calls them with n > 0 and p != 0, and passes xRealloc
// a size xRoundup returned (https://sqlite.org/c3ref/mem_methods.html).

func memMalloc(tls *libc.TLS, n int32) uintptr {
	if n >= pageBlockMin && n <= pageBlockSize {
		if p := pageMem.arena.alloc(); p != 0 {
			return p
		}
	}
	return (*(*func(*libc.TLS, int32) uintptr)(unsafe.Pointer(&struct{ uintptr }{pageMem.def.FxMalloc})))(tls, n)
}

func memFree(tls *libc.TLS, p uintptr) {
	if pageMem.arena.owns(p) {
		pageMem.arena.free(p)
		return
	}
	(*(*func(*libc.TLS, uintptr))(unsafe.Pointer(&struct{ uintptr }{pageMem.def.FxFree})))(tls, p)
}

func memSize(tls *libc.TLS, p uintptr) int32 {
	if pageMem.arena.owns(p) {
		return pageBlockSize
	}
	return (*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{pageMem.def.FxSize})))(tls, p)
}

func memRoundup(tls *libc.TLS, n int32) int32 {
	if n >= pageBlockMin && n <= pageBlockSize {
		return pageBlockSize
	}
	return (*(*func(*libc.TLS, int32) int32)(unsafe.Pointer(&struct{ uintptr }{pageMem.def.FxRoundup})))(tls, n)
}

func memRealloc(tls *libc.TLS, p uintptr, n int32) uintptr {
	if !pageMem.arena.owns(p) {
		// A block of the default allocator stays one, whatever its new
		// size.
		return (*(*func(*libc.TLS, uintptr, int32) uintptr)(unsafe.Pointer(&struct{ uintptr }{pageMem.def.FxRealloc})))(tls, p, n)
	}
	if n >= pageBlockMin && n <= pageBlockSize {
		return p
	}
	q := (*(*func(*libc.TLS, int32) uintptr)(unsafe.Pointer(&struct{ uintptr }{pageMem.def.FxMalloc})))(tls, n)
	if q == 0 {
		return 0
	}
	libc.Xmemcpy(tls, q, p, libc.Tsize_t(min(n, pageBlockSize)))
	pageMem.arena.free(p)
	return q
}

// openDB opens an SQLite database (sql.Open) after installing the page
// memory methods, which only the process's first connection can do.
func openDB(dsn string) (*sql.DB, error) {
	installPageMemory()
	return sql.Open("sqlite", dsn)
}
