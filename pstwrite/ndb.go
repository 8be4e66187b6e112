package pstwrite

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// NDB layout constants (MS-PST 2.2.2.7, Unicode).
const (
	pageSize      = 512
	pageDataSize  = 496 // a page without its trailer
	blockAlign    = 64
	maxBlockSize  = 8192
	maxBlockData  = 8176 // MS-PST 2.2.2.8.3.1: 8192 less the 16-byte trailer
	blockTrailer  = 16
	amapFirst     = 0x4400
	amapCover     = 496 * 8 * 64 // bytes mapped by one AMap (MS-PST 2.2.2.7.2)
	fmapFirstSize = 128          // AMaps covered by the header's rgbFM
	fmapCount     = 496          // AMaps covered by one FMap page
	fpmapFirst    = 128 * 64     // first AMap region holding an FPMap
	fpmapCount    = 496 * 64     // AMaps between FPMap pages
	xblockMax     = (maxBlockData - 8) / 8
	slEntryMax    = (maxBlockData - 8) / 24
	siEntryMax    = (maxBlockData - 8) / 16
	nbtLeafMax    = pageDataSize / 32 // 15 NBTENTRY per leaf page
	bbtLeafMax    = pageDataSize / 24 // 20 BBTENTRY per leaf page
	btIntMax      = pageDataSize / 24 // 20 BTENTRY per intermediate page
	btEntriesSize = 488
)

// Page types (MS-PST 2.2.2.7.1).
const (
	ptypeBBT   = 0x80
	ptypeNBT   = 0x81
	ptypeFMap  = 0x82
	ptypePMap  = 0x83
	ptypeAMap  = 0x84
	ptypeFPMap = 0x85
)

// bidInternal marks a block that holds NDB structures (XBLOCK, XXBLOCK,
// SLBLOCK, SIBLOCK) rather than node data (MS-PST 2.2.2.2).
const bidInternal = 0x2

// ndb writes the node database: blocks are appended in file order, and the
// allocation map of each 248 KiB region is written when the region is
// full; the B-trees and the header are written by finish.
//
// Memory: the BBT and NBT entries go to temporary files (entrySpill) and
// the B-trees are written from them a page at a time, so what stays is
// one byte per AMap region (for the FMaps), the bitmap of the region being
// filled, and the NBT entries of folders (not of messages).
type ndb struct {
	f        *os.File
	bw       *bufio.Writer
	pos      uint64 // offset of the next byte bw writes
	nextBID  uint64
	nextPage uint64
	bbt      *entrySpill
	nbt      *entrySpill
	rgnid    [32]uint32 // per NID type, the next NID index the file would allocate (MS-PST 2.2.2.6: Outlook's files hold indexes, e.g. 0x10011 for messages, not whole NIDs)
	region   int64      // AMap region being filled, -1 before the first
	bits     []byte     // its allocation bitmap
	freeRun  []byte     // per region: longest free run in 64-byte units, capped at 255
	amapFree uint64     // free bytes in finished regions
}

// newNDB starts the node database in f; its temporary files go to dir.
func newNDB(f *os.File, dir string) (*ndb, error) {
	n := &ndb{f: f, bw: bufio.NewWriterSize(f, 1<<16), nextBID: 4, nextPage: 1, region: -1, bits: make([]byte, pageDataSize)}
	for t := range n.rgnid {
		n.rgnid[t] = 0x400
	}
	var err error
	if n.bbt, err = newEntrySpill(dir, 24); err != nil {
		return nil, err
	}
	if n.nbt, err = newEntrySpill(dir, 32); err != nil {
		n.bbt.close()
		return nil, err
	}
	// The header and the space before the first AMap: written as zeros now,
	// the header at the end.
	if _, err := n.bw.Write(make([]byte, amapFirst)); err != nil {
		n.close()
		return nil, err
	}
	n.pos = amapFirst
	return n, nil
}

// close removes the temporary files.
func (n *ndb) close() {
	n.bbt.close()
	n.nbt.close()
}

func regionStart(r int64) uint64 { return amapFirst + uint64(r)*amapCover }

