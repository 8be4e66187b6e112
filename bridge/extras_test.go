package bridge

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"crmbridge/crm"
	"crmbridge/crmstore"
	"crmbridge/pst"
)

// A card with more than the columns hold: five e-mails, two home phones
// and a home fax, four addresses, two titles, an X- property, a birthday
// without a year and an FN that says more than N.
const richCard = "BEGIN:VCARD\r\nVERSION:3.0\r\n" +
	"FN:Mr. Michael Angstadt Jr.\r\nN:Angstadt;Michael;;Mr.;Jr.\r\n" +
	"EMAIL:m1@example.org\r\nEMAIL:m2@example.org\r\nEMAIL:m3@example.org\r\nEMAIL;TYPE=home:m4@example.org\r\nEMAIL:m5@example.org\r\n" +
	"TEL;TYPE=home:+1 555 0001\r\nTEL;TYPE=home:+1 555 0002\r\nTEL;TYPE=home,fax:+1 555 0003\r\nTEL;TYPE=work,fax:+1 555 0004\r\nTEL:+1 555 0005\r\n" +
	"ADR;TYPE=work:;;1 Work St;Austin;TX;78701;USA\r\nADR;TYPE=home:;;2 Home St;Austin;TX;78702;USA\r\n" +
	"ADR:;;3 Other St;Dallas;;;\r\nADR;TYPE=home:;;4 Fourth St\\, Rear;Houston;;;\r\n" +
	"TITLE:Engineer\r\nTITLE:Author\r\nX-SKYPE:mangstadt\r\nBDAY:--0416\r\nEND:VCARD\r\n"

func extrasOf(t *testing.T, s *crmstore.Store) []crm.Extra {
	t.Helper()
	ids, err := s.IDs(context.Background(), []crm.Entity{crm.Contact})
	if err != nil || len(ids) != 1 {
		t.Fatalf("contacts %v %v", ids, err)
	}
	v, err := s.Get(context.Background(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	xs := append([]crm.Extra(nil), v.Extras...)
	sort.Slice(xs, func(i, j int) bool {
		return fmt.Sprint(xs[i].Name, xs[i].Value, xs[i].Params) < fmt.Sprint(xs[j].Name, xs[j].Value, xs[j].Params)
	})
	return xs
}

// Every value of the card is kept: in a column when one holds it, else as
// an extra value; the import counts extras per property; the birthday
// without a year never becomes a date (no made-up year goes upstream).
// Import → export → import keeps every value, extras included.
func TestExtrasKeptAndRoundTrip(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "rich.vcf")
	if err := os.WriteFile(in, []byte(richCard), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	sum, p := importPaths(t, s, ImportOptions{}, in)
	if len(p.errs) != 0 || len(p.warns) != 0 {
		t.Fatalf("problems %v, warnings %v", p.errs, p.warns)
	}
	want := []crm.Extra{
		{Name: "ADR", Value: ";;4 Fourth St\\, Rear;Houston;;;", Params: map[string]string{"TYPE": "home"}},
		{Name: "BDAY", Value: "--0416"},
		{Name: "EMAIL", Value: "m4@example.org", Params: map[string]string{"TYPE": "home"}},
		{Name: "EMAIL", Value: "m5@example.org"},
		{Name: "FN", Value: "Mr. Michael Angstadt Jr."},
		// The second home number takes telephone3 (mapPhones: a number
		// whose slot is taken); the other number and the home fax find
		// every slot taken.
		{Name: "TEL", Value: "+1 555 0003", Params: map[string]string{"TYPE": "home,fax"}},
		{Name: "TEL", Value: "+1 555 0005"},
		{Name: "TITLE", Value: "Author"},
		{Name: "X-SKYPE", Value: "mangstadt"},
	}
	got := extrasOf(t, s)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("extras\n got %+v\nwant %+v", got, want)
	}
	wantCounts := map[string]int{"ADR": 1, "BDAY": 1, "EMAIL": 2, "FN": 1, "TEL": 2, "TITLE": 1, "X-SKYPE": 1}
	if !reflect.DeepEqual(sum.Extras, wantCounts) || !reflect.DeepEqual(sum.Ledger[0].Extras, wantCounts) {
		t.Errorf("extras counted %v / %v, want %v", sum.Extras, sum.Ledger[0].Extras, wantCounts)
	}
	ids, _ := s.IDs(context.Background(), []crm.Entity{crm.Contact})
	v, _ := s.Get(context.Background(), ids[0])
	for k, w := range map[string]string{
		"salutation": "Mr.", "suffix": "Jr.", "firstname": "Michael", "lastname": "Angstadt",
		"emailaddress3": "m3@example.org", "telephone2": "+1 555 0001", "fax": "+1 555 0004", "telephone3": "+1 555 0002",
		"address3_line1": "3 Other St", "jobtitle": "Engineer", "birthdate": "",
	} {
		if v.Fields[k] != w {
			t.Errorf("%s = %q, want %q", k, v.Fields[k], w)
		}
	}

	// Round trip through a vCard export into a fresh store.
	out := filepath.Join(dir, "out.vcf")
	if _, err := Export(context.Background(), s, ExportOptions{VCF: out, All: true}); err != nil {
		t.Fatal(err)
	}
	s2 := newStore(t)
	if _, p := importPaths(t, s2, ImportOptions{}, out); len(p.errs) != 0 || len(p.warns) != 0 {
		t.Fatalf("re-import: %v %v", p.errs, p.warns)
	}
	if got2 := extrasOf(t, s2); !reflect.DeepEqual(got2, want) {
		b, _ := os.ReadFile(out)
		t.Errorf("extras after the round trip\n got %+v\nwant %+v\n%s", got2, want, b)
	}
	ids2, _ := s2.IDs(context.Background(), []crm.Entity{crm.Contact})
	v2, _ := s2.Get(context.Background(), ids2[0])
	for k, val := range v.Fields {
		if k != "parentcustomerid" && v2.Fields[k] != val {
			t.Errorf("round trip: %s = %q, want %q", k, v2.Fields[k], val)
		}
	}
}

// extrasByEntity returns the extras of every record of entity e in s,
// sorted, keyed by the record's subject.
func extrasByEntity(t *testing.T, s *crmstore.Store, e crm.Entity) map[string][]crm.Extra {
	t.Helper()
	ids, err := s.IDs(context.Background(), []crm.Entity{e})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]crm.Extra{}
	for _, id := range ids {
		v, err := s.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		xs := append([]crm.Extra(nil), v.Extras...)
		sort.Slice(xs, func(i, j int) bool {
			return fmt.Sprint(xs[i].Name, xs[i].Value, xs[i].Params) < fmt.Sprint(xs[j].Name, xs[j].Value, xs[j].Params)
		})
		out[v.Fields["subject"]] = xs
	}
	return out
}

