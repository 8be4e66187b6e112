package eml

import (
	"strings"
	"testing"

	"crmbridge/crm"
)

// TestLeadingWhiteSpace checks what comes before the first header field:
// a byte order mark, a line of spaces (dropped, as Python's email
// package does) or a margin before the first field's own name (the field
// is kept).
func TestLeadingWhiteSpace(t *testing.T) {
	for _, tc := range []struct {
		name, in      string
		subject, from string
		body          string
		warn          string
	}{
		{"bom", "\xef\xbb\xbfSubject: s\r\nFrom: a@example.com\r\n\r\nbody\r\n", "s", "a@example.com", "body\r\n", ""},
		{"line of spaces", "      \nSubject: s\nFrom: a@example.com\n\nbody\n", "s", "a@example.com", "body\n", "1 indented line(s) before the first header field ignored"},
		{"indented first field", "  Subject: s\nFrom: a@example.com\n\nbody\n", "s", "a@example.com", "body\n", "white space before the first header field ignored"},
		{"indented only field", "\tFrom: a@example.com\n\nbody\n", "", "a@example.com", "body\n", "white space before the first header field ignored"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			incs, warns := collect(t, NewReader(strings.NewReader(tc.in), "t.eml"))
			if len(incs) != 1 {
				t.Fatalf("%d messages, warnings %v", len(incs), warns)
			}
			f := incs[0].Record.Fields
			if f["subject"] != tc.subject || f["description"] != tc.body {
				t.Errorf("subject %q body %q", f["subject"], f["description"])
			}
			if got := partyAddrs(incs[0].Record, crm.RoleSender); len(got) != 1 || got[0] != tc.from {
				t.Errorf("from %v", got)
			}
			var ws []string
			for _, w := range warns {
				ws = append(ws, w.Error())
			}
			if tc.warn == "" && len(ws) > 0 || tc.warn != "" && (len(ws) != 1 || !strings.HasSuffix(ws[0], tc.warn)) {
				t.Errorf("warnings %q, want %q", ws, tc.warn)
			}
		})
	}
}
