package msg

import (
	"encoding/binary"
	"fmt"
	"io"
	"unicode/utf16"
)

// Special sector numbers (MS-CFB 2.1).
const (
	secDIFAT = 0xFFFFFFFC
	secFAT   = 0xFFFFFFFD
	secEnd   = 0xFFFFFFFE
	secFree  = 0xFFFFFFFF
)

// checkChains walks every sector chain of a compound file before mscfb
// reads it: the FAT and DIFAT, the directory, the mini FAT, the mini
// stream and every stream's chain, in regular sectors and in the mini
// stream. Each sector must lie inside the file, belong to one chain only
// (a second visit is a cycle or two chains sharing a sector), and each
// stream's chain must have exactly the sectors its size needs. mscfb
// guards only some of these (it detects cycles in the directory and the
// DIFAT, and bounds reads by the stream size, so a stream whose chain
// loops back reads the same sectors again as data). Every count read here
// is bounded by the number of sectors the file holds before it is used.
func checkChains(r io.ReaderAt, size int64, name string) error {
	bad := func(stream, format string, a ...any) error {
		return &Error{File: name, Stream: stream, Err: fmt.Errorf("compound file: "+format, a...)}
	}
	var h [512]byte
	if _, err := r.ReadAt(h[:], 0); err != nil {
		return bad("", "header: %v", err)
	}
	le := binary.LittleEndian
	major := le.Uint16(h[26:])
	shift := le.Uint16(h[30:])
	if !(major == 3 && shift == 9 || major == 4 && shift == 12) {
		return bad("", "version %d with sector shift %d", major, shift)
	}
	ss := int64(1) << shift
	nSec := (size - ss) / ss // the header takes the first sector's room
	if nSec <= 0 {
		return bad("", "no sectors after the header")
	}
	used := make([]bool, nSec)
	readSector := func(s uint32, buf []byte) error {
		_, err := r.ReadAt(buf, (int64(s)+1)*ss)
		return err
	}
	claim := func(s uint32, what string) error {
		if int64(s) >= nSec {
			return bad(what, "sector %d outside the file (%d sectors)", s, nSec)
		}
		if used[s] {
			return bad(what, "sector %d used twice (a cycle, or chains sharing it)", s)
		}
		used[s] = true
		return nil
	}

	// FAT sector numbers: the header's count of them, the first 109 in
	// the header, the rest in the DIFAT chain (MS-CFB 2.2, 2.5). Unused
	// slots should be FREESECT, but the count is what says how many are
	// used.
	numFAT := int64(le.Uint32(h[44:]))
	if numFAT > nSec {
		return bad("FAT", "%d FAT sectors claimed, file has %d sectors", numFAT, nSec)
	}
	var fatSecs []uint32
	for i := 0; i < 109 && int64(len(fatSecs)) < numFAT; i++ {
		fatSecs = append(fatSecs, le.Uint32(h[76+4*i:]))
	}
	buf := make([]byte, ss)
	perSec := int(ss / 4)
	numDIFAT := int64(le.Uint32(h[72:]))
	if numDIFAT > nSec {
		return bad("", "%d DIFAT sectors claimed, file has %d sectors", numDIFAT, nSec)
	}
	d := le.Uint32(h[68:])
	for i := int64(0); i < numDIFAT; i++ {
		if err := claim(d, "DIFAT"); err != nil {
			return err
		}
		if err := readSector(d, buf); err != nil {
			return bad("DIFAT", "sector %d: %v", d, err)
		}
		for j := 0; j < perSec-1 && int64(len(fatSecs)) < numFAT; j++ {
			fatSecs = append(fatSecs, le.Uint32(buf[4*j:]))
		}
		d = le.Uint32(buf[ss-4:])
	}
	if int64(len(fatSecs)) < numFAT {
		return bad("FAT", "%d FAT sectors claimed, the header and DIFAT list %d", numFAT, len(fatSecs))
	}
	fat := make([]uint32, 0, min(int64(len(fatSecs)*perSec), nSec))
	for _, s := range fatSecs {
		if err := claim(s, "FAT"); err != nil {
			return err
		}
		if err := readSector(s, buf); err != nil {
			return bad("FAT", "sector %d: %v", s, err)
		}
		for j := 0; j < perSec && int64(len(fat)) < nSec; j++ {
			fat = append(fat, le.Uint32(buf[4*j:]))
		}
	}
	// walk claims the chain from start and returns its length; want < 0
	// accepts any length.
	walk := func(start uint32, want int64, what string) (int64, error) {
		var n int64
		for s := start; s != secEnd; n++ {
			if err := claim(s, what); err != nil {
				return n, err
			}
			if int64(s) >= int64(len(fat)) {
				return n, bad(what, "sector %d has no FAT entry", s)
			}
			s = fat[s]
		}
		if want >= 0 && n != want {
			return n, bad(what, "%d sectors in its chain, its size needs %d", n, want)
		}
		return n, nil
	}
	sectors := func(n, unit int64) int64 { return (n + unit - 1) / unit }

	// The directory.
	dirStart := le.Uint32(h[48:])
	var dir []byte
	for s, n := dirStart, int64(0); s != secEnd; n++ {
		if err := claim(s, "directory"); err != nil {
			return err
		}
		if int64(s) >= int64(len(fat)) {
			return bad("directory", "sector %d has no FAT entry", s)
		}
		if err := readSector(s, buf); err != nil {
			return bad("directory", "sector %d: %v", s, err)
		}
		dir = append(dir, buf...)
		s = fat[s]
	}
	if len(dir) < 128 {
		return bad("directory", "empty")
	}
	type stream struct {
		name  string
		start uint32
		size  int64
	}
	var streams []stream
	var rootStart uint32 = secEnd
	var rootSize int64
	for off := 0; off+128 <= len(dir); off += 128 {
		e := dir[off : off+128]
		typ := e[66]
		start := le.Uint32(e[116:])
		sz := int64(le.Uint32(e[120:]))
		if major == 4 {
			sz = int64(le.Uint64(e[120:]))
		}
		if sz < 0 || sz > size {
			return bad(entryName(e), "size %d, file has %d bytes", sz, size)
		}
		switch {
		case off == 0 && typ == 5:
			rootStart, rootSize = start, sz
		case typ == 2:
			streams = append(streams, stream{entryName(e), start, sz})
		}
	}
	// The mini FAT and the mini stream.
	nMiniFAT := int64(le.Uint32(h[64:]))
	if nMiniFAT > nSec {
		return bad("mini FAT", "%d sectors claimed, file has %d", nMiniFAT, nSec)
	}
	var minifat []uint32
	if nMiniFAT > 0 {
		for s, n := le.Uint32(h[60:]), int64(0); s != secEnd; n++ {
			if n >= nMiniFAT {
				return bad("mini FAT", "chain longer than its %d sectors", nMiniFAT)
			}
			if err := claim(s, "mini FAT"); err != nil {
				return err
			}
			if int64(s) >= int64(len(fat)) {
				return bad("mini FAT", "sector %d has no FAT entry", s)
			}
			if err := readSector(s, buf); err != nil {
				return bad("mini FAT", "sector %d: %v", s, err)
			}
			for j := 0; j < perSec; j++ {
				minifat = append(minifat, le.Uint32(buf[4*j:]))
			}
			s = fat[s]
		}
	}
	miniCount := sectors(rootSize, 64)
	if rootSize > 0 {
		if _, err := walk(rootStart, sectors(rootSize, ss), "mini stream"); err != nil {
			return err
		}
	}
	miniUsed := make([]bool, miniCount)
	for _, st := range streams {
		if st.size == 0 {
			continue
		}
		if st.size >= 4096 { // MS-CFB 2.6.3: the mini stream cutoff
			if _, err := walk(st.start, sectors(st.size, ss), st.name); err != nil {
				return err
			}
			continue
		}
		var n int64
		for s := st.start; s != secEnd; n++ {
			if int64(s) >= miniCount || int64(s) >= int64(len(minifat)) {
				return bad(st.name, "mini sector %d outside the mini stream (%d)", s, miniCount)
			}
			if miniUsed[s] {
				return bad(st.name, "mini sector %d used twice (a cycle, or chains sharing it)", s)
			}
			miniUsed[s] = true
			s = minifat[s]
		}
		if want := sectors(st.size, 64); n != want {
			return bad(st.name, "%d mini sectors in its chain, its size needs %d", n, want)
		}
	}
	return nil
}

// entryName decodes a directory entry's name (MS-CFB 2.6.1).
func entryName(e []byte) string {
	n := int(binary.LittleEndian.Uint16(e[64:]))
	if n < 2 || n > 64 {
		return "(unnamed)"
	}
	u := make([]uint16, n/2-1)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(e[2*i:])
	}
	return string(utf16.Decode(u))
}
