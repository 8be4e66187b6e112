package pst

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Which properties of an e-mail, appointment or task the reader keeps
// beside the Item's fields (Item.Other), by rule, not by list:
//
//  1. the mapping did not read it (bag.read: every property id the
//     mapping asks for is recorded, so a property that becomes a field
//     later leaves this set by itself);
//  2. it is transmittable content, what one user sends another or types:
//     a property tag in the ranges MS-OXPROPS 1.3.3 calls transmittable
//     (0x0001-0x0BFF message envelope, 0x1000-0x2FFF message content,
//     0x4000-0x57FF transport envelope, 0x6800-0x7BFF message-class
//     content), or a named property (0x8000 and above) of the sets users
//     and Outlook forms put item data in (PS_PUBLIC_STRINGS, PSETID_Common,
//     PSETID_Address, PSETID_Task, PSETID_Appointment). The ranges leave out
//     by themselves what a store computes: recipient and non-transmittable
//     message properties (0x0C00-0x0FFF: flags, sizes, entry ids, access),
//     store, folder and table properties (0x3000-0x3FFF: creation and
//     modification times, record and search keys, code pages), provider
//     internal ones (0x6000-0x67FF: source and change keys, row ids) and
//     0x7C00-0x7FFF;
//  3. it is not derived (derivedTags, derivedLIDs): a value a writer
//     recomputes from the item's other values — an entry id or search key
//     standing for a mailbox whose name and address are kept, a copy of the
//     body in another form or its checksums, a duration of a start and an
//     end, a flag summarising the recurrence blob, the version of the
//     program that wrote it. Keeping one would write back a stale copy
//     beside the fresh value;
//  4. it has a value a user can read or a writer can write back: a string,
//     a multi-valued string, a time, an integer, a boolean, a floating
//     point number, or a binary (single or multi-valued) of at most
//     MaxKeptBinary bytes. A larger binary is not kept and is reported
//     (Item.NotKept with its size): 4 KiB holds every id, flag blob and
//     small structure Outlook stores (a conversation index is 22 bytes plus
//     5 per reply, a one-off entry id under 300), while what is larger is
//     content kept elsewhere (bodies, attachments, recurrence blobs) or
//     form data (verb streams, form storages) that no CRM export can use;
//     each kept byte costs two in the store.
//
// Empty strings, zero times, empty binaries and false booleans are left
// out: a false flag says what its absence says. Contacts keep by this rule
// too, and besides by their own (Contact.Other): their string properties of
// 0x3A00-0x3AFF, which the ranges above leave out, but the mailing address
// (a copy of one of the three addresses).

// MaxKeptBinary is the largest binary value kept, in bytes (rule 4).
const MaxKeptBinary = 4096

// Property is one property of an item that no Item field holds, with
// its values as text.
type Property struct {
	ID    uint16 // property id in the file it came from (named: 0x8000 and above, file-specific)
	Name  string // canonical name without "PidTag"/"PidLid" ("ChildrensNames"), the string name of a named property, or "0x3A58" when we know none
	Type  uint16 // MS-OXCDATA 2.11.1 type; 8-bit strings read as PT_UNICODE (0x001F, 0x101F)
	Named *NamedID
	// Values are the values as text: a string as it is; a time in RFC
	// 3339 UTC; an integer or floating point number in decimal; a true boolean
	// "1"; a binary in standard base64. One for a single-valued
	// property, each for a multi-valued one.
	Values []string
	Size   int // a binary not kept (Item.NotKept): its size in bytes
}

// Identity returns p's property name as Outlook's property accessor (DASL)
// spells it, without the "http://schemas.microsoft.com/mapi/" prefix:
// "proptag/0x0070001F" for a property tag, "id/{GUID}/8501000B" for a
// numeric named property, "string/{GUID}/name/0x0000001F" for a string
// named one. It says everything needed to write the value back.
func (p Property) Identity() string {
	switch {
	case p.Named == nil:
		return fmt.Sprintf("proptag/0x%04X%04X", p.ID, p.Type)
	case p.Named.Name == "":
		return fmt.Sprintf("id/%s/%04X%04X", guidString(p.Named.Set), p.Named.LID, p.Type)
	}
	return fmt.Sprintf("string/%s/%s/0x%08X", guidString(p.Named.Set), p.Named.Name, p.Type)
}

