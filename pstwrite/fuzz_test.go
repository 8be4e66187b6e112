package pstwrite

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"crmbridge/pst"
)

// FuzzWriteRead turns raw bytes into messages (fields separated by 0xFF:
// subject, body, recipient address, attachment content, four per
// message; a message with an attachment also gets an embedded message,
// subject the recipient, body the subject, with the same attachment),
// writes them, checks the file with the validator and reads it back with
// crmbridge's pst reader: every message, with the same subject, body,
// recipient and attachment bytes, and its embedded message. A panic
// anywhere is a failure.
func FuzzWriteRead(f *testing.F) {
	f.Add([]byte("Hello\xffBody text\xffbob@example.com\xffattachment"))
	f.Add([]byte("\xff\xff\xff"))
	f.Add([]byte("\x01\x05RE: subject prefix marker\xffb"))
	f.Add(append([]byte("big\xff"), bytes.Repeat([]byte("x"), 9000)...))
	f.Add([]byte("a\x00b\xffü\xfe\xff\xffdata\xffsecond\xffbody2\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fields := bytes.Split(data, []byte{0xFF})
		type want struct {
			subject, body, to string
			attach            []byte
		}
		var wants []want
		path := filepath.Join(t.TempDir(), "f.pst")
		w, err := Create(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		inbox, err := w.Folder(IPMSubtree, "Inbox", "IPF.Note")
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(fields) && len(wants) < 8; i += 4 {
			get := func(k int) []byte {
				if i+k < len(fields) {
					return fields[i+k]
				}
				return nil
			}
			wt := want{subject: string(get(0)), body: string(get(1)), to: string(get(2)), attach: get(3)}
			m := &Message{Props: []Prop{
				String(Tag(0x001A), "IPM.Note"),
				String(Tag(0x0037), wt.subject),
				String(Tag(0x1000), wt.body),
			}}
			if wt.to != "" {
				m.Recipients = [][]Prop{{Int32(Tag(0x0C15), 1), String(Tag(0x3001), wt.to), String(Tag(0x3002), "SMTP"), String(Tag(0x3003), wt.to)}}
			}
			if len(wt.attach) > 0 {
				file := func() Attachment {
					return Attachment{Props: []Prop{Int32(Tag(0x3705), 1), String(Tag(0x3707), "a.bin")}, Data: bytes.NewReader(wt.attach)}
				}
				inner := &Message{Props: []Prop{String(Tag(0x001A), "IPM.Note"), String(Tag(0x0037), wt.to), String(Tag(0x1000), wt.subject)},
					Attachments: []Attachment{file()}}
				m.Attachments = []Attachment{file(), {Props: []Prop{Int32(Tag(0x3705), 5)}, Embedded: inner}}
			}
			if err := w.Add(inbox, m); err != nil {
				t.Fatal(err)
			}
			wants = append(wants, wt)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		for _, err := range validate(path, true) {
			t.Error(err)
		}
		r, err := pst.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		n := 0
		for it, err := range r.Items(context.Background()) {
			if err != nil {
				t.Fatal(err)
			}
			if n >= len(wants) {
				t.Fatalf("more items than written")
			}
			wt := wants[n]
			n++
			if it.Subject != textOf(wt.subject) || it.Body != textOf(wt.body) {
				t.Errorf("item %d: subject %q body %q, want %q %q", n, it.Subject, it.Body, textOf(wt.subject), textOf(wt.body))
			}
			var to string
			if len(it.Email.Recipients) > 0 {
				to = it.Email.Recipients[0].Address
			}
			if to != textOf(wt.to) {
				t.Errorf("item %d: recipient %q, want %q", n, to, textOf(wt.to))
			}
			content := func(a *pst.Attachment) []byte {
				if a.Open == nil {
					return nil
				}
				rc, err := a.Open()
				if err != nil {
					t.Fatal(err)
				}
				defer rc.Close()
				b, _ := io.ReadAll(rc)
				return b
			}
			var got []byte
			if len(it.Attachments) > 0 {
				got = content(it.Attachments[0])
			}
			if !bytes.Equal(got, wt.attach) {
				t.Errorf("item %d: attachment of %d bytes, want %d", n, len(got), len(wt.attach))
			}
			if len(wt.attach) > 0 {
				if len(it.Attachments) != 2 || it.Attachments[1].Message == nil {
					t.Fatalf("item %d: %d attachments, no embedded message", n, len(it.Attachments))
				}
				em := it.Attachments[1].Message
				if em.Subject != textOf(wt.to) || em.Body != textOf(wt.subject) || len(em.Attachments) != 1 || !bytes.Equal(content(em.Attachments[0]), wt.attach) {
					t.Errorf("item %d: embedded message %q %q with %d attachments", n, em.Subject, em.Body, len(em.Attachments))
				}
			}
		}
		if n != len(wants) {
			t.Errorf("%d items read, %d written", n, len(wants))
		}
	})
}

// textOf is what a string property gives back: the text as UTF-16 holds
// it (invalid UTF-8 bytes become U+FFFD), without NUL characters.
func textOf(s string) string { return strings.ReplaceAll(string([]rune(s)), "\x00", "") }
