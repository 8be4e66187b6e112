package bridge

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/emersion/go-message/charset"

	"crmbridge/crm"
	"crmbridge/crmstore"
	"crmbridge/fixtures"
	"crmbridge/pst"
)

func newStore(t *testing.T) *crmstore.Store {
	t.Helper()
	s, err := crmstore.Open(context.Background(), filepath.Join(t.TempDir(), "crm.db"), crmstore.Options{Create: true, Write: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// problems collects what Import reports.
type problems struct {
	NopReporter
	errs, warns []error
}

func (p *problems) Problem(err error) { p.errs = append(p.errs, err) }
func (p *problems) Warning(err error) { p.warns = append(p.warns, err) }

func importPaths(t *testing.T, s *crmstore.Store, opts ImportOptions, paths ...string) (*Summary, *problems) {
	t.Helper()
	p := &problems{}
	opts.Reporter = p
	sum, err := Import(context.Background(), s, paths, opts)
	if err != nil {
		t.Fatalf("import %v: %v", paths, err)
	}
	return sum, p
}

func status(t *testing.T, s *crmstore.Store) *crmstore.Status {
	t.Helper()
	st, err := s.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		head string
		want Format
	}{
		{"!BDN\x00\x00", FormatPST},
		{"BEGIN:VCARD\r\nVERSION:2.1\r\n", FormatVCF},
		{"\xef\xbb\xbfbegin:vcard\n", FormatVCF},
		{"\r\n\r\nBEGIN:VCALENDAR\r\n", FormatICS},
		{"BEGIN:VFREEBUSY\r\nUID:x\r\n", FormatICS},
		{"home.begin:vcard\nversion:3.0\n", FormatVCF},
		{"VERSION:3.0\nFN:Frank\nN:Frank;;;;\n", FormatVCF},
		{"From MAILER-DAEMON Fri Jul  8 12:08:34 2011\nFrom: a@b\n", FormatMbox},
		{"Return-Path: <a@b>\nReceived: from x\n\tby y\nSubject: hi\n\nbody", FormatEML},
		{"Subject: only one header\n\nbody", FormatEML},
		{"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n", FormatEML},
		{"  Subject: indented first field\nFrom: a@example.com\n\nbody", FormatEML},
		{"\t\n   \nFrom: a@example.com\n\nbody", FormatEML},
		{"\xef\xbb\xbfFrom: a@example.com\nSubject: x\n\nbody", FormatEML},
		{"\xef\xbb\xbfBEGIN:VCALENDAR\r\n", FormatICS},
		{"\xef\xbb\xbfFrom 1844347792267117879@xxx\nX-GM-THRID: 1\n", FormatMbox},
		{"\n\nFrom a@example.com Mon Jan  1 10:00:00 2024\nSubject: x\n", FormatMbox},
		{"  just text\n  not mail\n", FormatUnknown},
		{"just text\nnot mail\n", FormatUnknown},
		{"\x89PNG\r\n\x1a\n", FormatUnknown},
		{"", FormatUnknown},
	} {
		if got := Detect([]byte(tc.head)); got != tc.want {
			t.Errorf("Detect(%q) = %q, want %q", tc.head, got, tc.want)
		}
	}
}

// A .msg is detected by content, whatever its name: a compound file with
// __properties_version1.0 at its root; another compound file (a Word
// document) is not one, unless it is named .msg.
func TestDetectMSG(t *testing.T) {
	dir := t.TempDir()
	m := fixtures.WriteMSG(&fixtures.MSGMessage{Props: []fixtures.MSGProp{{ID: 0x001A, Type: 0x001F, Value: "IPM.Note"}}})
	doc := fixtures.WriteCFB([]*fixtures.CFBEntry{{Name: "WordDocument", Data: []byte("x")}})
	for _, tc := range []struct {
		name           string
		data           []byte
		want, wantHead Format
	}{
		{"mail.msg", m, FormatMSG, FormatMSG},
		{"mail.eml", m, FormatMSG, FormatMSG},
		{"noext", m, FormatMSG, FormatMSG},
		{"doc", doc, FormatUnknown, FormatUnknown},
		// Named .msg: the .msg reader says what is wrong with it.
		{"doc.msg", doc, FormatMSG, FormatUnknown},
	} {
		path := filepath.Join(dir, tc.name)
		if err := os.WriteFile(path, tc.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := DetectFile(path); err != nil || got != tc.want {
			t.Errorf("DetectFile(%s) = %q, %v; want %q", tc.name, got, err, tc.want)
		}
		if got := Detect(tc.data); got != tc.wantHead {
			t.Errorf("Detect(%s) = %q, want %q", tc.name, got, tc.wantHead)
		}
	}
}

// Every corpus folder imports without a panic or store failure, and a
// re-import, forced to re-read every file, changes nothing.
func TestImportCorpusIdempotent(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	for _, sub := range []string{"vcf", "ics", "eml", "mbox", "pst", "msg"} {
		t.Run(sub, func(t *testing.T) {
			dir := fixtures.CorpusDir(t, sub)
			s := newStore(t)
			sum, p := importPaths(t, s, ImportOptions{}, dir)
			if sum.Files == 0 {
				t.Fatalf("no file read in %s", dir)
			}
			for _, err := range p.errs {
				// Every problem names its file.
				if !strings.Contains(err.Error(), ".") {
					t.Errorf("problem without a file name: %v", err)
				}
			}
			before := status(t, s)
			sum2, _ := importPaths(t, s, ImportOptions{Force: true}, dir)
			after := status(t, s)
			if after.JournalSeq != before.JournalSeq || after.Outbox.Pending != before.Outbox.Pending {
				t.Errorf("re-import changed the store: journal %d→%d, outbox %d→%d (%s)",
					before.JournalSeq, after.JournalSeq, before.Outbox.Pending, after.Outbox.Pending, sum2)
			}
			for e, c := range sum2.Entities {
				if c.Created+c.Updated > 0 {
					t.Errorf("re-import: %s %+v", e, *c)
				}
			}
		})
	}
}

// The same message imported from a PST and from the EML that readpst -e
// writes of it is one email activity with two provenances.
func TestSameMailFromPSTAndEML(t *testing.T) {
	readpst, err := exec.LookPath("readpst")
	if err != nil {
		t.Skip("readpst not installed (Debian pst-utils)")
	}
	src := filepath.Join(fixtures.GoPSTData(t), "support.pst")
	out := t.TempDir()
	if b, err := exec.Command(readpst, "-j", "1", "-e", "-q", "-o", out, src).CombinedOutput(); err != nil {
		t.Fatalf("readpst: %v\n%s", err, b)
	}
	s := newStore(t)
	importPaths(t, s, ImportOptions{}, src)
	st := status(t, s)
	emails := st.Records[crm.Email]
	sum, p := importPaths(t, s, ImportOptions{}, out)
	for _, err := range p.errs {
		t.Errorf("EML import: %v", err)
	}
	if c := sum.Entities[crm.Email]; c == nil || c.Created != 0 {
		t.Fatalf("EMLs of the PST created records: %+v", c)
	}
	st2 := status(t, s)
	if st2.Records[crm.Email] != emails {
		t.Fatalf("%d emails after importing the EMLs, %d before", st2.Records[crm.Email], emails)
	}
	// Every EML readpst wrote is a second provenance of a PST record.
	// (readpst -e itself sometimes writes one file fewer for this PST, so
	// count what it wrote rather than what the PST holds.)
	var files int
	filepath.WalkDir(out, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files++
		}
		return nil
	})
	if files == 0 || st2.Sources["eml"] != files || files > st.Sources["pst"] {
		t.Errorf("%d eml provenances for %d EML files (%d pst items)", st2.Sources["eml"], files, st.Sources["pst"])
	}
	if st2.Conflicts != 0 {
		t.Errorf("%d open conflicts", st2.Conflicts)
	}
}

// A contact from a VCF with the same primary address as a PST contact is
// the same contact, merged field by field.
func TestContactAcrossSources(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.vcf"), []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u-1\r\nN:Smith;Jeff;;;\r\nFN:Jeff Smith\r\nEMAIL:jeff@example.com\r\nORG:Contoso\r\nEND:VCARD\r\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.vcf"), []byte("BEGIN:VCARD\r\nVERSION:2.1\r\nN:Smith;Jeff\r\nEMAIL;INTERNET:JEFF@example.com\r\nTEL;CELL:+1 555 0100\r\nEND:VCARD\r\n"), 0o644)
	s := newStore(t)
	sum, p := importPaths(t, s, ImportOptions{}, dir)
	if len(p.errs) > 0 {
		t.Fatal(p.errs)
	}
	if c := sum.Entities[crm.Contact]; c.Created != 1 {
		t.Fatalf("contacts: %+v", *c)
	}
	ids, _ := s.IDs(context.Background(), []crm.Entity{crm.Contact})
	v, _ := s.Get(context.Background(), ids[0])
	if v.Fields["mobilephone"] != "+1 555 0100" || v.Fields["lastname"] != "Smith" || v.Fields["parentcustomerid"] == "" || len(v.Sources) != 2 {
		t.Fatalf("merged contact: %+v sources %v", v.Fields, v.Sources)
	}
}

