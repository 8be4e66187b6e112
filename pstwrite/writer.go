package pstwrite

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// Options configure a new PST.
type Options struct {
	// DisplayName is the store's name ("Personal Folders" when empty).
	DisplayName string
	// StoreUID is the store's record key, the provider UID in every entry
	// id. When zero it is derived from DisplayName, so the same input
	// gives the same file.
	StoreUID GUID
}

// FolderID names a folder of a Writer.
type FolderID int

// Message is one message: its properties (PidTagMessageClass among them),
// its recipients (each the properties of one recipient table row) and its
// attachments.
type Message struct {
	Props       []Prop
	Recipients  [][]Prop
	Attachments []Attachment
}

// Attachment is one attachment: its properties other than the content,
// and the content (PidTagAttachDataBinary), read once when the message is
// added. Data may be nil.
type Attachment struct {
	Props []Prop
	Data  io.Reader
	// Embedded, when set instead of Data, is a message attached as a
	// message (give PidTagAttachMethod 5, afEmbeddedMessage, in Props).
	Embedded *Message
}

type folder struct {
	nid      uint32
	parent   int
	name     string
	class    string
	children []int
	rows     [2]int64 // offsets of its first and last contents-table rows in the spill file
	count    int
	unread   int
}

// Writer writes one PST. Add messages to folders, then Close (or Abort).
// Not safe for concurrent use.
type Writer struct {
	path, tmp   string
	f           *os.File
	n           *ndb
	names       nameMap
	folders     []*folder
	nextFolder  uint32
	nextMsg     uint32
	uid         GUID
	displayName string
	sent        int
	spill       *rowSpill
	err         error
	done        bool
}

// Well-known folders of every PST (MS-PST 2.4.1, 2.7.3.4).
const (
	nidMessageStore = 0x21
	nidNameToIDMap  = 0x61
	nidRootFolder   = 0x122
	nidIPMSubtree   = 0x8022
	nidSearchRoot   = 0x8042
	nidDeletedItems = 0x8062

	nidTypeFolder        = 0x02
	nidTypeMessage       = 0x04
	nidTypeAttachment    = 0x05
	nidTypeHierarchy     = 0x0D
	nidTypeContents      = 0x0E
	nidTypeAssocContents = 0x0F
	nidRecipientTable    = 0x692 // MS-PST 2.4.5: fixed subnode NIDs of a message
	nidAttachmentTable   = 0x671
)

// Folder ids of the folders every PST has.
const (
	RootFolder   FolderID = 0 // the root, parent of the IPM subtree
	IPMSubtree   FolderID = 1 // "Top of Personal Folders"
	searchRoot   FolderID = 2
	DeletedItems FolderID = 3
)

