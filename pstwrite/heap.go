package pstwrite

import (
	"encoding/binary"
	"errors"
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

// heap builds a heap-on-node (MS-PST 2.3.1) in memory: allocations are
// packed into blocks of at most 8176 bytes, each with its page map. A
// block's allocations are kept back to back in one buffer (a large table
// holds hundreds of thousands of small values: no slice per value).
type heap struct {
	data [][]byte   // allocations per block, back to back
	ends [][]uint16 // end of each allocation in data
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

// encode returns the heap's blocks with their headers and page maps.
func (h *heap) encode(clientSig byte, userRoot hid) [][]byte {
	if len(h.data) == 0 {
		h.data, h.ends = [][]byte{nil}, [][]uint16{nil}
	}
	out := make([][]byte, len(h.data))
	free := make([]int, len(h.data))
	for i, data := range h.data {
		hs := headerSize(i)
		b := make([]byte, hs, maxBlockData)
		b = append(b, data...)
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
		if i == 0 {
			b[2] = hnSig
			b[3] = clientSig
			binary.LittleEndian.PutUint32(b[4:], userRoot)
		}
		free[i] = maxBlockData - len(b)
		out[i] = b
	}
	// rgbFillLevel: 4 bits per block, first block in the low nibble; the
	// HNHDR covers blocks 0-7, each HNBITMAPHDR the 128 from its own.
	setLevels := func(b []byte, at, from, count int) {
		for k := 0; k < count && from+k < len(free); k++ {
			lvl := fillLevel(free[from+k])
			if k%2 == 0 {
				b[at+k/2] |= lvl
			} else {
				b[at+k/2] |= lvl << 4
			}
		}
	}
	setLevels(out[0], 8, 0, 8)
	for i := 8; i < len(out); i += 128 {
		setLevels(out[i], 2, i, 128)
	}
	return out
}

// bth builds a BTH (MS-PST 2.3.2) over sorted records of cbKey+cbEnt bytes
// in heap h and returns the HID of its BTHHEADER.
func (h *heap) bth(cbKey, cbEnt int, records [][]byte) (hid, error) {
	hdr := make([]byte, 8)
	hdr[0], hdr[1], hdr[2] = sigBTH, byte(cbKey), byte(cbEnt)
	if len(records) == 0 {
		return h.alloc(hdr)
	}
	level := 0
	size := cbKey + cbEnt
	for {
		per := maxHeapAlloc / size
		var parents [][]byte
		for i := 0; i < len(records); i += per {
			j := min(i+per, len(records))
			buf := make([]byte, 0, size*(j-i))
			for _, r := range records[i:j] {
				buf = append(buf, r...)
			}
			id, err := h.alloc(buf)
			if err != nil {
				return 0, err
			}
			p := make([]byte, cbKey+4)
			copy(p, records[i][:cbKey])
			binary.LittleEndian.PutUint32(p[cbKey:], id)
			parents = append(parents, p)
		}
		if len(parents) == 1 {
			hdr[3] = byte(level)
			binary.LittleEndian.PutUint32(hdr[4:], binary.LittleEndian.Uint32(parents[0][cbKey:]))
			return h.alloc(hdr)
		}
		records, size = parents, cbKey+4
		level++
	}
}
