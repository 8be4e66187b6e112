package eml

import (
	"bytes"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"crmbridge/fixtures"
)

// pythonBodyDiffers lists the corpus messages whose text body we read
// differently from Python's email package, and why. A listed file that
// stops differing fails the test, so the list stays true.
var pythonBodyDiffers = map[string]string{
	// Declared ISO-8859-1, but the bytes are valid UTF-8 (C3 82, C3 86):
	// textcodec.ToUTF8 rule 2 keeps valid UTF-8 whatever the label (a
	// mislabelled charset is common; Latin-1 reading gives "Ã" and a C1
	// control character), Python follows the label.
	"mikel__mail__spec_fixtures_emails_attachment_emails_attachment_pdf_non_ascii.eml":   "UTF-8 labelled ISO-8859-1",
	"mikel__mail__spec_fixtures_emails_error_emails_content_transfer_encoding_7-bit.eml": "UTF-8 labelled ISO-8859-1",
	// The file starts with a UTF-8 byte order mark, which we skip; Python
	// takes the BOM line for the body and the whole file as text.
	"jstedfast__MimeKit__UnitTests_TestData_messages_feedback-report.txt.eml": "byte order mark",
}

// TestEMLBodyAgainstPython compares the text body (description) of every
// corpus EML that has a text/plain body with the one Python's email
// package decodes from the same part (white space runs squashed).
func TestEMLBodyAgainstPython(t *testing.T) {
	t.Parallel()
	files := fixtures.CorpusFiles(t, "eml")
	py := runPython(t, "eml", files)
	for _, f := range files {
		base := filepath.Base(f)
		pm, ok := py[f]
		if !ok || pm.Text == nil {
			continue // no text/plain body for Python: nothing to compare
		}
		incs, _ := collect(t, NewReader(bytes.NewReader(readFile(t, f)), base))
		if len(incs) != 1 {
			continue // TestEMLAgainstPython reports it
		}
		got, want := squash(incs[0].Record.Fields["description"]), squash(*pm.Text)
		same := sameText(got, want)
		reason, known := pythonBodyDiffers[base]
		switch {
		case !same && !known:
			t.Errorf("%s: text body differs from Python's:\n  ours   %.200q\n  python %.200q", base, got, want)
		case same && known:
			t.Errorf("%s is listed in pythonBodyDiffers (%s) but now agrees: remove it", base, reason)
		}
	}
}

// pythonMboxBodyDiffers is pythonBodyDiffers for mbox messages, keyed
// "file#N" (N from 1).
var pythonMboxBodyDiffers = map[string]string{}

// TestMboxBodyAgainstPython compares the text body of every message of
// every corpus mbox (where Python's mailbox splits it as we do) with the
// one Python's email package decodes.
func TestMboxBodyAgainstPython(t *testing.T) {
	t.Parallel()
	files := fixtures.CorpusFiles(t, "mbox")
	py := runPython(t, "mbox", files)
	used := map[string]bool{}
	for _, f := range files {
		base := filepath.Base(f)
		incs, _ := collect(t, NewMboxReader(bytes.NewReader(readFile(t, f)), base))
		pm := py[f]
		if len(incs) != pm.Count || len(pm.Texts) != pm.Count {
			continue // TestMboxCorpusAgainstPython says why the split differs
		}
		for i, inc := range incs {
			if pm.Texts[i] == nil {
				continue
			}
			key := fmt.Sprintf("%s#%d", base, i+1)
			got, want := squash(inc.Record.Fields["description"]), squash(*pm.Texts[i])
			if sameText(got, want) {
				continue
			}
			if _, ok := pythonMboxBodyDiffers[key]; ok {
				used[key] = true
				continue
			}
			t.Errorf("%s: text body differs from Python's:\n  ours   %.200q\n  python %.200q", key, got, want)
		}
	}
	for key, why := range pythonMboxBodyDiffers {
		if !used[key] {
			t.Errorf("%s is listed in pythonMboxBodyDiffers (%s) but now agrees: remove it", key, why)
		}
	}
}

// sameText reports whether our body text is Python's. Where Python's
// declared (or default US-ASCII) charset cannot decode some bytes, its
// email package puts U+FFFD; we read them by textcodec.ToUTF8's rule
// (valid UTF-8 kept, 8-bit text without valid UTF-8 as Windows-1252,
// stray bytes as U+FFFD). A run of U+FFFD in Python's text therefore
// stands for any non-empty text of ours; the rest must be equal.
func sameText(ours, py string) bool {
	if ours == py {
		return true
	}
	if !strings.ContainsRune(py, '\uFFFD') {
		return false
	}
	var b strings.Builder
	b.WriteString(`^(?s)`)
	for i, part := range strings.FieldsFunc(py, func(r rune) bool { return r == '\uFFFD' }) {
		if i > 0 || strings.HasPrefix(py, "\uFFFD") {
			b.WriteString(`.+?`)
		}
		b.WriteString(regexp.QuoteMeta(part))
	}
	if strings.HasSuffix(py, "\uFFFD") {
		b.WriteString(`.+?`)
	}
	b.WriteString(`$`)
	re, err := regexp.Compile(b.String())
	return err == nil && re.MatchString(ours)
}

func TestSameText(t *testing.T) {
	for _, tc := range []struct {
		ours, py string
		want     bool
	}{
		{"Früh", "Früh", true},
		{"Früh", "Fr\uFFFDh", true},
		{"Früh", "Fr\uFFFD\uFFFDh", true},
		{"Frh", "Fr\uFFFDh", false},
		{"Früh!", "Fr\uFFFDh", false},
		{"é x", "\uFFFD x", true},
		{"a.b", "a\uFFFD", true},
		{"Frueh", "Früh", false},
	} {
		if got := sameText(tc.ours, tc.py); got != tc.want {
			t.Errorf("sameText(%q, %q) = %v", tc.ours, tc.py, got)
		}
	}
}
