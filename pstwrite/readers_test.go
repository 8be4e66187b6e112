package pstwrite

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"crmbridge/pst"

	gopst "github.com/mooijtech/go-pst/v6/pkg"
)

// kindCounts returns "folder kind" -> count.
func kindCounts(items []fxItem) map[string]int {
	c := map[string]int{}
	for _, it := range items {
		c[it.folder+" "+it.kind]++
	}
	return c
}

func diffCounts(t *testing.T, reader string, got, want map[string]int) {
	t.Helper()
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] != want[k] {
			t.Errorf("%s: %s: %d items, want %d", reader, k, got[k], want[k])
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok && n != 0 {
			t.Errorf("%s: %s: %d unexpected items", reader, k, n)
		}
	}
}

// TestOwnReader reads the fixture back with crmbridge's pst package and
// compares every item's fields with what was written.
func TestOwnReader(t *testing.T) {
	items := fixture(250, 20, true) // more rows than one row-matrix block holds
	path := writeFixture(t, t.TempDir(), items)
	f, err := pst.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bySubject := map[string]fxItem{}
	for _, it := range items {
		bySubject[it.subject] = it
	}
	got := map[string]int{}
	for it, err := range f.Items(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		got[it.Folder+" "+it.Kind.String()]++
		want, ok := bySubject[it.Subject]
		if !ok {
			t.Errorf("unexpected item %q in %s", it.Subject, it.Folder)
			continue
		}
		if it.Folder != want.folder {
			t.Errorf("%q: folder %q, want %q", it.Subject, it.Folder, want.folder)
		}
		switch want.kind {
		case "email":
			e := it.Email
			if it.Body != want.body || e.SenderAddress != want.sender {
				t.Errorf("%q: body %d bytes, sender %q; want %d, %q", it.Subject, len(it.Body), e.SenderAddress, len(want.body), want.sender)
			}
			var to []string
			for _, r := range e.Recipients {
				to = append(to, r.Address)
			}
			if !slices.Equal(to, want.to) {
				t.Errorf("%q: recipients %v, want %v", it.Subject, to, want.to)
			}
			if e.Outgoing != (want.folder == "Sent Items") {
				t.Errorf("%q: outgoing %v", it.Subject, e.Outgoing)
			}
			att := map[string]int{}
			for _, a := range it.Attachments {
				rc, err := a.Open()
				if err != nil {
					t.Fatal(err)
				}
				n, err := io.Copy(io.Discard, rc)
				rc.Close()
				if err != nil {
					t.Fatal(err)
				}
				att[a.Name] = int(n)
			}
			if len(att) > 0 || len(want.attach) > 0 {
				if !maps.Equal(att, want.attach) {
					t.Errorf("%q: attachments %v, want %v", it.Subject, att, want.attach)
				}
			}
		case "contact":
			c := it.Contact
			if c.GivenName != want.given || c.Surname != want.surname || c.Emails[0].Address != want.email1 {
				t.Errorf("%q: contact %q %q %q", it.Subject, c.GivenName, c.Surname, c.Emails[0].Address)
			}
		}
	}
	diffCounts(t, "crmbridge/pst", got, kindCounts(items))
}

// TestGoPST counts the messages go-pst v6 finds in each folder.
func TestGoPST(t *testing.T) {
	items := fixture(250, 80, false) // more rows than one row-matrix block holds
	path := writeFixture(t, t.TempDir(), items)
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	p, err := gopst.New(fh)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	err = p.WalkFolders(func(fo *gopst.Folder) error {
		if fo.MessageCount == 0 {
			return nil
		}
		it, err := fo.GetMessageIterator()
		if err != nil {
			return fmt.Errorf("%s: %w", fo.Name, err)
		}
		for it.Next() {
			got[fo.Name]++
		}
		return it.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for _, it := range items {
		want[filepath.Base(it.folder)]++
	}
	diffCounts(t, "go-pst", got, want)
}

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed", name)
	}
	return p
}

// TestReadpst runs readpst -S: emails, contacts and appointments become
// one numbered file each; readpst has no output for tasks and
// distribution lists and reports them as skipped in its summary line.
func TestReadpst(t *testing.T) {
	readpst := needTool(t, "readpst")
	items := fixture(250, 80, false) // more rows than one row-matrix block holds
	path := writeFixture(t, t.TempDir(), items)
	out := t.TempDir()
	cmd := exec.Command(readpst, "-j", "1", "-S", "-o", out, path)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("readpst: %v\n%s", err, b)
	}
	got := map[string]int{}
	item := regexp.MustCompile(`^[0-9]+$`)
	filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && item.MatchString(d.Name()) {
			rel, _ := filepath.Rel(filepath.Join(out, "Fixture"), filepath.Dir(p))
			got[rel]++
		}
		return nil
	})
	skipped := map[string]int{}
	for _, m := range regexp.MustCompile(`"([^"]+)" - \d+ items done, (\d+) items skipped`).FindAllStringSubmatch(string(b), -1) {
		var n int
		fmt.Sscan(m[2], &n)
		skipped[m[1]] += n
	}
	want, wantSkipped := map[string]int{}, map[string]int{}
	for _, it := range items {
		switch it.kind {
		case "task", "distlist":
			wantSkipped[filepath.Base(it.folder)]++
		default:
			want[it.folder]++
		}
	}
	diffCounts(t, "readpst files", got, want)
	diffCounts(t, "readpst skipped", skipped, wantSkipped)
}