// propDef is the MS-OXPROPS name and type of a property (propnames.go).
type propDef struct {
	name string
	typ  uint16
}

// Canonical reports whether p.Name and p.Type are the MS-OXPROPS canonical
// name and type of p's property and no other property of propnames.go has
// that name, so that CanonicalProperty(p.Name) gives p's property back.
func (p Property) Canonical() bool {
	id, named, typ, ok := CanonicalProperty(p.Name)
	if !ok || typ != p.Type {
		return false
	}
	if p.Named == nil {
		return named == nil && id == p.ID
	}
	return named != nil && p.Named.Name == "" && named.Set == p.Named.Set && named.LID == p.Named.LID
}

// canonical maps upper-case canonical names to their properties; a name
// that two properties share maps to ok=false.
var canonical = sync.OnceValue(func() map[string]canonicalProp {
	m := make(map[string]canonicalProp, len(tagProps)+len(lidProps))
	add := func(name string, c canonicalProp) {
		k := strings.ToUpper(name)
		if _, dup := m[k]; dup {
			c = canonicalProp{}
		}
		m[k] = c
	}
	for id, d := range tagProps {
		add(d.name, canonicalProp{id: id, typ: d.typ, ok: true})
	}
	for k, d := range lidProps {
		add(d.name, canonicalProp{named: &NamedID{Set: [16]byte(k.set), LID: k.lid}, typ: d.typ, ok: true})
	}
	return m
})

type canonicalProp struct {
	id    uint16
	named *NamedID
	typ   uint16
	ok    bool
}

// CanonicalProperty returns the property tag, or the numeric named
// property of a kept set, whose MS-OXPROPS canonical name (without
// "PidTag" or "PidLid") is name, case-insensitively, and its type.
func CanonicalProperty(name string) (id uint16, named *NamedID, typ uint16, ok bool) {
	c := canonical()[strings.ToUpper(name)]
	if c.named != nil {
		n := *c.named
		return 0, &n, c.typ, c.ok
	}
	return c.id, nil, c.typ, c.ok
}

// ParseIdentity reads a property identity written by Identity: a tag id
// (Named nil) or a name, and the type. ok is false for anything else.
func ParseIdentity(s string) (id uint16, named *NamedID, typ uint16, ok bool) {
	// Identity writes upper-case hex digits: only those read back.
	hex16 := func(h string) (uint16, bool) {
		v, err := strconv.ParseUint(h, 16, 16)
		return uint16(v), err == nil && upperHex(h)
	}
	switch {
	case strings.HasPrefix(s, "proptag/0x") && len(s) == len("proptag/0x")+8:
		h := s[len("proptag/0x"):]
		id, ok1 := hex16(h[:4])
		typ, ok2 := hex16(h[4:])
		return id, nil, typ, ok1 && ok2 && id != 0 && id < 0x8000
	case strings.HasPrefix(s, "id/{"):
		rest := s[len("id/"):]
		g, ok1 := parseGUIDString(rest)
		if !ok1 || len(rest) != 38+1+8 || rest[38] != '/' {
			return 0, nil, 0, false
		}
		lid, ok2 := hex16(rest[39:43])
		typ, ok3 := hex16(rest[43:])
		return 0, &NamedID{Set: g, LID: uint32(lid)}, typ, ok2 && ok3
	case strings.HasPrefix(s, "string/{"):
		rest := s[len("string/"):]
		g, ok1 := parseGUIDString(rest)
		i := strings.LastIndex(rest, "/0x")
		if !ok1 || len(rest) < 40 || rest[38] != '/' || i < 39 || len(rest)-i != 11 {
			return 0, nil, 0, false
		}
		t, err := strconv.ParseUint(rest[i+3:], 16, 32)
		if err != nil || t > 0xFFFF || i == 39 || !upperHex(rest[i+3:]) {
			return 0, nil, 0, false
		}
		return 0, &NamedID{Set: g, Name: rest[39:i]}, uint16(t), true
	}
	return 0, nil, 0, false
}

