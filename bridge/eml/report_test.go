package eml

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"crmbridge/crm"
	"crmbridge/fixtures"
)

// pyReport is what testdata/pyreport.py prints for one file.
type pyReport struct {
	File       string              `json:"file"`
	Type       string              `json:"type"`
	ReportType *string             `json:"report_type"`
	Parts      []string            `json:"parts"`
	Blocks     []map[string]string `json:"blocks"`
	Defects    []string            `json:"defects"`
}

func runPyReport(t *testing.T, files []string) map[string]pyReport {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		t.Skipf("independent reader %s not found: %v", python, err)
	}
	cmd := exec.Command(python, append([]string{"testdata/pyreport.py"}, files...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pyreport.py: %v\n%s", err, stderr.String())
	}
	res := map[string]pyReport{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r pyReport
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("pyreport.py output %q: %v", sc.Text(), err)
		}
		res[r.File] = r
	}
	return res
}

const dsnStatus = "Reporting-MTA: dns; mx.example.com\r\nArrival-Date: Mon, 2 Mar 2026 10:00:00 +0000\r\n\r\n" +
	"Final-Recipient: rfc822; nobody@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 no such user\r\n"

const mdnStatus = "Reporting-UA: mail.example.com; Thunderbird\r\nOriginal-Recipient: rfc822;bob@example.com\r\n" +
	"Final-Recipient: rfc822;bob@example.com\r\nOriginal-Message-ID: <orig@example.com>\r\nDisposition: manual-action/MDN-sent-manually; displayed\r\n"

// A delivery-status notification (RFC 3464) and a read receipt (RFC 8098)
// are written as RFC 6522 multipart/report with the report part as text
// (7bit, as RFC 3464 2.1 and RFC 8098 3.1 say), not base64: Python's email
// package parses the report's field blocks, notes no defect, and our
// reader reads back the same parts.
func TestWriteReport(t *testing.T) {
	orig := []byte("From: a@example.com\r\nTo: nobody@example.org\r\nSubject: hello\r\nMessage-ID: <orig@example.com>\r\n\r\nHi.\r\n")
	recs := []struct {
		rec        crm.Record
		reportType string
		parts      []string
		field      string
	}{
		{crm.Record{ID: "01a22b1e-8161-7571-b7c8-ccfa5cf7cae1", Entity: crm.Email,
			Fields:  map[string]string{"subject": "Undelivered Mail Returned to Sender", "description": "Your message could not be delivered.\n"},
			Parties: []crm.Party{{Role: crm.RoleSender, Address: "MAILER-DAEMON@mx.example.com"}, {Role: crm.RoleTo, Address: "a@example.com"}},
			Attachments: []crm.Attachment{
				attachmentOf("attachment-1.txt", "message/delivery-status", "", false, []byte(dsnStatus)),
				attachmentOf("hello.eml", "message/rfc822", "", false, orig),
			}}, "delivery-status", []string{"text/plain", "message/delivery-status", "message/rfc822"}, "status"},
		{crm.Record{ID: "01a22b1e-8161-7571-b7c8-ccfa5cf7cae2", Entity: crm.Email,
			Fields: map[string]string{"subject": "Read: hello", "description": "Your message was displayed.\n",
				"descriptionhtml": "<p>Your message was displayed.</p>"},
			Parties: []crm.Party{{Role: crm.RoleSender, Address: "bob@example.com"}, {Role: crm.RoleTo, Address: "a@example.com"}},
			Attachments: []crm.Attachment{
				attachmentOf("attachment-1.txt", "message/disposition-notification", "", false, []byte(mdnStatus)),
				attachmentOf("attachment-2.txt", "text/rfc822-headers", "", false, orig[:bytes.Index(orig, []byte("\r\n\r\n"))+2]),
				attachmentOf("extra.pdf", "application/pdf", "", false, []byte("%PDF-1.4")),
			}}, "disposition-notification", []string{"multipart/mixed", "message/disposition-notification", "text/rfc822-headers"}, "disposition"},
	}
	dir := t.TempDir()
	var files []string
	for i, tc := range recs {
		var b bytes.Buffer
		if err := Write(&b, tc.rec); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(b.String(), "Content-Transfer-Encoding: base64\r\nContent-Type: message/") {
			t.Errorf("record %d: a report part in base64:\n%s", i, b.String())
		}
		checkRoundTrip(t, tc.rec, b.Bytes())
		f := filepath.Join(dir, FileName(tc.rec))
		if err := os.WriteFile(f, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	py := runPyReport(t, files)
	for i, tc := range recs {
		r := py[files[i]]
		if r.Type != "multipart/report" || r.ReportType == nil || *r.ReportType != tc.reportType {
			t.Errorf("record %d: Python reads %s report-type %s, want multipart/report %s", i, r.Type, deref(r.ReportType), tc.reportType)
		}
		if strings.Join(r.Parts, " ") != strings.Join(tc.parts, " ") {
			t.Errorf("record %d: parts %v, want %v", i, r.Parts, tc.parts)
		}
		if len(r.Blocks) == 0 || r.Blocks[len(r.Blocks)-1][tc.field] == "" {
			t.Errorf("record %d: Python parsed the report as %v", i, r.Blocks)
		}
		if len(r.Defects) > 0 {
			t.Errorf("record %d: Python notes defects %v", i, r.Defects)
		}
	}
}

// Every report in the corpus (bounces, read receipts, abuse feedback)
// is written back as a multipart/report of the same report-type, and
// Python parses its report part into the same field blocks as the
// original's.
func TestWriteCorpusReports(t *testing.T) {
	dir := t.TempDir()
	var ins, outs []string
	for _, f := range fixtures.CorpusFiles(t, "eml") {
		raw := readFile(t, f)
		if !bytes.Contains(bytes.ToLower(raw), []byte("multipart/report")) {
			continue
		}
		incs, _ := collect(t, NewReader(bytes.NewReader(raw), filepath.Base(f)))
		rec := incs[0].Record
		rec.ID = "00000000-0000-0000-0000-000000000000"
		var b bytes.Buffer
		if err := Write(&b, rec); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		out := filepath.Join(dir, filepath.Base(f))
		if err := os.WriteFile(out, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		ins, outs = append(ins, f), append(outs, out)
	}
	if len(ins) == 0 {
		t.Skip("no report in the corpus")
	}
	pyIn, pyOut := runPyReport(t, ins), runPyReport(t, outs)
	for i, f := range ins {
		a, b := pyIn[f], pyOut[outs[i]]
		if a.Type != "multipart/report" {
			continue // "multipart/report" elsewhere in the file
		}
		name := filepath.Base(f)
		if b.Type != "multipart/report" || b.ReportType == nil || a.ReportType == nil || *a.ReportType != *b.ReportType {
			t.Errorf("%s: written as %s %s, was multipart/report %s", name, b.Type, deref(b.ReportType), deref(a.ReportType))
			continue
		}
		ja, _ := json.Marshal(a.Blocks)
		jb, _ := json.Marshal(b.Blocks)
		if !bytes.Equal(ja, jb) {
			t.Errorf("%s: report blocks\n  were %s\n  now  %s", name, ja, jb)
		}
		if len(b.Defects) > len(a.Defects) {
			t.Errorf("%s: Python notes defects %v in our output (original: %v)", name, b.Defects, a.Defects)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "(none)"
	}
	return *s
}
