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
// message), writes them, checks the file with the validator and reads it
// back with crmbridge's pst reader: every message, with the same subject,
// body, recipient and attachment bytes. A panic anywhere is a failure.
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
				m.Attachments = []Attachment{{Props: []Prop{Int32(Tag(0x3705), 1), String(Tag(0x3707), "a.bin")}, Data: bytes.NewReader(wt.attach)}}
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
			var got []byte
			for _, a := range it.Attachments {
				rc, err := a.Open()
				if err != nil {
					t.Fatal(err)
				}
				got, _ = io.ReadAll(rc)
				rc.Close()
			}
			if !bytes.Equal(got, wt.attach) {
				t.Errorf("item %d: attachment of %d bytes, want %d", n, len(got), len(wt.attach))
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
