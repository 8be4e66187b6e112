package bridge

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"crmbridge/crm"
	"crmbridge/crmstore"
)

// TestPartiesKeepTheirText imports, through the real importer, every form
// of participant a source can give without a usable e-mail address (an
// address that is no RFC 5322 addr-spec, a display name only, an X.500
// DN, a group, a calendar user known by CN only or by another URI, a PST
// recipient or sender without an address) and checks the rule of
// crm.Party: every party has an address or a record, so the store passes
// check (and push can send it as addressused), and the text the source
// held for each participant is kept in the party (address or name).
func TestPartiesKeepTheirText(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(body, "\n", "\r\n")), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const mail = `From: develop!nextmime@ebony@sblab.att.com
To: <not an address>, "Joe" <>, undisclosed-recipients:;
Cc: Friends: ann@example.com, x@y@z;
Bcc: <Undisclosed-Recipient:@host;>
Sender: "Only A Name"
Subject: odd parties
Message-ID: <odd@example.com>
Date: Mon, 6 May 2024 07:08:09 +0000

body
`
	pstPath, msgPath := writeBothX(t, dir, "IPF.Note", []xprop{
		{id: 0x001A, v: "IPM.Note"}, {id: 0x0037, v: "pst parties"}, {id: 0x1000, v: "body"},
		{id: 0x0039, v: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)}, {id: 0x1035, v: "<pst-odd@example.com>"},
		{id: 0x0C1A, v: "Ann Lee"}, // a sender with a name and no address
	}, [][]xprop{
		{{id: 0x0C15, v: int32(1)}, {id: 0x3001, v: "Bob Roe"}},                                                     // a name only
		{{id: 0x0C15, v: int32(2)}, {id: 0x3002, v: "EX"}, {id: 0x3003, v: "/o=Org/ou=Site/cn=Recipients/cn=carl"}}, // EX, no SMTP address
		{{id: 0x0C15, v: int32(1)}, {id: 0x3001, v: "Dee"}, {id: 0x3002, v: "SMTP"}, {id: 0x3003, v: "dee@example.com"}},
	})
	for _, tc := range []struct {
		name  string
		path  string
		texts []string // each must be some party's address or name
	}{
		{"eml", write("odd.eml", mail), []string{"develop!nextmime@ebony@sblab.att.com", "not an address", "Joe", "ann@example.com",
			"x@y@z", "Undisclosed-Recipient:@host"}},
		{"mbox", write("odd.mbox", "From MAILER-DAEMON Mon May  6 07:08:09 2024\n"+strings.Replace(mail, "<odd@", "<odd-mbox@", 1)),
			[]string{"develop!nextmime@ebony@sblab.att.com", "not an address", "Joe", "x@y@z"}},
		{"ics", write("odd.ics", `BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:odd-parties
DTSTAMP:20240506T070809Z
DTSTART:20240506T090000Z
DTEND:20240506T100000Z
SUMMARY:odd parties
ORGANIZER;CN=Boss:
ATTENDEE;CN=Joe:
ATTENDEE;CN=No Mail:mailto:
ATTENDEE:urn:uuid:00000000-0000-0000-0000-000000000001
ATTENDEE;CN=Ann:mailto:ann@example.com
END:VEVENT
END:VCALENDAR
`), []string{"Boss", "Joe", "No Mail", "urn:uuid:00000000-0000-0000-0000-000000000001", "ann@example.com"}},
		{"pst", pstPath, []string{"Ann Lee", "Bob Roe", "/o=Org/ou=Site/cn=Recipients/cn=carl", "dee@example.com"}},
		{"msg", msgPath, []string{"Ann Lee", "Bob Roe", "/o=Org/ou=Site/cn=Recipients/cn=carl", "dee@example.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dbPath := filepath.Join(t.TempDir(), "crm.db")
			s, err := crmstore.Open(ctx, dbPath, crmstore.Options{Create: true, Write: true})
			if err != nil {
				t.Fatal(err)
			}
			sum, p := importPaths(t, s, ImportOptions{}, tc.path)
			if len(p.errs) > 0 || sum.Failed() {
				t.Fatalf("problems %v", p.errs)
			}
			var parties []crm.Party
			list, err := s.List(ctx, crmstore.ListFilter{})
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range list {
				r, err := s.Get(ctx, l.ID)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range r.Parties {
					if strings.TrimSpace(p.Address) == "" && p.ContactID == "" {
						t.Errorf("%s: party %+v has neither an address nor a record", r.ID, p)
					}
					parties = append(parties, p)
				}
			}
			for _, want := range tc.texts {
				found := false
				for _, p := range parties {
					found = found || p.Address == want || p.Name == want
				}
				if !found {
					t.Errorf("no party holds %q: %+v", want, parties)
				}
			}
			s.Close()
			rep, err := crmstore.Check(ctx, dbPath)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Problems) > 0 {
				t.Errorf("check: %v", rep.Problems)
			}
		})
	}
}
