package vcf

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"crmbridge/bridge/internal/textcodec"
	"crmbridge/bridge/item"
	"crmbridge/crm"
	"crmbridge/fixtures"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// result is everything a Reader gave for one file.
type result struct {
	incs []*crm.Incoming
	errs []*item.Error
}

// readAll reads r to the end, failing the test on a panic or on an error
// other than *item.Error.
func readAll(t testing.TB, r io.Reader, name string) result {
	t.Helper()
	var res result
	rd := NewReader(r, name)
	for i := 0; ; i++ {
		if i > 1_000_000 {
			t.Fatalf("%s: reader does not stop", name)
		}
		inc, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return res
		}
		var ie *item.Error
		if errors.As(err, &ie) {
			res.errs = append(res.errs, ie)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		res.incs = append(res.incs, inc)
	}
}

func readString(t testing.TB, s string) result {
	t.Helper()
	return readAll(t, strings.NewReader(s), "t.vcf")
}

// checkInvariants asserts what must hold for every contact read.
func checkInvariants(t testing.TB, name string, res result) {
	t.Helper()
	for _, inc := range res.incs {
		if inc.Record.Entity != crm.Contact || inc.Source.Kind != "vcf" || inc.Source.Key == "" ||
			!strings.HasPrefix(inc.Source.Version, "sha256:") || !strings.HasPrefix(inc.Pos, name+": line ") {
			t.Errorf("%s: bad incoming %+v", name, inc)
		}
		for k, v := range inc.Record.Fields {
			if _, ok := crm.LookupField(crm.Contact, k); !ok {
				t.Errorf("%s: unknown contact field %q", name, k)
			}
			if !isValidUTF8(v) {
				t.Errorf("%s: field %s is not UTF-8: %q", name, k, v)
			}
		}
		for _, a := range inc.Record.Attachments {
			rc, err := a.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			if int64(len(b)) != a.Size || !strings.HasPrefix(a.Name, "photo.") {
				t.Errorf("%s: attachment %s: size %d, read %d", name, a.Name, a.Size, len(b))
			}
		}
	}
	for _, e := range res.errs {
		if !regexp.MustCompile(`^` + regexp.QuoteMeta(name) + `: line [1-9][0-9]*$`).MatchString(e.Pos) {
			t.Errorf("%s: error position %q", name, e.Pos)
		}
	}
}

func isValidUTF8(s string) bool { return strings.ToValidUTF8(s, "\x00") == s }

