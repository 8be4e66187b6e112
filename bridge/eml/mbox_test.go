package eml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"crmbridge/bridge/item"
	"crmbridge/fixtures"
)

// mboxExpect is the number of messages in each corpus mbox and, where it
// differs from what Python's mailbox.mbox counts, why.
var mboxExpect = map[string]struct {
	count  int
	python int // 0: same as count
	why    string
}{
	"UAlbanyArchives__mailbagit__data_sample1.mbox":                                   {count: 2},
	"aspose-email__Aspose.Email-for-.NET__Examples_Data_Thunderbird_ExampleMbox.mbox": {count: 1},
	// 29 "From - " separators with correct Content-Length headers and no
	// blank line before them; no body holds an unquoted From_ line, so
	// Python (which ignores Content-Length) agrees here.
	"jstedfast__MimeKit__UnitTests_TestData_mbox_content-length.mbox.txt.mbox": {count: 29},
	// Two "From -" messages whose bodies hold unquoted "From Russia with
	// love" lines. Python does not see the first separator (the file starts
	// with a byte order mark) and splits at both body lines: 3.
	"jstedfast__MimeKit__UnitTests_TestData_mbox_unmunged.mbox.txt.mbox": {count: 2, python: 3,
		why: "BOM before the first separator; unquoted 'From Russia with love' body lines"},
	"mailpile__Mailpile__mailpile_tests_data_tests.mbx":                                {count: 9},
	"mozilla__releases-comm-central__mailnews_local_test_unit_data_movemailspool.mbox": {count: 3},
	// Thunderbird quotes body From lines with a leading space: nobody splits.
	"mozilla__releases-comm-central__mailnews_test_data_mbox_modern.mbox": {count: 2},
	// Old Thunderbird left a body line "From " unquoted; it is not followed
	// by a header field, so it does not start a message. Python splits: 3.
	"mozilla__releases-comm-central__mailnews_test_data_mbox_unquoted.mbox": {count: 2, python: 3,
		why: "unquoted 'From ' body line"},
}

// TestMboxCorpusAgainstPython reads every corpus mbox and checks the
// number of messages (and their subjects, where the split agrees) against
// Python's mailbox module and the expectations above.
func TestMboxCorpusAgainstPython(t *testing.T) {
	files := fixtures.CorpusFiles(t, "mbox")
	files = append(files, "testdata/content-length.mbox")
	py := runPython(t, "mbox", files)
	for _, f := range files {
		base := filepath.Base(f)
		want, ok := mboxExpect[base]
		if !ok {
			t.Errorf("%s: no expected count: add it to mboxExpect", base)
			continue
		}
		incs, errs := collect(t, NewMboxReader(bytes.NewReader(readFile(t, f)), base))
		for _, e := range errs {
			t.Logf("%v", e)
		}
		if len(incs) != want.count {
			t.Errorf("%s: %d messages, want %d", base, len(incs), want.count)
		}
		pyWant := want.python
		if pyWant == 0 {
			pyWant = want.count
		}
		pm := py[f]
		if pm.Count != pyWant {
			t.Errorf("%s: Python counts %d, the test expects %d (%s)", base, pm.Count, pyWant, want.why)
		}
		if pm.Count == len(incs) {
			for i, inc := range incs {
				if got := squash(inc.Record.Fields["subject"]); got != pm.Subjects[i] {
					t.Errorf("%s: message %d subject %q, Python %q", base, i+1, got, pm.Subjects[i])
				}
			}
		}
		for i, inc := range incs {
			if inc.Source.Kind != "mbox" || inc.Pos != fmt.Sprintf("%s: message %d", base, i+1) {
				t.Errorf("%s: message %d: Kind %q Pos %q", base, i+1, inc.Source.Kind, inc.Pos)
			}
		}
	}
}

