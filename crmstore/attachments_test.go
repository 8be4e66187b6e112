package crmstore

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"

	"crmbridge/crm"
)

// memReader holds its content in memory and says so.
type memReader struct {
	*bytes.Reader
	data []byte
}

func (m memReader) Bytes() []byte { return m.data }
func (m memReader) Close() error  { return nil }

// Content a reader holds in memory is hashed and stored without a copy;
// other readers are read to their end. Both give the same hash and size,
// and empty content is an empty blob, not NULL.
func TestReadAttachmentsContent(t *testing.T) {
	data := []byte("attachment content")
	readers := map[string]func() io.ReadCloser{
		"in memory": func() io.ReadCloser { return memReader{bytes.NewReader(data), data} },
		"streamed":  func() io.ReadCloser { return io.NopCloser(iotest.HalfReader(bytes.NewReader(data))) },
	}
	var hashes []string
	for name, open := range readers {
		as := []crm.Attachment{
			{Name: "a", Open: func() (io.ReadCloser, error) { return open(), nil }},
			{Name: "empty", Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(nil)), nil }},
		}
		blobs, err := readAttachments(as)
		if err != nil {
			t.Fatal(err)
		}
		got := blobs[as[0].SHA256]
		if !bytes.Equal(got, data) || as[0].Size != int64(len(data)) {
			t.Fatalf("%s: blob %q size %d, want %q", name, got, as[0].Size, data)
		}
		if copied := &got[0] != &data[0]; copied != (name == "streamed") {
			t.Errorf("%s: content copied %v", name, copied)
		}
		if b, ok := blobs[as[1].SHA256]; !ok || b == nil || len(b) != 0 || as[1].Size != 0 {
			t.Errorf("%s: empty attachment: blob %v (present %v), size %d; want empty, not NULL", name, b, ok, as[1].Size)
		}
		hashes = append(hashes, as[0].SHA256)
	}
	if hashes[0] != hashes[1] {
		t.Errorf("hashes differ: %v", hashes)
	}
}
