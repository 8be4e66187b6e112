package crmstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
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

// randomBytes returns n bytes of a fixed pseudo-random sequence.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func hexSum(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Content a reader holds in memory is hashed and kept without a copy;
// content of other readers that fits in one chunk is kept (a copy), larger
// content is only hashed, to be read again when written. All give the same
// hash and size, and empty content is empty, not missing.
func TestReadAttachmentsContent(t *testing.T) {
	small := []byte("attachment content")
	large := randomBytes(2*chunkSize+10, 1)
	for _, c := range []struct {
		name     string
		data     []byte
		mem      bool
		kept     bool // content held in memory by readAttachments
		reopened bool // content to be read again
	}{
		{"small in memory", small, true, true, false},
		{"small streamed", small, false, true, false},
		{"one chunk streamed", large[:chunkSize], false, true, false},
		{"large in memory", large, true, true, false},
		{"large streamed", large, false, false, true},
		{"empty streamed", []byte{}, false, true, false},
	} {
		open := func() (io.ReadCloser, error) {
			if c.mem {
				return memReader{bytes.NewReader(c.data), c.data}, nil
			}
			return io.NopCloser(iotest.HalfReader(bytes.NewReader(c.data))), nil
		}
		as := []crm.Attachment{{Name: "a", Open: open}}
		blobs, err := readAttachments(as)
		if err != nil {
			t.Fatal(err)
		}
		if as[0].SHA256 != hexSum(c.data) || as[0].Size != int64(len(c.data)) {
			t.Errorf("%s: hash %s size %d, want %s %d", c.name, as[0].SHA256, as[0].Size, hexSum(c.data), len(c.data))
		}
		got := blobs[as[0].SHA256]
		if got == nil || got.size != int64(len(c.data)) || (got.data != nil) != c.kept || (got.open != nil) != c.reopened {
			t.Fatalf("%s: content %+v, want kept %v, reopened %v", c.name, got, c.kept, c.reopened)
		}
		if c.kept && !bytes.Equal(got.data, c.data) {
			t.Errorf("%s: kept %d bytes that differ from the content", c.name, len(got.data))
		}
		if c.mem && len(c.data) > 0 && &got.data[0] != &c.data[0] {
			t.Errorf("%s: content in memory copied", c.name)
		}
	}
}

// attachedMail is an e-mail with one attachment whose content open gives.
func attachedMail(key string, open func() (io.ReadCloser, error)) *crm.Incoming {
	return &crm.Incoming{
		Source: crm.SourceRef{Kind: "eml", Key: key, Version: "1"},
		Record: crm.Record{Entity: crm.Email, Fields: map[string]string{"subject": "files " + key},
			Attachments: []crm.Attachment{{Name: "f.bin", MimeType: "application/octet-stream", Open: open}}},
		Keys: []string{"msgid:" + key},
	}
}

func streamed(data []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
}

// Content is stored in chunks of at most chunkSize bytes, numbered from 0,
// and reads back whole, through Read and through io.Copy (WriteTo); the
// same content in a second record is stored once; the full check finds the
// chunks sound. Sizes around the chunk size are the edges.
func TestBlobChunks(t *testing.T) {
	s := openTest(t)
	sizes := []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 3*chunkSize + 17}
	for i, size := range sizes {
		data := randomBytes(size, uint64(i))
		res := apply(t, s, attachedMail(strings.Repeat("k", i+1), streamed(data)), PolicyNewest)
		apply(t, s, attachedMail(strings.Repeat("d", i+1), streamed(data)), PolicyNewest)
		sha := hexSum(data)
		if n, want := count(t, s, `SELECT COUNT(*) FROM blobchunk WHERE sha256 = ?`, sha), (size+chunkSize-1)/chunkSize; n != want {
			t.Errorf("size %d: %d chunks, want %d", size, n, want)
		}
		if n := count(t, s, `SELECT COUNT(*) FROM blobchunk WHERE sha256 = ? AND (length(data) > ? OR n < 0)`, sha, chunkSize); n != 0 {
			t.Errorf("size %d: %d chunks larger than %d or misnumbered", size, n, chunkSize)
		}
		v, err := s.Get(context.Background(), res.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, how := range []string{"Read", "WriteTo"} {
			rc, err := v.Attachments[0].Open()
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if how == "Read" {
				_, err = io.Copy(&got, iotest.OneByteReader(rc))
			} else {
				_, err = io.Copy(&got, rc)
			}
			rc.Close()
			if err != nil || !bytes.Equal(got.Bytes(), data) {
				t.Errorf("size %d, %s: read back %d bytes (%v), want the %d stored", size, how, got.Len(), err, size)
			}
		}
	}
	if n := count(t, s, `SELECT COUNT(*) FROM blob`); n != len(sizes) {
		t.Errorf("%d blobs for %d contents each attached twice", n, len(sizes))
	}
	path := s.Path()
	s.Close()
	rep, err := Check(context.Background(), path)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("check: %v %v", err, rep.Problems)
	}
}

// changing gives other content each time it is opened.
func changing() func() (io.ReadCloser, error) {
	n := 0
	return func() (io.ReadCloser, error) {
		n++
		return io.NopCloser(bytes.NewReader(randomBytes(2*chunkSize, uint64(n)))), nil
	}
}

// Large content is read twice (hashed, then written); content that changed
// in between fails the item, and nothing of it is stored.
func TestBlobChangedWhileRead(t *testing.T) {
	s := openTest(t)
	tx, err := s.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = tx.Apply(attachedMail("changing", changing()), PolicyNewest)
	if err == nil || !strings.Contains(err.Error(), "changed while read") {
		t.Fatalf("apply: %v, want content changed while read", err)
	}
	tx.Rollback()
	if n := count(t, s, `SELECT (SELECT COUNT(*) FROM blob) + (SELECT COUNT(*) FROM blobchunk) + (SELECT COUNT(*) FROM record)`); n != 0 {
		t.Errorf("%d rows stored", n)
	}
}