// TestPffexport runs pffexport and compares the items per folder and kind
// (its directory names) and, for every item, the fields of its text dump.
func TestPffexport(t *testing.T) {
	pffexport := needTool(t, "pffexport")
	items := fixture(250, 80, false) // more rows than one row-matrix block holds
	path := writeFixture(t, t.TempDir(), items)
	target := filepath.Join(t.TempDir(), "x")
	if b, err := exec.Command(pffexport, "-q", "-t", target, path).CombinedOutput(); err != nil {
		t.Fatalf("pffexport: %v\n%s", err, b)
	}
	root := filepath.Join(target+".export", "Top of Personal Folders")
	kinds := map[string]string{"Message": "email", "Contact": "contact", "Appointment": "appointment", "Task": "task", "DistributionList": "distlist"}
	dirRE := regexp.MustCompile(`^([A-Za-z]+)[0-9]{5}$`)
	got := map[string]int{}
	dumps := map[string]string{} // subject -> text of the item's .txt files
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		m := dirRE.FindStringSubmatch(d.Name())
		if m == nil || kinds[m[1]] == "" {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		got[rel+" "+kinds[m[1]]]++
		var text strings.Builder
		for _, name := range []string{"OutlookHeaders.txt", "Contact.txt", "Recipients.txt", "Appointment.txt", "Task.txt", "DistributionList.txt"} {
			b, _ := os.ReadFile(filepath.Join(p, name))
			text.Write(b)
		}
		if m := regexp.MustCompile(`(?m)^Subject:\s*(.*)$`).FindStringSubmatch(text.String()); m != nil {
			dumps[m[1]] = text.String()
		}
		if att, err := os.ReadDir(filepath.Join(p, "Attachments")); err == nil {
			for _, a := range att {
				info, _ := a.Info()
				text.WriteString(fmt.Sprintf("\nAttachment: %s %d", a.Name(), info.Size()))
			}
			if m := regexp.MustCompile(`(?m)^Subject:\s*(.*)$`).FindStringSubmatch(text.String()); m != nil {
				dumps[m[1]] = text.String()
			}
		}
		return filepath.SkipDir
	})
	diffCounts(t, "pffexport", got, kindCounts(items))
	field := func(text, name string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(name)+`:\s*(.*)$`).FindAllStringSubmatch(text, -1) {
			out = append(out, m[1])
		}
		return out
	}
	for _, it := range items {
		text, ok := dumps[it.subject]
		if !ok {
			t.Errorf("pffexport: no dump for %q", it.subject)
			continue
		}
		switch it.kind {
		case "email":
			if got := field(text, "Sender email address"); !slices.Equal(got, []string{it.sender}) {
				t.Errorf("pffexport: %q: sender %v, want %s", it.subject, got, it.sender)
			}
			if got := field(text, "Email address"); !slices.Equal(got, it.to) {
				t.Errorf("pffexport: %q: recipients %v, want %v", it.subject, got, it.to)
			}
			for name, size := range it.attach {
				if !strings.Contains(text, fmt.Sprintf("Attachment: 1_%s %d", name, size)) {
					t.Errorf("pffexport: %q: attachment %s of %d bytes missing", it.subject, name, size)
				}
			}
		case "contact":
			for name, want := range map[string]string{"Given name": it.given, "Surname": it.surname, "Email address 1": it.email1} {
				if got := field(text, name); !slices.Equal(got, []string{want}) {
					t.Errorf("pffexport: %q: %s %v, want %q", it.subject, name, got, want)
				}
			}
		}
	}
}

const pypffScript = `
import sys, pypff
f = pypff.file()
f.open(sys.argv[1])
def cls(m):
    for e in m.get_record_set(0).entries:
        if e.entry_type == 0x001A:
            return e.data_as_string
def walk(fo, path):
    for i in range(fo.number_of_sub_messages):
        m = fo.get_sub_message(i)
        print("%s\t%s\t%s" % (path, cls(m), m.subject))
    for i in range(fo.number_of_sub_folders):
        s = fo.get_sub_folder(i)
        walk(s, (path + "/" if path else "") + s.name)
walk(f.root_folder, "")
`

// TestPypff walks the fixture with Python's pypff (libpff).
func TestPypff(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import pypff").Run(); err != nil {
		t.Skip("python3-pypff not installed")
	}
	items := fixture(250, 80, false) // more rows than one row-matrix block holds
	path := writeFixture(t, t.TempDir(), items)
	b, err := exec.Command(py, "-c", pypffScript, path).CombinedOutput()
	if err != nil {
		t.Fatalf("pypff: %v\n%s", err, b)
	}
	classKind := map[string]string{"IPM.Note": "email", "IPM.Contact": "contact", "IPM.Appointment": "appointment", "IPM.Task": "task", "IPM.DistList": "distlist"}
	got := map[string]int{}
	subjects := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			t.Fatalf("pypff: %q", line)
		}
		got[strings.TrimPrefix(f[0], "Top of Personal Folders/")+" "+classKind[f[1]]]++
		subjects[f[2]] = true
	}
	diffCounts(t, "pypff", got, kindCounts(items))
	for _, it := range items {
		if !subjects[it.subject] {
			t.Errorf("pypff: %q missing", it.subject)
		}
	}
}
