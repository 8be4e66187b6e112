package crmstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"sync"

	"crmbridge/crm"
)

// chunkSize is the most content one blobchunk row holds (migration 20).
// Content is written and read a chunk at a time, so that neither side
// holds an attachment whole: the driver copies each bound value into C
// memory and SQLite builds each row in a buffer of its own, so a row of a
// whole 5 MB attachment cost three copies of it at once. 64 KiB rows span
// 16 pages of 4 KiB; a quarter of a MiB saved no measurable time.
const (
	chunkSize    = 64 << 10
	chunkSizeSQL = "65536" // chunkSize in SQL text (migration 20, Check)
)

// chunkBufs holds chunk-sized buffers for reading content.
var chunkBufs = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

func (t *Tx) loadAttachments(id string) ([]crm.Attachment, error) {
	rows, err := t.query(`SELECT name, mimetype, contentid, inline, size, sha256 FROM attachment WHERE record_id = ? ORDER BY ord`, id)
	if err != nil {
		return nil, fmt.Errorf("load attachments: %w", err)
	}
	defer rows.Close()
	var as []crm.Attachment
	for rows.Next() {
		var a crm.Attachment
		if err := rows.Scan(&a.Name, &a.MimeType, &a.ContentID, &a.Inline, &a.Size, &a.SHA256); err != nil {
			return nil, err
		}
		as = append(as, a)
	}
	return as, rows.Err()
}

func (t *Tx) writeAttachments(id string, as []crm.Attachment, blobs map[string]*content, existing bool) error {
	if existing {
		if _, err := t.exec(`DELETE FROM attachment WHERE record_id = ?`, id); err != nil {
			return fmt.Errorf("clear attachments: %w", err)
		}
	}
	for i, a := range as {
		if c, ok := blobs[a.SHA256]; ok {
			if err := t.writeBlob(a.SHA256, c); err != nil {
				return fmt.Errorf("store content of attachment %q: %w", a.Name, err)
			}
		}
		if err := t.later(`INSERT INTO attachment (record_id, ord, name, mimetype, contentid, inline, size, sha256)`, "",
			id, i, a.Name, a.MimeType, a.ContentID, a.Inline, a.Size, a.SHA256); err != nil {
			return fmt.Errorf("insert attachment %q: %w", a.Name, err)
		}
	}
	return nil
}

// content is an attachment's content as hashAttachments leaves it for
// writeBlob: in memory (data; small content, or a reader that holds it
// already), or to be read again (open).
type content struct {
	size int64
	data []byte
	open func() (io.ReadCloser, error)
}

