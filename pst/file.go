package pst

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	gopst "github.com/mooijtech/go-pst/v6/pkg"

	"crmbridge/internal/recovered"
)

// Well-known node ids (MS-PST 2.4.1).
const (
	nidMessageStore = 0x21
	nidNameToIDMap  = 0x61
	nidRootFolder   = 0x122
)

// NID types (MS-PST 2.2.2.1).
const (
	nidTypeNormalFolder   = 0x02
	nidTypeSearchFolder   = 0x03
	nidTypeNormalMessage  = 0x04
	nidTypeHierarchyTable = 0x0D
	nidTypeContentsTable  = 0x0E
)

// File is an open PST or OST file. Its methods are not safe for concurrent
// use; one Items walk at a time.
type File struct {
	name    string
	closer  io.Closer
	size    int64
	format  string
	pst     *gopst.File
	cache   *blockCache
	names   *nameMap
	storeCP int    // default code page for 8-bit strings
	storeID []byte // record key of the message store (provider UID)
	ipmNID  uint32 // NID of the IPM subtree ("Top of Personal Folders"), 0 if unknown
	sentNID uint32 // NID of Sent Items, 0 if unknown
}

// Open opens a PST or OST file. It returns an error wrapping ErrNotPST for a
// file that is not one, ErrUnsupported for a variant it cannot read (high
// "cyclic" encryption), each wrapped with the path. A password-protected
// PST opens without a password: Outlook's PST password is only a CRC in the
// message store, not an encryption key.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	f, err := openReader(fh, st.Size(), filepath.Base(path))
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	f.closer = fh
	return f, nil
}

// OpenReader reads a PST or OST file from r, which holds size bytes; name is
// used in error messages and ItemError.File. Errors are as for Open (not
// wrapped with a path).
func OpenReader(r io.ReaderAt, size int64, name string) (*File, error) {
	return openReader(r, size, name)
}

// Header layout (MS-PST 2.2.2.6).
const (
	hdrMinSize         = 564 // a Unicode header is 564 bytes, an ANSI one 512
	hdrVersionOffset   = 10
	cryptOffsetANSI    = 461
	cryptOffsetUnicode = 513
	cryptMethodNone    = 0
	cryptMethodPermute = 1
	cryptMethodCyclic  = 2
	versionANSI1       = 14
	versionANSI2       = 15
	versionUnicode1    = 21
	versionUnicode2    = 23
	versionUnicode4k   = 36
	maxPropertyBytes   = 256 << 20 // never read a property larger than this
	maxFolderDepth     = 64
	maxEmbeddedDepth   = 8
)

func openReader(r io.ReaderAt, size int64, name string) (*File, error) {
	return openReaderCache(r, size, name, true)
}

