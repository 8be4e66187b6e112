package pstwrite

import (
	"encoding/binary"
	"fmt"
	"os"
	"sort"
)

// validate checks a Unicode PST the way Outlook's scanpst walks one, and
// returns every problem found (nil for a sound file). It checks:
//
//   - the header: "!BDN" and "SM" magics, version 23, dwCRCPartial and
//     dwCRCFull, bSentinel, bCryptMethod NDB_CRYPT_NONE, fAMapValid,
//     ibFileEof equal to the file size and a whole number of AMap regions,
//     ibAMapLast the last region, bidNextB/bidNextP above every BID used;
//   - every map page at its place (AMap per region, PMap every 8th, FMap
//     and FPMap at their intervals): ptype twice, wSig 0, CRC, BID = offset;
//   - both B-trees from the ROOT: every page 512-aligned, inside the file,
//     ptype twice, wSig = ComputeSig(ib, bid), CRC, trailer BID equal to the
//     BREF's, cbEnt/cEntMax for its kind, cEnt within cEntMax, cLevel one
//     less than its parent's and all leaves at level 0, keys strictly
//     increasing over the whole tree, each intermediate key equal to its
//     child's first key;
//   - every BBT entry: a 64-aligned block inside one AMap region whose
//     trailer matches (cb, wSig, CRC of the cb data bytes, BID), cRef >= 2;
//   - every NBT entry: its data BID and subnode BID are in the BBT, its
//     parent NID is a node; data trees (XBLOCK/XXBLOCK) have the right
//     btype, cLevel, lcbTotal and existing children; subnode trees
//     (SLBLOCK/SIBLOCK) are sorted and reference existing blocks;
//   - reference counts: every block is referenced (from an NBT entry, a
//     data tree or a subnode tree) exactly cRef-1 times: none orphaned;
//   - allocation: no two allocated extents (map pages, B-tree pages,
//     blocks) overlap, the AMap bits are set exactly for those extents, and
//     cbAMapFree equals the free space they leave;
//   - the heap of every top-level node opens with bSig 0xEC and a known
//     client signature; subnodes that are objects too: attachment objects
//     and embedded messages (exception attachments among them) are PCs,
//     recipient and attachment tables TCs, and every embedded message has
//     its recipient table;
//   - the heap blocks of every top-level heap node (MS-PST 2.3.1): each
//     block's page map inside the block, allocation offsets increasing and
//     ending before the page map, the header each block index must have
//     (HNHDR, HNPAGEHDR, HNBITMAPHDR every 128 from block 8), hidUserRoot
//     an allocation of the heap, and (strict) the fill levels in block 0
//     and every HNBITMAPHDR matching the blocks' free space;
//   - every top-level table context (MS-PST 2.3.4): its row index BTH
//     (keys strictly increasing over all levels, leaves at level 0) has one
//     entry per row of the row matrix, and maps each row id to the row
//     holding that id.
//
// With strict false (for files Outlook wrote) the cbAMapFree and fill
// level checks are skipped: Outlook leaves them stale.
// bbtEntry and nbtEntry are the leaf entries of the B-trees as read.
type bbtEntry struct {
	bid, ib uint64
	cb      uint16
}

type nbtEntry struct {
	nid       uint32
	data, sub uint64
	parent    uint32
}

func validate(path string, strict bool) []error {
	d, err := os.ReadFile(path)
	if err != nil {
		return []error{err}
	}
	v := &validator{strict: strict, d: d, blocks: map[uint64]bbtEntry{}, refs: map[uint64]int{}, crefs: map[uint64]int{}}
	v.run()
	return v.errs
}

type validator struct {
	d       []byte
	errs    []error
	extents [][2]uint64 // allocated [start, end)
	blocks  map[uint64]bbtEntry
	crefs   map[uint64]int
	refs    map[uint64]int
	nodes   map[uint32]nbtEntry
	maxBID  uint64
	maxPage uint64
	crypt   byte
	strict  bool
}

func (v *validator) errf(format string, a ...any) {
	if len(v.errs) < 50 {
		v.errs = append(v.errs, fmt.Errorf(format, a...))
	}
}

