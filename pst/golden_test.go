package pst

import (
	"context"
	"crmbridge/fixtures"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output (review the diff by hand)")

// goldenItem is the JSON form of an Item in golden files: long text is
// summarised by its SHA-256 and attachments by the SHA-256 of their content.
type goldenItem struct {
	*Item
	Body        string
	BodyHTML    string
	Attachments []goldenAttachment
	Email       *goldenEmail `json:",omitempty"`
}

type goldenEmail struct {
	*Email
	Headers string
}

type goldenAttachment struct {
	Name, MimeType, ContentID string
	Size                      int64
	Method                    int
	Inline                    bool
	SHA256                    string      `json:",omitempty"`
	Message                   *goldenItem `json:",omitempty"`
}

func summarize(s string) string {
	if len(s) <= 512 {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return fmt.Sprintf("%d bytes, sha256 %x", len(s), sum)
}

func toGolden(t *testing.T, it *Item) *goldenItem {
	g := &goldenItem{Item: it, Body: summarize(it.Body), BodyHTML: summarize(it.BodyHTML)}
	if it.Email != nil {
		g.Email = &goldenEmail{Email: it.Email, Headers: summarize(it.Email.Headers)}
	}
	for _, a := range it.Attachments {
		ga := goldenAttachment{Name: a.Name, MimeType: a.MimeType, ContentID: a.ContentID, Size: a.Size, Method: a.Method, Inline: a.Inline}
		if a.Open != nil {
			rc, err := a.Open()
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			if _, err := io.Copy(h, rc); err != nil {
				t.Fatal(err)
			}
			rc.Close()
			ga.SHA256 = hex.EncodeToString(h.Sum(nil))
		}
		if a.Message != nil {
			ga.Message = toGolden(t, a.Message)
		}
		g.Attachments = append(g.Attachments, ga)
	}
	return g
}

// TestGolden compares one item of each kind with a reviewed JSON file.
// The values were checked by hand against pffexport's text export
// (Contact.txt, Appointment.txt, Recipients.txt, Task.txt, the files in
// Attachments/) and, for the Japanese contact, pffexport -c windows-932.
func TestGolden(t *testing.T) {
	tests := []struct {
		golden, file, folder string
		index                int
	}{
		{"contact_cp932.golden", fileJapanese, "連絡先 (Contact dedicated)", 1},
		{"appointment_attendees.golden", file32bit, "Calendar", 1},
		{"task.golden", fileDuckDB, "Tasks", 1},
		{"email_attachments.golden", fileChunks, "Sent Items", 1},
		{"email_embedded.golden", fileSubmessage, "submessage", 1},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			// An attachment's Open is valid only while the walk is on
			// its item (a small block cache made reading it after the
			// walk fail with "file already closed").
			var found *goldenItem
			f, err := Open(corpusFile(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for it, err := range f.Items(context.Background()) {
				if err != nil {
					t.Errorf("%s: %v", tt.file, err)
					continue
				}
				if it.Folder == tt.folder && it.Index == tt.index {
					found = toGolden(t, it)
				}
			}
			if found == nil {
				t.Fatalf("no item %d in %q", tt.index, tt.folder)
			}
			got, err := json.MarshalIndent(found, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			fixtures.Golden(t, filepath.Join("testdata", tt.golden), got, *update)
		})
	}
}
