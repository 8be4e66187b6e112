package msg

import (
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"crmbridge/fixtures"
	"crmbridge/pst"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output (review the diff by hand)")

// goldenItem is the JSON form of an Item in golden files: long text is
// summarised by its SHA-256, attachments by the SHA-256 of their content.
type goldenItem struct {
	*pst.Item
	Body, BodyHTML string
	Attachments    []goldenAttachment
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
	return fmt.Sprintf("%d bytes, sha256 %x", len(s), sha256.Sum256([]byte(s)))
}

func toGolden(t *testing.T, it *pst.Item) *goldenItem {
	g := &goldenItem{Item: it, Body: summarize(it.Body), BodyHTML: summarize(it.BodyHTML)}
	for _, a := range it.Attachments {
		ga := goldenAttachment{Name: a.Name, MimeType: a.MimeType, ContentID: a.ContentID, Size: a.Size, Method: a.Method, Inline: a.Inline}
		if a.Open != nil {
			ga.SHA256 = sha(t, a)
		}
		if a.Message != nil {
			ga.Message = toGolden(t, a.Message)
		}
		g.Attachments = append(g.Attachments, ga)
	}
	return g
}

// TestGolden compares the whole item of one .msg of each class with a
// reviewed JSON file: our generated fixtures (the values they were written
// with are in build_test.go and msg_test.go) and, when the corpus is
// present, corpus files whose fields were checked by hand against olefile
// and msgconvert (TestCorpusCrossCheck checks the main ones on every run).
func TestGolden(t *testing.T) {
	corpus := func(name string) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			b, err := os.ReadFile(filepath.Join(fixtures.CorpusDir(t, "msg"), name))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	gen := func(m *fixtures.MSGMessage) func(t *testing.T) []byte {
		return func(*testing.T) []byte { return fixtures.WriteMSG(m) }
	}
	embedded := &fixtures.MSGMessage{
		Props: []fixtures.MSGProp{p(0x001A, 0x001F, "IPM.Note"), p(0x0037, 0x001F, "Outer")},
		Attachments: []fixtures.MSGAttachment{{
			Props: []fixtures.MSGProp{p(0x3705, 0x0003, int32(5)), p(0x3001, 0x001F, "Inner")}, Embedded: mail()}},
	}
	distList := &fixtures.MSGMessage{Props: []fixtures.MSGProp{
		p(0x001A, 0x001F, "IPM.DistList"), p(0x0037, 0x001F, "Team"),
		{Set: setAddress, LID: 0x8054, Type: 0x1102, Value: [][]byte{oneOff("Ann Lee", "ann@example.com"), oneOff("Bob", "bob@example.org")}},
	}}
	for _, tc := range []struct {
		golden string
		data   func(t *testing.T) []byte
	}{
		{"gen_mail_unicode.golden", gen(mail())},
		{"gen_embedded.golden", gen(embedded)},
		{"gen_distlist.golden", gen(distList)},
		{"corpus_contact.golden", corpus("apache__poi__test-data_hsmf_msgClassContact.msg")},
		{"corpus_appointment.golden", corpus("apache__poi__test-data_hsmf_msgClassAppointment.msg")},
		{"corpus_meeting_request.golden", corpus("aspose-email__Aspose.Email-for-.NET__Examples_Data_Email_Meeting_with_Recurring_Occurrences.msg")},
		{"corpus_task.golden", corpus("aspose-email__Aspose.Email-for-.NET__Examples_Data_Outlook_MapiTask.msg")},
		{"corpus_embedded.golden", corpus("apache__poi__test-data_hsmf_attachment_msg_pdf.msg")},
		{"corpus_cp1251.golden", corpus("apache__poi__test-data_hsmf_ASCII_CP1251_LCID1049.msg")},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			got, err := json.MarshalIndent(toGolden(t, readItem(t, tc.data(t))), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			fixtures.Golden(t, filepath.Join("testdata", tc.golden), got, *update)
		})
	}
}

// oneOff is a Unicode one-off entry id (MS-OXCDATA 2.2.5.1) for a
// distribution list member.
func oneOff(name, addr string) []byte {
	b := []byte{0, 0, 0, 0, 0x81, 0x2B, 0x1F, 0xA4, 0xBE, 0xA3, 0x10, 0x19, 0x9D, 0x6E, 0x00, 0xDD, 0x01, 0x0F, 0x54, 0x02, 0, 0, 0x00, 0x80}
	for _, s := range []string{name, "SMTP", addr} {
		for _, r := range s {
			b = append(b, byte(r), byte(r>>8))
		}
		b = append(b, 0, 0)
	}
	return b
}
