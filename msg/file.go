package msg

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/richardlehane/mscfb"

	"crmbridge/pst"
)

// File is an open .msg file. Its methods are not safe for concurrent use.
type File struct {
	name   string
	closer io.Closer
	size   int64
	root   *storage
	names  *pst.NameMap
}

// Open opens a .msg file. It returns an error wrapping ErrNotMSG for a file
// that is not one, and an *Error naming the damaged part of one that cannot
// be read, each wrapped with the path.
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
	f, err := OpenReader(fh, st.Size(), filepath.Base(path))
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	f.closer = fh
	return f, nil
}

// OpenReader reads a .msg file from r, which holds size bytes; name is used
// in errors. Errors are as for Open (not wrapped with a path).
func OpenReader(r io.ReaderAt, size int64, name string) (*File, error) {
	var head [8]byte
	if n, _ := r.ReadAt(head[:], 0); n < len(head) || string(head[:]) != string(cfbSignature) {
		return nil, &Error{File: name, Err: ErrNotMSG}
	}
	if err := checkChains(r, size, name); err != nil {
		return nil, err
	}
	c, err := mscfb.New(r)
	if err != nil {
		return nil, &Error{File: name, Err: fmt.Errorf("compound file: %w", err)}
	}
	root, err := buildTree(c)
	if err != nil {
		return nil, &Error{File: name, Err: fmt.Errorf("compound file: %w", err)}
	}
	if _, ok := root.streams[strings.ToUpper(propsStream)]; !ok {
		return nil, &Error{File: name, Err: fmt.Errorf("%w: no %s stream at the root", ErrNotMSG, propsStream)}
	}
	f := &File{name: name, size: size, root: root}
	if err := f.checkStreams(c); err != nil {
		return nil, err
	}
	if err := f.readNames(); err != nil {
		return nil, err
	}
	return f, nil
}

// checkStreams verifies every stream before anything is decoded, so that a
// damaged one is reported by name rather than read as an absent property:
// the stream sizes must add up to no more than the file (each byte of a
// stream has a byte of the file of its own; more means sectors are shared
// or counts are wrong), and each stream must read whole along its sector
// chain. Reading goes through a fixed buffer: nothing is allocated from a
// size field. After this, reading any one stream once costs at most the
// file's size in memory.
func (f *File) checkStreams(c *mscfb.Reader) error {
	var total int64
	buf := make([]byte, 32<<10)
	for _, e := range c.File[1:] {
		if e.FileInfo().IsDir() {
			continue
		}
		path := strings.Join(append(append([]string(nil), e.Path...), e.Name), "/")
		if e.Size < 0 || e.Size > f.size-total {
			return &Error{File: f.name, Stream: path, Err: fmt.Errorf("%w: %d bytes claimed, streams so far %d, file %d", errTooLarge, e.Size, total, f.size)}
		}
		total += e.Size
		r := &streamReader{f: f, e: e, size: e.Size, path: path}
		if _, err := io.CopyBuffer(io.Discard, r, buf); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the file opened by Open.
func (f *File) Close() error {
	if f.closer != nil {
		return f.closer.Close()
	}
	return nil
}

// Name returns the file name given to Open.
func (f *File) Name() string { return f.name }

// readNames reads the named property mapping (MS-OXMSG 2.2.3): the GUID,
// entry and string streams of __nameid_version1.0, laid out as in a PST.
// Embedded messages use their top-level message's mapping.
func (f *File) readNames() error {
	s, ok := f.root.subs[strings.ToUpper(nameidStorage)]
	if !ok {
		f.names = pst.ParseNameMap(nil, nil, nil)
		return nil
	}
	var streams [3][]byte
	for i, id := range []string{"00020102", "00030102", "00040102"} {
		b, err := f.readStream(s, substgPrefix+id)
		if err != nil {
			return err
		}
		streams[i] = b
	}
	f.names = pst.ParseNameMap(streams[0], streams[1], streams[2])
	return nil
}

// Item reads the message as a typed Outlook item, with the property
// decoding and mapping of package pst. Attachments open through the file,
// which must stay open while they are read.
func (f *File) Item() (*pst.Item, error) {
	m, err := f.object(f.root, kindTop)
	if err != nil {
		return nil, err
	}
	it, err := pst.ReadMessage(m, f.names, 0)
	if err != nil {
		var me *Error
		if errors.As(err, &me) { // names the file and the stream already
			return nil, me
		}
		return nil, &Error{File: f.name, Err: err}
	}
	return it, nil
}
