package msg

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"reflect"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"

	"crmbridge/fixtures"
	"crmbridge/pst"
)

func readItem(t *testing.T, data []byte) *pst.Item {
	t.Helper()
	f, err := OpenReader(bytes.NewReader(data), int64(len(data)), "t.msg")
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	it, err := f.Item()
	if err != nil {
		t.Fatalf("item: %v", err)
	}
	return it
}

func sha(t *testing.T, a *pst.Attachment) string {
	t.Helper()
	if a.Open == nil {
		t.Fatalf("attachment %q has no content", a.Name)
	}
	rc, err := a.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		t.Fatalf("attachment %q: %v", a.Name, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// A Unicode mail: strings, times, sender (SMTP from PidTagSenderSmtpAddress
// over an EX address), To/Cc/Bcc (SMTP from PidTagSmtpAddress, else the
// SMTP PidTagEmailAddress), and an attachment in regular sectors.
func TestUnicodeMail(t *testing.T) {
	it := readItem(t, fixtures.WriteMSG(mail()))
	if it.Kind != pst.KindEmail || it.Class != "IPM.Note" {
		t.Errorf("kind %v class %q", it.Kind, it.Class)
	}
	if it.Subject != "Grüße aus Köln ✓" || it.Body != "Hallo,\r\nbis morgen.\r\n" || it.Importance != 2 {
		t.Errorf("subject %q body %q importance %d", it.Subject, it.Body, it.Importance)
	}
	if !it.Modified.Equal(t0.Add(time.Minute)) {
		t.Errorf("modified %v", it.Modified)
	}
	e := it.Email
	if e == nil {
		t.Fatal("no Email")
	}
	if e.SenderName != "Ann Lee" || e.SenderAddress != "ann@example.com" || e.MessageID != "<abc123@example.com>" {
		t.Errorf("sender %q <%s> id %q", e.SenderName, e.SenderAddress, e.MessageID)
	}
	if !e.Sent.Equal(t0) || !e.Received.Equal(t0.Add(5*time.Second)) {
		t.Errorf("sent %v received %v", e.Sent, e.Received)
	}
	want := []pst.Recipient{
		{Type: pst.RecipientTo, Name: "Bob Stone", Address: "bob@example.com", AddressType: "EX"},
		{Type: pst.RecipientCc, Name: "Carol", Address: "carol@example.org", AddressType: "SMTP"},
		{Type: pst.RecipientBcc, Name: "Dan", Address: "dan@example.net", AddressType: "SMTP"},
	}
	if !reflect.DeepEqual(e.Recipients, want) {
		t.Errorf("recipients\n got %+v\nwant %+v", e.Recipients, want)
	}
	if len(it.Attachments) != 1 {
		t.Fatalf("%d attachments", len(it.Attachments))
	}
	a := it.Attachments[0]
	if a.Name != "report.txt" || a.MimeType != "text/plain" || a.Size != 5000 || a.Method != 1 {
		t.Errorf("attachment %+v", a)
	}
	if got := sha(t, a); got != sum(bigData(5000)) {
		t.Errorf("attachment sha256 %s", got)
	}
}

// ANSI strings (PtypString8) decode with PidTagMessageCodepage, else
// PidTagInternetCodepage; recipients use their message's code page.
func TestANSICodepage(t *testing.T) {
	cp1251 := func(s string) []byte {
		b, err := charmap.Windows1251.NewEncoder().Bytes([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		cp   fixtures.MSGProp
	}{
		{"message codepage", p(0x3FFD, 0x0003, int32(1251))},
		{"internet codepage", p(0x3FDE, 0x0003, int32(1251))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &fixtures.MSGMessage{
				Props: []fixtures.MSGProp{
					p(0x001A, 0x001E, []byte("IPM.Note\x00")),
					p(0x0037, 0x001E, append(cp1251("Привет, мир"), 0)),
					p(0x1000, 0x001E, append(cp1251("Тело письма"), 0)),
					tc.cp,
				},
				Recipients: [][]fixtures.MSGProp{{p(0x0C15, 0x0003, int32(1)), p(0x3001, 0x001E, append(cp1251("Иван"), 0)),
					p(0x3002, 0x001E, []byte("SMTP\x00")), p(0x3003, 0x001E, []byte("ivan@example.ru\x00"))}},
			}
			it := readItem(t, fixtures.WriteMSG(m))
			if it.Subject != "Привет, мир" || it.Body != "Тело письма" {
				t.Errorf("subject %q body %q", it.Subject, it.Body)
			}
			if r := it.Email.Recipients; len(r) != 1 || r[0].Name != "Иван" || r[0].Address != "ivan@example.ru" {
				t.Errorf("recipients %+v", r)
			}
		})
	}
}

// Named properties resolve through __nameid_version1.0: numeric ones
// (a contact's e-mail address and business address in PSETID_Address),
// string ones (Keywords in PS_PUBLIC_STRINGS, multi-valued), and the
// property ids they map to differ from a PST's.
func TestNamedPropsContact(t *testing.T) {
	m := &fixtures.MSGMessage{Props: []fixtures.MSGProp{
		p(0x001A, 0x001F, "IPM.Contact"),
		p(0x3001, 0x001F, "Eva Maria Roth"),
		p(0x3A06, 0x001F, "Eva"),
		p(0x3A11, 0x001F, "Roth"),
		p(0x3A16, 0x001F, "Roth & Co"),
		{Set: setPublic, Name: "Keywords", Type: 0x101F, Value: []string{"VIP", "Köln"}},
		{Set: setAddress, LID: 0x8083, Type: 0x001F, Value: "eva@roth.example"},
		{Set: setAddress, LID: 0x8082, Type: 0x001F, Value: "SMTP"},
		{Set: setAddress, LID: 0x8080, Type: 0x001F, Value: "Eva Roth (eva@roth.example)"},
		{Set: setAddress, LID: 0x8046, Type: 0x001F, Value: "Köln"},
	}}
	it := readItem(t, fixtures.WriteMSG(m))
	if it.Kind != pst.KindContact || it.Contact == nil {
		t.Fatalf("kind %v", it.Kind)
	}
	c := it.Contact
	if c.DisplayName != "Eva Maria Roth" || c.GivenName != "Eva" || c.Surname != "Roth" || c.Company != "Roth & Co" {
		t.Errorf("contact %+v", c)
	}
	if c.Emails[0] != (pst.EmailAddress{Address: "eva@roth.example", DisplayName: "Eva Roth (eva@roth.example)", AddrType: "SMTP"}) {
		t.Errorf("email1 %+v", c.Emails[0])
	}
	if c.BusinessAddress.City != "Köln" {
		t.Errorf("business city %q", c.BusinessAddress.City)
	}
	if !reflect.DeepEqual(it.Categories, []string{"VIP", "Köln"}) {
		t.Errorf("categories %q", it.Categories)
	}
}

// An appointment and a task read their PSETID_Appointment and PSETID_Task
// named properties.
func TestNamedPropsAppointmentTask(t *testing.T) {
	appt := readItem(t, fixtures.WriteMSG(&fixtures.MSGMessage{Props: []fixtures.MSGProp{
		p(0x001A, 0x001F, "IPM.Appointment"),
		p(0x0037, 0x001F, "Planning"),
		{Set: setAppt, LID: 0x820D, Type: 0x0040, Value: t0},
		{Set: setAppt, LID: 0x820E, Type: 0x0040, Value: t0.Add(time.Hour)},
		{Set: setAppt, LID: 0x8208, Type: 0x001F, Value: "Room 4"},
		{Set: setAppt, LID: 0x8215, Type: 0x000B, Value: false},
	}}))
	if a := appt.Appointment; appt.Kind != pst.KindAppointment || a == nil || !a.Start.Equal(t0) || !a.End.Equal(t0.Add(time.Hour)) || a.Location != "Room 4" || a.AllDay {
		t.Errorf("appointment %v %+v", appt.Kind, appt.Appointment)
	}
	task := readItem(t, fixtures.WriteMSG(&fixtures.MSGMessage{Props: []fixtures.MSGProp{
		p(0x001A, 0x001F, "IPM.Task"),
		p(0x0037, 0x001F, "Call Ann"),
		{Set: setTask, LID: 0x8105, Type: 0x0040, Value: t0},
		{Set: setTask, LID: 0x8101, Type: 0x0003, Value: int32(1)},
		{Set: setTask, LID: 0x8102, Type: 0x0005, Value: 0.5},
	}}))
	if tk := task.Task; task.Kind != pst.KindTask || tk == nil || !tk.Due.Equal(t0) || tk.Status != 1 || tk.PercentComplete != 0.5 {
		t.Errorf("task %v %+v", task.Kind, task.Task)
	}
}

// An embedded message (attach method 5, PidTagAttachDataObject as a
// sub-storage with a 24-byte property header) reads recursively, its own
// attachment included; it shares the top level's named property map.
func TestEmbeddedMessage(t *testing.T) {
	inner := mail()
	inner.Props[1] = p(0x0037, 0x001F, "Inner")
	inner.Props = append(inner.Props, fixtures.MSGProp{Set: setPublic, Name: "Keywords", Type: 0x101F, Value: []string{"inner"}})
	outer := &fixtures.MSGMessage{
		Props: []fixtures.MSGProp{p(0x001A, 0x001F, "IPM.Note"), p(0x0037, 0x001F, "Outer"),
			{Set: setPublic, Name: "Keywords", Type: 0x101F, Value: []string{"outer"}}},
		Attachments: []fixtures.MSGAttachment{{
			Props:    []fixtures.MSGProp{p(0x3705, 0x0003, int32(5)), p(0x3001, 0x001F, "Inner")},
			Embedded: inner,
		}},
	}
	it := readItem(t, fixtures.WriteMSG(outer))
	if it.Subject != "Outer" || len(it.Attachments) != 1 || !reflect.DeepEqual(it.Categories, []string{"outer"}) {
		t.Fatalf("outer %q %d attachments, categories %q", it.Subject, len(it.Attachments), it.Categories)
	}
	a := it.Attachments[0]
	if a.Method != 5 || a.Message == nil || a.Open != nil {
		t.Fatalf("attachment %+v", a)
	}
	in := a.Message
	if in.Subject != "Inner" || in.Email == nil || in.Email.SenderAddress != "ann@example.com" || len(in.Email.Recipients) != 3 {
		t.Errorf("inner %q %+v", in.Subject, in.Email)
	}
	if !reflect.DeepEqual(in.Categories, []string{"inner"}) {
		t.Errorf("inner categories %q", in.Categories)
	}
	if len(in.Attachments) != 1 || sha(t, in.Attachments[0]) != sum(bigData(5000)) {
		t.Errorf("inner attachments %+v", in.Attachments)
	}
}

// A compressed RTF body (PidTagRtfCompressed, uncompressed "MELA" form)
// gives the text when there is no PidTagBody.
func TestRTFBody(t *testing.T) {
	rtf := []byte(`{\rtf1\ansi Hello RTF\par}`)
	blob := make([]byte, 16, 16+len(rtf))
	le := func(b []byte, v uint32) { b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24) }
	le(blob[0:], uint32(len(rtf)+12))
	le(blob[4:], uint32(len(rtf)))
	copy(blob[8:], "MELA")
	blob = append(blob, rtf...)
	it := readItem(t, fixtures.WriteMSG(&fixtures.MSGMessage{Props: []fixtures.MSGProp{
		p(0x001A, 0x001F, "IPM.Task"), p(0x1009, 0x0102, blob)}}))
	if it.Body == "" || !bytes.Contains([]byte(it.Body), []byte("Hello RTF")) {
		t.Errorf("body %q", it.Body)
	}
}

func TestNotMSG(t *testing.T) {
	doc := fixtures.WriteCFB([]*fixtures.CFBEntry{{Name: "WordDocument", Data: []byte("x")}})
	for _, data := range [][]byte{nil, []byte("hello"), doc} {
		_, err := OpenReader(bytes.NewReader(data), int64(len(data)), "x")
		if !errors.Is(err, ErrNotMSG) {
			t.Errorf("%d bytes: err %v, want ErrNotMSG", len(data), err)
		}
		if Sniff(bytes.NewReader(data), int64(len(data))) {
			t.Errorf("%d bytes: Sniff true", len(data))
		}
	}
	if m := fixtures.WriteMSG(mail()); !Sniff(bytes.NewReader(m), int64(len(m))) {
		t.Error("Sniff false for a .msg")
	}
}

// PidTagInternetCodepage 65001 names the HTML body's charset: 8-bit
// properties that are not valid UTF-8 are read as Windows-1252, not
// replaced with U+FFFD (a Latin-1 body in the corpus has exactly this).
func TestANSIUnderUTF8InternetCodepage(t *testing.T) {
	it := readItem(t, fixtures.WriteMSG(&fixtures.MSGMessage{Props: []fixtures.MSGProp{
		p(0x001A, 0x001E, []byte("IPM.Note\x00")),
		p(0x1000, 0x001E, []byte("Sch\xf6ne Festtage\x00")),
		p(0x3FDE, 0x0003, int32(65001)),
	}}))
	if it.Body != "Schöne Festtage" {
		t.Errorf("body %q", it.Body)
	}
}

// An HTML body (PidTagHtml, binary) without PidTagInternetCodepage whose
// head ends in "charset=" must not stop the reader.
func TestHTMLCharsetAtEnd(t *testing.T) {
	it := readItem(t, fixtures.WriteMSG(&fixtures.MSGMessage{Props: []fixtures.MSGProp{
		p(0x001A, 0x001F, "IPM.Note"), p(0x1013, 0x0102, []byte("<html><meta charset="))}}))
	if it.BodyHTML != "<html><meta charset=" {
		t.Errorf("html %q", it.BodyHTML)
	}
}