var le = binary.LittleEndian

func (v *validator) run() {
	d := v.d
	if len(d) < 564 {
		v.errf("file of %d bytes", len(d))
		return
	}
	if string(d[:4]) != "!BDN" || le.Uint16(d[8:]) != 0x4D53 || le.Uint16(d[10:]) != 23 {
		v.errf("header: bad magic or version")
		return
	}
	if got, want := le.Uint32(d[4:]), crc(d[8:8+471]); got != want {
		v.errf("header: dwCRCPartial %#x, want %#x", got, want)
	}
	if got, want := le.Uint32(d[524:]), crc(d[8:8+516]); got != want {
		v.errf("header: dwCRCFull %#x, want %#x", got, want)
	}
	if d[512] != 0x80 || d[513] > 2 {
		v.errf("header: bSentinel %#x bCryptMethod %d", d[512], d[513])
	}
	v.crypt = d[513]
	r := d[180:]
	eof, amapLast, amapFree := le.Uint64(r[4:]), le.Uint64(r[12:]), le.Uint64(r[20:])
	if r[68] != 2 {
		v.errf("header: fAMapValid %d", r[68])
	}
	if eof != uint64(len(d)) || eof < amapFirst || (eof-amapFirst)%amapCover != 0 {
		v.errf("header: ibFileEof %d, file %d bytes", eof, len(d))
		return
	}
	regions := int64((eof - amapFirst) / amapCover)
	if amapLast != regionStart(regions-1) {
		v.errf("header: ibAMapLast %#x, want %#x", amapLast, regionStart(regions-1))
	}
	v.extents = append(v.extents, [2]uint64{0, amapFirst})
	for reg := range regions {
		start := regionStart(reg)
		_, pmap, fmap, fpmap := mapPages(reg)
		v.mapPage(start, ptypeAMap)
		off := start + pageSize
		if pmap {
			v.mapPage(off, ptypePMap)
			off += pageSize
		}
		if fmap {
			v.mapPage(off, ptypeFMap)
			off += pageSize
		}
		if fpmap {
			v.mapPage(off, ptypeFPMap)
		}
	}
	var prev uint64
	first := true
	v.btree(le.Uint64(r[52:]), le.Uint64(r[60:]), ptypeBBT, -1, &prev, &first, func(e []byte) {
		be := bbtEntry{bid: le.Uint64(e[0:]), ib: le.Uint64(e[8:]), cb: le.Uint16(e[16:])}
		v.blocks[be.bid] = be
		v.crefs[be.bid] = int(le.Uint16(e[18:]))
		v.maxBID = max(v.maxBID, be.bid&^3)
	})
	for _, be := range v.blocks {
		v.block(be)
	}
	v.nodes = map[uint32]nbtEntry{}
	var nodes []nbtEntry
	prev, first = 0, true
	v.btree(le.Uint64(r[36:]), le.Uint64(r[44:]), ptypeNBT, -1, &prev, &first, func(e []byte) {
		ne := nbtEntry{nid: uint32(le.Uint64(e[0:])), data: le.Uint64(e[8:]), sub: le.Uint64(e[16:]), parent: le.Uint32(e[24:])}
		v.nodes[ne.nid] = ne
		nodes = append(nodes, ne)
	})
	for _, ne := range nodes {
		if ne.parent != 0 {
			if _, ok := v.nodes[ne.parent]; !ok {
				v.errf("node %#x: parent %#x is no node", ne.nid, ne.parent)
			}
		}
		switch {
		case ne.data == 0 && heapNode(ne.nid):
			// Search queues and lists may be empty; heaps may not.
			v.errf("node %#x: no data block", ne.nid)
		case ne.data == 0:
		default:
			v.dataTree(ne.data, 2, fmt.Sprintf("node %#x", ne.nid))
			if blk := v.firstLeaf(ne.data); v.crypt == 0 && heapNode(ne.nid) && len(blk) >= 4 {
				if blk[2] != hnSig || (blk[3] != sigPC && blk[3] != sigTC && blk[3] != sigBTH) {
					v.errf("node %#x: heap signature %#x %#x", ne.nid, blk[2], blk[3])
				} else {
					blocks := v.leaves(ne.data, nil)
					if v.heap(blocks, fmt.Sprintf("node %#x", ne.nid)) && blk[3] == sigTC {
						v.table(blocks, ne.sub, fmt.Sprintf("table %#x", ne.nid))
					}
				}
			}
		}
		if ne.sub != 0 {
			v.subTree(ne.sub, 1, fmt.Sprintf("node %#x subnodes", ne.nid))
		}
	}
	for bid, be := range v.blocks {
		if got := v.refs[bid]; got == 0 || got != v.crefs[bid]-1 {
			v.errf("block %#x at %#x: %d references, cRef %d", bid, be.ib, got, v.crefs[bid])
		}
	}
	if nb, np := le.Uint64(d[516:]), le.Uint64(d[32:]); nb <= v.maxBID || np <= v.maxPage {
		v.errf("header: bidNextB %#x / bidNextP %#x not above %#x / %#x", nb, np, v.maxBID, v.maxPage)
	}
	v.allocation(regions, amapFree)
}

