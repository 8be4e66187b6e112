package bridge

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"crmbridge/bridge/item"
	"crmbridge/crm"
	"crmbridge/pst"
	"crmbridge/pstwrite"
)

// ExtraMAPI is the parameter of an extra value kept from a named PST or
// .msg property that its name alone does not identify (keptExtra): the
// property's name as Outlook's property accessor spells it, without
// "http://schemas.microsoft.com/mapi/"
// ("id/{00062008-0000-0000-C000-000000000046}/8506000B",
// "string/{00020329-0000-0000-C000-000000000046}/name/0x0000001F"). It
// says which property to write the value back to, and of which type.
const ExtraMAPI = "X-MAPI"

// pstKeptExtras adds to rec the values of the properties the PST reader
// kept beside an e-mail's, appointment's or task's fields (pst.Item.Other,
// rule in pst/kept.go), named as keptExtra says. A string value some column
// or party already holds (the conversation topic that is the subject, the
// sender's name), or a field of the kept header block holds, and a time a
// column holds (PidTagStartDate, PidLidCommonStart: the start again), is
// not a new value and is left out, as a contact's are (pstContact).
// Numbers are not compared: a small integer equal to a column's is a
// coincidence more often than a copy.
func pstKeptExtras(it *pst.Item, in *crm.Incoming) {
	rec := &in.Record
	// A single-valued property is held once by its item: an older
	// version of the item does not add its value beside the newer
	// version's (crm.Incoming.Once). So are the values the mapping names
	// itself (pstOnce).
	if in.Once == nil {
		in.Once = map[string]bool{}
	}
	for n := range pstOnce {
		in.Once[n] = true
	}
	for _, p := range it.Other {
		if p.Type&0x1000 == 0 {
			in.Once[keptExtra(p).Name] = true
		}
	}
	if it.Contact != nil {
		for _, p := range it.Contact.Other {
			if p.Type&0x1000 == 0 {
				in.Once["X-MS-"+strings.ToUpper(p.Name)] = true
			}
		}
	}
	if len(it.Other) == 0 {
		return
	}
	held := make(map[string]bool, len(rec.Fields)+2*len(rec.Parties))
	for _, v := range rec.Fields {
		held[v] = true
	}
	for _, p := range rec.Parties {
		held[p.Name] = true
		held[p.Address] = true
	}
	headers := rec.Fields["headers"]
	for _, p := range it.Other {
		x := keptExtra(p)
		for _, v := range p.Values {
			if p.Type&^0x1000 == 0x001F && (held[v] || held[strings.TrimSpace(v)] || headerHolds(headers, v)) ||
				p.Type == 0x0040 && held[v] {
				continue
			}
			x.Value = v
			rec.Extras = append(rec.Extras, x)
		}
	}
}

// keptExtra names the extra values of a kept property, so that the name
// says which property to write them back to, and as which type, in the
// fewest bytes (an enron.pst mail keeps five or six):
//   - a property whose name and type are its MS-OXPROPS ones
//     (pst.Property.Canonical): X-MS-<NAME> ("X-MS-CONVERSATIONINDEX");
//   - another property tag: X-MS-0X<id><type> ("X-MS-0X7203001F");
//   - another named property: X-MS-<its name or LID> with the ExtraMAPI
//     parameter.
func keptExtra(p pst.Property) crm.Extra {
	switch {
	case p.Canonical():
		return crm.Extra{Name: "X-MS-" + strings.ToUpper(p.Name)}
	case p.Named == nil:
		return crm.Extra{Name: fmt.Sprintf("X-MS-0X%04X%04X", p.ID, p.Type)}
	}
	return crm.Extra{Name: "X-MS-" + extraName(p.Name), Params: map[string]string{ExtraMAPI: p.Identity()}}
}