// vobjectCounts counts the VCARD components Python's vobject reads in
// each file, or "ERR ..." when vobject rejects the file.
func vobjectCounts(t *testing.T, files []string) map[string]string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("/usr/bin/python3 not found: independent vobject check skipped")
	}
	script := `
import sys, json, vobject
out = {}
for p in sys.argv[1:]:
    data = open(p, encoding='utf-8', errors='surrogateescape', newline='').read()
    try:
        out[p] = str(sum(1 for c in vobject.readComponents(data) if c.name.upper() == 'VCARD'))
    except Exception as e:
        out[p] = 'ERR ' + type(e).__name__
print(json.dumps(out))
`
	cmd := exec.Command("/usr/bin/python3", append([]string{"-c", script}, files...)...)
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok && strings.Contains(string(ee.Stderr), "No module named 'vobject'") {
			t.Skip("python3-vobject not installed: independent check skipped")
		}
		t.Fatalf("vobject: %v", err)
	}
	m := map[string]string{}
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// vobjectRejects lists the corpus files that vobject cannot read, why, and
// what we make of them. contacts < 0 means "as many as BEGIN:VCARD lines".
var vobjectRejects = map[string]struct {
	why      string
	contacts int
	errLines []int // lines of the *item.Error values we must report
}{
	// vobject does not join quoted-printable soft line breaks ("=" at the
	// end of a line): valid 2.1, the very thing Outlook writes.
	"CyanogenMod__android_frameworks_opt_vcard__tests_res_raw_v21_japanese_2.vcf":     {"QP soft line break", -1, nil},
	"GNOME__evolution-data-server__tests_libebook_vcard_12.vcf":                       {"QP soft line break", -1, nil},
	"GNOME__evolution-data-server__tests_libebook_vcard_13.vcf":                       {"QP soft line break", -1, nil},
	"KDE__kcontacts__autotests_data_vcard10.vcf":                                      {"QP soft line break", -1, nil},
	"KDE__kcontacts__autotests_data_vcard7.vcf":                                       {"QP soft line break (bare QUOTED-PRINTABLE)", -1, nil},
	"mangstadt__ez-vcard__src_test_resources_ezvcard_io_text_John_Doe_MS_OUTLOOK.vcf": {"QP soft line break", -1, nil},
	"mangstadt__ez-vcard__src_test_resources_ezvcard_io_text_outlook-2003.vcf":        {"QP soft line break", -1, nil},
	// iOS 5 ended lines with CR CR LF; vobject sees an empty line between
	// each and then cannot place the folded base64 lines.
	"CyanogenMod__android_frameworks_opt_vcard__tests_res_raw_v30_ios_613_multiline.vcf": {"CR CR LF line ends", -1, nil},
	"mangstadt__ez-vcard__src_test_resources_ezvcard_io_text_John_Doe_IPHONE.vcf":        {"CR CR LF line ends", -1, nil},
	// vobject refuses a PROFILE property inside a card (a Lotus Notes
	// export); the card itself is fine.
	"mangstadt__ez-vcard__src_test_resources_ezvcard_io_text_John_Doe_LOTUS_NOTES.vcf": {"PROFILE property", -1, nil},
	// Truly malformed: reported with file and line.
	"GNOME__evolution-data-server__tests_libebook_vcard_7.vcf": {"no BEGIN:VCARD", 0, []int{1}},
	"GNOME__evolution-data-server__tests_libebook_vcard_8.vcf": {"no END:VCARD", 0, []int{1}},
	"lucc__khard__test_fixture_broken.abook_unparsable.vcf":    {"not a vCard at all", 0, []int{1}},
}