// heapNode reports whether a node's data is a heap: folders, messages,
// tables, the message store, the name-to-id map and table templates.
func heapNode(nid uint32) bool {
	switch nid & 0x1F {
	case 0x02, 0x03, 0x04, 0x08, 0x0D, 0x0E, 0x0F:
		return true
	case 0x01:
		return nid == nidMessageStore || nid == nidNameToIDMap || (nid >= 0x60D && nid <= 0x610)
	}
	return false
}

// subnodeSig is the heap client signature a subnode with this NID must
// have, 0 when it is not an object (LTP values, row matrices).
func subnodeSig(nid uint32) byte {
	switch {
	case nid == nidRecipientTable || nid == nidAttachmentTable:
		return sigTC
	case nid&0x1F == nidTypeMessage || nid&0x1F == nidTypeAttachment:
		return sigPC
	}
	return 0
}

// hasSubnode reports whether the subnode tree at bid holds nid (level-0
// SLBLOCKs and SIBLOCKs above them).
func (v *validator) hasSubnode(bid uint64, nid uint32) bool {
	b := v.data(bid)
	if bid == 0 || len(b) < 8 || b[0] != 0x02 {
		return false
	}
	cnt, size := int(le.Uint16(b[2:])), 24
	if b[1] == 1 {
		size = 16
	}
	for i := 0; i < cnt && 8+size*(i+1) <= len(b); i++ {
		e := b[8+size*i:]
		if b[1] == 1 {
			if v.hasSubnode(le.Uint64(e[8:]), nid) {
				return true
			}
		} else if le.Uint32(e) == nid {
			return true
		}
	}
	return false
}

func (v *validator) inFile(off, size uint64) bool {
	return off+size <= uint64(len(v.d)) && off+size >= off
}

func (v *validator) trailer(off uint64, ptype byte, sig uint16, bid uint64, what string) bool {
	if off%pageSize != 0 || !v.inFile(off, pageSize) {
		v.errf("%s: page at %#x misplaced", what, off)
		return false
	}
	p := v.d[off : off+pageSize]
	t := p[pageDataSize:]
	ok := true
	if t[0] != ptype || t[1] != ptype {
		v.errf("%s at %#x: ptype %#x/%#x, want %#x", what, off, t[0], t[1], ptype)
		ok = false
	}
	if got := le.Uint16(t[2:]); got != sig {
		v.errf("%s at %#x: wSig %#x, want %#x", what, off, got, sig)
	}
	if got, want := le.Uint32(t[4:]), crc(p[:pageDataSize]); got != want {
		v.errf("%s at %#x: CRC %#x, want %#x", what, off, got, want)
	}
	if got := le.Uint64(t[8:]); got != bid {
		v.errf("%s at %#x: BID %#x, want %#x", what, off, got, bid)
	}
	v.extents = append(v.extents, [2]uint64{off, off + pageSize})
	return ok
}

func (v *validator) mapPage(off uint64, ptype byte) { v.trailer(off, ptype, 0, off, "map page") }

