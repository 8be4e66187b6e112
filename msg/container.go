package msg

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"

	"github.com/richardlehane/mscfb"
)

// cfbSignature starts every Compound File Binary file (MS-CFB 2.2 Header
// Signature).
var cfbSignature = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}

// Stream and storage names of MS-OXMSG 2.2.
const (
	propsStream   = "__properties_version1.0"
	nameidStorage = "__nameid_version1.0"
	recipPrefix   = "__recip_version1.0_#"
	attachPrefix  = "__attach_version1.0_#"
	substgPrefix  = "__substg1.0_"
)

// storage is one CFB storage: its streams and sub-storages by upper-case
// name.
type storage struct {
	path    string // "/"-separated CFB path below the root, "" for the root
	streams map[string]*mscfb.File
	subs    map[string]*storage
}

func newStorage(path string) *storage {
	return &storage{path: path, streams: map[string]*mscfb.File{}, subs: map[string]*storage{}}
}

// join returns the CFB path of name inside s.
func (s *storage) join(name string) string {
	if s.path == "" {
		return name
	}
	return s.path + "/" + name
}

// buildTree arranges the directory entries mscfb found (each with the names
// of the storages above it) into storages. An entry whose parent is not a
// storage, or a second entry of one name, is an error: MS-CFB 2.6.4 names
// are unique among siblings.
func buildTree(r *mscfb.Reader) (*storage, error) {
	root := newStorage("")
	byPath := map[string]*storage{"": root}
	for i, e := range r.File {
		if i == 0 { // the root entry itself
			continue
		}
		parentPath := strings.Join(e.Path, "/")
		parent, ok := byPath[strings.ToUpper(parentPath)]
		if !ok {
			return nil, fmt.Errorf("entry %q: parent storage %q not found", e.Name, parentPath)
		}
		key := strings.ToUpper(e.Name)
		if _, dup := parent.streams[key]; dup {
			return nil, fmt.Errorf("entry %q: duplicate name", parent.join(e.Name))
		}
		if _, dup := parent.subs[key]; dup {
			return nil, fmt.Errorf("entry %q: duplicate name", parent.join(e.Name))
		}
		if e.FileInfo().IsDir() {
			s := newStorage(parent.join(e.Name))
			parent.subs[key] = s
			byPath[strings.ToUpper(s.path)] = s
			continue
		}
		parent.streams[key] = e
	}
	return root, nil
}

// errTooLarge reports a stream whose size field exceeds what the file can
// hold.
var errTooLarge = errors.New("stream sizes exceed the file")

// readStream reads a whole stream, after checking its size against the
// file's: a size field is never trusted for an allocation.
func (f *File) readStream(s *storage, name string) ([]byte, error) {
	e, ok := s.streams[strings.ToUpper(name)]
	if !ok {
		return nil, nil
	}
	if e.Size < 0 || e.Size > f.size {
		return nil, &Error{File: f.name, Stream: s.join(name), Err: fmt.Errorf("%w (%d bytes claimed, file has %d)", errTooLarge, e.Size, f.size)}
	}
	buf := make([]byte, e.Size)
	if e.Size == 0 {
		return buf, nil
	}
	n, err := e.ReadAt(buf, 0)
	if int64(n) != e.Size {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, &Error{File: f.name, Stream: s.join(name), Err: fmt.Errorf("read %d of %d bytes: %w", n, e.Size, err)}
	}
	return buf, nil
}

// openStream returns a function that streams one stream's content, and its
// size, checked against the file's.
func (f *File) openStream(s *storage, name string) (func() (io.ReadCloser, error), int64, error) {
	e, ok := s.streams[strings.ToUpper(name)]
	if !ok {
		return nil, 0, nil
	}
	if e.Size < 0 || e.Size > f.size {
		return nil, 0, &Error{File: f.name, Stream: s.join(name), Err: fmt.Errorf("%w (%d bytes claimed, file has %d)", errTooLarge, e.Size, f.size)}
	}
	size, path := e.Size, s.join(name)
	return func() (io.ReadCloser, error) {
		return io.NopCloser(&streamReader{f: f, e: e, size: size, path: path}), nil
	}, size, nil
}

// streamReader reads a stream sequentially through mscfb's ReadAt, so that
// reading never moves another reader's position, and names the stream in
// its errors.
type streamReader struct {
	f    *File
	e    *mscfb.File
	off  int64
	size int64
	path string
}

func (r *streamReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	if int64(len(p)) > r.size-r.off {
		p = p[:r.size-r.off]
	}
	n, err := r.e.ReadAt(p, r.off)
	r.off += int64(n)
	if n == len(p) {
		return n, nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, &Error{File: r.f.name, Stream: r.path, Err: err}
}

// utf16Name is name as it appears in a CFB directory entry (MS-CFB 2.6.1:
// UTF-16LE).
func utf16Name(name string) []byte {
	u := utf16.Encode([]rune(name))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i], b[2*i+1] = byte(c), byte(c>>8)
	}
	return b
}

var propsStreamName = utf16Name(propsStream)

// Sniff reports whether r (size bytes) holds an Outlook .msg file: a CFB
// whose root storage has a __properties_version1.0 stream (MS-OXMSG 2.4).
// A CFB that cannot be read as one (damaged FAT, truncated) counts as a
// .msg when its directory names that stream, so that the reader can report
// the damage rather than the file being skipped as unknown.
func Sniff(r io.ReaderAt, size int64) bool {
	var head [8]byte
	if _, err := r.ReadAt(head[:], 0); err != nil || !bytes.Equal(head[:], cfbSignature) {
		return false
	}
	c, err := mscfb.New(r)
	if err == nil {
		for _, e := range c.File[1:] {
			if len(e.Path) == 0 && !e.FileInfo().IsDir() && strings.EqualFold(e.Name, propsStream) {
				return true
			}
		}
		return false
	}
	// Damaged: look for the stream's name in the raw bytes, a chunk at a time.
	const chunk = 1 << 16
	buf := make([]byte, chunk+len(propsStreamName))
	for off := int64(0); off < size; off += chunk {
		n, _ := r.ReadAt(buf, off)
		if n <= 0 {
			break
		}
		if bytes.Contains(buf[:n], propsStreamName) {
			return true
		}
	}
	return false
}
