package bridge

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"crmbridge/crm"
	"crmbridge/crmstore"
	"crmbridge/fixtures"
	"crmbridge/pst"
	"crmbridge/pstwrite"
)

// xprop is one property of a test message: a tag (id) or a named property
// (set and lid or name), with a Go value that says its type.
type xprop struct {
	id   uint16
	set  string // GUID of a named property's set
	lid  uint32
	name string
	v    any
}

const (
	setCommon  = "00062008-0000-0000-C000-000000000046"
	setAppt    = "00062002-0000-0000-C000-000000000046"
	setPublic  = "00020329-0000-0000-C000-000000000046"
	setMeeting = "6ED8DA90-450B-101B-98DA-00AA003F1305"
)

func (p xprop) key() pstwrite.Key {
	switch {
	case p.set == "":
		return pstwrite.Tag(p.id)
	case p.name != "":
		return pstwrite.NameString(pstwrite.MustGUID(p.set), p.name)
	}
	return pstwrite.LID(pstwrite.MustGUID(p.set), p.lid)
}

func (p xprop) pst() pstwrite.Prop {
	k := p.key()
	switch v := p.v.(type) {
	case string:
		return pstwrite.String(k, v)
	case []byte:
		return pstwrite.Binary(k, v)
	case int32:
		return pstwrite.Int32(k, v)
	case bool:
		return pstwrite.Bool(k, v)
	case time.Time:
		return pstwrite.Time(k, v)
	case []string:
		return pstwrite.MVString(k, v)
	case float64:
		return pstwrite.Float64(k, v)
	}
	panic(fmt.Sprintf("xprop: %T", p.v))
}

func (p xprop) msg() fixtures.MSGProp {
	typ := map[string]uint16{"string": 0x001F, "[]uint8": 0x0102, "int32": 0x0003, "bool": 0x000B,
		"time.Time": 0x0040, "[]string": 0x101F, "float64": 0x0005}[fmt.Sprintf("%T", p.v)]
	return fixtures.MSGProp{ID: p.id, Type: typ, Value: p.v, Set: p.set, LID: p.lid, Name: p.name}
}

// writeBothX writes one message with props and recipients as the only
// item of a PST folder and as a .msg, in dir.
func writeBothX(t *testing.T, dir, folderClass string, props []xprop, recips [][]xprop) (pstPath, msgPath string) {
	t.Helper()
	pstPath, msgPath = filepath.Join(dir, "items.pst"), filepath.Join(dir, "item.msg")
	writeXPST(t, pstPath, "Items", folderClass, xmessage(props, recips))
	if err := os.WriteFile(msgPath, fixtures.WriteMSG(xmsg(props, recips)), 0o600); err != nil {
		t.Fatal(err)
	}
	return pstPath, msgPath
}

// xmessage returns the PST message of props and recipients.
func xmessage(props []xprop, recips [][]xprop) *pstwrite.Message {
	m := &pstwrite.Message{}
	for _, p := range props {
		m.Props = append(m.Props, p.pst())
	}
	for _, r := range recips {
		var pr []pstwrite.Prop
		for _, p := range r {
			pr = append(pr, p.pst())
		}
		m.Recipients = append(m.Recipients, pr)
	}
	return m
}

// xmsg returns the .msg message of props and recipients.
func xmsg(props []xprop, recips [][]xprop) *fixtures.MSGMessage {
	m := &fixtures.MSGMessage{}
	for _, p := range props {
		m.Props = append(m.Props, p.msg())
	}
	for _, r := range recips {
		var mr []fixtures.MSGProp
		for _, p := range r {
			mr = append(mr, p.msg())
		}
		m.Recipients = append(m.Recipients, mr)
	}
	return m
}