// btree walks a B-tree page; level is the expected cLevel (-1 for the root).
func (v *validator) btree(bid, ib uint64, ptype byte, level int, prev *uint64, first *bool, leaf func([]byte)) {
	what := map[byte]string{ptypeNBT: "NBT page", ptypeBBT: "BBT page"}[ptype]
	if !v.trailer(ib, ptype, computeSig(ib, bid), bid, what) {
		return
	}
	v.maxPage = max(v.maxPage, bid)
	p := v.d[ib : ib+pageSize]
	cEnt, cEntMax, cbEnt, cLevel := int(p[488]), int(p[489]), int(p[490]), int(p[491])
	if level >= 0 && cLevel != level {
		v.errf("%s at %#x: cLevel %d, want %d", what, ib, cLevel, level)
		return
	}
	wantCb := 24
	if cLevel == 0 && ptype == ptypeNBT {
		wantCb = 32
	}
	if cbEnt != wantCb || cEntMax != btEntriesSize/wantCb || cEnt > cEntMax || (cEnt == 0 && level >= 0) {
		v.errf("%s at %#x: cEnt %d cEntMax %d cbEnt %d", what, ib, cEnt, cEntMax, cbEnt)
		return
	}
	for i := range cEnt {
		e := p[i*cbEnt : (i+1)*cbEnt]
		key := le.Uint64(e)
		if cLevel > 0 {
			cbid, cib := le.Uint64(e[8:]), le.Uint64(e[16:])
			if v.inFile(cib, pageSize) {
				if child := le.Uint64(v.d[cib:]); child != key && cib%pageSize == 0 {
					v.errf("%s at %#x: key %#x, child's first %#x", what, ib, key, child)
				}
			}
			v.btree(cbid, cib, ptype, cLevel-1, prev, first, leaf)
			continue
		}
		if !*first && key <= *prev {
			v.errf("%s at %#x: key %#x after %#x", what, ib, key, *prev)
		}
		*prev, *first = key, false
		leaf(e)
	}
}

func (v *validator) block(be bbtEntry) {
	size := (uint64(be.cb) + blockTrailer + blockAlign - 1) / blockAlign * blockAlign
	if be.ib%blockAlign != 0 || !v.inFile(be.ib, size) || be.ib < amapFirst {
		v.errf("block %#x: at %#x, %d bytes, misplaced", be.bid, be.ib, be.cb)
		return
	}
	reg := int64((be.ib - amapFirst) / amapCover)
	if be.ib+size > regionStart(reg+1) {
		v.errf("block %#x at %#x crosses an AMap region", be.bid, be.ib)
	}
	if v.crefs[be.bid] < 2 {
		v.errf("block %#x: cRef %d", be.bid, v.crefs[be.bid])
	}
	t := v.d[be.ib+size-blockTrailer : be.ib+size]
	if cb := le.Uint16(t); cb != be.cb {
		v.errf("block %#x: trailer cb %d, BBT %d", be.bid, cb, be.cb)
	}
	if sig := le.Uint16(t[2:]); sig != computeSig(be.ib, be.bid) {
		v.errf("block %#x: wSig %#x", be.bid, sig)
	}
	if got, want := le.Uint32(t[4:]), crc(v.d[be.ib:be.ib+uint64(be.cb)]); got != want {
		v.errf("block %#x: CRC %#x, want %#x", be.bid, got, want)
	}
	if bid := le.Uint64(t[8:]); bid != be.bid {
		v.errf("block %#x: trailer BID %#x", be.bid, bid)
	}
	v.extents = append(v.extents, [2]uint64{be.ib, be.ib + size})
}

func (v *validator) data(bid uint64) []byte {
	be, ok := v.blocks[bid&^1]
	if !ok {
		return nil
	}
	return v.d[be.ib : be.ib+uint64(be.cb)]
}

// ref counts one reference to bid and returns its data, or nil (reported).
func (v *validator) ref(bid uint64, what string) []byte {
	if _, ok := v.blocks[bid&^1]; !ok {
		v.errf("%s: block %#x is not in the BBT", what, bid)
		return nil
	}
	v.refs[bid&^1]++
	return v.data(bid)
}