// openReaderCache is openReader; with cached false go-pst reads r
// directly (for benchmarks that measure the cache).
func openReaderCache(r io.ReaderAt, size int64, name string, cached bool) (f *File, err error) {
	if size < 512 {
		return nil, fmt.Errorf("%w: %d bytes is too short for a header", ErrNotPST, size)
	}
	hdr := make([]byte, hdrMinSize)
	n, rerr := r.ReadAt(hdr, 0)
	if n < 512 {
		if rerr == nil {
			rerr = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read header: %w", rerr)
	}
	hdr = hdr[:n]
	if string(hdr[:4]) != "!BDN" {
		return nil, fmt.Errorf("%w: bad signature %q", ErrNotPST, hdr[:4])
	}
	var format string
	cryptOff := cryptOffsetUnicode
	switch v := binary.LittleEndian.Uint16(hdr[hdrVersionOffset:]); v {
	case versionANSI1, versionANSI2:
		format, cryptOff = "ansi", cryptOffsetANSI
	case versionUnicode1, versionUnicode2:
		format = "unicode"
	case versionUnicode4k:
		format = "unicode-4k"
	default:
		return nil, fmt.Errorf("%w: format version %d", ErrUnsupported, v)
	}
	if cryptOff >= len(hdr) {
		return nil, fmt.Errorf("%w: header truncated", ErrNotPST)
	}
	switch c := hdr[cryptOff]; c {
	case cryptMethodNone, cryptMethodPermute:
	case cryptMethodCyclic:
		return nil, fmt.Errorf("%w: high (cyclic) encryption", ErrUnsupported)
	default:
		return nil, fmt.Errorf("%w: encryption method %d", ErrUnsupported, c)
	}
	if format == "unicode-4k" {
		// go-pst v6.0.2 reads 4k-page OST b-trees at guessed offsets; refuse
		// rather than yield garbage.
		return nil, fmt.Errorf("%w: OST 2013 (4 KiB pages) format", ErrUnsupported)
	}

	cache := newBlockCache(r, size, cacheBlockSize, cacheBlocks)
	f = &File{name: name, size: size, format: format, cache: cache}
	defer func() {
		if rec := recover(); rec != nil {
			recovered.Note(rec, goPSTPath)
			f, err = nil, fmt.Errorf("read b-trees: %w", panicError(rec))
		}
	}()
	var src io.ReaderAt = cache
	if !cached {
		src = r
	}
	p, err := gopst.New(src)
	if err != nil {
		if errors.Is(err, gopst.ErrFileSignatureInvalid) {
			return nil, fmt.Errorf("%w: %v", ErrNotPST, err)
		}
		return nil, fmt.Errorf("read b-trees: %w", err)
	}
	if p.NodeBTree.Len() == 0 || p.BlockBTree.Len() == 0 {
		return nil, fmt.Errorf("%w: empty node or block b-tree", ErrNotPST)
	}
	f.pst = p
	f.storeCP = 1252
	if err := f.readStore(); err != nil {
		return nil, fmt.Errorf("read message store: %w", err)
	}
	if f.names, err = f.readNameMap(); err != nil {
		return nil, fmt.Errorf("read name-to-id map: %w", err)
	}
	return f, nil
}

// Close closes the underlying file (when opened with Open).
func (f *File) Close() error {
	if f.closer != nil {
		return f.closer.Close()
	}
	return nil
}

// Format returns "unicode" (Outlook 2003 and later) or "ansi" (97–2002).
func (f *File) Format() string { return f.format }

// Name returns the file name used in errors.
func (f *File) Name() string { return f.name }

// readStore reads the message store (MS-PST 2.4.3): its record key (for
// entry ids), the IPM subtree and the default code page.
func (f *File) readStore() error {
	s, err := f.nodeBag(nidMessageStore)
	if err != nil {
		return err
	}
	f.storeID = s.bytes(tagRecordKey)
	f.storeCP = s.codepage(0)
	if f.storeCP == 0 && f.format == "ansi" {
		// The store of an ANSI file rarely names its code page, and folders
		// never do: take the one of the first messages (folder names are
		// written in the same locale).
		f.storeCP = f.sampleCodepage()
	}
	if f.storeCP == 0 {
		f.storeCP = 1252
	}
	f.ipmNID = entryIDNID(s.bytes(tagIpmSubTreeEntryID))
	f.sentNID = entryIDNID(s.bytes(tagIpmSentMailEntryID))
	return nil
}

// entryIDNID returns the NID of a PST entry id (MS-PST 2.2.2.1: 4 bytes of
// flags, 16 of provider UID, 4 of NID), or 0.
func entryIDNID(b []byte) uint32 {
	if len(b) != 24 {
		return 0
	}
	return binary.LittleEndian.Uint32(b[20:])
}

// sampleCodepage returns the code page of the first message found in a
// breadth-first look at up to 64 folders (3 messages each), or 0.
func (f *File) sampleCodepage() (cp int) {
	defer func() {
		if r := recover(); r != nil {
			recovered.Note(r, goPSTPath)
			cp = 0
		}
	}()
	queue := []uint32{nidRootFolder}
	seen := map[uint32]bool{}
	for n := 0; len(queue) > 0 && n < 64; n++ {
		nid := queue[0]
		queue = queue[1:]
		if seen[nid] {
			continue
		}
		seen[nid] = true
		msgs, subs, _ := f.folderTables(nid)
		for i, m := range msgs {
			if i == 3 {
				break
			}
			if b, err := f.nodeBag(m); err == nil {
				if c := b.codepage(0); c != 0 {
					return c
				}
			}
		}
		for _, s := range subs {
			if s&0x1F == nidTypeNormalFolder {
				queue = append(queue, s)
			}
		}
	}
	return 0
}
