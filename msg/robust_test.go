package msg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/richardlehane/mscfb"

	"crmbridge/fixtures"
	"crmbridge/pst"
)

// dirEntry returns the offset of the directory entry named name in a file
// written by fixtures.WriteCFB (entries are 128 bytes, sectors start at
// 512), or fails.
func dirEntry(t *testing.T, data []byte, name string) int {
	t.Helper()
	u := utf16.Encode([]rune(name + "\x00"))
	pat := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(pat[2*i:], c)
	}
	for off := 512; off+128 <= len(data); off += 128 {
		if bytes.HasPrefix(data[off:], pat) && int(binary.LittleEndian.Uint16(data[off+64:])) == len(pat) {
			return off
		}
	}
	t.Fatalf("no directory entry %q", name)
	return 0
}

// fatSector returns the offset of the (only) FAT sector of a small file
// written by fixtures.WriteCFB: DIFAT[0] in the header.
func fatSector(data []byte) int {
	return 512 + 512*int(binary.LittleEndian.Uint32(data[76:]))
}

func put32(b []byte, off int, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }

// attachStream is the attachment's content stream in mail(): 5,000 bytes,
// in regular sectors.
const attachStream = "__substg1.0_37010102"

// TestDamaged reads damaged variants of a generated .msg: each gives an
// error naming the file (and the stream, where one is at fault), never a
// panic, a hang or an allocation from an unchecked size.
func TestDamaged(t *testing.T) {
	good := fixtures.WriteMSG(mail())
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, b []byte) []byte
		stream string // expected in the error; "" for the container
	}{
		{"truncated to the header", func(t *testing.T, b []byte) []byte { return b[:512] }, ""},
		{"truncated in the middle", func(t *testing.T, b []byte) []byte { return b[:len(b)/2] }, ""},
		{"truncated by one sector", func(t *testing.T, b []byte) []byte { return b[:len(b)-512] }, ""},
		{"stream size beyond the file", func(t *testing.T, b []byte) []byte {
			// Version 3 reads the low 32 bits of the size.
			put32(b, dirEntry(t, b, attachStream)+120, 0xF0000000)
			return b
		}, attachStream},
		{"stream sizes add up to more than the file", func(t *testing.T, b []byte) []byte {
			// Two streams each claim most of the file: they must share sectors.
			n := uint32(len(b) - 1024)
			put32(b, dirEntry(t, b, attachStream)+120, n)
			put32(b, dirEntry(t, b, "__substg1.0_0037001F")+120, n)
			return b
		}, "__substg1.0_"},
		{"stream longer than its sector chain", func(t *testing.T, b []byte) []byte {
			// 5,000 bytes is 10 sectors; end the chain after the first.
			start := binary.LittleEndian.Uint32(b[dirEntry(t, b, attachStream)+116:])
			put32(b, fatSector(b)+4*int(start), 0xFFFFFFFE)
			return b
		}, attachStream},
		{"FAT entry past the file", func(t *testing.T, b []byte) []byte {
			start := binary.LittleEndian.Uint32(b[dirEntry(t, b, attachStream)+116:])
			put32(b, fatSector(b)+4*int(start), 0x00FFFFF0)
			return b
		}, attachStream},
		{"FAT chain cycle", func(t *testing.T, b []byte) []byte {
			start := binary.LittleEndian.Uint32(b[dirEntry(t, b, attachStream)+116:])
			put32(b, fatSector(b)+4*int(start+1), start) // second sector points back to the first
			return b
		}, ""},
		{"directory sibling cycle", func(t *testing.T, b []byte) []byte {
			// The root's child points its left sibling at itself.
			child := binary.LittleEndian.Uint32(b[dirEntry(t, b, "Root Entry")+76:])
			put32(b, dirOffset(t, b, child)+68, child)
			return b
		}, ""},
		{"DIFAT count far beyond the file", func(t *testing.T, b []byte) []byte {
			put32(b, 72, 0x7FFFFFFF)
			put32(b, 68, 0)
			return b
		}, ""},
		{"mini FAT count far beyond the file", func(t *testing.T, b []byte) []byte {
			put32(b, 64, 0xFFFFFF)
			return b
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.damage(t, bytes.Clone(good))
			err := readAll(data)
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("error %v (%T) is not a *msg.Error", err, err)
			}
			if !strings.HasPrefix(err.Error(), "d.msg: ") {
				t.Errorf("error %q does not name the file", err)
			}
			if tc.stream != "" && !strings.Contains(me.Stream, tc.stream) {
				t.Errorf("error %q: stream %q, want one naming %q", err, me.Stream, tc.stream)
			}
		})
	}
}

// dirOffset returns the offset of directory entry id in a file written by
// fixtures.WriteCFB, following the directory's sector from the header.
func dirOffset(t *testing.T, b []byte, id uint32) int {
	t.Helper()
	start := binary.LittleEndian.Uint32(b[48:])
	// WriteCFB writes the directory in consecutive sectors.
	return 512 + 512*int(start) + 128*int(id)
}

// readAll opens data, reads its item and every attachment's content
// (embedded messages included), and returns the first error.
func readAll(data []byte) error {
	f, err := OpenReader(bytes.NewReader(data), int64(len(data)), "d.msg")
	if err != nil {
		return err
	}
	it, err := f.Item()
	if err != nil {
		return err
	}
	return readAttachments(it, 0)
}