// guidString formats a GUID held in Windows byte order as
// "{00062008-0000-0000-C000-000000000046}".
func guidString(g [16]byte) string {
	return fmt.Sprintf("{%08X-%04X-%04X-%X-%X}", binary.LittleEndian.Uint32(g[:]), binary.LittleEndian.Uint16(g[4:]),
		binary.LittleEndian.Uint16(g[6:]), g[8:10], g[10:])
}

// parseGUIDString reads the 38 characters guidString writes.
func parseGUIDString(s string) (g [16]byte, ok bool) {
	if len(s) < 38 || s[0] != '{' || s[37] != '}' || s[9] != '-' || s[14] != '-' || s[19] != '-' || s[24] != '-' ||
		strings.Count(s[1:37], "-") != 4 || !upperHex(strings.ReplaceAll(s[1:37], "-", "")) {
		return g, false
	}
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return [16]byte(mustGUID(s[1:37])), true
}

// upperHex reports whether s is hex digits, letters in upper case.
func upperHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// keptSets are the property sets whose named properties are kept (rule 2).
var keptSets = map[guid]bool{psPublicStrings: true, psetidCommon: true, psetidAddress: true, psetidTask: true, psetidAppt: true}

// transmittable reports whether a property tag id is in a transmittable
// range (rule 2).
func transmittable(id uint16) bool {
	return id >= 0x0001 && id <= 0x0BFF || id >= 0x1000 && id <= 0x2FFF ||
		id >= 0x4000 && id <= 0x57FF || id >= 0x6800 && id <= 0x7BFF
}

// derivedTags are the property tags of the transmittable ranges whose value
// a writer derives from the item's other values (rule 3), besides the
// entry ids and search keys (mailboxID).
var derivedTags = map[uint16]bool{
	// A part of the subject, which is kept whole (MS-OXCMSG:
	// Subject = SubjectPrefix + NormalizedSubject).
	0x003D: true, // SubjectPrefix
	// Other forms of the body and their sync values (MS-OXCMSG,
	// MS-OXRTFCP): the body is kept as text and HTML.
	0x1006: true, // RtfSyncBodyCrc
	0x1007: true, // RtfSyncBodyCount
	0x1008: true, // RtfSyncBodyTag
	0x1009: true, // RtfCompressed
	0x1010: true, // RtfSyncPrefixCount
	0x1011: true, // RtfSyncTrailingCount
	0x1013: true, // Html / BodyHtml
	0x1016: true, // NativeBody
	// Ids a transport gives a message when it sends it, which it gives
	// anew when it is sent again (MS-OXOMSG, MS-OXTNEF), and the icon a
	// client computes from the class and the state (MS-OXOMSG).
	0x0047: true, // MessageSubmissionId
	0x007F: true, // TnefCorrelationKey
	0x1080: true, // IconIndex
}

// derivedLIDs are the numeric named properties whose value a writer derives
// from the item's other values (rule 3).
var derivedLIDs = map[lidKey]bool{
	{psetidAppt, 0x8213}:   true, // AppointmentDuration: end - start
	{psetidAppt, 0x8231}:   true, // RecurrenceType: from the recurrence blob
	{psetidAppt, 0x8235}:   true, // ClipStart: from the recurrence blob
	{psetidAppt, 0x8236}:   true, // ClipEnd
	{psetidAppt, 0x825F}:   true, // AppointmentTimeZoneDefinitionEndDisplay: the zone of the end, which writers derive from the appointment's zone
	{psetidAppt, 0x8238}:   true, // AllAttendeesString: the attendees' names, from the recipient table
	{psetidAppt, 0x823B}:   true, // ToAttendeesString
	{psetidAppt, 0x823C}:   true, // CcAttendeesString
	{psetidCommon, 0x8552}: true, // CurrentVersion: the writing program's build
	{psetidCommon, 0x8554}: true, // CurrentVersionName: its version string
	{psetidCommon, 0x8560}: true, // ReminderSignalTime: the reminder time, or its snoozed time
	// AddressBookProviderEmailList and AddressBookProviderArrayType
	// (MS-OXOCNTC 2.2.1.2.11/12): which of a contact's e-mail and fax
	// slots hold an address, from the slots themselves.
	{psetidAddress, 0x8028}: true,
	{psetidAddress, 0x8029}: true,
}

