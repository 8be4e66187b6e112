package pstwrite

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
)

// rowSpill keeps the contents-table rows of every folder in a temporary
// file until Close writes the tables: a folder's table is written once,
// with all its rows, and holding them in memory would make memory grow
// with the number of messages. In memory stay 8 bytes per row (its
// offset in the file).
type rowSpill struct {
	f    *os.File
	name string // still to remove at close (a system that cannot remove an open file)
	w    *bufio.Writer
	off  int64
	buf  []byte
}

// newRowSpill creates the spill file in dir (beside the PST being
// written); it is removed at once, so nothing is left behind whatever
// happens: the open descriptor keeps it until close.
func newRowSpill(dir string) (*rowSpill, error) {
	f, err := os.CreateTemp(dir, ".pstwrite-rows-*")
	if err != nil {
		return nil, err
	}
	s := &rowSpill{f: f, w: bufio.NewWriterSize(f, 64<<10)}
	if os.Remove(f.Name()) != nil {
		s.name = f.Name()
	}
	return s, nil
}

// put appends r and returns its offset. The encoding: row id, number of
// cells (uint32 each), then per cell its tag, length and value, cells by
// tag so that the same row is the same bytes.
func (s *rowSpill) put(r tcRow) (int64, error) {
	le := binary.LittleEndian
	b := s.buf[:0]
	b = le.AppendUint32(b, 0) // total length, set below
	b = le.AppendUint32(b, r.id)
	b = le.AppendUint32(b, uint32(len(r.cells)))
	tags := make([]uint32, 0, len(r.cells))
	for tag := range r.cells {
		tags = append(tags, tag)
	}
	slices.Sort(tags)
	for _, tag := range tags {
		v := r.cells[tag]
		b = le.AppendUint32(b, tag)
		b = le.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	le.PutUint32(b, uint32(len(b)))
	s.buf = b
	off := s.off
	if _, err := s.w.Write(b); err != nil {
		return 0, fmt.Errorf("spill rows: %w", err)
	}
	s.off += int64(len(b))
	return off, nil
}

// rows yields the rows at offs, in that order.
func (s *rowSpill) rows(offs []int64) func(yield func(tcRow) bool) error {
	return func(yield func(tcRow) bool) error {
		if err := s.w.Flush(); err != nil {
			return fmt.Errorf("spill rows: %w", err)
		}
		le := binary.LittleEndian
		var head [4]byte
		var b []byte
		for _, off := range offs {
			if _, err := s.f.ReadAt(head[:], off); err != nil {
				return fmt.Errorf("read spilled rows: %w", err)
			}
			n := int(le.Uint32(head[:]))
			if n < 12 {
				return fmt.Errorf("read spilled rows: bad record at %d", off)
			}
			b = slices.Grow(b[:0], n)[:n]
			if _, err := s.f.ReadAt(b, off); err != nil && err != io.EOF {
				return fmt.Errorf("read spilled rows: %w", err)
			}
			r := tcRow{id: le.Uint32(b[4:]), cells: map[uint32][]byte{}}
			cnt := int(le.Uint32(b[8:]))
			p := 12
			for range cnt {
				if p+8 > n {
					return fmt.Errorf("read spilled rows: bad record at %d", off)
				}
				tag, l := le.Uint32(b[p:]), int(le.Uint32(b[p+4:]))
				p += 8
				if p+l > n {
					return fmt.Errorf("read spilled rows: bad record at %d", off)
				}
				r.cells[tag] = b[p : p+l : p+l]
				p += l
			}
			if !yield(r) {
				return nil
			}
			b = nil // the cells share b: a new buffer for the next row
		}
		return nil
	}
}

func (s *rowSpill) close() {
	if s != nil {
		s.f.Close()
		if s.name != "" {
			os.Remove(s.name)
		}
	}
}