func TestCorpusMatchesVobject(t *testing.T) {
	files := fixtures.CorpusFiles(t, "vcf")
	counts := vobjectCounts(t, files)
	beginRE := regexp.MustCompile(`(?im)^([a-z0-9-]+\.)?BEGIN:VCARD\s*$`)
	for _, p := range files {
		name := filepath.Base(p)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			res := readAll(t, bytes.NewReader(data), name)
			checkInvariants(t, name, res)
			want := counts[p]
			if rej, ok := vobjectRejects[name]; ok {
				if !strings.HasPrefix(want, "ERR") {
					t.Fatalf("vobject now reads this file (%s); update vobjectRejects", want)
				}
				n := rej.contacts
				if n < 0 {
					n = len(beginRE.FindAll(data, -1))
				}
				if len(res.incs) != n {
					t.Errorf("%s (%s): %d contacts, want %d", name, rej.why, len(res.incs), n)
				}
				if rej.errLines != nil {
					var got []string
					for _, e := range res.errs {
						got = append(got, e.Pos)
					}
					var exp []string
					for _, l := range rej.errLines {
						exp = append(exp, name+": line "+itoa(l))
					}
					if strings.Join(got, "|") != strings.Join(exp, "|") {
						t.Errorf("errors at %v, want %v (%v)", got, exp, res.errs)
					}
				}
				return
			}
			if strings.HasPrefix(want, "ERR") {
				t.Fatalf("vobject rejects %s (%s): add it to vobjectRejects with the reason", name, want)
			}
			if itoa(len(res.incs)) != want {
				t.Errorf("%d contacts, vobject reads %s", len(res.incs), want)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// golden is the JSON view of a file's contacts and errors.
type golden struct {
	Contacts []goldenContact `json:"contacts"`
	Errors   []string        `json:"errors"`
}

type goldenContact struct {
	Pos         string            `json:"pos"`
	Key         string            `json:"key"`
	Keys        []string          `json:"keys,omitempty"`
	ModifiedAt  string            `json:"modifiedAt,omitempty"`
	Fields      map[string]string `json:"fields"`
	Attachments []string          `json:"attachments,omitempty"`
	Extras      []crm.Extra       `json:"extras,omitempty"`
}

func toGolden(t *testing.T, res result) golden {
	g := golden{Errors: []string{}}
	for _, inc := range res.incs {
		c := goldenContact{Pos: inc.Pos, Key: inc.Source.Key, Keys: inc.Keys, Fields: inc.Record.Fields,
			ModifiedAt: item.FormatTime(inc.ModifiedAt), Extras: inc.Record.Extras}
		for _, a := range inc.Record.Attachments {
			rc, _ := a.Open()
			b, _ := io.ReadAll(rc)
			sum := sha256.Sum256(b)
			c.Attachments = append(c.Attachments, a.Name+" "+a.MimeType+" "+itoa(len(b))+" sha256:"+hex.EncodeToString(sum[:8]))
		}
		g.Contacts = append(g.Contacts, c)
	}
	for _, e := range res.errs {
		g.Errors = append(g.Errors, e.Error())
	}
	return g
}

func checkGolden(t *testing.T, goldenPath string, g golden) {
	t.Helper()
	got, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	fixtures.Golden(t, goldenPath, got, *update)
}

// TestGoldenOutlook21 reads a hand-written Outlook-style vCard 2.1 file:
// windows-1252 and UTF-8 quoted-printable values with soft line breaks, bare
// types, a base64 photo on continuation lines, a line without a colon and a
// truncated last card. testdata/outlook21.json was checked by hand.
func TestGoldenOutlook21(t *testing.T) {
	f, err := os.Open("testdata/outlook21.vcf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res := readAll(t, f, "outlook21.vcf")
	checkInvariants(t, "outlook21.vcf", res)
	g := toGolden(t, res)
	checkGolden(t, "testdata/outlook21.json", g)

	// The facts the fixture was written for, asserted directly as well.
	if len(res.incs) != 2 {
		t.Fatalf("%d contacts, want 2", len(res.incs))
	}
	f1 := res.incs[0].Record.Fields
	for k, want := range map[string]string{
		"lastname":         "Müller",
		"firstname":        "Jürgen",
		"middlename":       "Karl Heinz",
		"company":          "Bäcker & Söhne GmbH",
		"description":      "Erste Zeile\nZweite Zeile: 100 € pro Stück, Rabatt 5% und eine lange Fortsetzung, die Outlook mit einem weichen Umbruch trennt.",
		"address1_line1":   "Hauptstraße 1",
		"address1_line2":   "Hinterhaus",
		"address1_country": "Deutschland",
		"emailaddress1":    "Juergen.Mueller@example.de",
		"emailaddress2":    "jm@example.org",
		"telephone3":       "+49 30 5550000",
	} {
		if f1[k] != want {
			t.Errorf("%s = %q, want %q", k, f1[k], want)
		}
	}
	if got := res.incs[1].Record.Fields["lastname"]; got != "Škoda" {
		t.Errorf("card 2 lastname %q", got)
	}
	if len(res.errs) != 2 || res.errs[0].Pos != "outlook21.vcf: line 39" || res.errs[1].Pos != "outlook21.vcf: line 44" {
		t.Errorf("errors: %v", res.errs)
	}
}

// TestGoldenCorpus reads real Outlook 2003 and Android (Shift_JIS) exports.
// The golden files were checked by hand against the source files.
func TestGoldenCorpus(t *testing.T) {
	dir := fixtures.CorpusDir(t, "vcf")
	for _, tc := range []struct{ file, golden string }{
		{"mangstadt__ez-vcard__src_test_resources_ezvcard_io_text_outlook-2003.vcf", "outlook-2003.json"},
		{"CyanogenMod__android_frameworks_opt_vcard__tests_res_raw_v21_japanese_2.vcf", "android-shift_jis.json"},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			f, err := os.Open(filepath.Join(dir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			res := readAll(t, f, tc.file)
			checkInvariants(t, tc.file, res)
			checkGolden(t, filepath.Join("testdata", tc.golden), toGolden(t, res))
		})
	}
}

func TestLineEndings(t *testing.T) {
	for name, in := range map[string]string{
		"LF":        "BEGIN:VCARD\nVERSION:3.0\nFN:A B\nEMAIL:a@b.c\nEND:VCARD\n",
		"CRLF":      "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A B\r\nEMAIL:a@b.c\r\nEND:VCARD\r\n",
		"CR":        "BEGIN:VCARD\rVERSION:3.0\rFN:A B\rEMAIL:a@b.c\rEND:VCARD\r",
		"CRCRLF":    "BEGIN:VCARD\r\r\nVERSION:3.0\r\r\nFN:A\r\r\n  B\r\r\nEMAIL:a@b.c\r\r\nEND:VCARD\r\r\n",
		"mixed":     "BEGIN:VCARD\r\nVERSION:3.0\rFN:A B\nEMAIL:a@b.c\r\nEND:VCARD",
		"folded":    "BEGIN:VCARD\nVERSION:3.0\nFN:A\n  B\nEMA\n IL:a@b.c\nEND:VCARD\n",
		"noFinalLF": "BEGIN:VCARD\nVERSION:3.0\nFN:A B\nEMAIL:a@b.c\nEND:VCARD",
	} {
		t.Run(name, func(t *testing.T) {
			res := readString(t, in)
			if len(res.incs) != 1 || len(res.errs) != 0 {
				t.Fatalf("got %d contacts, errors %v", len(res.incs), res.errs)
			}
			f := res.incs[0].Record.Fields
			if f["fullname"] != "A B" || f["emailaddress1"] != "a@b.c" {
				t.Errorf("fields %v", f)
			}
		})
	}
}

func TestErrorsArePositioned(t *testing.T) {
	in := "junk line\nmore junk\nBEGIN:VCARD\nVERSION:3.0\nFN:One\nno colon here\n;bad:name\nEND:VCARD\n" +
		"END:VCARD\nBEGIN:VCARD\nVERSION:3.0\nFN:Two\nBEGIN:VCARD\nFN:Nested\nEND:VCARD\nEND:VCARD\nBEGIN:VCARD\nFN:Three\n"
	res := readString(t, in)
	var pos []string
	for _, e := range res.errs {
		pos = append(pos, e.Pos+" "+e.Err.Error())
	}
	want := []string{
		"t.vcf: line 1 2 lines outside BEGIN:VCARD/END:VCARD skipped",
		"t.vcf: line 6 cannot parse line \"no colon here\": no ':' between property name and value",
		"t.vcf: line 7 cannot parse line \";bad:name\": invalid property name \"\"",
		"t.vcf: line 9 a line outside BEGIN:VCARD/END:VCARD skipped",
		"t.vcf: line 13 nested vCard skipped",
		"t.vcf: line 17 vCard has no END:VCARD (file truncated?); card skipped",
	}
	if strings.Join(pos, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(pos, "\n"), strings.Join(want, "\n"))
	}
	if len(res.incs) != 2 || res.incs[0].Record.Fields["fullname"] != "One" || res.incs[1].Record.Fields["fullname"] != "Two" ||
		res.incs[1].Pos != "t.vcf: line 10" {
		t.Errorf("contacts: %+v", res.incs)
	}
}

func TestMapping(t *testing.T) {
	const v4 = "BEGIN:VCARD\nVERSION:4.0\nUID:urn:uuid:1234\nFN:Jane Q. Public\nN:Public;Jane;Q.;Dr.;PhD,MD\n" +
		"ORG:Example\\, Inc.;Sales\\;EMEA\nTITLE:Boss\nNICKNAME:JQ,Janie\n" +
		"EMAIL;TYPE=home:home@example.com\nEMAIL;PREF=2:second@example.com\nEMAIL;PREF=1:first@example.com\nEMAIL:fourth@example.com\n" +
		"TEL;VALUE=uri;TYPE=\"work,voice\":tel:+1-555-0100;ext=7\nTEL;TYPE=home:+1-555-0101\nTEL;TYPE=cell:+1-555-0102\n" +
		"TEL;TYPE=\"fax,work\":+1-555-0103\nTEL;TYPE=pager:+1-555-0104\nTEL;TYPE=text:+1-555-0105\nTEL;TYPE=work:+1-555-0106\n" +
		"ADR;TYPE=home:PO 1;Apt 2;1 Main St\\n2nd floor;Springfield;IL;62701;USA\nADR;TYPE=work:;;9 Work Rd;Chicago;IL;60601;USA\n" +
		"ADR:;;Other St;;;;\nADR;TYPE=home:;;Second home;;;;\n" +
		"BDAY:--0415\nANNIVERSARY:20090808T1430-0500\nNOTE:Line 1\\nLine 2\\, with comma\\; and semicolon\nURL:https://example.com\n" +
		"REV:2024-01-02T03:04:05Z\nCATEGORIES:a,b\\,c\nCATEGORIES:a,d\nPHOTO:data:image/png;base64,aGVsbG8=\nEND:VCARD\n"
	res := readString(t, v4)
	if len(res.incs) != 1 || len(res.errs) != 0 {
		t.Fatalf("%d contacts, %v", len(res.incs), res.errs)
	}
	inc := res.incs[0]
	want := map[string]string{
		"fullname": "Jane Q. Public", "lastname": "Public", "firstname": "Jane", "middlename": "Q.",
		"salutation": "Dr.", "suffix": "PhD, MD", "company": "Example, Inc.", "department": "Sales;EMEA",
		"jobtitle": "Boss", "nickname": "JQ, Janie",
		"emailaddress1": "first@example.com", "emailaddress2": "second@example.com", "emailaddress3": "home@example.com",
		"telephone1": "+1-555-0100 x7", "telephone2": "+1-555-0101", "mobilephone": "+1-555-0102", "fax": "+1-555-0103",
		"pager": "+1-555-0104", "telephone3": "+1-555-0105",
		"address2_postofficebox": "PO 1", "address2_line1": "1 Main St", "address2_line2": "2nd floor", "address2_line3": "Apt 2",
		"address2_city": "Springfield", "address2_stateorprovince": "IL", "address2_postalcode": "62701", "address2_country": "USA",
		"address1_line1": "9 Work Rd", "address1_city": "Chicago", "address1_stateorprovince": "IL", "address1_postalcode": "60601",
		"address1_country": "USA", "address3_line1": "Other St",
		"anniversary": "2009-08-08",
		"description": "Line 1\nLine 2, with comma; and semicolon", "websiteurl": "https://example.com",
		"categories": "a,b,c,d",
	}
	for k, v := range want {
		if inc.Record.Fields[k] != v {
			t.Errorf("%s = %q, want %q", k, inc.Record.Fields[k], v)
		}
	}
	for k := range inc.Record.Fields {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected field %s = %q", k, inc.Record.Fields[k])
		}
	}
	// What no column holds is kept: the year-less birthday, the fourth
	// e-mail, a second work number, a second home address, and the UID
	// (not a record id crmbridge minted).
	wantExtras := []crm.Extra{
		{Name: "BDAY", Value: "--0415"},
		{Name: "EMAIL", Value: "fourth@example.com"},
		{Name: "TEL", Value: "+1-555-0106", Params: map[string]string{"TYPE": "work"}},
		{Name: "ADR", Value: ";;Second home;;;;", Params: map[string]string{"TYPE": "home"}},
		{Name: "UID", Value: "urn:uuid:1234"},
	}
	if !reflect.DeepEqual(inc.Record.Extras, wantExtras) {
		t.Errorf("extras %+v, want %+v", inc.Record.Extras, wantExtras)
	}
	if inc.Source.Key != "urn:uuid:1234" || !inc.ModifiedAt.Equal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) ||
		strings.Join(inc.Keys, ",") != "email:first@example.com" {
		t.Errorf("source %+v, modified %v, keys %v", inc.Source, inc.ModifiedAt, inc.Keys)
	}
	if len(inc.Record.Attachments) != 1 || inc.Record.Attachments[0].Name != "photo.png" || inc.Record.Attachments[0].Size != 5 {
		t.Errorf("attachments %+v", inc.Record.Attachments)
	}
}

func TestHomeFaxYieldsToWorkFax(t *testing.T) {
	res := readString(t, "BEGIN:VCARD\nVERSION:2.1\nFN:X\nTEL;HOME;FAX:1\nTEL;WORK;FAX:2\nEND:VCARD\n")
	if f := res.incs[0].Record.Fields; f["fax"] != "2" || f["telephone3"] != "1" {
		t.Errorf("fields %v", f)
	}
}

func TestPhotoForms(t *testing.T) {
	for name, tc := range map[string]struct {
		line, name, mime string
		size             int64
	}{
		"3.0 b":       {"PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQ", "photo.jpg", "image/jpeg", 6},
		"4.0 data":    {"PHOTO:data:image/gif;base64,R0lGODlh", "photo.gif", "image/gif", 6},
		"url skipped": {"PHOTO;VALUE=uri:http://example.com/a.jpg", "", "", 0},
		"sniffed":     {"PHOTO;ENCODING=BASE64:iVBORw0KGgo=", "photo.png", "image/png", 8},
		"mediatype":   {"PHOTO;ENCODING=b;TYPE=image/webp:UklGRg==", "photo.webp", "image/webp", 4},
	} {
		t.Run(name, func(t *testing.T) {
			res := readString(t, "BEGIN:VCARD\nVERSION:3.0\nFN:X\n"+tc.line+"\nEND:VCARD\n")
			if len(res.incs) != 1 {
				t.Fatal(res.errs)
			}
			as := res.incs[0].Record.Attachments
			if tc.name == "" {
				if len(as) != 0 {
					t.Errorf("attachments %+v", as)
				}
				return
			}
			if len(as) != 1 || as[0].Name != tc.name || as[0].MimeType != tc.mime || as[0].Size != tc.size {
				t.Errorf("attachments %+v", as)
			}
		})
	}
}

func TestVersion21Escapes(t *testing.T) {
	// vCard 2.1: a backslash in a text value is literal (Outlook writes
	// paths as they are); in N and ADR "\;" is a semicolon.
	res := readString(t, "BEGIN:VCARD\nVERSION:2.1\nN:Smith\\;Jones;Ann\nFN:Ann\nNOTE:C:\\new\\temp\nEND:VCARD\n")
	f := res.incs[0].Record.Fields
	if f["lastname"] != "Smith;Jones" || f["firstname"] != "Ann" || f["description"] != `C:\new\temp` {
		t.Errorf("fields %v", f)
	}
}

func TestKeysStable(t *testing.T) {
	in := "BEGIN:VCARD\nVERSION:3.0\nFN:No Uid\nEMAIL:x@y.z\nEND:VCARD\n"
	a, b := readString(t, in), readString(t, in)
	if a.incs[0].Source != b.incs[0].Source || !strings.HasPrefix(a.incs[0].Source.Key, "sha:") {
		t.Errorf("%+v vs %+v", a.incs[0].Source, b.incs[0].Source)
	}
	c := readString(t, strings.Replace(in, "FN:No Uid", "FN:No Uid\nNOTE:changed", 1))
	if c.incs[0].Source.Key != a.incs[0].Source.Key || c.incs[0].Source.Version == a.incs[0].Source.Version {
		t.Errorf("a note must change the version, not the key: %+v vs %+v", a.incs[0].Source, c.incs[0].Source)
	}
}

func TestUnitDecoders(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"19800322", "1980-03-22"}, {"1980-03-22", "1980-03-22"}, {"--0322", "1604-03-22"}, {"--03-22", "1604-03-22"},
		{"1953-10-15T23:10:00Z", "1953-10-15"}, {"19531015T231000Z", "1953-10-15"}, {"0000", ""}, {"1980-02-30", ""},
		{"1985-04", ""}, {"---12", ""}, {"circa 1800", ""}, {"00000101", ""},
	} {
		d, ok := parseDate(tc.in)
		if got := item.FormatDate(d); got != tc.want || ok != (tc.want != "") {
			t.Errorf("parseDate(%q) = %q %v, want %q", tc.in, got, ok, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"20120305T131933Z", "2012-03-05T13:19:33Z"}, {"1995-10-31T22:27:10Z", "1995-10-31T22:27:10Z"},
		{"2012-03-05T14:19:33+01:00", "2012-03-05T13:19:33Z"}, {"20090808T1430-0500", "2009-08-08T19:30:00Z"},
		{"19951031", "1995-10-31T00:00:00Z"}, {"garbage", ""},
	} {
		ts, _ := parseTimestamp(tc.in)
		if got := item.FormatTime(ts); got != tc.want {
			t.Errorf("parseTimestamp(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := textcodec.Split(`a\;b;c\\;d`, ';'); strings.Join(got, "|") != `a\;b|c\\|d` {
		t.Errorf("splitEscaped: %q", got)
	}
	if got := textcodec.Unescape(`a\nb\Nc\,d\;e\\f\:g\x`, ""); got != "a\nb\nc,d;e\\f:g\\x" {
		t.Errorf("unescape: %q", got)
	}
}

// TestEndlessSoftBreaksBounded checks that a quoted-printable value whose
// every line ends in a soft break does not grow without bound: the value
// is skipped, the card kept.
func TestEndlessSoftBreaksBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("reads ~20 MB")
	}
	line := strings.Repeat("A", 1000) + "=\n"
	r := io.MultiReader(strings.NewReader("BEGIN:VCARD\nNOTE;ENCODING=QUOTED-PRINTABLE:="+"\n"),
		strings.NewReader(strings.Repeat(line, (maxCard/1000)+2000)), strings.NewReader("x\nFN:y\nEND:VCARD\n"))
	res := readAll(t, r, "t.vcf")
	if len(res.incs) != 1 || len(res.errs) != 1 || res.incs[0].Record.Fields["fullname"] != "y" {
		t.Fatalf("%d contacts, errors %v", len(res.incs), res.errs)
	}
	if !strings.Contains(res.errs[0].Error(), "t.vcf: line 2: value of NOTE longer than") {
		t.Errorf("errors %v", res.errs)
	}
}

