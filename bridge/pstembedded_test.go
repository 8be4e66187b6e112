package bridge

import (
	"context"
	"io"
	"iter"
	"path/filepath"
	"strings"
	"testing"

	"crmbridge/crm"
	"crmbridge/crmstore"
	"crmbridge/pst"
)

// writeViews writes vs as a PST at path with writePST; an omitted record
// fails the test.
func writeViews(t *testing.T, path string, vs ...*crmstore.View) {
	t.Helper()
	seq := iter.Seq[*crmstore.View](func(yield func(*crmstore.View) bool) {
		for _, v := range vs {
			if !yield(v) {
				return
			}
		}
	})
	omit := func(v *crmstore.View, err error) { t.Errorf("%s omitted: %v", v.Fields["subject"], err) }
	if _, err := writePST(path, seq, omit, func() error { return nil }, sameUIDIn(vs)); err != nil {
		t.Fatal(err)
	}
}

// sameUIDIn finds a record's series among vs, as the export finds it in
// the store: the records with its uid, masters first.
func sameUIDIn(vs []*crmstore.View) seriesFunc {
	return func(v *crmstore.View) ([]*crmstore.View, error) {
		var ms []*crmstore.View
		for _, x := range vs {
			if x.Fields["uid"] != "" && x.Fields["uid"] == v.Fields["uid"] {
				if x.Fields["recurrenceid"] == "" {
					ms = append([]*crmstore.View{x}, ms...)
				} else {
					ms = append(ms, x)
				}
			}
		}
		return ms, nil
	}
}

func textAttachment(name, mime, content string) crm.Attachment {
	return crm.Attachment{Name: name, MimeType: mime, Size: int64(len(content)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(content)), nil }}
}

// TestPSTEmbeddedMessage: an attached e-mail (message/rfc822, as the
// import keeps a PST's embedded message) is written as an embedded
// message object (attach method 5) with its own attachment, not as a
// file; any other attachment stays a file.
func TestPSTEmbeddedMessage(t *testing.T) {
	const fwd = "From: Ann <ann@example.com>\r\nTo: bob@example.com\r\nSubject: original\r\n" +
		"Message-ID: <orig@example.com>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\noriginal body\r\n" +
		"--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nabc\r\n--b--\r\n"
	v := &crmstore.View{Record: crm.Record{ID: "e", Entity: crm.Email,
		Fields: map[string]string{"subject": "outer", "description": "see attached"},
		Attachments: []crm.Attachment{
			textAttachment("original.eml", "message/rfc822", fwd),
			textAttachment("notes.txt", "text/plain", "plain file"),
		}}}
	path := filepath.Join(t.TempDir(), "e.pst")
	writeViews(t, path, v)
	f, err := pst.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for it, err := range f.Items(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		if len(it.Attachments) != 2 {
			t.Fatalf("%d attachments", len(it.Attachments))
		}
		a, b := it.Attachments[0], it.Attachments[1]
		if a.Method != 5 || a.Message == nil || a.Name != "original.eml" {
			t.Fatalf("first attachment: method %d, name %q, message %v", a.Method, a.Name, a.Message != nil)
		}
		m := a.Message
		if m.Subject != "original" || strings.TrimSpace(m.Body) != "original body" || m.Email == nil || m.Email.SenderAddress != "ann@example.com" {
			t.Errorf("embedded: %q %q %+v", m.Subject, m.Body, m.Email)
		}
		if len(m.Attachments) != 1 || m.Attachments[0].Name != "a.txt" || m.Attachments[0].Size != 3 {
			t.Errorf("embedded attachments: %+v", m.Attachments)
		}
		if b.Method != 1 || b.Name != "notes.txt" || b.Size != 10 {
			t.Errorf("second attachment: method %d %q %d bytes", b.Method, b.Name, b.Size)
		}
	}
}