// mapPages returns how many 512-byte map pages open region r: its AMap,
// then a PMap every 8th region, an FMap and an FPMap at their intervals
// (MS-PST 2.2.2.7.3 to 2.2.2.7.5).
func mapPages(r int64) (n int, pmap, fmap, fpmap bool) {
	n = 1
	if r%8 == 0 {
		pmap = true
		n++
		if r >= fmapFirstSize && (r-fmapFirstSize)%fmapCount == 0 {
			fmap = true
			n++
		}
		if r >= fpmapFirst && (r-fpmapFirst)%fpmapCount == 0 {
			fpmap = true
			n++
		}
	}
	return n, pmap, fmap, fpmap
}

// pad writes zeros up to offset off.
func (n *ndb) pad(off uint64) error {
	for n.pos < off {
		k := min(off-n.pos, 4096)
		if _, err := n.bw.Write(zeros[:k]); err != nil {
			return err
		}
		n.pos += k
	}
	return nil
}

var zeros [4096]byte

// alloc reserves size bytes aligned to align (64 for blocks, 512 for
// pages) in file order, never across an AMap region, and marks them in
// the region's bitmap. It pads the file up to the returned offset.
func (n *ndb) alloc(size, align uint64) (uint64, error) {
	if size > maxBlockSize {
		return 0, fmt.Errorf("pstwrite: allocation of %d bytes", size)
	}
	for {
		off := (n.pos + align - 1) / align * align
		if n.region < 0 || off+size > regionStart(n.region+1) {
			if err := n.openRegion(n.region + 1); err != nil {
				return 0, err
			}
			continue
		}
		if err := n.pad(off); err != nil {
			return 0, err
		}
		n.mark(off, size)
		return off, nil
	}
}

func (n *ndb) mark(off, size uint64) {
	first := (off - regionStart(n.region)) / blockAlign
	last := (off + size - 1 - regionStart(n.region)) / blockAlign
	for i := first; i <= last; i++ {
		n.bits[i/8] |= 0x80 >> (i % 8)
	}
}

// openRegion finishes the current region (writes its AMap) and starts
// region r, writing its map pages.
func (n *ndb) openRegion(r int64) error {
	if n.region >= 0 {
		if err := n.closeRegion(); err != nil {
			return err
		}
	}
	start := regionStart(r)
	if err := n.pad(start); err != nil {
		return err
	}
	n.region = r
	clear(n.bits)
	cnt, pmap, fmap, fpmap := mapPages(r)
	n.mark(start, uint64(cnt)*pageSize)
	// AMap placeholder, written for real by closeRegion.
	if err := n.writeRaw(make([]byte, pageSize)); err != nil {
		return err
	}
	if pmap {
		// MS-PST 2.2.2.7.3: PMaps are deprecated but must be present with
		// valid checksums; all pages are marked available.
		if err := n.writeRaw(mapPage(ptypePMap, n.pos, 0xFF)); err != nil {
			return err
		}
	}
	if fmap {
		// Placeholder: filled in by finish once every region is known.
		if err := n.writeRaw(make([]byte, pageSize)); err != nil {
			return err
		}
	}
	if fpmap {
		if err := n.writeRaw(mapPage(ptypeFPMap, n.pos, 0xFF)); err != nil {
			return err
		}
	}
	return nil
}

func (n *ndb) writeRaw(p []byte) error {
	_, err := n.bw.Write(p)
	n.pos += uint64(len(p))
	return err
}

// mapPage returns a map page at offset ib filled with fill: MS-PST 2.2.2.7
// map pages carry their own offset as BID and a zero signature.
func mapPage(ptype byte, ib uint64, fill byte) []byte {
	p := make([]byte, pageSize)
	for i := range pageDataSize {
		p[i] = fill
	}
	pageTrailer(p, ptype, 0, ib)
	return p
}

// pageTrailer fills the 16-byte PAGETRAILER of a 512-byte page (MS-PST
// 2.2.2.7.1): ptype twice, wSig, the CRC of the 496 data bytes, the BID.
func pageTrailer(p []byte, ptype byte, sig uint16, bid uint64) {
	t := p[pageDataSize:]
	t[0], t[1] = ptype, ptype
	binary.LittleEndian.PutUint16(t[2:], sig)
	binary.LittleEndian.PutUint32(t[4:], crc(p[:pageDataSize]))
	binary.LittleEndian.PutUint64(t[8:], bid)
}

