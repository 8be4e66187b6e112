package pstwrite

import (
	"encoding/binary"
	"strings"
)

// nameMap assigns property ids 0x8000+ to named properties in the order
// they are first used, and encodes the name-to-id map (MS-PST 2.4.7).
type nameMap struct {
	ids   map[Name]uint16
	order []Name
}

func (m *nameMap) id(n Name) uint16 {
	if m.ids == nil {
		m.ids = map[Name]uint16{}
	}
	if id, ok := m.ids[n]; ok {
		return id
	}
	id := uint16(0x8000 + len(m.order))
	m.ids[n] = id
	m.order = append(m.order, n)
	return id
}

// PS_MAPI and PS_PUBLIC_STRINGS have fixed GUID indexes (MS-PST 2.4.7.1).
var (
	psMAPI          = MustGUID("00020328-0000-0000-C000-000000000046")
	psPublicStrings = MustGUID("00020329-0000-0000-C000-000000000046")
)

const nameBuckets = 251 // PidTagNameidBucketCount as Outlook writes it

// props encodes the map as the properties of the name-to-id map node: the
// GUID, entry and string streams and the hash buckets (MS-PST 2.4.7).
func (m *nameMap) props() []Prop {
	var guids []byte
	gidx := map[GUID]uint16{psMAPI: 1, psPublicStrings: 2}
	var entries, strs []byte
	buckets := make([][]byte, nameBuckets)
	for i, n := range m.order {
		g, ok := gidx[n.Set]
		if !ok {
			g = uint16(3 + len(guids)/16)
			gidx[n.Set] = g
			guids = append(guids, n.Set[:]...)
		}
		// NAMEID (MS-PST 2.4.7.4): dwPropertyID, N | wGuid << 1, wPropIdx.
		var e [8]byte
		var hashKey uint32
		kind := uint16(0)
		if n.Str != "" {
			kind = 1
			name := utf16le(n.Str)
			binary.LittleEndian.PutUint32(e[0:], uint32(len(strs)))
			strs = binary.LittleEndian.AppendUint32(strs, uint32(len(name)))
			strs = append(strs, name...)
			for len(strs)%4 != 0 {
				strs = append(strs, 0)
			}
			hashKey = crc(name)
		} else {
			binary.LittleEndian.PutUint32(e[0:], n.LID)
			hashKey = n.LID
		}
		binary.LittleEndian.PutUint16(e[4:], g<<1|kind)
		binary.LittleEndian.PutUint16(e[6:], uint16(i))
		entries = append(entries, e[:]...)
		// Hash bucket (MS-PST 2.4.7.5): the string's CRC replaces its
		// offset; the bucket is (key ^ (wGuid << 1 | N)) mod count.
		h := e
		binary.LittleEndian.PutUint32(h[0:], hashKey)
		b := (hashKey ^ uint32(g<<1|kind)) % nameBuckets
		buckets[b] = append(buckets[b], h[:]...)
	}
	// Readers (libpff) require the three streams even when empty.
	keep := func(p Prop) Prop { p.empty = true; return p }
	props := []Prop{
		Int32(Tag(0x0001), nameBuckets),    // PidTagNameidBucketCount
		keep(Binary(Tag(0x0002), guids)),   // PidTagNameidStreamGuid
		keep(Binary(Tag(0x0003), entries)), // PidTagNameidStreamEntry
		keep(Binary(Tag(0x0004), strs)),    // PidTagNameidStreamString
	}
	for i, b := range buckets {
		props = append(props, Binary(Tag(uint16(0x1000+i)), b))
	}
	return props
}

// MustGUID parses "00062004-0000-0000-C000-000000000046" into stored
// (Windows) byte order; it panics on a malformed literal.
func MustGUID(s string) GUID {
	s = strings.ReplaceAll(s, "-", "")
	if len(s) != 32 {
		panic("pstwrite: bad GUID " + s)
	}
	var b [16]byte
	for i := range 16 {
		var v byte
		for _, c := range s[2*i : 2*i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			case c >= 'a' && c <= 'f':
				v |= byte(c - 'a' + 10)
			case c >= 'A' && c <= 'F':
				v |= byte(c - 'A' + 10)
			default:
				panic("pstwrite: bad GUID " + s)
			}
		}
		b[i] = v
	}
	var g GUID
	g[0], g[1], g[2], g[3] = b[3], b[2], b[1], b[0]
	g[4], g[5] = b[5], b[4]
	g[6], g[7] = b[7], b[6]
	copy(g[8:], b[8:])
	return g
}
