package pst

import (
	"fmt"
	"io"

	gopst "github.com/mooijtech/go-pst/v6/pkg"
)

// Object is the property set of one MAPI object (a message, a
// recipient, an attachment) held by a container other than a PST, such as
// a .msg file (MS-OXMSG). It lets that container reuse this package's
// property decoding and item building, so that the same message read from
// a PST and from a .msg becomes the same Item.
type Object interface {
	// Property returns the type (MS-OXCDATA 2.11.1) and value of property
	// id, ok=false when absent. Fixed-size values are their little-endian
	// bytes; variable-size values are whole. Multi-valued variable-size
	// values use the PST layout (MS-PST 2.3.3.4.2: count, 32-bit offsets,
	// data). An object value (PtypObject) may have an empty value.
	Property(id uint16) (typ uint16, value []byte, ok bool)
}

// MessageObject is a message object held outside a PST: its properties, its
// recipient objects and its attachment objects.
type MessageObject interface {
	Object
	Recipients() ([]Object, error)
	Attachments() ([]AttachmentObject, error)
}

// AttachmentObject is an attachment object held outside a PST.
type AttachmentObject interface {
	Object
	// Content streams the attachment's binary content
	// (PidTagAttachDataBinary) and says how long it is; open is nil when
	// it has none, err non-nil when it cannot be read.
	Content() (open func() (io.ReadCloser, error), size int64, err error)
	// Embedded returns the message of an embedded-message attachment
	// (PidTagAttachMethod 5, PidTagAttachDataObject).
	Embedded() (MessageObject, error)
}

// NameMap resolves named properties (MS-OXPROPS 1.3.2) to the property ids
// one file uses. The zero value resolves nothing.
type NameMap struct{ m *nameMap }

// ParseNameMap reads the GUID, entry and string streams of a
// name-to-id map. MS-PST 2.4.7 (NID 0x61) and MS-OXMSG 2.2.3
// (the __nameid_version1.0 storage) share the layout. Entries that do not
// fit are ignored.
func ParseNameMap(guids, entries, strs []byte) *NameMap {
	return &NameMap{m: parseNameMap(guids, entries, strs)}
}

// ReadMessage builds the Item of a message held outside a PST, with the
// same property decoding and mapping as a message read from a PST. names
// resolves its named properties; defCP is the code page of 8-bit strings
// when the message names none (0: UTF-8 when valid, else Windows-1252).
// The Item has no Folder, Index, NodeID or EntryID. Attachments open
// through their AttachmentObject's Content.
func ReadMessage(m MessageObject, names *NameMap, defCP int) (it *Item, err error) {
	f := &File{storeCP: defCP}
	if names != nil {
		f.names = names.m
	}
	return f.readItem(&bag{f: f, ext: m, cp: defCP}, "", 0, 0, 0)
}

// extRecipients reads the recipients of a message held outside a PST.
func (f *File) extRecipients(b *bag) ([]*bag, error) {
	m, ok := b.ext.(MessageObject)
	if !ok {
		return nil, nil
	}
	rs, err := m.Recipients()
	if err != nil {
		return nil, err
	}
	rows := make([]*bag, len(rs))
	for i, r := range rs {
		rows[i] = &bag{f: f, ext: r, cp: b.cp}
	}
	return rows, nil
}

// extAttachments reads the attachments of a message held outside a PST.
func (f *File) extAttachments(b *bag, folder string, depth int) ([]*Attachment, error) {
	m, ok := b.ext.(MessageObject)
	if !ok {
		return nil, nil
	}
	as, err := m.Attachments()
	if err != nil {
		return nil, err
	}
	var out []*Attachment
	for i, ea := range as {
		a, err := f.attachment(&bag{f: f, ext: ea, cp: b.cp}, folder, depth)
		if err != nil {
			return nil, fmt.Errorf("attachment %d: %w", i, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// extContent fills the content (or embedded message) of an attachment held
// outside a PST.
func (f *File) extContent(a *Attachment, ea AttachmentObject, typ gopst.PropertyType, folder string, depth int) error {
	if typ == ptObject {
		if a.Method != 5 { // afEmbeddedMessage; OLE storages are kept as their metadata
			return nil
		}
		if depth >= maxEmbeddedDepth {
			return fmt.Errorf("embedded message: nested deeper than %d", maxEmbeddedDepth)
		}
		em, err := ea.Embedded()
		if err != nil {
			return fmt.Errorf("embedded message: %w", err)
		}
		it, err := f.readItem(&bag{f: f, ext: em, cp: f.storeCP}, folder, 0, 0, depth+1)
		if err != nil {
			return fmt.Errorf("embedded message: %w", err)
		}
		a.Message = it
		return nil
	}
	open, size, err := ea.Content()
	if err != nil {
		return fmt.Errorf("content: %w", err)
	}
	if open != nil {
		a.Open, a.Size = open, size
	}
	return nil
}