// dataTree checks a data tree of at most maxLevel and returns its size.
func (v *validator) dataTree(bid uint64, maxLevel int, what string) uint64 {
	b := v.ref(bid, what)
	if b == nil {
		return 0
	}
	if bid&bidInternal == 0 {
		return uint64(len(b))
	}
	if len(b) < 8 || b[0] != 0x01 || int(b[1]) > maxLevel || b[1] == 0 {
		v.errf("%s: block %#x is not an XBLOCK/XXBLOCK", what, bid)
		return 0
	}
	cnt := int(le.Uint16(b[2:]))
	if 8+8*cnt > len(b) {
		v.errf("%s: XBLOCK %#x: %d entries in %d bytes", what, bid, cnt, len(b))
		return 0
	}
	var sum uint64
	for i := range cnt {
		child := le.Uint64(b[8+8*i:])
		if b[1] == 1 && child&bidInternal != 0 {
			v.errf("%s: XBLOCK %#x lists internal block %#x", what, bid, child)
		}
		sum += v.dataTree(child, int(b[1])-1, what)
	}
	if total := uint64(le.Uint32(b[4:])); total != sum {
		v.errf("%s: XBLOCK %#x: lcbTotal %d, children hold %d", what, bid, total, sum)
	}
	return sum
}

// leaves appends the data blocks of the data tree at bid, in order.
func (v *validator) leaves(bid uint64, out [][]byte) [][]byte {
	b := v.data(bid)
	if bid&bidInternal == 0 || len(b) < 8 {
		return append(out, b)
	}
	for i := range int(le.Uint16(b[2:])) {
		if 8+8*i+8 <= len(b) {
			out = v.leaves(le.Uint64(b[8+8*i:]), out)
		}
	}
	return out
}

// heap checks the blocks of a heap-on-node (MS-PST 2.3.1) and reports
// whether their page maps can be read.
func (v *validator) heap(blocks [][]byte, what string) bool {
	free := make([]int, len(blocks))
	allocs := map[uint32]bool{}
	for i, b := range blocks {
		hs := 2
		switch {
		case i == 0:
			hs = 12
		case i >= 8 && (i-8)%128 == 0:
			hs = 66
		}
		ib := int(le.Uint16(b))
		if len(b) < hs || ib < hs || ib+4 > len(b) {
			v.errf("%s: heap block %d: page map at %d of %d bytes", what, i, ib, len(b))
			return false
		}
		cnt := int(le.Uint16(b[ib:]))
		if ib+4+2*(cnt+1) > len(b) {
			v.errf("%s: heap block %d: %d allocations overrun the block", what, i, cnt)
			return false
		}
		prev := hs
		for k := range cnt + 1 {
			o := int(le.Uint16(b[ib+4+2*k:]))
			if o < prev || o > ib {
				v.errf("%s: heap block %d: allocation offset %d after %d (page map at %d)", what, i, o, prev, ib)
				return false
			}
			prev = o
			if k > 0 {
				allocs[uint32(i)<<16|uint32(k)<<5] = true
			}
		}
		free[i] = maxBlockData - len(b)
	}
	if root := le.Uint32(blocks[0][4:]); root != 0 && !allocs[root] {
		v.errf("%s: hidUserRoot %#x is no allocation", what, root)
	}
	if !v.strict {
		return true
	}
	check := func(i, at, count int) {
		for k := 0; k < count && i+k < len(blocks); k++ {
			got := blocks[i][at+k/2] >> (4 * (k % 2)) & 0xF
			if want := fillLevel(free[i+k]); got != want {
				v.errf("%s: heap block %d: fill level of block %d is %d, want %d", what, i, i+k, got, want)
			}
		}
	}
	check(0, 8, 8)
	for i := 8; i < len(blocks); i += 128 {
		check(i, 2, 128)
	}
	return true
}

