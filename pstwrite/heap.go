package pstwrite

import (
	"encoding/binary"
	"errors"
	"maps"
	"slices"
)

// Heap-on-node constants (MS-PST 2.3.1).
const (
	hnSig        = 0xEC
	sigPC        = 0xBC // bClientSig of a property context
	sigTC        = 0x7C // of a table context
	sigBTH       = 0xB5
	maxHeapAlloc = 3580 // MS-PST 2.3.3.3: larger values go to subnodes
	nidTypeLTP   = 0x1F // subnodes holding LTP values and row matrices
)

// heap builds a heap-on-node (MS-PST 2.3.1): allocations are packed into
// blocks of at most 8176 bytes, each with its page map. A block's
// allocations are kept back to back in one buffer (a large table holds
// hundreds of thousands of small values: no slice per value).
//
// A heap is built in memory (encode gives its blocks), or streamed (after
// stream, finishStream writes it): then a block is written as soon as the
// next one opens, except the blocks whose headers describe others —
// block 0 (HNHDR: the user root and the fill levels of blocks 0-7) is
// written last, and a block with an HNBITMAPHDR once the 127 blocks after
// it are written — so memory holds at most three blocks whatever the
// heap's size.
type heap struct {
	data [][]byte   // allocations per block, back to back (nil once written)
	ends [][]uint16 // end of each allocation in data

	n      *ndb     // set when streaming
	tree   dataTree // the blocks written, by index
	levels []byte   // fill level of each encoded block
	held   map[int][]byte
}

// stream makes h write its blocks to n as they fill.
func (h *heap) stream(n *ndb) {
	h.n = n
	h.held = map[int][]byte{}
}

// hid is a heap id (MS-PST 2.3.1.1): block index, 1-based allocation index.
type hid = uint32

func makeHID(block, index int) hid { return uint32(block)<<16 | uint32(index)<<5 }

// headerSize is the size of the header opening block i: HNHDR for the
// first, HNBITMAPHDR for block 8 and every 128th after, else HNPAGEHDR.
func headerSize(i int) int {
	switch {
	case i == 0:
		return 12
	case i >= 8 && (i-8)%128 == 0:
		return 66
	}
	return 2
}

// room is the space left in block i for one more allocation of n bytes.
func (h *heap) fits(i, n int) bool {
	cnt := len(h.ends[i]) + 1
	size := headerSize(i) + len(h.data[i]) + n
	size += size & 1      // page map is 2-byte aligned
	size += 4 + 2*(cnt+1) // HNPAGEMAP
	return size <= maxBlockData && cnt < 2048
}

// alloc stores p and returns its HID. p must be at most 3580 bytes.
func (h *heap) alloc(p []byte) (hid, error) {
	if len(p) > maxHeapAlloc {
		return 0, errors.New("pstwrite: heap allocation too large")
	}
	i := len(h.data) - 1
	if i < 0 || !h.fits(i, len(p)) {
		if h.n != nil && i >= 0 {
			if err := h.done(i); err != nil {
				return 0, err
			}
		}
		h.data = append(h.data, make([]byte, 0, min(maxBlockData, 2*len(p)+64)))
		h.ends = append(h.ends, nil)
		i++
	}
	h.data[i] = append(h.data[i], p...)
	h.ends[i] = append(h.ends[i], uint16(len(h.data[i])))
	return makeHID(i, len(h.ends[i])), nil
}

// fillLevel maps free bytes to the 4-bit fill level (MS-PST 2.3.1.2).
func fillLevel(free int) byte {
	limits := []int{3584, 2560, 2048, 1792, 1536, 1280, 1024, 768, 512, 256, 128, 64, 32, 16, 8}
	for lvl, lim := range limits {
		if free >= lim {
			return byte(lvl)
		}
	}
	return 0xF
}

// encodeBlock returns block i with its header (fill levels and, for block
// 0, the signatures and user root still zero) and page map (MS-PST
// 2.3.1.5), records its fill level and drops the block's data.
func (h *heap) encodeBlock(i int) []byte {
	hs := headerSize(i)
	b := make([]byte, hs, maxBlockData)
	b = append(b, h.data[i]...)
	offs := []uint16{uint16(hs)}
	for _, e := range h.ends[i] {
		offs = append(offs, uint16(hs)+e)
	}
	h.data[i], h.ends[i] = nil, nil // encoded: the copy is in b
	if len(b)&1 == 1 {
		b = append(b, 0)
	}
	ibHnpm := len(b)
	pm := make([]byte, 4+2*len(offs))
	binary.LittleEndian.PutUint16(pm[0:], uint16(len(offs)-1))
	for k, o := range offs {
		binary.LittleEndian.PutUint16(pm[4+2*k:], o)
	}
	b = append(b, pm...)
	binary.LittleEndian.PutUint16(b[0:], uint16(ibHnpm))
	for len(h.levels) <= i {
		h.levels = append(h.levels, 0)
	}
	h.levels[i] = fillLevel(maxBlockData - len(b))
	return b
}

// setLevels writes the rgbFillLevel of the blocks a header describes: 4
// bits per block, first block in the low nibble; the HNHDR of block 0
// covers blocks 0-7, the HNBITMAPHDR of block i the 128 from i.
func (h *heap) setLevels(b []byte, i int) {
	at, count := 2, 128
	if i == 0 {
		at, count = 8, 8
	}
	for k := 0; k < count && i+k < len(h.levels); k++ {
		lvl := h.levels[i+k]
		if k%2 == 0 {
			b[at+k/2] |= lvl
		} else {
			b[at+k/2] |= lvl << 4
		}
	}
}

