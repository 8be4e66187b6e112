package msg

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"crmbridge/pst"
)

// objectKind says which header the object's property stream has.
type objectKind int

const (
	kindTop      objectKind = iota // the file's message: 32-byte header
	kindEmbedded                   // an embedded message: 24-byte header
	kindSub                        // a recipient or attachment: 8-byte header
)

// headerSize is the size of the property stream header (MS-OXMSG 2.4.1).
var headerSize = [...]int{kindTop: 32, kindEmbedded: 24, kindSub: 8}

// Property types (MS-OXCDATA 2.11.1) this package needs to tell apart.
const (
	ptObject  = 0x000D
	ptString8 = 0x001E
	ptUnicode = 0x001F
	ptBinary  = 0x0102
	ptGUID    = 0x0048
	mvFlag    = 0x1000
)

// entry is one fixed-size entry of a property stream (MS-OXMSG 2.4.2):
// the property's type and its 8-byte value field.
type entry struct {
	typ   uint16
	value [8]byte
}

// maxObjects bounds the recipients or attachments of one message read from
// its storages' names, so that a damaged directory cannot make us build
// more objects than it has entries.
const maxObjects = 1 << 16

// object is one MAPI object of the file: a message, recipient or
// attachment, backed by a storage.
type object struct {
	f     *File
	st    *storage
	kind  objectKind
	props map[uint16]entry
}

var (
	_ pst.MessageObject    = (*object)(nil)
	_ pst.AttachmentObject = (*object)(nil)
)

// object reads the property stream of storage s.
func (f *File) object(s *storage, kind objectKind) (*object, error) {
	data, err := f.readStream(s, propsStream)
	if err != nil {
		return nil, err
	}
	if data == nil {
		return nil, &Error{File: f.name, Stream: s.join(propsStream), Err: fmt.Errorf("missing")}
	}
	hs := headerSize[kind]
	if len(data) < hs {
		return nil, &Error{File: f.name, Stream: s.join(propsStream), Err: fmt.Errorf("%d bytes, shorter than its %d-byte header", len(data), hs)}
	}
	o := &object{f: f, st: s, kind: kind, props: map[uint16]entry{}}
	// MS-OXMSG 2.4.2.1: 16-byte entries of property tag (4), flags (4) and
	// value (8). A trailing partial entry is ignored.
	for p := hs; p+16 <= len(data); p += 16 {
		tag := binary.LittleEndian.Uint32(data[p:])
		id, typ := uint16(tag>>16), uint16(tag)
		if _, dup := o.props[id]; dup {
			continue
		}
		var e entry
		e.typ = typ
		copy(e.value[:], data[p+8:p+16])
		o.props[id] = e
	}
	return o, nil
}

// fixedSize returns the size of a fixed-size property type's value inside
// the 8-byte field (MS-OXCDATA 2.11.1), or 0 for variable-size types.
func fixedSize(typ uint16) int {
	switch typ {
	case 0x0002: // PtypInteger16
		return 2
	case 0x0003, 0x0004, 0x000A: // PtypInteger32, PtypFloating32, PtypErrorCode
		return 4
	case 0x000B: // PtypBoolean: 1 byte, padded
		return 2
	case 0x0005, 0x0006, 0x0007, 0x0014, 0x0040: // double, currency, floating time, int64, time
		return 8
	}
	return 0
}

// Property returns a property's type and value (pst.Object).
func (o *object) Property(id uint16) (uint16, []byte, bool) {
	e, ok := o.props[id]
	if !ok {
		return o.orphan(id)
	}
	if n := fixedSize(e.typ); n > 0 {
		v := make([]byte, n)
		copy(v, e.value[:n])
		return e.typ, v, true
	}
	if e.typ == ptObject {
		return e.typ, nil, true
	}
	v, err := o.variable(id, e.typ)
	if err != nil || v == nil {
		return e.typ, nil, false
	}
	return e.typ, v, true
}

// orphan finds a variable-size property that has a __substg1.0_ stream but
// no entry in the property stream: some writers leave the entry out, and
// other readers (msgconvert, olefile-based tools) go by stream names.
func (o *object) orphan(id uint16) (uint16, []byte, bool) {
	for _, typ := range []uint16{ptUnicode, ptString8, ptBinary} {
		name := fmt.Sprintf("%s%04X%04X", substgPrefix, id, typ)
		if _, ok := o.st.streams[strings.ToUpper(name)]; !ok {
			continue
		}
		v, err := o.variable(id, typ)
		if err != nil || v == nil {
			return typ, nil, false
		}
		return typ, v, true
	}
	return 0, nil, false
}

