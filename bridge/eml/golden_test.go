package eml

import (
	"bytes"
	"encoding/json"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"crmbridge/crm"
	"crmbridge/fixtures"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenView is what a golden file records of one message.
type goldenView struct {
	Source      crm.SourceRef
	Keys        []string
	ModifiedAt  string
	Pos         string
	Fields      map[string]string
	Parties     []crm.Party
	Attachments []goldenAttachment
	Warnings    []string
}

type goldenAttachment struct {
	Name, MimeType, ContentID string
	Inline                    bool
	Size                      int64
	SHA256                    string
}

func view(t *testing.T, inc *crm.Incoming, warns []error) goldenView {
	v := goldenView{
		Source: inc.Source, Keys: inc.Keys, Pos: inc.Pos,
		Fields: inc.Record.Fields, Parties: inc.Record.Parties,
	}
	if !inc.ModifiedAt.IsZero() {
		v.ModifiedAt = inc.ModifiedAt.Format("2006-01-02T15:04:05Z07:00")
	}
	for _, a := range inc.Record.Attachments {
		v.Attachments = append(v.Attachments, goldenAttachment{a.Name, a.MimeType, a.ContentID, a.Inline, a.Size, attachmentSHA(t, a)})
	}
	for _, w := range warns {
		v.Warnings = append(v.Warnings, w.Error())
	}
	return v
}

// TestGolden compares the full reading of a few messages with golden files:
// two fixtures written for this package (ISO-2022-JP headers and body
// with a Shift_JIS attachment named through RFC 2231; KOI8-R encoded
// words, a quoted-printable HTML body and an inline image in
// multipart/related) and corpus files. The expected values were checked by
// hand against the fixtures (and by TestEMLAgainstPython against Python).
func TestGolden(t *testing.T) {
	corpus := fixtures.CorpusDir(t, "eml")
	for _, tc := range []struct{ golden, path string }{
		{"iso-2022-jp", "testdata/iso-2022-jp.eml"},
		{"koi8-r", "testdata/koi8-r.eml"},
		// MIME damage (RFC 2045 5.2, RFC 2046 5.1.1): the text body is the
		// first text part a reader would show.
		{"missing-boundary", "testdata/missing-boundary.eml"},
		{"unterminated-inner", "testdata/unterminated-inner.eml"},
		{"invalid-content-type", "testdata/invalid-content-type.eml"},
		{"corpus-rfc822-attachment", filepath.Join(corpus, "mikel__mail__spec_fixtures_emails_attachment_emails_attachment_message_rfc822.eml")},
		{"corpus-unknown-charset", filepath.Join(corpus, "jhillyerd__enmime__testdata_low-quality_unk-charset-part.raw.eml")},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			r := NewReader(bytes.NewReader(readFile(t, tc.path)), filepath.Base(tc.path))
			incs, warns := collect(t, r)
			if len(incs) != 1 {
				t.Fatalf("%d messages", len(incs))
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(view(t, incs[0], warns)); err != nil {
				t.Fatal(err)
			}
			got := buf.Bytes()
			fixtures.Golden(t, filepath.Join("testdata", "golden", tc.golden+".json"), got, *update)
		})
	}
}

// TestFixturesAgainstPython runs the Python comparison on our own fixtures.
func TestFixturesAgainstPython(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.eml")
	py := runPython(t, "eml", files)
	for _, f := range files {
		incs, _ := collect(t, NewReader(bytes.NewReader(readFile(t, f)), f))
		if len(incs) != 1 {
			t.Fatalf("%s: %d messages", f, len(incs))
		}
		if diffs := compareWithPython(t, incs[0], py[f]); len(diffs) > 0 {
			t.Errorf("%s differs from Python:\n  %s", f, strings.Join(diffs, "\n  "))
		}
	}
}