func setRoot(b []byte, clientSig byte, userRoot hid) {
	b[2] = hnSig
	b[3] = clientSig
	binary.LittleEndian.PutUint32(b[4:], userRoot)
}

// encode returns the heap's blocks with their headers and page maps.
func (h *heap) encode(clientSig byte, userRoot hid) [][]byte {
	if len(h.data) == 0 {
		h.data, h.ends = [][]byte{nil}, [][]uint16{nil}
	}
	out := make([][]byte, len(h.data))
	for i := range h.data {
		out[i] = h.encodeBlock(i)
	}
	setRoot(out[0], clientSig, userRoot)
	h.setLevels(out[0], 0)
	for i := 8; i < len(out); i += 128 {
		h.setLevels(out[i], i)
	}
	return out
}

// done encodes block i of a streamed heap, complete now that the next one
// opens, and writes it unless its header waits for later blocks; then a
// held bitmap block whose 128 blocks are all encoded is written.
func (h *heap) done(i int) error {
	b := h.encodeBlock(i)
	if i == 0 || headerSize(i) == 66 {
		h.held[i] = b
	} else if err := h.write(i, b); err != nil {
		return err
	}
	for j, hb := range h.held {
		if j > 0 && j+127 <= i {
			h.setLevels(hb, j)
			if err := h.write(j, hb); err != nil {
				return err
			}
			delete(h.held, j)
		}
	}
	return nil
}

func (h *heap) write(i int, b []byte) error {
	bid, err := h.n.writeBlock(b, false)
	if err != nil {
		return err
	}
	h.tree.set(i, bid, len(b))
	return nil
}

// finishStream writes what a streamed heap still holds — its last block,
// a bitmap block, block 0 with the user root — and its data tree, and
// returns the node's data BID.
func (h *heap) finishStream(clientSig byte, userRoot hid) (uint64, error) {
	if len(h.data) == 0 {
		h.data, h.ends = [][]byte{nil}, [][]uint16{nil}
	}
	if err := h.done(len(h.data) - 1); err != nil {
		return 0, err
	}
	held := slices.Sorted(maps.Keys(h.held))
	for _, j := range slices.Backward(held) { // block 0 last
		hb := h.held[j]
		if j == 0 {
			setRoot(hb, clientSig, userRoot)
		}
		h.setLevels(hb, j)
		if err := h.write(j, hb); err != nil {
			return 0, err
		}
	}
	h.held = nil
	return h.tree.finish(h.n)
}

// bth builds a BTH (MS-PST 2.3.2) over sorted records of cbKey+cbEnt bytes
// in heap h and returns the HID of its BTHHEADER.
func (h *heap) bth(cbKey, cbEnt int, records [][]byte) (hid, error) {
	b := bthWriter{h: h, cbKey: cbKey, cbEnt: cbEnt}
	for _, r := range records {
		if err := b.add(0, r); err != nil {
			return 0, err
		}
	}
	return b.finish()
}

// bthWriter builds a BTH (MS-PST 2.3.2) in a heap from records given in
// key order, bottom-up like btreeWriter: one allocation per level is
// being filled (at most 3580 bytes), so a BTH of any size needs a few
// kilobytes. The tree is the bulk build's: full nodes, the last of each
// level partly filled.
type bthWriter struct {
	h            *heap
	cbKey, cbEnt int
	levels       [][]byte // records of the node being filled, per level
	root         hid
}

func (b *bthWriter) size(level int) int {
	if level == 0 {
		return b.cbKey + b.cbEnt
	}
	return b.cbKey + 4
}

func (b *bthWriter) add(level int, rec []byte) error {
	if level == len(b.levels) {
		b.levels = append(b.levels, nil)
	}
	size := b.size(level)
	if len(b.levels[level]) == maxHeapAlloc/size*size {
		if err := b.flush(level, true); err != nil {
			return err
		}
	}
	b.levels[level] = append(b.levels[level], rec[:size]...)
	return nil
}

func (b *bthWriter) flush(level int, up bool) error {
	recs := b.levels[level]
	id, err := b.h.alloc(recs)
	if err != nil {
		return err
	}
	b.root = id
	p := make([]byte, b.cbKey+4)
	copy(p, recs[:b.cbKey])
	binary.LittleEndian.PutUint32(p[b.cbKey:], id)
	b.levels[level] = recs[:0]
	if !up {
		return nil
	}
	return b.add(level+1, p)
}

// finish writes the nodes being filled and the BTHHEADER, and returns the
// header's HID.
func (b *bthWriter) finish() (hid, error) {
	hdr := make([]byte, 8)
	hdr[0], hdr[1], hdr[2] = sigBTH, byte(b.cbKey), byte(b.cbEnt)
	if len(b.levels) == 0 {
		return b.h.alloc(hdr) // no records: hidRoot 0
	}
	// As in btreeWriter.finish: every level below the top holds records,
	// so the top gets two or more and its node is the root.
	for level := 0; level < len(b.levels); level++ {
		top := level == len(b.levels)-1
		if err := b.flush(level, !top); err != nil {
			return 0, err
		}
	}
	hdr[3] = byte(len(b.levels) - 1)
	binary.LittleEndian.PutUint32(hdr[4:], b.root)
	return b.h.alloc(hdr)
}
