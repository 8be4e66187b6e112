package pstwrite

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
)

// node is a node being assembled: its subnodes and the next free index
// for LTP subnode NIDs.
type node struct {
	subs    []subnode
	nextSub uint32
}

func (nd *node) subNID(typ uint32) uint32 {
	if nd.nextSub == 0 {
		nd.nextSub = 0x400
	}
	nd.nextSub++
	return nd.nextSub<<5 | typ
}

// value stores a variable-size value in heap h, or in a subnode of nd when
// it is larger than a heap allocation, and returns its HNID.
func (w *Writer) value(h *heap, nd *node, v []byte) (uint32, error) {
	if len(v) <= maxHeapAlloc {
		return h.alloc(v)
	}
	var t dataTree
	for i := 0; i < len(v); i += maxBlockData {
		if err := t.add(w.n, v[i:min(i+maxBlockData, len(v))]); err != nil {
			return 0, err
		}
	}
	bid, err := t.finish(w.n)
	if err != nil {
		return 0, err
	}
	nid := nd.subNID(nidTypeLTP)
	nd.subs = append(nd.subs, subnode{nid: nid, data: bid})
	return nid, nil
}

// tagged is a property with its resolved 16-bit id.
type tagged struct {
	id   uint16
	typ  uint16
	v    []byte
	hnid uint32 // set for a value already stored (a streamed subnode)
}

func (t tagged) tag() uint32 { return uint32(t.id)<<16 | uint32(t.typ) }

// resolve maps keys to property ids (named properties through the
// name-to-id map), drops empty variable-size values and keeps the last of
// duplicate ids, sorted by id.
func (w *Writer) resolve(props []Prop) ([]tagged, error) {
	out := make([]tagged, 0, len(props))
	for _, p := range props {
		id := p.Key.ID
		if p.Key.Name != nil {
			id = w.names.id(*p.Key.Name)
		} else if id >= 0x8000 || id == 0 {
			return nil, fmt.Errorf("pstwrite: tagged property id %#04x", id)
		}
		if fs := fixedSize(p.Type); fs > 0 && len(p.Value) != fs {
			return nil, fmt.Errorf("pstwrite: property %#04x of type %#04x has %d bytes", id, p.Type, len(p.Value))
		}
		if len(p.Value) == 0 && !p.empty {
			continue
		}
		out = append(out, tagged{id: id, typ: p.Type, v: p.Value})
	}
	slices.SortStableFunc(out, func(a, b tagged) int { return int(a.id) - int(b.id) })
	dedup := out[:0]
	for i, t := range out {
		if i+1 < len(out) && out[i+1].id == t.id {
			continue
		}
		dedup = append(dedup, t)
	}
	return dedup, nil
}

// pc encodes a property context (MS-PST 2.3.3): a BTH of 2-byte ids and
// 6-byte (type, value or HNID) records on a heap with client signature
// 0xBC. It returns the heap blocks; large values go to subnodes of nd.
func (w *Writer) pc(props []tagged, nd *node) ([][]byte, error) {
	var h heap
	records := make([][]byte, 0, len(props))
	for _, p := range props {
		r := make([]byte, 8)
		binary.LittleEndian.PutUint16(r[0:], p.id)
		binary.LittleEndian.PutUint16(r[2:], p.typ)
		switch {
		case p.hnid != 0:
			binary.LittleEndian.PutUint32(r[4:], p.hnid)
		case inlinePC(p.typ):
			copy(r[4:], p.v)
		default:
			hnid, err := w.value(&h, nd, p.v)
			if err != nil {
				return nil, err
			}
			binary.LittleEndian.PutUint32(r[4:], hnid)
		}
		records = append(records, r)
	}
	root, err := h.bth(2, 6, records)
	if err != nil {
		return nil, err
	}
	return h.encode(sigPC, root), nil
}

// Row ids and versions of table contexts (MS-PST 2.3.4.1).
const (
	tagLtpRowID  = 0x67F20003
	tagLtpRowVer = 0x67F30003
)

// tcRow is one row of a table context: its row id and cell values by tag.
type tcRow struct {
	id    uint32
	cells map[uint32][]byte
}

// tc writes a table context (MS-PST 2.3.4) with the given columns (row
// id and version are added) and rows, in row id order, and returns its
// data BID.
func (w *Writer) tc(cols []uint32, rows []tcRow, nd *node) (uint64, error) {
	rows = slices.Clone(rows)
	slices.SortStableFunc(rows, func(a, b tcRow) int { return cmp.Compare(a.id, b.id) })
	return w.tcStream(cols, len(rows), func(yield func(tcRow) bool) error {
		for _, r := range rows {
			if !yield(r) {
				break
			}
		}
		return nil
	}, nd)
}

