package eml

import (
	"bytes"
	"strings"
	"testing"

	"crmbridge/crm"
)

// A mail with header fields no column holds: a list header, a folded
// X- field, Reply-To, Received trace lines, a DKIM signature and an ARC
// seal, and a junk line. Read → write → read keeps every field but the
// signatures and the MIME structure, as it was (folding included), in
// its order; the columns come back too.
func TestKeptHeadersRoundTrip(t *testing.T) {
	const msg = "Return-Path: <a@example.org>\r\n" +
		"Received: from mx.example.org (mx [192.0.2.1])\r\n\tby in.example.net; Tue, 2 Jan 2024 10:00:05 +0000\r\n" +
		"Received: from client by mx.example.org; Tue, 2 Jan 2024 10:00:01 +0000\r\n" +
		"DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s1;\r\n\tbh=abc=; b=def=\r\n" +
		"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=example.net; s=arc; b=xyz=\r\n" +
		"From: Ann <a@example.org>\r\nTo: b@example.net\r\nSubject: Hello\r\n" +
		"Date: Tue, 2 Jan 2024 10:00:00 +0000\r\nMessage-ID: <m1@example.org>\r\n" +
		"Reply-To: help@example.org\r\nList-Id: Team <team.example.org>\r\n" +
		"X-Mailer: Own Mailer 1.0\r\nX-Long: one\r\n two  three\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBody text\r\n"
	kept := []string{
		"Return-Path: <a@example.org>\r\n",
		"Received: from mx.example.org (mx [192.0.2.1])\r\n\tby in.example.net; Tue, 2 Jan 2024 10:00:05 +0000\r\n",
		"Received: from client by mx.example.org; Tue, 2 Jan 2024 10:00:01 +0000\r\n",
		"Reply-To: help@example.org\r\n",
		"List-Id: Team <team.example.org>\r\n",
		"X-Mailer: Own Mailer 1.0\r\n",
		"X-Long: one\r\n two  three\r\n",
	}
	incs, errs := collect(t, NewReader(strings.NewReader(msg), "in.eml"))
	if len(incs) != 1 || len(errs) != 0 {
		t.Fatalf("%d items, %v", len(incs), errs)
	}
	var buf bytes.Buffer
	if err := Write(&buf, incs[0].Record); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	hdr, _, _ := strings.Cut(out, "\r\n\r\n")
	hdr += "\r\n"
	last := -1
	for _, k := range kept {
		i := strings.Index(hdr, k)
		if i < 0 {
			t.Errorf("field %q not written back", k)
			continue
		}
		if i < last {
			t.Errorf("field %q out of order", k)
		}
		last = i
	}
	for _, gone := range []string{"DKIM-Signature", "ARC-Seal"} {
		if strings.Contains(hdr, gone) {
			t.Errorf("%s written back", gone)
		}
	}
	for _, once := range []string{"from:", "subject:", "message-id:", "date:", "mime-version:", "content-type:"} {
		if n := strings.Count("\n"+strings.ToLower(hdr), "\n"+once); n != 1 {
			t.Errorf("%s %d times", once, n)
		}
	}
	incs2, errs := collect(t, NewReader(strings.NewReader(out), "out.eml"))
	if len(incs2) != 1 || len(errs) != 0 {
		t.Fatalf("again: %d items, %v", len(incs2), errs)
	}
	for _, k := range []string{"subject", "messageid", "senton", "receivedon", "description", "sender"} {
		if a, b := incs[0].Record.Fields[k], incs2[0].Record.Fields[k]; a != b {
			t.Errorf("%s: %q, then %q", k, a, b)
		}
	}
	if t.Failed() {
		t.Logf("%s", out)
	}
}

func TestHeaderFields(t *testing.T) {
	got := headerFields("A: 1\n b\nnot a field\nB : 2\nC:3\r\nD: \x01\nE: e")
	want := []string{"A: 1\r\n b\r\n", "C:3\r\n", "E: e\r\n"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
}

// FuzzKeptHeaders writes a message whose stored header block is raw
// bytes: the output reads back as one message without warnings, no line
// is longer than 998 octets, and the subject column still wins.
func FuzzKeptHeaders(f *testing.F) {
	f.Add("X-A: 1\r\n b\r\nReceived: from x; Tue, 2 Jan 2024 10:00:01 +0000\r\n")
	f.Add("Subject: other\nContent-Type: text/html\nDKIM-Signature: v=1\nX-B:\x00\n:bad\n \tcont\nX-C: \xff\xfe")
	f.Add("X-Long: " + strings.Repeat("a", 1200) + "\r\nList-Id: <l.example>\r\n")
	f.Fuzz(func(t *testing.T, block string) {
		rec := crm.Record{ID: "id", Entity: crm.Email, Fields: map[string]string{
			"subject": "Hello", "description": "body", "senton": "2024-03-18T09:00:00Z", "headers": block,
		}, Parties: []crm.Party{{Role: crm.RoleSender, Address: "a@example.com"}}}
		var buf bytes.Buffer
		if err := Write(&buf, rec); err != nil {
			t.Fatal(err)
		}
		for _, l := range bytes.Split(buf.Bytes(), []byte("\r\n")) {
			if len(l) > 998 {
				t.Fatalf("line of %d octets", len(l))
			}
		}
		incs, warns := collect(t, NewReader(bytes.NewReader(buf.Bytes()), "fuzz.eml"))
		if len(incs) != 1 || len(warns) != 0 {
			t.Fatalf("read back %d messages, warnings %v\n%q", len(incs), warns, buf.Bytes())
		}
		if got := incs[0].Record.Fields; got["subject"] != "Hello" || got["description"] != "body" {
			t.Fatalf("subject %q description %q\n%q", got["subject"], got["description"], buf.Bytes())
		}
	})
}
