package pstwrite

import (
	"crypto/sha256"
	"encoding/binary"
	"io"
)

// ownMark is what this package writes into the header's qwUnused field
// (MS-PST 2.2.2.6: unused padding, covered by both header CRCs): a hash of
// the header fields Outlook rewrites whenever it changes the file (dwUnique,
// bidNextP, rgnid, the ROOT with the B-tree roots and file size, bidNextB).
// A file Outlook (or anything else) has modified no longer matches.
func ownMark(h []byte) []byte {
	s := sha256.New()
	s.Write([]byte("crmbridge pstwrite\x00"))
	s.Write(h[8:172])
	s.Write(h[180:252])
	s.Write(h[516:524])
	return s.Sum(nil)[:8]
}

// Owned reports whether r holds a PST written by this package and not
// changed since: its header CRCs are valid and its qwUnused field carries
// the mark Close wrote. Callers use it to refuse to overwrite a PST they
// did not write.
func Owned(r io.ReaderAt) bool {
	h := make([]byte, 564)
	if _, err := r.ReadAt(h, 0); err != nil {
		return false
	}
	le := binary.LittleEndian
	if string(h[:4]) != "!BDN" || le.Uint16(h[10:]) != 23 ||
		le.Uint32(h[4:]) != crc(h[8:8+471]) || le.Uint32(h[524:]) != crc(h[8:8+516]) {
		return false
	}
	return string(h[172:180]) == string(ownMark(h))
}
