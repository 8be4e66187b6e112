package pst

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	gopst "github.com/mooijtech/go-pst/v6/pkg"
)

// Property types (MS-OXCDATA 2.11.1).
const (
	ptI2        = 0x0002
	ptLong      = 0x0003
	ptFloat     = 0x0004
	ptDouble    = 0x0005
	ptBoolean   = 0x000B
	ptObject    = 0x000D
	ptI8        = 0x0014
	ptString8   = 0x001E
	ptUnicode   = 0x001F
	ptSysTime   = 0x0040
	ptBinary    = 0x0102
	ptMVString8 = 0x101E
	ptMVUnicode = 0x101F
	ptMVBinary  = 0x1102
)

// bag is the set of properties of one object (a property context, or one
// row of a table context) with what is needed to read their values.
type bag struct {
	f     *File
	props []gopst.Property
	hon   *gopst.HeapOnNode
	lds   []gopst.LocalDescriptor
	cp    int    // code page of 8-bit strings
	ext   Object // an object held outside a PST (a .msg): props, hon and lds are unused
	// read, when not nil, records every property id asked for (raw): what
	// the mapping read, so that the rest can be kept (unreadStrings).
	read map[uint16]bool
}

// nodeBag reads the property context of a top-level node (folder, message,
// message store, name-to-id map).
func (f *File) nodeBag(nid uint32) (*bag, error) {
	n, err := f.pst.GetNodeBTreeNode(gopst.Identifier(nid))
	if err != nil {
		return nil, fmt.Errorf("node %#x: %w", nid, err)
	}
	lds, err := f.localDescriptors(n.LocalDescriptorsIdentifier)
	if err != nil {
		return nil, fmt.Errorf("node %#x: subnodes: %w", nid, err)
	}
	hon, err := f.heapFromBID(n.DataIdentifier)
	if err != nil {
		return nil, fmt.Errorf("node %#x: %w", nid, err)
	}
	pc, err := f.pst.GetPropertyContext(hon)
	if err != nil {
		return nil, fmt.Errorf("node %#x: property context: %w", nid, err)
	}
	return &bag{f: f, props: pc.Properties, hon: hon, lds: lds, cp: f.storeCP}, nil
}

// subnodeBag reads the property context held in a subnode (an attachment,
// an embedded message), with that subnode's own subnodes.
func (f *File) subnodeBag(ld gopst.LocalDescriptor) (*bag, error) {
	lds, err := f.localDescriptors(ld.LocalDescriptorsIdentifier)
	if err != nil {
		return nil, fmt.Errorf("subnode %#x: subnodes: %w", ld.Identifier, err)
	}
	hon, err := f.heapFromBID(ld.DataIdentifier)
	if err != nil {
		return nil, fmt.Errorf("subnode %#x: %w", ld.Identifier, err)
	}
	pc, err := f.pst.GetPropertyContext(hon)
	if err != nil {
		return nil, fmt.Errorf("subnode %#x: property context: %w", ld.Identifier, err)
	}
	return &bag{f: f, props: pc.Properties, hon: hon, lds: lds, cp: f.storeCP}, nil
}

// heapFromBID returns the heap-on-node (or plain data tree) stored under a
// block id, after checking the data tree's shape so that go-pst cannot loop
// or allocate without bound on a damaged file.
func (f *File) heapFromBID(bid gopst.Identifier) (*gopst.HeapOnNode, error) {
	bn, err := f.pst.GetBlockBTreeNode(bid)
	if err != nil {
		return nil, fmt.Errorf("block %#x: %w", bid, err)
	}
	if err := f.checkDataTree(bn, 0); err != nil {
		return nil, fmt.Errorf("block %#x: %w", bid, err)
	}
	hon, err := f.pst.GetHeapOnNode(bn)
	if err != nil {
		return nil, fmt.Errorf("block %#x: %w", bid, err)
	}
	return hon, nil
}

// errBadDataTree reports an XBLOCK/XXBLOCK tree that does not match MS-PST.
var errBadDataTree = errors.New("damaged data tree (XBLOCK/XXBLOCK)")