// headerHolds reports whether the kept transport header block holds v as
// the whole value of one of its fields (MS-OXCMAIL 2.2.3: the reader of the
// headers derives PidTagInternetOrganization, PidTagOriginalMessageId...
// from them).
func headerHolds(headers, v string) bool {
	v = strings.TrimSpace(v)
	if headers == "" || v == "" {
		return false
	}
	for i := 0; ; {
		j := strings.Index(headers[i:], v)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(v)
		before := strings.TrimRight(headers[:j], " \t")
		if strings.HasSuffix(before, ":") && (end == len(headers) || headers[end] == '\r' || headers[end] == '\n') {
			return true
		}
		i = j + 1
	}
}

// extraName makes an extra's name of a property name: upper case, and
// what is not a letter, a digit or '-' (RFC 5545 3.1 / RFC 6350 3.3
// names) as '-'.
func extraName(s string) string {
	b := []byte(strings.ToUpper(s))
	for i, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '-'
		}
	}
	return string(b)
}

// pstNotKept returns the warnings for the binaries the reader left out for
// their size (pst.Item.NotKept): they are counted in the import's summary.
func pstNotKept(pos string, it *pst.Item) []error {
	var out []error
	for _, p := range it.NotKept {
		out = append(out, item.Warnf(pos, "property %s (%s): binary value of %d bytes not kept (the limit is %d)", p.Name, p.Identity(), p.Size, pst.MaxKeptBinary))
	}
	return out
}

// pstOnce are the extras the PST mapping gives from a single value of
// the item (pstEmail, pstContact): the mailbox a mail was sent on behalf
// of, a contact's display name, profession, manager, assistant,
// assistant's phone, home fax beside a business fax, and its streets of
// more than three lines (one per address, told apart by TYPE).
var pstOnce = map[string]bool{crm.ExtraSender: true, "FN": true, "ROLE": true, "X-MS-MANAGER": true,
	"X-MS-ASSISTANT": true, "X-MS-TEL": true, "TEL": true, "X-MS-STREET": true}

// extraProperty returns the MAPI property an extra value names (keptExtra:
// X-MS-<MS-OXPROPS name>, X-MS-0X<id><type>, or the ExtraMAPI parameter),
// ok false for an extra that names none.
func extraProperty(x crm.Extra) (id uint16, named *pst.NamedID, typ uint16, ok bool) {
	rest, isMS := strings.CutPrefix(x.Name, "X-MS-")
	switch {
	case !isMS:
		return 0, nil, 0, false
	case len(x.Params) == 1 && x.Params[ExtraMAPI] != "":
		return pst.ParseIdentity(x.Params[ExtraMAPI])
	case len(x.Params) > 0:
		return 0, nil, 0, false
	case len(rest) == 10 && strings.HasPrefix(rest, "0X"):
		return pst.ParseIdentity("proptag/0x" + rest[2:])
	}
	return pst.CanonicalProperty(rest)
}

// extraKey is the pstwrite key of a property.
func extraKey(id uint16, named *pst.NamedID) pstwrite.Key {
	switch {
	case named == nil:
		return pstwrite.Tag(id)
	case named.Name != "":
		return pstwrite.NameString(pstwrite.GUID(named.Set), named.Name)
	}
	return pstwrite.LID(pstwrite.GUID(named.Set), named.LID)
}

// sameKey reports whether two pstwrite keys name one property.
func sameKey(a, b pstwrite.Key) bool {
	if (a.Name == nil) != (b.Name == nil) {
		return false
	}
	if a.Name == nil {
		return a.ID == b.ID
	}
	return a.Name.Set == b.Name.Set && a.Name.LID == b.Name.LID && strings.EqualFold(a.Name.Str, b.Name.Str)
}