// writeXPST writes ms, in this order, into a folder of the given name and
// class of a new PST at path.
func writeXPST(t *testing.T, path, folder, class string, ms ...*pstwrite.Message) {
	t.Helper()
	w, err := pstwrite.Create(path, pstwrite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fo, err := w.Folder(pstwrite.IPMSubtree, folder, class)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if err := w.Add(fo, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// extraStrings shows extras one a line, sorted (named properties get
// other ids in a PST and a .msg, so their order differs).
func extraStrings(xs []crm.Extra) []string {
	var out []string
	for _, x := range xs {
		out = append(out, x.String())
	}
	slices.Sort(out)
	return out
}

// The properties of a PST or .msg e-mail that the mapping does not read
// are kept by the rule of pst/kept.go: transmittable tags and named
// properties of the user sets, not derived, values no column holds,
// binaries up to 4 KiB (a larger one is a warning).
func TestPSTAndMSGMailKeptProps(t *testing.T) {
	sent := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	index := bytes.Repeat([]byte{0x01, 0xC1}, 11)
	props := []xprop{
		{id: 0x001A, v: "IPM.Note"}, {id: 0x0037, v: "Figures"}, {id: 0x1000, v: "Hi Bob"},
		{id: 0x0039, v: sent}, {id: 0x1035, v: "<a1@example.com>"},
		{id: 0x0C1A, v: "Ann Lee"}, {id: 0x0C1F, v: "ann@example.com"}, {id: 0x0C1E, v: "SMTP"},
		// kept
		{id: 0x0070, v: "Q2 figures thread"},                         // ConversationTopic other than the subject
		{id: 0x0071, v: index},                                       // ConversationIndex
		{id: 0x0026, v: int32(2)},                                    // Priority
		{id: 0x0029, v: true},                                        // ReadReceiptRequested
		{id: 0x7203, v: "EDRM-0001"},                                 // no MS-OXPROPS name
		{id: 0x7202, v: sent.Add(time.Hour)},                         // no name, a time
		{set: setCommon, lid: 0x8506, v: true},                       // PidLidPrivate
		{set: setCommon, lid: 0x8539, v: []string{"Acme", "Globex"}}, // PidLidCompanies
		{set: setAppt, lid: 0x8214, v: int32(3)},                     // PidLidAppointmentColor
		{set: setPublic, name: "Customer Ref", v: "C-42"},
		{set: setCommon, lid: 0x85FF, v: 0.25}, // a Common LID with no name we know
		// not kept
		{id: 0x0040, v: "Bob Roe"},                           // ReceivedByName: a recipient's name already
		{id: 0x003D, v: "RE: "},                              // SubjectPrefix: derived
		{id: 0x0041, v: []byte{0, 0, 0, 0, 1, 2}},            // SentRepresentingEntryId: an entry id
		{id: 0x0E08, v: int32(1234)},                         // MessageSize: not transmittable
		{id: 0x3008, v: sent},                                // LastModificationTime: not transmittable
		{set: setCommon, lid: 0x8552, v: int32(0x1234)},      // CurrentVersion: derived
		{set: setMeeting, lid: 0x0024, v: "IPM.Appointment"}, // PSETID_Meeting: not a user set
		{id: 0x7210, v: bytes.Repeat([]byte{7}, 5000)},       // over 4 KiB: a warning
	}
	recips := [][]xprop{{{id: 0x0C15, v: int32(1)}, {id: 0x3001, v: "Bob Roe"}, {id: 0x3003, v: "bob@example.com"}, {id: 0x3002, v: "SMTP"}}}
	want := []string{
		"X-MS-0X72020040: 2024-05-06T08:08:09Z",
		"X-MS-0X7203001F: EDRM-0001",
		"X-MS-0X85FF;X-MAPI=id/{00062008-0000-0000-C000-000000000046}/85FF0005: 0.25",
		"X-MS-APPOINTMENTCOLOR: 3",
		"X-MS-COMPANIES: Acme",
		"X-MS-COMPANIES: Globex",
		"X-MS-CONVERSATIONINDEX: AcEBwQHBAcEBwQHBAcEBwQHBAcEBwQ==", // base64 of the 22 bytes (Python base64)
		"X-MS-CONVERSATIONTOPIC: Q2 figures thread",
		"X-MS-CUSTOMER-REF;X-MAPI=string/{00020329-0000-0000-C000-000000000046}/Customer Ref/0x0000001F: C-42",
		"X-MS-PRIORITY: 2",
		"X-MS-PRIVATE: 1",
		"X-MS-READRECEIPTREQUESTED: 1",
	}
	dir := t.TempDir()
	pstPath, msgPath := writeBothX(t, dir, "IPF.Note", props, recips)
	for _, path := range []string{pstPath, msgPath} {
		s := newStore(t)
		sum, p := importPaths(t, s, ImportOptions{}, path)
		if len(p.errs) != 0 {
			t.Fatalf("%s: %v", path, p.errs)
		}
		if len(p.warns) != 1 || !strings.Contains(p.warns[0].Error(), "0x7210") || !strings.Contains(p.warns[0].Error(), "5000 bytes not kept") {
			t.Errorf("%s: warnings %v, want one for the 5000-byte binary 0x7210", filepath.Base(path), p.warns)
		}
		ids, err := s.IDs(context.Background(), []crm.Entity{crm.Email})
		if err != nil || len(ids) != 1 {
			t.Fatalf("%s: mails %v %v", path, ids, err)
		}
		v, err := s.Get(context.Background(), ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if got := extraStrings(v.Extras); !slices.Equal(got, want) {
			t.Errorf("%s: extras\n got %q\nwant %q", filepath.Base(path), got, want)
		}
		if n := sum.Extras["X-MS-COMPANIES"]; n != 2 {
			t.Errorf("%s: summary counts %d X-MS-COMPANIES, want 2 (%v)", filepath.Base(path), n, sum.Extras)
		}
	}
}

// The kept MAPI properties of a PST mail, appointment and task survive
// PST → store → PST as the same properties (tags as tags, named ones
// through the new file's name-to-id map), so that the exported PST's items
// carry the same kept properties and import as the same extras; importing
// the source again changes nothing.
func TestPSTKeptPropsRoundTrip(t *testing.T) {
	start := time.Date(2024, 5, 6, 9, 0, 0, 0, time.UTC)
	index := []byte{1, 0xC1, 0x7D, 0x3E, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	shared := []xprop{
		{id: 0x0071, v: index},                                       // ConversationIndex
		{id: 0x0026, v: int32(2)},                                    // Priority
		{id: 0x7203, v: "EDRM-0001"},                                 // no name
		{id: 0x7202, v: start.Add(30 * time.Hour)},                   // no name, a time (not a column's: that would make it a copy)
		{set: setCommon, lid: 0x8506, v: true},                       // Private
		{set: setCommon, lid: 0x8539, v: []string{"Acme", "Globex"}}, // Companies
		{set: setPublic, name: "Customer Ref", v: "C-42"},
		{set: setCommon, lid: 0x85FF, v: 0.25},
	}
	items := []struct {
		class  string
		props  []xprop
		recips [][]xprop
	}{
		{"IPM.Note", []xprop{{id: 0x0037, v: "Figures"}, {id: 0x1000, v: "Hi Bob"}, {id: 0x0039, v: start},
			{id: 0x1035, v: "<a1@example.com>"}, {id: 0x0070, v: "Q2 figures thread"}}, [][]xprop{{{id: 0x0C15, v: int32(1)},
			{id: 0x3001, v: "Bob Roe"}, {id: 0x3003, v: "bob@example.com"}, {id: 0x3002, v: "SMTP"}}}},
		{"IPM.Appointment", []xprop{{id: 0x0037, v: "Review"}, {set: setAppt, lid: 0x820D, v: start},
			{set: setAppt, lid: 0x820E, v: start.Add(time.Hour)}, {set: setAppt, lid: 0x8214, v: int32(3)}}, nil},
		{"IPM.Task", []xprop{{id: 0x0037, v: "Call Ann"}, {set: "00062003-0000-0000-C000-000000000046", lid: 0x8110, v: int32(90)}}, nil},
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src.pst")
	var ms []*pstwrite.Message
	for _, it := range items {
		ms = append(ms, xmessage(append(append([]xprop{{id: 0x001A, v: it.class}}, it.props...), shared...), it.recips))
	}
	writeXPST(t, src, "Items", "IPF.Note", ms...)
	ctx := context.Background()
	a := newStore(t)
	if _, p := importPaths(t, a, ImportOptions{}, src); len(p.errs) > 0 {
		t.Fatal(p.errs)
	}
	extrasBy := func(s *crmstore.Store) map[string][]string {
		ids, err := s.IDs(ctx, []crm.Entity{crm.Email, crm.Appointment, crm.Task})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]string{}
		for _, id := range ids {
			v, err := s.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			out[v.Fields["subject"]] = extraStrings(v.Extras)
		}
		return out
	}
	before := extrasBy(a)
	for _, subj := range []string{"Figures", "Review", "Call Ann"} {
		if len(before[subj]) < 8 {
			t.Fatalf("%s: only %d extras kept from the source: %q", subj, len(before[subj]), before[subj])
		}
	}
	out := filepath.Join(dir, "out.pst")
	export(t, a, ExportOptions{All: true, PST: out})

	// The exported items hold the kept values as the properties they
	// came from, not in crmbridge's own Extras property.
	f, err := pst.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := 0
	for it, err := range f.Items(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		seen++
		// The writer writes the mail's conversation topic from its subject
		// itself: the kept topic travels in crmbridge's property.
		if want := map[string]int{"Figures": 1}[it.Subject]; len(it.Extras) != want ||
			want > 0 && !strings.Contains(it.Extras[0], "X-MS-CONVERSATIONTOPIC") {
			t.Errorf("%s: values in crmbridge's Extras property: %q", it.Subject, it.Extras)
		}
		have := map[string]bool{}
		for _, p := range it.Other {
			have[p.Identity()+" "+strings.Join(p.Values, ",")] = true
		}
		for _, want := range []string{
			"proptag/0x00710102 " + "AcF9PgAAAAAAAAAAAAAAAAAAAAAAAA==", // base64 of index (Python base64)
			"proptag/0x00260003 2",
			"proptag/0x7203001F EDRM-0001",
			"proptag/0x72020040 2024-05-07T15:00:00Z",
			"id/{00062008-0000-0000-C000-000000000046}/8506000B 1",
			"id/{00062008-0000-0000-C000-000000000046}/8539101F Acme,Globex",
			"string/{00020329-0000-0000-C000-000000000046}/Customer Ref/0x0000001F C-42",
			"id/{00062008-0000-0000-C000-000000000046}/85FF0005 0.25",
		} {
			if !have[want] {
				t.Errorf("%s: exported item lacks %s (has %v)", it.Subject, want, have)
			}
		}
	}
	if seen != 3 {
		t.Errorf("%d items exported, want 3", seen)
	}

	b := newStore(t)
	if _, p := importPaths(t, b, ImportOptions{}, out); len(p.errs) > 0 {
		t.Fatal(p.errs)
	}
	if after := extrasBy(b); !reflect.DeepEqual(after, before) {
		t.Errorf("extras after PST → store → PST → store:\n got %q\nwant %q", after, before)
	}
	// The same source again: nothing changes.
	sum, _ := importPaths(t, a, ImportOptions{Force: true}, src)
	for e, c := range sum.Entities {
		if c.Updated > 0 || c.Created > 0 {
			t.Errorf("re-import of the source: %s %+v", e, *c)
		}
	}
	if again := extrasBy(a); !reflect.DeepEqual(again, before) {
		t.Errorf("extras after re-import:\n got %q\nwant %q", again, before)
	}
}

// Two versions of one event (one UID, in two files), each with its own
// STATUS, a property a VEVENT holds once (RFC 5545 3.6.1), and its own
// X- property, which may repeat: the newer version replaces the event
// (RFC 5546 2.1.5: a higher SEQUENCE), so its STATUS and X-TAG replace
// the older's, as a field's value would. A later version of the event
// in the first file that gives neither withdraws them.
func TestOnceExtrasTwoVersions(t *testing.T) {
	version := func(seq int, status, tag string) string {
		return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//once//EN\r\nBEGIN:VEVENT\r\nUID:once-1@example.com\r\n" +
			fmt.Sprintf("SEQUENCE:%d\r\nDTSTAMP:2026030%dT080000Z\r\n", seq, seq+1) +
			"DTSTART:20260310T090000Z\r\nDTEND:20260310T100000Z\r\nSUMMARY:Review\r\n" +
			"STATUS:" + status + "\r\nX-TAG:" + tag + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.ics"), filepath.Join(dir, "b.ics")
	writeFile(t, a, version(0, "CONFIRMED", "one"))
	writeFile(t, b, version(1, "TENTATIVE", "two"))
	s := newStore(t)
	for _, path := range []string{a, b} {
		if _, p := importPaths(t, s, ImportOptions{}, path); len(p.errs) > 0 {
			t.Fatal(p.errs)
		}
	}
	ids, err := s.IDs(context.Background(), []crm.Entity{crm.Appointment})
	if err != nil || len(ids) != 1 {
		t.Fatalf("appointments %v %v", ids, err)
	}
	v, err := s.Get(context.Background(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	var status, tags []string
	for _, x := range v.Extras {
		switch x.Name {
		case "STATUS":
			status = append(status, x.Value)
		case "X-TAG":
			tags = append(tags, x.Value)
		}
	}
	if !slices.Equal(status, []string{"TENTATIVE"}) || !slices.Equal(tags, []string{"two"}) {
		t.Errorf("STATUS %q (want [TENTATIVE]), X-TAG %q (want [two]); extras %q", status, tags, extraStrings(v.Extras))
	}
	v2 := strings.NewReplacer("STATUS:CONFIRMED\r\n", "", "X-TAG:one\r\n", "").Replace(version(2, "CONFIRMED", "one"))
	writeFile(t, a, v2)
	if _, p := importPaths(t, s, ImportOptions{}, a); len(p.errs) > 0 {
		t.Fatal(p.errs)
	}
	if v, err = s.Get(context.Background(), ids[0]); err != nil {
		t.Fatal(err)
	}
	for _, x := range v.Extras {
		if x.Name == "STATUS" || x.Name == "X-TAG" {
			t.Errorf("after SEQUENCE 2 without STATUS and X-TAG: %q", extraStrings(v.Extras))
			break
		}
	}
}

// A contact keeps its unmapped properties by the same rule as a mail (and
// its strings of 0x3A00-0x3AFF by its own): named properties of the user
// sets, transmittable tags, not entry ids, not the mailing address copy.
// They go back out as the same properties through a PST.
func TestPSTAndMSGContactKeptProps(t *testing.T) {
	const setAddress = "00062004-0000-0000-C000-000000000046"
	props := []xprop{
		{id: 0x001A, v: "IPM.Contact"}, {id: 0x3001, v: "Ann Lee"}, {id: 0x3A06, v: "Ann"}, {id: 0x3A11, v: "Lee"},
		{set: setAddress, lid: 0x8083, v: "ann@example.com"}, // Email1EmailAddress: a field
		// kept
		{set: setAddress, lid: 0x802C, v: "アン"},             // YomiFirstName
		{set: setAddress, lid: 0x8062, v: "ann.lee.im"},     // InstantMessagingAddress
		{set: setPublic, name: "Customer Number", v: "K-7"}, // a user's own field
		{id: 0x3A0C, v: "Irish"},                            // Language: the contact rule
		{set: setCommon, lid: 0x8539, v: []string{"Acme"}},  // Companies
		// not kept
		{set: setAddress, lid: 0x8085, v: []byte{0, 0, 0, 0, 9}}, // Email1OriginalEntryId: an entry id
		{id: 0x3A15, v: "1 Main St"},                             // PostalAddress: a copy of one address
	}
	want := []string{
		"X-MS-COMPANIES: Acme",
		"X-MS-CUSTOMER-NUMBER;X-MAPI=string/{00020329-0000-0000-C000-000000000046}/Customer Number/0x0000001F: K-7",
		"X-MS-INSTANTMESSAGINGADDRESS: ann.lee.im",
		"X-MS-LANGUAGE: Irish",
		"X-MS-YOMIFIRSTNAME: アン",
	}
	extrasOf := func(path string, s *crmstore.Store) []string {
		t.Helper()
		if _, p := importPaths(t, s, ImportOptions{}, path); len(p.errs)+len(p.warns) != 0 {
			t.Fatalf("%s: problems %v, warnings %v", filepath.Base(path), p.errs, p.warns)
		}
		ids, err := s.IDs(context.Background(), []crm.Entity{crm.Contact})
		if err != nil || len(ids) != 1 {
			t.Fatalf("%s: contacts %v %v", path, ids, err)
		}
		v, err := s.Get(context.Background(), ids[0])
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, x := range extraStrings(v.Extras) {
			if !strings.HasPrefix(x, "FN:") {
				got = append(got, x)
			}
		}
		return got
	}
	pstPath, msgPath := writeBothX(t, t.TempDir(), "IPF.Contact", props, nil)
	for _, path := range []string{pstPath, msgPath} {
		s := newStore(t)
		if got := extrasOf(path, s); !slices.Equal(got, want) {
			t.Errorf("%s: extras\n got %q\nwant %q", filepath.Base(path), got, want)
		}
		out := filepath.Join(t.TempDir(), "out.pst")
		if _, err := Export(context.Background(), s, ExportOptions{PST: out, All: true}); err != nil {
			t.Fatal(err)
		}
		if got := extrasOf(out, newStore(t)); !slices.Equal(got, want) {
			t.Errorf("%s through a PST: extras\n got %q\nwant %q", filepath.Base(path), got, want)
		}
	}
}