// alloc returns heap allocation id of blocks (page maps already checked).
func heapAlloc(blocks [][]byte, id uint32) []byte {
	i, k := int(id>>16), int(id>>5&0x7FF)
	if id&0x1F != 0 || i >= len(blocks) || k == 0 {
		return nil
	}
	b := blocks[i]
	ib := int(le.Uint16(b))
	if k > int(le.Uint16(b[ib:])) {
		return nil
	}
	return b[le.Uint16(b[ib+4+2*(k-1):]):le.Uint16(b[ib+4+2*k:])]
}

// subnodeData returns the data tree BID of subnode nid in the tree at sub.
func (v *validator) subnodeData(sub uint64, nid uint32) uint64 {
	b := v.data(sub)
	if sub == 0 || len(b) < 8 || b[0] != 0x02 {
		return 0
	}
	cnt, size := int(le.Uint16(b[2:])), 24
	if b[1] == 1 {
		size = 16
	}
	for i := 0; i < cnt && 8+size*(i+1) <= len(b); i++ {
		e := b[8+size*i:]
		if b[1] == 1 {
			if d := v.subnodeData(le.Uint64(e[8:]), nid); d != 0 {
				return d
			}
		} else if le.Uint32(e) == nid {
			return le.Uint64(e[8:])
		}
	}
	return 0
}

// table checks a table context's row index against its row matrix.
func (v *validator) table(blocks [][]byte, sub uint64, what string) {
	info := heapAlloc(blocks, le.Uint32(blocks[0][4:]))
	if len(info) < 22 || info[0] != sigTC {
		v.errf("%s: no TCINFO", what)
		return
	}
	rowSize := int(le.Uint16(info[8:])) // rgib[TCI_bm]: end of the row
	hidIndex, hnidRows := le.Uint32(info[10:]), le.Uint32(info[14:])
	// The row matrix: a heap allocation, or a subnode whose blocks each hold
	// whole rows (MS-PST 2.3.4.4).
	var rows [][]byte
	var matrix [][]byte
	switch {
	case hnidRows == 0:
	case hnidRows&0x1F == 0:
		matrix = [][]byte{heapAlloc(blocks, hnidRows)}
	default:
		d := v.subnodeData(sub, hnidRows)
		if d == 0 {
			v.errf("%s: row matrix subnode %#x missing", what, hnidRows)
			return
		}
		matrix = v.leaves(d, nil)
	}
	for _, m := range matrix {
		for len(m) >= rowSize && rowSize > 0 {
			rows = append(rows, m[:rowSize])
			m = m[rowSize:]
		}
	}
	// A padded block leaves zero rows at its end: real rows have a version.
	for len(rows) > 0 && le.Uint32(rows[len(rows)-1][4:]) == 0 {
		rows = rows[:len(rows)-1]
	}
	var entries int
	first, prev := true, uint32(0)
	var walk func(id uint32, level int)
	walk = func(id uint32, level int) {
		b := heapAlloc(blocks, id)
		const size = 8 // 4-byte key and 4-byte row index, or HID above the leaves
		for len(b) >= size {
			key, val := le.Uint32(b), le.Uint32(b[4:])
			if !first && key <= prev && level == 0 {
				v.errf("%s: row index key %#x after %#x", what, key, prev)
			}
			if level > 0 {
				walk(val, level-1)
			} else {
				first, prev = false, key
				entries++
				if int(val) >= len(rows) || le.Uint32(rows[val]) != key {
					v.errf("%s: row index maps row id %#x to row %d, which does not hold it", what, key, val)
				}
			}
			b = b[size:]
		}
	}
	hdr := heapAlloc(blocks, hidIndex)
	if len(hdr) != 8 || hdr[0] != sigBTH || hdr[1] != 4 || hdr[2] != 4 {
		v.errf("%s: row index is no BTH of 4-byte keys and values", what)
		return
	}
	if root := le.Uint32(hdr[4:]); root != 0 {
		walk(root, int(hdr[3]))
	}
	if entries != len(rows) {
		v.errf("%s: row index has %d entries, the row matrix %d rows", what, entries, len(rows))
	}
}

func (v *validator) firstLeaf(bid uint64) []byte {
	for range 3 {
		b := v.data(bid)
		if b == nil || bid&bidInternal == 0 {
			return b
		}
		if len(b) < 16 {
			return nil
		}
		bid = le.Uint64(b[8:])
	}
	return nil
}

