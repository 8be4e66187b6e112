package pst

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
)

// guid is a GUID in its Windows byte order (as stored in the GUID stream).
type guid [16]byte

// mustGUID parses "00062004-0000-0000-C000-000000000046" into Windows byte
// order (Data1..Data3 little-endian).
func mustGUID(s string) guid {
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 {
		panic("pst: bad GUID literal " + s)
	}
	var g guid
	g[0], g[1], g[2], g[3] = b[3], b[2], b[1], b[0]
	g[4], g[5] = b[5], b[4]
	g[6], g[7] = b[7], b[6]
	copy(g[8:], b[8:])
	return g
}

// PSETIDCrmbridge is the GUID of crmbridge's own property set of named
// properties, in which the PST writer stores what no Outlook property
// holds (Item.RecordID, Item.UID). A random GUID, fixed once.
const PSETIDCrmbridge = "B516C566-B890-484C-A27B-414EF9FDE4EB"

// Property sets of named properties (MS-OXPROPS 1.3.2).
var (
	psMAPI          = mustGUID("00020328-0000-0000-C000-000000000046")
	psPublicStrings = mustGUID("00020329-0000-0000-C000-000000000046")
	// PSETIDCrmbridge is crmbridge's own property set (MS-OXPROPS 1.3.2
	// lets an application define one): the record id and the iCalendar
	// UID of a task that a PST or .msg crmbridge wrote carries, so that
	// re-importing the export finds the same records.
	psetidCrmbridge = mustGUID(PSETIDCrmbridge)
	psetidAddress   = mustGUID("00062004-0000-0000-C000-000000000046")
	psetidAppt      = mustGUID("00062002-0000-0000-C000-000000000046")
	psetidTask      = mustGUID("00062003-0000-0000-C000-000000000046")
	psetidCommon    = mustGUID("00062008-0000-0000-C000-000000000046")
	psetidMeeting   = mustGUID("6ED8DA90-450B-101B-98DA-00AA003F1305")
)

type lidKey struct {
	set guid
	lid uint32
}

type nameKey struct {
	set  guid
	name string // lower-cased: string names compare case-insensitively
}

// nameMap resolves named properties to the property ids this file uses
// (MS-PST 2.4.7: the name-to-id map, NID 0x61). go-pst v6.0.2 builds one
// but never uses it, and keys string names without their property set.
type nameMap struct {
	byLID  map[lidKey]uint16
	byName map[nameKey]uint16
	// byID is the reverse: what a named property id of this file names,
	// for keeping named properties the mapping did not read (unread.go).
	byID map[uint16]NamedID
}

// NamedID is the name of a named property (MS-OXCDATA 2.6.1 PropertyName):
// its property set, and a numeric LID or a string Name.
type NamedID struct {
	Set  [16]byte // the set's GUID in its Windows byte order
	LID  uint32   // when Name is ""
	Name string
}

// lid returns the property id of numeric named property (set, lid).
func (m *nameMap) lid(set guid, lid uint32) (uint16, bool) {
	if m == nil {
		return 0, false
	}
	id, ok := m.byLID[lidKey{set, lid}]
	return id, ok
}

// name returns the property id of string named property (set, name).
func (m *nameMap) name(set guid, name string) (uint16, bool) {
	if m == nil {
		return 0, false
	}
	id, ok := m.byName[nameKey{set, strings.ToLower(name)}]
	return id, ok
}

// Name-to-id map properties (MS-PST 2.4.7).
const (
	tagNameidBucketCount  = 0x0001
	tagNameidStreamGUID   = 0x0002
	tagNameidStreamEntry  = 0x0003
	tagNameidStreamString = 0x0004
)

// readNameMap reads the GUID, entry and string streams of NID 0x61. A file
// without one (rare) yields an empty map.
func (f *File) readNameMap() (*nameMap, error) {
	m := &nameMap{byLID: map[lidKey]uint16{}, byName: map[nameKey]uint16{}}
	b, err := f.nodeBag(nidNameToIDMap)
	if err != nil {
		return m, nil //nolint:nilerr // named properties are then unresolved, not fatal
	}
	return parseNameMap(b.bytes(tagNameidStreamGUID), b.bytes(tagNameidStreamEntry), b.bytes(tagNameidStreamString)), nil
}

// parseNameMap reads the GUID, entry and string streams of a name-to-id
// map (MS-PST 2.4.7, MS-OXMSG 2.2.3: the same layout).
func parseNameMap(guids, entries, strs []byte) *nameMap {
	m := &nameMap{byLID: map[lidKey]uint16{}, byName: map[nameKey]uint16{}, byID: map[uint16]NamedID{}}
	// MS-PST 2.4.7.1 NAMEID: dwPropertyID (4), N:1 + wGuid:15 (2), wPropIdx (2).
	for i := 0; i+8 <= len(entries); i += 8 {
		e := entries[i : i+8]
		propID := binary.LittleEndian.Uint32(e)
		g := binary.LittleEndian.Uint16(e[4:])
		isString := g&1 == 1
		wGUID := int(g >> 1)
		id := 0x8000 + uint32(binary.LittleEndian.Uint16(e[6:]))
		if id > 0xFFFF {
			continue
		}
		var set guid
		switch wGUID {
		case 0:
			continue
		case 1:
			set = psMAPI
		case 2:
			set = psPublicStrings
		default:
			off := (wGUID - 3) * 16
			if off+16 > len(guids) {
				continue
			}
			copy(set[:], guids[off:off+16])
		}
		if !isString {
			m.byLID[lidKey{set, propID}] = uint16(id)
			m.byID[uint16(id)] = NamedID{Set: [16]byte(set), LID: propID}
			continue
		}
		// MS-PST 2.4.7.4: string stream entry = 4-byte length, UTF-16LE name.
		off := int(propID)
		if off < 0 || off+4 > len(strs) {
			continue
		}
		n := int(binary.LittleEndian.Uint32(strs[off:]))
		if n < 0 || n > len(strs)-off-4 {
			continue
		}
		name := decodeUTF16(strs[off+4 : off+4+n])
		m.byName[nameKey{set, strings.ToLower(name)}] = uint16(id)
		m.byID[uint16(id)] = NamedID{Set: [16]byte(set), Name: name}
	}
	return m
}