// Create starts writing a PST to path: to a temporary file in the same
// directory, renamed to path by Close.
func Create(path string, opts Options) (*Writer, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	n, err := newNDB(f, filepath.Dir(path))
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	spill, err := newRowSpill(filepath.Dir(path))
	if err != nil {
		n.close()
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	w := &Writer{path: path, tmp: f.Name(), f: f, n: n, nextFolder: 0x404, nextMsg: 0x10000, sent: -1, spill: spill}
	w.displayName = opts.DisplayName
	if w.displayName == "" {
		w.displayName = "Personal Folders"
	}
	w.uid = opts.StoreUID
	if w.uid == (GUID{}) {
		sum := sha256.Sum256([]byte("crmbridge pst store\x00" + w.displayName))
		copy(w.uid[:], sum[:16])
	}
	// libpff refuses a name-to-id map whose entry stream is empty, and
	// Outlook's own files always hold names: register two common ones up
	// front (PidLidEmail1EmailAddress, PidNameKeywords), which also fills
	// the GUID and string streams.
	w.names.id(Name{Set: PSETIDAddress, LID: 0x8083})
	w.names.id(Name{Set: psPublicStrings, Str: "Keywords"})
	w.folders = []*folder{
		{nid: nidRootFolder, parent: -1},
		{nid: nidIPMSubtree, parent: 0, name: "Top of Personal Folders"},
		{nid: nidSearchRoot, parent: 0, name: "Search Root"},
		{nid: nidDeletedItems, parent: 1, name: "Deleted Items", class: "IPF.Note"},
	}
	w.folders[0].children = []int{1, 2}
	w.folders[1].children = []int{3}
	return w, nil
}

// Folder adds a folder named name under parent, with container class
// class ("IPF.Note", "IPF.Contact", "IPF.Appointment", "IPF.Task").
func (w *Writer) Folder(parent FolderID, name, class string) (FolderID, error) {
	if int(parent) < 0 || int(parent) >= len(w.folders) || parent == searchRoot {
		return 0, fmt.Errorf("pstwrite: no folder %d", parent)
	}
	id := len(w.folders)
	w.folders = append(w.folders, &folder{nid: w.nextFolder<<5 | nidTypeFolder, parent: int(parent), name: name, class: class})
	w.nextFolder++
	w.folders[parent].children = append(w.folders[parent].children, id)
	return FolderID(id), nil
}

// SetSentItems names the folder the store lists as Sent Items.
func (w *Writer) SetSentItems(f FolderID) { w.sent = int(f) }

// entryID returns a PST entry id (MS-PST 2.4.3.2): four zero flag bytes,
// the store's UID and the NID.
func (w *Writer) entryID(nid uint32) []byte {
	b := make([]byte, 24)
	copy(b[4:], w.uid[:])
	binary.LittleEndian.PutUint32(b[20:], nid)
	return b
}

// Contents table columns (MS-PST 2.4.4.5.1).
var contentsCols = []uint32{
	0x00170003, 0x001A001F, 0x00360003, 0x0037001F, 0x00390040, 0x0042001F,
	0x0057000B, 0x0058000B, 0x0070001F, 0x00710102, 0x0E03001F, 0x0E04001F,
	0x0E060040, 0x0E070003, 0x0E080003, 0x0E170003, 0x0E300003, 0x0E330014,
	0x0E340102, 0x0E380003, 0x0E3C0102, 0x0E3D0102, 0x10970003, 0x30080040,
	0x65C60003,
}

// Hierarchy table columns (MS-PST 2.4.4.4.1).
var hierarchyCols = []uint32{
	0x0E300003, 0x0E330014, 0x0E340102, 0x0E380003, 0x3001001F, 0x36020003,
	0x36030003, 0x360A000B, 0x3613001F, 0x66350003, 0x66360003,
}

// Associated contents table columns (MS-PST 2.4.4.6.1).
var assocCols = []uint32{0x001A001F, 0x0E070003, 0x0E170003, 0x3001001F, 0x30080040, 0x67F10003}

// Recipient table columns (MS-PST 2.4.5.3.1).
var recipientCols = []uint32{
	0x0C150003, 0x0E0F000B, 0x0FF90102, 0x0FFE0003, 0x0FFF0102, 0x3001001F,
	0x3002001F, 0x3003001F, 0x300B0102, 0x39000003, 0x39FF001F, 0x3A40000B,
}

// Attachment table columns (MS-PST 2.4.6.1.1).
var attachmentCols = []uint32{0x0E200003, 0x3704001F, 0x37050003, 0x370B0003}

const (
	tagSubject       = 0x0037
	tagMessageFlags  = 0x0E07
	tagMessageSize   = 0x0E08
	tagAttachData    = 0x3701
	tagAttachSize    = 0x0E20
	typeObject       = 0x000D // PtypObject
	msgflagRead      = 0x01
	msgflagHasAttach = 0x10
)

// Add writes message m into folder f.
func (w *Writer) Add(f FolderID, m *Message) error {
	if w.err != nil {
		return w.err
	}
	if int(f) <= int(searchRoot) && f != IPMSubtree || int(f) >= len(w.folders) {
		return fmt.Errorf("pstwrite: cannot add messages to folder %d", f)
	}
	if err := w.add(w.folders[f], m); err != nil {
		w.err = fmt.Errorf("write %s: %w", w.path, err)
		return w.err
	}
	return nil
}

func (w *Writer) add(fo *folder, m *Message) error {
	nid := w.nextMsg<<5 | nidTypeMessage
	w.nextMsg++
	var nd node
	props, flags, err := w.message(&nd, m, 0)
	if err != nil {
		return err
	}
	blocks, err := w.pc(props, &nd)
	if err != nil {
		return err
	}
	data, err := w.n.writeData(blocks)
	if err != nil {
		return err
	}
	sub, err := w.n.writeSubnodes(nd.subs)
	if err != nil {
		return err
	}
	if err := w.n.addNode(nid, data, sub, fo.nid); err != nil {
		return err
	}
	row := tcRow{id: nid, cells: map[uint32][]byte{}}
	want := map[uint32]bool{}
	for _, c := range contentsCols {
		want[c] = true
	}
	for _, p := range props {
		if want[p.tag()] {
			row.cells[p.tag()] = p.v
		}
	}
	prev := int64(-1)
	if fo.count > 0 {
		prev = fo.rows[1]
	}
	off, err := w.spill.put(row, prev)
	if err != nil {
		return err
	}
	if fo.count == 0 {
		fo.rows[0] = off
	}
	fo.rows[1] = off
	fo.count++
	if flags&msgflagRead == 0 {
		fo.unread++
	}
	return nil
}

// maxEmbedded bounds how deep messages may be attached to messages.
const maxEmbedded = 8

// message writes the recipient table, the attachment table and the
// attachments of m as subnodes of nd and returns the message's own
// properties, ready for its PC, and its flags. depth counts the embedded
// messages m is inside.
func (w *Writer) message(nd *node, m *Message, depth int) ([]tagged, uint32, error) {
	props, err := w.resolve(m.Props)
	if err != nil {
		return nil, 0, err
	}
	for i, p := range props {
		// A subject that begins with U+0001 would read as a prefix marker
		// (0x01 and the prefix length, which readers strip): give it an
		// explicit marker of its own.
		if p.id == tagSubject && p.typ == TypeString && len(p.v) >= 2 && p.v[0] == 1 && p.v[1] == 0 {
			props[i].v = append([]byte{1, 0, 1, 0}, p.v...)
		}
	}
	// Recipient table (MS-PST 2.4.5.3): every message has one.
	rows := make([]tcRow, len(m.Recipients))
	cols := slices.Clone(recipientCols)
	for i, r := range m.Recipients {
		rp, err := w.resolve(r)
		if err != nil {
			return nil, 0, err
		}
		rows[i] = tcRow{id: uint32(i), cells: map[uint32][]byte{}}
		for _, p := range rp {
			rows[i].cells[p.tag()] = p.v
			cols = append(cols, p.tag())
		}
	}
	if err := w.subTable(nd, nidRecipientTable, cols, rows); err != nil {
		return nil, 0, fmt.Errorf("recipients: %w", err)
	}
	var size uint64
	if len(m.Attachments) > 0 {
		var arows []tcRow
		for i, a := range m.Attachments {
			anid, asize, row, err := w.attachment(nd, a, depth)
			if err != nil {
				return nil, 0, fmt.Errorf("attachment %d: %w", i+1, err)
			}
			size += asize
			row.id = anid
			arows = append(arows, row)
		}
		if err := w.subTable(nd, nidAttachmentTable, attachmentCols, arows); err != nil {
			return nil, 0, fmt.Errorf("attachment table: %w", err)
		}
	}
	flags := uint32(0)
	for i, p := range props {
		if p.tag() == tagMessageFlags<<16|uint32(TypeInt32) {
			flags = binary.LittleEndian.Uint32(p.v)
			props = slices.Delete(props, i, i+1)
			break
		}
	}
	if len(m.Attachments) > 0 {
		flags |= msgflagHasAttach
	}
	hasSize := false
	for _, p := range props {
		size += uint64(len(p.v))
		hasSize = hasSize || p.id == tagMessageSize
	}
	extra := []tagged{{id: tagMessageFlags, typ: TypeInt32, v: binary.LittleEndian.AppendUint32(nil, flags)}}
	if !hasSize {
		extra = append(extra, tagged{id: tagMessageSize, typ: TypeInt32, v: binary.LittleEndian.AppendUint32(nil, uint32(min(size, 0x7FFFFFFF)))})
	}
	return mergeTagged(props, extra), flags, nil
}

// mergeTagged adds extra to sorted props, keeping them sorted by id.
func mergeTagged(props, extra []tagged) []tagged {
	props = append(props, extra...)
	slices.SortStableFunc(props, func(a, b tagged) int { return int(a.id) - int(b.id) })
	return props
}

// subTable writes a table context as subnode nid of nd.
func (w *Writer) subTable(nd *node, nid uint32, cols []uint32, rows []tcRow) error {
	var own node
	data, err := w.tc(cols, rows, &own)
	if err != nil {
		return err
	}
	return w.subObject(nd, nid, data, &own)
}

// subObject makes data subnode nid of nd, with the subnodes of own as its
// subnode tree.
func (w *Writer) subObject(nd *node, nid uint32, data uint64, own *node) error {
	sub, err := w.n.writeSubnodes(own.subs)
	if err != nil {
		return err
	}
	nd.subs = append(nd.subs, subnode{nid: nid, data: data, sub: sub})
	return nil
}

// attachment writes an attachment object (MS-PST 2.4.6.2) as a subnode of
// the message and returns its NID, content size and attachment table row.
func (w *Writer) attachment(nd *node, a Attachment, depth int) (uint32, uint64, tcRow, error) {
	anid := nd.subNID(nidTypeAttachment)
	var own node
	props, err := w.resolve(a.Props)
	if err != nil {
		return 0, 0, tcRow{}, err
	}
	var size uint64
	if a.Embedded != nil {
		if depth >= maxEmbedded {
			return 0, 0, tcRow{}, fmt.Errorf("pstwrite: messages nested deeper than %d", maxEmbedded)
		}
		// MS-PST 2.4.6.2: an afEmbeddedMessage attachment's
		// PidTagAttachDataObject (PtypObject, MS-PST 2.3.3.5) is an HNID
		// to the subnode NID of the message and its size; the message is
		// a PC whose recipient and attachment tables are subnodes of that
		// subnode.
		var mnd node
		mp, _, err := w.message(&mnd, a.Embedded, depth+1)
		if err != nil {
			return 0, 0, tcRow{}, fmt.Errorf("embedded message: %w", err)
		}
		blocks, err := w.pc(mp, &mnd)
		if err != nil {
			return 0, 0, tcRow{}, err
		}
		snid := own.subNID(nidTypeMessage)
		data, err := w.n.writeData(blocks)
		if err != nil {
			return 0, 0, tcRow{}, err
		}
		if err := w.subObject(&own, snid, data, &mnd); err != nil {
			return 0, 0, tcRow{}, err
		}
		for _, b := range blocks {
			size += uint64(len(b))
		}
		obj := binary.LittleEndian.AppendUint32(nil, snid)
		obj = binary.LittleEndian.AppendUint32(obj, uint32(min(size, 0x7FFFFFFF)))
		props = mergeTagged(props, []tagged{{id: tagAttachData, typ: typeObject, v: obj}})
	} else if a.Data != nil {
		head := make([]byte, maxHeapAlloc+1)
		k, err := io.ReadFull(a.Data, head)
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			if k > 0 {
				props = mergeTagged(props, []tagged{{id: tagAttachData, typ: TypeBinary, v: head[:k]}})
			}
			size = uint64(k)
		case err != nil:
			return 0, 0, tcRow{}, err
		default:
			bid, n, err := w.n.writeStream(io.MultiReader(bytesReader(head), a.Data))
			if err != nil {
				return 0, 0, tcRow{}, err
			}
			snid := own.subNID(nidTypeLTP)
			own.subs = append(own.subs, subnode{nid: snid, data: bid})
			props = mergeTagged(props, []tagged{{id: tagAttachData, typ: TypeBinary, hnid: snid}})
			size = n
		}
	}
	hasSize := false
	for _, p := range props {
		hasSize = hasSize || p.id == tagAttachSize
	}
	if !hasSize {
		props = mergeTagged(props, []tagged{{id: tagAttachSize, typ: TypeInt32, v: binary.LittleEndian.AppendUint32(nil, uint32(min(size, 0x7FFFFFFF)))}})
	}
	blocks, err := w.pc(props, &own)
	if err != nil {
		return 0, 0, tcRow{}, err
	}
	data, err := w.n.writeData(blocks)
	if err != nil {
		return 0, 0, tcRow{}, err
	}
	if err := w.subObject(nd, anid, data, &own); err != nil {
		return 0, 0, tcRow{}, err
	}
	row := tcRow{cells: map[uint32][]byte{}}
	for _, p := range props {
		if slices.Contains(attachmentCols, p.tag()) {
			row.cells[p.tag()] = p.v
		}
	}
	return anid, size, row, nil
}

