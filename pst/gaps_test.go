package pst

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gopst "github.com/mooijtech/go-pst/v6/pkg"
)

const (
	fileJapanese   = "HiraokaHyperTools__pst-extractor__src___tests___testdata_contacts97-2002"
	fileDuckDB     = "intellekthq__duckdb-pst__test_unittest"
	fileSubmessage = "emk__pstsdk__test_submessage"
	fileChunks     = "aspose-email__Aspose.Email-for-.NET__Examples_Data_Outlook_Chunks_Test_part1"
	file32bit      = "32-bit"
)

// findItem returns the first item in folder with the given subject.
func findItem(t *testing.T, items []*Item, folder, subject string) *Item {
	t.Helper()
	for _, it := range items {
		if it.Folder == folder && it.Subject == subject {
			return it
		}
	}
	t.Fatalf("no item %q in folder %q", subject, folder)
	return nil
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// Gap 1: ANSI files. Expected strings are pffexport's with -c windows-932
// (read by a Japanese speaker's eye: 連絡先 = contacts, 日本 = Japan).
func TestGapANSIJapanese(t *testing.T) {
	path := corpusFile(t, fileJapanese)
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Format() != "ansi" {
		t.Errorf("Format() = %q, want ansi", f.Format())
	}
	f.Close()
	items := readAll(t, path)
	if len(items) != 1 {
		t.Fatalf("%d items, want 1", len(items))
	}
	it := items[0]
	c := it.Contact
	if c == nil {
		t.Fatalf("item is %v, want a contact", it.Kind)
	}
	checks := []struct{ name, got, want string }{
		{"folder", it.Folder, "連絡先 (Contact dedicated)"},
		{"subject", it.Subject, "コム ドット イグザンプル 殿"},
		{"display name", c.DisplayName, "Mr. イグザンプル ドット コム 殿"},
		{"given name", c.GivenName, "コム"},
		{"surname", c.Surname, "イグザンプル"},
		{"generation", c.Generation, "殿"},
		{"business country (named, 8-bit)", c.BusinessAddress.Country, "日本"},
		{"business city (named)", c.BusinessAddress.City, "Osaka"},
		{"e-mail 1 (named)", c.Emails[0].Address, "test@example.com"},
		{"e-mail 1 type", c.Emails[0].AddrType, "SMTP"},
		{"company", c.Company, "My work company"},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %q, want %q", ck.name, ck.got, ck.want)
		}
	}
}

// Gap 1: go-pst's own 32-bit.pst is ANSI too; values from pffexport.
func TestGapANSI32bit(t *testing.T) {
	items := readAll(t, corpusFile(t, file32bit))
	if len(items) != 1 || items[0].Appointment == nil {
		t.Fatalf("want one appointment, got %d items", len(items))
	}
	it := items[0]
	if it.Folder != "Calendar" || it.Subject != "Updated: Olympus training for new hires" {
		t.Errorf("folder/subject = %q/%q", it.Folder, it.Subject)
	}
	a := it.Appointment
	if !a.Start.Equal(mustTime("2004-08-19T18:30:00Z")) || !a.End.Equal(mustTime("2004-08-19T19:30:00Z")) {
		t.Errorf("start/end = %v/%v, want 18:30/19:30 UTC on 2004-08-19", a.Start, a.End)
	}
	if a.BusyStatus != 1 {
		t.Errorf("busy status = %d, want 1 (tentative, as pffexport shows)", a.BusyStatus)
	}
}

