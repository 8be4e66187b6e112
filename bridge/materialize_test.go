package bridge

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"

	"crmbridge/crm"
)

// readAll reads everything whatever the size hint says (right, short,
// long, missing, absurd), and with a right hint it allocates the buffer
// once instead of growing it by doubling.
func TestReadAllSizeHint(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 10_000)
	for _, hint := range []int64{0, -1, 1, 99_999, 100_000, 100_001, 1 << 40} {
		got, err := readAll(iotest.HalfReader(bytes.NewReader(data)), hint)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("hint %d: %d bytes, err %v; want %d bytes", hint, len(got), err, len(data))
		}
	}
	if _, err := readAll(iotest.ErrReader(io.ErrUnexpectedEOF), 10); err != io.ErrUnexpectedEOF {
		t.Errorf("read error: got %v", err)
	}
	allocs := testing.AllocsPerRun(10, func() {
		readAll(bytes.NewReader(data), int64(len(data)))
	})
	if allocs > 2 { // the buffer, and the bytes.Reader's escape
		t.Errorf("readAll with the right size: %v allocations, want at most 2", allocs)
	}
}

// materialize keeps the content once: the store gets the same bytes
// (through Bytes) that the reader read, however often Open is called.
func TestMaterializeOneCopy(t *testing.T) {
	data := []byte("attachment")
	in := &crm.Incoming{Record: crm.Record{Attachments: []crm.Attachment{{
		Name: "a", Size: int64(len(data)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
	}}}}
	if err := materialize(in); err != nil {
		t.Fatal(err)
	}
	var first []byte
	for range 2 {
		rc, err := in.Record.Attachments[0].Open()
		if err != nil {
			t.Fatal(err)
		}
		m, ok := rc.(interface{ Bytes() []byte })
		if !ok {
			t.Fatalf("materialized reader %T has no Bytes", rc)
		}
		got, _ := io.ReadAll(rc)
		if !bytes.Equal(got, data) || !bytes.Equal(m.Bytes(), data) {
			t.Fatalf("read %q, Bytes %q; want %q", got, m.Bytes(), data)
		}
		if first != nil && &first[0] != &m.Bytes()[0] {
			t.Errorf("a second Open copied the content")
		}
		first = m.Bytes()
		rc.Close()
	}
}