// Storing and reading back a large attachment allocates a few chunks' worth
// of memory, not the attachment's size: nothing holds it whole.
func TestBlobStreamAllocs(t *testing.T) {
	s := openTest(t)
	data := randomBytes(8<<20, 7)
	open := streamed(data)
	apply(t, s, attachedMail("warm", streamed([]byte("warm up the statements"))), PolicyNewest)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res := apply(t, s, attachedMail("large", open), PolicyNewest)
	runtime.ReadMemStats(&after)
	const limit = 1 << 20
	if got := after.TotalAlloc - before.TotalAlloc; got > limit {
		t.Errorf("storing %d bytes allocated %d bytes, want at most %d", len(data), got, limit)
	}
	v, err := s.Get(context.Background(), res.ID)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	runtime.ReadMemStats(&before)
	rc, err := v.Attachments[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(h, rc)
	rc.Close()
	runtime.ReadMemStats(&after)
	if err != nil || hex.EncodeToString(h.Sum(nil)) != hexSum(data) {
		t.Fatalf("read back: %v, or content differs", err)
	}
	// The driver hands each chunk over in a slice of its own (modernc
	// copies a column out of C memory), garbage once copied into the
	// reader's buffer: the content's size in all, one chunk at a time.
	// Reading it as one row took that slice and the Scan's copy of it.
	if got := after.TotalAlloc - before.TotalAlloc; got > uint64(len(data))+limit {
		t.Errorf("reading %d bytes back allocated %d bytes, want at most %d", len(data), got, len(data)+limit)
	}
}

// A store whose attachment content is one row per blob (schema 19) moves
// it into chunks: content of every size, empty included, reads back the
// same, hash and size unchanged, and the full check finds it sound.
func TestMigrateBlobChunks(t *testing.T) {
	contents := [][]byte{{}, []byte("small"), randomBytes(65536, 2), randomBytes(2*65536+5, 3)}
	path := storeAt(t, 19, `INSERT INTO record (id, entity, created_at, modified_at) VALUES ('11111111-1111-1111-1111-111111111111', 'email', 'x', 'x');
		INSERT INTO activity (id, activitytypecode) VALUES ('11111111-1111-1111-1111-111111111111', 'email');`)
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range contents {
		if _, err := db.Exec(`INSERT INTO blob (sha256, size, data) VALUES (?, ?, ?)`, hexSum(c), len(c), c); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO attachment (record_id, ord, name, mimetype, contentid, inline, size, sha256)
			VALUES ('11111111-1111-1111-1111-111111111111', ?, 'f', 'application/octet-stream', '', 0, ?, ?)`, i, len(c), hexSum(c)); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s, err := Open(context.Background(), path, Options{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.Get(context.Background(), "11111111-1111-1111-1111-111111111111")
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Attachments) != len(contents) {
		t.Fatalf("%d attachments after migration, want %d", len(v.Attachments), len(contents))
	}
	for i, a := range v.Attachments {
		rc, err := a.Open()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, contents[i]) || a.Size != int64(len(contents[i])) || a.SHA256 != hexSum(contents[i]) {
			t.Errorf("attachment %d: %d bytes (%v), size %d, want %d", i, len(got), err, a.Size, len(contents[i]))
		}
	}
	if n := count(t, s, `SELECT COUNT(*) FROM blobchunk`); n != 0+1+1+3 {
		t.Errorf("%d chunks, want 5", n)
	}
	s.Close()
	rep, err := Check(context.Background(), path)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("check: %v %v", err, rep.Problems)
	}
}

// The full check finds content whose chunks do not make up its blob: a
// chunk missing, or numbered wrong.
func TestCheckBlobChunks(t *testing.T) {
	for _, damage := range []string{
		`DELETE FROM blobchunk WHERE n = 1`,
		`UPDATE blobchunk SET n = 5 WHERE n = 1`,
		`UPDATE blob SET size = size + 1`,
	} {
		s := openTest(t)
		apply(t, s, attachedMail("m", streamed(randomBytes(2*chunkSize, 9))), PolicyNewest)
		if _, err := s.db.Exec(damage); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(damage, "UPDATE blob ") {
			// keep the tally true: only the chunks are damaged
			if _, err := s.db.Exec(`UPDATE tally SET n = (SELECT SUM(size) FROM blob) WHERE name = 'blob_bytes'`); err != nil {
				t.Fatal(err)
			}
		}
		path := s.Path()
		s.Close()
		rep, err := Check(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Problems) != 1 || !strings.HasPrefix(rep.Problems[0], "attachment content: blob ") {
			t.Errorf("%s: problems %q, want one about attachment content", damage, rep.Problems)
		}
	}
}

// Content whose chunk is missing reads as an error, not as shorter
// content: the first chunk when opened, a later one when read.
func TestBlobMissingChunk(t *testing.T) {
	for _, n := range []int{0, 1} {
		s := openTest(t)
		res := apply(t, s, attachedMail("m", streamed(randomBytes(2*chunkSize, 4))), PolicyNewest)
		if _, err := s.db.Exec(`DELETE FROM blobchunk WHERE n = ?`, n); err != nil {
			t.Fatal(err)
		}
		v, err := s.Get(context.Background(), res.ID)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := v.Attachments[0].Open()
		if err == nil {
			_, err = io.ReadAll(rc)
			rc.Close()
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "chunk") {
			t.Errorf("chunk %d missing: %v, want an unexpected EOF naming the chunk", n, err)
		}
	}
}
