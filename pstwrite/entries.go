package pstwrite

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
)

// entrySpill keeps the B-tree leaf entries of the NDB (BBTENTRY 24 bytes,
// NBTENTRY 32, each keyed by its first 8 bytes) out of memory. Entries that come in increasing key
// order — every block (BIDs are handed out in order) and every message node
// (NIDs too) — are appended to a temporary file; the few that do not (the
// folders' nodes and tables, written at Close) stay in memory, and sorted
// reads merge the two. Memory is so bounded by the number of folders, not
// of items.
type entrySpill struct {
	tempFile
	w     *bufio.Writer
	size  int // bytes per entry
	count int
	last  uint64
	mem   []entry
}

// entry is one leaf entry; only its first size bytes are used.
type entry [32]byte

func newEntrySpill(dir string, size int) (*entrySpill, error) {
	t, err := createTemp(dir, ".pstwrite-entries-*")
	if err != nil {
		return nil, err
	}
	return &entrySpill{tempFile: t, w: bufio.NewWriterSize(t.f, 32<<10), size: size}, nil
}

func (s *entrySpill) add(e entry) error {
	key := binary.LittleEndian.Uint64(e[:])
	if s.count > 0 && key <= s.last {
		s.mem = append(s.mem, e)
		return nil
	}
	if _, err := s.w.Write(e[:s.size]); err != nil {
		return fmt.Errorf("spill entries: %w", err)
	}
	s.count++
	s.last = key
	return nil
}

// sorted yields every entry in key order. A key seen twice is an error.
func (s *entrySpill) sorted(yield func(e []byte) error) error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("spill entries: %w", err)
	}
	slices.SortFunc(s.mem, func(a, b entry) int {
		return cmp.Compare(binary.LittleEndian.Uint64(a[:]), binary.LittleEndian.Uint64(b[:]))
	})
	r := bufio.NewReaderSize(io.NewSectionReader(s.f, 0, int64(s.count*s.size)), 32<<10)
	var next entry
	have := false
	read := func() error {
		if _, err := io.ReadFull(r, next[:s.size]); err != nil {
			if err == io.EOF {
				have = false
				return nil
			}
			return fmt.Errorf("read spilled entries: %w", err)
		}
		have = true
		return nil
	}
	if err := read(); err != nil {
		return err
	}
	mem := s.mem
	first, prev := true, uint64(0)
	for have || len(mem) > 0 {
		var e entry
		if have && (len(mem) == 0 || binary.LittleEndian.Uint64(next[:]) < binary.LittleEndian.Uint64(mem[0][:])) {
			e = next
			if err := read(); err != nil {
				return err
			}
		} else {
			e, mem = mem[0], mem[1:]
		}
		key := binary.LittleEndian.Uint64(e[:])
		if !first && key == prev {
			return fmt.Errorf("pstwrite: B-tree key %#x twice", key)
		}
		first, prev = false, key
		if err := yield(e[:s.size]); err != nil {
			return err
		}
	}
	return nil
}

func (s *entrySpill) close() {
	if s != nil {
		s.remove()
	}
}

// btreeWriter writes a B-tree (MS-PST 2.2.2.7.7) bottom-up from entries
// given in key order: one page per level is being filled; a full page is
// written and its first key and BREF become an entry of the level above.
// Memory: one page per level. The tree is the one a bulk build gives:
// full pages, the last of each level partly filled.
type btreeWriter struct {
	n      *ndb
	ptype  byte
	levels []btLevel
	root   [2]uint64 // BID and offset of the last page written
}

type btLevel struct {
	page  [pageSize]byte
	cnt   int
	first uint64
}

func (b *btreeWriter) geometry(level int) (size, per int) {
	if level > 0 {
		return 24, btIntMax
	}
	if b.ptype == ptypeNBT {
		return 32, nbtLeafMax
	}
	return 24, bbtLeafMax
}

func (b *btreeWriter) add(level int, key uint64, e []byte) error {
	if level == len(b.levels) {
		b.levels = append(b.levels, btLevel{})
	}
	size, per := b.geometry(level)
	if b.levels[level].cnt == per {
		if err := b.flush(level, true); err != nil {
			return err
		}
	}
	l := &b.levels[level]
	if l.cnt == 0 {
		l.first = key
	}
	copy(l.page[size*l.cnt:], e)
	l.cnt++
	return nil
}

// flush writes the page being filled at level; up adds its entry to the
// level above.
func (b *btreeWriter) flush(level int, up bool) error {
	l := &b.levels[level]
	size, per := b.geometry(level)
	p := l.page[:]
	clear(p[size*l.cnt : btEntriesSize])
	p[btEntriesSize] = byte(l.cnt)
	p[btEntriesSize+1] = byte(per)
	p[btEntriesSize+2] = byte(size)
	p[btEntriesSize+3] = byte(level)
	clear(p[btEntriesSize+4 : pageDataSize])
	off, err := b.n.alloc(pageSize, pageSize)
	if err != nil {
		return err
	}
	pbid := b.n.nextPage
	b.n.nextPage++
	pageTrailer(p, b.ptype, computeSig(off, pbid), pbid)
	if err := b.n.writeRaw(p); err != nil {
		return err
	}
	first := l.first
	l.cnt = 0
	b.root = [2]uint64{pbid, off}
	if !up {
		return nil
	}
	var e [24]byte
	binary.LittleEndian.PutUint64(e[0:], first)
	binary.LittleEndian.PutUint64(e[8:], pbid)
	binary.LittleEndian.PutUint64(e[16:], off)
	return b.add(level+1, first, e[:])
}

// finish writes the pages still being filled and returns the root's BID
// and offset. An empty tree is one empty leaf page.
func (b *btreeWriter) finish() (bid, ib uint64, err error) {
	if len(b.levels) == 0 {
		b.levels = append(b.levels, btLevel{})
	}
	// Every level but the top has written a page when the level above
	// exists, and holds at least one entry (a full page is written only
	// when another entry comes): flushing it gives the top two entries or
	// more, so the top's page is the root.
	for level := 0; level < len(b.levels); level++ {
		top := level == len(b.levels)-1
		if err := b.flush(level, !top); err != nil {
			return 0, 0, err
		}
	}
	return b.root[0], b.root[1], nil
}
