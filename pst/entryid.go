package pst

import (
	"bytes"
	"encoding/binary"
	"strings"
)

// Provider UIDs of entry ids (MS-OXCDATA 2.2.5.1, MS-OXOCNTC 2.2.2.2.1).
var (
	oneOffProviderUID  = []byte{0x81, 0x2B, 0x1F, 0xA4, 0xBE, 0xA3, 0x10, 0x19, 0x9D, 0x6E, 0x00, 0xDD, 0x01, 0x0F, 0x54, 0x02}
	wrappedProviderUID = []byte{0xC0, 0x91, 0xAD, 0xD3, 0x51, 0x9D, 0xCF, 0x11, 0xA4, 0xA9, 0x00, 0xAA, 0x00, 0x47, 0xFA, 0xA4}
)

// parseOneOff decodes a one-off entry id (MS-OXCDATA 2.2.5.1): flags (4),
// provider UID (16), version (2), flags (2, 0x8000 = Unicode), then display
// name, address type and address, each NUL-terminated (UTF-16LE when
// Unicode, else 8-bit).
func parseOneOff(b []byte) (Recipient, bool) {
	if len(b) < 24 || !bytes.Equal(b[4:20], oneOffProviderUID) {
		return Recipient{}, false
	}
	flags := binary.LittleEndian.Uint16(b[22:])
	rest := b[24:]
	var fields []string
	for i := 0; i < 3; i++ {
		var s string
		if flags&0x8000 != 0 {
			end := -1
			for j := 0; j+1 < len(rest); j += 2 {
				if rest[j] == 0 && rest[j+1] == 0 {
					end = j
					break
				}
			}
			if end < 0 {
				return Recipient{}, false
			}
			s, rest = decodeUTF16(rest[:end]), rest[end+2:]
		} else {
			end := bytes.IndexByte(rest, 0)
			if end < 0 {
				return Recipient{}, false
			}
			s, rest = decodeCodepage(rest[:end], 1252), rest[end+1:]
		}
		fields = append(fields, s)
	}
	return Recipient{Name: fields[0], AddressType: fields[1], Address: fields[2]}, true
}

// parseWrappedOneOff decodes a WrappedEntryId (MS-OXOCNTC 2.2.2.2.1) whose
// embedded entry id is a one-off entry id (type nibble 0).
func parseWrappedOneOff(b []byte) (Recipient, bool) {
	if len(b) < 21 || !bytes.Equal(b[4:20], wrappedProviderUID) || b[20]&0x0F != 0 {
		return Recipient{}, false
	}
	return parseOneOff(b[21:])
}

// wrappedContact returns the NID and e-mail index (0..2) of a WrappedEntryId
// that points at a contact in this store (type nibble 3, MS-OXOCNTC
// 2.2.2.2.1), or ok=false.
func wrappedContact(b []byte) (nid uint32, index int, ok bool) {
	if len(b) != 21+24 || !bytes.Equal(b[4:20], wrappedProviderUID) || b[20]&0x0F != 3 {
		return 0, 0, false
	}
	index = int(b[20]>>4) & 0x07
	if index > 2 {
		index = 0
	}
	return binary.LittleEndian.Uint32(b[21+20:]), index, true
}

// memberFromContact resolves a distribution-list member that points at a
// contact of this file.
func (f *File) memberFromContact(nid uint32, index int) (Recipient, bool) {
	if f.pst == nil { // a message held outside a PST: no contacts to point at
		return Recipient{}, false
	}
	b, err := f.nodeBag(nid)
	if err != nil || !strings.HasPrefix(strings.ToLower(b.str(tagMessageClass)), "ipm.contact") {
		return Recipient{}, false
	}
	b.cp = b.codepage(f.storeCP)
	c := f.contact(b)
	e := c.Emails[index]
	name := e.DisplayName
	if name == "" {
		name = c.DisplayName
	}
	return Recipient{Name: name, Address: e.Address, AddressType: e.AddrType}, true
}
