package pstwrite

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fxItem is one item of the test fixture with the values a reader must
// give back.
type fxItem struct {
	kind    string // email, contact, appointment, task, distlist
	folder  string // path below the IPM subtree
	subject string
	body    string
	sender  string // e-mail: sender address
	to      []string
	attach  map[string]int // name -> size
	email1  string         // contact
	given   string
	surname string
	msg     *Message
}

// fixture builds a deterministic set of items: nEmail e-mails (one in
// ten with an attachment, one with a 9 MB attachment when big) spread over
// Inbox, Sent Items and a subfolder, nContact contacts, and a few
// appointments, tasks and distribution lists.
func fixture(nEmail, nContact int, big bool) []fxItem {
	var items []fxItem
	base := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := range nEmail {
		folder := []string{"Inbox", "Sent Items", "Inbox/Projects"}[i%3]
		it := fxItem{
			kind:    "email",
			folder:  folder,
			subject: fmt.Sprintf("Message %04d: quarterly ünïcødé ✓ report", i),
			body:    fmt.Sprintf("Hello,\r\nthis is message %d.\r\n", i) + strings.Repeat("Lorem ipsum dolor sit amet. ", i%40*20),
			sender:  fmt.Sprintf("sender%d@example.com", i%7),
			to:      []string{fmt.Sprintf("rcpt%d@example.org", i), "team@example.org"},
		}
		sent := base.Add(time.Duration(i) * time.Hour)
		props := []Prop{
			String(Tag(0x001A), "IPM.Note"),
			String(Tag(0x0037), it.subject),
			String(Tag(0x1000), it.body),
			String(Tag(0x0C1A), "Sender "+it.sender),
			String(Tag(0x0C1F), it.sender),
			String(Tag(0x0C1E), "SMTP"),
			String(Tag(0x0042), "Sender "+it.sender),
			String(Tag(0x0065), it.sender),
			String(Tag(0x0064), "SMTP"),
			String(Tag(0x1035), fmt.Sprintf("<msg%d@example.com>", i)),
			String(Tag(0x0E04), strings.Join(it.to, "; ")),
			Time(Tag(0x0039), sent),
			Time(Tag(0x0E06), sent.Add(time.Minute)),
			Int32(Tag(0x0E07), int32(i%2)), // every other one read
		}
		if i%5 == 0 {
			props = append(props, Binary(Tag(0x1013), []byte("<html><body><p>"+it.subject+"</p></body></html>")))
		}
		var rcpts [][]Prop
		for k, a := range it.to {
			rcpts = append(rcpts, []Prop{
				Int32(Tag(0x0C15), int32(1+k%2)), String(Tag(0x3001), "Name "+a), String(Tag(0x3002), "SMTP"),
				String(Tag(0x3003), a), String(Tag(0x39FE), a), Int32(Tag(0x0FFE), 6), Int32(Tag(0x3900), 0),
			})
		}
		it.msg = &Message{Props: props, Recipients: rcpts}
		if i%10 == 3 || (big && i == 1) {
			size := 100 + i*1000
			if big && i == 1 {
				size = 9 << 20 // beyond one XBLOCK (1021 blocks): an XXBLOCK
			}
			name := fmt.Sprintf("report-%d.bin", i)
			it.attach = map[string]int{name: size}
			data := bytes.Repeat([]byte{byte(i), 0xA5, byte(i >> 8), 0x5A}, size/4+1)[:size]
			it.msg.Attachments = []Attachment{{Props: []Prop{
				Int32(Tag(0x3705), 1), String(Tag(0x3704), name), String(Tag(0x3707), name),
				String(Tag(0x370E), "application/octet-stream"), Int32(Tag(0x370B), -1),
			}, Data: bytes.NewReader(data)}}
		}
		items = append(items, it)
	}
	for i := range nContact {
		it := fxItem{kind: "contact", folder: "Contacts", given: fmt.Sprintf("Given%d", i), surname: fmt.Sprintf("Sürname%d", i)}
		it.subject = it.given + " " + it.surname
		it.email1 = fmt.Sprintf("person%d@example.net", i)
		it.msg = &Message{Props: []Prop{
			String(Tag(0x001A), "IPM.Contact"),
			String(Tag(0x0037), it.subject),
			String(Tag(0x3001), it.subject),
			String(Tag(0x3A06), it.given),
			String(Tag(0x3A11), it.surname),
			String(Tag(0x3A16), "Example Corp"),
			String(Tag(0x3A08), fmt.Sprintf("+1 555 %04d", i)),
			String(LID(PSETIDAddress, 0x8083), it.email1),
			String(LID(PSETIDAddress, 0x8082), "SMTP"),
			String(LID(PSETIDAddress, 0x8080), it.subject+" ("+it.email1+")"),
			String(LID(PSETIDAddress, 0x8093), fmt.Sprintf("second%d@example.net", i)),
			String(NameString(PSPublicStrings, "urn:example:extra"), "extra value"),
		}}
		items = append(items, it)
	}
	for i := range 3 {
		start := base.Add(time.Duration(24*i) * time.Hour)
		it := fxItem{kind: "appointment", folder: "Calendar", subject: fmt.Sprintf("Meeting %d", i)}
		it.msg = &Message{Props: []Prop{
			String(Tag(0x001A), "IPM.Appointment"),
			String(Tag(0x0037), it.subject),
			Time(LID(PSETIDAppointment, 0x820D), start),
			Time(LID(PSETIDAppointment, 0x820E), start.Add(time.Hour)),
			String(LID(PSETIDAppointment, 0x8208), "Room 1"),
			Int32(LID(PSETIDAppointment, 0x8205), 2),
			Bool(LID(PSETIDAppointment, 0x8215), false),
			Time(Tag(0x0060), start), // PidTagStartDate
			Time(Tag(0x0061), start.Add(time.Hour)),
		}}
		items = append(items, it)
	}
	for i := range 2 {
		it := fxItem{kind: "task", folder: "Tasks", subject: fmt.Sprintf("Task %d", i)}
		it.msg = &Message{Props: []Prop{
			String(Tag(0x001A), "IPM.Task"),
			String(Tag(0x0037), it.subject),
			Time(LID(PSETIDTask, 0x8105), base.Add(48*time.Hour)),
			Int32(LID(PSETIDTask, 0x8101), 1),
			Float64(LID(PSETIDTask, 0x8102), 0.5),
		}}
		items = append(items, it)
	}
	it := fxItem{kind: "distlist", folder: "Contacts", subject: "Team list"}
	it.msg = &Message{Props: []Prop{
		String(Tag(0x001A), "IPM.DistList"),
		String(Tag(0x0037), it.subject),
		String(Tag(0x3001), it.subject),
		String(LID(PSETIDAddress, 0x8053), it.subject),
	}}
	items = append(items, it)
	return items
}