// derived reports whether property id of b is excluded by rule 3.
func (b *bag) derived(id uint16) bool {
	if id < 0x8000 {
		return derivedTags[id] || mailboxID(tagProps[id].name)
	}
	n, ok := b.f.names.byID[id]
	return ok && n.Name == "" && derivedLID(lidKey{guid(n.Set), n.LID})
}

// derivedLID reports whether a numeric named property is excluded by rule
// 3: listed, or an entry id or search key by its canonical name
// (PidLidEmail1OriginalEntryId...).
func derivedLID(k lidKey) bool {
	return derivedLIDs[k] || mailboxID(lidProps[k].name)
}

// mailboxID reports whether a property tag's canonical name is that of an
// entry id or a search key (PidTag...EntryId, ...EntryIds, ...Entries,
// ...SearchKey): the address book's handle on a mailbox (MS-OXCDATA: a
// one-off entry id holds the name, address type and address again; a
// search key is "TYPE:ADDRESS"). It means something only in the
// store or the address book that made it, and the mailbox's own name and
// address are properties of their own.
func mailboxID(name string) bool {
	return strings.HasSuffix(name, "EntryId") || strings.HasSuffix(name, "EntryIds") ||
		strings.HasSuffix(name, "Entries") || strings.HasSuffix(name, "SearchKey")
}

// unreadKept returns the properties of b that the rule above keeps, and the
// binaries it does not keep for their size, in id order.
func (b *bag) unreadKept() (kept, large []Property) {
	for _, id := range b.allIDs() {
		if b.read[id] {
			continue
		}
		var named *NamedID
		if id >= 0x8000 {
			n, ok := b.f.names.byID[id]
			if !ok || !keptSets[guid(n.Set)] {
				continue
			}
			named = &n
		} else if !transmittable(id) {
			continue
		}
		if b.derived(id) {
			continue
		}
		p, ok := b.keptValue(id)
		if !ok {
			continue
		}
		p.Named = named
		switch {
		case named == nil:
			p.Name = tagProps[id].name
			if p.Name == "" {
				p.Name = fmt.Sprintf("0x%04X", id)
			}
		case named.Name != "":
			p.Name = named.Name
		default:
			p.Name = lidProps[lidKey{guid(named.Set), named.LID}].name
			if p.Name == "" {
				p.Name = fmt.Sprintf("0x%04X", named.LID)
			}
		}
		if p.Size > 0 {
			large = append(large, p)
		} else {
			kept = append(kept, p)
		}
	}
	return kept, large
}

