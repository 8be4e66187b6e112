package pstwrite

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
)

// rowSpill keeps the contents-table rows of every folder in a temporary
// file until Close writes the tables: a folder's table is written once,
// with all its rows, and holding them in memory would make memory grow
// with the number of messages. The rows of one folder are a chain: each
// record holds the offset of the next row of its folder, filled in when
// that row comes, so a folder needs only its first and last offsets.
type rowSpill struct {
	tempFile
	buf  []byte // records not yet written, from file offset base
	base int64
	enc  []byte
}

const spillBuf = 64 << 10

// tempFile is a spill file in the directory of the PST being written. It
// is removed at once, so nothing is left behind whatever happens (the open
// descriptor keeps it until remove); where the system cannot remove an
// open file, remove does.
type tempFile struct {
	f    *os.File
	name string // still to remove (a system that cannot remove an open file)
}

func createTemp(dir, pattern string) (tempFile, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return tempFile{}, err
	}
	t := tempFile{f: f}
	if os.Remove(f.Name()) != nil {
		t.name = f.Name()
	}
	return t, nil
}

// remove closes the file and removes it if it is still there.
func (t tempFile) remove() {
	t.f.Close()
	if t.name != "" {
		os.Remove(t.name)
	}
}

// newRowSpill creates the spill file in dir (beside the PST being
// written).
func newRowSpill(dir string) (*rowSpill, error) {
	t, err := createTemp(dir, ".pstwrite-rows-*")
	if err != nil {
		return nil, err
	}
	return &rowSpill{tempFile: t, buf: make([]byte, 0, spillBuf)}, nil
}

// Record layout: total length (uint32), offset of the folder's next row
// (int64, -1 for none yet), row id, number of cells (uint32 each), then per
// cell its tag, length and value, cells by tag so that the same row is the
// same bytes.
const spillHead = 4 + 8 + 4 + 4

// put appends r after the row at prev (-1 when r is its folder's first)
// and returns r's offset.
func (s *rowSpill) put(r tcRow, prev int64) (int64, error) {
	le := binary.LittleEndian
	b := s.enc[:0]
	b = le.AppendUint32(b, 0) // total length, set below
	b = le.AppendUint64(b, ^uint64(0))
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
	s.enc = b
	off := s.base + int64(len(s.buf))
	if prev >= 0 {
		// Link the previous row of the folder to this one: in the buffer,
		// or in the file when already written.
		if prev >= s.base {
			le.PutUint64(s.buf[prev-s.base+4:], uint64(off))
		} else if _, err := s.f.WriteAt(le.AppendUint64(nil, uint64(off)), prev+4); err != nil {
			return 0, fmt.Errorf("spill rows: %w", err)
		}
	}
	s.buf = append(s.buf, b...)
	if len(s.buf) >= spillBuf {
		if err := s.flush(); err != nil {
			return 0, err
		}
	}
	return off, nil
}

func (s *rowSpill) flush() error {
	if _, err := s.f.WriteAt(s.buf, s.base); err != nil {
		return fmt.Errorf("spill rows: %w", err)
	}
	s.base += int64(len(s.buf))
	s.buf = s.buf[:0]
	return nil
}

// rows yields n rows of the chain starting at first.
func (s *rowSpill) rows(first int64, n int) func(yield func(tcRow) bool) error {
	return func(yield func(tcRow) bool) error {
		if err := s.flush(); err != nil {
			return err
		}
		le := binary.LittleEndian
		var head [spillHead]byte
		var b []byte
		off := first
		for range n {
			if _, err := s.f.ReadAt(head[:], off); err != nil {
				return fmt.Errorf("read spilled rows: %w", err)
			}
			size := int(le.Uint32(head[:]))
			if size < spillHead {
				return fmt.Errorf("read spilled rows: bad record at %d", off)
			}
			b = slices.Grow(b[:0], size)[:size]
			if _, err := s.f.ReadAt(b, off); err != nil && err != io.EOF {
				return fmt.Errorf("read spilled rows: %w", err)
			}
			r := tcRow{id: le.Uint32(b[12:]), cells: map[uint32][]byte{}}
			cnt := int(le.Uint32(b[16:]))
			p := spillHead
			for range cnt {
				if p+8 > size {
					return fmt.Errorf("read spilled rows: bad record at %d", off)
				}
				tag, l := le.Uint32(b[p:]), int(le.Uint32(b[p+4:]))
				p += 8
				if p+l > size {
					return fmt.Errorf("read spilled rows: bad record at %d", off)
				}
				r.cells[tag] = b[p : p+l : p+l]
				p += l
			}
			off = int64(le.Uint64(b[4:]))
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
		s.remove()
	}
}