// tcStream is tc for n rows that rows yields one at a time, in increasing
// row id order: the row matrix (in a subnode) is written block by block
// as rows come, and the heap with the rows' values and the row index BTH
// is streamed too, so memory does not grow with the number of rows.
func (w *Writer) tcStream(cols []uint32, n int, rows func(yield func(tcRow) bool) error, nd *node) (uint64, error) {
	seen := map[uint32]bool{tagLtpRowID: true, tagLtpRowVer: true}
	var others []uint32
	for _, c := range cols {
		if !seen[c] {
			seen[c] = true
			others = append(others, c)
		}
	}
	colSize := func(tag uint32) int {
		if s := fixedSize(uint16(tag)); s > 0 {
			return s
		}
		return 4 // HNID
	}
	// MS-PST 2.3.4.1: row id at 0, row version at 4, then the columns by
	// decreasing size; the cell existence bitmap last.
	slices.SortStableFunc(others, func(a, b uint32) int {
		if d := colSize(b) - colSize(a); d != 0 {
			return d
		}
		return cmp.Compare(a, b)
	})
	order := append([]uint32{tagLtpRowID, tagLtpRowVer}, others...)
	type coldesc struct {
		tag  uint32
		ib   int
		cb   int
		ibit int
	}
	descs := make([]coldesc, len(order))
	ib := 0
	var rgib [4]int
	for i, tag := range order {
		s := colSize(tag)
		descs[i] = coldesc{tag, ib, s, i}
		ib += s
		if s >= 4 {
			rgib[0] = ib
		}
		if s >= 2 {
			rgib[1] = ib
		}
		rgib[2] = ib
	}
	rgib[3] = ib + (len(order)+7)/8
	rowSize := rgib[3]

	var h heap
	h.stream(w.n)
	index := bthWriter{h: &h, cbKey: 4, cbEnt: 4}
	// MS-PST 2.3.4.4: a row matrix that fits a heap allocation is one;
	// a larger one is in a subnode, where rows never span blocks: each
	// block holds floor(8176 / row size) rows, and every block but the
	// last is padded to 8176 bytes, so that row i is at (i / per) * 8176 +
	// (i % per) * row size of the stream (go-pst reads it so).
	inHeap := n*rowSize <= maxHeapAlloc
	per := maxBlockData / rowSize
	var t dataTree
	var matrix []byte
	var ferr error
	ri, lastID := 0, uint32(0)
	err := rows(func(r tcRow) bool {
		if ri >= n {
			ferr = fmt.Errorf("pstwrite: more than %d rows", n)
			return false
		}
		row := make([]byte, rowSize)
		ceb := row[rgib[2]:]
		for _, d := range descs {
			var v []byte
			switch d.tag {
			case tagLtpRowID:
				v = binary.LittleEndian.AppendUint32(nil, r.id)
			case tagLtpRowVer:
				v = binary.LittleEndian.AppendUint32(nil, uint32(ri+1))
			default:
				v = r.cells[d.tag]
			}
			if len(v) == 0 {
				continue
			}
			if fixedSize(uint16(d.tag)) > 0 {
				copy(row[d.ib:d.ib+d.cb], v)
			} else {
				hnid, err := w.value(&h, nd, v)
				if err != nil {
					ferr = err
					return false
				}
				binary.LittleEndian.PutUint32(row[d.ib:], hnid)
			}
			ceb[d.ibit/8] |= 0x80 >> (d.ibit % 8)
		}
		matrix = append(matrix, row...)
		// MS-PST 2.3.4.3: the row index, a BTH of row id → row index.
		if ri > 0 && r.id <= lastID {
			ferr = fmt.Errorf("pstwrite: row id %#x after %#x in a table", r.id, lastID)
			return false
		}
		lastID = r.id
		var rec [8]byte
		binary.LittleEndian.PutUint32(rec[0:], r.id)
		binary.LittleEndian.PutUint32(rec[4:], uint32(ri))
		if err := index.add(0, rec[:]); err != nil {
			ferr = err
			return false
		}
		ri++
		if !inHeap && (ri%per == 0 || ri == n) {
			if ri < n {
				matrix = append(matrix, make([]byte, maxBlockData-len(matrix))...)
			}
			if err := t.add(w.n, matrix); err != nil {
				ferr = err
				return false
			}
			matrix = matrix[:0]
		}
		return true
	})
	if err == nil {
		err = ferr
	}
	if err == nil && ri != n {
		err = fmt.Errorf("pstwrite: %d rows, want %d", ri, n)
	}
	if err != nil {
		return 0, err
	}
	var hnidRows uint32
	switch {
	case n == 0:
	case inHeap:
		id, err := h.alloc(matrix)
		if err != nil {
			return 0, err
		}
		hnidRows = id
	default:
		bid, err := t.finish(w.n)
		if err != nil {
			return 0, err
		}
		hnidRows = nd.subNID(nidTypeLTP)
		nd.subs = append(nd.subs, subnode{nid: hnidRows, data: bid})
	}
	rowIndex, err := index.finish()
	if err != nil {
		return 0, err
	}
	info := make([]byte, 22+8*len(order))
	info[0] = sigTC
	info[1] = byte(len(order))
	for i, v := range rgib {
		binary.LittleEndian.PutUint16(info[2+2*i:], uint16(v))
	}
	binary.LittleEndian.PutUint32(info[10:], rowIndex)
	binary.LittleEndian.PutUint32(info[14:], hnidRows)
	// rgTCOLDESC sorted by tag.
	sorted := slices.Clone(descs)
	slices.SortFunc(sorted, func(a, b coldesc) int { return cmp.Compare(a.tag, b.tag) })
	for i, d := range sorted {
		e := info[22+8*i:]
		binary.LittleEndian.PutUint32(e[0:], d.tag)
		binary.LittleEndian.PutUint16(e[4:], uint16(d.ib))
		e[6] = byte(d.cb)
		e[7] = byte(d.ibit)
	}
	root, err := h.alloc(info)
	if err != nil {
		return 0, err
	}
	return h.finishStream(sigTC, root)
}
