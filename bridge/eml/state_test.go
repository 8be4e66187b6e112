package eml

import (
	"bytes"
	"strings"
	"testing"

	"crmbridge/crm"
)

// readOne reads a single message and fails on a warning.
func readState1(t *testing.T, raw string) crm.Record {
	t.Helper()
	incs, warns := collect(t, NewReader(strings.NewReader(raw), "m.eml"))
	for _, w := range warns {
		t.Errorf("warning: %v", w)
	}
	if len(incs) != 1 {
		t.Fatalf("read %d messages", len(incs))
	}
	return incs[0].Record
}

// The state headers are read back from messages other programs wrote:
// Importance (RFC 2156) before X-Priority, Sensitivity (RFC 2156),
// Keywords (RFC 5322 3.6.5, every field), X-Folder; absent headers set
// nothing.
func TestReadState(t *testing.T) {
	const head = "From: a@example.com\r\nTo: b@example.com\r\nSubject: s\r\n"
	for _, tc := range []struct {
		name, hdr string
		want      map[string]string
	}{
		{"none", "", map[string]string{"prioritycode": "", "sensitivity": "", "categories": "", "folder": "", "directioncode": "false", "statecode": ""}},
		{"importance", "Importance: Low\r\nX-Priority: 1\r\n", map[string]string{"prioritycode": "0"}},
		{"importance normal", "Importance: normal\r\n", map[string]string{"prioritycode": "1"}},
		{"x-priority high", "X-Priority: 2 (High)\r\n", map[string]string{"prioritycode": "2"}},
		{"x-priority normal", "X-Priority: 3\r\n", map[string]string{"prioritycode": "1"}},
		{"x-priority low", "X-Priority: 5 (Lowest)\r\n", map[string]string{"prioritycode": "0"}},
		{"x-priority junk", "X-Priority: urgent\r\n", map[string]string{"prioritycode": ""}},
		{"sensitivity", "Sensitivity: company-confidential\r\n", map[string]string{"sensitivity": "3"}},
		{"personal", "Sensitivity: Personal\r\n", map[string]string{"sensitivity": "1"}},
		{"keywords", "Keywords: Red, =?utf-8?b?w5xuw69jb2Rl?=\r\nKeywords: Blue\r\n", map[string]string{"categories": "Red, Ünïcode, Blue"}},
		{"folder", "X-Folder: \\Kenneth_Lay\\Sent Items\r\n", map[string]string{"folder": "\\Kenneth_Lay\\Sent Items"}},
		{"outgoing", "X-Crmbridge-Direction: outgoing\r\n", map[string]string{"directioncode": "true", "statecode": "1", "statuscode": "3"}},
		{"incoming", "X-Crmbridge-Direction: Incoming\r\n", map[string]string{"directioncode": "false", "statecode": "1", "statuscode": "4"}},
		{"draft", "X-Unsent: 1\r\n", map[string]string{"directioncode": "true", "statecode": "0", "statuscode": "1"}},
		// Outlook writes the flag text of a flagged message.
		{"outlook flag", "X-Message-Flag: Follow up\r\n", map[string]string{"flagstatus": "2", "flagrequest": "Follow up"}},
		{"flag text encoded", "X-Message-Flag: =?utf-8?q?R=C3=BCckruf?=\r\n", map[string]string{"flagstatus": "2", "flagrequest": "Rückruf"}},
		{"flag completed", "X-Message-Flag: Call\r\nX-Crmbridge-Flag: status=complete; completed=2026-03-01T10:00:00Z; icon=6\r\n",
			map[string]string{"flagstatus": "1", "flagrequest": "Call", "flagcompleted": "2026-03-01T10:00:00Z", "flagicon": "6"}},
		// Thunderbird's star: the Marked bit of X-Mozilla-Status.
		{"thunderbird starred", "X-Mozilla-Status: 0005\r\n", map[string]string{"flagstatus": "2", "flagrequest": ""}},
		{"thunderbird read", "X-Mozilla-Status: 0011\r\n", map[string]string{"flagstatus": ""}},
		{"flag junk", "X-Crmbridge-Flag: status=maybe; due=tomorrow; icon=9; x\r\n", map[string]string{"flagstatus": "", "flagdue": "", "flagicon": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := readState1(t, head+tc.hdr+"\r\nbody\r\n")
			for k, want := range tc.want {
				if got := rec.Fields[k]; got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

// Everything writeState writes comes back through the reader: priority,
// sensitivity, categories, folder, received time, direction and state
// (sent, received, draft), the follow-up flag.
func TestWriteStateRoundTrip(t *testing.T) {
	base := map[string]string{"subject": "s", "description": "body", "senton": "2026-01-02T03:04:05Z", "receivedon": "2026-01-02T03:05:06Z",
		"categories": "Red, Blue, Ünïcode", "folder": "Sent Items/Projects"}
	for _, tc := range []map[string]string{
		{"prioritycode": "0", "sensitivity": "1", "directioncode": "true", "statecode": "1", "statuscode": "3"},
		{"prioritycode": "1", "sensitivity": "2", "directioncode": "false", "statecode": "1", "statuscode": "4"},
		{"prioritycode": "2", "sensitivity": "3", "directioncode": "true", "statecode": "0", "statuscode": "1"},
		{"flagstatus": "2", "flagrequest": "Follow up", "flagstart": "2026-03-01T00:00:00Z", "flagdue": "2026-03-02T00:00:00Z", "flagicon": "6"},
		{"flagstatus": "1", "flagrequest": "Rückruf; bald", "flagcompleted": "2026-03-03T08:09:10Z"},
	} {
		f := map[string]string{}
		for k, v := range base {
			f[k] = v
		}
		for k, v := range tc {
			f[k] = v
		}
		rec := crm.Record{ID: "01a22b1e-8161-7571-b7c8-ccfa5cf7cae9", Entity: crm.Email, Fields: f,
			Parties: []crm.Party{{Role: crm.RoleSender, Address: "a@example.com"}}}
		var b bytes.Buffer
		if err := Write(&b, rec); err != nil {
			t.Fatal(err)
		}
		got := readState1(t, b.String())
		for k, want := range f {
			if k == "description" {
				continue
			}
			if g := got.Fields[k]; g != want {
				t.Errorf("%v: %s read back %q, want %q\n%s", tc, k, g, want, b.String())
			}
		}
	}
}
