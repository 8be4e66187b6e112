package bridge

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"crmbridge/crm"
	"crmbridge/fixtures"
	"crmbridge/pstwrite"
)

// mprop is one MAPI property written identically into a PST (pstwrite) and
// a .msg (fixtures.WriteMSG): a string (PtypString), an int32 or a time.
type mprop struct {
	id uint16
	v  any
}

func toPST(ps []mprop) []pstwrite.Prop {
	var out []pstwrite.Prop
	for _, p := range ps {
		switch v := p.v.(type) {
		case string:
			out = append(out, pstwrite.String(pstwrite.Tag(p.id), v))
		case int32:
			out = append(out, pstwrite.Int32(pstwrite.Tag(p.id), v))
		case time.Time:
			out = append(out, pstwrite.Time(pstwrite.Tag(p.id), v))
		}
	}
	return out
}

func toMSG(ps []mprop) []fixtures.MSGProp {
	var out []fixtures.MSGProp
	for _, p := range ps {
		typ := uint16(0x001F)
		switch p.v.(type) {
		case int32:
			typ = 0x0003
		case time.Time:
			typ = 0x0040
		}
		out = append(out, fixtures.MSGProp{ID: p.id, Type: typ, Value: p.v})
	}
	return out
}

// writeBoth writes the message as the only mail of a PST's Inbox and as a
// .msg, in dir.
func writeBoth(t *testing.T, dir string, props []mprop, recips [][]mprop, attach []byte) (pstPath, msgPath string) {
	t.Helper()
	pstPath, msgPath = filepath.Join(dir, "mail.pst"), filepath.Join(dir, "mail.msg")
	w, err := pstwrite.Create(pstPath, pstwrite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := w.Folder(pstwrite.IPMSubtree, "Inbox", "IPF.Note")
	if err != nil {
		t.Fatal(err)
	}
	pm := &pstwrite.Message{Props: toPST(props)}
	mm := &fixtures.MSGMessage{Props: toMSG(props)}
	for _, r := range recips {
		pm.Recipients = append(pm.Recipients, toPST(r))
		mm.Recipients = append(mm.Recipients, toMSG(r))
	}
	ap := []mprop{{0x3705, int32(1)}, {0x3707, "notes.txt"}}
	pm.Attachments = []pstwrite.Attachment{{Props: toPST(ap), Data: bytes.NewReader(attach)}}
	mm.Attachments = []fixtures.MSGAttachment{{Props: toMSG(ap), Data: attach}}
	if err := w.Add(inbox, pm); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(msgPath, fixtures.WriteMSG(mm), 0o600); err != nil {
		t.Fatal(err)
	}
	return pstPath, msgPath
}

// The same mail in a PST and as a .msg is one email activity, whether its
// identity is its Message-ID or (without one) the hash of sender, date,
// subject and body; re-importing both changes nothing.
func TestMSGAndPSTOneActivity(t *testing.T) {
	sent := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	base := []mprop{
		{0x001A, "IPM.Note"},
		{0x0037, "Quarterly figures ✓"},
		{0x1000, "Hi Bob,\r\nthe figures are attached.\r\n"},
		{0x0C1A, "Ann Lee"}, {0x0C1E, "SMTP"}, {0x0C1F, "ann@example.com"},
		{0x0039, sent}, {0x0E06, sent.Add(time.Minute)},
		{0x3008, sent.Add(2 * time.Minute)},
	}
	recips := [][]mprop{{{0x0C15, int32(1)}, {0x3001, "Bob Stone"}, {0x3002, "SMTP"}, {0x3003, "bob@example.com"}}}
	for _, tc := range []struct {
		name  string
		props []mprop
	}{
		{"message-id", append(append([]mprop(nil), base...), mprop{0x1035, "<q1-figures@example.com>"})},
		{"no message-id", base},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			pstPath, msgPath := writeBoth(t, dir, tc.props, recips, []byte("figures\n"))
			s := newStore(t)
			sum, p := importPaths(t, s, ImportOptions{}, pstPath)
			if len(p.errs) > 0 || sum.Entities[crm.Email] == nil || sum.Entities[crm.Email].Created != 1 {
				t.Fatalf("PST import: %v, problems %v", sum, p.errs)
			}
			sum, p = importPaths(t, s, ImportOptions{}, msgPath)
			if len(p.errs) > 0 || sum.Files != 1 || sum.Entities[crm.Email] == nil || sum.Entities[crm.Email].Created != 0 {
				t.Fatalf(".msg import created a second activity: %v, problems %v", sum, p.errs)
			}
			if n := status(t, s).Records[crm.Email]; n != 1 {
				t.Fatalf("%d email records, want 1", n)
			}
			// Re-import both, re-reading them: nothing changes.
			seq := status(t, s).JournalSeq
			sum, p = importPaths(t, s, ImportOptions{Force: true}, dir)
			c := sum.Entities[crm.Email]
			if len(p.errs) > 0 || sum.Files != 2 || c == nil || c.Created != 0 || c.Updated != 0 || c.Unchanged != 2 {
				t.Fatalf("re-import: %v, problems %v", sum, p.errs)
			}
			if st := status(t, s); st.JournalSeq != seq || st.Records[crm.Email] != 1 {
				t.Errorf("re-import changed the store: journal %d → %d, %d emails", seq, st.JournalSeq, st.Records[crm.Email])
			}
		})
	}
}

