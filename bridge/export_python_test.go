package bridge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"crmbridge/crm"
	"crmbridge/fixtures"
)

// TestExportEMLReadByPython exports every e-mail of the corpus (EML, .msg
// and go-pst's support.pst) with --eml and reads each file with Python's
// email package (bridge/eml/testdata/pyemail.py, the same script the
// reader's comparison uses): every file parses, the subject and the
// sender and recipient addresses decode to the record's, and the
// attachments are as many as the record's with the same bytes.
func TestExportEMLReadByPython(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	const py = "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skipf("independent reader %s not found: %v", py, err)
	}
	ctx := context.Background()
	s := newStore(t)
	importPaths(t, s, ImportOptions{}, fixtures.CorpusDir(t, "eml"), fixtures.CorpusDir(t, "msg"),
		filepath.Join(fixtures.GoPSTData(t), "support.pst"))
	dir := filepath.Join(t.TempDir(), "mail")
	export(t, s, ExportOptions{All: true, EMLDir: dir})
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range ents {
		files = append(files, filepath.Join(dir, e.Name()))
	}
	ids, _ := s.IDs(ctx, []crm.Entity{crm.Email})
	if len(files) != len(ids) {
		t.Errorf("%d files for %d e-mails", len(files), len(ids))
	}
	cmd := exec.Command(py, append([]string{filepath.Join("eml", "testdata", "pyemail.py"), "eml"}, files...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pyemail.py: %v\n%s", err, stderr.String())
	}
	type pyAtt struct {
		Type string  `json:"type"`
		SHA  *string `json:"sha"`
	}
	type pyMsg struct {
		File        string   `json:"file"`
		Subject     string   `json:"subject"`
		From        []string `json:"from"`
		To          []string `json:"to"`
		Attachments []pyAtt  `json:"attachments"`
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	n := 0
	for sc.Scan() {
		var m pyMsg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("pyemail.py output: %v", err)
		}
		n++
		base := strings.TrimSuffix(filepath.Base(m.File), ".eml")
		id := base[strings.LastIndex(base, " - ")+3:]
		v, err := s.Get(ctx, id)
		if err != nil {
			t.Errorf("%s: no record %s", base, id)
			continue
		}
		name := filepath.Base(m.File)
		if got, want := strings.Join(strings.Fields(m.Subject), " "), strings.Join(strings.Fields(v.Fields["subject"]), " "); got != want {
			t.Errorf("%s: Python reads subject %q, record %q", name, got, want)
		}
		var from, to []string
		for _, p := range v.Parties {
			a := strings.ToLower(strings.TrimSpace(p.Address))
			if !strings.Contains(a, "@") {
				continue // an X.500 address, written IMCEA-encapsulated (TestX500AddressRoundTrip)
			}
			switch p.Role {
			case crm.RoleSender:
				from = append(from, a)
			case crm.RoleTo:
				to = append(to, a)
			}
		}
		if len(from) > 0 && (len(m.From) != 1 || m.From[0] != from[0]) {
			t.Errorf("%s: Python reads From %q, record %q", name, m.From, from)
		}
		sort.Strings(to)
		sort.Strings(m.To)
		if len(to) > 0 && strings.Join(to, ",") != strings.Join(m.To, ",") {
			t.Errorf("%s: Python reads To %q, record %q", name, m.To, to)
		}
		if len(m.Attachments) != len(v.Attachments) {
			t.Errorf("%s: Python finds %d attachments, the record has %d", name, len(m.Attachments), len(v.Attachments))
			continue
		}
		// Python decodes leaf parts; a message/* part it parses (no bytes).
		var got []string
		for _, a := range m.Attachments {
			if a.SHA != nil {
				got = append(got, *a.SHA)
			}
		}
		// The record's bytes, or for a text or header part, whose line
		// ends MIME writes CRLF (RFC 2046 4.1.1) and Python gives LF,
		// the same with LF line ends.
		var want []string
		for _, a := range v.Attachments {
			want = append(want, a.SHA256)
			mt := strings.ToLower(a.MimeType)
			if (strings.HasPrefix(mt, "text/") || strings.HasPrefix(mt, "message/")) && a.Open != nil {
				rc, err := a.Open()
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(rc)
				rc.Close()
				sum := sha256.Sum256(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")))
				want = append(want, hex.EncodeToString(sum[:]))
			}
		}
		sort.Strings(got)
		sort.Strings(want)
		if missing := minus(got, want); len(missing) > 0 {
			t.Errorf("%s: attachment bytes Python reads that the record does not hold: %v", name, missing)
		}
	}
	if n != len(files) {
		t.Errorf("Python read %d of %d files", n, len(files))
	}
	t.Logf("%d exported e-mails read by Python's email package", n)
}
