package bridge

import (
	"bytes"
	"context"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"crmbridge/crm"
	"crmbridge/crmstore"
	"crmbridge/pst"
)

// TestSentOnBehalf: a mail an assistant sent for its author keeps both
// mailboxes through EML and PST, each where the format puts it: From (and
// PidTagSentRepresenting*) is the author, the sender party; Sender (and
// PidTagSender*) is the assistant, the SENDER extra. Before, a PST's mail
// took the assistant as its author (readpst -e and Outlook show the
// author), and the assistant was lost on EML import.
func TestSentOnBehalf(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "onbehalf.eml")
	msg := "From: Ken Boss <ken@example.com>\r\nSender: Amy Assistant <amy@example.com>\r\nTo: team@example.com\r\n" +
		"Subject: Holiday party\r\nDate: Mon, 3 Dec 2001 10:00:00 -0600\r\nMessage-ID: <party@example.com>\r\n\r\nCanceled.\r\n"
	if err := os.WriteFile(src, []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	check := func(where string, s *crmstore.Store) {
		t.Helper()
		vs := views(t, s)
		if len(vs) != 1 {
			t.Fatalf("%s: %d records, want 1", where, len(vs))
		}
		v := vs[0]
		var from []string
		for _, p := range v.Parties {
			if p.Role == crm.RoleSender {
				from = append(from, p.Name+" <"+p.Address+">")
			}
		}
		var snd []string
		for _, x := range v.Extras {
			if x.Name == crm.ExtraSender {
				snd = append(snd, x.Params["CN"]+" <"+x.Value+">")
			}
		}
		if strings.Join(from, ",") != "Ken Boss <ken@example.com>" || strings.Join(snd, ",") != "Amy Assistant <amy@example.com>" {
			t.Errorf("%s: sender party %q, SENDER extra %q; want Ken Boss <ken@example.com> and Amy Assistant <amy@example.com>", where, from, snd)
		}
	}
	s := newStore(t)
	importPaths(t, s, ImportOptions{}, src)
	check("EML import", s)

	out := filepath.Join(dir, "out.pst")
	emlDir := filepath.Join(dir, "eml")
	if err := os.Mkdir(emlDir, 0o700); err != nil {
		t.Fatal(err)
	}
	export(t, s, ExportOptions{All: true, PST: out, EMLDir: emlDir})

	f, err := pst.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for it, err := range f.Items(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		if it.Email == nil {
			continue
		}
		n++
		e := it.Email
		if e.SenderAddress != "ken@example.com" || e.SenderName != "Ken Boss" || e.OnBehalfAddress != "amy@example.com" || e.OnBehalfName != "Amy Assistant" {
			t.Errorf("PST read back: author %q <%s>, on behalf %q <%s>", e.SenderName, e.SenderAddress, e.OnBehalfName, e.OnBehalfAddress)
		}
	}
	f.Close()
	if n != 1 {
		t.Fatalf("%d mails in the PST, want 1", n)
	}
	s2 := newStore(t)
	importPaths(t, s2, ImportOptions{}, out)
	check("PST re-import", s2)

	emls, _ := filepath.Glob(filepath.Join(emlDir, "*.eml"))
	if len(emls) != 1 {
		t.Fatalf("%d .eml files, want 1", len(emls))
	}
	b, err := os.ReadFile(emls[0])
	if err != nil {
		t.Fatal(err)
	}
	m, err := mail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	from, err1 := mail.ParseAddress(m.Header.Get("From"))
	sender, err2 := mail.ParseAddress(m.Header.Get("Sender"))
	if err1 != nil || err2 != nil || len(m.Header["Sender"]) != 1 || from.String() != `"Ken Boss" <ken@example.com>` || sender.String() != `"Amy Assistant" <amy@example.com>` {
		t.Errorf("EML written: From %q, Sender %q (%v, %v)", m.Header["From"], m.Header["Sender"], err1, err2)
	}
	s3 := newStore(t)
	importPaths(t, s3, ImportOptions{}, emlDir)
	check("EML re-import", s3)
}
