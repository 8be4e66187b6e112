package eml

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"crmbridge/bridge/internal/textcodec"
	"crmbridge/crm"
	"crmbridge/fixtures"
)

func TestFileName(t *testing.T) {
	const id = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
	long := strings.Repeat("日本語", 100)
	for _, tc := range []struct{ subject, id, want string }{
		{"Quarterly report", id, "Quarterly report - " + id + ".eml"},
		{"", id, "message - " + id + ".eml"},
		{"../../etc/passwd", id, "_._etc_passwd - " + id + ".eml"},
		{"..", id, "message - " + id + ".eml"},
		{"a/b\\c:d*e?f\"g<h>i|j", id, "a_b_c_d_e_f_g_h_i_j - " + id + ".eml"},
		{"tab\tnew\r\nline\x00nul\x7f", id, "tab new line nul - " + id + ".eml"},
		{"invoice\u202Egpj.exe", id, "invoicegpj.exe - " + id + ".eml"},
		{"zero\u200bwidth", id, "zerowidth - " + id + ".eml"},
		{"CON", id, "_CON - " + id + ".eml"},
		{"nul.txt", id, "_nul.txt - " + id + ".eml"},
		{"com1", id, "_com1 - " + id + ".eml"},
		{"LPT9 ", id, "_LPT9 - " + id + ".eml"},
		{"Console", id, "Console - " + id + ".eml"},
		{"trailing dots...", id, "trailing dots - " + id + ".eml"},
		{"  . hidden", id, "hidden - " + id + ".eml"},
		{"e\u0301t\u00e9", id, "\u00e9t\u00e9 - " + id + ".eml"}, // NFC
		{"bad \xff utf8", id, "bad utf8 - " + id + ".eml"},
		{"Re: hi", "../../x", "Re_ hi - _._x.eml"},
	} {
		rec := crm.Record{ID: tc.id, Entity: crm.Email, Fields: map[string]string{"subject": tc.subject}}
		got := FileName(rec)
		if got != tc.want {
			t.Errorf("FileName(%q) = %q, want %q", tc.subject, got, tc.want)
		}
		checkSafeName(t, got)
		if FileName(rec) != got {
			t.Errorf("FileName(%q) not stable", tc.subject)
		}
	}
	rec := crm.Record{ID: id, Entity: crm.Email, Fields: map[string]string{"subject": long}}
	got := FileName(rec)
	checkSafeName(t, got)
	if len(got) > MaxFileNameBytes || !strings.HasSuffix(got, " - "+id+".eml") {
		t.Errorf("long subject: %q (%d bytes)", got, len(got))
	}
	// Without an id the name is still stable and differs between records.
	a := FileName(crm.Record{Entity: crm.Email, Fields: map[string]string{"subject": "s", "senton": "2024-01-01T00:00:00Z"}})
	b := FileName(crm.Record{Entity: crm.Email, Fields: map[string]string{"subject": "s", "senton": "2024-01-02T00:00:00Z"}})
	if a == b {
		t.Errorf("two records without id share the name %q", a)
	}
}