// keptValue reads property id as rule 4 says; ok false when it has no
// value to keep.
func (b *bag) keptValue(id uint16) (Property, bool) {
	v, gp, ok := b.raw(id)
	if !ok {
		return Property{}, false
	}
	p := Property{ID: id, Type: uint16(gp.Type)}
	le := binary.LittleEndian
	text := func(e []byte) string { // the raw bytes decoded once (str would read them again)
		if p.Type == ptUnicode || p.Type == ptMVUnicode {
			return trimNUL(decodeUTF16(e))
		}
		return trimNUL(decodeCodepage(e, b.cp))
	}
	switch p.Type {
	case ptUnicode, ptString8:
		if s := text(v); strings.TrimSpace(s) != "" {
			p.Values = []string{s}
		}
		p.Type = ptUnicode
	case ptMVUnicode, ptMVString8:
		for _, e := range multiValues(v) {
			if s := text(e); strings.TrimSpace(s) != "" {
				p.Values = append(p.Values, s)
			}
		}
		p.Type = ptMVUnicode
	case ptSysTime:
		if len(v) >= 8 {
			if t := filetime(le.Uint64(v)); !t.IsZero() {
				p.Values = []string{t.Format(time.RFC3339Nano)}
			}
		}
	case ptI2:
		if len(v) >= 2 {
			p.Values = []string{strconv.Itoa(int(int16(le.Uint16(v))))}
		}
	case ptLong:
		if len(v) >= 4 {
			p.Values = []string{strconv.Itoa(int(int32(le.Uint32(v))))}
		}
	case ptI8:
		if len(v) >= 8 {
			p.Values = []string{strconv.FormatInt(int64(le.Uint64(v)), 10)}
		}
	case ptBoolean:
		// False is what an absent boolean means (the PidLid and PidTag
		// booleans of MS-OXPROPS are flags that default to false): only
		// true is a value.
		if len(v) >= 1 && v[0] != 0 {
			p.Values = []string{"1"}
		}
	case ptDouble:
		if len(v) >= 8 {
			p.Values = []string{strconv.FormatFloat(math.Float64frombits(le.Uint64(v)), 'g', -1, 64)}
		}
	case ptFloat:
		if len(v) >= 4 {
			p.Values = []string{strconv.FormatFloat(float64(math.Float32frombits(le.Uint32(v))), 'g', -1, 32)}
		}
	case ptBinary:
		if len(v) > MaxKeptBinary {
			p.Size = len(v)
			return p, true
		}
		if len(v) > 0 {
			p.Values = []string{base64.StdEncoding.EncodeToString(v)}
		}
	case ptMVBinary:
		if len(v) > MaxKeptBinary {
			p.Size = len(v)
			return p, true
		}
		for _, e := range multiValues(v) {
			if len(e) > 0 {
				p.Values = append(p.Values, base64.StdEncoding.EncodeToString(e))
			}
		}
	}
	return p, len(p.Values) > 0
}

// allIDs returns the property ids b holds, in order.
func (b *bag) allIDs() []uint16 {
	if b.ext != nil {
		l, ok := b.ext.(PropertyLister)
		if !ok {
			return nil
		}
		ids := l.PropertyIDs()
		sortIDs(ids)
		return ids
	}
	ids := make([]uint16, 0, len(b.props))
	for _, p := range b.props {
		ids = append(ids, p.ID)
	}
	sortIDs(ids)
	out := ids[:0] // a damaged context may repeat an id: once is enough
	for i, id := range ids {
		if i == 0 || id != ids[i-1] {
			out = append(out, id)
		}
	}
	return out
}

// PropertyLister is an Object that can list the ids of the properties it
// holds, which lets the reader keep the properties the mapping did not
// read (Item.Other).
type PropertyLister interface {
	PropertyIDs() []uint16
}

func sortIDs(ids []uint16) {
	for i := 1; i < len(ids); i++ {
		for j := i; j > 0 && ids[j] < ids[j-1]; j-- {
			ids[j], ids[j-1] = ids[j-1], ids[j]
		}
	}
}

// MarshalJSON shows p as its identity, name and values (or size), one
// object (golden files).
func (p Property) MarshalJSON() ([]byte, error) {
	v := struct {
		Property string
		Name     string
		Values   []string `json:",omitempty"`
		Size     int      `json:",omitempty"`
	}{p.Identity(), p.Name, p.Values, p.Size}
	return json.Marshal(v)
}

// Keeps reports whether the reader keeps a property of this identity with
// a value (Item.Other by the rule above; for a contact also Contact.Other:
// strings of 0x3A00-0x3AFF but the mailing address copy) when the mapping
// of the item does not read it. A writer that writes a kept value back as
// its property checks it, so that what it writes is read back the same.
func Keeps(contact bool, id uint16, named *NamedID, typ uint16) bool {
	if contact && named == nil && id >= contactFirst && id <= contactLast && !mailingAddress[id] &&
		(typ == ptUnicode || typ == ptMVUnicode) {
		return true
	}
	switch typ {
	case ptUnicode, ptMVUnicode, ptSysTime, ptI2, ptLong, ptI8, ptBoolean, ptDouble, ptFloat, ptBinary, ptMVBinary:
	default:
		return false
	}
	if named == nil {
		return id < 0x8000 && transmittable(id) && !derivedTags[id] && !mailboxID(tagProps[id].name)
	}
	set := guid(named.Set)
	return keptSets[set] && (named.Name != "" || !derivedLID(lidKey{set, named.LID}))
}
