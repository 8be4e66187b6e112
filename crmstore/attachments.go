package crmstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"

	"crmbridge/crm"
)

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

func (t *Tx) writeAttachments(id string, as []crm.Attachment, blobs map[string][]byte, existing bool) error {
	if existing {
		if _, err := t.exec(`DELETE FROM attachment WHERE record_id = ?`, id); err != nil {
			return fmt.Errorf("clear attachments: %w", err)
		}
	}
	for i, a := range as {
		if data, ok := blobs[a.SHA256]; ok {
			if _, err := t.exec(`INSERT OR IGNORE INTO blob (sha256, size, data) VALUES (?,?,?)`, a.SHA256, len(data), data); err != nil {
				return fmt.Errorf("store attachment content: %w", err)
			}
		}
		if _, err := t.exec(`INSERT INTO attachment (record_id, ord, name, mimetype, contentid, inline, size, sha256) VALUES (?,?,?,?,?,?,?,?)`,
			id, i, a.Name, a.MimeType, a.ContentID, a.Inline, a.Size, a.SHA256); err != nil {
			return fmt.Errorf("insert attachment %q: %w", a.Name, err)
		}
	}
	return nil
}

// readAttachments reads the content of attachments that come with Open,
// filling SHA256 and Size.
func readAttachments(as []crm.Attachment) (map[string][]byte, error) {
	blobs := map[string][]byte{}
	for i := range as {
		a := &as[i]
		if a.Open == nil {
			if a.SHA256 == "" {
				return nil, fmt.Errorf("attachment %q has neither content nor hash", a.Name)
			}
			continue
		}
		rc, err := a.Open()
		if err != nil {
			return nil, fmt.Errorf("read attachment %q: %w", a.Name, err)
		}
		data, err := contentBytes(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("read attachment %q: %w", a.Name, err)
		}
		sum := sha256.Sum256(data)
		a.SHA256 = hex.EncodeToString(sum[:])
		a.Size = int64(len(data))
		if data == nil {
			data = []byte{} // empty content, not NULL
		}
		blobs[a.SHA256] = data
	}
	return blobs, nil
}

// checkBlobs refuses attachments given by hash only (no content) whose
// content the store does not hold: the attachment row would point at
// nothing.
func (t *Tx) checkBlobs(as []crm.Attachment, blobs map[string][]byte) error {
	for _, a := range as {
		if _, ok := blobs[a.SHA256]; ok {
			continue
		}
		var n int
		if err := t.queryRow(`SELECT COUNT(*) FROM blob WHERE sha256 = ?`, a.SHA256).Scan(&n); err != nil {
			return fmt.Errorf("look up attachment content %s: %w", a.SHA256, err)
		}
		if n == 0 {
			return fmt.Errorf("attachment %q: no content with hash %s in the store", a.Name, a.SHA256)
		}
	}
	return nil
}

// contentBytes returns all of r's content. A reader that already holds its
// content in memory and says so (a Bytes() []byte method, as the importer's
// readers have) is used as it is, not copied: the caller must not change
// the bytes, and the store only hashes and writes them.
func contentBytes(r io.Reader) ([]byte, error) {
	if m, ok := r.(interface{ Bytes() []byte }); ok {
		return m.Bytes(), nil
	}
	var buf bytes.Buffer
	_, err := io.Copy(&buf, r)
	return buf.Bytes(), err
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

// OpenBlob returns the attachment content with the given SHA-256.
func (s *Store) OpenBlob(ctx context.Context, sha string) (io.ReadCloser, error) {
	var data []byte
	if err := s.db.QueryRowContext(ctx, `SELECT data FROM blob WHERE sha256 = ?`, sha).Scan(&data); err != nil {
		return nil, fmt.Errorf("attachment content %s: %w", sha, err)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}
