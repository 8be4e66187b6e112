package pst

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pffFields parses a pffexport text file ("Key:\t\tvalue" lines) into the
// first value of each key.
func pffFields(_ testing.TB, path string) map[string]string {
	fh, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer fh.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.ContainsAny(k, "\t") {
			continue
		}
		if _, dup := out[k]; !dup {
			out[k] = strings.TrimLeft(v, "\t ")
		}
	}
	return out
}

// pffRecipients parses pffexport's Recipients.txt: blocks separated by
// blank lines.
func pffRecipients(path string) []map[string]string {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []map[string]string
	for _, block := range strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n\n") {
		m := map[string]string{}
		for _, line := range strings.Split(block, "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				m[k] = strings.TrimLeft(v, "\t ")
			}
		}
		if len(m) > 0 {
			out = append(out, m)
		}
	}
	return out
}

// pffTime parses pffexport's "Dec 25, 2025 05:00:00.000000000 UTC".
func pffTime(s string) (time.Time, bool) {
	t, err := time.Parse("Jan 02, 2006 15:04:05.000000000 MST", s)
	return t, err == nil
}

// pffCodepage is the -c option for ANSI files whose strings are not
// Windows-1252 (pffexport cannot tell by itself).
var pffCodepage = map[string]string{
	"HiraokaHyperTools__pst-extractor__src___tests___testdata_contacts97-2002": "windows-932",
}

// TestCrossCheckPffexport compares field values of every item of every
// corpus PST with pffexport's text export: subjects (prefix stripped),
// contacts' names and e-mail addresses, appointments' start, end and
// location, tasks' due date, status and completion, recipients (name and
// type) and attachment contents (SHA-256).
func TestCrossCheckPffexport(t *testing.T) {
	files := corpusPSTs(t)
	for _, name := range sortedKeys(files) {
		path := files[name]
		t.Run(name, func(t *testing.T) {
			if name == "enron" && testing.Short() {
				t.Skip("enron.pst in -short mode")
			}
			root := pffexportCP(t, path, pffCodepage[name])
			byFolder := map[string][]pffItem{}
			for _, p := range pffItems(t, root) {
				m := pffMessageFields(filepath.Join(root, p.dir))
				p.created, _ = pffTime(m["Creation time"])
				p.modified, _ = pffTime(m["Modification time"])
				p.subject = m["Subject"]
				byFolder[p.folder] = append(byFolder[p.folder], p)
			}
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var checked, unmatched, subjects, recips, atts, fields, rtfs int
			for it, err := range f.Items(t.Context()) {
				if err != nil {
					t.Error(err)
					continue
				}
				p, ok := matchPff(root, byFolder, it)
				if !ok {
					unmatched++
					continue
				}
				checked++
				dir := filepath.Join(root, p.dir)
				n := crossCheckItem(t, it, dir, p.kind)
				rtfs += crossCheckRTF(t, f, it, dir)
				subjects += n[0]
				recips += n[1]
				atts += n[2]
				fields += n[3]
			}
			t.Logf("checked %d items (%d unmatched): %d subjects, %d recipients, %d attachments, %d type-specific fields, %d RTF bodies", checked, unmatched, subjects, recips, atts, fields, rtfs)
			if checked == 0 && name != "aspose-email__Aspose.Email-for-.NET__Examples_Data_Outlook_Chunks_Test_part1" {
				t.Fatal("no item matched pffexport's export")
			}
		})
	}
}

func itemNumber(dir string) int {
	base := filepath.Base(dir)
	n, _ := strconv.Atoi(base[len(base)-5:])
	return n
}