// checkDataTree verifies an internal data block (MS-PST 2.2.2.8.3.2): an
// XXBLOCK (level 2) may only point to XBLOCKs (level 1), which point to
// data blocks; the total size must fit in the file. go-pst recurses without
// such checks.
func (f *File) checkDataTree(bn gopst.BTreeNode, depth int) error {
	if bn.Identifier&0x02 == 0 { // external block: plain data
		if bn.FileOffset < 0 || bn.FileOffset+int64(bn.Size) > f.size {
			return fmt.Errorf("%w: block outside the file", errBadDataTree)
		}
		return nil
	}
	if depth > 1 {
		return fmt.Errorf("%w: nested too deep", errBadDataTree)
	}
	var h [8]byte
	if _, err := f.cache.ReadAt(h[:], bn.FileOffset); err != nil {
		return fmt.Errorf("%w: %v", errBadDataTree, err)
	}
	level := int(h[1])
	count := int(binary.LittleEndian.Uint16(h[2:]))
	total := int64(binary.LittleEndian.Uint32(h[4:]))
	if h[0] != 1 || level < 1 || level > 2 || (depth == 1 && level != 1) || total > f.size {
		return fmt.Errorf("%w: bad header", errBadDataTree)
	}
	if level == 1 {
		return nil
	}
	idSize := 8
	if f.format == "ansi" {
		idSize = 4
	}
	ids := make([]byte, count*idSize)
	if _, err := f.cache.ReadAt(ids, bn.FileOffset+8); err != nil {
		return fmt.Errorf("%w: %v", errBadDataTree, err)
	}
	for i := 0; i < count; i++ {
		id := gopst.Identifier(binary.LittleEndian.Uint32(ids[i*idSize:]))
		child, err := f.pst.GetBlockBTreeNode(id)
		if err != nil {
			return fmt.Errorf("%w: %v", errBadDataTree, err)
		}
		if child.Identifier&0x02 == 0 {
			return fmt.Errorf("%w: XXBLOCK entry is not an XBLOCK", errBadDataTree)
		}
		if err := f.checkDataTree(child, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// localDescriptors reads a subnode b-tree (MS-PST 2.2.2.8.3.3: SLBLOCK
// leaves and SIBLOCK branches; go-pst reads leaves only).
func (f *File) localDescriptors(bid gopst.Identifier) ([]gopst.LocalDescriptor, error) {
	if bid == 0 {
		return nil, nil
	}
	var out []gopst.LocalDescriptor
	if err := f.readSubnodeBlock(bid, 0, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func (f *File) readSubnodeBlock(bid gopst.Identifier, depth int, out *[]gopst.LocalDescriptor) error {
	if depth > 4 {
		return errors.New("subnode b-tree too deep")
	}
	bn, err := f.pst.GetBlockBTreeNode(bid)
	if err != nil {
		return fmt.Errorf("subnode block %#x: %w", bid, err)
	}
	if bn.Size < 8 || bn.FileOffset < 0 || bn.FileOffset+int64(bn.Size) > f.size {
		return fmt.Errorf("subnode block %#x: bad size", bid)
	}
	data := make([]byte, bn.Size)
	if _, err := f.cache.ReadAt(data, bn.FileOffset); err != nil {
		return fmt.Errorf("subnode block %#x: %w", bid, err)
	}
	if data[0] != 2 {
		return fmt.Errorf("subnode block %#x: bad signature %d", bid, data[0])
	}
	level := data[1]
	count := int(binary.LittleEndian.Uint16(data[2:]))
	ansi := f.format == "ansi"
	start, idSize := 8, 8
	if ansi {
		start, idSize = 4, 4
	}
	entry := 3 * idSize // SLENTRY: nid, bidData, bidSub
	if level > 0 {
		entry = 2 * idSize // SIENTRY: nid, bidSub
	}
	if start+count*entry > len(data) {
		return fmt.Errorf("subnode block %#x: %d entries do not fit", bid, count)
	}
	id := func(b []byte) gopst.Identifier { return gopst.Identifier(binary.LittleEndian.Uint32(b)) }
	for i := 0; i < count; i++ {
		e := data[start+i*entry:]
		if level == 0 {
			*out = append(*out, gopst.LocalDescriptor{
				Identifier:                 id(e),
				DataIdentifier:             id(e[idSize:]),
				LocalDescriptorsIdentifier: id(e[2*idSize:]),
			})
			continue
		}
		if err := f.readSubnodeBlock(id(e[idSize:]), depth+1, out); err != nil {
			return err
		}
	}
	return nil
}

// find returns the property with the given id, if present.
func (b *bag) find(id uint16) (gopst.Property, bool) {
	if b == nil {
		return gopst.Property{}, false
	}
	for _, p := range b.props {
		if p.ID == id {
			return p, true
		}
	}
	return gopst.Property{}, false
}

// reader returns an io.ReaderAt over a variable-size value and its size.
func (b *bag) reader(p gopst.Property) (io.ReaderAt, int64, error) {
	if len(p.Data) > 0 {
		return nil, 0, errors.New("inline value")
	}
	if p.HNID == 0 {
		return emptyReader{}, 0, nil
	}
	if p.HNID&0x1F != 0 { // a subnode, not a heap id: check its data tree first
		ld, err := gopst.FindLocalDescriptor(p.HNID, b.lds)
		if err != nil {
			return nil, 0, fmt.Errorf("property %#04x: %w", p.ID, err)
		}
		bn, err := b.f.pst.GetBlockBTreeNode(ld.DataIdentifier)
		if err != nil {
			return nil, 0, fmt.Errorf("property %#04x: %w", p.ID, err)
		}
		if err := b.f.checkDataTree(bn, 0); err != nil {
			return nil, 0, fmt.Errorf("property %#04x: %w", p.ID, err)
		}
	}
	r, err := gopst.NewPropertyReader(p, b.hon, b.f.pst, b.lds)
	if err != nil {
		return nil, 0, err
	}
	size := r.Size()
	if size < 0 || size > b.f.size || size > maxPropertyBytes {
		return nil, 0, fmt.Errorf("property %#04x: size %d out of range", p.ID, size)
	}
	return &r, size, nil
}

type emptyReader struct{}

func (emptyReader) ReadAt([]byte, int64) (int, error) { return 0, io.EOF }

// raw returns the bytes of property id: the inline data of small values, or
// the whole variable-size value. Errors read as absent.
func (b *bag) raw(id uint16) ([]byte, gopst.Property, bool) {
	return b.rawInto(id, nil)
}

// rawInto is raw reading a value stored outside the property context into
// *buf (grown as needed) instead of a new slice, when buf is not nil: for
// a caller that drops the bytes once decoded.
func (b *bag) rawInto(id uint16, buf *[]byte) ([]byte, gopst.Property, bool) {
	if b != nil && b.read != nil {
		b.read[id] = true
	}
	if b != nil && b.ext != nil {
		typ, v, ok := b.ext.Property(id)
		return v, gopst.Property{ID: id, Type: gopst.PropertyType(typ)}, ok
	}
	p, ok := b.find(id)
	if !ok {
		return nil, p, false
	}
	if len(p.Data) > 0 {
		return p.Data, p, true
	}
	r, size, err := b.reader(p)
	if err != nil {
		return nil, p, false
	}
	var v []byte
	switch {
	case buf == nil:
		v = make([]byte, size)
	case int64(cap(*buf)) < size:
		*buf = make([]byte, size)
		v = *buf
	default:
		v = (*buf)[:size]
	}
	if size > 0 {
		if n, err := r.ReadAt(v, 0); int64(n) < size {
			_ = err
			return nil, p, false
		}
	}
	return v, p, true
}

// strBufs holds the buffers str reads long values into: the raw bytes are
// garbage once decoded (every decoder copies), and reading them into a new
// slice each time was about 4 % of the bytes an enron.pst import
// allocated. Buffers above maxStrBuf are not kept.
var strBufs = sync.Pool{New: func() any { return new([]byte) }}

const maxStrBuf = 1 << 20

// bytes returns a binary (or any variable-size) property's raw bytes.
func (b *bag) bytes(id uint16) []byte {
	v, _, ok := b.raw(id)
	if !ok {
		return nil
	}
	return v
}

// str returns a string property (PT_UNICODE, or PT_STRING8 decoded with the
// bag's code page).
func (b *bag) str(id uint16) string {
	buf := strBufs.Get().(*[]byte)
	defer func() {
		if cap(*buf) > maxStrBuf {
			*buf = nil
		}
		strBufs.Put(buf)
	}()
	v, p, ok := b.rawInto(id, buf)
	if !ok {
		return ""
	}
	switch p.Type {
	case ptUnicode:
		return trimNUL(decodeUTF16(v))
	case ptString8:
		return trimNUL(decodeCodepage(v, b.cp))
	case ptBinary: // some writers store text as binary
		return trimNUL(decodeCodepage(v, b.cp))
	}
	return ""
}

// int returns an integer property (PT_I2, PT_LONG, PT_BOOLEAN, PT_I8).
func (b *bag) int(id uint16) (int, bool) {
	v, p, ok := b.raw(id)
	if !ok {
		return 0, false
	}
	switch p.Type {
	case ptI2:
		if len(v) >= 2 {
			return int(int16(binary.LittleEndian.Uint16(v))), true
		}
	case ptLong:
		if len(v) >= 4 {
			return int(int32(binary.LittleEndian.Uint32(v))), true
		}
	case ptBoolean:
		if len(v) >= 1 {
			if v[0] != 0 {
				return 1, true
			}
			return 0, true
		}
	case ptI8:
		if len(v) >= 8 {
			return int(int64(binary.LittleEndian.Uint64(v))), true
		}
	}
	return 0, false
}

// bool returns a PT_BOOLEAN (or integer) property as a bool.
func (b *bag) bool(id uint16) bool {
	v, ok := b.int(id)
	return ok && v != 0
}

// float returns a PT_DOUBLE or PT_FLOAT property.
func (b *bag) float(id uint16) (float64, bool) {
	v, p, ok := b.raw(id)
	if !ok {
		return 0, false
	}
	switch {
	case p.Type == ptDouble && len(v) >= 8:
		return math.Float64frombits(binary.LittleEndian.Uint64(v)), true
	case p.Type == ptFloat && len(v) >= 4:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(v))), true
	}
	if i, ok := b.int(id); ok {
		return float64(i), true
	}
	return 0, false
}

// time returns a PT_SYSTIME property in UTC, or the zero time.
func (b *bag) time(id uint16) time.Time {
	v, p, ok := b.raw(id)
	if !ok || p.Type != ptSysTime || len(v) < 8 {
		return time.Time{}
	}
	return filetime(binary.LittleEndian.Uint64(v))
}

// filetime converts a Windows FILETIME (100 ns since 1601-01-01 UTC).
// 0 and the "none" value 0x0CA8A4E2A3E3D800 (4501-01-01) give the zero time.
func filetime(ft uint64) time.Time {
	if ft == 0 || ft >= 0x0CA8A4E2A3E3D800 || ft == math.MaxUint64 {
		return time.Time{}
	}
	const epochDiff = 116444736000000000 // 1601 → 1970 in 100 ns
	if ft < epochDiff {
		secs := int64((epochDiff - ft) / 1e7)
		ns := int64((epochDiff - ft) % 1e7 * 100)
		return time.Unix(-secs, -ns).UTC()
	}
	d := ft - epochDiff
	return time.Unix(int64(d/1e7), int64(d%1e7)*100).UTC()
}

// strings returns a multi-valued string property (PT_MV_UNICODE or
// PT_MV_STRING8; MS-PST 2.3.3.4.2 / MS-OXCDATA: count, offsets, data).
func (b *bag) strings(id uint16) []string {
	v, p, ok := b.raw(id)
	if !ok {
		return nil
	}
	switch p.Type {
	case ptMVUnicode, ptMVString8:
		var out []string
		for _, e := range multiValues(v) {
			if p.Type == ptMVUnicode {
				out = append(out, trimNUL(decodeUTF16(e)))
			} else {
				out = append(out, trimNUL(decodeCodepage(e, b.cp)))
			}
		}
		return out
	case ptUnicode, ptString8:
		if s := b.str(id); s != "" {
			return []string{s}
		}
	}
	return nil
}

// binaries returns a multi-valued binary property (PT_MV_BINARY).
func (b *bag) binaries(id uint16) [][]byte {
	v, p, ok := b.raw(id)
	if !ok || p.Type != ptMVBinary {
		return nil
	}
	return multiValues(v)
}

// multiValues splits a variable-size multi-valued property: ulCount, then
// ulCount 32-bit offsets, then the values back to back. Counts and offsets
// are checked against the value's length.
func multiValues(v []byte) [][]byte {
	if len(v) < 4 {
		return nil
	}
	n := int(binary.LittleEndian.Uint32(v))
	if n <= 0 || n > (len(v)-4)/4 {
		return nil
	}
	out := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		start := int(binary.LittleEndian.Uint32(v[4+4*i:]))
		end := len(v)
		if i+1 < n {
			end = int(binary.LittleEndian.Uint32(v[4+4*(i+1):]))
		}
		if start < 4+4*n || start > end || end > len(v) {
			return out
		}
		out = append(out, v[start:end])
	}
	return out
}
