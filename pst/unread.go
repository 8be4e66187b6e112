package pst

import (
	"fmt"
	"strings"
)

// Contact properties (MS-OXPROPS 1.3.3: ids 0x3A00-0x3AFF are the mail
// user, that is contact, properties): every one is a value the user
// typed, and Outlook's contact form shows most.
const contactFirst, contactLast = 0x3A00, 0x3AFF

// unreadStrings returns the string and multi-valued string properties of
// b with ids in [lo, hi] that the mapping did not read (b.read), in id
// order. Empty values are left out.
func (b *bag) unreadStrings(lo, hi uint16) []Property {
	var out []Property
	ids := b.presentIDs(lo, hi)
	for _, id := range ids {
		if b.read[id] || mailingAddress[id] {
			continue
		}
		_, p, ok := b.raw(id)
		if !ok {
			continue
		}
		var vals []string
		switch p.Type {
		case ptUnicode, ptString8:
			if v := strings.TrimSpace(b.str(id)); v != "" {
				vals = []string{v}
			}
		case ptMVUnicode, ptMVString8:
			for _, v := range b.strings(id) {
				if v = strings.TrimSpace(v); v != "" {
					vals = append(vals, v)
				}
			}
		}
		if len(vals) == 0 {
			continue
		}
		name := contactPropNames[id]
		if name == "" {
			name = fmt.Sprintf("0x%04X", id)
		}
		typ := uint16(ptUnicode)
		if p.Type == ptMVUnicode || p.Type == ptMVString8 {
			typ = ptMVUnicode
		}
		out = append(out, Property{ID: id, Name: name, Type: typ, Values: vals})
	}
	return out
}

// presentIDs returns the ids in [lo, hi] that b holds, in order.
func (b *bag) presentIDs(lo, hi uint16) []uint16 {
	var ids []uint16
	if b.ext != nil {
		for id := uint32(lo); id <= uint32(hi); id++ {
			if _, _, ok := b.ext.Property(uint16(id)); ok {
				ids = append(ids, uint16(id))
			}
		}
		return ids
	}
	seen := map[uint16]bool{}
	for _, p := range b.props {
		if p.ID >= lo && p.ID <= hi && !seen[p.ID] {
			seen[p.ID] = true
			ids = append(ids, p.ID)
		}
	}
	for i := 1; i < len(ids); i++ { // few ids: insertion sort
		for j := i; j > 0 && ids[j] < ids[j-1]; j-- {
			ids[j], ids[j-1] = ids[j-1], ids[j]
		}
	}
	return ids
}

// mailingAddress are the mailing address properties: a copy of the
// business, home or other address that PidLidPostalAddressId selects
// (MS-OXOCNTC 2.2.1.3.9), which the address columns already hold, and
// PidTagPostalAddress, the same address composed as text.
var mailingAddress = map[uint16]bool{0x3A15: true, 0x3A26: true, 0x3A27: true, 0x3A28: true, 0x3A29: true,
	0x3A2A: true, 0x3A2B: true}

// contactPropNames are the MS-OXPROPS canonical names (without "PidTag")
// of the string contact properties, for naming what is kept.
var contactPropNames = map[uint16]string{
	0x3A00: "Account", 0x3A02: "CallbackTelephoneNumber", 0x3A07: "GovernmentIdNumber",
	0x3A0A: "Initials", 0x3A0C: "Language", 0x3A0D: "Location", 0x3A10: "OrganizationalIdNumber",
	0x3A19: "OfficeLocation", 0x3A1A: "PrimaryTelephoneNumber", 0x3A1B: "Business2TelephoneNumber",
	0x3A1D: "RadioTelephoneNumber", 0x3A1E: "CarTelephoneNumber", 0x3A20: "TransmittableDisplayName",
	0x3A23: "PrimaryFaxNumber", 0x3A2C: "TelexNumber", 0x3A2D: "IsdnNumber", 0x3A2F: "Home2TelephoneNumber",
	0x3A43: "Hobbies", 0x3A47: "ReferredByName", 0x3A4A: "CustomerId", 0x3A4B: "TtytddPhoneNumber",
	0x3A4C: "FtpSite", 0x3A50: "PersonalHomePage", 0x3A51: "BusinessHomePage", 0x3A57: "CompanyMainTelephoneNumber",
	0x3A58: "ChildrensNames", 0x3A5F: "OtherAddressCity",
}