// matchPff finds pffexport's directory for an item: a folder path that
// ends with ours (pffexport keeps the IPM subtree's name), and the same
// creation and modification times (pffexport numbers items in its own
// order, which is not always the contents table's), preferring the same
// index.
func matchPff(root string, byFolder map[string][]pffItem, it *Item) (pffItem, bool) {
	var found []pffItem
	for folder, items := range byFolder {
		if !(folder == it.Folder || strings.HasSuffix(folder, "/"+it.Folder) || (it.Folder == "" && !strings.Contains(folder, "/"))) {
			continue
		}
		for _, p := range items {
			if p.created.IsZero() != it.Created.IsZero() || p.modified.IsZero() != it.Modified.IsZero() ||
				!p.created.Equal(it.Created) || !p.modified.Equal(it.Modified) {
				continue
			}
			found = append(found, p)
		}
	}
	if len(found) > 1 {
		// Items imported together share their times: narrow by subject.
		var same []pffItem
		for _, p := range found {
			if p.subject == it.Subject {
				same = append(same, p)
			}
		}
		found = same
	}
	if len(found) == 1 {
		return found[0], true
	}
	for _, p := range found {
		if itemNumber(p.dir) == it.Index {
			return p, true
		}
	}
	return pffItem{}, false
}

// pffMessageFields returns the "Message:" section of an item's text file.
func pffMessageFields(dir string) map[string]string {
	for _, name := range []string{"OutlookHeaders.txt", "Contact.txt", "Appointment.txt", "Task.txt", "Note.txt", "DistributionList.txt"} {
		if m := pffFields(nil, filepath.Join(dir, name)); m != nil {
			return m
		}
	}
	return nil
}