// writeBlob stores the content with hash sha, unless the store holds it
// already: a blob row, then its chunks in order. Content read again from
// its source is hashed again as it is written; content that changed in
// between is an error (the item fails: its rows are not committed).
//
// Blob rows refer to no record: they are written at once, leaving a new
// record's rows pending (pending.go), chunk by chunk from the buffer.
func (t *Tx) writeBlob(sha string, c *content) error {
	res, err := t.execNow(`INSERT OR IGNORE INTO blob (sha256, size) VALUES (?,?)`, sha, c.size)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err // held already (dedup by hash)
	}
	put := func(n int, data []byte) error {
		_, err := t.execNow(`INSERT INTO blobchunk (sha256, n, data) VALUES (?,?,?)`, sha, n, data)
		return err
	}
	if c.open == nil {
		for n, off := 0, 0; off < len(c.data); n, off = n+1, off+chunkSize {
			if err := put(n, c.data[off:min(off+chunkSize, len(c.data))]); err != nil {
				return err
			}
		}
		return nil
	}
	rc, err := c.open()
	if err != nil {
		return err
	}
	defer rc.Close()
	bp := chunkBufs.Get().(*[]byte)
	defer chunkBufs.Put(bp)
	h := sha256.New()
	var size int64
	for n := 0; ; n++ {
		m, err := io.ReadFull(rc, *bp)
		if m > 0 {
			h.Write((*bp)[:m])
			size += int64(m)
			if err := put(n, (*bp)[:m]); err != nil {
				return err
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sha || size != c.size {
		return fmt.Errorf("content changed while read: %d bytes with hash %s, then %d with %s", c.size, sha, size, got)
	}
	return nil
}

// readAttachments hashes the content of attachments that come with Open,
// filling SHA256 and Size, and returns the content to store by hash. It
// reads each through one chunk-sized buffer: content that fits in it is
// kept, larger content is read again when written (writeBlob), so that
// memory does not grow with an attachment's size. Content a reader already
// holds in memory (a Bytes() []byte method, as the importer's in-memory
// readers have) is used as it is, not copied: the caller must not change
// the bytes.
func readAttachments(as []crm.Attachment) (map[string]*content, error) {
	blobs := map[string]*content{}
	var bp *[]byte
	defer func() {
		if bp != nil {
			chunkBufs.Put(bp)
		}
	}()
	var h hash.Hash
	for i := range as {
		a := &as[i]
		if a.Open == nil {
			if a.SHA256 == "" {
				return nil, fmt.Errorf("attachment %q has neither content nor hash", a.Name)
			}
			continue
		}
		if bp == nil {
			bp = chunkBufs.Get().(*[]byte)
			h = sha256.New()
		}
		h.Reset()
		c, err := hashContent(a.Open, h, *bp)
		if err != nil {
			return nil, fmt.Errorf("read attachment %q: %w", a.Name, err)
		}
		a.SHA256 = hex.EncodeToString(h.Sum(nil))
		a.Size = c.size
		blobs[a.SHA256] = c
	}
	return blobs, nil
}

// hashContent reads the content open gives into h through buf.
func hashContent(open func() (io.ReadCloser, error), h hash.Hash, buf []byte) (*content, error) {
	rc, err := open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if m, ok := rc.(interface{ Bytes() []byte }); ok {
		data := m.Bytes()
		h.Write(data)
		return &content{size: int64(len(data)), data: data}, nil
	}
	c := &content{}
	for fills := 1; ; fills++ {
		m, err := io.ReadFull(rc, buf)
		h.Write(buf[:m])
		c.size += int64(m)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			if c.size <= int64(len(buf)) { // fits in one chunk: kept
				c.data = append([]byte{}, buf[:c.size]...)
				return c, nil
			}
			break
		}
		if err != nil {
			return nil, err
		}
	}
	c.open = open
	return c, nil
}

// checkBlobs refuses attachments given by hash only (no content) whose
// content the store does not hold: the attachment row would point at
// nothing.
func (t *Tx) checkBlobs(as []crm.Attachment, blobs map[string]*content) error {
	for _, a := range as {
		if _, ok := blobs[a.SHA256]; ok {
			continue
		}
		var n int
		if err := t.peek(`SELECT COUNT(*) FROM blob WHERE sha256 = ?`, a.SHA256).Scan(&n); err != nil { // no blob row is pending
			return fmt.Errorf("look up attachment content %s: %w", a.SHA256, err)
		}
		if n == 0 {
			return fmt.Errorf("attachment %q: no content with hash %s in the store", a.Name, a.SHA256)
		}
	}
	return nil
}

func canonAttachments(as []crm.Attachment) string {
	type ca struct {
		N string `json:"n"`
		M string `json:"m"`
		C string `json:"c,omitempty"`
		I bool   `json:"i,omitempty"`
		H string `json:"h"`
	}
	out := make([]ca, len(as))
	for i, a := range as {
		out[i] = ca{a.Name, a.MimeType, a.ContentID, a.Inline, a.SHA256}
	}
	if len(out) == 0 {
		return ""
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// OpenBlob returns the attachment content with the given SHA-256. It
// reads the content a chunk at a time as it is read (blobs are never
// changed once written, so the chunks need no common transaction); the
// first chunk comes with the size, so that content of one chunk, most
// attachments, costs one query.
func (s *Store) OpenBlob(ctx context.Context, sha string) (io.ReadCloser, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT b.size, c.data FROM blob b LEFT JOIN blobchunk c ON c.sha256 = b.sha256 AND c.n = 0 WHERE b.sha256 = ?`, sha)
	if err != nil {
		return nil, fmt.Errorf("attachment content %s: %w", sha, err)
	}
	defer rows.Close()
	if !rows.Next() {
		err := rows.Err()
		if err == nil {
			err = sql.ErrNoRows
		}
		return nil, fmt.Errorf("attachment content %s: %w", sha, err)
	}
	r := &blobReader{ctx: ctx, db: s.db, sha: sha}
	var raw sql.RawBytes
	if err := rows.Scan(&r.left, &raw); err != nil {
		return nil, fmt.Errorf("attachment content %s: %w", sha, err)
	}
	if r.left > 0 {
		if err := r.take(raw); err != nil {
			return nil, err
		}
	}
	return r, rows.Close()
}

// blobReader reads a blob's chunks in order.
type blobReader struct {
	ctx  context.Context
	db   *sql.DB
	sha  string
	n    int    // the next chunk
	left int64  // bytes not yet read into buf
	buf  []byte // the current chunk
	off  int    // read position in buf
	bp   *[]byte
}

func (r *blobReader) Read(p []byte) (int, error) {
	if r.off == len(r.buf) {
		if r.left <= 0 {
			return 0, io.EOF
		}
		if err := r.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.buf[r.off:])
	r.off += n
	return n, nil
}

// WriteTo writes the rest of the content to w, a chunk at a time
// (io.Copy uses it: no buffer of its own).
func (r *blobReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if r.off == len(r.buf) {
			if r.left <= 0 {
				return total, nil
			}
			if err := r.next(); err != nil {
				return total, err
			}
		}
		n, err := w.Write(r.buf[r.off:])
		r.off += n
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
}

// next reads chunk r.n into r.buf.
func (r *blobReader) next() error {
	rows, err := r.db.QueryContext(r.ctx, `SELECT data FROM blobchunk WHERE sha256 = ? AND n = ?`, r.sha, r.n)
	if err != nil {
		return fmt.Errorf("attachment content %s: %w", r.sha, err)
	}
	defer rows.Close()
	var raw sql.RawBytes
	if rows.Next() {
		if err := rows.Scan(&raw); err != nil {
			return fmt.Errorf("attachment content %s: %w", r.sha, err)
		}
	} else if err := rows.Err(); err != nil {
		return fmt.Errorf("attachment content %s: %w", r.sha, err)
	}
	if err := r.take(raw); err != nil {
		return err
	}
	return rows.Close()
}

// take makes raw, the bytes of chunk r.n (nil: no such chunk), the
// current chunk.
func (r *blobReader) take(raw []byte) error {
	if raw == nil {
		return fmt.Errorf("attachment content %s: chunk %d missing: %w", r.sha, r.n, io.ErrUnexpectedEOF)
	}
	if len(raw) == 0 || int64(len(raw)) > r.left || len(raw) > chunkSize {
		return fmt.Errorf("attachment content %s: chunk %d holds %d bytes, at most %d expected", r.sha, r.n, len(raw), min(r.left, chunkSize))
	}
	if r.bp == nil {
		r.bp = chunkBufs.Get().(*[]byte)
	}
	r.buf = append((*r.bp)[:0], raw...)
	r.off = 0
	r.left -= int64(len(raw))
	r.n++
	return nil
}

// Close releases the reader's buffer.
func (r *blobReader) Close() error {
	if r.bp != nil {
		chunkBufs.Put(r.bp)
		r.bp, r.buf = nil, nil
	}
	return nil
}