// TestLongLineBounded checks that a huge line does not make the reader
// keep it all.
func TestLongLineBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates ~20 MB")
	}
	in := "BEGIN:VCARD\nVERSION:3.0\nFN:Big\nNOTE:" + strings.Repeat("x", maxLine+10) + "\nEND:VCARD\n"
	res := readString(t, in)
	if len(res.incs) != 1 || len(res.errs) != 1 || res.errs[0].Pos != "t.vcf: line 4" {
		t.Fatalf("%d contacts, errors %v", len(res.incs), res.errs)
	}
	if _, ok := res.incs[0].Record.Fields["description"]; ok {
		t.Error("the over-long NOTE was kept")
	}
}

func TestPartialDateReported(t *testing.T) {
	res := readString(t, "BEGIN:VCARD\nVERSION:4.0\nFN:X\nBDAY:1985-04\nBDAY;VALUE=text:circa 1800\nEND:VCARD\n")
	if len(res.incs) != 1 || len(res.errs) != 0 {
		t.Fatalf("%d contacts, errors %v", len(res.incs), res.errs)
	}
	// Neither fits a date column: both are kept as given, as extras.
	want := []crm.Extra{{Name: "BDAY", Value: "1985-04"}, {Name: "BDAY", Value: "circa 1800", Params: map[string]string{"VALUE": "text"}}}
	if got := res.incs[0].Record.Extras; !reflect.DeepEqual(got, want) {
		t.Errorf("extras %+v, want %+v", got, want)
	}
	if _, ok := res.incs[0].Record.Fields["birthdate"]; ok {
		t.Error("a partial date was stored")
	}
}