// crossCheckItem compares one item with its pffexport directory and returns
// how many subjects, recipients, attachments and other fields it compared.
func crossCheckItem(t *testing.T, it *Item, dir, pffKind string) (n [4]int) {
	t.Helper()
	where := it.Folder + ": item " + strconv.Itoa(it.Index)
	msg := pffMessageFields(dir)
	if want, ok := msg["Subject"]; ok {
		if it.Subject != want {
			t.Errorf("%s: subject %q, pffexport %q", where, it.Subject, want)
		}
		n[0]++
	}
	if kindOfPff(pffKind) != it.Kind.String() && !(pffKind == "Message" && it.Kind == KindNote) {
		t.Errorf("%s: kind %v, pffexport %s", where, it.Kind, pffKind)
	}

	// Recipients: same number, order, display names and types.
	if it.Email != nil {
		want := pffRecipients(filepath.Join(dir, "Recipients.txt"))
		if len(want) != len(it.Email.Recipients) {
			t.Errorf("%s: %d recipients, pffexport %d", where, len(it.Email.Recipients), len(want))
		} else {
			for i, w := range want {
				r := it.Email.Recipients[i]
				if r.Name != w["Display name"] {
					t.Errorf("%s: recipient %d name %q, pffexport %q", where, i, r.Name, w["Display name"])
				}
				typ := map[string]int{"To": 1, "CC": 2, "BCC": 3}[w["Recipient type"]]
				if r.Type != typ {
					t.Errorf("%s: recipient %d type %d, pffexport %q", where, i, r.Type, w["Recipient type"])
				}
				if strings.EqualFold(w["Address type"], "SMTP") && !strings.EqualFold(r.Address, w["Email address"]) {
					t.Errorf("%s: recipient %d address %q, pffexport %q", where, i, r.Address, w["Email address"])
				}
				n[1]++
			}
		}
	}

	// Attachments with content: pffexport writes them as Attachments/N_name.
	if ents, err := os.ReadDir(filepath.Join(dir, "Attachments")); err == nil {
		files := map[int]string{}
		for _, e := range ents {
			if i, rest, ok := strings.Cut(e.Name(), "_"); ok && !e.IsDir() {
				if k, err := strconv.Atoi(i); err == nil {
					files[k] = filepath.Join(dir, "Attachments", e.Name())
					_ = rest
				}
			}
		}
		for i, a := range it.Attachments {
			wantFile, ok := files[i+1]
			if !ok || a.Open == nil {
				continue
			}
			want, _ := os.ReadFile(wantFile)
			rc, err := a.Open()
			if err != nil {
				t.Errorf("%s: attachment %d: %v", where, i+1, err)
				continue
			}
			h := sha256.New()
			size, err := io.Copy(h, rc)
			rc.Close()
			if err != nil {
				t.Errorf("%s: attachment %d: %v", where, i+1, err)
			}
			if sha256.Sum256(want) != [32]byte(h.Sum(nil)) || size != a.Size {
				t.Errorf("%s: attachment %d (%s): %d bytes, sha256 differs from pffexport's %d-byte %s", where, i+1, a.Name, size, len(want), filepath.Base(wantFile))
			}
			n[2]++
		}
	}

	switch {
	case it.Contact != nil:
		c := pffFields(t, filepath.Join(dir, "Contact.txt"))
		for i := range 3 {
			key := "Email address " + strconv.Itoa(i+1)
			if got := it.Contact.Emails[i].Address; got != c[key] {
				t.Errorf("%s: %s = %q, pffexport %q", where, key, got, c[key])
			}
			n[3]++
		}
		for key, got := range map[string]string{"Given name": it.Contact.GivenName, "Surname": it.Contact.Surname, "Company name": it.Contact.Company} {
			if got != c[key] {
				t.Errorf("%s: %s = %q, pffexport %q", where, key, got, c[key])
			}
			n[3]++
		}
	case it.Appointment != nil && pffKind == "Appointment":
		a := pffFields(t, filepath.Join(dir, "Appointment.txt"))
		for key, got := range map[string]time.Time{"Start time": it.Appointment.Start, "End time": it.Appointment.End} {
			want, ok := pffTime(a[key])
			if !ok && got.IsZero() {
				continue
			}
			if !want.Equal(got) {
				t.Errorf("%s: %s = %v, pffexport %q", where, key, got, a[key])
			}
			n[3]++
		}
		if it.Appointment.Location != a["Location"] {
			t.Errorf("%s: location %q, pffexport %q", where, it.Appointment.Location, a["Location"])
		}
		n[3]++
	case it.Task != nil:
		k := pffFields(t, filepath.Join(dir, "Task.txt"))
		if want, ok := pffTime(k["Due date"]); ok || !it.Task.Due.IsZero() {
			if !want.Equal(it.Task.Due) {
				t.Errorf("%s: due %v, pffexport %q", where, it.Task.Due, k["Due date"])
			}
			n[3]++
		}
		if s, ok := k["Status"]; ok {
			want, _ := strconv.ParseInt(strings.TrimPrefix(s, "0x"), 16, 32)
			if int(want) != it.Task.Status {
				t.Errorf("%s: status %d, pffexport %q", where, it.Task.Status, s)
			}
			n[3]++
		}
		if s, ok := k["Percentage complete"]; ok {
			want, _ := strconv.ParseFloat(s, 64)
			if want != it.Task.PercentComplete {
				t.Errorf("%s: percent %v, pffexport %q", where, it.Task.PercentComplete, s)
			}
			n[3]++
		}
		if s, ok := k["Is complete"]; ok {
			if (s == "yes") != it.Task.Complete {
				t.Errorf("%s: complete %v, pffexport %q", where, it.Task.Complete, s)
			}
			n[3]++
		}
	}
	return n
}

// crossCheckRTF compares our decompression of PidTagRtfCompressed with
// pffexport's Message.rtf, byte for byte, and returns 1 when it compared.
func crossCheckRTF(t *testing.T, f *File, it *Item, dir string) int {
	t.Helper()
	want, err := os.ReadFile(filepath.Join(dir, "Message.rtf"))
	if err != nil {
		return 0
	}
	b, err := f.nodeBag(it.NodeID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decompressRTF(b.bytes(tagRtfCompressed))
	if err != nil {
		t.Errorf("%s: item %d: %v", it.Folder, it.Index, err)
		return 0
	}
	if !bytes.Equal(bytes.TrimRight(got, "\x00"), bytes.TrimRight(want, "\x00")) {
		t.Errorf("%s: item %d: decompressed RTF (%d bytes) differs from pffexport's (%d bytes)", it.Folder, it.Index, len(got), len(want))
	}
	return 1
}