// An event and a task with values no field holds keep them as extras
// through import → ICS export → import, and the import counts them per
// property.
func TestICSExtrasRoundTrip(t *testing.T) {
	const cal = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" +
		"BEGIN:VEVENT\r\nUID:ev1\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240105T090000Z\r\nDTEND:20240105T100000Z\r\n" +
		"SUMMARY:Review\r\nX-GOOGLE-CONFERENCE:https://meet.example/abc\r\nURL:https://example.org/ev1\r\n" +
		"ORGANIZER;CN=Boss:mailto:boss@example.org\r\n" +
		"ATTENDEE;CN=Ann;PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:ann@example.org\r\n" +
		"BEGIN:VALARM\r\nACTION:AUDIO\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\n" +
		"BEGIN:VTODO\r\nUID:td1\r\nDTSTAMP:20240101T000000Z\r\nSUMMARY:Do\r\nX-APPLE-SORT-ORDER:42\r\nEND:VTODO\r\n" +
		"END:VCALENDAR\r\n"
	dir := t.TempDir()
	in := filepath.Join(dir, "in.ics")
	if err := os.WriteFile(in, []byte(cal), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	sum, p := importPaths(t, s, ImportOptions{}, in)
	if len(p.errs) != 0 || len(p.warns) != 0 {
		t.Fatalf("problems %v, warnings %v", p.errs, p.warns)
	}
	want := map[crm.Entity]map[string][]crm.Extra{
		crm.Appointment: {"Review": {
			{Name: "ATTENDEE", Value: "mailto:ann@example.org", Params: map[string]string{"RSVP": "TRUE"}},
			{Name: "URL", Value: "https://example.org/ev1"},
			{Name: "VALARM", Value: "ACTION:AUDIO\r\nTRIGGER:-PT15M"},
			{Name: "X-GOOGLE-CONFERENCE", Value: "https://meet.example/abc"},
		}},
		crm.Task: {"Do": {{Name: "X-APPLE-SORT-ORDER", Value: "42"}}},
	}
	for e, w := range want {
		if got := extrasByEntity(t, s, e); !reflect.DeepEqual(got, w) {
			t.Errorf("%s extras\n got %q\nwant %q", e, got, w)
		}
	}
	wantCounts := map[string]int{"ATTENDEE": 1, "URL": 1, "VALARM": 1, "X-GOOGLE-CONFERENCE": 1, "X-APPLE-SORT-ORDER": 1}
	if !reflect.DeepEqual(sum.Extras, wantCounts) {
		t.Errorf("extras counted %v, want %v", sum.Extras, wantCounts)
	}

	out := filepath.Join(dir, "out.ics")
	if _, err := Export(context.Background(), s, ExportOptions{ICS: out, All: true}); err != nil {
		t.Fatal(err)
	}
	s2 := newStore(t)
	if _, p := importPaths(t, s2, ImportOptions{}, out); len(p.errs) != 0 || len(p.warns) != 0 {
		t.Fatalf("re-import: %v %v", p.errs, p.warns)
	}
	for e, w := range want {
		if got := extrasByEntity(t, s2, e); !reflect.DeepEqual(got, w) {
			b, _ := os.ReadFile(out)
			t.Errorf("%s extras after the round trip\n got %q\nwant %q\n%s", e, got, w, b)
		}
	}
}

// An Outlook contact's values without a column (the home fax beside a
// business fax, the assistant's phone, profession, manager, assistant, a
// street of four lines) are extras named as Outlook's vCard export names
// them.
func TestPSTContactExtras(t *testing.T) {
	it := &pst.Item{Kind: pst.KindContact, Class: "IPM.Contact", Subject: "Ann Lee", Contact: &pst.Contact{
		DisplayName: "Dr. Ann Lee", GivenName: "Ann", Surname: "Lee", BusinessFax: "+1 555 0001", HomeFax: "+1 555 0002",
		AssistantPhone: "+1 555 0003", Profession: "Surveyor", Manager: "Bob", Assistant: "Cy",
		HomeAddress: pst.PostalAddress{Street: "Flat 2\r\nBlock C\r\nHigh St 1\r\nRear", City: "Leeds"},
	}}
	in := FromPST("x.pst", it)
	want := []crm.Extra{
		{Name: "TEL", Value: "+1 555 0002", Params: map[string]string{"TYPE": "home,fax"}},
		{Name: "X-MS-TEL", Value: "+1 555 0003", Params: map[string]string{"TYPE": "assistant"}},
		{Name: "ROLE", Value: "Surveyor"},
		{Name: "X-MS-MANAGER", Value: "Bob"},
		{Name: "X-MS-ASSISTANT", Value: "Cy"},
		{Name: "FN", Value: "Dr. Ann Lee"},
		{Name: "X-MS-STREET", Value: "Flat 2\r\nBlock C\r\nHigh St 1\r\nRear", Params: map[string]string{"TYPE": "home"}},
	}
	if !reflect.DeepEqual(in.Record.Extras, want) {
		t.Errorf("extras\n got %q\nwant %q", in.Record.Extras, want)
	}
	if f := in.Record.Fields; f["fax"] != "+1 555 0001" || f["address2_line3"] != "High St 1" {
		t.Errorf("fax %q line3 %q", f["fax"], f["address2_line3"])
	}
}

// A vCard's FN may repeat (RFC 6350 6.2.1: cardinality 1*, one per
// language with ALTID): every FN is kept, the first one stays the card's
// FN on export, and export → import keeps them all.
func TestVCardTwoFN(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "two.vcf")
	writeFile(t, in, "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ann Lee\r\nFN;ALTID=1;LANGUAGE=ja:リー・アン\r\n"+
		"N:Lee;Ann;;;\r\nEMAIL:ann@example.com\r\nEND:VCARD\r\n")
	s := newStore(t)
	if _, p := importPaths(t, s, ImportOptions{}, in); len(p.errs)+len(p.warns) > 0 {
		t.Fatal(p.errs, p.warns)
	}
	want := []crm.Extra{
		{Name: "FN", Value: "Ann Lee"},
		{Name: "FN", Value: "リー・アン", Params: map[string]string{"ALTID": "1", "LANGUAGE": "ja"}},
	}
	if got := extrasOf(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("extras\n got %q\nwant %q", extraStrings(got), extraStrings(want))
	}
	out := filepath.Join(dir, "out.vcf")
	if _, err := Export(context.Background(), s, ExportOptions{All: true, VCF: out}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var fns []string
	for _, l := range strings.Split(string(b), "\r\n") {
		if strings.HasPrefix(l, "FN") {
			fns = append(fns, l)
		}
	}
	if len(fns) != 2 || fns[0] != "FN:Ann Lee" || !strings.HasSuffix(fns[1], ":リー・アン") {
		t.Errorf("exported FN lines %q, want FN:Ann Lee first, then the Japanese one\n%s", fns, b)
	}
	s2 := newStore(t)
	if _, p := importPaths(t, s2, ImportOptions{}, out); len(p.errs) > 0 {
		t.Fatal(p.errs)
	}
	if got := extrasOf(t, s2); !reflect.DeepEqual(got, want) {
		t.Errorf("extras after export → import\n got %q\nwant %q", extraStrings(got), extraStrings(want))
	}
}

// A value a source no longer gives goes with its next version, unless
// another source still gives it; forgetting a file drops what only that
// file gave. Through real files: two cards of one person in two files,
// one re-imported without its GENDER, its second TITLE and the fourth
// e-mail address (which the other file gives too), then the other file
// forgotten.
func TestExtrasWithdrawnOnReimport(t *testing.T) {
	card := func(rev string, lines ...string) string {
		return "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:ann-1\r\nFN:Ann Lee\r\nN:Lee;Ann;;;\r\n" +
			"EMAIL:ann@example.com\r\nEMAIL:ann2@example.com\r\nEMAIL:ann3@example.com\r\n" +
			strings.Join(lines, "\r\n") + "\r\nREV:" + rev + "\r\nEND:VCARD\r\n"
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.vcf"), filepath.Join(dir, "b.vcf")
	writeFile(t, a, card("20260301T000000Z", "TITLE:Engineer", "TITLE:Author", "GENDER:F", "EMAIL:shared@example.com", "X-SKYPE:ann"))
	writeFile(t, b, strings.Replace(card("20260301T000000Z", "EMAIL:shared@example.com", "X-SKYPE:ann"), "ann-1", "ann-b", 1))
	s := newStore(t)
	if _, p := importPaths(t, s, ImportOptions{}, a, b); len(p.errs) > 0 {
		t.Fatal(p.errs)
	}
	names := func() []string {
		var out []string
		for _, x := range extrasOf(t, s) {
			if x.Name != "REV" {
				out = append(out, x.String())
			}
		}
		return out
	}
	// Each card's UID is a value of its own (no record id): both, then
	// only a.vcf's.
	uids := []string{"UID: urn:uuid:ann-1", "UID: urn:uuid:ann-b"}
	if got, want := names(), []string{"EMAIL: shared@example.com", "GENDER: F", "TITLE: Author", uids[0], uids[1], "X-SKYPE: ann"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after both files\n got %q\nwant %q", got, want)
	}
	// a.vcf edited: GENDER, the second TITLE, the shared address and
	// X-SKYPE removed.
	writeFile(t, a, card("20260302T000000Z", "TITLE:Engineer", "NOTE:new"))
	sum, p := importPaths(t, s, ImportOptions{}, a)
	if len(p.errs) > 0 || sum.Entities[crm.Contact].Updated != 1 {
		t.Fatalf("re-import: %v %+v", p.errs, sum.Entities[crm.Contact])
	}
	if got, want := names(), []string{"EMAIL: shared@example.com", uids[0], uids[1], "X-SKYPE: ann"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after a.vcf's newer version (b.vcf still gives two)\n got %q\nwant %q", got, want)
	}
	if _, err := s.Forget(context.Background(), b, false); err != nil {
		t.Fatal(err)
	}
	if got := names(); !reflect.DeepEqual(got, uids[:1]) {
		t.Errorf("after forgetting b.vcf: %q, want only a.vcf's UID", got)
	}
}