// Gap 2: named properties of PSETID_Address, PSETID_Task,
// PSETID_Appointment and PS_PUBLIC_STRINGS. Expected values are
// pffexport's; categories are the colours the file's own notes describe
// ("this row is purple").
func TestGapNamedProperties(t *testing.T) {
	items := readAll(t, corpusFile(t, fileDuckDB))

	linus := findItem(t, items, "Contacts", "Linus Cat")
	if got := linus.Contact.Emails[0]; got.Address != "linus@intellekt.fyi" || got.AddrType != "SMTP" || got.DisplayName != "Linus Cat (linus@intellekt.fyi)" {
		t.Errorf("Linus e-mail 1 = %+v", got)
	}
	if !equalStrings(linus.Categories, []string{"Orange Category"}) {
		t.Errorf("Linus categories = %q", linus.Categories)
	}

	task := findItem(t, items, "Tasks", "Release DuckDB extension")
	want := Task{Due: mustTime("2025-12-25T00:00:00Z"), PercentComplete: 0.8, Status: 1, Owner: "Unknown"}
	if tk := *task.Task; !tk.Due.Equal(want.Due) || tk.PercentComplete != want.PercentComplete || tk.Status != want.Status || tk.Complete || tk.Owner != want.Owner {
		t.Errorf("task = %+v, want %+v", tk, want)
	}
	if task.Importance != 2 {
		t.Errorf("task importance = %d, want 2 (high)", task.Importance)
	}

	appt := findItem(t, items, "Calendar", "Christmas Day")
	a := appt.Appointment
	if !a.Start.Equal(mustTime("2025-12-25T05:00:00Z")) || !a.End.Equal(mustTime("2025-12-26T05:00:00Z")) {
		t.Errorf("start/end = %v/%v", a.Start, a.End)
	}
	if !a.AllDay || !a.Recurring || a.RecurrencePattern != "every December 25" {
		t.Errorf("all-day %v recurring %v pattern %q", a.AllDay, a.Recurring, a.RecurrencePattern)
	}

	purple := findItem(t, items, "Notes", "So changing the category is how you change the color. But you can't probably see that. Well look this row is purple, so now you know one of the color ordinals.")
	if !equalStrings(purple.Categories, []string{"Purple Category"}) {
		t.Errorf("note categories = %q, want [Purple Category]", purple.Categories)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Gap 3: binary and multi-valued properties: the HTML body byte for byte
// as pffexport writes it, the recurrence blob, the global object id.
func TestGapBinaryProperties(t *testing.T) {
	path := corpusFile(t, fileDuckDB)
	items := readAll(t, path)

	msg := findItem(t, items, "Inbox", "Test email 4")
	root := pffexport(t, path)
	want, err := os.ReadFile(filepath.Join(root, "Top of Outlook data file", "Inbox", "Message00004", "Message.html"))
	if err != nil {
		t.Fatalf("pffexport output: %v", err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := f.nodeBag(msg.NodeID)
	if err != nil {
		t.Fatal(err)
	}
	raw := b.bytes(tagHTML)
	if !bytes.Equal(bytes.TrimRight(raw, "\x00"), bytes.TrimRight(want, "\x00")) {
		t.Errorf("raw PidTagHtml (%d bytes) differs from pffexport's Message.html (%d bytes)", len(raw), len(want))
	}
	if !strings.Contains(msg.BodyHTML, "<html") || len(msg.BodyHTML) < len(want)/2 {
		t.Errorf("BodyHTML not decoded: %d chars", len(msg.BodyHTML))
	}

	a := findItem(t, items, "Calendar", "Christmas Day").Appointment
	// MS-OXOCAL 2.2.1.44.1: RecurrencePattern starts with ReaderVersion
	// and WriterVersion 0x3004; 2.2.1.27: a global object id starts with
	// this class id.
	if len(a.RecurrenceBlob) < 20 || binary.LittleEndian.Uint16(a.RecurrenceBlob) != 0x3004 || binary.LittleEndian.Uint16(a.RecurrenceBlob[2:]) != 0x3004 {
		t.Errorf("recurrence blob = %x", a.RecurrenceBlob)
	}
	classID, _ := hex.DecodeString("040000008200E00074C5B7101A82E008")
	if !bytes.HasPrefix(a.GlobalObjectID, classID) || !bytes.HasPrefix(a.CleanGlobalObjectID, classID) {
		t.Errorf("global object id = %x", a.GlobalObjectID)
	}
	if a.UID != strings.ToUpper(hex.EncodeToString(a.CleanGlobalObjectID)) {
		t.Errorf("UID %q is not the hex of the clean global object id", a.UID)
	}
	if len(a.TimeZoneBlob) == 0 || a.TimeZone == "" {
		t.Errorf("time zone %q, blob %d bytes", a.TimeZone, len(a.TimeZoneBlob))
	}
}

// Gap 4: recipients from the recipient table, with SMTP addresses from
// PidTagSmtpAddress for Exchange (EX) recipients. The cross-check test
// compares every recipient of every corpus mail with pffexport; these are
// spot checks of fields pffexport does not print.
func TestGapRecipients(t *testing.T) {
	items := readAll(t, corpusFile(t, fileSubmessage))
	e := items[0].Email
	if len(e.Recipients) != 1 {
		t.Fatalf("%d recipients", len(e.Recipients))
	}
	r := e.Recipients[0]
	if r.Type != RecipientTo || r.Name != "Terry Mahaffey" || r.AddressType != "EX" || r.Address != "terrymah@microsoft.com" {
		t.Errorf("recipient = %+v", r)
	}
	if e.SenderAddress != "terrymah@microsoft.com" {
		t.Errorf("sender = %q", e.SenderAddress)
	}

	a := readAll(t, corpusFile(t, file32bit))[0].Appointment
	if a.OrganizerName != "Cyndy Foulkrod" || len(a.Attendees) < 5 {
		t.Errorf("organizer %q, %d attendees", a.OrganizerName, len(a.Attendees))
	}
	var required, optional int
	for _, at := range a.Attendees {
		switch at.Type {
		case 1:
			required++
		case 2:
			optional++
		}
		if !strings.HasSuffix(at.Address, "@stellent.com") {
			t.Errorf("attendee %q address %q: want the SMTP address", at.Name, at.Address)
		}
	}
	if required == 0 || optional == 0 {
		t.Errorf("required %d optional %d", required, optional)
	}
}

// Gap 5: embedded messages (attach method 5) read as items; values from
// pffexport's Attachments/Attachment00001/Message00001/Message.txt.
func TestGapEmbeddedMessage(t *testing.T) {
	items := readAll(t, corpusFile(t, fileSubmessage))
	if len(items) != 1 || len(items[0].Attachments) != 1 {
		t.Fatalf("want 1 item with 1 attachment")
	}
	a := items[0].Attachments[0]
	if a.Method != 5 || a.Message == nil {
		t.Fatalf("attachment method %d, message %v", a.Method, a.Message)
	}
	m := a.Message
	if m.Subject != "This is an embedded message" || m.Body != "This is the body of an embedded message\r\n\r\n" {
		t.Errorf("embedded subject %q body %q", m.Subject, m.Body)
	}
	if m.Kind != KindEmail || m.Email == nil || len(m.Email.Recipients) != 1 || m.Email.Recipients[0].Name != "Terry Mahaffey" {
		t.Errorf("embedded message %+v", m.Email)
	}

	// Chunks_Test_part1 has mails carrying two .msg attachments each.
	for _, it := range readAll(t, corpusFile(t, fileChunks)) {
		if it.Subject != "this message contains embedded MSG" {
			continue
		}
		if len(it.Attachments) != 2 {
			t.Fatalf("%d attachments", len(it.Attachments))
		}
		for _, at := range it.Attachments {
			if at.Message == nil || at.Message.Subject == "" {
				t.Errorf("attachment %q: embedded message not read", at.Name)
			}
		}
		return
	}
	t.Error("no mail with embedded .msg attachments found")
}

// Gap 6: subject prefix markers.
func TestStripSubjectPrefix(t *testing.T) {
	tests := []struct{ in, want string }{
		{"\x01\x01Hello", "Hello"},
		{"\x01\x05RE: Hello", "RE: Hello"},
		{"Plain", "Plain"},
		{"", ""},
		{"\x01", "\x01"},
		{"\x01\x01コム", "コム"},
	}
	for _, tt := range tests {
		if got := stripSubjectPrefix(tt.in); got != tt.want {
			t.Errorf("stripSubjectPrefix(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestClassKind(t *testing.T) {
	tests := []struct {
		class string
		want  Kind
	}{
		{"IPM.Note", KindEmail},
		{"ipm.note.smime.multipartsigned", KindEmail},
		{"IPM.Note.Rules.OofTemplate.Microsoft", KindEmail},
		{"REPORT.IPM.Note.NDR", KindEmail},
		{"IPM", KindEmail},
		{"", KindEmail},
		{"IPM.Schedule.Meeting.Request", KindAppointment},
		{"IPM.Schedule.Meeting.Resp.Pos", KindAppointment},
		{"IPM.Schedule.Meeting.Canceled", KindAppointment},
		{"IPM.Appointment", KindAppointment},
		{"IPM.Appointment.Custom", KindAppointment},
		{"IPM.OLE.CLASS.{00061055-0000-0000-C000-000000000046}", KindAppointment},
		{"IPM.Task", KindTask},
		{"IPM.TaskRequest.Accept", KindTask},
		{"IPM.Contact", KindContact},
		{"IPM.Contact.MyForm", KindContact},
		{"IPM.DistList", KindDistList},
		{"IPM.StickyNote", KindNote},
		{"IPM.Activity", KindNote},
		{"IPM.Post", KindNote},
		{"IPM.Microsoft.ScheduleData.FreeBusy", KindNote},
	}
	for _, tt := range tests {
		if got := ClassKind(tt.class); got != tt.want {
			t.Errorf("ClassKind(%q) = %v, want %v", tt.class, got, tt.want)
		}
	}
}

// Meeting messages carry the MeetingRequest flag and e-mail fields.
func TestMeetingRequestFlag(t *testing.T) {
	f := &File{}
	a := f.appointment(&bag{f: f}, "IPM.Schedule.Meeting.Request", nil)
	if !a.MeetingRequest {
		t.Error("MeetingRequest not set for IPM.Schedule.Meeting.Request")
	}
	if a = f.appointment(&bag{f: f}, "IPM.Appointment", nil); a.MeetingRequest {
		t.Error("MeetingRequest set for IPM.Appointment")
	}
}

// Gap 7: high ("cyclic") encryption is refused with ErrUnsupported.
func TestGapCyclicEncryption(t *testing.T) {
	for _, name := range []string{fileDuckDB, fileJapanese} {
		data, err := os.ReadFile(corpusFile(t, name))
		if err != nil {
			t.Fatal(err)
		}
		off := cryptOffsetUnicode
		if binary.LittleEndian.Uint16(data[hdrVersionOffset:]) < 20 {
			off = cryptOffsetANSI
		}
		data[off] = cryptMethodCyclic
		path := filepath.Join(t.TempDir(), "cyclic.pst")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err = Open(path)
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "pst: unsupported: high (cyclic) encryption") || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: Open = %v, want ErrUnsupported naming high (cyclic) encryption and the path", name, err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	header := make([]byte, 4096)
	copy(header, "!BDN")
	binary.LittleEndian.PutUint16(header[hdrVersionOffset:], 99)
	tests := []struct {
		name string
		path string
		want error
	}{
		{"empty", write("empty.pst", nil), ErrNotPST},
		{"short", write("short.pst", []byte("!BDN")), ErrNotPST},
		{"text", write("text.pst", bytes.Repeat([]byte("hello world\n"), 100)), ErrNotPST},
		{"unknown version", write("v99.pst", header), ErrUnsupported},
	}
	for _, tt := range tests {
		_, err := Open(tt.path)
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.path) {
			t.Errorf("%s: Open = %v, want %v with the path", tt.name, err, tt.want)
		}
	}
	if _, err := Open(filepath.Join(dir, "missing.pst")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// permute returns the inverse of go-pst's compressible-encryption decoding
// table, to write an encoded byte.
func permuteEncoder() [256]byte {
	var dec [256]byte
	for i := range dec {
		dec[i] = byte(i)
	}
	out := (&gopst.HeapOnNodeReader{}).DecodeCompressibleEncryption(dec[:])
	var enc [256]byte
	for i, d := range out {
		enc[d] = byte(i)
	}
	return enc
}

// patchStoreProperty rewrites the 4-byte value of a PT_LONG property of the
// message store in a copy of a PST encoded with compressible encryption,
// and returns the copy's path.
func patchStoreProperty(t *testing.T, src string, id uint16, value uint32) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	f, err := OpenReader(bytes.NewReader(data), int64(len(data)), "src")
	if err != nil {
		t.Fatal(err)
	}
	bn, err := f.pst.GetDataBTreeNode(nidMessageStore)
	if err != nil {
		t.Fatal(err)
	}
	block := bytes.Clone(data[bn.FileOffset : bn.FileOffset+int64(bn.Size)])
	plain := (&gopst.HeapOnNodeReader{}).DecodeCompressibleEncryption(block)
	var key [8]byte
	binary.LittleEndian.PutUint16(key[:], id)
	binary.LittleEndian.PutUint16(key[2:], ptLong)
	i := bytes.Index(plain, key[:4])
	if i < 0 {
		t.Fatalf("property %#04x not in the store's block", id)
	}
	enc := permuteEncoder()
	var v [4]byte
	binary.LittleEndian.PutUint32(v[:], value)
	for k, b := range v {
		data[bn.FileOffset+int64(i+4+k)] = enc[b]
	}
	out := filepath.Join(t.TempDir(), "patched.pst")
	if err := os.WriteFile(out, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// A password-protected PST (PidTagPstPassword 0x67FF holds a CRC-32 of the
// password) reads without one.
func TestPasswordProtectedReads(t *testing.T) {
	src := corpusFile(t, fileDuckDB)
	path := patchStoreProperty(t, src, 0x67FF, 0x1BADC0DE)
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := f.nodeBag(nidMessageStore)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.int(0x67FF); uint32(v) != 0x1BADC0DE {
		t.Fatalf("patch did not take: PidTagPstPassword = %#x", v)
	}
	f.Close()
	if got, want := countKinds(readAll(t, path)), wantCounts[fileDuckDB]; !equalCounts(got, want) {
		t.Errorf("password-protected copy: %v, want %v", got, want)
	}
}

// An OST reads like a PST: a copy with the OST client signature ("SO").
func TestOSTReads(t *testing.T) {
	data, err := os.ReadFile(corpusFile(t, fileDuckDB))
	if err != nil {
		t.Fatal(err)
	}
	copy(data[8:10], "SO")
	f, err := OpenReader(bytes.NewReader(data), int64(len(data)), "copy.ost")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for it, err := range f.Items(context.Background()) {
		if err != nil {
			t.Error(err)
		}
		if it != nil {
			n++
		}
	}
	if n != 12 { // 5 mails, 2 contacts, 1 appointment, 1 task, 1 list, 2 notes
		t.Errorf("%d items from the OST copy, want 12", n)
	}
}

// go-pst prints to stdout on some paths (GetMessage); nothing may reach
// os.Stdout while we walk every corpus PST and read every attachment.
func TestNothingOnStdout(t *testing.T) {
	files := corpusPSTs(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	orig := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(r)
		done <- b
	}()
	func() {
		defer func() { os.Stdout = orig }()
		for _, name := range sortedKeys(files) {
			if name == "enron" && testing.Short() {
				continue
			}
			f, err := Open(files[name])
			if err != nil {
				t.Error(err)
				continue
			}
			for it, _ := range f.Items(context.Background()) {
				if it != nil {
					drain(it)
				}
			}
			f.Close()
		}
	}()
	w.Close()
	if out := <-done; len(out) > 0 {
		t.Errorf("%d bytes reached stdout: %.200q", len(out), out)
	}
}

// drain reads every attachment of it (and of embedded messages).
func drain(it *Item) int64 {
	var n int64
	for _, a := range it.Attachments {
		if a.Open != nil {
			if rc, err := a.Open(); err == nil {
				m, _ := io.Copy(io.Discard, rc)
				n += m
				rc.Close()
			}
		}
		if a.Message != nil {
			n += drain(a.Message)
		}
	}
	return n
}

// Entry ids are stable across opens and unique within a file.
func TestEntryIDStable(t *testing.T) {
	path := corpusFile(t, fileChunks)
	a, b := readAll(t, path), readAll(t, path)
	seen := map[string]bool{}
	for i := range a {
		if a[i].EntryID == "" || a[i].EntryID != b[i].EntryID {
			t.Fatalf("item %d: entry id %q then %q", i, a[i].EntryID, b[i].EntryID)
		}
		if seen[a[i].EntryID] {
			t.Errorf("duplicate entry id %s", a[i].EntryID)
		}
		seen[a[i].EntryID] = true
	}
}

func TestContextCancel(t *testing.T) {
	f, err := Open(corpusFile(t, fileChunks))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var items int
	var last error
	for it, err := range f.Items(ctx) {
		if it != nil {
			items++
			if items == 3 {
				cancel()
			}
		}
		last = err
	}
	if items != 3 || !errors.Is(last, context.Canceled) {
		t.Errorf("after cancel: %d items, last error %v", items, last)
	}
}

// Distribution list members come from the one-off entry ids of
// PidLidDistributionListOneOffMembers. pffexport prints only the list's name
// ("Cat Support Group"); the members are the two contacts of the same
// folder, whose addresses pffexport prints as their "Email address 1".
func TestDistListMembers(t *testing.T) {
	items := readAll(t, corpusFile(t, fileDuckDB))
	dl := findItem(t, items, "Contacts", "Cat Support Group")
	if dl.DistList == nil {
		t.Fatalf("kind %v, want distlist", dl.Kind)
	}
	want := map[string]string{"hopper@intellekt.fyi": "Hopper Cat (hopper@intellekt.fyi)", "linus@intellekt.fyi": "Linus Cat (linus@intellekt.fyi)"}
	if len(dl.DistList.Members) != len(want) {
		t.Fatalf("members = %+v", dl.DistList.Members)
	}
	for _, m := range dl.DistList.Members {
		if want[m.Address] != m.Name || m.AddressType != "SMTP" {
			t.Errorf("member %+v", m)
		}
	}
}

// Bodies kept only as compressed RTF (recent Outlook's notes, contacts,
// tasks) come out as text; pffexport's Message.rtf shows the same text.
func TestRTFOnlyBodies(t *testing.T) {
	items := readAll(t, corpusFile(t, fileDuckDB))
	note := findItem(t, items, "Notes", "This UI hasn't changed since I used Outlook on Win9x. Awesome.")
	if note.Body != "This UI hasn't changed since I used Outlook on Win9x. Awesome.\r\n" {
		t.Errorf("note body = %q", note.Body)
	}
	task := findItem(t, items, "Tasks", "Release DuckDB extension")
	if !strings.HasPrefix(task.Body, "I keep putting this off. But look.") {
		t.Errorf("task body = %q", task.Body)
	}
	// An RTF body that encapsulates HTML (\fromhtml1) gives BodyHTML.
	xmas := findItem(t, items, "Calendar", "Christmas Day")
	if !strings.HasPrefix(xmas.BodyHTML, "<html") || !strings.Contains(xmas.BodyHTML, "Santa Claus exists.") || !strings.HasSuffix(xmas.BodyHTML, "</html>") {
		t.Errorf("appointment HTML = %.200q…", xmas.BodyHTML)
	}
	// An empty RTF body gives an empty body, not "\r\n".
	if linus := findItem(t, items, "Contacts", "Linus Cat"); linus.Body != "" {
		t.Errorf("contact body = %q", linus.Body)
	}
}
