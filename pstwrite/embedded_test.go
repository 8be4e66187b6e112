package pstwrite

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"crmbridge/pst"
)

// embeddedFixture is a message with a message attached (attach method 5)
// that has a recipient, a file attachment and a message attached in turn.
func embeddedFixture() *Message {
	inner := &Message{Props: []Prop{String(Tag(0x001A), "IPM.Note"), String(Tag(0x0037), "inner note"), String(Tag(0x1000), "inner body")}}
	mid := &Message{
		Props:      []Prop{String(Tag(0x001A), "IPM.Note"), String(Tag(0x0037), "forwarded"), String(Tag(0x1000), "forwarded body")},
		Recipients: [][]Prop{{Int32(Tag(0x0C15), 1), String(Tag(0x3001), "Ann"), String(Tag(0x3002), "SMTP"), String(Tag(0x3003), "ann@example.com")}},
		Attachments: []Attachment{
			{Props: []Prop{Int32(Tag(0x3705), 1), String(Tag(0x3707), "note.txt")}, Data: strings.NewReader("hello")},
			{Props: []Prop{Int32(Tag(0x3705), 5), String(Tag(0x3001), "inner note")}, Embedded: inner},
		},
	}
	return &Message{
		Props:       []Prop{String(Tag(0x001A), "IPM.Note"), String(Tag(0x0037), "outer")},
		Attachments: []Attachment{{Props: []Prop{Int32(Tag(0x3705), 5), String(Tag(0x3001), "forwarded")}, Embedded: mid}},
	}
}

// TestEmbeddedMessage writes messages attached as messages (MS-PST
// 2.4.6.2, afEmbeddedMessage) two levels deep and reads them back with
// the validator, our reader, pffexport and pypff.
func TestEmbeddedMessage(t *testing.T) {
	dir := t.TempDir()
	if d := os.Getenv("PSTW_KEEP"); d != "" {
		dir = d
	}
	path := filepath.Join(dir, "embedded.pst")
	w, err := Create(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	inbox, _ := w.Folder(IPMSubtree, "Inbox", "IPF.Note")
	if err := w.Add(inbox, embeddedFixture()); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, err := range validate(path, true) {
		t.Error(err)
	}

	f, err := pst.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for it, err := range f.Items(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if len(it.Attachments) != 1 || it.Attachments[0].Method != 5 || it.Attachments[0].Message == nil {
			t.Fatalf("outer: attachments %+v", it.Attachments)
		}
		mid := it.Attachments[0].Message
		if mid.Subject != "forwarded" || mid.Body != "forwarded body" {
			t.Errorf("embedded: subject %q body %q", mid.Subject, mid.Body)
		}
		if mid.Email == nil || len(mid.Email.Recipients) != 1 || mid.Email.Recipients[0].Address != "ann@example.com" {
			t.Errorf("embedded: email %+v", mid.Email)
		}
		if len(mid.Attachments) != 2 || mid.Attachments[0].Name != "note.txt" || mid.Attachments[0].Size != 5 {
			t.Fatalf("embedded: attachments %+v", mid.Attachments)
		}
		if in := mid.Attachments[1].Message; in == nil || in.Subject != "inner note" || in.Body != "inner body" {
			t.Errorf("nested: %+v", in)
		}
	}
	if n != 1 {
		t.Errorf("%d messages, want 1", n)
	}

	// pffexport writes an embedded message as a Message directory inside
	// the attachment's directory, with its own attachments.
	if _, err := exec.LookPath("pffexport"); err == nil {
		out := filepath.Join(dir, "pff")
		if b, err := exec.Command("pffexport", "-q", "-t", out, path).CombinedOutput(); err != nil {
			t.Fatalf("pffexport: %v\n%s", err, b)
		}
		var found []string
		filepath.Walk(out+".export", func(p string, fi os.FileInfo, err error) error {
			switch {
			case err != nil:
			case fi.Name() == "OutlookHeaders.txt":
				b, _ := os.ReadFile(p)
				found = append(found, firstSubject(string(b)))
			case strings.HasSuffix(fi.Name(), "note.txt"):
				b, _ := os.ReadFile(p)
				found = append(found, fi.Name()+"="+string(b))
			}
			return nil
		})
		slices.Sort(found)
		if got, want := strings.Join(found, ","), "1_note.txt=hello,forwarded,inner note,outer"; got != want {
			t.Errorf("pffexport: %s, want %s", got, want)
		}
	}

	// readpst writes an embedded message as a message/rfc822 part.
	if _, err := exec.LookPath("readpst"); err == nil {
		out := filepath.Join(dir, "readpst")
		os.Mkdir(out, 0o700)
		if b, err := exec.Command("readpst", "-j", "1", "-S", "-q", "-o", out, path).CombinedOutput(); err != nil {
			t.Fatalf("readpst: %v\n%s", err, b)
		}
		b, err := os.ReadFile(filepath.Join(out, "Personal Folders", "Inbox", "1"))
		if err != nil {
			t.Fatal(err)
		}
		var subjects []string
		for _, l := range strings.Split(string(b), "\n") {
			if s, ok := strings.CutPrefix(strings.TrimRight(l, "\r"), "Subject: "); ok {
				subjects = append(subjects, s)
			}
		}
		if got := strings.Join(subjects, ","); got != "outer,forwarded,inner note" || strings.Count(string(b), "message/rfc822") != 2 {
			t.Errorf("readpst: subjects %s, %d message/rfc822 parts", got, strings.Count(string(b), "message/rfc822"))
		}
	}

	// pypff (libpff's Python binding) gives no access to an embedded
	// message, Outlook's or ours (number_of_sub_items is 0 for both:
	// checked on pstsdk's test_submessage.pst); it sees the attachment
	// with method 5 and a PtypObject value, as in Outlook's files.
	if exec.Command("/usr/bin/python3", "-c", "import pypff").Run() == nil {
		script := `
import sys, pypff
f = pypff.file()
f.open(sys.argv[1])
a = f.root_folder.get_sub_folder(0).get_sub_folder(1).get_sub_message(0).get_attachment(0)
e = {x.entry_type: x for x in a.record_sets[0].entries}
print(int.from_bytes(e[0x3705].data, "little"), hex(e[0x3701].value_type))
`
		out, err := exec.Command("/usr/bin/python3", "-c", script, path).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "5 0xd" {
			t.Errorf("pypff: %v: %s", err, out)
		}
	}
}

// firstSubject returns the "Subject:" value of a pffexport text dump, or
// the text itself.
func firstSubject(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "Subject" {
			return strings.TrimSpace(v)
		}
	}
	return strings.TrimSpace(s)
}