func init() {
	// Our own fixture: message 1 has a correct Content-Length and an
	// unquoted envelope-like line followed by a header in its body, which
	// only Content-Length can tell from a separator (Python splits there);
	// message 2 has a wrong Content-Length (read by lines) and mboxrd
	// quoting; message 3 has none.
	mboxExpect["content-length.mbox"] = struct {
		count  int
		python int
		why    string
	}{count: 3, python: 4, why: "Python's mailbox ignores Content-Length"}
}

func TestMboxContentLengthAndQuoting(t *testing.T) {
	incs, errs := collect(t, NewMboxReader(bytes.NewReader(readFile(t, "testdata/content-length.mbox")), "cl.mbox"))
	if len(errs) != 0 || len(incs) != 3 {
		t.Fatalf("%d messages, errors %v", len(incs), errs)
	}
	if d := incs[0].Record.Fields["description"]; !strings.Contains(d, "\nFrom me Mon Jan  1 10:00:00 2024\nSubject: not a message") {
		t.Errorf("message 1 body lost its From line: %q", d)
	}
	d := incs[1].Record.Fields["description"]
	if !strings.Contains(d, "\nFrom here on, mboxrd quoting.\n>From two levels.") {
		t.Errorf("message 2 body not un-quoted as mboxrd: %q", d)
	}
	if strings.HasSuffix(d, "\n\n") {
		t.Errorf("message 2 keeps the blank line before the separator: %q", d)
	}
	if got := incs[2].Record.Fields["description"]; got != "Last body.\n" {
		t.Errorf("message 3 body %q", got)
	}
	if got := incs[1].Record.Fields["receivedon"]; got != "2024-01-01T11:00:00Z" {
		t.Errorf("receivedon from the envelope = %q", got)
	}
}