type byteReader struct {
	b []byte
}

func (r *byteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func bytesReader(b []byte) io.Reader { return &byteReader{b} }

// Close writes the folders, the message store, the name-to-id map, the
// B-trees and the header, syncs the file and renames it into place.
func (w *Writer) Close() error {
	if w.done {
		return errors.New("pstwrite: writer closed")
	}
	if w.err != nil {
		w.Abort()
		return w.err
	}
	if err := w.finish(); err != nil {
		w.Abort()
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	w.done = true
	w.spill.close()
	w.n.close()
	if err := w.f.Sync(); err != nil {
		w.f.Close()
		os.Remove(w.tmp)
		return fmt.Errorf("sync %s: %w", w.tmp, err)
	}
	if err := w.f.Close(); err != nil {
		os.Remove(w.tmp)
		return fmt.Errorf("close %s: %w", w.tmp, err)
	}
	if err := os.Rename(w.tmp, w.path); err != nil {
		os.Remove(w.tmp)
		return fmt.Errorf("rename %s: %w", w.path, err)
	}
	if d, err := os.Open(filepath.Dir(w.path)); err == nil {
		d.Sync() //nolint:errcheck // best effort: the file itself is synced
		d.Close()
	}
	return nil
}

// Abort discards the temporary file.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.spill.close()
	w.n.close()
	w.f.Close()
	os.Remove(w.tmp)
}

func (w *Writer) finish() error {
	for i := range w.folders {
		if err := w.writeFolder(i); err != nil {
			return fmt.Errorf("folder %q: %w", w.folders[i].name, err)
		}
	}
	// Table templates (MS-PST 2.4.4.4.1, 2.4.4.5.1, 2.4.4.6.1, 2.4.6.1.1,
	// 2.4.5.3.1): empty tables whose columns new folders and messages copy.
	for _, t := range []struct {
		nid  uint32
		cols []uint32
	}{{0x60D, hierarchyCols}, {0x60E, contentsCols}, {0x60F, assocCols}, {0x610, contentsCols},
		{nidAttachmentTable, attachmentCols}, {nidRecipientTable, recipientCols}} {
		if err := w.topTable(t.nid, 0, t.cols, nil); err != nil {
			return err
		}
	}
	// MS-PST 2.4.8.4: the search management queue, the search activity list
	// and the search domain object exist in every PST; with no search
	// folders and nothing queued they are empty, and Outlook's own files
	// then give them no data block.
	for _, nid := range []uint32{0x1E1, 0x201, 0x261} {
		if err := w.n.addNode(nid, 0, 0, 0); err != nil {
			return err
		}
	}
	store := []Prop{
		Binary(Tag(0x0FF9), w.uid[:]),                       // PidTagRecordKey
		String(Tag(0x3001), w.displayName),                  // PidTagDisplayName
		Binary(Tag(0x35E0), w.entryID(nidIPMSubtree)),       // PidTagIpmSubTreeEntryId
		Binary(Tag(0x35E3), w.entryID(nidDeletedItems)),     // PidTagIpmWastebasketEntryId
		Binary(Tag(0x35E7), w.entryID(nidSearchRoot)),       // PidTagFinderEntryId
		Int32(Tag(0x35DF), 0x1|0x8|0x80|int32(sentMask(w))), // PidTagValidFolderMask
	}
	if w.sent >= 0 {
		store = append(store, Binary(Tag(0x35E4), w.entryID(w.folders[w.sent].nid))) // PidTagIpmSentMailEntryId
	}
	if err := w.topPC(nidMessageStore, 0, store); err != nil {
		return fmt.Errorf("message store: %w", err)
	}
	if err := w.topPC(nidNameToIDMap, 0, w.names.props()); err != nil {
		return fmt.Errorf("name-to-id map: %w", err)
	}
	return w.n.finish(binary.LittleEndian.Uint32(w.uid[:4]))
}

func sentMask(w *Writer) int {
	if w.sent >= 0 {
		return 0x10
	}
	return 0
}

func (w *Writer) topPC(nid, parent uint32, props []Prop) error {
	tp, err := w.resolve(props)
	if err != nil {
		return err
	}
	var nd node
	blocks, err := w.pc(tp, &nd)
	if err != nil {
		return err
	}
	data, err := w.n.writeData(blocks)
	if err != nil {
		return err
	}
	return w.topNode(nid, parent, data, &nd)
}

func (w *Writer) topTable(nid, parent uint32, cols []uint32, rows []tcRow) error {
	var nd node
	data, err := w.tc(cols, rows, &nd)
	if err != nil {
		return err
	}
	return w.topNode(nid, parent, data, &nd)
}

// topNode adds node nid with its data and the subnodes of nd.
func (w *Writer) topNode(nid, parent uint32, data uint64, nd *node) error {
	sub, err := w.n.writeSubnodes(nd.subs)
	if err != nil {
		return err
	}
	return w.n.addNode(nid, data, sub, parent)
}

// folderProps are the properties of folder i, also its hierarchy table row.
func (w *Writer) folderProps(i int) []Prop {
	fo := w.folders[i]
	props := []Prop{
		String(Tag(0x3001), fo.name),            // PidTagDisplayName
		Int32(Tag(0x3602), int32(fo.count)),     // PidTagContentCount
		Int32(Tag(0x3603), int32(fo.unread)),    // PidTagContentUnreadCount
		Bool(Tag(0x360A), len(fo.children) > 0), // PidTagSubfolders
	}
	if fo.class != "" {
		props = append(props, String(Tag(0x3613), fo.class)) // PidTagContainerClass
	}
	return props
}

// writeFolder writes a folder object (MS-PST 2.4.4): its PC and its
// hierarchy, contents and associated contents tables.
func (w *Writer) writeFolder(i int) error {
	fo := w.folders[i]
	parent := fo.nid // the root folder is its own parent
	if fo.parent >= 0 {
		parent = w.folders[fo.parent].nid
	}
	if err := w.topPC(fo.nid, parent, w.folderProps(i)); err != nil {
		return err
	}
	base := fo.nid &^ 0x1F
	var hrows []tcRow
	for _, c := range fo.children {
		tp, err := w.resolve(w.folderProps(c))
		if err != nil {
			return err
		}
		row := tcRow{id: w.folders[c].nid, cells: map[uint32][]byte{}}
		for _, p := range tp {
			row.cells[p.tag()] = p.v
		}
		hrows = append(hrows, row)
	}
	if err := w.topTable(base|nidTypeHierarchy, 0, hierarchyCols, hrows); err != nil {
		return err
	}
	var nd node
	data, err := w.tcStream(contentsCols, fo.count, w.spill.rows(fo.rows[0], fo.count), &nd)
	if err != nil {
		return err
	}
	if err := w.topNode(base|nidTypeContents, 0, data, &nd); err != nil {
		return err
	}
	return w.topTable(base|nidTypeAssocContents, 0, assocCols, nil)
}