// checkSafeName asserts the properties FileName promises.
func checkSafeName(t *testing.T, name string) {
	t.Helper()
	if !utf8.ValidString(name) || len(name) > MaxFileNameBytes || strings.Contains(name, "..") ||
		strings.ContainsAny(name, "/\\:*?\"<>|") || strings.HasSuffix(name, ".") || strings.HasSuffix(name, " ") ||
		strings.HasPrefix(name, ".") || strings.HasPrefix(name, " ") {
		t.Errorf("unsafe name %q", name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == '\u202e' {
			t.Errorf("name %q has control character %U", name, r)
		}
	}
}

func attachmentOf(name, mt, cid string, inline bool, data []byte) crm.Attachment {
	return crm.Attachment{Name: name, MimeType: mt, ContentID: cid, Inline: inline, Size: int64(len(data)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
}

// sampleRecords are records the writer must handle: every body layout,
// non-ASCII names and subjects, inline images, attached messages.
func sampleRecords() []crm.Record {
	inner := []byte("From: a@example.com\r\nSubject: inner\r\n\r\nInner body.\r\n")
	bin := make([]byte, 3000)
	for i := range bin {
		bin[i] = byte(i * 7)
	}
	return []crm.Record{
		{ID: "11111111-1111-1111-1111-111111111111", Entity: crm.Email, Fields: map[string]string{
			"subject": "Plain ASCII", "description": "Hello,\nworld.\n", "senton": "2024-03-01T09:30:00Z",
			"messageid": "<orig.1@example.com>", "inreplyto": "<p@example.com>", "references": "<r@example.com> <p@example.com>",
		}, Parties: []crm.Party{
			{Role: crm.RoleSender, Address: "alice@example.com", Name: "Alice Example"},
			{Role: crm.RoleTo, Address: "bob@example.com", Name: "Bob, Jr."},
			{Role: crm.RoleTo, Address: "carol@example.com"},
			{Role: crm.RoleCc, Address: "dave@example.com", Name: "Dave"},
			{Role: crm.RoleBcc, Address: "erin@example.com"},
		}},
		{ID: "22222222-2222-2222-2222-222222222222", Entity: crm.Email, Fields: map[string]string{
			"subject":         "Отчёт за квартал — very long subject line that will certainly need folding across several lines 会議の議事録",
			"description":     "Текст письма.\nÜmlaut line with = sign and trailing space \n" + strings.Repeat("long line ", 30) + "\n",
			"descriptionhtml": "<p>Текст <b>письма</b>.</p><img src=\"cid:logo@x\">",
			"senton":          "2024-03-02T10:00:00Z",
		}, Parties: []crm.Party{
			{Role: crm.RoleSender, Address: "ivan@example.ru", Name: "Иван Петров"},
			{Role: crm.RoleTo, Address: "jiro@example.jp", Name: "山田 太郎"},
		}, Attachments: []crm.Attachment{
			attachmentOf("logo.png", "image/png", "logo@x", true, []byte("\x89PNG\r\n\x1a\nfake")),
			attachmentOf("отчёт 2024.xls", "application/vnd.ms-excel", "", false, bin),
			attachmentOf("Forwarded message.eml", "message/rfc822", "", false, inner),
			attachmentOf("notes.txt", "text/plain", "", false, []byte("line 1\r\nline 2\r\n")),
		}},
		{Entity: crm.Email, Fields: map[string]string{
			"subject": "HTML only, no id", "descriptionhtml": "<p>Only <i>HTML</i></p>", "sender": "Frank <frank@example.com>",
			"torecipients": "grace@example.com,heidi@example.com", "receivedon": "2024-03-03T11:00:00Z",
		}},
		{ID: "44444444-4444-4444-4444-444444444444", Entity: crm.Email, Fields: map[string]string{
			"subject": "Attachment only",
		}, Parties: []crm.Party{{Role: crm.RoleSender, Address: "ivy@example.com"}},
			Attachments: []crm.Attachment{attachmentOf("", "", "", false, []byte("no name, no type"))}},
		{ID: "55555555-5555-5555-5555-555555555555", Entity: crm.Email, Fields: map[string]string{
			"subject": "Related without text", "descriptionhtml": "<img src=\"cid:a@b\">",
		}, Attachments: []crm.Attachment{attachmentOf("a.gif", "image/gif", "<a@b>", true, []byte("GIF89a"))}},
	}
}

// normText compares bodies across a write: line ends become CRLF in
// quoted-printable, so any of CRLF, CR, LF is one line end.
func normText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.TrimRight(s, "\n")
}

// contentKey identifies an attachment's content across a write: an
// attached message is written with CRLF line ends (RFC 2046 5.2.1), and
// so are report parts and returned headers, which are written as text.
func contentKey(t *testing.T, a crm.Attachment) string {
	if a.MimeType != "message/rfc822" && a.MimeType != "message/global" && !textual(a.MimeType) {
		return attachmentSHA(t, a)
	}
	rc, err := a.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return attachmentSHA(t, attachmentOf("", "", "", false, crlf(b)))
}

// checkRoundTrip reads what Write wrote for rec and compares it with rec.
func checkRoundTrip(t *testing.T, rec crm.Record, out []byte) *crm.Incoming {
	t.Helper()
	incs, warns := collect(t, NewReader(bytes.NewReader(out), "written.eml"))
	if len(incs) != 1 {
		t.Fatalf("read back %d messages", len(incs))
	}
	for _, w := range warns {
		t.Errorf("reading our own output: %v", w)
	}
	got := incs[0].Record
	// The subject byte for byte (the reader trims white space at the ends).
	if g, w := got.Fields["subject"], strings.TrimSpace(rec.Fields["subject"]); g != w {
		t.Errorf("subject %q, want %q", g, w)
	}
	for _, k := range []string{"description", "descriptionhtml"} {
		if w := rec.Fields[k]; w != "" && normText(got.Fields[k]) != normText(w) {
			t.Errorf("%s %q, want %q", k, got.Fields[k], w)
		}
	}
	for _, k := range []string{"messageid", "inreplyto", "references", "senton"} {
		if w := rec.Fields[k]; w != "" && got.Fields[k] != w {
			t.Errorf("%s %q, want %q", k, got.Fields[k], w)
		}
	}
	wantParties := rec.Parties
	if len(wantParties) > 0 {
		if len(got.Parties) != len(wantParties) {
			t.Fatalf("parties %+v, want %+v", got.Parties, wantParties)
		}
		for i, p := range wantParties {
			if g := got.Parties[i]; g.Role != p.Role || g.Address != p.Address || g.Name != p.Name {
				t.Errorf("party %d %+v, want %+v", i, g, p)
			}
		}
	}
	if len(got.Attachments) != len(rec.Attachments) {
		t.Fatalf("%d attachments, want %d", len(got.Attachments), len(rec.Attachments))
	}
	// The writer puts inline related parts first; compare by content (and
	// by name among attachments with the same content).
	want := map[string][]crm.Attachment{}
	for _, a := range rec.Attachments {
		k := contentKey(t, a)
		want[k] = append(want[k], a)
	}
	for _, a := range got.Attachments {
		k := contentKey(t, a)
		cands := want[k]
		if len(cands) == 0 {
			t.Errorf("attachment %q: content not written as given", a.Name)
			continue
		}
		pick := 0
		for i, c := range cands {
			if c.Name == a.Name {
				pick = i
				break
			}
		}
		w := cands[pick]
		want[k] = append(cands[:pick:pick], cands[pick+1:]...)
		if w.Name != "" && a.Name != w.Name {
			t.Errorf("attachment name %q, want %q", a.Name, w.Name)
		}
		if w.MimeType != "" && a.MimeType != w.MimeType || a.Inline != w.Inline || a.ContentID != strings.Trim(w.ContentID, "<>") {
			t.Errorf("attachment %q: %s inline=%v cid=%q, want %s %v %q", a.Name, a.MimeType, a.Inline, a.ContentID, w.MimeType, w.Inline, w.ContentID)
		}
	}
	return incs[0]
}

func TestWriteRoundTrip(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for i, rec := range sampleRecords() {
		var buf bytes.Buffer
		if err := Write(&buf, rec); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		out := buf.Bytes()
		for _, l := range bytes.Split(out, []byte("\r\n")) {
			if len(l) > 998 {
				t.Errorf("record %d: line of %d bytes", i, len(l))
			}
		}
		inc := checkRoundTrip(t, rec, out)
		if rec.Fields["messageid"] == "" && !strings.HasSuffix(inc.Record.Fields["messageid"], "@crmbridge.invalid>") {
			t.Errorf("record %d: generated Message-ID %q", i, inc.Record.Fields["messageid"])
		}
		var again bytes.Buffer
		if err := Write(&again, rec); err != nil {
			t.Fatal(err)
		}
		if inc2 := checkRoundTrip(t, rec, again.Bytes()); inc2.Record.Fields["messageid"] != inc.Record.Fields["messageid"] {
			t.Errorf("record %d: Message-ID not stable", i)
		}
		f := filepath.Join(dir, FileName(rec))
		if err := os.WriteFile(f, out, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	// Python's email package reads our output the same way.
	py := runPython(t, "eml", files)
	for _, f := range files {
		incs, _ := collect(t, NewReader(bytes.NewReader(readFile(t, f)), f))
		if diffs := compareWithPython(t, incs[0], py[f]); len(diffs) > 0 {
			t.Errorf("%s: Python reads it differently:\n  %s", filepath.Base(f), strings.Join(diffs, "\n  "))
		}
	}
}

// TestWriteCorpusRoundTrip reads every corpus EML, writes it back and reads
// the output: subject, addresses, bodies and attachment contents survive,
// and Python reads the output the same way.
func TestWriteCorpusRoundTrip(t *testing.T) {
	t.Parallel()
	files := fixtures.CorpusFiles(t, "eml")
	dir := t.TempDir()
	var outs []string
	for _, f := range files {
		incs, _ := collect(t, NewReader(bytes.NewReader(readFile(t, f)), filepath.Base(f)))
		rec := incs[0].Record
		rec.ID = "00000000-0000-0000-0000-000000000000"
		var buf bytes.Buffer
		if err := Write(&buf, rec); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		t.Run(filepath.Base(f), func(t *testing.T) { checkRoundTrip(t, rec, buf.Bytes()) })
		out := filepath.Join(dir, filepath.Base(f))
		if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, out)
	}
	py := runPython(t, "eml", outs)
	for _, f := range outs {
		incs, _ := collect(t, NewReader(bytes.NewReader(readFile(t, f)), f))
		if diffs := compareWithPython(t, incs[0], py[f]); len(diffs) > 0 {
			t.Errorf("%s: Python reads our output differently:\n  %s", filepath.Base(f), strings.Join(diffs, "\n  "))
		}
	}
}

func TestWriteRejects(t *testing.T) {
	if err := Write(io.Discard, crm.Record{Entity: crm.Contact}); err == nil {
		t.Error("Write accepted a contact")
	}
	rec := crm.Record{Entity: crm.Email, Fields: map[string]string{}, Attachments: []crm.Attachment{{Name: "x"}}}
	if err := Write(io.Discard, rec); err == nil {
		t.Error("Write accepted an attachment without content")
	}
}

// TestWriteNoHeaderInjection writes a record whose every field tries to
// start a header line of its own; the output must have none.
func TestWriteNoHeaderInjection(t *testing.T) {
	const evil = "x\r\nX-Injected: yes\r\n\r\nbody"
	rec := crm.Record{ID: "id\r\nX-Injected: yes", Entity: crm.Email, Fields: map[string]string{
		"subject": "s" + evil, "messageid": "<a" + evil + "@b>", "inreplyto": "<c@d" + evil + ">",
		"references": "<e@f>" + evil, "description": "d",
	}, Parties: []crm.Party{
		{Role: crm.RoleSender, Address: "a@b" + evil, Name: "n" + evil},
		{Role: crm.RoleTo, Address: "c@d", Name: "m" + evil},
	}, Attachments: []crm.Attachment{attachmentOf("f"+evil, "text/plain"+evil, "cid"+evil, true, []byte("x"))}}
	var buf bytes.Buffer
	if err := Write(&buf, rec); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(buf.String(), "\r\n") {
		if strings.HasPrefix(strings.ToLower(line), "x-injected") {
			t.Fatalf("header injected:\n%s", buf.String())
		}
	}
	incs, _ := collect(t, NewReader(bytes.NewReader(buf.Bytes()), "inj.eml"))
	if incs[0].Record.Fields["subject"] != rec.Fields["subject"] { // carried whole in encoded words
		t.Errorf("subject %q", incs[0].Record.Fields["subject"])
	}
	if name := FileName(rec); strings.ContainsAny(name, "\r\n") {
		t.Errorf("FileName %q", name)
	}
}

// FuzzWrite writes an email whose text values are arbitrary bytes, not
// cleaned: Write must succeed, and the Reader must read one message
// without warnings whose subject, body, party names and attachment name
// are the written ones with each invalid byte as U+FFFD.
func FuzzWrite(f *testing.F) {
	f.Add("Re: hello", "body\nline 2", "Ann Lee", "a.pdf")
	f.Add(strings.Repeat("\x80", 100), "caf\xe9\r\n\xff", "M\xfcller", "\xc3.txt")
	f.Add("=?utf-8?q?x?=", "=41\r\n.\r\n", "\"q\" <x>", "=?x?=")
	f.Fuzz(func(t *testing.T, subject, body, name, file string) {
		rec := crm.Record{ID: "id", Entity: crm.Email, Fields: map[string]string{
			"subject": subject, "description": body, "senton": "2024-03-18T09:00:00Z",
		}, Parties: []crm.Party{
			{Role: crm.RoleSender, Address: "a@example.com", Name: name},
			{Role: crm.RoleTo, Address: "b@example.com", Name: subject},
		}, Attachments: []crm.Attachment{attachmentOf(file, "application/octet-stream", "", false, []byte(body))}}
		var buf bytes.Buffer
		if err := Write(&buf, rec); err != nil {
			t.Fatal(err)
		}
		incs, warns := collect(t, NewReader(bytes.NewReader(buf.Bytes()), "fuzz.eml"))
		if len(incs) != 1 || len(warns) != 0 {
			t.Fatalf("read back %d messages, warnings %v\n%q", len(incs), warns, buf.Bytes())
		}
		got := incs[0].Record
		for k, v := range got.Fields {
			if !utf8.ValidString(v) {
				t.Fatalf("%s %q is not UTF-8", k, v)
			}
		}
		if w := strings.TrimSpace(textcodec.ReplaceInvalid(subject)); got.Fields["subject"] != w {
			t.Errorf("subject %q, want %q", got.Fields["subject"], w)
		}
		if len(got.Parties) != 2 {
			t.Fatalf("parties %+v", got.Parties)
		}
		for i, w := range []string{name, subject} {
			if strings.Contains(w, "=?") {
				continue // the Reader decodes encoded words inside a display name again, as mail clients do
			}
			if w := strings.TrimSpace(textcodec.ReplaceInvalid(w)); got.Parties[i].Name != w && strings.TrimSpace(got.Parties[i].Name) != w {
				t.Errorf("party %d name %q, want %q", i, got.Parties[i].Name, w)
			}
		}
		w := normText(textcodec.ReplaceInvalid(body))
		if strings.TrimSpace(w) == "" {
			w = "" // item.SetIf: a blank value is no value
		}
		if normText(got.Fields["description"]) != w {
			t.Errorf("description %q, want %q", got.Fields["description"], w)
		}
	})
}