// An import folder counts its .msg files in the summary, whatever their
// extension, and reports a damaged one with its file name.
func TestImportFolderWithMSG(t *testing.T) {
	dir := t.TempDir()
	mail := func(subject, id string) []byte {
		return fixtures.WriteMSG(&fixtures.MSGMessage{Props: []fixtures.MSGProp{
			{ID: 0x001A, Type: 0x001F, Value: "IPM.Note"}, {ID: 0x0037, Type: 0x001F, Value: subject},
			{ID: 0x1035, Type: 0x001F, Value: id}}})
	}
	contact := fixtures.WriteMSG(&fixtures.MSGMessage{Props: []fixtures.MSGProp{
		{ID: 0x001A, Type: 0x001F, Value: "IPM.Contact"}, {ID: 0x3001, Type: 0x001F, Value: "Eva Roth"}}})
	good := mail("two", "<2@x>")
	files := map[string][]byte{
		"a.msg":       mail("one", "<1@x>"),
		"b.eml":       good, // a .msg named .eml
		"sub/c":       contact,
		"damaged.msg": good[:len(good)/2], // directory cut off: known by its name only
		"damaged":     chainCut(good),     // directory intact: known by content
		"notes.txt":   []byte("not a mail\n"),
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := newStore(t)
	sum, p := importPaths(t, s, ImportOptions{}, dir)
	if sum.Files != 5 || len(sum.FilesSkipped) != 1 || sum.FilesFailed != 2 {
		t.Errorf("summary %v, skipped %v", sum, sum.FilesSkipped)
	}
	if c := sum.Entities[crm.Email]; c == nil || c.Created != 2 {
		t.Errorf("emails %+v", c)
	}
	if c := sum.Entities[crm.Contact]; c == nil || c.Created != 1 {
		t.Errorf("contacts %+v", c)
	}
	if len(p.errs) != 2 {
		t.Errorf("problems %v, want two", p.errs)
	}
	for _, err := range p.errs {
		if !strings.Contains(err.Error(), "damaged.msg: ") && !strings.Contains(err.Error(), "damaged: __properties_version1.0: ") {
			t.Errorf("problem %q does not name the damaged file and stream", err)
		}
	}
}

// chainCut returns a copy of a .msg written by fixtures.WriteMSG whose
// top-level property stream (the first mini stream stream in name order
// is not guaranteed, so it is found by name) claims a size its mini
// sector chain does not have.
func chainCut(b []byte) []byte {
	b = bytes.Clone(b)
	name := []byte{}
	for _, r := range "__properties_version1.0\x00" {
		name = append(name, byte(r), 0)
	}
	for off := 512; off+128 <= len(b); off += 128 {
		if bytes.HasPrefix(b[off:], name) {
			b[off+120] = 20 // the top level's stream is 32 + 16n bytes: now fewer than its chain
			b[off+121], b[off+122], b[off+123] = 0, 0, 0
			break // the first match is the root's: WriteCFB writes a storage before its children
		}
	}
	return b
}

// A contact's string properties in the contact range (MS-OXPROPS
// 0x3A00-0x3AFF) that no column holds are kept as extras, from a PST and
// from a .msg alike; one whose value a column holds is not a new value.
func TestPSTAndMSGContactOtherProps(t *testing.T) {
	props := []mprop{
		{0x001A, "IPM.Contact"}, {0x0037, "Ann Lee"}, {0x3001, "Ann Lee"},
		{0x3A06, "Ann"}, {0x3A11, "Lee"},
		{0x3A43, "Sailing"},     // PidTagHobbies
		{0x3A1B, "+1 555 0002"}, // PidTagBusiness2TelephoneNumber
		{0x3A0A, "A.L."},        // PidTagInitials
		{0x3A20, "Ann Lee"},     // PidTagTransmittableDisplayName: the full name again
		{0x3A7E, "custom"},      // no name we know
	}
	want := []crm.Extra{
		{Name: "X-MS-INITIALS", Value: "A.L."},
		{Name: "X-MS-BUSINESS2TELEPHONENUMBER", Value: "+1 555 0002"},
		{Name: "X-MS-HOBBIES", Value: "Sailing"},
		{Name: "X-MS-0X3A7E", Value: "custom"},
	}
	dir := t.TempDir()
	pstPath, msgPath := writeBoth(t, dir, props, nil, []byte("x"))
	for _, path := range []string{pstPath, msgPath} {
		s := newStore(t)
		if _, p := importPaths(t, s, ImportOptions{}, path); len(p.errs) != 0 {
			t.Fatalf("%s: %v", path, p.errs)
		}
		ids, err := s.IDs(context.Background(), []crm.Entity{crm.Contact})
		if err != nil || len(ids) != 1 {
			t.Fatalf("%s: contacts %v %v", path, ids, err)
		}
		v, err := s.Get(context.Background(), ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(v.Extras, want) {
			t.Errorf("%s: extras\n got %q\nwant %q", filepath.Base(path), v.Extras, want)
		}
	}
}