// pstKeptProps is the inverse of pstKeptExtras for the PST writer: the
// extras of a record that name a MAPI property the reader keeps
// (pst.Keeps) become that property again, named ones through the
// name-to-id map; the values of one multi-valued property are one property,
// in their order. What is left in rest (crmbridge's own Extras property
// holds it): extras that name no property, a property the writer already
// writes from the record's fields (own: its value wins, the extra's stays
// in rest), a value that is not of the property's type.
func pstKeptProps(contact bool, xs []crm.Extra, own []pstwrite.Prop) (props []pstwrite.Prop, rest []crm.Extra) {
	type mv struct {
		at   int // index in props
		vals [][]byte
	}
	multi := map[pstwrite.Key]*mv{}
	var keys []pstwrite.Key // of the multi-valued ones, in order
	for _, x := range xs {
		id, named, typ, ok := extraProperty(x)
		if !ok || !pst.Keeps(contact, id, named, typ) {
			rest = append(rest, x)
			continue
		}
		k := extraKey(id, named)
		taken := false
		for _, p := range own {
			taken = taken || sameKey(p.Key, k)
		}
		v, ok := encodeValue(typ, x.Value)
		if taken || !ok {
			rest = append(rest, x)
			continue
		}
		if typ&0x1000 == 0 {
			dup := false
			for _, p := range props {
				dup = dup || sameKey(p.Key, k)
			}
			if dup { // a second value of a single-valued property
				rest = append(rest, x)
				continue
			}
			props = append(props, pstwrite.Prop{Key: k, Type: typ, Value: v})
			continue
		}
		var m *mv
		for _, kk := range keys {
			if sameKey(kk, k) {
				m = multi[kk]
			}
		}
		if m == nil {
			m = &mv{at: len(props)}
			multi[k] = m
			keys = append(keys, k)
			props = append(props, pstwrite.Prop{Key: k, Type: typ})
		}
		m.vals = append(m.vals, v)
	}
	for _, k := range keys {
		m := multi[k]
		if props[m.at].Type == pstwrite.TypeMVString {
			var ss []string
			for _, v := range m.vals {
				ss = append(ss, string(v))
			}
			props[m.at] = pstwrite.MVString(k, ss)
		} else {
			props[m.at] = pstwrite.MVBinary(k, m.vals)
		}
	}
	return props, rest
}

// encodeValue encodes an extra's text (pst.Property.Values) as a value of
// type typ as MS-PST stores it; for a multi-valued type, one element (a
// string as UTF-8, for pstwrite.MVString). ok false when the text is not
// a value of that type.
func encodeValue(typ uint16, s string) ([]byte, bool) {
	le := binary.LittleEndian
	switch typ {
	case 0x001F: // PtypString
		return pstwrite.String(pstwrite.Tag(1), s).Value, true
	case 0x101F: // PtypMultipleString: one element
		return []byte(s), true
	case 0x0040: // PtypTime
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, false
		}
		return pstwrite.Time(pstwrite.Tag(1), t).Value, true
	case 0x0002: // PtypInteger16
		n, err := strconv.ParseInt(s, 10, 16)
		return le.AppendUint16(nil, uint16(n)), err == nil
	case 0x0003: // PtypInteger32
		n, err := strconv.ParseInt(s, 10, 32)
		return le.AppendUint32(nil, uint32(n)), err == nil
	case 0x0014: // PtypInteger64
		n, err := strconv.ParseInt(s, 10, 64)
		return le.AppendUint64(nil, uint64(n)), err == nil
	case 0x000B: // PtypBoolean: only true is kept
		return []byte{1}, s == "1"
	case 0x0005: // PtypFloating64
		f, err := strconv.ParseFloat(s, 64)
		return le.AppendUint64(nil, math.Float64bits(f)), err == nil
	case 0x0004: // PtypFloating32
		f, err := strconv.ParseFloat(s, 32)
		return le.AppendUint32(nil, math.Float32bits(float32(f))), err == nil
	case 0x0102, 0x1102: // PtypBinary, PtypMultipleBinary: one element
		b, err := base64.StdEncoding.DecodeString(s)
		return b, err == nil && len(b) > 0 && len(b) <= pst.MaxKeptBinary
	}
	return nil, false
}