func readAttachments(it *pst.Item, depth int) error {
	if depth > 16 {
		return errors.New("embedded messages nested deeper than 16")
	}
	for _, a := range it.Attachments {
		if a.Open != nil {
			rc, err := a.Open()
			if err != nil {
				return err
			}
			n, err := io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil {
				return err
			}
			if n != a.Size {
				return errors.New("attachment size mismatch")
			}
		}
		if a.Message != nil {
			if err := readAttachments(a.Message, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// TestDamagedLayout reads compound files that are sound but break
// MS-OXMSG's layout: each gives an error naming the storage or stream.
func TestDamagedLayout(t *testing.T) {
	props := func(hdr int, entries ...[16]byte) []byte {
		b := make([]byte, hdr)
		for _, e := range entries {
			b = append(b, e[:]...)
		}
		return b
	}
	entry := func(id, typ uint16, v uint32) (e [16]byte) {
		binary.LittleEndian.PutUint32(e[:], uint32(id)<<16|uint32(typ))
		binary.LittleEndian.PutUint32(e[8:], v)
		return e
	}
	cls := &fixtures.CFBEntry{Name: "__substg1.0_001A001F", Data: []byte("I\x00P\x00M\x00.\x00N\x00o\x00t\x00e\x00")}
	for _, tc := range []struct {
		name    string
		entries []*fixtures.CFBEntry
		stream  string
	}{
		{"top-level property stream shorter than its header", []*fixtures.CFBEntry{
			{Name: "__properties_version1.0", Data: make([]byte, 20)}, cls,
		}, "__properties_version1.0"},
		{"embedded message without its storage", []*fixtures.CFBEntry{
			{Name: "__properties_version1.0", Data: props(32, entry(0x001A, 0x001F, 18))}, cls,
			{Name: "__attach_version1.0_#00000000", Storage: true, Children: []*fixtures.CFBEntry{
				{Name: "__properties_version1.0", Data: props(8, entry(0x3705, 0x0003, 5), entry(0x3701, 0x000D, 0))},
			}},
		}, "__attach_version1.0_#00000000/__substg1.0_3701000D"},
		{"recipient without a property stream", []*fixtures.CFBEntry{
			{Name: "__properties_version1.0", Data: props(32, entry(0x001A, 0x001F, 18))}, cls,
			{Name: "__recip_version1.0_#00000000", Storage: true},
		}, "__recip_version1.0_#00000000/__properties_version1.0"},
		{"embedded message with a short property stream", []*fixtures.CFBEntry{
			{Name: "__properties_version1.0", Data: props(32, entry(0x001A, 0x001F, 18))}, cls,
			{Name: "__attach_version1.0_#00000000", Storage: true, Children: []*fixtures.CFBEntry{
				{Name: "__properties_version1.0", Data: props(8, entry(0x3705, 0x0003, 5), entry(0x3701, 0x000D, 0))},
				{Name: "__substg1.0_3701000D", Storage: true, Children: []*fixtures.CFBEntry{
					{Name: "__properties_version1.0", Data: make([]byte, 16)},
				}},
			}},
		}, "__attach_version1.0_#00000000/__substg1.0_3701000D/__properties_version1.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := readAll(fixtures.WriteCFB(tc.entries))
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			var me *Error
			if !errors.As(err, &me) || me.Stream != tc.stream || me.File != "d.msg" {
				t.Errorf("error %q: want file d.msg, stream %q", err, tc.stream)
			}
		})
	}
}

// TestMSCFBAloneMissesStreamCycles shows why checkChains exists: mscfb
// v1.0.9 reads a stream whose sector chain loops back on itself without an
// error, returning the same sectors again as data (it bounds the read by
// the stream's size, and detects cycles only in the directory, DIFAT and
// mini stream chains). Our reader refuses the file, naming the stream.
func TestMSCFBAloneMissesStreamCycles(t *testing.T) {
	b := fixtures.WriteMSG(mail())
	start := binary.LittleEndian.Uint32(b[dirEntry(t, b, attachStream)+116:])
	put32(b, fatSector(b)+4*int(start+1), start)
	c, err := mscfb.New(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("mscfb now refuses the file (%v): checkChains may be redundant for this case", err)
	}
	for _, e := range c.File {
		if e.Name != attachStream {
			continue
		}
		data := make([]byte, e.Size)
		n, err := e.ReadAt(data, 0)
		if err != nil || n != len(data) {
			t.Fatalf("mscfb now reports the cycle (%d bytes, %v)", n, err)
		}
		if bytes.Equal(data, bigData(5000)) {
			t.Fatal("mscfb read the right content through a broken chain")
		}
		if !bytes.Equal(data[:512], data[1024:1536]) {
			t.Fatal("expected the looped sectors to repeat")
		}
	}
	err = readAll(b)
	var me *Error
	if !errors.As(err, &me) || me.Stream != attachStream {
		t.Fatalf("our reader: %v, want an error naming %s", err, attachStream)
	}
}

// The header's count of FAT sectors says how many DIFAT slots are used:
// some writers leave the unused slots 0 rather than FREESECT, which must
// not read as FAT sector 0 again and again.
func TestUnusedDIFATSlotsZero(t *testing.T) {
	b := fixtures.WriteMSG(mail())
	nFAT := int(binary.LittleEndian.Uint32(b[44:]))
	for i := nFAT; i < 109; i++ {
		put32(b, 76+4*i, 0)
	}
	if err := readAll(b); err != nil {
		t.Fatal(err)
	}
}
