package eml

import (
	"bytes"
	"strings"
	"testing"

	"crmbridge/crm"
)

// A subject comes back byte for byte: inner runs of spaces and tabs,
// non-ASCII, controls (encoded words carry them), long ones folded. (White
// space at either end is written, but the reader trims it, as Outlook
// does.)
func TestSubjectByteForByte(t *testing.T) {
	for _, subj := range []string{
		"Re: TEST \tテストテスト",
		"two  spaces",
		"tab\there",
		"line\r\nbreak",
		"bare\rcr and bare\nlf",
		"Ünïcödé — “quotes”",
		strings.Repeat("long subject word ", 30) + "end",
		strings.Repeat("ü ", 5000) + "end",
		strings.Repeat("x", 200),
		"=?utf-8?q?looks_encoded?=",
	} {
		rec := crm.Record{ID: "01a22b1e-8161-7571-b7c8-ccfa5cf7cae9", Entity: crm.Email,
			Fields:  map[string]string{"subject": subj, "description": "body"},
			Parties: []crm.Party{{Role: crm.RoleSender, Address: "a@example.com"}}}
		var b bytes.Buffer
		if err := Write(&b, rec); err != nil {
			t.Fatalf("%q: %v", subj, err)
		}
		if n := longestLine(b.Bytes()); n > 998 {
			t.Errorf("%q: a line of %d octets", subj, n)
		}
		incs, _ := collect(t, NewReader(bytes.NewReader(b.Bytes()), "s.eml"))
		if len(incs) != 1 {
			t.Fatalf("%q: %d messages", subj, len(incs))
		}
		if got := incs[0].Record.Fields["subject"]; got != subj {
			t.Errorf("subject %q came back %q\n%s", subj, got, b.String())
		}
	}
}

// The same record gives the same bytes: multipart boundaries come from
// the content, not from a random source.
func TestWriteByteStable(t *testing.T) {
	for i, rec := range sampleRecords() {
		var a, b bytes.Buffer
		if err := Write(&a, rec); err != nil {
			t.Fatal(err)
		}
		if err := Write(&b, rec); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("record %d: two writes differ", i)
		}
		if strings.Contains(a.String(), "multipart/") && !strings.Contains(a.String(), `boundary="=_`) {
			t.Errorf("record %d: boundary not derived:\n%s", i, a.String())
		}
	}
}

// What an e-mail record knows beyond RFC 5322 goes out in headers Outlook
// and Thunderbird read; the received time comes back through our reader.
func TestWriteState(t *testing.T) {
	rec := crm.Record{ID: "01a22b1e-8161-7571-b7c8-ccfa5cf7cae9", Entity: crm.Email,
		Fields: map[string]string{"subject": "s", "description": "body", "senton": "2026-01-02T03:04:05Z", "receivedon": "2026-01-02T03:05:06Z",
			"prioritycode": "2", "sensitivity": "2", "categories": "Red, Blue,Ünïcode", "folder": "Inbox/Projects"},
		Parties: []crm.Party{{Role: crm.RoleSender, Address: "a@example.com"}}}
	var b bytes.Buffer
	if err := Write(&b, rec); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Delivery-Date: Fri, 02 Jan 2026 03:05:06 +0000\r\n", "Importance: high\r\n", "X-Priority: 1 (Highest)\r\n",
		"Sensitivity: Private\r\n", "Keywords: Red, Blue, =?utf-8?b?w5xuw69jb2Rl?=\r\n", "X-Folder: Inbox/Projects\r\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
	incs, _ := collect(t, NewReader(bytes.NewReader(b.Bytes()), "s.eml"))
	if got := incs[0].Record.Fields["receivedon"]; got != "2026-01-02T03:05:06Z" {
		t.Errorf("receivedon read back %q", got)
	}
	rec.Fields["folder"] = "a\r\nX-Injected: yes"
	rec.Fields["categories"] = "x\ny"
	b.Reset()
	if err := Write(&b, rec); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "X-Injected") || strings.Contains(b.String(), "Keywords") {
		t.Errorf("a value with a line break went into a header:\n%s", b.String())
	}
}

// Attachment names go into headers without controls or bidi overrides,
// and a very long one keeps every header line within 998 octets.
func TestWriteAttachmentNameSafe(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"report\u202egnp.exe", "reportgnp.exe"},
		{"a\x00b\r\nc.txt", "abc.txt"},
		{"\u2066x\u2069.pdf", "x.pdf"},
		{strings.Repeat("ü", 5000) + ".pdf", strings.Repeat("ü", 125) + ".pdf"},
	} {
		rec := crm.Record{ID: "01a22b1e-8161-7571-b7c8-ccfa5cf7cae9", Entity: crm.Email,
			Fields:      map[string]string{"subject": "s", "description": "body"},
			Parties:     []crm.Party{{Role: crm.RoleSender, Address: "a@example.com"}},
			Attachments: []crm.Attachment{attachmentOf(tc.name, "application/pdf", "", false, []byte("%PDF"))}}
		var b bytes.Buffer
		if err := Write(&b, rec); err != nil {
			t.Fatal(err)
		}
		if n := longestLine(b.Bytes()); n > 998 {
			t.Errorf("%.20q: a line of %d octets", tc.name, n)
		}
		incs, _ := collect(t, NewReader(bytes.NewReader(b.Bytes()), "a.eml"))
		if as := incs[0].Record.Attachments; len(as) != 1 || as[0].Name != tc.want {
			t.Errorf("%.20q: read back %+v, want name %.30q", tc.name, as, tc.want)
		}
	}
}