// closeRegion writes the AMap of the current region and records its free
// space.
func (n *ndb) closeRegion() error {
	start := regionStart(n.region)
	free, run, best := uint64(0), 0, 0
	for i := range pageDataSize * 8 {
		if n.bits[i/8]&(0x80>>(i%8)) == 0 {
			free += blockAlign
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	n.amapFree += free
	n.freeRun = append(n.freeRun, byte(min(best, 255)))
	p := make([]byte, pageSize)
	copy(p, n.bits)
	pageTrailer(p, ptypeAMap, 0, start)
	if err := n.bw.Flush(); err != nil {
		return err
	}
	_, err := n.f.WriteAt(p, int64(start))
	return err
}

// writeBlock appends one block (MS-PST 2.2.2.8): the data, zero padding to
// a multiple of 64 and the BLOCKTRAILER (cb, wSig, CRC of the data, BID).
func (n *ndb) writeBlock(data []byte, internal bool) (uint64, error) {
	if len(data) > maxBlockData {
		return 0, fmt.Errorf("pstwrite: block of %d bytes", len(data))
	}
	size := (uint64(len(data)) + blockTrailer + blockAlign - 1) / blockAlign * blockAlign
	off, err := n.alloc(size, blockAlign)
	if err != nil {
		return 0, err
	}
	bid := n.nextBID
	n.nextBID += 4
	if internal {
		bid |= bidInternal
	}
	buf := make([]byte, size)
	copy(buf, data)
	t := buf[size-blockTrailer:]
	binary.LittleEndian.PutUint16(t[0:], uint16(len(data)))
	binary.LittleEndian.PutUint16(t[2:], computeSig(off, bid))
	binary.LittleEndian.PutUint32(t[4:], crc(data))
	binary.LittleEndian.PutUint64(t[8:], bid)
	if err := n.writeRaw(buf); err != nil {
		return 0, err
	}
	// BBTENTRY (MS-PST 2.2.2.7.7.3): BREF, cb, cRef (set when written).
	var e entry
	binary.LittleEndian.PutUint64(e[0:], bid)
	binary.LittleEndian.PutUint64(e[8:], off)
	binary.LittleEndian.PutUint16(e[16:], uint16(len(data)))
	if err := n.bbt.add(e); err != nil {
		return 0, err
	}
	return bid, nil
}

// writeData writes a node's data as one block or, when larger, as a data
// tree of XBLOCKs and an XXBLOCK (MS-PST 2.2.2.8.3.2). chunks are the data
// blocks in order, each at most 8176 bytes; an empty list gives BID 0.
func (n *ndb) writeData(chunks [][]byte) (uint64, error) {
	var w dataTree
	for _, c := range chunks {
		if err := w.add(n, c); err != nil {
			return 0, err
		}
	}
	return w.finish(n)
}

// dataTree collects the leaf BIDs of a stream written block by block, so a
// stream of any length needs 8 bytes of memory per 8 KiB block.
type dataTree struct {
	bids  []uint64
	sizes []uint32
	total uint64
}

func (t *dataTree) add(n *ndb, chunk []byte) error {
	bid, err := n.writeBlock(chunk, false)
	if err != nil {
		return err
	}
	t.bids = append(t.bids, bid)
	t.sizes = append(t.sizes, uint32(len(chunk)))
	t.total += uint64(len(chunk))
	return nil
}

// set records block i of the stream, written out of order.
func (t *dataTree) set(i int, bid uint64, size int) {
	for len(t.bids) <= i {
		t.bids = append(t.bids, 0)
		t.sizes = append(t.sizes, 0)
	}
	t.bids[i], t.sizes[i] = bid, uint32(size)
	t.total += uint64(size)
}

func (t *dataTree) finish(n *ndb) (uint64, error) {
	switch {
	case len(t.bids) == 0:
		return 0, nil
	case len(t.bids) == 1:
		return t.bids[0], nil
	case t.total > 0xFFFFFFFF:
		return 0, errors.New("pstwrite: stream larger than 4 GiB")
	}
	// MS-PST 2.2.2.8.3.2.1: XBLOCK (btype 1, cLevel 1) lists up to 1021
	// data blocks; 2.2.2.8.3.2.2: XXBLOCK (cLevel 2) lists XBLOCKs.
	var xbids []uint64
	for i := 0; i < len(t.bids); i += xblockMax {
		j := min(i+xblockMax, len(t.bids))
		var sum uint64
		for _, s := range t.sizes[i:j] {
			sum += uint64(s)
		}
		bid, err := n.writeBlock(xblock(1, t.bids[i:j], sum), true)
		if err != nil {
			return 0, err
		}
		xbids = append(xbids, bid)
	}
	if len(xbids) == 1 {
		return xbids[0], nil
	}
	if len(xbids) > xblockMax {
		return 0, errors.New("pstwrite: stream too large for an XXBLOCK")
	}
	return n.writeBlock(xblock(2, xbids, t.total), true)
}

func xblock(level byte, bids []uint64, total uint64) []byte {
	b := make([]byte, 8+8*len(bids))
	b[0], b[1] = 0x01, level
	binary.LittleEndian.PutUint16(b[2:], uint16(len(bids)))
	binary.LittleEndian.PutUint32(b[4:], uint32(total))
	for i, bid := range bids {
		binary.LittleEndian.PutUint64(b[8+8*i:], bid)
	}
	return b
}

// writeStream writes r as a data tree, block by block.
func (n *ndb) writeStream(r io.Reader) (bid, size uint64, err error) {
	var t dataTree
	buf := make([]byte, maxBlockData)
	for {
		k, err := io.ReadFull(r, buf)
		if k > 0 {
			if err := t.add(n, buf[:k]); err != nil {
				return 0, 0, err
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return 0, 0, err
		}
	}
	bid, err = t.finish(n)
	return bid, t.total, err
}

// subnode is one entry of a node's subnode tree.
type subnode struct {
	nid       uint32
	data, sub uint64
}

// writeSubnodes writes a subnode tree (MS-PST 2.2.2.8.3.3): SLBLOCKs of up
// to 340 entries sorted by NID, under an SIBLOCK when there are more.
func (n *ndb) writeSubnodes(subs []subnode) (uint64, error) {
	if len(subs) == 0 {
		return 0, nil
	}
	slices.SortFunc(subs, func(a, b subnode) int { return cmp.Compare(a.nid, b.nid) })
	type sl struct {
		first uint32
		bid   uint64
	}
	var leaves []sl
	for i := 0; i < len(subs); i += slEntryMax {
		j := min(i+slEntryMax, len(subs))
		b := make([]byte, 8+24*(j-i))
		b[0], b[1] = 0x02, 0
		binary.LittleEndian.PutUint16(b[2:], uint16(j-i))
		for k, s := range subs[i:j] {
			e := b[8+24*k:]
			binary.LittleEndian.PutUint64(e[0:], uint64(s.nid))
			binary.LittleEndian.PutUint64(e[8:], s.data)
			binary.LittleEndian.PutUint64(e[16:], s.sub)
		}
		bid, err := n.writeBlock(b, true)
		if err != nil {
			return 0, err
		}
		leaves = append(leaves, sl{subs[i].nid, bid})
	}
	if len(leaves) == 1 {
		return leaves[0].bid, nil
	}
	if len(leaves) > siEntryMax {
		return 0, errors.New("pstwrite: too many subnodes")
	}
	b := make([]byte, 8+16*len(leaves))
	b[0], b[1] = 0x02, 1
	binary.LittleEndian.PutUint16(b[2:], uint16(len(leaves)))
	for k, l := range leaves {
		binary.LittleEndian.PutUint64(b[8+16*k:], uint64(l.first))
		binary.LittleEndian.PutUint64(b[16+16*k:], l.bid)
	}
	return n.writeBlock(b, true)
}

// addNode records a top-level node for the NBT.
func (n *ndb) addNode(nid uint32, data, sub uint64, parent uint32) error {
	// NBTENTRY (MS-PST 2.2.2.7.7.4): nid (8 bytes), bidData, bidSub,
	// nidParent, 4 bytes of padding (written as zeros).
	var e entry
	binary.LittleEndian.PutUint64(e[0:], uint64(nid))
	binary.LittleEndian.PutUint64(e[8:], data)
	binary.LittleEndian.PutUint64(e[16:], sub)
	binary.LittleEndian.PutUint32(e[24:], parent)
	if err := n.nbt.add(e); err != nil {
		return err
	}
	if t, idx := nid&0x1F, nid>>5; idx+1 > n.rgnid[t] {
		n.rgnid[t] = idx + 1
	}
	return nil
}

// finish writes the B-trees, the last AMap, the FMaps and the header.
func (n *ndb) finish(uid uint32) error {
	// NBT then BBT, each from its entries in key order, a page at a time.
	// The BBT's own pages are pages, not blocks: writing it does not
	// change it.
	nbt := btreeWriter{n: n, ptype: ptypeNBT}
	err := n.nbt.sorted(func(e []byte) error { return nbt.add(0, binary.LittleEndian.Uint64(e), e) })
	if err != nil {
		return err
	}
	nbtBID, nbtIB, err := nbt.finish()
	if err != nil {
		return err
	}
	bbt := btreeWriter{n: n, ptype: ptypeBBT}
	refs := n.blockRefs()
	err = n.bbt.sorted(func(e []byte) error {
		binary.LittleEndian.PutUint16(e[18:], refs)
		return bbt.add(0, binary.LittleEndian.Uint64(e), e)
	})
	if err != nil {
		return err
	}
	bbtBID, bbtIB, err := bbt.finish()
	if err != nil {
		return err
	}
	// MS-PST 2.6.1.1.2: the file grows by whole AMap regions.
	end := regionStart(n.region + 1)
	if err := n.pad(end); err != nil {
		return err
	}
	if err := n.closeRegion(); err != nil {
		return err
	}
	if err := n.bw.Flush(); err != nil {
		return err
	}
	regions := n.region + 1
	for r := int64(fmapFirstSize); r < regions; r += fmapCount {
		p := make([]byte, pageSize)
		for i := int64(0); i < fmapCount && r+i < regions; i++ {
			p[i] = n.freeRun[r+i]
		}
		ib := regionStart(r) + 2*pageSize
		pageTrailer(p, ptypeFMap, 0, ib)
		if _, err := n.f.WriteAt(p, int64(ib)); err != nil {
			return err
		}
	}
	h := n.header(uid, n.rgnid, end, regions, nbtBID, nbtIB, bbtBID, bbtIB)
	_, err = n.f.WriteAt(h, 0)
	return err
}

// blockRefs is the reference count written for every block: each block
// has one reference, from the node or block that lists it, plus the one
// Outlook counts for the BBT entry itself.
func (n *ndb) blockRefs() uint16 { return 2 }

// header builds the Unicode HEADER (MS-PST 2.2.2.6) with its ROOT (2.2.2.5).
func (n *ndb) header(uid uint32, rgnid [32]uint32, eof uint64, regions int64, nbtBID, nbtIB, bbtBID, bbtIB uint64) []byte {
	h := make([]byte, 564)
	le := binary.LittleEndian
	copy(h[0:], "!BDN")
	le.PutUint16(h[8:], 0x4D53) // wMagicClient "SM"
	le.PutUint16(h[10:], 23)    // wVer: Unicode
	le.PutUint16(h[12:], 19)    // wVerClient
	h[14], h[15] = 0x01, 0x01   // bPlatformCreate, bPlatformAccess
	le.PutUint64(h[32:], n.nextPage)
	le.PutUint32(h[40:], uid)
	for i, v := range rgnid {
		le.PutUint32(h[44+4*i:], v)
	}
	r := h[180:]
	le.PutUint64(r[4:], eof)
	le.PutUint64(r[12:], regionStart(regions-1))
	le.PutUint64(r[20:], n.amapFree) // cbAMapFree
	le.PutUint64(r[28:], n.amapFree) // cbPMapFree: PMaps are all free
	le.PutUint64(r[36:], nbtBID)
	le.PutUint64(r[44:], nbtIB)
	le.PutUint64(r[52:], bbtBID)
	le.PutUint64(r[60:], bbtIB)
	r[68] = 0x02 // fAMapValid: VALID_AMAP2
	for i := range 128 {
		h[256+i] = 0
		if int64(i) < regions {
			h[256+i] = n.freeRun[i]
		}
		h[384+i] = 0xFF // rgbFP
	}
	h[512] = 0x80 // bSentinel
	h[513] = 0    // bCryptMethod: NDB_CRYPT_NONE
	le.PutUint64(h[516:], n.nextBID)
	copy(h[172:180], ownMark(h))           // qwUnused: see Owned
	le.PutUint32(h[4:], crc(h[8:8+471]))   // dwCRCPartial
	le.PutUint32(h[524:], crc(h[8:8+516])) // dwCRCFull
	return h
}