func (v *validator) subTree(bid uint64, maxLevel int, what string) {
	b := v.ref(bid, what)
	if b == nil {
		return
	}
	if bid&bidInternal == 0 || len(b) < 8 || b[0] != 0x02 || int(b[1]) > maxLevel {
		v.errf("%s: block %#x is not an SLBLOCK/SIBLOCK", what, bid)
		return
	}
	cnt, size := int(le.Uint16(b[2:])), 24
	if b[1] == 1 {
		size = 16
	}
	if 8+size*cnt > len(b) {
		v.errf("%s: block %#x: %d entries in %d bytes", what, bid, cnt, len(b))
		return
	}
	var prev uint64
	for i := range cnt {
		e := b[8+size*i:]
		nid := uint64(le.Uint32(e)) // the upper 4 bytes are padding
		if i > 0 && nid <= prev {
			v.errf("%s: block %#x: NID %#x after %#x", what, bid, nid, prev)
		}
		prev = nid
		if b[1] == 1 {
			v.subTree(le.Uint64(e[8:]), 0, what)
			continue
		}
		sw := fmt.Sprintf("%s: subnode %#x", what, nid)
		v.dataTree(le.Uint64(e[8:]), 2, sw)
		// Subnodes that are objects (MS-PST 2.4.5, 2.4.6): attachment
		// objects and embedded messages are PCs, recipient and attachment
		// tables TCs; an embedded message has a recipient table of its own.
		if want := subnodeSig(uint32(nid)); want != 0 && v.crypt == 0 {
			if blk := v.firstLeaf(le.Uint64(e[8:])); len(blk) < 4 || blk[2] != hnSig || blk[3] != want {
				v.errf("%s: not a heap with client signature %#x", sw, want)
			}
		}
		s := le.Uint64(e[16:])
		if nid&0x1F == nidTypeMessage && !v.hasSubnode(s, nidRecipientTable) {
			v.errf("%s: embedded message without a recipient table", sw)
		}
		if s != 0 {
			v.subTree(s, 1, sw+" subnodes")
		}
	}
}

// allocation checks that extents do not overlap and that the AMaps mark
// exactly them.
func (v *validator) allocation(regions int64, amapFree uint64) {
	sort.Slice(v.extents, func(i, j int) bool { return v.extents[i][0] < v.extents[j][0] })
	for i := 1; i < len(v.extents); i++ {
		if v.extents[i][0] < v.extents[i-1][1] {
			v.errf("allocation: %#x-%#x overlaps %#x-%#x", v.extents[i][0], v.extents[i][1], v.extents[i-1][0], v.extents[i-1][1])
		}
	}
	want := make([]byte, int(regions)*pageDataSize)
	for _, e := range v.extents {
		if e[1] <= amapFirst {
			continue
		}
		for u := (e[0] - amapFirst) / blockAlign; u < (e[1]-amapFirst+blockAlign-1)/blockAlign; u++ {
			reg, bit := u/(pageDataSize*8), u%(pageDataSize*8)
			if int64(reg) < regions {
				want[reg*pageDataSize+bit/8] |= 0x80 >> (bit % 8)
			}
		}
	}
	var free uint64
	for reg := range regions {
		start := regionStart(reg)
		got := v.d[start : start+pageDataSize]
		w := want[reg*pageDataSize : (reg+1)*pageDataSize]
		for i := range got {
			// Outlook reserves pages ahead (MS-PST 2.2.2.7.3: the PMap
			// pre-allocates 4 KiB at a time), so its files may mark more
			// than they use; ours mark exactly what is used.
			if got[i] != w[i] && (v.strict || got[i]&w[i] != w[i]) {
				v.errf("AMap at %#x: byte %d is %08b, allocations give %08b", start, i, got[i], w[i])
				break
			}
		}
		for _, c := range got {
			for k := range 8 {
				if c&(0x80>>k) == 0 {
					free += blockAlign
				}
			}
		}
	}
	if v.strict && free != amapFree {
		v.errf("header: cbAMapFree %d, AMaps leave %d", amapFree, free)
	}
}