// writeFixture writes items to a PST in dir and returns its path.
func writeFixture(t testing.TB, dir string, items []fxItem) string {
	t.Helper()
	path := filepath.Join(dir, "fixture.pst")
	w, err := Create(path, Options{DisplayName: "Fixture"})
	if err != nil {
		t.Fatal(err)
	}
	folders := map[string]FolderID{"": IPMSubtree, "Deleted Items": DeletedItems}
	classes := map[string]string{"email": "IPF.Note", "contact": "IPF.Contact", "distlist": "IPF.Contact", "appointment": "IPF.Appointment", "task": "IPF.Task"}
	for _, name := range []string{"Inbox", "Sent Items", "Contacts", "Calendar", "Tasks"} {
		class := map[string]string{"Contacts": "IPF.Contact", "Calendar": "IPF.Appointment", "Tasks": "IPF.Task"}[name]
		if class == "" {
			class = "IPF.Note"
		}
		f, err := w.Folder(IPMSubtree, name, class)
		if err != nil {
			t.Fatal(err)
		}
		folders[name] = f
	}
	w.SetSentItems(folders["Sent Items"])
	for _, it := range items {
		f, ok := folders[it.folder]
		if !ok {
			parent, name := filepath.Split(it.folder)
			pf := folders[strings.TrimSuffix(parent, "/")]
			f, err = w.Folder(pf, name, classes[it.kind])
			if err != nil {
				t.Fatal(err)
			}
			folders[it.folder] = f
		}
		if err := w.Add(f, it.msg); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if m, err := filepath.Glob(filepath.Join(dir, ".*.tmp")); err != nil || len(m) > 0 {
		t.Fatalf("temporary files left: %v", m)
	}
	return path
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
