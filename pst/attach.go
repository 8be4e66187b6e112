package pst

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	gopst "github.com/mooijtech/go-pst/v6/pkg"

	"crmbridge/internal/recovered"
)

// attachments reads the attachment table (MS-PST 2.4.6, subnode 0x671) and
// each attachment's property context.
func (f *File) attachments(b *bag, folder string, depth int) ([]*Attachment, error) {
	if b.ext != nil {
		return f.extAttachments(b, folder, depth)
	}
	rows, err := f.subTable(b, nidAttachmentTable)
	if err != nil || rows == nil {
		return nil, err
	}
	var out []*Attachment
	for _, r := range rows {
		nid, ok := r.int(tagLtpRowID)
		if !ok {
			continue
		}
		ld, err := gopst.FindLocalDescriptor(gopst.Identifier(uint32(nid)), b.lds)
		if err != nil {
			return nil, fmt.Errorf("attachment %#x: %w", nid, err)
		}
		ab, err := f.subnodeBag(ld)
		if err != nil {
			return nil, err
		}
		ab.cp = b.cp
		a, err := f.attachment(ab, folder, depth)
		if err != nil {
			return nil, fmt.Errorf("attachment %#x: %w", nid, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// attachment reads one attachment (MS-OXCMSG 2.2.2).
func (f *File) attachment(ab *bag, folder string, depth int) (*Attachment, error) {
	a := &Attachment{
		Name:      ab.str(tagAttachLongFilename),
		MimeType:  ab.str(tagAttachMimeTag),
		ContentID: ab.str(tagAttachContentID),
	}
	if a.Name == "" {
		a.Name = ab.str(tagAttachFilename)
	}
	if a.Name == "" {
		a.Name = ab.str(tagDisplayName)
	}
	a.Method, _ = ab.int(tagAttachMethod)
	flags, _ := ab.int(tagAttachFlags)
	a.Inline = a.ContentID != "" || flags&attMHTMLRef != 0 || ab.bool(tagAttachmentHidden)
	if sz, ok := ab.int(tagAttachSize); ok {
		a.Size = int64(sz)
	}
	if ea, ok := ab.ext.(AttachmentObject); ok {
		_, p, ok := ab.raw(tagAttachDataBinary)
		if !ok {
			if a.Method == 5 { // an embedded message may carry no value for its object
				p.Type = ptObject
			} else {
				return a, nil
			}
		}
		if err := f.extContent(a, ea, p.Type, folder, depth); err != nil {
			return nil, err
		}
		return a, nil
	}
	p, ok := ab.find(tagAttachDataBinary)
	if !ok {
		if a.Method == 1 && a.Size == 0 {
			// afByValue without a value: an empty file (MS-OXCMSG 2.2.2.7:
			// the data property holds the contents, here none).
			a.Open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(nil)), nil }
		}
		return a, nil
	}
	if p.Type == ptObject {
		if a.Method == 5 { // afEmbeddedMessage
			m, err := f.embedded(ab, p, folder, depth)
			if err != nil {
				return nil, fmt.Errorf("embedded message: %w", err)
			}
			a.Message = m
		}
		return a, nil
	}
	r, size, err := ab.reader(p)
	if err != nil {
		if len(p.Data) > 0 { // tiny inline value
			data := bytes.Clone(p.Data)
			a.Size = int64(len(data))
			a.Open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
			return a, nil
		}
		return nil, fmt.Errorf("content: %w", err)
	}
	a.Size = size
	a.Open = func() (io.ReadCloser, error) {
		return io.NopCloser(io.NewSectionReader(safeReaderAt{r}, 0, size)), nil
	}
	return a, nil
}

// embedded reads the message of an afEmbeddedMessage attachment: its
// PidTagAttachDataObject is an HNID of 8 bytes, the subnode NID of the
// message and its size (MS-PST 2.4.6.2.2 / 2.3.3.5: PtypObject).
func (f *File) embedded(ab *bag, p gopst.Property, folder string, depth int) (*Item, error) {
	if depth >= maxEmbeddedDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxEmbeddedDepth)
	}
	v, _, ok := ab.raw(tagAttachDataBinary)
	if !ok || len(v) < 4 {
		return nil, fmt.Errorf("bad object reference (%d bytes)", len(v))
	}
	nid := binary.LittleEndian.Uint32(v)
	ld, err := gopst.FindLocalDescriptor(gopst.Identifier(nid), ab.lds)
	if err != nil {
		return nil, fmt.Errorf("subnode %#x: %w", nid, err)
	}
	mb, err := f.subnodeBag(ld)
	if err != nil {
		return nil, err
	}
	return f.readItem(mb, folder, 0, 0, depth+1)
}

// safeReaderAt turns a panic of go-pst's readers into an error: attachment
// content is read by the caller, outside the walk's recover.
type safeReaderAt struct{ r io.ReaderAt }

func (s safeReaderAt) ReadAt(p []byte, off int64) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			recovered.Note(r, goPSTPath)
			n, err = 0, panicError(r)
		}
	}()
	return s.r.ReadAt(p, off)
}