func TestMboxVariants(t *testing.T) {
	const box = "From a@example.com Mon Jan  1 10:00:00 2024\nSubject: q\n\n>From one\n>>From two\n>Fromage\n From space\n"
	for _, tc := range []struct {
		v    MboxVariant
		want string
	}{
		{MboxRD, "From one\n>From two\n>Fromage\n From space\n"},
		{MboxO, "From one\n>>From two\n>Fromage\n From space\n"},
		{MboxCL2, ">From one\n>>From two\n>Fromage\n From space\n"},
	} {
		r := NewMboxReader(strings.NewReader(box), "v.mbox")
		r.Variant = tc.v
		incs, errs := collect(t, r)
		if len(incs) != 1 || len(errs) != 0 {
			t.Fatalf("variant %d: %d messages, %v", tc.v, len(incs), errs)
		}
		if got := incs[0].Record.Fields["description"]; got != tc.want {
			t.Errorf("variant %d: body %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestMboxSeparators(t *testing.T) {
	for _, tc := range []struct {
		name, box string
		subjects  []string
	}{
		{"crlf", "From a Mon Jan  1 10:00:00 2024\r\nSubject: one\r\n\r\nbody\r\n\r\nFrom b Mon Jan  1 10:00:00 2024\r\nSubject: two\r\n\r\nbody\r\n", []string{"one", "two"}},
		{"no blank line before separator", "From - Mon Jan  1 10:00:00 2024\nSubject: one\n\nbody\nFrom - Mon Jan  1 10:00:00 2024\nSubject: two\n\nx\n", []string{"one", "two"}},
		{"body From line followed by header-like line", "From a Mon Jan  1 10:00:00 2024\nSubject: one\n\nFrom Russia with love\nYear: 1963\n", []string{"one"}},
		{"garbage before first", "junk\n\nFrom a Mon Jan  1 10:00:00 2024\nSubject: one\n\nbody\n", []string{"one"}},
		{"bom", "\xef\xbb\xbfFrom -\nSubject: one\n\nbody\n", []string{"one"}},
		{"empty file", "", nil},
		{"long line", "From a Mon Jan  1 10:00:00 2024\nSubject: one\n\n" + strings.Repeat("x", 200000) + "\nFrom b Mon Jan  1 10:00:00 2024\nSubject: two\n\nbody\n", []string{"one", "two"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			incs, _ := collect(t, NewMboxReader(strings.NewReader(tc.box), "s.mbox"))
			var got []string
			for _, inc := range incs {
				got = append(got, inc.Record.Fields["subject"])
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.subjects) {
				t.Errorf("subjects %q, want %q", got, tc.subjects)
			}
		})
	}
}

func TestMboxOversizedMessage(t *testing.T) {
	big := "From a Mon Jan  1 10:00:00 2024\nSubject: big\n\n" + strings.Repeat("0123456789abcdef\n", 10000) +
		"\nFrom b Mon Jan  1 10:00:00 2024\nSubject: small\n\nbody\n"
	r := NewMboxReader(strings.NewReader(big), "big.mbox")
	r.MaxMessageSize = 64 << 10
	inc, err := r.Next()
	var ie *item.Error
	if inc != nil || !errors.As(err, &ie) || !strings.Contains(err.Error(), "big.mbox: message 1: message larger than") {
		t.Fatalf("first Next = %v, %v; want an *item.Error for message 1", inc, err)
	}
	inc, err = r.Next()
	if err != nil || inc.Record.Fields["subject"] != "small" || inc.Pos != "big.mbox: message 2" {
		t.Fatalf("second Next = %+v, %v", inc, err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("third Next = %v, want io.EOF", err)
	}
}

// TestMboxReadpst converts go-pst's enron.pst to mbox files with readpst
// (libpst) and checks that we count the same messages as Python, with the
// same subjects.
func TestMboxReadpst(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 1,737 messages twice (Go and Python): skipped with -short")
	}
	t.Parallel()
	readpst, err := exec.LookPath("readpst")
	if err != nil {
		t.Skip("readpst (pst-utils) not installed")
	}
	pst := filepath.Join(fixtures.GoPSTData(t), "enron.pst")
	dir := t.TempDir()
	if out, err := exec.Command(readpst, "-j", "1", "-q", "-o", dir, pst).CombinedOutput(); err != nil {
		t.Fatalf("readpst: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.mbox"))
	if len(files) == 0 {
		t.Fatal("readpst wrote no mbox file")
	}
	py := runPython(t, "mbox", files)
	total := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		incs, _ := collect(t, NewMboxReader(bytes.NewReader(b), filepath.Base(f)))
		pm := py[f]
		if len(incs) != pm.Count {
			t.Errorf("%s: %d messages, Python %d", filepath.Base(f), len(incs), pm.Count)
			continue
		}
		for i, inc := range incs {
			if got := squash(inc.Record.Fields["subject"]); got != pm.Subjects[i] {
				t.Errorf("%s: message %d subject %q, Python %q", filepath.Base(f), i+1, got, pm.Subjects[i])
			}
		}
		total += len(incs)
	}
	t.Logf("%d messages in %d readpst mbox files", total, len(files))
}

func TestMboxWarningPositions(t *testing.T) {
	box := "From a Mon Jan  1 10:00:00 2024\nSubject: one\n\nbody\n\n" +
		"From b Mon Jan  1 10:00:00 2024\nSubject: two\nDate: not a date\n\nbody\n\n" +
		"From c Mon Jan  1 10:00:00 2024\nSubject: three\n\nbody\n"
	r := NewMboxReader(strings.NewReader(box), "w.mbox")
	var seq []string
	for {
		inc, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			seq = append(seq, "error "+err.Error())
			continue
		}
		seq = append(seq, inc.Record.Fields["subject"])
	}
	want := []string{"one", "two", `error w.mbox: message 2: header Date: unparseable date "not a date" (senton left empty)`, "three"}
	if fmt.Sprint(seq) != fmt.Sprint(want) {
		t.Errorf("sequence %q, want %q", seq, want)
	}
}