// Every item of every corpus PST becomes a record (or joins one with the
// same identity), by kind.
func TestPSTItemsAllStored(t *testing.T) {
	files := fixtures.CorpusFiles(t, "pst")
	files = append(files, filepath.Join(fixtures.GoPSTData(t), "32-bit.pst"), filepath.Join(fixtures.GoPSTData(t), "support.pst"))
	ents := map[pst.Kind]crm.Entity{pst.KindEmail: crm.Email, pst.KindContact: crm.Contact,
		pst.KindTask: crm.Task, pst.KindAppointment: crm.Appointment, pst.KindDistList: crm.List}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := pst.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			items := map[crm.Entity]int{}
			for it, err := range f.Items(context.Background()) {
				if err == nil {
					if e, ok := ents[it.Kind]; ok {
						items[e]++
					}
				}
			}
			f.Close()
			s := newStore(t)
			sum, _ := importPaths(t, s, ImportOptions{}, path)
			for e, n := range items {
				c := sum.Entities[e]
				if c == nil || c.Created+c.Updated+c.Unchanged != n || c.NotImported != 0 {
					t.Errorf("%s: %d items, outcomes %+v", e, n, c)
				}
			}
		})
	}
}

// cancelAfter is a Reporter that cancels the import once n items are done.
type cancelAfter struct {
	NopReporter
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Progress(items int) {
	if items >= c.n {
		c.cancel()
	}
}

// An interrupted import commits what it applied and the next run
// finishes it. The import is cancelled from the reporter after 50 items,
// not by a timer, so the test does not depend on the machine's speed.
func TestImportCancelled(t *testing.T) {
	src := filepath.Join(fixtures.GoPSTData(t), "enron.pst")
	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := Import(ctx, s, []string{src}, ImportOptions{BatchSize: 20, Reporter: &cancelAfter{n: 50, cancel: cancel}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("import cancelled after 50 items: %v", err)
	}
	mid := status(t, s)
	if n := mid.Records[crm.Email]; n < 40 || n > 50 {
		t.Errorf("%d emails committed before the cancel, want the 2 batches of 20 done before item 50 (and at most 50)", n)
	}
	importPaths(t, s, ImportOptions{}, src)
	end := status(t, s)
	if end.Records[crm.Email] < mid.Records[crm.Email] || end.Files != 1 {
		t.Fatalf("after resume: %+v (interrupted at %+v)", end.Records, mid.Records)
	}
	ref := newStore(t)
	importPaths(t, ref, ImportOptions{}, src)
	if want := status(t, ref); want.Records[crm.Email] != end.Records[crm.Email] || want.Sources["pst"] != end.Sources["pst"] {
		t.Fatalf("resumed %d emails / %d sources, uninterrupted %d / %d", end.Records[crm.Email], end.Sources["pst"], want.Records[crm.Email], want.Sources["pst"])
	}
}
