package bridge

import (
	"fmt"
	"strings"

	"crmbridge/bridge/item"
	"crmbridge/crm"
	"crmbridge/pst"
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
// sender's name), or a field of the kept header block holds, is not a new
// value and is left out, as a contact's are (pstContact).
func pstKeptExtras(it *pst.Item, rec *crm.Record) {
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
			if p.Type&^0x1000 == 0x001F && (held[v] || held[strings.TrimSpace(v)] || headerHolds(headers, v)) {
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