// variable reads a variable-size property from its stream(s) (MS-OXMSG
// 2.1.4.1). Multi-valued variable-size values are rebuilt in the layout
// pst expects.
func (o *object) variable(id, typ uint16) ([]byte, error) {
	name := fmt.Sprintf("%s%04X%04X", substgPrefix, id, typ)
	if typ&mvFlag == 0 || fixedSize(typ&^mvFlag) > 0 || typ&^mvFlag == ptGUID {
		// A single value, or a multi-valued fixed-size property whose
		// values are back to back in one stream (MS-OXMSG 2.1.4.1.3).
		return o.f.readStream(o.st, name)
	}
	// MS-OXMSG 2.1.4.1.3: a length stream (4 bytes per string, 8 per
	// binary: length and reserved), then one stream per value named
	// "<name>-XXXXXXXX".
	lens, err := o.f.readStream(o.st, name)
	if err != nil || lens == nil {
		return nil, err
	}
	step := 4
	if typ&^mvFlag == ptBinary {
		step = 8
	}
	n := len(lens) / step
	if n > len(o.st.streams) { // each value is a stream of its own
		return nil, &Error{File: o.f.name, Stream: o.st.join(name), Err: fmt.Errorf("%d values claimed, storage has %d streams", n, len(o.st.streams))}
	}
	vals := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		v, err := o.f.readStream(o.st, fmt.Sprintf("%s-%08X", name, i))
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
	}
	// MS-PST 2.3.3.4.2: count, offsets from the start, values back to back.
	hdr := 4 + 4*len(vals)
	total := hdr
	for _, v := range vals {
		total += len(v)
	}
	out := make([]byte, hdr, total)
	binary.LittleEndian.PutUint32(out, uint32(len(vals)))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(out[4+4*i:], uint32(len(out)))
		out = append(out, v...)
	}
	return out, nil
}

// children returns the sub-storages of o named prefix + 8 hex digits, in
// the order of their numbers (MS-OXMSG 2.2.1, 2.2.2).
func (o *object) children(prefix string) []*storage {
	type numbered struct {
		n uint64
		s *storage
	}
	var list []numbered
	up := strings.ToUpper(prefix)
	for name, s := range o.st.subs {
		if !strings.HasPrefix(name, up) {
			continue
		}
		n, err := strconv.ParseUint(name[len(up):], 16, 32)
		if err != nil {
			continue
		}
		list = append(list, numbered{n, s})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].n < list[j].n })
	out := make([]*storage, len(list))
	for i, e := range list {
		out[i] = e.s
	}
	return out
}

// Recipients returns the recipient objects (pst.MessageObject).
func (o *object) Recipients() ([]pst.Object, error) {
	subs := o.children(recipPrefix)
	if len(subs) > maxObjects {
		return nil, &Error{File: o.f.name, Stream: o.st.path, Err: fmt.Errorf("%d recipients", len(subs))}
	}
	out := make([]pst.Object, 0, len(subs))
	for _, s := range subs {
		r, err := o.f.object(s, kindSub)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Attachments returns the attachment objects (pst.MessageObject).
func (o *object) Attachments() ([]pst.AttachmentObject, error) {
	subs := o.children(attachPrefix)
	if len(subs) > maxObjects {
		return nil, &Error{File: o.f.name, Stream: o.st.path, Err: fmt.Errorf("%d attachments", len(subs))}
	}
	out := make([]pst.AttachmentObject, 0, len(subs))
	for _, s := range subs {
		a, err := o.f.object(s, kindSub)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// tagAttachData is PidTagAttachDataBinary / PidTagAttachDataObject.
const tagAttachData = 0x3701

// Content streams PidTagAttachDataBinary (pst.AttachmentObject).
func (o *object) Content() (func() (io.ReadCloser, error), int64, error) {
	return o.f.openStream(o.st, fmt.Sprintf("%s%04X%04X", substgPrefix, tagAttachData, ptBinary))
}

// Embedded returns the message of an embedded-message attachment: the
// __substg1.0_3701000D storage (MS-OXMSG 2.2.2.1), which has the layout of
// a message with a 24-byte property header (pst.AttachmentObject).
func (o *object) Embedded() (pst.MessageObject, error) {
	name := fmt.Sprintf("%s%04X%04X", substgPrefix, tagAttachData, ptObject)
	s, ok := o.st.subs[strings.ToUpper(name)]
	if !ok {
		return nil, &Error{File: o.f.name, Stream: o.st.join(name), Err: fmt.Errorf("no embedded message storage")}
	}
	m, err := o.f.object(s, kindEmbedded)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// PropertyIDs returns the ids of the properties o holds: those of its
// property stream, and those that have only a value stream (orphan)
// (pst.PropertyLister).
func (o *object) PropertyIDs() []uint16 {
	ids := make([]uint16, 0, len(o.props))
	seen := make(map[uint16]bool, len(o.props))
	for id := range o.props {
		seen[id] = true
		ids = append(ids, id)
	}
	prefix := strings.ToUpper(substgPrefix)
	for name := range o.st.streams {
		// "__substg1.0_" + 4 hex digits of id + 4 of type, nothing more
		// (a multi-valued value's "-XXXXXXXX" streams are not properties).
		if len(name) != len(prefix)+8 || !strings.HasPrefix(name, prefix) {
			continue
		}
		v, err := strconv.ParseUint(name[len(prefix):len(prefix)+4], 16, 16)
		if err != nil || seen[uint16(v)] {
			continue
		}
		seen[uint16(v)] = true
		ids = append(ids, uint16(v))
	}
	return ids
}
